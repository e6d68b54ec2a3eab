"""Reads of invoices, payments and refunds. A user reaches them only through the orders
he sees (``selectors.orders_visible``): anything else is "not found"."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from django.db.models import QuerySet, Sum
from django.utils.translation import gettext as _

from autocrm.core.errors import NotFound
from autocrm.orders.models import (
    PENDING_REFUND_STATUSES,
    Invoice,
    InvoiceStatus,
    Order,
    Payment,
    Refund,
)
from autocrm.orders.selectors import orders_visible

ZERO = Decimal("0")
# Invoices that still ask for money of the order.
_LIVE = (InvoiceStatus.ISSUED, InvoiceStatus.PARTLY_PAID, InvoiceStatus.PAID)

INVOICE_RELATED = (
    "issuer",
    "created_by",
    "order__client",
    "order__dealer_center",
    "order__issuer",
)


def invoices_visible(user: Any) -> QuerySet[Invoice]:
    return Invoice.objects.filter(order__in=orders_visible(user).values("pk"))


def invoice_get(user: Any, invoice_id: int) -> Invoice:
    """The invoice if the user sees its order; NotFound otherwise."""
    invoice = (
        invoices_visible(user)
        .select_related(
            *INVOICE_RELATED,
            "order__vehicle__make",
            "order__vehicle__car_model",
            "order__vehicle__trim",
            "order__importer_order__car_model__make",
            "order__importer_order__trim",
        )
        .filter(pk=invoice_id)
        .first()
    )
    if invoice is None:
        raise NotFound(_("Invoice not found."))
    return invoice


def order_invoices(order: Order) -> QuerySet[Invoice]:
    """The order's invoices, oldest first (the caller has found the order in its scope)."""
    return (
        Invoice.objects.filter(order=order)
        .select_related(*INVOICE_RELATED)
        .order_by("issued_on", "pk")
    )


def invoice_payments(invoice: Invoice) -> QuerySet[Payment]:
    return invoice.payments.select_related("recorded_by").order_by("paid_at", "pk")


def invoice_refunds(invoice: Invoice) -> QuerySet[Refund]:
    return invoice.refunds.select_related("requested_by", "decided_by").order_by("created_at", "pk")


def refunds_visible(
    user: Any,
    *,
    status: str | None = None,
    order_id: int | None = None,
    invoice_id: int | None = None,
    dealer_center_id: int | None = None,
) -> QuerySet[Refund]:
    """Refunds of the orders the user sees, oldest first (the heads' queue works from the
    oldest request)."""
    queryset = Refund.objects.filter(invoice__order__in=orders_visible(user).values("pk"))
    filters = {
        "status": status,
        "invoice__order_id": order_id,
        "invoice_id": invoice_id,
        "invoice__order__dealer_center_id": dealer_center_id,
    }
    queryset = queryset.filter(**{key: value for key, value in filters.items() if value})
    return queryset.select_related(
        "invoice__order__client",
        "invoice__order__dealer_center",
        "invoice__order__manager",
        "requested_by",
        "decided_by",
    ).order_by("created_at", "pk")


def refund_get(user: Any, refund_id: int) -> Refund:
    refund = refunds_visible(user).filter(pk=refund_id).first()
    if refund is None:
        raise NotFound(_("Refund not found."))
    return refund


def invoiceable_amount(order: Order) -> Decimal:
    """What may still be invoiced: the order's total less the trade-in credit less what
    the live invoices ask for (their amount less what was refunded on them). Cancelled and
    fully refunded invoices ask for nothing. Never below zero (after a discount the order
    may be worth less than its invoices)."""
    sums = Invoice.objects.filter(order=order, status__in=_LIVE).aggregate(
        invoiced=Sum("amount"), refunded=Sum("refunded_amount")
    )
    asked = (sums["invoiced"] or ZERO) - (sums["refunded"] or ZERO)
    return max(order.total - order.trade_in_credit - asked, ZERO)


def pending_refunds_total(invoice: Invoice, *, exclude_id: int | None = None) -> Decimal:
    pending = invoice.refunds.filter(status__in=PENDING_REFUND_STATUSES)
    if exclude_id is not None:
        pending = pending.exclude(pk=exclude_id)
    total: Decimal | None = pending.aggregate(total=Sum("amount"))["total"]
    return total or ZERO


def refundable_amount(invoice: Invoice) -> Decimal:
    """What a new refund request may still ask for: paid less refunded less what is
    requested or approved already."""
    if invoice.status == InvoiceStatus.CANCELLED:
        return ZERO
    available = invoice.paid_amount - invoice.refunded_amount - pending_refunds_total(invoice)
    return max(available, ZERO)
