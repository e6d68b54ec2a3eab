"""Money and status colours of the invoice screens."""

from __future__ import annotations

from decimal import Decimal

from django import template

from autocrm.orders.models import InvoiceStatus, RefundStatus
from autocrm.orders.money_words import format_money

register = template.Library()

INVOICE_COLORS: dict[str, str] = {
    InvoiceStatus.ISSUED: "secondary",
    InvoiceStatus.PARTLY_PAID: "warning",
    InvoiceStatus.PAID: "success",
    InvoiceStatus.CANCELLED: "light",
    InvoiceStatus.REFUNDED: "danger",
}
REFUND_COLORS: dict[str, str] = {
    RefundStatus.REQUESTED: "warning",
    RefundStatus.APPROVED: "info",
    RefundStatus.REJECTED: "secondary",
    RefundStatus.REFUNDED: "success",
}


@register.filter
def rub(amount: Decimal | None) -> str:
    """1829900 → "1 829 900,00" (no-break spaces between thousands)."""
    return "" if amount is None else format_money(amount)


@register.filter
def invoice_status_color(status: str) -> str:
    return INVOICE_COLORS.get(status, "secondary")


@register.filter
def refund_status_color(status: str) -> str:
    return REFUND_COLORS.get(status, "secondary")
