"""Stock services: validation, derived fields, history rows, reservations."""

from datetime import date, timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from autocrm.accounts.roles import RoleCode
from autocrm.accounts.tests.factories import (
    BrandFactory,
    DealerCenterFactory,
    SiteFactory,
    UserFactory,
)
from autocrm.clients.tests.factories import ClientFactory
from autocrm.core.errors import Conflict, NotAllowed, TransitionNotAllowed, ValidationFailed
from autocrm.inventory import services
from autocrm.inventory.models import (
    BodyType,
    CarModel,
    Condition,
    LogisticsStatus,
    LogisticsStatusChange,
    Reservation,
    ReservationStatus,
    StockChange,
    Trim,
    Vehicle,
)

pytestmark = pytest.mark.django_db


@pytest.fixture
def manager():
    return UserFactory(roles=[RoleCode.SALES_MANAGER])


@pytest.fixture
def car(manager):
    """Keyword arguments for services.vehicle_create of the seed's Chery."""
    dealer_center = DealerCenterFactory(name="CHERY Центр Мурманск")
    manager.dealer_centers.add(dealer_center)
    chery = BrandFactory(name="Chery", code="chery")
    tiggo = CarModel.objects.create(make=chery, name="Tiggo 7 Pro Max")
    return {
        "vin": "lvvdb21b1pd734288",
        "make": chery,
        "car_model": tiggo,
        "trim": Trim.objects.create(car_model=tiggo, name="Ultimate"),
        "body": BodyType.objects.get(code="suv"),
        "condition": Condition.NEW,
        "price": Decimal("3119900"),
        "mileage": 2,
        "city": dealer_center.city,
        "site": SiteFactory(name="Мурманск CHERY", dealer_center=dealer_center),
        "logistics_status": LogisticsStatus.objects.get(code="in_showroom"),
    }


def test_vehicle_create_normalises_and_derives(manager, car):
    result = services.vehicle_create(actor=manager, power_hp=Decimal("147"), **car)

    vehicle = Vehicle.objects.get(pk=result.vehicle.pk)
    assert vehicle.vin == "LVVDB21B1PD734288"
    assert vehicle.stock_code == "LVVDB21B1PD734288"  # defaults to the VIN, as in the seed
    assert vehicle.price == Decimal("3119900.00")
    assert vehicle.power_kw == Decimal("108.1")
    assert vehicle.dealer_center == car["site"].dealer_center
    assert vehicle.reservation_status == ReservationStatus.FREE
    assert result.warnings == []
    first = LogisticsStatusChange.objects.get(vehicle=vehicle)
    assert (first.from_status, first.to_status.code, first.changed_by) == (
        None,
        "in_showroom",
        manager,
    )
    assert vehicle.history.earliest().history_user == manager
    assert StockChange.objects.filter(vehicle_id=vehicle.pk).exists()


def test_power_in_kw_derives_hp(manager, car):
    vehicle = services.vehicle_create(actor=manager, power_kw=Decimal("110"), **car).vehicle
    assert vehicle.power_hp == Decimal("149.6")


def test_wrong_check_digit_is_a_warning_not_an_error(manager, car):
    car["vin"] = "XTA21093022696310"
    result = services.vehicle_create(actor=manager, **car)
    assert result.vehicle.pk
    assert [warning["field"] for warning in result.warnings] == ["vin"]


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"vin": "LVVDB21B1PD73428"}, "vin"),
        ({"vin": "LVVDB21B1PD73428O"}, "vin"),
        ({"price": Decimal("-1")}, "price"),
        ({"model_year": 1800}, "model_year"),
        ({"condition": "broken"}, "condition"),
    ],
)
def test_invalid_fields_are_refused_and_nothing_is_saved(manager, car, change, field):
    with pytest.raises(ValidationFailed) as error:
        services.vehicle_create(actor=manager, **(car | change))
    assert error.value.field == field
    assert not Vehicle.objects.exists()
    assert not StockChange.objects.exists()


def test_model_of_another_make_is_refused(manager, car):
    other = CarModel.objects.create(make=BrandFactory(name="Haval", code="haval"), name="Jolion")
    with pytest.raises(ValidationFailed) as error:
        services.vehicle_create(actor=manager, **(car | {"car_model": other, "trim": None}))
    assert error.value.field == "model"


def test_vin_is_unique_among_cars_in_stock_only(manager, car):
    first = services.vehicle_create(actor=manager, **car).vehicle
    with pytest.raises(Conflict) as error:
        services.vehicle_create(actor=manager, **(car | {"stock_code": "OTHER-1"}))
    assert error.value.field == "vin"
    assert Vehicle.objects.count() == 1

    # Sold and delivered: the same car may come back later as a trade-in.
    Vehicle.objects.filter(pk=first.pk).update(in_stock=False)
    again = services.vehicle_create(actor=manager, **(car | {"stock_code": "TRADEIN-1"}))
    assert again.vehicle.vin == first.vin


def test_vehicle_update_records_history_and_refuses_workflow_fields(manager, car):
    vehicle = services.vehicle_create(actor=manager, **car).vehicle
    services.vehicle_update(actor=manager, vehicle=vehicle, price=Decimal("2999000"))
    vehicle.refresh_from_db()
    assert vehicle.price == Decimal("2999000.00")
    assert vehicle.history.latest().price == Decimal("2999000.00")

    with pytest.raises(ValidationFailed) as error:
        services.vehicle_update(actor=manager, vehicle=vehicle, reservation_status="sold")
    assert error.value.field == "reservation_status"


def test_logistics_move_writes_history(manager, car):
    vehicle = services.vehicle_create(actor=manager, **car).vehicle
    delivered = LogisticsStatus.objects.get(code="delivered")

    services.logistics_status_change(
        actor=manager, vehicle=vehicle, to_status=delivered, comment="Выдан"
    )

    vehicle.refresh_from_db()
    assert vehicle.logistics_status == delivered
    assert vehicle.actual_delivery_date == timezone.localdate()
    latest = vehicle.logistics_history.first()
    assert (latest.from_status.code, latest.to_status.code, latest.changed_by, latest.comment) == (
        "in_showroom",
        "delivered",
        manager,
        "Выдан",
    )
    with pytest.raises(TransitionNotAllowed):
        services.logistics_status_change(actor=manager, vehicle=vehicle, to_status=delivered)
    assert vehicle.logistics_history.count() == 2


def test_restriction_sets_the_flag(manager, car):
    vehicle = services.vehicle_create(actor=manager, **car).vehicle
    services.restriction_add(
        actor=manager, vehicle=vehicle, kind="pledge", source="Банк", starts_on=date(2026, 1, 1)
    )
    vehicle.refresh_from_db()
    assert vehicle.pledged is True
    with pytest.raises(ValidationFailed) as error:
        services.restriction_add(
            actor=manager,
            vehicle=vehicle,
            kind="pledge",
            source="Банк",
            starts_on=date(2026, 2, 1),
            ends_on=date(2026, 1, 1),
        )
    assert error.value.field == "ends_on"
    assert vehicle.restrictions.count() == 1


def test_inspection_with_defects(manager, car):
    vehicle = services.vehicle_create(
        actor=manager, **(car | {"condition": Condition.USED})
    ).vehicle
    inspection = services.inspection_record(
        actor=manager,
        vehicle=vehicle,
        inspector=manager,
        inspected_at=timezone.now(),
        mileage=45000,
        result="needs_repair",
        defects=[
            services.DefectInput("front_bumper", "scratch", "minor", Decimal("4500")),
            services.DefectInput("hood", "dent", "moderate", Decimal("12000.50")),
        ],
    )
    assert [(d.body_zone, d.repair_estimate) for d in inspection.defects.all()] == [
        ("front_bumper", Decimal("4500.00")),
        ("hood", Decimal("12000.50")),
    ]
    vehicle.refresh_from_db()
    assert vehicle.mileage == 45000

    with pytest.raises(ValidationFailed) as error:
        services.inspection_record(
            actor=manager,
            vehicle=vehicle,
            inspector=manager,
            inspected_at=timezone.now(),
            mileage=46000,
            result="passed",
            defects=[services.DefectInput("moon", "scratch", "minor")],
        )
    assert error.value.field == "defects.0.body_zone"
    assert vehicle.inspections.count() == 1


def test_reservation_lifecycle(manager, car):
    vehicle = services.vehicle_create(actor=manager, **car).vehicle
    client = ClientFactory(dealer_center=car["site"].dealer_center)

    reservation = services.reservation_create(
        actor=manager, vehicle=vehicle, client=client, hours=48
    )

    vehicle.refresh_from_db()
    assert vehicle.reservation_status == ReservationStatus.RESERVED
    assert reservation.expires_at - reservation.created_at == pytest.approx(
        timedelta(hours=48), abs=timedelta(seconds=5)
    )
    with pytest.raises(Conflict) as error:
        services.reservation_create(actor=manager, vehicle=vehicle)
    assert error.value.code == "already_reserved"
    assert Reservation.objects.count() == 1

    services.reservation_release(actor=manager, vehicle=vehicle)
    vehicle.refresh_from_db()
    assert vehicle.reservation_status == ReservationStatus.FREE
    released = Reservation.objects.get()
    assert (released.is_active, released.released_by, released.release_reason) == (
        False,
        manager,
        "manual",
    )
    with pytest.raises(Conflict):
        services.reservation_release(actor=manager, vehicle=vehicle)
    # Released: it can be reserved again.
    services.reservation_create(actor=manager, vehicle=vehicle)
    assert Reservation.objects.filter(is_active=True).count() == 1


@pytest.mark.parametrize("hours", [0, -1, 24 * 30 + 1])
def test_reservation_length_is_bounded(manager, car, hours):
    vehicle = services.vehicle_create(actor=manager, **car).vehicle
    with pytest.raises(ValidationFailed) as error:
        services.reservation_create(actor=manager, vehicle=vehicle, hours=hours)
    assert error.value.field == "hours"
    assert not Reservation.objects.exists()


def test_client_of_another_dealer_center_cannot_be_used(manager, car):
    vehicle = services.vehicle_create(actor=manager, **car).vehicle
    stranger = ClientFactory(dealer_center=DealerCenterFactory())
    with pytest.raises(NotAllowed):
        services.reservation_create(actor=manager, vehicle=vehicle, client=stranger)
    assert not Reservation.objects.exists()


def test_scheduler_job_releases_expired_reservations_only(manager, car):
    expired_car = services.vehicle_create(actor=manager, **car).vehicle
    live_car = services.vehicle_create(
        actor=manager, **(car | {"vin": "XTA21093022696310"})
    ).vehicle
    services.reservation_create(actor=manager, vehicle=expired_car, hours=1)
    services.reservation_create(actor=manager, vehicle=live_car, hours=5)

    released = services.reservations_release_expired(timezone.now() + timedelta(hours=2))

    assert released == 1
    expired_car.refresh_from_db()
    live_car.refresh_from_db()
    assert expired_car.reservation_status == ReservationStatus.FREE
    assert live_car.reservation_status == ReservationStatus.RESERVED
    record = Reservation.objects.get(vehicle=expired_car)
    assert (record.release_reason, record.released_by) == ("expired", None)
    assert services.reservations_release_expired(timezone.now() + timedelta(hours=2)) == 0


def test_stock_change_log_is_pruned_but_keeps_its_newest_row(manager, car):
    vehicle = services.vehicle_create(actor=manager, **car).vehicle
    services.vehicle_update(actor=manager, vehicle=vehicle, price=Decimal("3000000"))
    rows = list(StockChange.objects.order_by("id"))
    assert len(rows) == 2
    StockChange.objects.update(changed_at=timezone.now() - timedelta(days=8))

    assert services.stock_changes_prune() == 1

    assert list(StockChange.objects.values_list("id", flat=True)) == [rows[-1].id]
    assert services.stock_changes_prune() == 0


def test_search_stays_exact_after_the_log_is_pruned(manager, car):
    from autocrm.inventory.search import VehicleSearchParams, search_vehicles

    vehicle = services.vehicle_create(actor=manager, **car).vehicle
    params = VehicleSearchParams.from_query({"price_max": "3000000"})
    assert search_vehicles(user=manager, params=params).count == 0  # index built here

    StockChange.objects.update(changed_at=timezone.now() - timedelta(days=8))
    services.vehicle_update(actor=manager, vehicle=vehicle, price=Decimal("2900000"))
    services.stock_changes_prune()

    assert search_vehicles(user=manager, params=params).count == 1
