"""The demo stock that ``seed_demo`` adds: size, spread, plausibility, the seed's car, and
that a second run creates nothing."""

from __future__ import annotations

import datetime
from decimal import Decimal
from io import StringIO

import pytest
from django.core.management import call_command
from django.db.models import Count
from django.utils import timezone

from autocrm.accounts.models import Site, User
from autocrm.clients.models import Client
from autocrm.core.demo_registry import discover_demo_steps
from autocrm.inventory import demo
from autocrm.inventory.generator import MODELS, ensure_catalog
from autocrm.inventory.models import (
    Condition,
    Defect,
    Inspection,
    LogisticsStatusChange,
    PtsKind,
    Reservation,
    ReservationStatus,
    Restriction,
    StockChange,
    Vehicle,
)
from autocrm.inventory.vin import is_valid_vin
from autocrm.orders.models import ACTIVE_ORDER_STATUSES, Order, OrderStatus

pytestmark = pytest.mark.django_db


def seed() -> str:
    out = StringIO()
    call_command("seed_demo", stdout=out)
    return out.getvalue()


def stock_counts() -> dict[str, int]:
    return {
        "vehicles": Vehicle.objects.count(),
        "vehicle history": Vehicle.history.count(),
        "logistics history": LogisticsStatusChange.objects.count(),
        "stock changes": StockChange.objects.count(),
        "reservations": Reservation.objects.count(),
        "clients": Client.objects.count(),
        "inspections": Inspection.objects.count(),
        "defects": Defect.objects.count(),
        "restrictions": Restriction.objects.count(),
    }


def test_the_inventory_step_is_registered_after_the_group():
    names = [step.name for step in discover_demo_steps()]
    assert "inventory.stock" in names


def test_seed_demo_adds_a_believable_stock_on_every_site():
    output = seed()

    vehicles = Vehicle.objects.all()
    assert vehicles.count() >= 2000
    assert "vehicles" in output
    # every site of the group has cars
    assert not Site.objects.exclude(pk__in=vehicles.values("site")).exists()
    assert vehicles.filter(condition=Condition.NEW).count() > 1000
    assert vehicles.filter(condition=Condition.USED).count() > 300
    assert vehicles.values("make").distinct().count() == 8
    assert vehicles.values("car_model").distinct().count() >= 28

    for row in vehicles.values("vin", "stock_code"):
        assert is_valid_vin(row["vin"]), row
    assert vehicles.values("vin").distinct().count() == vehicles.count()

    rows = vehicles.select_related(
        "make", "car_model", "trim", "site", "logistics_status", "dealer_center"
    )
    today = timezone.localdate()
    new_statuses: dict[str, int] = {}
    for car in rows:
        assert car.car_model.make_id == car.make_id
        assert car.trim is not None
        assert car.trim.car_model_id == car.car_model_id
        assert car.site.city_id == car.city_id
        assert None not in (car.body_id, car.drive_id, car.engine_id, car.transmission_id)
        assert car.color_id is not None
        assert car.model_year == car.pts_year
        # The demo's delivered sales order has sold one car out of stock.
        assert car.in_stock or car.reservation_status == "sold"
        status = car.logistics_status.code
        if car.condition == Condition.NEW:
            new_statuses[status] = new_statuses.get(status, 0) + 1
            assert Decimal("1200000") <= car.price <= Decimal("12000000"), car
            assert car.pts_kind == PtsKind.ELECTRONIC
            if status in ("ordered", "in_production", "in_transit"):
                assert car.planned_delivery_date is not None
                assert car.planned_delivery_date > car.stock_in_date
                assert not car.pts_present
            # the dealer center that sells a new car sells its make
            if car.dealer_center is not None:
                assert car.make in car.dealer_center.brands.all()
        else:
            assert status in ("at_warehouse", "in_showroom"), car
            assert 5_000 <= car.mileage <= 180_099, car
            assert car.owners_count is not None
            assert 1 <= car.owners_count <= 4
            assert car.price < Decimal("12000000")
        if car.stock_code != demo.SEED_CAR.vin:
            assert today - datetime.timedelta(days=400) <= car.stock_in_date <= today
    assert new_statuses["in_showroom"] + new_statuses["at_warehouse"] > 0.6 * sum(
        new_statuses.values()
    )
    assert new_statuses["in_transit"] > 0
    assert new_statuses["ordered"] > 0

    # a used car sells for less than the same trim new
    for trim_id, used_price in (
        vehicles.filter(condition=Condition.USED).values_list("trim", "price").order_by("trim")
    ):
        new_prices = vehicles.filter(condition=Condition.NEW, trim=trim_id).values_list(
            "price", flat=True
        )
        if new_prices:
            assert used_price < max(new_prices)


def test_bulk_cars_are_written_like_the_services_write_them():
    seed()

    vehicle_ids = set(Vehicle.objects.values_list("pk", flat=True))
    # one first logistics-history row per car, matching its status
    first_moves = LogisticsStatusChange.objects.filter(from_status__isnull=True)
    assert set(first_moves.values_list("vehicle_id", flat=True)) == vehicle_ids
    assert first_moves.count() == len(vehicle_ids)
    for vehicle_id, status_id in Vehicle.objects.values_list("pk", "logistics_status"):
        move = first_moves.get(vehicle_id=vehicle_id)
        if not LogisticsStatusChange.objects.filter(
            vehicle_id=vehicle_id, from_status__isnull=False
        ).exists():
            assert move.to_status_id == status_id
    # every car is in the change log the search index reads, and in the audit history
    assert set(StockChange.objects.values_list("vehicle_id", flat=True)) >= vehicle_ids
    assert set(Vehicle.history.values_list("id", flat=True)) == vehicle_ids
    assert Vehicle.history.filter(history_type="+", history_user__username="admin").count() >= (
        len(vehicle_ids) - 1
    )


def test_reservations_inspections_and_pledges_go_through_the_services():
    seed()

    reserved = Vehicle.objects.filter(reservation_status=ReservationStatus.RESERVED)
    assert reserved.count() >= 20
    # Cars are sold only by delivered sales orders (the orders demo delivers one).
    sold = Vehicle.objects.filter(reservation_status=ReservationStatus.SOLD)
    delivered = Order.objects.filter(status=OrderStatus.DELIVERED).values_list("vehicle", flat=True)
    assert set(sold.values_list("pk", flat=True)) == set(delivered)
    active = Reservation.objects.filter(is_active=True).select_related("client", "manager")
    # A reserved car is held by a stock reservation or by an active sales order.
    ordered = Order.objects.filter(status__in=ACTIVE_ORDER_STATUSES, vehicle__isnull=False)
    assert set(active.values_list("vehicle_id", flat=True)) | set(
        ordered.values_list("vehicle_id", flat=True)
    ) == set(reserved.values_list("pk", flat=True))
    for reservation in active:
        assert reservation.client is not None
        assert reservation.expires_at > timezone.now()
        manager: User = reservation.manager
        if reservation.vehicle.dealer_center_id is not None and not manager.is_group_level:
            assert manager.dealer_centers.filter(pk=reservation.vehicle.dealer_center_id).exists()
    # a manager of the Murmansk Chery dealer center holds some of them
    assert active.filter(manager__username="manager").exists()

    inspected = Vehicle.objects.filter(inspections__isnull=False).distinct()
    assert inspected.count() >= 20
    assert not inspected.filter(condition=Condition.NEW).exists()
    assert Defect.objects.exists()

    pledged = Vehicle.objects.filter(pledged=True)
    assert pledged.exists()
    assert set(pledged.values_list("pk", flat=True)) == set(
        Restriction.objects.filter(kind="pledge").values_list("vehicle_id", flat=True)
    )


def test_the_seed_car_is_exactly_the_customers_card():
    seed()

    car = Vehicle.objects.select_related(
        "make", "car_model", "trim", "body", "drive", "engine", "transmission", "color",
        "logistics_status", "city", "site", "consignor", "dealer_center",
    ).get(vin="LVVDB21B1PD734288")  # fmt: skip

    assert car.stock_code == "LVVDB21B1PD734288"
    assert car.make.name == "Chery"
    assert car.car_model.name == "Tiggo 7 Pro Max"
    assert car.trim is not None
    assert car.trim.name == "Ultimate"
    assert (car.body.code, car.body.name) == ("suv", "Внедорожник")  # type: ignore[union-attr]
    assert (car.drive.code, car.drive.name) == ("fwd", "Передний")  # type: ignore[union-attr]
    assert (car.engine.code, car.engine.name) == ("petrol", "Бензин")  # type: ignore[union-attr]
    assert (car.transmission.code, car.transmission.name) == ("cvt", "Вариатор")  # type: ignore[union-attr]
    assert car.displacement_cc is None
    assert car.power_hp is None
    assert car.power_kw is None
    assert car.interior == "Кожа"
    assert car.color is not None
    assert car.color.name == "Red/Black"
    assert car.model_year == 2023
    assert car.pts_year == 2023
    assert car.mileage == 2
    assert car.price == Decimal("3119900.00")
    assert car.currency == "RUB"
    assert car.condition == Condition.NEW
    assert car.right_hand_drive is False
    assert car.reservation_status == ReservationStatus.FREE
    assert not car.reservations.exists()
    assert car.warranty_start == datetime.date(2023, 4, 6)
    assert car.warranty_end is None
    assert car.planned_delivery_date is None
    assert car.actual_delivery_date is None
    assert (car.logistics_status.code, car.logistics_status.name) == ("in_showroom", "Салон")
    assert car.description == ""
    assert car.pts_kind == PtsKind.ELECTRONIC
    assert car.pts_present is True
    assert car.pts_buyout_date == datetime.date(2023, 3, 23)
    assert car.pts_received_date == datetime.date(2023, 3, 23)
    assert car.pts_storage_place == ""
    assert (car.credit_sale, car.trade_in_sale, car.pledged, car.ord_present) == (
        False, False, False, False,
    )  # fmt: skip
    assert car.report_date == datetime.date(2023, 3, 29)
    assert car.stock_in_date == datetime.date(2023, 3, 29)
    assert car.city.name == "Мурманск"
    assert car.site.name == "Мурманск CHERY"
    assert car.consignor is not None
    assert car.consignor.name == "Мурманск CHERY"
    assert car.dealer_center is not None
    assert car.dealer_center.code == "murmansk-chery"
    assert car.owners_count is None
    assert car.history_report_url == ""
    assert car.history_report_date is None
    assert car.in_stock is True
    # created by the service: its history rows name the loader
    assert car.logistics_history.get().to_status.code == "in_showroom"
    assert car.history.get().history_type == "+"


def test_a_second_run_creates_nothing():
    seed()
    first = stock_counts()

    seed()

    assert stock_counts() == first


def test_a_second_run_adds_back_only_what_is_missing():
    seed()
    total = Vehicle.objects.count()
    Reservation.objects.filter(vehicle__stock_code="MG-000007").delete()
    Vehicle.objects.filter(stock_code="MG-000007").delete()
    Vehicle.objects.filter(vin=demo.SEED_CAR.vin).delete()

    seed()

    assert Vehicle.objects.count() == total
    assert Vehicle.objects.filter(stock_code="MG-000007").exists()
    assert Vehicle.objects.get(stock_code=demo.SEED_CAR.vin).price == Decimal("3119900.00")


def test_the_bulk_stock_is_the_same_on_every_database():
    seed()
    context = ensure_catalog()
    today = timezone.localdate()

    first = demo.demo_vehicles(context, today)
    second = demo.demo_vehicles(context, today)

    assert first == second
    assert len(first) == demo.DEMO_STOCK_SIZE
    stored = dict(Vehicle.objects.values_list("stock_code", "vin"))
    assert all(stored[row["stock_code"]] == row["vin"] for row in first[:50])


def test_catalog_covers_the_brands_the_dealer_centers_sell():
    makes = {spec.make for spec in MODELS}
    assert makes == {"chery", "haval", "geely", "lada", "kia", "hyundai", "toyota", "exeed"}
    for spec in MODELS:
        assert 2 <= len(spec.trims) <= 4, spec.name
        prices = [trim.price for trim in spec.trims]
        assert prices == sorted(prices), spec.name
        assert all(1_200_000 <= price <= 12_000_000 for price in prices), spec.name
    names = {(spec.make, spec.name) for spec in MODELS}
    for expected in (
        ("chery", "Tiggo 4"), ("chery", "Tiggo 7 Pro Max"), ("chery", "Tiggo 8 Pro"),
        ("chery", "Arrizo 8"), ("haval", "Jolion"), ("haval", "F7"), ("haval", "Dargo"),
        ("haval", "H6"), ("geely", "Coolray"), ("geely", "Monjaro"), ("geely", "Atlas"),
        ("geely", "Emgrand"), ("lada", "Vesta"), ("lada", "Granta"), ("lada", "Niva Travel"),
        ("lada", "Largus"), ("kia", "Rio"), ("kia", "K5"), ("kia", "Sportage"),
        ("kia", "Seltos"), ("hyundai", "Solaris"), ("hyundai", "Creta"),
        ("hyundai", "Tucson"), ("toyota", "Camry"), ("toyota", "RAV4"),
        ("toyota", "Land Cruiser Prado"), ("exeed", "LX"), ("exeed", "TXL"), ("exeed", "VX"),
    ):  # fmt: skip
        assert expected in names


def test_stock_per_site_counts_are_spread():
    seed()
    per_site = dict(Vehicle.objects.values_list("site__name").annotate(n=Count("pk")))
    assert min(per_site.values()) >= 40
    assert per_site["Мурманск CHERY"] >= 60
