"""Shortcuts of the invoice tests: issue, pay and refund through the services."""

from __future__ import annotations

import uuid
from datetime import timedelta
from decimal import Decimal
from typing import Any

from django.utils import timezone

from autocrm.orders.models import Invoice, InvoiceKind, Order, Payment, Refund
from autocrm.orders.services.invoices import (
    invoice_issue,
    payment_register,
    refund_approve,
    refund_complete,
    refund_request,
)
from autocrm.orders.tests.factories import OrderWorld


def issue(
    world: OrderWorld, order: Order, amount: str, kind: str = InvoiceKind.RESERVATION, **kw: Any
) -> Invoice:
    return invoice_issue(actor=world.manager, order=order, kind=kind, amount=Decimal(amount), **kw)


def pay(world: OrderWorld, invoice: Invoice, amount: str, key: str | None = None) -> Payment:
    return payment_register(
        actor=world.manager,
        invoice=invoice,
        amount=Decimal(amount),
        paid_at=timezone.now() - timedelta(minutes=1),
        idempotency_key=key or uuid.uuid4().hex,
    )


def refund_fully(
    world: OrderWorld, invoice: Invoice, amount: str, reason: str = "Client declined"
) -> Refund:
    refund = refund_request(
        actor=world.manager, invoice=invoice, amount=Decimal(amount), reason=reason
    )
    refund_approve(actor=world.head, refund=refund)
    return refund_complete(actor=world.head, refund=refund)


def totals(order: Order) -> tuple[Decimal, Decimal, Decimal, Decimal, str]:
    """(total, invoiced, paid, balance due, payment status) as stored now."""
    order.refresh_from_db()
    return (
        order.total,
        order.invoiced_total,
        order.paid_total,
        order.balance_due,
        order.payment_status,
    )
