"""The order card's promotion and equipment tabs (htmx partials) and the logisticians'
promotions page."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest
from django.urls import reverse

from autocrm.accounts.tests.factories import CityFactory, UserFactory
from autocrm.inventory.tests.factories import CarModelFactory, TrimFactory
from autocrm.orders.models import (
    EquipmentItem,
    EquipmentPackage,
    OrderEquipment,
    OrderPromotion,
    Promotion,
)
from autocrm.orders.selectors_catalog import dealer_center_today
from autocrm.orders.services.catalog import promotion_create
from autocrm.orders.tests.factories import OrderWorld, order_world

pytestmark = pytest.mark.django_db

HTMX = {"HTTP_HX_REQUEST": "true"}


def promotion(world: OrderWorld, name: str, **fields: Any) -> Promotion:
    today = dealer_center_today(world.dealer_center)
    fields.setdefault("valid_from", today - timedelta(days=3))
    fields.setdefault("valid_to", today + timedelta(days=3))
    if "discount_percent" not in fields:
        fields.setdefault("discount_amount", Decimal("50000"))
    return promotion_create(actor=None, name=name, **fields)


def package(name: str, price: str, **fields: Any) -> EquipmentPackage:
    created = EquipmentPackage.objects.create(
        code=name.lower().replace(" ", "-"),
        name=name,
        price=Decimal(price),
        cost=Decimal("1000.00"),
        installation_minutes=90,
        **fields,
    )
    EquipmentItem.objects.create(package=created, name="Коврики салона", quantity=4)
    return created


@pytest.fixture
def world() -> OrderWorld:
    return order_world()


def test_the_promotions_tab_lists_applied_and_available_and_applies_one(
    client: Any, world: OrderWorld
) -> None:
    today = dealer_center_today(world.dealer_center)
    five = promotion(world, "Весна 5 %", discount_percent=Decimal("5"), importer_bonus=Decimal("1"))
    promotion(world, "Москва", cities=[CityFactory.create(name="Москва")])
    promotion(world, "Прошлая", valid_from=today - timedelta(9), valid_to=today - timedelta(1))
    order = world.order()
    client.force_login(world.manager)
    tab_url = reverse("orders:promotions_tab", args=[order.pk])
    assert tab_url == f"/orders/{order.pk}/promotions/"

    page = client.get(tab_url, **HTMX)
    assert page.status_code == 200
    text = page.content.decode()
    assert 'id="order-promotions-tab"' in text
    assert f'data-available-promotion="{five.pk}"' in text
    assert "91 495 ₽" in text
    assert "Москва" not in text
    assert "Прошлая" not in text

    applied = client.post(
        reverse("orders:promotion_apply", args=[order.pk]), {"promotion_id": five.pk}, **HTMX
    )
    assert applied.status_code == 200
    assert applied["HX-Trigger"] == "orderChanged"
    text = applied.content.decode()
    assert f'data-applied-promotion="{five.pk}"' in text
    assert f'data-available-promotion="{five.pk}"' not in text
    order.refresh_from_db()
    assert (order.discount_total, order.total) == (Decimal("91495.00"), Decimal("1738405.00"))

    removed = client.post(reverse("orders:promotion_remove", args=[order.pk, five.pk]), **HTMX)
    assert removed.status_code == 200
    assert removed["HX-Trigger"] == "orderChanged"
    order.refresh_from_db()
    assert (order.discount_total, order.total) == (Decimal("0.00"), Decimal("1829900.00"))


def test_a_refused_promotion_shows_the_reason_in_the_tab(client: Any, world: OrderWorld) -> None:
    alone = promotion(world, "Только одна", combinable=False)
    gift = promotion(world, "Подарок", discount_amount=Decimal("10000"))
    order = world.order()
    client.force_login(world.manager)
    url = reverse("orders:promotion_apply", args=[order.pk])
    client.post(url, {"promotion_id": gift.pk}, **HTMX)

    refused = client.post(url, {"promotion_id": alone.pk}, **HTMX)

    assert refused.status_code == 409
    assert "HX-Trigger" not in refused
    text = refused.content.decode()
    assert 'data-refusal data-status="409" data-code="not_combinable"' in text
    assert "Только одна" in text
    assert "Подарок" in text
    assert OrderPromotion.objects.filter(order=order).count() == 1

    # Without htmx the browser goes back, with the reason as a message, to the page the
    # tab was loaded into.
    card = f"http://testserver/orders/{order.pk}/"
    tab = client.get(
        reverse("orders:promotions_tab", args=[order.pk]), HTTP_HX_CURRENT_URL=card, **HTMX
    )
    assert f'name="next" value="{card}"' in tab.content.decode()
    plain = client.post(url, {"promotion_id": alone.pk, "next": "/orders/"})
    assert (plain.status_code, plain["Location"]) == (302, "/orders/")


def test_the_equipment_tab_adds_removes_and_sets_the_installation(
    client: Any, world: OrderWorld
) -> None:
    mats = package("Коврики", "7990.00")
    package("Чужой пакет", "1.00", dealer_center=order_world().dealer_center)
    order = world.order()
    client.force_login(world.manager)
    tab = client.get(reverse("orders:equipment_tab", args=[order.pk]), **HTMX)
    text = tab.content.decode()
    assert tab.status_code == 200
    assert f'data-available-package="{mats.pk}"' in text
    assert "Коврики салона × 4" in text
    assert "Чужой пакет" not in text

    added = client.post(
        reverse("orders:equipment_add", args=[order.pk]), {"package_id": mats.pk}, **HTMX
    )
    assert added.status_code == 200
    assert added["HX-Trigger"] == "orderChanged"
    line = OrderEquipment.objects.get(order=order)
    assert f'data-order-equipment="{line.pk}"' in added.content.decode()
    order.refresh_from_db()
    assert (order.equipment_total, order.total) == (Decimal("7990.00"), Decimal("1837890.00"))

    service = UserFactory.create(roles=["service"], dealer_centers=[world.dealer_center])
    client.force_login(service)
    status_url = reverse("orders:equipment_status", args=[order.pk, line.pk])
    page = client.get(reverse("orders:equipment_tab", args=[order.pk]), **HTMX).content.decode()
    assert status_url in page  # the status control is there for service staff
    assert reverse("orders:equipment_add", args=[order.pk]) not in page  # but not selling
    missing = client.post(status_url, {"status": "scheduled"}, **HTMX)
    assert missing.status_code == 400
    assert 'data-status="400"' in missing.content.decode()
    scheduled = client.post(
        status_url, {"status": "scheduled", "scheduled_for": "2026-03-12T10:00"}, **HTMX
    )
    assert scheduled.status_code == 200
    line.refresh_from_db()
    assert line.installation_status == "scheduled"
    assert line.scheduled_for is not None
    assert line.scheduled_for.hour == 7
    assert "12.03.2026 10:00" in scheduled.content.decode()
    assert client.post(status_url, {"status": "installed"}, **HTMX).status_code == 200

    client.force_login(world.manager)
    kept = client.post(reverse("orders:equipment_remove", args=[order.pk, line.pk]), **HTMX)
    assert kept.status_code == 409
    assert 'data-code="installed"' in kept.content.decode()
    assert OrderEquipment.objects.filter(order=order).count() == 1


def test_the_tabs_are_for_those_who_see_the_order(client: Any, world: OrderWorld) -> None:
    order = world.order()
    gift = promotion(world, "Подарок")
    tab_url = reverse("orders:promotions_tab", args=[order.pk])
    assert client.get(tab_url).status_code == 302  # to the login page
    client.force_login(order_world().manager)
    assert client.get(tab_url).status_code == 404
    assert client.get(reverse("orders:equipment_tab", args=[order.pk])).status_code == 404
    client.force_login(UserFactory.create(roles=["hostess"], dealer_centers=[world.dealer_center]))
    assert client.get(tab_url).status_code == 403
    client.force_login(
        UserFactory.create(roles=["logistician"], dealer_centers=[world.dealer_center])
    )
    assert client.get(tab_url).status_code == 200
    applying = client.post(
        reverse("orders:promotion_apply", args=[order.pk]), {"promotion_id": gift.pk}, **HTMX
    )
    assert applying.status_code == 403
    assert not OrderPromotion.objects.exists()


def test_logisticians_list_create_and_edit_promotions(client: Any, world: OrderWorld) -> None:
    promotion(world, "Chery в Мурманске", make=world.make, cities=[world.city])
    logistician = UserFactory.create(roles=["logistician"])
    client.force_login(world.manager)
    assert client.get(reverse("orders:promotion_list")).status_code == 403
    client.force_login(logistician)

    listing = client.get(reverse("orders:promotion_list"), {"city": world.city.pk})
    assert listing.status_code == 200
    assert "Chery в Мурманске" in listing.content.decode()
    assert client.get(reverse("orders:promotion_list"), {"active_on": "x"}).status_code == 400

    form = {
        "name": "Весна",
        "make": world.make.pk,
        "car_model": world.car_model.pk,
        "trim": "",
        "cities": [world.city.pk],
        "valid_from": "2026-03-01",
        "valid_to": "2026-03-31",
        "discount_amount": "",
        "discount_percent": "5",
        "importer_bonus": "40000",
        "combinable": "on",
        "is_active": "on",
    }
    both = client.post(reverse("orders:promotion_new"), {**form, "discount_amount": "1000"})
    assert both.status_code == 400
    assert 'data-field="discount_percent"' in both.content.decode()
    created = client.post(reverse("orders:promotion_new"), form)
    assert (created.status_code, created["Location"]) == (302, reverse("orders:promotion_list"))
    spring = Promotion.objects.get(name="Весна")
    assert (spring.discount_percent, spring.importer_bonus, spring.created_by) == (
        Decimal("5.00"),
        Decimal("40000.00"),
        logistician,
    )
    assert list(spring.cities.all()) == [world.city]

    edit_url = reverse("orders:promotion_edit", args=[spring.pk])
    assert client.get(edit_url).status_code == 200
    tiggo_4 = CarModelFactory.create(make=world.make, name="Tiggo 4")
    other_trim = TrimFactory.create(car_model=tiggo_4, name="Base")
    wrong_model = client.post(edit_url, {**form, "trim": other_trim.pk, "name": "Весна 2"})
    assert wrong_model.status_code == 400
    assert 'data-field="trim"' in wrong_model.content.decode()
    saved = client.post(edit_url, {**form, "name": "Весна 2", "combinable": ""})
    assert saved.status_code == 302
    spring.refresh_from_db()
    assert (spring.name, spring.combinable) == ("Весна 2", False)


def test_the_admin_checks_promotions_like_the_services(client: Any, world: OrderWorld) -> None:
    client.force_login(
        UserFactory.create(roles=["administrator"], is_staff=True, is_superuser=True)
    )
    assert client.get(reverse("admin:orders_promotion_add")).status_code == 200
    assert client.get(reverse("admin:orders_equipmentpackage_add")).status_code == 200
    form = {
        "name": "Весна",
        "bulletin": "",
        "importer": "",
        "make": world.make.pk,
        "car_model": "",
        "trim": "",
        "cities": [world.city.pk],
        "valid_from": "2026-03-01",
        "valid_to": "2026-03-31",
        "discount_amount": "1000",
        "discount_percent": "5",
        "importer_bonus": "0",
        "combinable": "on",
        "is_active": "on",
    }
    refused = client.post(reverse("admin:orders_promotion_add"), form)
    assert refused.status_code == 200
    assert 'class="errorlist' in refused.content.decode()
    assert not Promotion.objects.exists()
    saved = client.post(reverse("admin:orders_promotion_add"), {**form, "discount_amount": ""})
    assert saved.status_code == 302
    spring = Promotion.objects.get()
    assert (spring.discount_percent, list(spring.cities.all())) == (Decimal("5.00"), [world.city])
    package("Коврики", "7990.00")
    assert client.get(reverse("admin:orders_equipmentpackage_changelist")).status_code == 200
    assert client.get(reverse("admin:orders_promotion_changelist")).status_code == 200
