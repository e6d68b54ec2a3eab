"""Admin of trade-ins. Trade-ins and appointments change through their services (the order
card, the appraisal page, the API): here they are shown with their history, read-only.
The booking settings of each dealer center are edited here."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.http import HttpRequest

from autocrm.trade_ins.models import (
    Appraisal,
    AppraisalAppointment,
    AppraisalDefect,
    AppraiserSettings,
    TradeIn,
    TradeInStatusChange,
)


class _ReadOnly:
    """Rows written by services only: no adding, changing or deleting by hand."""

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


class StatusChangeInline(_ReadOnly, admin.TabularInline[TradeInStatusChange, TradeIn]):
    model = TradeInStatusChange
    extra = 0
    fields = ("at", "from_status", "to_status", "changed_by", "note")
    readonly_fields = fields


class AppointmentInline(_ReadOnly, admin.TabularInline[AppraisalAppointment, TradeIn]):
    model = AppraisalAppointment
    extra = 0
    fields = ("starts_at", "ends_at", "blocked_until", "appraiser", "place", "address", "status")
    readonly_fields = fields


@admin.register(TradeIn)
class TradeInAdmin(_ReadOnly, admin.ModelAdmin[TradeIn]):
    list_display = (
        "__str__",
        "vin",
        "year",
        "status",
        "client",
        "order",
        "dealer_center",
        "accepted_amount",
        "created_at",
    )
    list_filter = ("status", "dealer_center")
    search_fields = ("vin", "plate_number", "make_name", "model_name", "client__search_name")
    list_select_related = ("client", "order", "dealer_center")
    inlines = (AppointmentInline, StatusChangeInline)


@admin.register(AppraisalAppointment)
class AppraisalAppointmentAdmin(_ReadOnly, admin.ModelAdmin[AppraisalAppointment]):
    list_display = (
        "starts_at",
        "ends_at",
        "blocked_until",
        "appraiser",
        "place",
        "status",
        "trade_in",
    )
    list_filter = ("status", "place")
    date_hierarchy = "starts_at"
    search_fields = ("trade_in__vin", "trade_in__plate_number", "address")
    list_select_related = ("appraiser", "trade_in")


class DefectInline(_ReadOnly, admin.TabularInline[AppraisalDefect, Appraisal]):
    model = AppraisalDefect
    extra = 0
    fields = ("zone", "kind", "severity", "note", "repair_estimate")
    readonly_fields = fields


@admin.register(Appraisal)
class AppraisalAdmin(_ReadOnly, admin.ModelAdmin[Appraisal]):
    list_display = ("trade_in", "appraiser", "appraised_at", "offered_price", "valid_until")
    list_select_related = ("trade_in", "appraiser")
    inlines = (DefectInline,)


@admin.register(AppraiserSettings)
class AppraiserSettingsAdmin(admin.ModelAdmin[AppraiserSettings]):
    list_display = ("dealer_center", "slot_minutes", "travel_buffer_minutes", "max_days_ahead")
    list_select_related = ("dealer_center",)
    autocomplete_fields = ("dealer_center",)
