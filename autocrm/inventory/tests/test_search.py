"""The faceted search: both engines against a plain-Python computation over every row."""

from __future__ import annotations

import random
import threading
from decimal import Decimal
from typing import Any
from unittest import mock

import pytest
from django.db import connection, connections
from django.http import QueryDict

from autocrm.core.errors import ValidationFailed
from autocrm.inventory import search_index, services
from autocrm.inventory.models import Color, Vehicle
from autocrm.inventory.search import (
    ITEM_RELATED,
    SearchResult,
    VehicleSearchParams,
    search_vehicles,
    search_vehicles_sql,
    vehicle_item,
)
from autocrm.inventory.tests.factories import VehicleFactory
from autocrm.inventory.tests.stock_world import (
    TODAY,
    StockWorld,
    build_stock_world,
    expected_search,
    random_query,
)

pytestmark = pytest.mark.django_db


@pytest.fixture
def world() -> StockWorld:
    search_index.reset()
    return build_stock_world()


def _params(query: dict[str, Any]) -> VehicleSearchParams:
    return VehicleSearchParams.from_query(query)


def _as_dicts(result: SearchResult) -> dict[str, Any]:
    return {
        "count": result.count,
        "ids": [vehicle.pk for vehicle in result.items],
        "facets": {
            name: {entry.value: entry.count for entry in entries}
            for name, entries in result.facets.items()
        },
    }


def assert_both_engines_match(user: Any, query: dict[str, Any]) -> None:
    expected = expected_search(user, query)
    params = _params(query)
    indexed = search_vehicles(user=user, params=params, today=TODAY)
    assert indexed.engine == "index"
    assert _as_dicts(indexed) == expected, query
    assert _as_dicts(search_vehicles_sql(user=user, params=params, today=TODAY)) == expected, query


def test_random_filter_combinations_match_plain_python(world: StockWorld) -> None:
    rng = random.Random(2026)
    for round_number in range(120):
        user = world.users[rng.choice(["group", "sales_a", "sales_b"])]
        assert_both_engines_match(user, random_query(rng, world)), round_number


def test_no_filter_counts_everything_visible(world: StockWorld) -> None:
    result = search_vehicles(user=world.users["group"], params=VehicleSearchParams(), today=TODAY)

    assert result.count == 240
    assert sum(entry.count for entry in result.facets["condition"]) == 240
    assert_both_engines_match(world.users["group"], {})


def test_a_facets_counts_ignore_its_own_filter(world: StockWorld) -> None:
    user = world.users["group"]
    chery = search_vehicles(user=user, params=_params({"make": ["Chery"]}), today=TODAY)
    everything = search_vehicles(user=user, params=VehicleSearchParams(), today=TODAY)

    make_counts = {entry.value: entry.count for entry in chery.facets["make"]}
    assert make_counts == {entry.value: entry.count for entry in everything.facets["make"]}
    assert chery.count == make_counts["Chery"]
    # Other facets do apply the make filter.
    assert sum(entry.count for entry in chery.facets["condition"]) == chery.count


def test_a_selected_value_without_cars_is_listed_with_zero(world: StockWorld) -> None:
    result = search_vehicles(
        user=world.users["group"], params=_params({"make": ["Lada"]}), today=TODAY
    )

    assert result.count == 0
    assert {"value": "Lada", "count": 0} in [vars(entry) for entry in result.facets["make"]]


def test_a_manager_never_sees_another_dealer_centers_cars(world: StockWorld) -> None:
    user = world.users["sales_a"]
    result = search_vehicles(user=user, params=_params({"limit": "200"}), today=TODAY)

    sites = {entry.value for entry in result.facets["site"]}
    assert sites <= {"Site A1", "Site A2", "Central"}
    assert "Мурманск CHERY" not in sites
    assert all(vehicle.dealer_center_id in {world.dc_a.pk, None} for vehicle in result.items)
    cities = {entry.value: entry.count for entry in result.facets["city"]}
    assert "Мурманск" not in cities
    assert result.count == Vehicle.objects.exclude(dealer_center=world.dc_b).count()


def test_sort_ties_are_broken_by_id(world: StockWorld) -> None:
    user = world.users["group"]
    for sort in ("price", "-price", "year", "-year", "mileage", "-days_in_stock"):
        assert_both_engines_match(user, {"sort": sort, "limit": "200"})
        assert_both_engines_match(user, {"sort": sort, "limit": "7", "offset": "233"})


def test_vin_tail_and_full_vin(world: StockWorld) -> None:
    user = world.users["group"]
    vehicle = world.vehicles[17]
    for tail in (vehicle.vin[-4:], vehicle.vin[-8:].lower(), vehicle.vin):
        result = search_vehicles(user=user, params=_params({"vin": tail}), today=TODAY)
        assert vehicle.pk in [item.pk for item in result.items]
        assert all(item.vin.endswith(tail.upper()) for item in result.items)
        assert_both_engines_match(user, {"vin": tail})


def test_free_text_matches_stock_code_make_and_model(world: StockWorld) -> None:
    user = world.users["group"]
    coded = next(vehicle for vehicle in world.vehicles if vehicle.stock_code.startswith("SK-"))
    result = search_vehicles(
        user=user, params=_params({"q": coded.stock_code.lower()}), today=TODAY
    )
    assert [item.pk for item in result.items] == [coded.pk]
    for text in ("haval", "TIGGO pro", "Jolion F7", coded.vin[3:9]):
        assert_both_engines_match(user, {"q": text})


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ("price_min=abc", "price_min"),
        ("price_max=-1", "price_max"),
        ("price_min=NaN", "price_min"),
        ("year_min=20x1", "year_min"),
        ("mileage_max=1e3", "mileage_max"),
        ("days_in_stock_min=-3", "days_in_stock_min"),
        ("limit=0", "limit"),
        ("limit=500", "limit"),
        ("offset=-1", "offset"),
        ("sort=colour", "sort"),
        ("vin=ABC", "vin"),
        ("vin=ABCDEFGHIJKLMNOPQ", "vin"),
        ("condition=broken", "condition"),
        ("reservation_status=maybe", "reservation_status"),
    ],
)
def test_malformed_parameters_name_the_parameter(query: str, field: str) -> None:
    with pytest.raises(ValidationFailed) as error:
        VehicleSearchParams.from_query(QueryDict(query))

    assert error.value.field == field


def test_query_string_round_trip() -> None:
    query = QueryDict(
        "make=Chery&make=Haval&price_min=1000000.50&year_max=2024&vin=4288&q=tiggo&sort=-price"
        "&limit=20&offset=40&condition=&site="
    )
    params = VehicleSearchParams.from_query(query)

    assert params.make == ("Chery", "Haval")
    assert params.price_min == Decimal("1000000.50")
    assert params.condition == ()
    assert VehicleSearchParams.from_query(QueryDict(params.to_query())) == params


def test_the_index_stays_exact_after_writes(world: StockWorld) -> None:
    user = world.users["group"]
    queries = [
        {"reservation_status": ["free"], "make": ["Chery", "Haval"]},
        {"price_min": "3000000", "sort": "-price", "limit": "200"},
        {"city": ["Мурманск"], "year_min": "2023"},
        {"q": "LVV", "sort": "price"},
    ]
    for query in queries:
        assert_both_engines_match(user, query)
    actor = world.users["sales_a"]
    free = next(
        v
        for v in world.vehicles
        if v.reservation_status == "free" and v.dealer_center_id == world.dc_a.pk
    )
    services.reservation_create(actor=actor, vehicle=free)
    services.vehicle_update(actor=actor, vehicle=world.vehicles[3], price=Decimal("3500000.01"))
    services.vehicle_update(actor=actor, vehicle=world.vehicles[4], model_year=2023, mileage=1)
    created = VehicleFactory.create(
        vin="LVVDB21B1PD734288",
        make=world.vehicles[0].make,
        car_model=world.vehicles[0].car_model,
        site=world.sites[2],
        price=Decimal("3119900.00"),
        model_year=2023,
    )
    for query in queries:
        assert_both_engines_match(user, query)
    result = search_vehicles(user=user, params=_params({"vin": "4288"}), today=TODAY)
    assert created.pk in [item.pk for item in result.items]
    services.reservation_release(actor=actor, vehicle=free)
    for query in queries:
        assert_both_engines_match(user, query)


def test_catalog_renames_show_up(world: StockWorld) -> None:
    user = world.users["group"]
    search_vehicles(user=user, params=VehicleSearchParams(), today=TODAY)
    make = world.vehicles[0].make
    make.name = "Chery Renamed"
    make.save()

    result = search_vehicles(user=user, params=_params({"make": ["Chery Renamed"]}), today=TODAY)

    assert result.count == Vehicle.objects.filter(make=make).count() > 0
    assert_both_engines_match(user, {"make": ["Chery Renamed"]})


def test_a_rolled_back_write_seen_from_inside_its_transaction_is_undone(
    world: StockWorld,
) -> None:
    from django.db import transaction

    user = world.users["group"]
    vehicle = world.vehicles[5]
    query = {"price_min": "9000000"}
    seen_inside: list[int] = []

    def write_search_and_fail() -> None:
        with transaction.atomic():
            services.vehicle_update(actor=None, vehicle=vehicle, price=Decimal("9999999.00"))
            seen_inside.append(search_vehicles(user=user, params=_params(query), today=TODAY).count)
            raise RuntimeError("roll back")

    with pytest.raises(RuntimeError):
        write_search_and_fail()

    assert seen_inside == [1]
    assert search_vehicles(user=user, params=_params(query), today=TODAY).count == 0
    assert_both_engines_match(user, query)


def test_cars_inserted_without_a_change_row_are_found(world: StockWorld) -> None:
    user = world.users["group"]
    search_vehicles(user=user, params=VehicleSearchParams(), today=TODAY)
    template = world.vehicles[0]
    template.pk = None
    template.vin = "XTA00000000000001"
    template.stock_code = "BULK-1"
    Vehicle.objects.bulk_create([template])  # a bulk loader: no StockChange row

    assert_both_engines_match(user, {"q": "BULK-1"})
    assert search_vehicles(user=user, params=_params({"q": "bulk-1"}), today=TODAY).count == 1


@pytest.mark.django_db(transaction=True)
def test_a_write_through_another_connection_is_seen_by_the_next_search() -> None:
    search_index.reset()
    world = build_stock_world(count=30)
    user = world.users["group"]
    vehicle = world.vehicles[0]
    query = {"price_min": "8000000"}
    assert search_vehicles(user=user, params=_params(query), today=TODAY).count == 0
    errors: list[BaseException] = []

    def other_process() -> None:
        # A thread has its own database connection, as another web process would.
        try:
            services.vehicle_update(actor=None, vehicle=vehicle, price=Decimal("8500000.00"))
        except BaseException as error:
            errors.append(error)
        finally:
            connections.close_all()

    thread = threading.Thread(target=other_process)
    thread.start()
    thread.join()

    assert errors == []
    result = search_vehicles(user=user, params=_params(query), today=TODAY)
    assert [item.pk for item in result.items] == [vehicle.pk]
    assert connection.in_atomic_block is False
    assert_both_engines_match(user, query)


def _items(result: SearchResult) -> list[dict[str, Any]]:
    return [vehicle_item(vehicle, TODAY) for vehicle in result.items]


def test_page_relations_cover_every_item_relation() -> None:
    assert set(search_index.PAGE_RELATIONS) == set(ITEM_RELATED)


def test_index_pages_show_the_same_fields_as_sql_pages(world: StockWorld) -> None:
    # The index attaches catalog rows from memory instead of joining: same items.
    user = world.users["group"]
    rng = random.Random(11)
    for query in [{"limit": "200"}, *(random_query(rng, world) for _ in range(20))]:
        params = _params(query)
        indexed = search_vehicles(user=user, params=params, today=TODAY)
        assert indexed.engine == "index"
        sql = search_vehicles_sql(user=user, params=params, today=TODAY)
        assert _items(indexed) == _items(sql), query


def test_index_pages_show_catalog_renames_and_new_catalog_rows(world: StockWorld) -> None:
    user = world.users["group"]
    vehicle = world.vehicles[0]
    query = {"vin": vehicle.vin}
    search_vehicles(user=user, params=_params(query), today=TODAY)
    city = vehicle.city
    city.name = "Город Переименованный"
    city.save()
    color = Color.objects.create(name="Цвет Новый")
    services.vehicle_update(actor=None, vehicle=vehicle, color=color)

    (item,) = _items(search_vehicles(user=user, params=_params(query), today=TODAY))

    assert (item["city"], item["color"]) == ("Город Переименованный", "Цвет Новый")
    assert [item] == _items(search_vehicles_sql(user=user, params=_params(query), today=TODAY))


def test_a_catalog_row_the_index_has_not_seen_falls_back_to_the_join(world: StockWorld) -> None:
    user = world.users["group"]
    index_result = search_vehicles(user=user, params=_params({"limit": "5"}), today=TODAY)
    index = search_index.get_index()
    ids = [vehicle.pk for vehicle in index_result.items]
    catalog = search_index.Catalog(
        spelling=index.catalog.spelling,
        ids=index.catalog.ids,
        rows={**index.catalog.rows, "make": {}},
        fingerprint=index.catalog.fingerprint,
    )

    page = search_index.page_vehicles(ids, catalog, index.using)

    assert [vehicle.pk for vehicle in page] == ids
    assert [vehicle_item(vehicle, TODAY) for vehicle in page] == _items(index_result)


def test_pages_never_share_catalog_instances(world: StockWorld) -> None:
    user = world.users["group"]
    first = search_vehicles(user=user, params=_params({"limit": "1"}), today=TODAY)
    second = search_vehicles(user=user, params=_params({"limit": "1"}), today=TODAY)
    assert first.items[0].pk == second.items[0].pk
    assert first.items[0].make is not second.items[0].make
    assert first.items[0].make == second.items[0].make


def test_price_ranges_stay_exact_after_price_changes(world: StockWorld) -> None:
    # Boundary buckets answer from a sorted copy that every change must invalidate.
    user = world.users["group"]
    prices = sorted(vehicle.price for vehicle in world.vehicles)
    low, high = prices[len(prices) // 3], prices[2 * len(prices) // 3]
    queries = [
        {"price_min": str(low), "price_max": str(high), "limit": "200"},
        {"price_min": str(low + Decimal("0.01")), "sort": "price", "limit": "200"},
        {"price_max": str(high - Decimal("0.01")), "sort": "-price", "limit": "200"},
    ]
    for query in queries:
        assert_both_engines_match(user, query)
    for step, vehicle in enumerate(world.vehicles[:40]):
        new_price = (low, high, low + Decimal("0.01"), high - Decimal("0.01"))[step % 4]
        services.vehicle_update(actor=None, vehicle=vehicle, price=new_price)
        if step % 10 == 9:
            for query in queries:
                assert_both_engines_match(user, query)


def test_the_api_answer_matches_its_documented_schema(world: StockWorld, client: Any) -> None:
    from autocrm.inventory.api import VehicleSearchOut

    user = world.users["group"]
    client.force_login(user)
    response = client.get("/api/v1/vehicles?make=Chery&make=Haval&sort=-price&limit=20")

    assert response.status_code == 200
    assert response["Content-Type"] == "application/json; charset=utf-8"
    body = response.json()
    assert VehicleSearchOut.model_validate(body).model_dump(mode="json") == body
    expected = expected_search(user, {"make": ["Chery", "Haval"], "sort": "-price"})
    assert body["count"] == expected["count"] > 0


def test_searches_after_writes_neither_rebuild_nor_reload_the_catalog(
    world: StockWorld,
) -> None:
    # Build and sync read change rows and the fingerprint through one statement: the
    # values they compare must come back alike, or every search would start afresh.
    user = world.users["group"]
    search_vehicles(user=user, params=VehicleSearchParams(), today=TODAY)
    services.vehicle_update(actor=None, vehicle=world.vehicles[1], price=Decimal("2000000.00"))
    search_vehicles(user=user, params=VehicleSearchParams(), today=TODAY)
    index = search_index.get_index()
    catalog = index.catalog
    with (
        mock.patch.object(search_index.StockIndex, "build") as build,
        mock.patch.object(search_index.Catalog, "load") as load,
    ):
        for _ in range(3):
            assert_both_engines_match(user, {"price_min": "1999999", "limit": "200"})
        services.vehicle_update(actor=None, vehicle=world.vehicles[2], mileage=12)
        assert_both_engines_match(user, {"mileage_max": "12"})
    assert build.call_count == 0
    assert load.call_count == 0
    assert search_index.get_index().catalog is catalog
