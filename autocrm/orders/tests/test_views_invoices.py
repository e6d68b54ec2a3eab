"""The invoices tab of the order card and the heads' refund queue (htmx and plain posts)."""

from __future__ import annotations

import re
from decimal import Decimal
from typing import Any

import pytest
from django.urls import reverse
from django.utils import translation
from django.utils.translation import gettext

from autocrm.accounts.tests.factories import UserFactory
from autocrm.orders.models import Invoice, InvoiceStatus, Payment, Refund, RefundStatus
from autocrm.orders.tests.factories import OrderWorld, order_world
from autocrm.orders.tests.invoice_support import issue, pay, totals

pytestmark = pytest.mark.django_db

HTMX = {"HTTP_HX_REQUEST": "true"}


@pytest.fixture
def world() -> OrderWorld:
    return order_world()


def _as(client: Any, user: Any) -> Any:
    client.force_login(user)
    return client


def _idempotency_key(html: str, invoice: Invoice) -> str:
    match = re.search(rf'name="pay{invoice.pk}-idempotency_key" value="([^"]+)"', html)
    assert match, "the payment form carries a hidden idempotency key"
    return match.group(1)


def test_the_tab_shows_the_seed_columns_and_prefills_the_balance(
    client: Any, world: OrderWorld
) -> None:
    order = world.order()
    issue(world, order, "10000.00")
    response = _as(client, world.manager).get(reverse("orders:invoices_tab", args=[order.pk]))
    assert response.status_code == 200
    html = response.content.decode()
    for column in (
        "Invoice number",
        "Invoice date",
        "Payment date",
        "Invoice type",
        "Invoice status",
        "Invoice amount",
    ):
        with translation.override("ru"):  # the page's language (translated or not yet)
            assert gettext(column) in html
    assert "POC0000001" in html
    assert 'name="issue-amount"' in html
    assert response.context["issue_form"].initial["amount"] == "1819900.00"
    assert reverse("orders:invoice_pdf", args=[Invoice.objects.get().pk]) in html
    assert "data-refund-approve" not in html


def test_the_tab_is_not_found_outside_the_users_dealer_centers(
    client: Any, world: OrderWorld
) -> None:
    order = world.order()
    stranger = order_world(city_name="Тверь").manager
    response = _as(client, stranger).get(reverse("orders:invoices_tab", args=[order.pk]))
    assert response.status_code == 404
    operator = UserFactory.create(roles=["operator"], dealer_centers=[world.dealer_center])
    response = _as(client, operator).get(reverse("orders:invoices_tab", args=[order.pk]))
    assert response.status_code == 403


def test_issue_then_pay_twice_with_the_forms_key_records_one_payment(
    client: Any, world: OrderWorld
) -> None:
    order = world.order()
    browser = _as(client, world.manager)
    issued = browser.post(
        reverse("orders:invoice_issue", args=[order.pk]),
        {"issue-kind": "reservation", "issue-amount": "10 000,00", "issue-due_on": ""},
        **HTMX,
    )
    assert issued.status_code == 200
    assert issued["HX-Trigger"] == "orderChanged"
    invoice = Invoice.objects.get()
    assert (invoice.number, invoice.amount) == ("POC0000001", Decimal("10000.00"))
    html = issued.content.decode()
    assert 'id="order-invoices"' in html
    assert "POC0000001" in html

    key = _idempotency_key(html, invoice)
    form = {
        f"pay{invoice.pk}-amount": "10000.00",
        f"pay{invoice.pk}-paid_on": issued.context["rows"][0]
        .payment_form.initial["paid_on"]
        .isoformat(),
        f"pay{invoice.pk}-method": "cash",
        f"pay{invoice.pk}-reference": "",
        f"pay{invoice.pk}-idempotency_key": key,
    }
    url = reverse("orders:payment_register", args=[invoice.pk])
    first = browser.post(url, form, **HTMX)
    second = browser.post(url, form, **HTMX)  # a double click
    assert (first.status_code, second.status_code) == (200, 200)
    assert second["HX-Trigger"] == "orderChanged"
    assert Payment.objects.count() == 1
    invoice.refresh_from_db()
    assert (invoice.status, invoice.paid_amount) == (InvoiceStatus.PAID, Decimal("10000.00"))
    assert totals(order)[2:4] == (Decimal("10000.00"), Decimal("1819900.00"))
    # The form is rendered afresh with a new key for the next payment.
    assert key not in second.content.decode()


def test_a_refusal_comes_back_as_an_alert_and_changes_nothing(
    client: Any, world: OrderWorld
) -> None:
    order = world.order()
    invoice = issue(world, order, "10000.00")
    browser = _as(client, world.manager)
    response = browser.post(
        reverse("orders:payment_register", args=[invoice.pk]),
        {
            f"pay{invoice.pk}-amount": "10000.01",
            f"pay{invoice.pk}-paid_on": "2024-01-10",
            f"pay{invoice.pk}-method": "cash",
            f"pay{invoice.pk}-idempotency_key": "form-1",
        },
        **HTMX,
    )
    assert response.status_code == 409
    html = response.content.decode()
    assert 'data-error-code="overpayment"' in html
    assert "alert-danger" in html
    assert "HX-Trigger" not in response
    assert Payment.objects.count() == 0

    bad = browser.post(
        reverse("orders:invoice_issue", args=[order.pk]),
        {"issue-kind": "reservation", "issue-amount": "1,005"},
        **HTMX,
    )
    assert bad.status_code == 400
    assert "alert-danger" in bad.content.decode()
    assert Invoice.objects.count() == 1


def test_without_htmx_the_form_redirects_back_with_a_message(
    client: Any, world: OrderWorld
) -> None:
    order = world.order()
    response = _as(client, world.manager).post(
        reverse("orders:invoice_issue", args=[order.pk]),
        {"issue-kind": "reservation", "issue-amount": "10000"},
    )
    assert response.status_code == 302
    assert response["Location"] == reverse("orders:order_detail", args=[order.pk]) + "#invoices"
    assert Invoice.objects.count() == 1
    refused = client.post(
        reverse("orders:invoice_issue", args=[order.pk]),
        {"issue-kind": "final", "issue-amount": "1829900.00"},
    )
    assert refused.status_code == 302
    assert Invoice.objects.count() == 1


def test_the_pdf_link(client: Any, world: OrderWorld) -> None:
    invoice = issue(world, world.order(), "10000.00")
    response = _as(client, world.manager).get(reverse("orders:invoice_pdf", args=[invoice.pk]))
    assert response.status_code == 200
    assert response["Content-Type"] == "application/pdf"
    assert "invoice-POC0000001.pdf" in response["Content-Disposition"]
    assert response.content.startswith(b"%PDF-")


def test_refund_request_then_the_head_decides_in_the_tab(client: Any, world: OrderWorld) -> None:
    order = world.order()
    invoice = issue(world, order, "10000.00")
    pay(world, invoice, "10000.00")
    manager = _as(client, world.manager)
    requested = manager.post(
        reverse("orders:refund_request", args=[invoice.pk]),
        {f"refund{invoice.pk}-amount": "10000.00", f"refund{invoice.pk}-reason": "Передумал"},
        **HTMX,
    )
    assert requested.status_code == 200
    refund = Refund.objects.get()
    assert "data-refund-approve" not in requested.content.decode()
    forbidden = manager.post(reverse("orders:refund_approve", args=[refund.pk]), **HTMX)
    assert forbidden.status_code == 403

    head = _as(client, world.head)
    tab = head.get(reverse("orders:invoices_tab", args=[order.pk])).content.decode()
    assert "data-refund-approve" in tab
    assert "data-refund-reject" in tab
    approved = head.post(reverse("orders:refund_approve", args=[refund.pk]), {}, **HTMX)
    assert approved.status_code == 200
    assert approved["HX-Trigger"] == "orderChanged"
    assert "data-refund-complete" in approved.content.decode()
    done = head.post(reverse("orders:refund_complete", args=[refund.pk]), {}, **HTMX)
    assert done.status_code == 200
    refund.refresh_from_db()
    invoice.refresh_from_db()
    assert (refund.status, invoice.status) == (RefundStatus.REFUNDED, InvoiceStatus.REFUNDED)
    assert totals(order)[2] == Decimal("0.00")


def test_the_heads_refund_queue(client: Any, world: OrderWorld) -> None:
    order = world.order()
    invoice = issue(world, order, "10000.00")
    pay(world, invoice, "10000.00")
    _as(client, world.manager).post(
        reverse("orders:refund_request", args=[invoice.pk]),
        {f"refund{invoice.pk}-amount": "2500.00", f"refund{invoice.pk}-reason": "Скидка"},
    )
    refund = Refund.objects.get()
    assert client.get(reverse("orders:refund_queue")).status_code == 403

    head = _as(client, world.head)
    page = head.get(reverse("orders:refund_queue"))
    assert page.status_code == 200
    assert [r.pk for r in page.context["requested"]] == [refund.pk]
    html = page.content.decode()
    assert "POC0000001" in html
    assert "Скидка" in html

    empty = _as(client, order_world(city_name="Тверь").head).get(reverse("orders:refund_queue"))
    assert empty.context["requested"] == []

    head = _as(client, world.head)
    no_comment = head.post(
        reverse("orders:refund_reject", args=[refund.pk]), {"part": "queue"}, **HTMX
    )
    assert no_comment.status_code == 400
    assert 'id="refund-queue"' in no_comment.content.decode()
    rejected = head.post(
        reverse("orders:refund_reject", args=[refund.pk]),
        {"part": "queue", f"decide{refund.pk}-comment": "Не согласовано"},
        **HTMX,
    )
    assert rejected.status_code == 200
    assert rejected["HX-Trigger"] == "orderChanged"
    assert rejected.context["requested"] == []
    refund.refresh_from_db()
    assert (refund.status, refund.decision_comment) == (RefundStatus.REJECTED, "Не согласовано")
