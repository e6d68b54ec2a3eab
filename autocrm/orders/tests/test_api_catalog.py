"""The API of promotions and additional equipment: the contract's status codes, the exact
totals as decimal strings, 409s with the reason and 400s naming the field."""

from __future__ import annotations

import json
import threading
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

import pytest
from django.db import connection, connections
from django.test import Client as HttpClient

from autocrm.accounts.models import Brand
from autocrm.accounts.services import api_token_create
from autocrm.accounts.tests.factories import CityFactory, UserFactory
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


class Caller:
    """One user calling the API with his bearer token."""

    def __init__(self, client: Any, user: Any) -> None:
        self.client = client
        self.headers = {
            "HTTP_AUTHORIZATION": "Bearer "
            + api_token_create(actor=None, user=user, name="tests").token
        }

    def get(self, url: str, **query: Any) -> Any:
        return self.client.get(url, query, **self.headers)

    def send(self, method: str, url: str, body: Any = None) -> Any:
        return self.client.generic(
            method,
            url,
            data=json.dumps({} if body is None else body),
            content_type="application/json",
            **self.headers,
        )

    def post(self, url: str, body: Any = None) -> Any:
        return self.send("POST", url, body)

    def patch(self, url: str, body: Any = None) -> Any:
        return self.send("PATCH", url, body)

    def delete(self, url: str) -> Any:
        return self.send("DELETE", url)


def promotion(world: OrderWorld, name: str, **fields: Any) -> Promotion:
    today = dealer_center_today(world.dealer_center)
    fields.setdefault("valid_from", today - timedelta(days=3))
    fields.setdefault("valid_to", today + timedelta(days=3))
    if "discount_percent" not in fields:
        fields.setdefault("discount_amount", Decimal("50000"))
    return promotion_create(actor=None, name=name, **fields)


def field_of(response: Any) -> str:
    return str(response.json()["errors"][0]["field"])


@pytest.fixture
def world() -> OrderWorld:
    return order_world()


# --- promotions on an order -----------------------------------------------------------------


def test_available_promotions_apply_and_remove_with_the_new_totals(
    client: Any, world: OrderWorld
) -> None:
    today = dealer_center_today(world.dealer_center)
    five = promotion(
        world,
        "Весна 5 %",
        make=world.make,
        cities=["Мурманск"],
        discount_percent=Decimal("5"),
        importer_bonus=Decimal("40000"),
    )
    promotion(world, "Moscow only", cities=[CityFactory.create(name="Москва")])
    promotion(
        world,
        "Expired",
        valid_from=today - timedelta(days=9),
        valid_to=today - timedelta(days=1),
    )
    order = world.order()
    manager = Caller(client, world.manager)

    offered = manager.get(f"/api/v1/orders/{order.pk}/available-promotions")
    assert offered.status_code == 200
    body = offered.json()
    assert body["count"] == 1
    (item,) = body["items"]
    assert (item["id"], item["name"], item["discount"]) == (five.pk, "Весна 5 %", "91495.00")
    assert (item["discount_percent"], item["discount_amount"]) == ("5.00", None)
    assert item["make"] == {"id": world.make.pk, "name": "Chery"}
    assert (item["model"], item["trim"], item["cities"]) == (None, None, ["Мурманск"])
    assert item["importer_bonus"] == "40000.00"

    applied = manager.post(f"/api/v1/orders/{order.pk}/promotions", {"promotion_id": five.pk})
    assert applied.status_code == 201, applied.content
    body = applied.json()
    assert (body["promotion_id"], body["discount"], body["importer_bonus"]) == (
        five.pk,
        "91495.00",
        "40000.00",
    )
    assert body["applied_by"]["id"] == world.manager.pk
    order_totals = body["order"]
    assert order_totals["id"] == order.pk
    assert (
        order_totals["vehicle_price"],
        order_totals["discount_total"],
        order_totals["total"],
        order_totals["balance_due"],
    ) == ("1829900.00", "91495.00", "1738405.00", "1738405.00")
    assert manager.get(f"/api/v1/orders/{order.pk}/available-promotions").json()["count"] == 0
    listed = manager.get(f"/api/v1/orders/{order.pk}/promotions").json()
    assert [(line["name"], line["discount"]) for line in listed["items"]] == [
        ("Весна 5 %", "91495.00")
    ]

    removed = manager.delete(f"/api/v1/orders/{order.pk}/promotions/{five.pk}")
    assert removed.status_code == 200
    assert (removed.json()["discount_total"], removed.json()["total"]) == (
        "0.00",
        "1829900.00",
    )
    assert manager.delete(f"/api/v1/orders/{order.pk}/promotions/{five.pk}").status_code == 404


@pytest.mark.parametrize(
    ("case", "code"),
    [
        ("other city", "promotion_other_city"),
        ("expired", "promotion_expired"),
        ("other make", "promotion_other_make"),
        ("not combinable", "not_combinable"),
        ("twice", "already_applied"),
    ],
)
def test_a_promotion_that_does_not_apply_is_a_409_with_the_reason(
    client: Any, world: OrderWorld, case: str, code: str
) -> None:
    today = dealer_center_today(world.dealer_center)
    first = promotion(world, "First", discount_amount=Decimal("10000"))
    wanted = {
        "other city": lambda: promotion(
            world, "Moscow", cities=[CityFactory.create(name="Москва")]
        ),
        "expired": lambda: promotion(
            world, "Old", valid_from=today - timedelta(days=9), valid_to=today - timedelta(1)
        ),
        "other make": lambda: promotion(
            world, "Haval", make=Brand.objects.create(name="Haval", code="haval")
        ),
        "not combinable": lambda: promotion(world, "Alone", combinable=False),
        "twice": lambda: first,
    }[case]()
    order = world.order()
    manager = Caller(client, world.manager)
    assert (
        manager.post(f"/api/v1/orders/{order.pk}/promotions", {"promotion_id": first.pk})
    ).status_code == 201

    refused = manager.post(f"/api/v1/orders/{order.pk}/promotions", {"promotion_id": wanted.pk})

    assert refused.status_code == 409
    body = refused.json()
    assert body["errors"][0]["code"] == code
    assert body["errors"][0]["field"] == "promotion_id"
    assert wanted.name in body["detail"]
    order.refresh_from_db()
    assert (order.discount_total, order.total) == (Decimal("10000.00"), Decimal("1819900.00"))
    assert OrderPromotion.objects.filter(order=order).count() == 1


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({}, "promotion_id"),
        ({"promotion_id": "abc"}, "promotion_id"),
        ({"promotion_id": 0}, "promotion_id"),
        ({"promotion_id": 999_999}, "promotion_id"),
    ],
)
def test_a_bad_apply_body_is_a_400_naming_the_field(
    client: Any, world: OrderWorld, body: dict[str, Any], field: str
) -> None:
    order = world.order()
    response = Caller(client, world.manager).post(f"/api/v1/orders/{order.pk}/promotions", body)
    assert response.status_code == 400
    assert field_of(response) == field


def test_orders_of_other_dealer_centers_are_not_found_and_viewers_cannot_change(
    client: Any, world: OrderWorld
) -> None:
    gift = promotion(world, "Gift")
    order = world.order()
    stranger = Caller(client, order_world().manager)
    service = Caller(
        client, UserFactory.create(roles=["service"], dealer_centers=[world.dealer_center])
    )
    url = f"/api/v1/orders/{order.pk}"

    assert stranger.get(f"{url}/available-promotions").status_code == 404
    assert stranger.post(f"{url}/promotions", {"promotion_id": gift.pk}).status_code == 404
    assert stranger.get(f"{url}/available-equipment").status_code == 404
    assert service.get(f"{url}/available-promotions").status_code == 200
    assert service.post(f"{url}/promotions", {"promotion_id": gift.pk}).status_code == 403
    assert not OrderPromotion.objects.exists()


# --- the promotions catalog -------------------------------------------------------------------


def _new_promotion(**changes: Any) -> dict[str, Any]:
    body = {
        "name": "Весна",
        "make": "Chery",
        "model": "Tiggo 7 Pro Max",
        "trim": "Ultimate",
        "cities": ["Мурманск"],
        "valid_from": "2026-03-01",
        "valid_to": "2026-03-31",
        "discount_percent": "5",
        "importer_bonus": "40000.00",
        "combinable": False,
    }
    body.update(changes)
    return {key: value for key, value in body.items() if value != "<absent>"}


def test_a_logistician_creates_a_promotion_by_names(client: Any, world: OrderWorld) -> None:
    logistician = Caller(client, UserFactory.create(roles=["logistician"]))

    response = logistician.post("/api/v1/promotions", _new_promotion())

    assert response.status_code == 201, response.content
    body = response.json()
    assert body["make"] == {"id": world.make.pk, "name": "Chery"}
    assert body["model"] == {"id": world.car_model.pk, "name": "Tiggo 7 Pro Max"}
    assert body["trim"] == {"id": world.trim.pk, "name": "Ultimate"}
    assert body["cities"] == ["Мурманск"]
    assert (body["valid_from"], body["valid_to"]) == ("2026-03-01", "2026-03-31")
    assert (body["discount_amount"], body["discount_percent"]) == (None, "5.00")
    assert (body["importer_bonus"], body["combinable"], body["is_active"]) == (
        "40000.00",
        False,
        True,
    )
    # null = any, and ids work as well as names.
    anywhere = logistician.post(
        "/api/v1/promotions",
        _new_promotion(
            name="Any Chery",
            make=world.make.pk,
            model=None,
            trim=None,
            cities=[],
            discount_percent=None,
            discount_amount="25000",
        ),
    )
    assert anywhere.status_code == 201, anywhere.content
    assert (anywhere.json()["model"], anywhere.json()["cities"]) == (None, [])
    assert anywhere.json()["discount_amount"] == "25000.00"


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"name": ""}, "name"),
        ({"name": "<absent>"}, "name"),
        ({"cities": ["Атлантида"]}, "cities"),
        ({"cities": "Мурманск"}, "cities"),
        ({"make": "Lada"}, "make"),
        ({"model": "Tiggo 9"}, "model"),
        ({"trim": "Prestige"}, "trim"),
        ({"discount_amount": "1000"}, "discount_percent"),
        ({"discount_percent": None}, "discount_amount"),
        ({"discount_percent": "150"}, "discount_percent"),
        ({"discount_percent": "0"}, "discount_percent"),
        ({"discount_percent": "5.555"}, "discount_percent"),
        ({"discount_percent": None, "discount_amount": "-5"}, "discount_amount"),
        ({"discount_percent": None, "discount_amount": "NaN"}, "discount_amount"),
        ({"importer_bonus": "-1"}, "importer_bonus"),
        ({"valid_to": "2026-02-28"}, "valid_to"),
        ({"valid_from": "<absent>"}, "valid_from"),
        ({"valid_from": "1 марта"}, "valid_from"),
        ({"combinable": "maybe"}, "combinable"),
    ],
)
def test_a_bad_promotion_is_a_400_naming_the_field(
    client: Any, world: OrderWorld, changes: dict[str, Any], field: str
) -> None:
    logistician = Caller(client, UserFactory.create(roles=["logistician"]))

    response = logistician.post("/api/v1/promotions", _new_promotion(**changes))

    assert response.status_code == 400, response.content
    assert field_of(response) == field
    assert not Promotion.objects.exists()


def test_sales_managers_and_heads_may_not_create_promotions(client: Any, world: OrderWorld) -> None:
    for user in (world.manager, world.head):
        response = Caller(client, user).post("/api/v1/promotions", _new_promotion())
        assert response.status_code == 403
    assert not Promotion.objects.exists()


def test_the_promotion_list_filters_by_make_city_and_date(client: Any, world: OrderWorld) -> None:
    haval = Brand.objects.create(name="Haval", code="haval")
    moscow = CityFactory.create(name="Москва")
    promotion(
        world,
        "Chery Murmansk",
        make=world.make,
        cities=[world.city],
        valid_from=date(2026, 2, 1),
        valid_to=date(2026, 2, 28),
    )
    promotion(
        world,
        "Haval Moscow",
        make=haval,
        cities=[moscow],
        valid_from=date(2026, 1, 15),
        valid_to=date(2026, 2, 15),
    )
    caller = Caller(client, world.manager)

    def listed(**query: Any) -> list[str]:
        response = caller.get("/api/v1/promotions", **query)
        assert response.status_code == 200, response.content
        return [item["name"] for item in response.json()["items"]]

    assert listed() == ["Chery Murmansk", "Haval Moscow"]
    assert listed(make="Chery") == ["Chery Murmansk"]
    assert listed(make=str(haval.pk)) == ["Haval Moscow"]
    assert listed(city="москва") == ["Haval Moscow"]
    assert listed(active_on="2026-02-10") == ["Chery Murmansk", "Haval Moscow"]
    assert listed(active_on="2026-01-31") == ["Haval Moscow"]
    bad = caller.get("/api/v1/promotions", city="Атлантида")
    assert (bad.status_code, field_of(bad)) == (400, "city")
    bad = caller.get("/api/v1/promotions", active_on="yesterday")
    assert (bad.status_code, field_of(bad)) == (400, "active_on")


def test_a_promotion_is_changed_and_its_discount_kept_once_in_use(
    client: Any, world: OrderWorld
) -> None:
    five = promotion(world, "5 %", discount_percent=Decimal("5"))
    logistician = Caller(client, UserFactory.create(roles=["logistician"]))
    url = f"/api/v1/promotions/{five.pk}"

    changed = logistician.patch(
        url, {"name": "5 % весна", "cities": ["Мурманск"], "trim": "Ultimate"}
    )
    assert changed.status_code == 200, changed.content
    assert (changed.json()["name"], changed.json()["cities"]) == ("5 % весна", ["Мурманск"])
    assert changed.json()["model"]["name"] == "Tiggo 7 Pro Max"

    order = world.order()
    Caller(client, world.manager).post(
        f"/api/v1/orders/{order.pk}/promotions", {"promotion_id": five.pk}
    )
    refused = logistician.patch(url, {"discount_percent": "7"})
    assert refused.status_code == 409
    assert refused.json()["errors"][0]["code"] == "promotion_in_use"
    bad = logistician.patch(url, {"colour": "red"})
    assert (bad.status_code, field_of(bad)) == (400, "colour")
    assert Caller(client, world.manager).patch(url, {"name": "x"}).status_code == 403
    assert Caller(client, world.manager).get(url).json()["discount_percent"] == "5.00"


# --- equipment ----------------------------------------------------------------------------


def package(name: str, price: str, cost: str, **fields: Any) -> EquipmentPackage:
    created = EquipmentPackage.objects.create(
        code=name.lower().replace(" ", "-"),
        name=name,
        price=Decimal(price),
        cost=Decimal(cost),
        installation_minutes=120,
        **fields,
    )
    EquipmentItem.objects.create(package=created, name="Плёнка", part_number="PF-1", quantity=2)
    return created


def test_available_equipment_add_remove_and_installation(client: Any, world: OrderWorld) -> None:
    protection = package("Protection", "45000.00", "28500.50", car_model=world.car_model)
    package("Haval kit", "10000.00", "5000.00", make=Brand.objects.create(name="Haval", code="h"))
    order = world.order()
    manager = Caller(client, world.manager)
    service = Caller(
        client, UserFactory.create(roles=["service"], dealer_centers=[world.dealer_center])
    )
    url = f"/api/v1/orders/{order.pk}"

    offered = manager.get(f"{url}/available-equipment")
    assert offered.status_code == 200
    (item,) = offered.json()["items"]
    assert (item["id"], item["price"], item["cost"], item["installation_minutes"]) == (
        protection.pk,
        "45000.00",
        None,  # the dealer's cost is not the seller's business
        120,
    )
    assert item["items"] == [{"name": "Плёнка", "part_number": "PF-1", "quantity": 2}]
    assert service.get(f"{url}/available-equipment").json()["items"][0]["cost"] == "28500.50"

    added = manager.post(f"{url}/equipment", {"package_id": protection.pk})
    assert added.status_code == 201, added.content
    body = added.json()
    assert (body["package_id"], body["price"], body["installation_status"]) == (
        protection.pk,
        "45000.00",
        "pending",
    )
    assert body["allowed_statuses"] == ["installed", "scheduled"]
    assert (body["order"]["equipment_total"], body["order"]["total"]) == (
        "45000.00",
        "1874900.00",
    )
    assert body["order"]["balance_due"] == "1874900.00"
    item_id = body["id"]
    assert manager.get(f"{url}/available-equipment").json()["count"] == 0
    again = manager.post(f"{url}/equipment", {"package_id": protection.pk})
    assert (again.status_code, again.json()["errors"][0]["code"]) == (409, "already_added")

    status_url = f"/api/v1/order-equipment/{item_id}/status"
    missing = service.post(status_url, {"status": "scheduled"})
    assert (missing.status_code, field_of(missing)) == (400, "scheduled_for")
    unknown = service.post(status_url, {"status": "fitted"})
    assert (unknown.status_code, field_of(unknown)) == (400, "status")
    scheduled = service.post(
        status_url, {"status": "scheduled", "scheduled_for": "2026-03-12T10:00:00"}
    )
    assert scheduled.status_code == 200, scheduled.content
    assert scheduled.json()["scheduled_for"] == "2026-03-12T07:00:00Z"
    installed = service.post(status_url, {"status": "installed"})
    assert installed.status_code == 200
    assert installed.json()["installation_status"] == "installed"
    assert installed.json()["installed_at"] is not None
    back = service.post(status_url, {"status": "pending"})
    assert (back.status_code, back.json()["errors"][0]["code"]) == (409, "transition_not_allowed")

    kept = manager.delete(f"{url}/equipment/{item_id}")
    assert (kept.status_code, kept.json()["errors"][0]["code"]) == (409, "installed")
    assert OrderEquipment.objects.filter(order=order).count() == 1


def test_removing_equipment_and_refusals(client: Any, world: OrderWorld) -> None:
    mats = package("Mats", "7990.00", "3100.00")
    haval = package("Haval kit", "1.00", "1.00", make=Brand.objects.create(name="Haval", code="h"))
    order = world.order()
    manager = Caller(client, world.manager)
    url = f"/api/v1/orders/{order.pk}"

    refused = manager.post(f"{url}/equipment", {"package_id": haval.pk})
    assert refused.status_code == 409
    assert refused.json()["errors"][0]["code"] == "package_other_make"
    assert "Haval kit" in refused.json()["detail"]
    bad = manager.post(f"{url}/equipment", {"package_id": "x"})
    assert (bad.status_code, field_of(bad)) == (400, "package_id")
    unknown = manager.post(f"{url}/equipment", {"package_id": 999_999})
    assert (unknown.status_code, field_of(unknown)) == (400, "package_id")

    item_id = manager.post(f"{url}/equipment", {"package_id": mats.pk}).json()["id"]
    listed = manager.get(f"{url}/equipment").json()
    assert [(line["id"], line["price"]) for line in listed["items"]] == [(item_id, "7990.00")]
    removed = manager.delete(f"{url}/equipment/{item_id}")
    assert removed.status_code == 200
    assert (removed.json()["equipment_total"], removed.json()["total"]) == ("0.00", "1829900.00")
    assert manager.delete(f"{url}/equipment/{item_id}").status_code == 404
    stranger = Caller(client, order_world().manager)
    assert stranger.post(f"{url}/equipment", {"package_id": mats.pk}).status_code == 404


def test_the_package_list_is_scoped_and_filtered(client: Any, world: OrderWorld) -> None:
    other = order_world()
    package("Group-wide", "100.00", "50.00")
    package("Ours", "200.00", "80.00", dealer_center=world.dealer_center, make=world.make)
    package("Theirs", "300.00", "90.00", dealer_center=other.dealer_center)
    caller = Caller(client, world.manager)

    def listed(**query: Any) -> list[str]:
        response = caller.get("/api/v1/equipment-packages", **query)
        assert response.status_code == 200, response.content
        return [item["name"] for item in response.json()["items"]]

    assert listed() == ["Group-wide", "Ours"]
    assert listed(make="chery") == ["Group-wide", "Ours"]
    haval = Brand.objects.create(name="Haval", code="haval")
    assert listed(make="Haval") == ["Group-wide"]
    assert listed(make=str(haval.pk)) == ["Group-wide"]
    bad = caller.get("/api/v1/equipment-packages", make="Lada")
    assert (bad.status_code, field_of(bad)) == (400, "make")
    everyone = Caller(client, UserFactory.create(roles=["management"]))
    response = everyone.get("/api/v1/equipment-packages")
    assert [item["name"] for item in response.json()["items"]] == ["Group-wide", "Ours", "Theirs"]
    assert response.json()["items"][0]["cost"] == "50.00"


@pytest.mark.django_db(transaction=True)
def test_concurrent_promotions_that_do_not_combine_have_exactly_one_winner() -> None:
    if connection.vendor == "sqlite":
        pytest.skip(
            "SQLite has no row locks (SELECT FOR UPDATE is a no-op) and the test suite's "
            "in-memory database serialises threads on table locks: the race is PostgreSQL's."
        )
    world = order_world()
    order = world.order()
    exclusive = [
        promotion(
            world, f"Exclusive {number}", discount_amount=Decimal(1000 * number), combinable=False
        )
        for number in range(1, 11)
    ]
    start = threading.Barrier(len(exclusive))
    statuses: list[int] = []
    lock = threading.Lock()

    def apply(promotion_id: int) -> None:
        try:
            caller = Caller(HttpClient(), world.manager)
            start.wait()
            response = caller.post(
                f"/api/v1/orders/{order.pk}/promotions", {"promotion_id": promotion_id}
            )
            with lock:
                statuses.append(response.status_code)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=apply, args=(row.pk,)) for row in exclusive]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert sorted(statuses) == [201] + [409] * 9
    (winner,) = OrderPromotion.objects.filter(order=order)
    order.refresh_from_db()
    assert order.discount_total == winner.discount
    assert order.total == Decimal("1829900.00") - winner.discount
