"""The financial-products API: the catalog (read by whoever works orders, kept by heads),
and an order's products: 201 with the line and the order's new totals, the mandatory and
voluntary split, removal, and refusals that name the field or the reason."""

from __future__ import annotations

import json
from typing import Any

import pytest

from autocrm.accounts.services import api_token_create
from autocrm.accounts.tests.factories import UserFactory
from autocrm.finance.models import FinancialProduct, OrderProduct
from autocrm.finance.tests.factories import SeedProducts, make_product, seed_products
from autocrm.orders.models import Order
from autocrm.orders.tests.factories import OrderWorld, order_world

pytestmark = pytest.mark.django_db

CATALOG = "/api/v1/financial-products"


class Caller:
    def __init__(self, client: Any, user: Any) -> None:
        self.client = client
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

    def delete(self, url: str) -> Any:
        return self.send("DELETE", url)


@pytest.fixture(autouse=True)
def _english(client: Any, settings: Any) -> None:
    # Texts are asserted in English, whatever Russian the translators add.
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "en"


@pytest.fixture
def world() -> OrderWorld:
    return order_world()


@pytest.fixture
def products() -> SeedProducts:
    return seed_products()


@pytest.fixture
def manager(client: Any, world: OrderWorld) -> Caller:
    return Caller(client, world.manager)


def first_error(response: Any) -> dict[str, Any]:
    body = response.json()
    assert set(body) == {"detail", "errors"}
    error: dict[str, Any] = body["errors"][0]
    return error


def products_url(order: Order) -> str:
    return f"/api/v1/orders/{order.pk}/products"


# --- the catalog ------------------------------------------------------------------------------


def test_the_catalog_lists_and_filters(manager: Caller, products: SeedProducts) -> None:
    make_product(name="Old GAP", kind="insurance", is_active=False)

    every = manager.get(CATALOG)
    assert every.status_code == 200
    assert every.json()["count"] == 4
    assistance = next(item for item in every.json()["items"] if item["name"] == "САР")
    assert assistance == {
        "id": products.assistance.pk,
        "name": "САР",
        "kind": "assistance",
        "kind_name": "Road assistance",
        "counterparty": "ООО «Помощь на дорогах»",
        "term_months": 12,
        "price": "49900.00",
        "commission": "43146.00",
        "mandatory_for_credit": True,
        "description": "",
        "is_active": True,
    }

    def names(**query: Any) -> list[str]:
        response = manager.get(CATALOG, **query)
        assert response.status_code == 200, response.content
        return [item["name"] for item in response.json()["items"]]

    assert names(mandatory="true") == ["Продукты банка", "САР"]
    assert names(mandatory="false") == ["Old GAP", "Юр. помощь"]
    assert names(kind="legal") == ["Юр. помощь"]
    assert names(active="true", mandatory="false") == ["Юр. помощь"]
    refused = manager.get(CATALOG, kind="lottery")
    assert (refused.status_code, first_error(refused)["field"]) == (400, "kind")
    assert manager.get(f"{CATALOG}/{products.bank.pk}").json()["commission"] == "0.00"
    assert manager.get(f"{CATALOG}/999999").status_code == 404


def test_heads_keep_the_catalog(client: Any, manager: Caller, world: OrderWorld) -> None:
    head = Caller(client, world.head)
    body = {
        "name": "КАСКО",
        "kind": "insurance",
        "counterparty": "СК «Пример»",
        "term_months": 12,
        "price": "85000",
        "commission": 17000,
        "mandatory_for_credit": True,
    }

    assert manager.post(CATALOG, body).status_code == 403
    created = head.post(CATALOG, body)

    assert created.status_code == 201, created.content
    assert (created.json()["price"], created.json()["commission"]) == ("85000.00", "17000.00")
    duplicate = head.post(CATALOG, body)
    assert (duplicate.status_code, first_error(duplicate)["code"]) == (409, "duplicate_name")
    for bad, field in (
        ({"kind": "insurance", "price": "1"}, "name"),
        ({"name": "GAP", "price": "1"}, "kind"),
        ({"name": "GAP", "kind": "insurance"}, "price"),
        ({"name": "GAP", "kind": "insurance", "price": "-1"}, "price"),
        ({"name": "GAP", "kind": "insurance", "price": "1.005"}, "price"),
        ({"name": "GAP", "kind": "insurance", "price": "1", "term_months": -1}, "term_months"),
    ):
        refused = head.post(CATALOG, bad)
        assert refused.status_code == 400, (bad, refused.content)
        assert first_error(refused)["field"] == field
    assert FinancialProduct.objects.count() == 1

    product_id = created.json()["id"]
    patched = head.send("PATCH", f"{CATALOG}/{product_id}", {"is_active": False, "price": "90000"})
    assert patched.status_code == 200
    assert (patched.json()["is_active"], patched.json()["price"]) == (False, "90000.00")
    assert head.send("PATCH", f"{CATALOG}/{product_id}", {"price": None}).status_code == 400
    assert head.send("PATCH", f"{CATALOG}/{product_id}", {"colour": "x"}).status_code == 400
    assert manager.send("PATCH", f"{CATALOG}/{product_id}", {}).status_code == 403


# --- an order's products -------------------------------------------------------------------------


def test_adding_the_seeds_products_answers_with_the_line_and_the_new_totals(
    manager: Caller, world: OrderWorld, products: SeedProducts
) -> None:
    order = world.order()

    added = manager.post(products_url(order), {"product_id": products.assistance.pk})

    assert added.status_code == 201, added.content
    body = added.json()
    line = OrderProduct.objects.get()
    assert {key: body[key] for key in body if key not in ("order", "added_at")} == {
        "id": line.pk,
        "product_id": products.assistance.pk,
        "name": "САР",
        "kind": "assistance",
        "counterparty": "ООО «Помощь на дорогах»",
        "term_months": 12,
        "price": "49900.00",
        "commission": "43146.00",
        "mandatory": True,
        "added_by": {"id": world.manager.pk, "name": world.manager.display_name},
    }
    assert body["order"]["products_total"] == "49900.00"
    assert body["order"]["total"] == "1879800.00"
    assert body["order"]["version"] == 2

    manager.post(products_url(order), {"product_id": products.bank.pk})
    last = manager.post(products_url(order), {"product_id": products.legal.pk})

    assert last.json()["order"] | {"version": None} == {
        "id": order.pk,
        "version": None,
        "vehicle_price": "1829900.00",
        "equipment_total": "0.00",
        "discount_total": "0.00",
        "products_total": "249800.00",
        "trade_in_credit": "0.00",
        "total": "2079700.00",
        "invoiced_total": "0.00",
        "paid_total": "0.00",
        "balance_due": "2079700.00",
        "payment_status": "unpaid",
    }
    shown = manager.get(f"/api/v1/orders/{order.pk}").json()
    assert (shown["products_total"], shown["total"]) == ("249800.00", "2079700.00")


def test_the_orders_products_come_split_mandatory_and_voluntary(
    manager: Caller, world: OrderWorld, products: SeedProducts
) -> None:
    order = world.order()
    for product in (products.legal, products.assistance, products.bank):
        manager.post(products_url(order), {"product_id": product.pk})

    response = manager.get(products_url(order))

    assert response.status_code == 200
    body = response.json()
    assert [(item["name"], item["price"], item["commission"]) for item in body["mandatory"]] == [
        ("САР", "49900.00", "43146.00"),
        ("Продукты банка", "19900.00", "0.00"),
    ]
    assert [(item["name"], item["price"], item["commission"]) for item in body["voluntary"]] == [
        ("Юр. помощь", "180000.00", "152000.00"),
    ]
    assert (body["price_total"], body["commission_total"]) == ("249800.00", "195146.00")
    assert body["order"]["total"] == "2079700.00"


def test_removing_a_product_answers_with_the_totals(
    manager: Caller, world: OrderWorld, products: SeedProducts
) -> None:
    order = world.order()
    manager.post(products_url(order), {"product_id": products.assistance.pk})
    manager.post(products_url(order), {"product_id": products.legal.pk})

    removed = manager.delete(f"{products_url(order)}/{products.legal.pk}")

    assert removed.status_code == 200, removed.content
    assert removed.json()["order"]["products_total"] == "49900.00"
    assert removed.json()["order"]["total"] == "1879800.00"
    again = manager.delete(f"{products_url(order)}/{products.legal.pk}")
    assert (again.status_code, first_error(again)["field"]) == (404, "product_id")
    assert manager.delete(f"{products_url(order)}/999999").status_code == 404


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({}, "product_id"),
        ({"product_id": "abc"}, "product_id"),
        ({"product_id": 0}, "product_id"),
        ({"product_id": 999_999}, "product_id"),
    ],
)
def test_bad_product_ids_name_the_field(
    manager: Caller, world: OrderWorld, body: dict[str, Any], field: str
) -> None:
    order = world.order()

    response = manager.post(products_url(order), body)

    assert response.status_code == 400
    assert first_error(response)["field"] == field
    assert not OrderProduct.objects.exists()


def test_refusals_are_409_with_the_reason(
    manager: Caller, world: OrderWorld, products: SeedProducts
) -> None:
    order = world.order()
    manager.post(products_url(order), {"product_id": products.bank.pk})

    twice = manager.post(products_url(order), {"product_id": products.bank.pk})
    FinancialProduct.objects.filter(pk=products.legal.pk).update(is_active=False)
    retired = manager.post(products_url(order), {"product_id": products.legal.pk})
    manager.post(f"/api/v1/orders/{order.pk}/status", {"status": "cancelled", "reason": "x"})
    closed = manager.post(products_url(order), {"product_id": products.assistance.pk})
    closed_removal = manager.delete(f"{products_url(order)}/{products.bank.pk}")

    assert [r.status_code for r in (twice, retired, closed, closed_removal)] == [409] * 4
    assert [first_error(r)["code"] for r in (twice, retired, closed, closed_removal)] == [
        "product_already_added",
        "product_inactive",
        "order_closed",
        "order_closed",
    ]
    assert "Продукты банка" in twice.json()["detail"]
    assert OrderProduct.objects.count() == 1


def test_scoping_and_permissions(client: Any, world: OrderWorld, products: SeedProducts) -> None:
    order = world.order()
    stranger = Caller(client, order_world().manager)
    service = Caller(
        client, UserFactory.create(roles=["service"], dealer_centers=[world.dealer_center])
    )
    hostess = Caller(
        client, UserFactory.create(roles=["hostess"], dealer_centers=[world.dealer_center])
    )
    body = {"product_id": products.bank.pk}

    assert stranger.get(products_url(order)).status_code == 404
    assert stranger.post(products_url(order), body).status_code == 404
    assert stranger.delete(f"{products_url(order)}/{products.bank.pk}").status_code == 404
    assert service.get(products_url(order)).status_code == 200
    assert service.get(CATALOG).status_code == 200
    assert service.post(products_url(order), body).status_code == 403
    assert hostess.get(CATALOG).status_code == 403
    assert hostess.get(products_url(order)).status_code == 403
    assert not OrderProduct.objects.exists()
