"""Additional equipment (ДО): which packages can be installed on an order's car, adding and
removing them with exact totals, and the installation's workflow."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest
from django.utils import timezone

from autocrm.accounts.models import Brand
from autocrm.accounts.tests.factories import SiteFactory, UserFactory
from autocrm.core.errors import Conflict, NotAllowed, TransitionNotAllowed, ValidationFailed
from autocrm.inventory.tests.factories import CarModelFactory, TrimFactory
from autocrm.orders.models import (
    EquipmentItem,
    EquipmentPackage,
    InstallationStatus,
    OrderEquipment,
    OrderEvent,
    OrderEventKind,
    OrderStatus,
)
from autocrm.orders.selectors_catalog import packages_available, packages_installable
from autocrm.orders.services.catalog import (
    equipment_add,
    equipment_remove,
    installation_set_status,
    promotion_apply,
    promotion_create,
)
from autocrm.orders.services.orders import order_create_importer, order_transition
from autocrm.orders.tests.factories import SEED_PRICE, OrderWorld, order_world

pytestmark = pytest.mark.django_db


def package(name: str, price: str = "45000.00", cost: str = "30000.00", **fields: Any) -> Any:
    code = name.lower().replace(" ", "-")
    created = EquipmentPackage.objects.create(
        code=code,
        name=name,
        price=Decimal(price),
        cost=Decimal(cost),
        installation_minutes=fields.pop("installation_minutes", 90),
        **fields,
    )
    EquipmentItem.objects.create(package=created, name=f"{name}: part", part_number="P-1")
    return created


def names(packages: Any) -> set[str]:
    return {row.name for row in packages}


def totals(order: Any) -> tuple[Decimal, Decimal, Decimal, Decimal]:
    order.refresh_from_db()
    return order.equipment_total, order.discount_total, order.total, order.balance_due


def the_packages(world: OrderWorld) -> None:
    haval = Brand.objects.create(name="Haval", code="haval")
    other_world = order_world()
    package("Any car")
    package("Chery", make=world.make)
    package("Tiggo 7 Pro Max", car_model=world.car_model)
    package("Ultimate", trim=world.trim)
    package("At the car's site", site=world.site)
    package("Of this dealer center", dealer_center=world.dealer_center)
    package("Prestige", trim=TrimFactory.create(car_model=world.car_model, name="Prestige"))
    package("Tiggo 4", car_model=CarModelFactory.create(make=world.make, name="Tiggo 4"))
    package("Haval", make=haval)
    package("Another site", site=SiteFactory.create(dealer_center=world.dealer_center))
    package("Another dealer center", dealer_center=other_world.dealer_center)
    package("Withdrawn", is_active=False)


def test_the_manager_is_offered_only_packages_installable_on_the_car() -> None:
    world = order_world()
    the_packages(world)
    order = world.order()

    assert names(packages_available(order)) == {
        "Any car",
        "Chery",
        "Tiggo 7 Pro Max",
        "Ultimate",
        "At the car's site",
        "Of this dealer center",
    }


def test_an_importer_order_matches_the_ordered_car_and_ignores_the_site() -> None:
    world = order_world()
    the_packages(world)
    order = order_create_importer(
        actor=world.manager,
        client=world.client,
        dealer_center=world.dealer_center,
        car_model=world.car_model,
        trim=world.trim,
        expected_price=Decimal("2000000.00"),
    )

    assert names(packages_available(order)) == {
        "Any car",
        "Chery",
        "Tiggo 7 Pro Max",
        "Ultimate",
        "At the car's site",
        "Another site",
        "Of this dealer center",
    }


@pytest.mark.parametrize(
    ("name", "code"),
    [
        ("Prestige", "package_other_trim"),
        ("Tiggo 4", "package_other_model"),
        ("Haval", "package_other_make"),
        ("Another site", "package_other_site"),
        ("Another dealer center", "package_other_dealer_center"),
        ("Withdrawn", "package_inactive"),
    ],
)
def test_a_package_that_cannot_be_installed_is_refused_saying_why(name: str, code: str) -> None:
    world = order_world()
    the_packages(world)
    order = world.order()

    with pytest.raises(Conflict) as refused:
        equipment_add(
            actor=world.manager, order=order, package=EquipmentPackage.objects.get(name=name)
        )

    assert refused.value.code == code
    assert refused.value.field == "package_id"
    assert name in refused.value.message
    assert not OrderEquipment.objects.exists()
    assert totals(order) == (Decimal("0.00"), Decimal("0.00"), SEED_PRICE, SEED_PRICE)


def test_adding_and_removing_packages_keeps_the_totals_exact() -> None:
    world = order_world()
    protection = package("Protection", price="45000.00", cost="28500.50", make=world.make)
    mats = package("Mats", price="7990.00", cost="3100.00")
    five = promotion_create(
        actor=None,
        name="5 %",
        valid_from=timezone.localdate(),
        valid_to=timezone.localdate(),
        discount_percent=Decimal("5"),
    )
    order = world.order()

    line = equipment_add(actor=world.manager, order=order, package=protection)
    assert (line.price, line.cost, line.added_by) == (
        Decimal("45000.00"),
        Decimal("28500.50"),
        world.manager,
    )
    assert line.installation_status == InstallationStatus.PENDING
    assert totals(order) == (
        Decimal("45000.00"),
        Decimal("0.00"),
        Decimal("1874900.00"),
        Decimal("1874900.00"),
    )
    assert names(packages_available(order)) == {"Mats"}
    assert names(packages_installable(order)) == {"Mats", "Protection"}

    equipment_add(actor=world.manager, order=order, package=mats)
    # The percent counts from the car's price only, not from the equipment.
    promotion_apply(actor=world.manager, order=order, promotion=five)
    assert totals(order) == (
        Decimal("52990.00"),
        Decimal("91495.00"),
        Decimal("1791395.00"),
        Decimal("1791395.00"),
    )

    # The order keeps the price it was sold at.
    EquipmentPackage.objects.filter(pk=protection.pk).update(price=Decimal("50000.00"))
    equipment_remove(actor=world.manager, order=order, item=line)
    assert totals(order) == (
        Decimal("7990.00"),
        Decimal("91495.00"),
        Decimal("1746395.00"),
        Decimal("1746395.00"),
    )
    again = equipment_add(actor=world.manager, order=order, package=protection)
    assert again.price == Decimal("50000.00")
    assert totals(order) == (
        Decimal("57990.00"),
        Decimal("91495.00"),
        Decimal("1796395.00"),
        Decimal("1796395.00"),
    )

    history = list(
        OrderEvent.objects.filter(order=order, kind=OrderEventKind.EQUIPMENT)
        .order_by("pk")
        .values_list("from_value", "to_value", "text", "amount")
    )
    assert history == [
        ("", "added", "Protection", Decimal("45000.00")),
        ("", "added", "Mats", Decimal("7990.00")),
        ("pending", "removed", "Protection", Decimal("45000.00")),
        ("", "added", "Protection", Decimal("50000.00")),
    ]


def test_a_package_goes_on_an_order_once() -> None:
    world = order_world()
    mats = package("Mats", price="7990.00")
    order = world.order()
    equipment_add(actor=world.manager, order=order, package=mats)
    with pytest.raises(Conflict) as refused:
        equipment_add(actor=world.manager, order=order, package=mats)
    assert refused.value.code == "already_added"
    assert totals(order)[0] == Decimal("7990.00")


def test_the_installation_is_scheduled_in_local_time_and_installed_for_good(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    world = order_world()
    service = UserFactory.create(roles=["service"], dealer_centers=[world.dealer_center])
    order = world.order()
    line = equipment_add(actor=world.manager, order=order, package=package("Protection"))

    with pytest.raises(ValidationFailed) as refused:
        installation_set_status(actor=service, item=line, status="scheduled")
    assert refused.value.field == "scheduled_for"
    with pytest.raises(ValidationFailed) as refused:
        installation_set_status(actor=service, item=line, status="fitted")
    assert refused.value.field == "status"

    # A time without an offset is the dealer center's (Мурманск: Moscow time, UTC+3).
    installation_set_status(
        actor=service, item=line, status="scheduled", scheduled_for=datetime(2026, 3, 12, 10, 0)
    )
    line.refresh_from_db()
    assert line.installation_status == InstallationStatus.SCHEDULED
    assert line.scheduled_for == datetime(2026, 3, 12, 7, 0, tzinfo=UTC)

    # Scheduling again moves the date.
    installation_set_status(
        actor=world.manager,
        item=line,
        status="scheduled",
        scheduled_for=datetime(2026, 3, 13, 9, 30, tzinfo=UTC),
    )
    line.refresh_from_db()
    assert line.scheduled_for == datetime(2026, 3, 13, 9, 30, tzinfo=UTC)

    installed_at = datetime(2026, 3, 13, 12, 0, tzinfo=UTC)
    monkeypatch.setattr(timezone, "now", lambda: installed_at)
    installation_set_status(actor=service, item=line, status="installed")
    line.refresh_from_db()
    assert (line.installation_status, line.installed_at) == ("installed", installed_at)

    with pytest.raises(TransitionNotAllowed):
        installation_set_status(actor=service, item=line, status="pending")
    with pytest.raises(Conflict) as removal:
        equipment_remove(actor=world.manager, order=order, item=line)
    assert removal.value.code == "installed"
    assert totals(order)[0] == Decimal("45000.00")

    history = list(
        OrderEvent.objects.filter(order=order, kind=OrderEventKind.EQUIPMENT)
        .order_by("pk")
        .values_list("from_value", "to_value", "text", "changed_by")
    )
    assert history == [
        ("", "added", "Protection", world.manager.pk),
        ("pending", "scheduled", "Protection: 12.03.2026 10:00", service.pk),
        ("scheduled", "scheduled", "Protection: 13.03.2026 12:30", world.manager.pk),
        ("scheduled", "installed", "Protection", service.pk),
    ]


def test_back_to_pending_clears_the_date() -> None:
    world = order_world()
    order = world.order()
    line = equipment_add(actor=world.manager, order=order, package=package("Protection"))
    installation_set_status(
        actor=world.manager,
        item=line,
        status="scheduled",
        scheduled_for=datetime(2026, 3, 12, 10, 0, tzinfo=UTC),
    )
    installation_set_status(actor=world.manager, item=line, status="pending")
    line.refresh_from_db()
    assert (line.installation_status, line.scheduled_for) == ("pending", None)


def test_who_may_change_equipment() -> None:
    world = order_world()
    logistician = UserFactory.create(roles=["logistician"], dealer_centers=[world.dealer_center])
    stranger = order_world().manager
    order = world.order()
    mats = package("Mats")
    with pytest.raises(NotAllowed):
        equipment_add(actor=stranger, order=order, package=mats)
    line = equipment_add(actor=world.manager, order=order, package=mats)
    with pytest.raises(NotAllowed):
        installation_set_status(actor=logistician, item=line, status="installed")
    with pytest.raises(NotAllowed):
        installation_set_status(actor=stranger, item=line, status="installed")
    with pytest.raises(NotAllowed):
        equipment_remove(actor=stranger, order=order, item=line)
    line.refresh_from_db()
    assert line.installation_status == InstallationStatus.PENDING

    order_transition(actor=world.manager, order=order, to=OrderStatus.CANCELLED, reason="No")
    with pytest.raises(Conflict):
        equipment_add(actor=world.manager, order=order, package=package("Other"))
    with pytest.raises(Conflict):
        equipment_remove(actor=world.manager, order=order, item=line)
    with pytest.raises(Conflict):
        installation_set_status(actor=world.manager, item=line, status="installed")
    assert OrderEquipment.objects.filter(order=order).count() == 1
