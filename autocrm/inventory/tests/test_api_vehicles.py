"""GET /api/v1/vehicles and /api/v1/vehicles/{id}: the contract of issue 3."""

from __future__ import annotations

import datetime
from decimal import Decimal
from typing import Any
from unittest import mock

import pytest
from django.utils import timezone

from autocrm.accounts.tests.factories import UserFactory
from autocrm.inventory import search_index, services
from autocrm.inventory.models import LogisticsStatus
from autocrm.inventory.tests.factories import VehicleFactory
from autocrm.inventory.tests.stock_world import (
    TODAY,
    StockWorld,
    build_stock_world,
    expected_search,
)

pytestmark = pytest.mark.django_db

ITEM_KEYS = {
    "id", "stock_code", "vin", "make", "model", "trim", "body", "drive", "engine",
    "transmission", "color", "year", "mileage", "price", "currency", "condition", "city",
    "site", "consignor", "reservation_status", "logistics_status", "days_in_stock",
}  # fmt: skip
FACET_KEYS = {
    "make", "model", "body", "drive", "engine", "transmission", "color", "condition", "city",
    "site", "reservation_status", "logistics_status", "year",
}  # fmt: skip


@pytest.fixture
def world() -> StockWorld:
    search_index.reset()
    return build_stock_world(count=120)


@pytest.fixture(autouse=True)
def _fixed_today() -> Any:
    with mock.patch("autocrm.inventory.search.timezone.localdate", return_value=TODAY):
        yield


def get(client: Any, user: Any, url: str) -> Any:
    client.force_login(user)
    return client.get(url)


def test_search_answers_the_contract(client: Any, world: StockWorld) -> None:
    user = world.users["group"]
    response = get(
        client, user, "/api/v1/vehicles?make=Chery&make=Haval&price_min=1500000&sort=-price"
    )

    assert response.status_code == 200
    body = response.json()
    assert set(body) == {"count", "items", "facets"}
    assert set(body["facets"]) == FACET_KEYS
    expected = expected_search(
        user, {"make": ["Chery", "Haval"], "price_min": "1500000", "sort": "-price"}
    )
    assert body["count"] == expected["count"]
    assert [item["id"] for item in body["items"]] == expected["ids"]
    for name, entries in body["facets"].items():
        assert {entry["value"]: entry["count"] for entry in entries} == expected["facets"][name]
    item = body["items"][0]
    assert set(item) == ITEM_KEYS
    assert isinstance(item["price"], str)
    assert Decimal(item["price"]) >= Decimal("1500000")


def test_facet_values_can_be_passed_back_as_filters(client: Any, world: StockWorld) -> None:
    user = world.users["group"]
    body = get(client, user, "/api/v1/vehicles?limit=1").json()
    for name in FACET_KEYS - {"year"}:
        entry = body["facets"][name][0]
        answer = get(client, user, f"/api/v1/vehicles?{name}={entry['value']}&limit=200").json()
        assert answer["count"] == entry["count"], name
        assert {item[name] for item in answer["items"]} == {entry["value"]}
    year = body["facets"]["year"][0]
    answer = get(
        client, user, f"/api/v1/vehicles?year_min={year['value']}&year_max={year['value']}"
    )
    assert answer.json()["count"] == year["count"]


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ("price_min=abc", "price_min"),
        ("limit=0", "limit"),
        ("limit=500", "limit"),
        ("sort=unknown", "sort"),
        ("year_max=soon", "year_max"),
        ("vin=12", "vin"),
        ("condition=mint", "condition"),
        ("offset=-5", "offset"),
    ],
)
def test_malformed_parameters_get_400_naming_them(
    client: Any, world: StockWorld, query: str, field: str
) -> None:
    response = get(client, world.users["group"], f"/api/v1/vehicles?{query}")

    assert response.status_code == 400
    body = response.json()
    assert body["errors"][0]["field"] == field, body


def test_scoping_hides_other_dealer_centers_everywhere(client: Any, world: StockWorld) -> None:
    body = get(client, world.users["sales_b"], "/api/v1/vehicles?limit=200").json()

    sites = {entry["value"] for entry in body["facets"]["site"]}
    assert sites <= {"Мурманск CHERY", "Central"}
    assert {item["site"] for item in body["items"]} <= {"Мурманск CHERY", "Central"}
    a_car = next(v for v in world.vehicles if v.dealer_center_id == world.dc_a.pk)
    assert get(client, world.users["sales_b"], f"/api/v1/vehicles/{a_car.pk}").status_code == 404
    assert get(client, world.users["sales_a"], f"/api/v1/vehicles/{a_car.pk}").status_code == 200


def test_the_seed_car_card(client: Any) -> None:
    search_index.reset()
    user = UserFactory.create(roles=["management"])
    showroom = LogisticsStatus.objects.get(code="in_showroom")
    vehicle = VehicleFactory.create(
        vin="LVVDB21B1PD734288",
        stock_code="LVVDB21B1PD734288",
        price=Decimal("3119900.00"),
        mileage=2,
        model_year=2023,
        pts_kind="electronic",
        pts_present=True,
        pts_buyout_date=datetime.date(2023, 3, 23),
        pts_received_date=datetime.date(2023, 3, 23),
        warranty_start=datetime.date(2023, 4, 6),
        report_date=datetime.date(2023, 3, 29),
        interior="Кожа",
        stock_in_date=datetime.date(2026, 6, 1),
    )
    services.logistics_status_change(
        actor=user, vehicle=vehicle, to_status=showroom, comment="on display"
    )
    services.restriction_add(actor=user, vehicle=vehicle, kind="pledge", source="Bank")
    services.inspection_record(
        actor=user,
        vehicle=vehicle,
        inspector=user,
        inspected_at=timezone.now(),
        mileage=2,
        result="passed",
        defects=[services.DefectInput(body_zone="hood", kind="scratch", severity="minor")],
    )
    services.reservation_create(actor=user, vehicle=vehicle, comment="for Petrov")

    response = get(client, user, f"/api/v1/vehicles/{vehicle.pk}")

    assert response.status_code == 200
    card = response.json()
    assert set(card) >= ITEM_KEYS
    assert card["vin"] == card["stock_code"] == "LVVDB21B1PD734288"
    assert card["price"] == "3119900.00"
    assert card["days_in_stock"] == 14
    assert card["logistics_status"] == "in_showroom"
    assert card["pts_kind"] == "electronic"
    assert card["pts_buyout_date"] == "2023-03-23"
    assert card["warranty_start"] == "2023-04-06"
    assert card["interior"] == "Кожа"
    assert card["pledged"] is True
    assert card["reservation_status"] == "reserved"
    assert card["reservation"]["comment"] == "for Petrov"
    assert card["restrictions"][0]["kind"] == "pledge"
    assert card["inspections"][0]["defects"][0]["body_zone"] == "hood"
    history = card["logistics_history"]
    assert [(row["from_status"]["code"], row["to_status"]["code"]) for row in history] == [
        ("at_warehouse", "in_showroom")
    ]
    assert history[0]["changed_by"]["id"] == user.pk
    assert history[0]["comment"] == "on display"


def test_missing_vehicle_is_404(client: Any, world: StockWorld) -> None:
    assert get(client, world.users["group"], "/api/v1/vehicles/999999").status_code == 404
