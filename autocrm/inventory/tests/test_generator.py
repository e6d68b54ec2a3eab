"""``generate_stock``: fast synthetic stock, consistent with what the services write."""

from __future__ import annotations

from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.db import connection
from django.db.models import Count

from autocrm.accounts.demo import build_structure, build_users
from autocrm.accounts.models import Site
from autocrm.inventory import generator
from autocrm.inventory.generator import (
    REBUILD_MARKER_VEHICLE_ID,
    generate_stock,
    generated_vin_tail,
)
from autocrm.inventory.models import (
    Condition,
    LogisticsStatusChange,
    Reservation,
    ReservationStatus,
    StockChange,
    Vehicle,
)
from autocrm.inventory.tests.factories import VehicleFactory
from autocrm.inventory.vin import check_digit_matches, is_valid_vin

pytestmark = pytest.mark.django_db


def assert_consistent() -> None:
    vehicles = Vehicle.objects.select_related("make", "car_model", "trim", "site")
    assert vehicles.values("vin").distinct().count() == vehicles.count()
    assert vehicles.values("stock_code").distinct().count() == vehicles.count()
    for car in vehicles:
        assert is_valid_vin(car.vin), car.vin
        assert car.car_model.make_id == car.make_id
        assert car.trim is None or car.trim.car_model_id == car.car_model_id
        assert car.site.city_id == car.city_id
        assert car.price > 0
        assert car.stock_in_date is not None
        assert car.created_at is not None
        if car.condition == Condition.NEW:
            assert car.mileage < 30
        else:
            assert 5_000 <= car.mileage <= 180_099
            assert 1 <= (car.owners_count or 0) <= 4
    # one first logistics-history row per car, with the car's status
    assert LogisticsStatusChange.objects.count() >= vehicles.count()
    for vehicle_id, status_id in vehicles.values_list("pk", "logistics_status"):
        assert LogisticsStatusChange.objects.filter(
            vehicle_id=vehicle_id, to_status_id=status_id, from_status__isnull=True
        ).exists()


def test_fills_an_empty_database_with_the_demo_structure_and_plausible_cars():
    assert not Site.objects.exists()

    result = generate_stock(vehicles=300, batch_size=120, seed=3)

    assert result.vehicles == 300
    assert Vehicle.objects.count() == 300
    assert Site.objects.exists()
    assert_consistent()
    codes = sorted(Vehicle.objects.values_list("stock_code", flat=True))
    assert codes[0] == "GS-000000001"
    assert codes[-1] == "GS-000000300"
    assert all(check_digit_matches(vin) for vin in Vehicle.objects.values_list("vin", flat=True))
    conditions = dict(Vehicle.objects.values_list("condition").annotate(n=Count("pk")))
    assert conditions[Condition.NEW] > conditions[Condition.USED] > 0
    assert Vehicle.objects.values("site").distinct().count() >= 10
    # no users yet: nobody to hold a reservation
    assert not Vehicle.objects.exclude(reservation_status=ReservationStatus.FREE).exists()
    # one marker, not one StockChange row per car
    assert list(StockChange.objects.values_list("vehicle_id", flat=True)) == [
        REBUILD_MARKER_VEHICLE_ID
    ]


def test_a_second_run_continues_the_numbers_and_never_collides():
    generate_stock(vehicles=150, batch_size=100, seed=1)
    generate_stock(vehicles=150, batch_size=100, seed=1)  # the same seed on purpose

    assert Vehicle.objects.count() == 300
    assert Vehicle.objects.filter(stock_code="GS-000000300").exists()
    assert_consistent()


def test_reserved_cars_have_an_active_reservation_of_a_manager():
    build_users(build_structure())

    generate_stock(vehicles=400, batch_size=400, seed=5, reserved_share=0.2)

    reserved = Vehicle.objects.filter(reservation_status=ReservationStatus.RESERVED)
    assert reserved.count() > 20
    active = Reservation.objects.filter(is_active=True)
    assert set(active.values_list("vehicle_id", flat=True)) == set(
        reserved.values_list("pk", flat=True)
    )
    assert set(active.values_list("manager__username", flat=True)) == {"manager"}
    assert not reserved.filter(condition=Condition.USED).exists()


def test_the_same_seed_gives_the_same_cars():
    generate_stock(vehicles=60, seed=9)
    first = list(
        Vehicle.objects.order_by("stock_code").values_list(
            "car_model__name", "trim__name", "price", "mileage", "condition", "site__name"
        )
    )
    Vehicle.objects.all().delete()
    LogisticsStatusChange.objects.all().delete()

    generate_stock(vehicles=60, seed=9)

    again = list(
        Vehicle.objects.order_by("stock_code").values_list(
            "car_model__name", "trim__name", "price", "mileage", "condition", "site__name"
        )
    )
    assert again == first


def test_a_generated_vin_already_in_stock_is_replaced():
    generate_stock(vehicles=5, seed=2)
    existing = Vehicle.objects.get(stock_code="GS-000000001")
    # A car from elsewhere holds the VIN that number 6 will get.
    clash = existing.vin[:10] + generated_vin_tail(6)
    clash = clash[:8] + generator.check_digit(clash[:8] + "0" + clash[9:]) + clash[9:]
    other = VehicleFactory(vin=clash, stock_code="IMPORTED-1")
    rows = [{"vin": clash, "id": 10_000}]

    generator._replace_taken_vins(rows, generator.vins_in_stock())

    assert rows[0]["vin"] != clash
    assert is_valid_vin(rows[0]["vin"])
    assert check_digit_matches(rows[0]["vin"])
    assert rows[0]["vin"][:8] == clash[:8]  # same maker, model and trim
    assert rows[0]["vin"][9] == clash[9]  # same model year
    other.refresh_from_db()
    assert other.vin == clash


def test_vin_tails_are_unique_per_number():
    tails = {generated_vin_tail(number) for number in range(0, 3_000_000, 7)}
    assert len(tails) == len(range(0, 3_000_000, 7))


def test_command_reports_speed_and_validates_its_options():
    out = StringIO()
    call_command("generate_stock", "--vehicles", "40", "--batch", "15", stdout=out)
    assert "Generated 40 vehicles" in out.getvalue()
    assert "vehicles/s" in out.getvalue()
    assert Vehicle.objects.count() == 40

    with pytest.raises(CommandError, match="--vehicles"):
        call_command("generate_stock", "--vehicles", "0")
    with pytest.raises(CommandError, match="--batch"):
        call_command("generate_stock", "--vehicles", "5", "--batch", "0")


def test_with_history_writes_one_audit_row_per_car():
    generate_stock(vehicles=30, seed=4, with_history=True)
    assert Vehicle.history.filter(history_type="+").count() == 30
    assert set(Vehicle.history.values_list("id", flat=True)) == set(
        Vehicle.objects.values_list("pk", flat=True)
    )


@pytest.mark.skipif(connection.vendor != "postgresql", reason="PostgreSQL bulk-load mode")
def test_postgres_bulk_load_restores_every_index_and_foreign_key(monkeypatch):
    def schema() -> tuple[list[tuple[str, str]], list[tuple[str, str]]]:
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT indexname, indexdef FROM pg_indexes "
                "WHERE tablename IN ('inventory_vehicle', 'inventory_logisticsstatuschange') "
                "ORDER BY 1"
            )
            indexes = cursor.fetchall()
            cursor.execute(
                "SELECT conname, pg_get_constraintdef(oid) FROM pg_constraint "
                "WHERE conrelid IN ('inventory_vehicle'::regclass, "
                "'inventory_logisticsstatuschange'::regclass) ORDER BY 1"
            )
            return indexes, cursor.fetchall()

    before = schema()
    monkeypatch.setattr(generator, "BULK_LOAD_THRESHOLD", 50)

    generate_stock(vehicles=120, batch_size=50, seed=6)

    assert schema() == before
    assert Vehicle.objects.count() == 120
    assert_consistent()
