from __future__ import annotations

import copy
from typing import Any

from django.contrib import admin
from django.core.exceptions import ValidationError
from django.db.models import QuerySet
from django.forms import ModelForm
from django.http import HttpRequest
from simple_history.admin import SimpleHistoryAdmin

from autocrm.core.errors import DomainError
from autocrm.inventory import services
from autocrm.inventory.models import (
    BodyType,
    CarModel,
    Color,
    Defect,
    DriveType,
    EngineType,
    Inspection,
    InspectionPhoto,
    LogisticsStatus,
    LogisticsStatusChange,
    Reservation,
    Restriction,
    Transmission,
    Trim,
    Vehicle,
)


class CatalogAdmin(admin.ModelAdmin):
    list_display = ["name", "code", "order"]
    list_editable = ["order"]
    search_fields = ["name", "code"]


for catalog_model in (BodyType, DriveType, EngineType, Transmission):
    admin.site.register(catalog_model, CatalogAdmin)


@admin.register(LogisticsStatus)
class LogisticsStatusAdmin(CatalogAdmin):
    list_display = ["name", "code", "order", "is_active"]
    list_editable = ["order", "is_active"]


@admin.register(Color)
class ColorAdmin(admin.ModelAdmin):
    search_fields = ["name"]


class TrimInline(admin.TabularInline):
    model = Trim
    extra = 0


@admin.register(CarModel)
class CarModelAdmin(admin.ModelAdmin):
    list_display = ["name", "make"]
    list_filter = ["make"]
    search_fields = ["name", "make__name"]
    inlines = [TrimInline]


@admin.register(Trim)
class TrimAdmin(admin.ModelAdmin):
    list_display = ["name", "car_model"]
    search_fields = ["name", "car_model__name"]
    autocomplete_fields = ["car_model"]


class LogisticsHistoryInline(admin.TabularInline):
    model = LogisticsStatusChange
    extra = 0
    can_delete = False
    fields = readonly_fields = ("changed_at", "from_status", "to_status", "changed_by", "comment")

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


class RestrictionInline(admin.TabularInline):
    """Existing restrictions are history; new ones are added through the service (which
    also sets the pledged / ORD flags and tells the search index)."""

    model = Restriction
    extra = 0
    fields = ["kind", "source", "starts_on", "ends_on", "note"]

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


class ReservationInline(admin.TabularInline):
    model = Reservation
    extra = 0
    can_delete = False
    fields = readonly_fields = (
        "is_active",
        "client",
        "manager",
        "expires_at",
        "released_at",
        "release_reason",
    )

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


class VehicleAdminForm(ModelForm):  # ModelAdmin supplies the model and the fields
    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        if self.errors:
            return cleaned
        candidate = copy.copy(self.instance)
        for name, value in cleaned.items():
            setattr(candidate, name, value)
        try:
            services.vehicle_validate(candidate)
            services.vehicle_ensure_unique(candidate)
        except DomainError as error:
            field = error.field if error.field in self.fields else None
            if error.field == "model":
                field = "car_model"
            raise ValidationError({field or "__all__": error.message}) from None
        return cleaned


@admin.register(Vehicle)
class VehicleAdmin(SimpleHistoryAdmin):
    form = VehicleAdminForm
    list_display = [
        "stock_code",
        "vin",
        "make",
        "car_model",
        "condition",
        "price",
        "city",
        "site",
        "logistics_status",
        "reservation_status",
    ]
    list_filter = ["condition", "reservation_status", "logistics_status", "make", "city"]
    search_fields = ["vin", "stock_code"]
    autocomplete_fields = [
        "car_model",
        "trim",
        "city",
        "site",
        "consignor",
        "dealer_center",
        "color",
    ]
    list_select_related = ["make", "car_model", "city", "site", "logistics_status"]
    inlines = [LogisticsHistoryInline, RestrictionInline, ReservationInline]

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> list[str]:
        readonly = ["reservation_status", "in_stock"]
        if obj is not None:
            readonly.append("logistics_status")  # moves go through the logistics action
        return readonly

    def save_model(self, request: HttpRequest, obj: Vehicle, form: ModelForm, change: bool) -> None:
        # Admin edits go through the same services as the UI and the API.
        data = {
            name: form.cleaned_data[name] for name in form.changed_data if name in form.cleaned_data
        }
        try:
            if change:
                result = services.vehicle_update(actor=request.user, vehicle=obj, **data)
            else:
                fields = {
                    name: value
                    for name, value in form.cleaned_data.items()
                    if hasattr(Vehicle, name)
                }
                result = services.vehicle_create(actor=request.user, **fields)
        except DomainError as error:
            from django.core.exceptions import ValidationError

            raise ValidationError({error.field or "__all__": error.message}) from None
        obj.pk = result.vehicle.pk

    def save_formset(self, request: HttpRequest, form: Any, formset: Any, change: bool) -> None:
        if formset.model is not Restriction:
            super().save_formset(request, form, formset, change)
            return
        # The admin's change message reads these three lists.
        formset.new_objects, formset.changed_objects, formset.deleted_objects = [], [], []
        for restriction_form in formset.extra_forms:
            if restriction_form.has_changed() and restriction_form.is_valid():
                data = restriction_form.cleaned_data
                restriction = services.restriction_add(
                    actor=request.user,
                    vehicle=form.instance,
                    kind=data["kind"],
                    source=data["source"],
                    starts_on=data.get("starts_on"),
                    ends_on=data.get("ends_on"),
                    note=data.get("note", ""),
                )
                formset.new_objects.append(restriction)

    def get_queryset(self, request: HttpRequest) -> QuerySet[Vehicle]:
        return super().get_queryset(request).select_related("make", "car_model")


class DefectInline(admin.TabularInline):
    model = Defect
    extra = 0


class PhotoInline(admin.TabularInline):
    model = InspectionPhoto
    extra = 0


@admin.register(Inspection)
class InspectionAdmin(admin.ModelAdmin):
    list_display = ["vehicle", "inspected_at", "inspector", "mileage", "result"]
    list_filter = ["result"]
    search_fields = ["vehicle__vin", "vehicle__stock_code"]
    autocomplete_fields = ["vehicle", "inspector"]
    inlines = [DefectInline, PhotoInline]


@admin.register(Reservation)
class ReservationAdmin(admin.ModelAdmin):
    list_display = ["vehicle", "client", "manager", "expires_at", "is_active", "release_reason"]
    list_filter = ["is_active", "release_reason"]
    search_fields = ["vehicle__vin", "vehicle__stock_code"]
    readonly_fields = [field.name for field in Reservation._meta.fields]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # reservations are made from the vehicle card or the API
