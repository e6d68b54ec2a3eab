"""The invoices API: issue, list, print, cancel; payments (201, an idempotent repeat 200);
refunds and the heads' decisions; scoping (404 outside the caller's dealer centers) and
permissions (403); errors naming the field; nothing changed on a refusal."""

from __future__ import annotations

import json
from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest
from django.utils import timezone

from autocrm.accounts.services import api_token_create
from autocrm.accounts.tests.factories import UserFactory
from autocrm.orders.models import Invoice, Payment, PaymentStatus, Refund
from autocrm.orders.tests.factories import SEED_PRICE, OrderWorld, order_world
from autocrm.orders.tests.invoice_support import issue, pay, totals

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

    def post(self, url: str, body: Any = None) -> Any:
        return self.client.generic(
            "POST",
            url,
            data=json.dumps({} if body is None else body),
            content_type="application/json",
            **self.headers,
        )


@pytest.fixture
def world() -> OrderWorld:
    return order_world()


def _snapshot() -> tuple[int, int, int]:
    return Invoice.objects.count(), Payment.objects.count(), Refund.objects.count()


def _error(response: Any) -> dict[str, Any]:
    body = response.json()
    assert set(body) == {"detail", "errors"}
    return dict(body["errors"][0])


def _paid_at(minutes_ago: int = 5) -> str:
    return (timezone.now() - timedelta(minutes=minutes_ago)).isoformat()


# --------------------------------------------------------------------------- invoices


def test_issue_an_invoice(client: Any, world: OrderWorld) -> None:
    order = world.order()
    manager = Caller(client, world.manager)

    response = manager.post(
        f"/api/v1/orders/{order.pk}/invoices", {"kind": "reservation", "amount": "10000.00"}
    )

    assert response.status_code == 201, response.content
    body = response.json()
    today = timezone.localdate().isoformat()
    assert {
        key: body[key]
        for key in (
            "number",
            "status",
            "kind",
            "amount",
            "vat_rate",
            "vat_amount",
            "paid_amount",
            "refunded_amount",
            "outstanding",
            "issued_on",
            "order_id",
            "paid_on",
        )
    } == {
        "number": "POC0000001",
        "status": "issued",
        "kind": "reservation",
        "amount": "10000.00",
        "vat_rate": "22.00",
        "vat_amount": "1803.28",
        "paid_amount": "0.00",
        "refunded_amount": "0.00",
        "outstanding": "10000.00",
        "issued_on": today,
        "order_id": order.pk,
        "paid_on": None,
    }
    assert body["issuer"]["id"] == world.issuer.pk
    assert body["pdf_url"] == f"/api/v1/invoices/{body['id']}/pdf"
    assert totals(order)[1] == Decimal("10000.00")


def test_an_amount_may_be_a_number(client: Any, world: OrderWorld) -> None:
    order = world.order()
    response = Caller(client, world.manager).post(
        f"/api/v1/orders/{order.pk}/invoices", {"kind": "prepayment", "amount": 500000}
    )
    assert response.status_code == 201, response.content
    assert (response.json()["amount"], response.json()["vat_amount"]) == (
        "500000.00",
        "90163.93",
    )


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"amount": "100.00"}, "kind"),
        ({"kind": "gift", "amount": "100.00"}, "kind"),
        ({"kind": "reservation"}, "amount"),
        ({"kind": "reservation", "amount": "0"}, "amount"),
        ({"kind": "reservation", "amount": "100.005"}, "amount"),
        ({"kind": "reservation", "amount": "ten"}, "amount"),
        ({"kind": "reservation", "amount": "1e20"}, "amount"),
        ({"kind": "reservation", "amount": "100", "due_on": "2000-01-01"}, "due_on"),
        ({"kind": "reservation", "amount": "100", "description": "x\u0000"}, "description"),
    ],
)
def test_bad_invoice_input_is_a_400_naming_the_field(
    client: Any, world: OrderWorld, body: dict[str, Any], field: str
) -> None:
    order = world.order()
    response = Caller(client, world.manager).post(f"/api/v1/orders/{order.pk}/invoices", body)
    assert response.status_code == 400, response.content
    assert _error(response)["field"] == field
    assert _snapshot() == (0, 0, 0)


def test_more_than_the_order_is_worth_is_a_409(client: Any, world: OrderWorld) -> None:
    order = world.order()
    response = Caller(client, world.manager).post(
        f"/api/v1/orders/{order.pk}/invoices", {"kind": "final", "amount": "1829900.01"}
    )
    assert response.status_code == 409
    assert _error(response) | {"message": ""} == {
        "code": "above_balance",
        "field": "amount",
        "message": "",
    }
    assert _snapshot() == (0, 0, 0)


def test_invoices_are_found_through_the_orders_the_caller_sees(
    client: Any, world: OrderWorld
) -> None:
    order = world.order()
    invoice = issue(world, order, "10000.00")
    stranger = Caller(client, order_world(city_name="Тверь").manager)
    assert (
        stranger.post(
            f"/api/v1/orders/{order.pk}/invoices", {"kind": "final", "amount": "1.00"}
        ).status_code
        == 404
    )
    assert stranger.get(f"/api/v1/orders/{order.pk}/invoices").status_code == 404
    for path in ("", "/pdf", "/payments"):
        assert stranger.get(f"/api/v1/invoices/{invoice.pk}{path}").status_code == 404
    assert (
        stranger.post(
            f"/api/v1/invoices/{invoice.pk}/payments",
            {"amount": "1.00", "paid_at": _paid_at(), "idempotency_key": "x"},
        ).status_code
        == 404
    )
    assert _snapshot() == (1, 0, 0)

    manager = Caller(client, world.manager)
    listed = manager.get(f"/api/v1/orders/{order.pk}/invoices").json()
    assert (listed["count"], [item["number"] for item in listed["items"]]) == (1, ["POC0000001"])
    assert manager.get(f"/api/v1/invoices/{invoice.pk}").json()["number"] == "POC0000001"


def test_who_may_issue(client: Any, world: OrderWorld) -> None:
    order = world.order()
    service = UserFactory.create(roles=["service"], dealer_centers=[world.dealer_center])
    response = Caller(client, service).post(
        f"/api/v1/orders/{order.pk}/invoices", {"kind": "reservation", "amount": "1.00"}
    )
    assert response.status_code == 403
    assert Caller(client, service).get(f"/api/v1/orders/{order.pk}/invoices").status_code == 200
    assert _snapshot() == (0, 0, 0)


def test_the_printable_invoice(client: Any, world: OrderWorld) -> None:
    invoice = issue(world, world.order(), "10000.00")
    response = Caller(client, world.manager).get(f"/api/v1/invoices/{invoice.pk}/pdf")
    assert response.status_code == 200
    assert response["Content-Type"] == "application/pdf"
    assert response["Content-Disposition"] == 'inline; filename="invoice-POC0000001.pdf"'
    assert response.content.startswith(b"%PDF-")


def test_cancel_an_invoice(client: Any, world: OrderWorld) -> None:
    order = world.order()
    invoice = issue(world, order, "10000.00")
    manager = Caller(client, world.manager)
    no_reason = manager.post(f"/api/v1/invoices/{invoice.pk}/cancel", {})
    assert (no_reason.status_code, _error(no_reason)["field"]) == (400, "reason")
    response = manager.post(f"/api/v1/invoices/{invoice.pk}/cancel", {"reason": "Wrong amount"})
    assert response.status_code == 200
    assert response.json()["status"] == "cancelled"
    again = manager.post(f"/api/v1/invoices/{invoice.pk}/cancel", {"reason": "Again"})
    assert (again.status_code, _error(again)["code"]) == (409, "transition_not_allowed")
    assert totals(order)[1] == Decimal("0.00")


# --------------------------------------------------------------------------- payments


def test_register_a_payment_and_repeat_it(client: Any, world: OrderWorld) -> None:
    order = world.order()
    invoice = issue(world, order, "10000.00")
    manager = Caller(client, world.manager)
    body = {
        "amount": "10000.00",
        "paid_at": _paid_at(),
        "idempotency_key": "1c-payment-0042",
        "method": "card",
        "reference": "ПП 42",
    }

    first = manager.post(f"/api/v1/invoices/{invoice.pk}/payments", body)
    repeat = manager.post(f"/api/v1/invoices/{invoice.pk}/payments", body)

    assert (first.status_code, repeat.status_code) == (201, 200)
    assert first.json() == repeat.json()
    payment = first.json()
    assert (payment["amount"], payment["method"], payment["reference"]) == (
        "10000.00",
        "card",
        "ПП 42",
    )
    assert (payment["invoice_id"], payment["invoice_number"]) == (invoice.pk, "POC0000001")
    assert Payment.objects.count() == 1
    assert totals(order) == (
        SEED_PRICE,
        Decimal("10000.00"),
        Decimal("10000.00"),
        Decimal("1819900.00"),
        PaymentStatus.PARTLY_PAID,
    )
    detail = manager.get(f"/api/v1/invoices/{invoice.pk}").json()
    assert (detail["status"], detail["paid_amount"], detail["outstanding"]) == (
        "paid",
        "10000.00",
        "0.00",
    )
    assert detail["paid_on"] == timezone.localdate().isoformat()
    listed = manager.get(f"/api/v1/invoices/{invoice.pk}/payments").json()
    assert (listed["count"], listed["items"][0]["id"]) == (1, payment["id"])


def test_payment_refusals(client: Any, world: OrderWorld) -> None:
    order = world.order()
    invoice = issue(world, order, "10000.00")
    manager = Caller(client, world.manager)
    url = f"/api/v1/invoices/{invoice.pk}/payments"
    pay(world, invoice, "4000.00", key="first")

    reused = manager.post(
        url, {"amount": "5.00", "paid_at": _paid_at(), "idempotency_key": "first"}
    )
    assert (reused.status_code, _error(reused)["code"]) == (409, "idempotency_key_reused")
    over = manager.post(url, {"amount": "6000.01", "paid_at": _paid_at(), "idempotency_key": "b"})
    assert (over.status_code, _error(over)["code"], _error(over)["field"]) == (
        409,
        "overpayment",
        "amount",
    )
    future = manager.post(url, {"amount": "1.00", "paid_at": _paid_at(-10), "idempotency_key": "c"})
    assert (future.status_code, _error(future)["field"]) == (400, "paid_at")
    ancient = manager.post(
        url, {"amount": "1.00", "paid_at": "0001-01-01T00:00:00+14:00", "idempotency_key": "d"}
    )
    assert (ancient.status_code, _error(ancient)["field"]) == (400, "paid_at")
    no_key = manager.post(url, {"amount": "1.00", "paid_at": _paid_at()})
    assert (no_key.status_code, _error(no_key)["field"]) == (400, "idempotency_key")
    method = manager.post(
        url, {"amount": "1.00", "paid_at": _paid_at(), "idempotency_key": "e", "method": "barter"}
    )
    assert (method.status_code, _error(method)["field"]) == (400, "method")
    assert Payment.objects.count() == 1
    assert totals(order)[2] == Decimal("4000.00")


# --------------------------------------------------------------------------- refunds


def test_the_refund_procedure_through_the_api(client: Any, world: OrderWorld) -> None:
    order = world.order()
    invoice = issue(world, order, "10000.00")
    pay(world, invoice, "10000.00")
    manager = Caller(client, world.manager)
    head = Caller(client, world.head)

    no_reason = manager.post(f"/api/v1/invoices/{invoice.pk}/refunds", {"amount": "100.00"})
    assert (no_reason.status_code, _error(no_reason)["field"]) == (400, "reason")
    above = manager.post(
        f"/api/v1/invoices/{invoice.pk}/refunds", {"amount": "10000.01", "reason": "x"}
    )
    assert (above.status_code, _error(above)["code"]) == (409, "above_paid")

    created = manager.post(
        f"/api/v1/invoices/{invoice.pk}/refunds",
        {"amount": "10000.00", "reason": "Клиент отказался от покупки"},
    )
    assert created.status_code == 201, created.content
    refund = created.json()
    assert (refund["status"], refund["amount"], refund["invoice_number"], refund["order_id"]) == (
        "requested",
        "10000.00",
        "POC0000001",
        order.pk,
    )
    queue = head.get("/api/v1/refunds", status="requested").json()
    assert [item["id"] for item in queue["items"]] == [refund["id"]]
    other_head = Caller(client, order_world(city_name="Тверь").head)
    assert other_head.get("/api/v1/refunds", status="requested").json()["count"] == 0
    assert other_head.post(f"/api/v1/refunds/{refund['id']}/approve").status_code == 404

    assert manager.post(f"/api/v1/refunds/{refund['id']}/approve").status_code == 403
    assert manager.post(f"/api/v1/refunds/{refund['id']}/complete").status_code == 403
    early = head.post(f"/api/v1/refunds/{refund['id']}/complete")
    assert (early.status_code, _error(early)["code"]) == (409, "transition_not_allowed")

    approved = head.post(f"/api/v1/refunds/{refund['id']}/approve", {"comment": "OK"})
    assert approved.status_code == 200
    assert (approved.json()["status"], approved.json()["decision_comment"]) == ("approved", "OK")
    assert approved.json()["decided_by"]["id"] == world.head.pk
    assert head.get("/api/v1/refunds", status="requested").json()["count"] == 0

    done = head.post(f"/api/v1/refunds/{refund['id']}/complete")
    assert (done.status_code, done.json()["status"]) == (200, "refunded")
    detail = manager.get(f"/api/v1/invoices/{invoice.pk}").json()
    assert (detail["status"], detail["refunded_amount"], detail["refundable"]) == (
        "refunded",
        "10000.00",
        "0.00",
    )
    assert totals(order) == (
        SEED_PRICE,
        Decimal("0.00"),
        Decimal("0.00"),
        SEED_PRICE,
        PaymentStatus.UNPAID,
    )
    listed = manager.get(f"/api/v1/invoices/{invoice.pk}/refunds").json()
    assert [item["status"] for item in listed["items"]] == ["refunded"]
    assert manager.get(f"/api/v1/refunds/{refund['id']}").json()["status"] == "refunded"


def test_reject_needs_a_comment(client: Any, world: OrderWorld) -> None:
    invoice = issue(world, world.order(), "10000.00")
    pay(world, invoice, "10000.00")
    refund = (
        Caller(client, world.manager)
        .post(f"/api/v1/invoices/{invoice.pk}/refunds", {"amount": "100.00", "reason": "why"})
        .json()
    )
    head = Caller(client, world.head)
    bare = head.post(f"/api/v1/refunds/{refund['id']}/reject", {})
    assert (bare.status_code, _error(bare)["field"]) == (400, "comment")
    rejected = head.post(f"/api/v1/refunds/{refund['id']}/reject", {"comment": "No grounds"})
    assert (rejected.status_code, rejected.json()["status"]) == (200, "rejected")
