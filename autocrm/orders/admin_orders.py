"""Admin of orders themselves and of invoice issuers. Orders are changed through their
services (the card and the API); the admin shows them with their history, read-only."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.http import HttpRequest
from django.utils.translation import gettext_lazy as _

from autocrm.orders.models import ImporterOrder, Issuer, Order, OrderEvent


@admin.register(Issuer)
class IssuerAdmin(admin.ModelAdmin[Issuer]):
    list_display = ("name", "inn", "prefix", "next_number", "vat_rate", "consignor", "is_active")
    list_filter = ("is_active",)
    search_fields = ("name", "legal_name", "inn", "prefix")
    filter_horizontal = ("dealer_centers",)
    autocomplete_fields = ("consignor",)
    fieldsets = (
        (None, {"fields": ("name", "legal_name", "inn", "kpp", "legal_address", "is_active")}),
        (
            _("Bank"),
            {"fields": ("bank_name", "bank_bic", "bank_account", "correspondent_account")},
        ),
        (None, {"fields": ("director", "accountant", "consignor", "dealer_centers")}),
        (None, {"fields": ("prefix", "next_number", "vat_rate")}),
    )

    def get_readonly_fields(self, request: HttpRequest, obj: Issuer | None = None) -> Any:
        # The number sequence moves only by issuing invoices, never backwards by hand.
        return ("next_number",) if obj is not None else ()


class ImporterOrderInline(admin.StackedInline[ImporterOrder, Order]):
    model = ImporterOrder
    extra = 0
    can_delete = False
    readonly_fields = (
        "make",
        "car_model",
        "trim",
        "color",
        "options",
        "wished_date",
        "expected_price",
        "importer_reference",
        "status",
    )


class OrderEventInline(admin.TabularInline[OrderEvent, Order]):
    model = OrderEvent
    extra = 0
    can_delete = False
    fields = ("created_at", "kind", "from_value", "to_value", "text", "amount", "changed_by")
    readonly_fields = fields

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(Order)
class OrderAdmin(admin.ModelAdmin[Order]):
    list_display = (
        "__str__",
        "created_at",
        "kind",
        "status",
        "client",
        "vehicle",
        "dealer_center",
        "manager",
        "total",
        "paid_total",
        "balance_due",
        "payment_status",
    )
    list_filter = ("status", "kind", "payment_status", "dealer_center")
    search_fields = ("client__last_name", "client__first_name", "vehicle__vin", "pk")
    list_select_related = (
        "client",
        "vehicle__make",
        "vehicle__car_model",
        "dealer_center",
        "manager",
    )
    inlines = (ImporterOrderInline, OrderEventInline)
    date_hierarchy = "created_at"

    def get_readonly_fields(self, request: HttpRequest, obj: Order | None = None) -> Any:
        return [field.name for field in Order._meta.fields]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Order | None = None) -> bool:
        return False
