"""Admin of invoices, payments and refunds: read-only. Money moves only through the
services (``services.invoices``: the order card and the API), which lock, check limits
and write the order's history; an edit here would bypass all of that."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.http import HttpRequest

from autocrm.orders.models import Invoice, Payment, Refund


class _ReadOnly(admin.ModelAdmin):
    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


class PaymentInline(admin.TabularInline[Payment, Invoice]):
    model = Payment
    extra = 0
    can_delete = False
    fields = ("paid_at", "amount", "method", "reference", "idempotency_key", "recorded_by")
    readonly_fields = fields

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


class RefundInline(admin.TabularInline[Refund, Invoice]):
    model = Refund
    extra = 0
    can_delete = False
    fields = ("created_at", "amount", "reason", "status", "requested_by", "decided_by")
    readonly_fields = fields

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(Invoice)
class InvoiceAdmin(_ReadOnly):
    list_display = (
        "number",
        "issued_on",
        "kind",
        "status",
        "amount",
        "paid_amount",
        "refunded_amount",
        "order",
        "issuer",
    )
    list_filter = ("status", "kind", "issuer")
    search_fields = ("number", "order__client__last_name", "order__client__company_name")
    date_hierarchy = "issued_on"
    list_select_related = ("order", "issuer")
    inlines = (PaymentInline, RefundInline)


@admin.register(Payment)
class PaymentAdmin(_ReadOnly):
    list_display = ("invoice", "paid_at", "amount", "method", "reference", "recorded_by")
    list_filter = ("method",)
    search_fields = ("invoice__number", "reference", "idempotency_key")
    list_select_related = ("invoice", "recorded_by")


@admin.register(Refund)
class RefundAdmin(_ReadOnly):
    list_display = ("invoice", "created_at", "amount", "status", "requested_by", "decided_by")
    list_filter = ("status",)
    search_fields = ("invoice__number", "reason")
    list_select_related = ("invoice", "requested_by", "decided_by")
