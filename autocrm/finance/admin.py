"""Admin of financial products: the catalog is edited here; products on orders are only
shown (they change through the order, ``finance.services``, which keeps the totals and
the history right)."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.http import HttpRequest

from autocrm.finance.models import FinancialProduct, OrderProduct


@admin.register(FinancialProduct)
class FinancialProductAdmin(admin.ModelAdmin):
    list_display = [
        "name",
        "kind",
        "term_months",
        "price",
        "commission",
        "counterparty",
        "mandatory_for_credit",
        "is_active",
    ]
    list_filter = ["kind", "mandatory_for_credit", "is_active"]
    search_fields = ["name", "counterparty"]
    ordering = ["name"]


@admin.register(OrderProduct)
class OrderProductAdmin(admin.ModelAdmin):
    list_display = [
        "order",
        "product",
        "price",
        "commission",
        "mandatory",
        "added_by",
        "created_at",
    ]
    list_filter = ["mandatory"]
    list_select_related = ["order", "product", "added_by"]
    search_fields = ["product__name"]
    raw_id_fields = ["order"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False
