"""The sales-order API: creation from a stock car and from the importer (names or ids),
the order with its money as decimal strings, edits, the status workflow (409 with the
reason), the importer order's workflow up to the car's arrival, the history, scoping and
permissions, and 20 concurrent orders of one car on PostgreSQL.

Real HTTP through Django's test client with bearer tokens; ``order_world()`` is the seed's
Мурманск dealer center with the Chery Tiggo 7 Pro Max Ultimate at 1 829 900 ₽.
"""

from __future__ import annotations

import json
import threading
from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest
from django.db import connection, connections
from django.test import Client as HttpClient
from django.utils import timezone

from autocrm.accounts.services import api_token_create
from autocrm.accounts.tests.factories import UserFactory
from autocrm.clients.tests.factories import ClientFactory
from autocrm.inventory import search_index
from autocrm.inventory.models import ReservationStatus, Vehicle
from autocrm.inventory.tests.factories import CarModelFactory, ColorFactory, TrimFactory
from autocrm.orders.models import ImporterOrder, Order, OrderEvent, OrderStatus
from autocrm.orders.tests.factories import OrderWorld, order_world
from autocrm.sales.tests.factories import default_pipelines, make_deal

pytestmark = pytest.mark.django_db

ORDERS = "/api/v1/orders"


class Caller:
    """One user calling the API with his bearer token."""

    def __init__(self, client: Any, user: Any) -> None:
        self.client = client
        self.user = user
        token = api_token_create(actor=None, user=user, name="tests").token
        self.headers = {"HTTP_AUTHORIZATION": f"Bearer {token}"}

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


@pytest.fixture(autouse=True)
def _english(client: Any, settings: Any) -> None:
    # Texts are asserted in English, whatever Russian the translators add.
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "en"


@pytest.fixture
def world() -> OrderWorld:
    return order_world()


@pytest.fixture
def manager(client: Any, world: OrderWorld) -> Caller:
    return Caller(client, world.manager)


def error(response: Any) -> dict[str, Any]:
    body = response.json()
    assert set(body) == {"detail", "errors"}
    first: dict[str, Any] = body["errors"][0]
    return first


def create(caller: Caller, world: OrderWorld, **body: Any) -> Any:
    body.setdefault("client_id", world.client.pk)
    if "importer_order" not in body:
        body.setdefault("vehicle_id", world.vehicle.pk)
    return caller.post(ORDERS, body)


# --- creating from a stock car -------------------------------------------------------------


def test_an_order_from_the_stock_car_is_created_reserved_and_shown_with_decimal_strings(
    manager: Caller, world: OrderWorld
) -> None:
    response = create(manager, world, comment="Seed path")

    assert response.status_code == 201, response.content
    body = response.json()
    order = Order.objects.get()
    assert body["id"] == order.pk
    assert body["number"] == f"{order.pk:06d}"
    assert (body["kind"], body["status"], body["version"]) == ("stock", "draft", 1)
    assert body["client"] == {"id": world.client.pk, "name": world.client.display_name}
    assert body["dealer_center"] == {
        "id": world.dealer_center.pk,
        "name": world.dealer_center.name,
    }
    assert body["manager"] == {"id": world.manager.pk, "name": world.manager.display_name}
    assert body["issuer"] == {"id": world.issuer.pk, "name": world.issuer.name}
    assert body["deal_id"] is None
    assert body["importer_order"] is None
    assert body["comment"] == "Seed path"
    assert body["vehicle"] == {
        "id": world.vehicle.pk,
        "vin": world.vehicle.vin,
        "stock_code": world.vehicle.stock_code,
        "make": "Chery",
        "model": "Tiggo 7 Pro Max",
        "trim": "Ultimate",
        "price": "1829900.00",
    }
    money = {
        name: body[name]
        for name in (
            "vehicle_price",
            "equipment_total",
            "discount_total",
            "products_total",
            "trade_in_credit",
            "total",
            "invoiced_total",
            "paid_total",
            "balance_due",
        )
    }
    assert money == {
        "vehicle_price": "1829900.00",
        "equipment_total": "0.00",
        "discount_total": "0.00",
        "products_total": "0.00",
        "trade_in_credit": "0.00",
        "total": "1829900.00",
        "invoiced_total": "0.00",
        "paid_total": "0.00",
        "balance_due": "1829900.00",
    }
    assert body["payment_status"] == "unpaid"
    world.vehicle.refresh_from_db()
    assert world.vehicle.reservation_status == ReservationStatus.RESERVED


def test_a_car_held_by_another_order_is_a_409_and_nothing_is_created(
    manager: Caller, world: OrderWorld
) -> None:
    assert create(manager, world).status_code == 201
    other = ClientFactory.create(dealer_center=world.dealer_center)

    response = create(manager, world, client_id=other.pk)

    assert response.status_code == 409
    assert error(response)["code"] == "vehicle_reserved"
    assert error(response)["field"] == "vehicle_id"
    assert Order.objects.count() == 1


def test_the_order_may_close_a_deal_of_the_same_client(manager: Caller, world: OrderWorld) -> None:
    pipelines = default_pipelines()
    deal = make_deal(
        pipeline=pipelines["new_car"], dealer_center=world.dealer_center, client=world.client
    )
    foreign = make_deal(pipeline=pipelines["new_car"], dealer_center=world.dealer_center)

    refused = create(manager, world, deal_id=foreign.pk)
    assert refused.status_code == 400
    assert error(refused)["field"] == "deal_id"

    response = create(manager, world, deal_id=deal.pk)
    assert response.status_code == 201
    assert response.json()["deal_id"] == deal.pk


@pytest.mark.parametrize(
    ("body", "status", "field"),
    [
        ({}, 400, "client_id"),
        ({"client_id": "x"}, 400, "client_id"),
        ({"client_id": 0}, 400, "client_id"),
        ({"client_id": "@client"}, 400, "vehicle_id"),
        ({"client_id": 999_999, "vehicle_id": "@vehicle"}, 404, "client_id"),
        ({"client_id": "@client", "vehicle_id": 999_999}, 404, "vehicle_id"),
        ({"client_id": "@client", "vehicle_id": "@vehicle", "deal_id": 999_999}, 404, "deal_id"),
        (
            {"client_id": "@client", "vehicle_id": "@vehicle", "importer_order": {"model": 1}},
            400,
            "importer_order",
        ),
        ({"client_id": "@client", "vehicle_id": "@vehicle", "comment": "a\x00b"}, 400, "comment"),
    ],
)
def test_bad_creation_input_names_the_field_and_creates_nothing(
    manager: Caller, world: OrderWorld, body: dict[str, Any], status: int, field: str
) -> None:
    ids = {"@client": world.client.pk, "@vehicle": world.vehicle.pk}
    body = {
        key: ids.get(value, value) if isinstance(value, str) else value
        for key, value in body.items()
    }

    response = manager.post(ORDERS, body)

    assert response.status_code == status, response.content
    assert error(response)["field"] == field
    assert not Order.objects.exists()
    world.vehicle.refresh_from_db()
    assert world.vehicle.reservation_status == ReservationStatus.FREE


def test_another_dealer_centers_client_and_car_are_not_found(
    client: Any, world: OrderWorld
) -> None:
    stranger = Caller(client, order_world().manager)

    response = create(stranger, world)
    assert response.status_code == 404
    assert error(response)["field"] == "client_id"

    own_client = ClientFactory.create(dealer_center=stranger.user.dealer_centers.get())
    response = create(stranger, world, client_id=own_client.pk)
    assert response.status_code == 404
    assert error(response)["field"] == "vehicle_id"
    assert not Order.objects.exists()


def test_a_sold_car_is_a_409(manager: Caller, world: OrderWorld) -> None:
    Vehicle.objects.filter(pk=world.vehicle.pk).update(in_stock=False)

    response = create(manager, world)

    assert response.status_code == 409
    assert error(response)["code"] == "not_available"


# --- creating an order from the importer ----------------------------------------------------


def importer_body(world: OrderWorld, **order: Any) -> dict[str, Any]:
    return {
        "client_id": world.client.pk,
        "dealer_center_id": world.dealer_center.pk,
        "importer_order": order,
    }


def test_an_importer_order_by_names_resolves_make_model_and_trim_without_case(
    manager: Caller, world: OrderWorld
) -> None:
    tiggo8 = CarModelFactory.create(make=world.make, name="Tiggo 8 Pro")
    trim = TrimFactory.create(car_model=tiggo8, name="Престиж")
    wished = timezone.localdate() + timedelta(days=60)

    response = manager.post(
        ORDERS,
        importer_body(
            world,
            make="chery",
            model="TIGGO 8 PRO",
            trim="престиж",
            color="Серый",
            options="Панорамная крыша",
            wished_date=wished.isoformat(),
            expected_price="3100000",
        ),
    )

    assert response.status_code == 201, response.content
    body = response.json()
    assert (body["kind"], body["vehicle"]) == ("importer", None)
    assert body["importer_order"] == {
        "status": "requested",
        "status_name": "Requested",
        "make": {"id": world.make.pk, "name": "Chery"},
        "model": {"id": tiggo8.pk, "name": "Tiggo 8 Pro"},
        "trim": {"id": trim.pk, "name": "Престиж"},
        "color": "Серый",
        "options": "Панорамная крыша",
        "wished_date": wished.isoformat(),
        "expected_price": "3100000.00",
        "importer_reference": "",
    }
    assert (body["vehicle_price"], body["total"], body["balance_due"]) == ("3100000.00",) * 3


def test_an_importer_order_by_ids(manager: Caller, world: OrderWorld) -> None:
    response = manager.post(
        ORDERS, importer_body(world, model=world.car_model.pk, trim=world.trim.pk)
    )

    assert response.status_code == 201, response.content
    importer_order = ImporterOrder.objects.get()
    assert (importer_order.make, importer_order.car_model, importer_order.trim) == (
        world.make,
        world.car_model,
        world.trim,
    )
    assert response.json()["total"] == "0.00"


@pytest.mark.parametrize(
    ("order", "field"),
    [
        ({"make": "Lada", "model": "Vesta"}, "importer_order.make"),
        ({"make": "Chery", "model": "Vesta"}, "importer_order.model"),
        ({"model": "Tiggo 7 Pro Max"}, "importer_order.make"),
        ({"model": 999_999}, "importer_order.model"),
        ({"make": "Chery", "model": "Tiggo 7 Pro Max", "trim": "Base"}, "importer_order.trim"),
        ({"make": "Chery", "model": ["Tiggo"]}, "importer_order.model"),
        ({"make": True, "model": "Tiggo 7 Pro Max"}, "importer_order.make"),
        ({"make": "Chery", "model": ""}, "importer_order.model"),
        ({"make": "Chery"}, "importer_order.model"),
        ({"make": "Chery", "model": "Tiggo 7 Pro Max", "colour": "red"}, "importer_order.colour"),
        (
            {"make": "Chery", "model": "Tiggo 7 Pro Max", "expected_price": "-1"},
            "importer_order.expected_price",
        ),
        (
            {"make": "Chery", "model": "Tiggo 7 Pro Max", "expected_price": "1.001"},
            "importer_order.expected_price",
        ),
        (
            {"make": "Chery", "model": "Tiggo 7 Pro Max", "wished_date": "2020-01-01"},
            "importer_order.wished_date",
        ),
    ],
)
def test_bad_importer_orders_name_the_field(
    manager: Caller, world: OrderWorld, order: dict[str, Any], field: str
) -> None:
    response = manager.post(ORDERS, importer_body(world, **order))

    assert response.status_code == 400, response.content
    assert error(response)["field"] == field
    assert not Order.objects.exists()


def test_a_trim_of_another_model_is_refused(manager: Caller, world: OrderWorld) -> None:
    other = TrimFactory.create(car_model=CarModelFactory.create(make=world.make))

    response = manager.post(ORDERS, importer_body(world, model=world.car_model.pk, trim=other.pk))

    assert response.status_code == 400
    assert error(response)["field"] == "importer_order.trim"


def test_the_importer_orders_dealer_center_must_be_the_callers(
    manager: Caller, world: OrderWorld
) -> None:
    elsewhere = order_world().dealer_center
    body = importer_body(world, model=world.car_model.pk)

    missing = manager.post(ORDERS, body | {"dealer_center_id": None})
    unknown = manager.post(ORDERS, body | {"dealer_center_id": 999_999})
    foreign = manager.post(ORDERS, body | {"dealer_center_id": elsewhere.pk})

    assert (missing.status_code, unknown.status_code, foreign.status_code) == (400, 404, 403)
    assert {error(r)["field"] for r in (missing, unknown, foreign)} == {"dealer_center_id"}
    assert not Order.objects.exists()


# --- reading --------------------------------------------------------------------------------


def test_the_list_is_scoped_filtered_and_paged(client: Any, world: OrderWorld) -> None:
    first = world.order()
    second = world.order(vehicle=world.another_car(), client=ClientFactory.create())
    Order.objects.filter(pk=second.pk).update(status=OrderStatus.CONFIRMED)
    elsewhere = order_world()
    elsewhere.order()
    manager = Caller(client, world.manager)

    every = manager.get(ORDERS)
    assert every.status_code == 200
    assert every.json()["count"] == 2
    assert [item["id"] for item in every.json()["items"]] == [second.pk, first.pk]

    def ids(**query: Any) -> list[int]:
        response = manager.get(ORDERS, **query)
        assert response.status_code == 200, response.content
        return [item["id"] for item in response.json()["items"]]

    assert ids(status="draft") == [first.pk]
    assert ids(client=world.client.pk) == [first.pk]
    assert ids(vehicle=world.vehicle.pk) == [first.pk]
    assert ids(manager=world.manager.pk) == [second.pk, first.pk]
    assert ids(dealer_center=world.dealer_center.pk) == [second.pk, first.pk]
    assert ids(dealer_center=elsewhere.dealer_center.pk) == []
    assert ids(kind="importer") == []
    assert ids(limit=1, offset=1) == [first.pk]
    assert manager.get(ORDERS, status="lost").status_code == 400
    assert error(manager.get(ORDERS, client="x"))["field"] == "client"


def test_an_order_of_another_dealer_center_is_not_found(client: Any, world: OrderWorld) -> None:
    order = world.order()
    stranger = Caller(client, order_world().manager)

    assert stranger.get(f"{ORDERS}/{order.pk}").status_code == 404
    assert stranger.patch(f"{ORDERS}/{order.pk}", {"comment": "x"}).status_code == 404
    assert stranger.post(f"{ORDERS}/{order.pk}/status", {"status": "confirmed"}).status_code == 404
    assert stranger.get(f"{ORDERS}/{order.pk}/history").status_code == 404
    assert Caller(client, world.head).get(f"{ORDERS}/{order.pk}").status_code == 200


def test_who_may_read_and_who_may_sell(client: Any, world: OrderWorld) -> None:
    order = world.order()
    service = Caller(
        client, UserFactory.create(roles=["service"], dealer_centers=[world.dealer_center])
    )
    hostess = Caller(
        client, UserFactory.create(roles=["hostess"], dealer_centers=[world.dealer_center])
    )

    assert service.get(f"{ORDERS}/{order.pk}").status_code == 200
    assert service.get(ORDERS).json()["count"] == 1
    assert create(service, world).status_code == 403
    assert service.patch(f"{ORDERS}/{order.pk}", {"comment": "x"}).status_code == 403
    assert hostess.get(ORDERS).status_code == 403
    assert hostess.get(f"{ORDERS}/{order.pk}").status_code == 403


# --- changes --------------------------------------------------------------------------------


def test_patch_changes_price_comment_deal_and_manager(
    client: Any, manager: Caller, world: OrderWorld
) -> None:
    order = world.order()
    colleague = UserFactory.create(roles=["sales_manager"], dealer_centers=[world.dealer_center])
    deal = make_deal(
        pipeline=default_pipelines()["new_car"],
        dealer_center=world.dealer_center,
        client=world.client,
    )

    response = manager.patch(
        f"{ORDERS}/{order.pk}",
        {
            "vehicle_price": "1799900.50",
            "comment": "  Discount agreed  ",
            "deal_id": deal.pk,
            "manager_id": colleague.pk,
        },
    )

    assert response.status_code == 200, response.content
    body = response.json()
    assert (body["vehicle_price"], body["total"], body["balance_due"]) == ("1799900.50",) * 3
    assert body["comment"] == "Discount agreed"
    assert body["deal_id"] == deal.pk
    assert body["manager"]["id"] == colleague.pk
    assert body["version"] == 2
    assert OrderEvent.objects.filter(order=order, kind="change").count() == 1

    cleared = manager.patch(f"{ORDERS}/{order.pk}", {"deal_id": None})
    assert cleared.json()["deal_id"] is None
    unchanged = manager.patch(f"{ORDERS}/{order.pk}", {})
    assert unchanged.status_code == 200
    assert unchanged.json()["version"] == 3


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"vehicle_price": "-1"}, "vehicle_price"),
        ({"vehicle_price": None}, "vehicle_price"),
        ({"vehicle_price": "abc"}, "vehicle_price"),
        ({"status": "paid"}, "status"),
        ({"manager_id": None}, "manager_id"),
        ({"manager_id": 999_999}, "manager_id"),
        ({"manager_id": "@stranger"}, "manager_id"),
        ({"manager_id": "@hostess"}, "manager_id"),
    ],
)
def test_bad_changes_name_the_field_and_change_nothing(
    manager: Caller, world: OrderWorld, body: dict[str, Any], field: str
) -> None:
    order = world.order()
    people = {
        "@stranger": order_world().manager.pk,
        "@hostess": UserFactory.create(roles=["hostess"], dealer_centers=[world.dealer_center]).pk,
    }
    body = {
        key: people.get(value, value) if isinstance(value, str) else value
        for key, value in body.items()
    }

    response = manager.patch(f"{ORDERS}/{order.pk}", body)

    assert response.status_code == 400, response.content
    assert error(response)["field"] == field
    order.refresh_from_db()
    assert (order.vehicle_price, order.manager, order.version) == (
        Decimal("1829900.00"),
        world.manager,
        1,
    )


def test_the_workflow_answers_409_with_the_reason(manager: Caller, world: OrderWorld) -> None:
    order = world.order()
    url = f"{ORDERS}/{order.pk}/status"

    skipped = manager.post(url, {"status": "delivered"})
    assert skipped.status_code == 409
    assert error(skipped)["code"] == "transition_not_allowed"
    assert "Draft" in skipped.json()["detail"]

    confirmed = manager.post(url, {"status": "confirmed"})
    assert confirmed.status_code == 200
    assert (confirmed.json()["status"], confirmed.json()["version"]) == ("confirmed", 2)
    assert confirmed.json()["confirmed_at"] is not None

    unpaid = manager.post(url, {"status": "paid"})
    assert unpaid.status_code == 409
    assert error(unpaid)["code"] == "balance_due"
    assert "1829900.00" in error(unpaid)["message"]

    no_reason = manager.post(url, {"status": "cancelled"})
    assert no_reason.status_code == 400
    assert error(no_reason)["field"] == "reason"
    assert manager.post(url, {"status": "lost"}).status_code == 400

    cancelled = manager.post(url, {"status": "cancelled", "reason": "Client changed his mind"})
    assert cancelled.status_code == 200
    assert cancelled.json()["cancel_reason"] == "Client changed his mind"
    world.vehicle.refresh_from_db()
    assert world.vehicle.reservation_status == ReservationStatus.FREE

    closed = manager.patch(f"{ORDERS}/{order.pk}", {"comment": "late"})
    assert closed.status_code == 409
    assert error(closed)["code"] == "order_closed"


def test_the_history_lists_every_change_oldest_first(manager: Caller, world: OrderWorld) -> None:
    order = world.order()
    manager.patch(f"{ORDERS}/{order.pk}", {"vehicle_price": "1800000"})
    manager.post(f"{ORDERS}/{order.pk}/status", {"status": "confirmed"})

    response = manager.get(f"{ORDERS}/{order.pk}/history")

    assert response.status_code == 200
    body = response.json()
    assert body["count"] == 3
    rows = [(item["kind"], item["from_value"], item["to_value"]) for item in body["items"]]
    assert rows == [
        ("status", "", "draft"),
        ("change", "", ""),
        ("status", "draft", "confirmed"),
    ]
    assert body["items"][0]["changed_by"] == {
        "id": world.manager.pk,
        "name": world.manager.display_name,
    }
    assert body["items"][0]["kind_name"] == "Order status"
    assert body["items"][0]["amount"] is None


# --- the importer order's workflow ------------------------------------------------------------


def test_the_importer_order_arrives_and_becomes_a_reserved_stock_car(
    manager: Caller, world: OrderWorld
) -> None:
    ColorFactory.create(name="Серый")
    created = manager.post(
        ORDERS,
        importer_body(
            world, make="Chery", model="Tiggo 7 Pro Max", color="серый", expected_price="3100000"
        ),
    )
    order_id = created.json()["id"]
    url = f"{ORDERS}/{order_id}/importer-status"

    early = manager.post(url, {"status": "arrived", "arrival": {"vin": "LVVDB21B1PD799999"}})
    assert early.status_code == 409
    assert error(early)["code"] == "transition_not_allowed"
    confirmed = manager.post(url, {"status": "confirmed", "importer_reference": "CH-2024-0815"})
    assert confirmed.json()["importer_order"]["importer_reference"] == "CH-2024-0815"
    assert manager.post(url, {"status": "in_production"}).status_code == 200
    misplaced = manager.post(url, {"status": "shipped", "arrival": {"vin": "LVVDB21B1PD799999"}})
    assert (misplaced.status_code, error(misplaced)["field"]) == (400, "arrival")
    assert manager.post(url, {"status": "shipped"}).status_code == 200

    for arrival, field in (
        ({}, "arrival.vin"),
        ({"vin": "NOT-A-VIN"}, "arrival.vin"),
        ({"vin": "LVVDB21B1PD799999", "site_id": 999_999}, "arrival.site_id"),
        ({"vin": "LVVDB21B1PD799999", "color": "Пурпурный"}, "arrival.color"),
        ({"vin": "LVVDB21B1PD799999", "price": "-5"}, "arrival.price"),
    ):
        refused = manager.post(url, {"status": "arrived", "arrival": arrival})
        assert refused.status_code == 400, (arrival, refused.content)
        assert error(refused)["field"] == field
    assert not Vehicle.objects.filter(vin="LVVDB21B1PD799999").exists()

    arrived = manager.post(url, {"status": "arrived", "arrival": {"vin": "lvvdb21b1pd799999"}})

    assert arrived.status_code == 200, arrived.content
    body = arrived.json()
    assert body["importer_order"]["status"] == "arrived"
    assert body["vehicle"]["vin"] == "LVVDB21B1PD799999"
    assert body["vehicle"]["price"] == "3100000.00"
    car = Vehicle.objects.get(vin="LVVDB21B1PD799999")
    assert car.site == world.site
    assert car.color is not None
    assert car.color.name == "Серый"
    assert car.reservation_status == ReservationStatus.RESERVED
    assert body["total"] == "3100000.00"


def test_a_stock_order_has_no_importer_workflow(manager: Caller, world: OrderWorld) -> None:
    order = world.order()

    response = manager.post(f"{ORDERS}/{order.pk}/importer-status", {"status": "confirmed"})

    assert response.status_code == 409
    assert error(response)["code"] == "not_importer"


# --- concurrency -----------------------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_twenty_concurrent_orders_of_one_car_have_exactly_one_winner() -> None:
    if connection.vendor == "sqlite":
        pytest.skip(
            "On the test suite's shared-cache in-memory SQLite, 20 threads writing at once "
            "hang on table locks instead of racing, and SQLite has no row locks (SELECT FOR "
            "UPDATE is a no-op): the race this test provokes is PostgreSQL's."
        )
    search_index.reset()
    world = order_world()
    sellers = [
        UserFactory.create(roles=["sales_manager"], dealer_centers=[world.dealer_center])
        for _ in range(20)
    ]
    buyers = [ClientFactory.create(dealer_center=world.dealer_center) for _ in sellers]
    start = threading.Barrier(len(sellers))
    statuses: list[int] = []
    lock = threading.Lock()

    def order(user: Any, buyer: Any) -> None:
        try:
            http = HttpClient()
            http.force_login(user)
            start.wait()
            response = http.post(
                ORDERS,
                {"client_id": buyer.pk, "vehicle_id": world.vehicle.pk},
                content_type="application/json",
            )
            with lock:
                statuses.append(response.status_code)
        finally:
            connections.close_all()

    threads = [
        threading.Thread(target=order, args=pair) for pair in zip(sellers, buyers, strict=True)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert sorted(statuses) == [201] + [409] * 19
    assert Order.objects.filter(vehicle=world.vehicle).count() == 1
