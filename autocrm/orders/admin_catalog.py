"""Admin of promotions (Акции) and additional equipment packages (ДО).

A promotion saved here passes the same checks as through the services
(``services.catalog.promotion_clean``); packages are plain rows whose money the database's
constraints keep non-negative.
"""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils.translation import gettext as _

from autocrm.core.audit import user_or_none
from autocrm.core.errors import DomainError
from autocrm.orders.models import EquipmentItem, EquipmentPackage, OrderPromotion, Promotion
from autocrm.orders.services.catalog import DISCOUNT_FIELDS, promotion_clean

# The services name the car model as the API does ("model").
_FORM_FIELDS = {"model": "car_model"}


class PromotionAdminForm(forms.ModelForm):
    class Meta:
        model = Promotion
        fields = [
            "name",
            "bulletin",
            "importer",
            "make",
            "car_model",
            "trim",
            "cities",
            "valid_from",
            "valid_to",
            "discount_amount",
            "discount_percent",
            "importer_bonus",
            "combinable",
            "is_active",
        ]

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        if self.errors:
            return cleaned
        try:
            checked = promotion_clean(cleaned)
        except DomainError as error:
            field = _FORM_FIELDS.get(error.field or "", error.field or "")
            self.add_error(field if field in self.fields else None, str(error.message))
            return cleaned
        if (
            self.instance.pk
            and any(checked[name] != getattr(self.instance, name) for name in DISCOUNT_FIELDS)
            and OrderPromotion.objects.filter(promotion_id=self.instance.pk).exists()
        ):
            self.add_error(
                "discount_amount" if checked["discount_amount"] is not None else "discount_percent",
                _(
                    "Orders already have this promotion, so its discount cannot change. "
                    "End it and create a new one."
                ),
            )
        cleaned.update({key: value for key, value in checked.items() if key in self.fields})
        return cleaned


@admin.register(Promotion)
class PromotionAdmin(admin.ModelAdmin):
    form = PromotionAdminForm
    list_display = [
        "name",
        "make",
        "car_model",
        "trim",
        "valid_from",
        "valid_to",
        "discount_amount",
        "discount_percent",
        "importer_bonus",
        "combinable",
        "is_active",
    ]
    list_filter = ["is_active", "combinable", "make", "cities"]
    search_fields = ["name", "bulletin", "importer"]
    date_hierarchy = "valid_from"
    filter_horizontal = ["cities"]
    autocomplete_fields = ["make", "car_model", "trim"]
    readonly_fields = ["created_by", "created_at", "updated_at"]

    def get_queryset(self, request: HttpRequest) -> QuerySet[Promotion]:
        return super().get_queryset(request).select_related("make", "car_model__make", "trim")

    def save_model(self, request: HttpRequest, obj: Promotion, form: Any, change: bool) -> None:
        if not change:
            obj.created_by = user_or_none(request.user)
        super().save_model(request, obj, form, change)


class EquipmentItemInline(admin.TabularInline):
    model = EquipmentItem
    extra = 1
    fields = ["position", "name", "part_number", "quantity"]


@admin.register(EquipmentPackage)
class EquipmentPackageAdmin(admin.ModelAdmin):
    list_display = [
        "name",
        "code",
        "dealer_center",
        "site",
        "make",
        "car_model",
        "trim",
        "price",
        "cost",
        "installation_minutes",
        "is_active",
    ]
    list_filter = ["is_active", "dealer_center", "make"]
    search_fields = ["name", "code", "description"]
    prepopulated_fields = {"code": ["name"]}
    autocomplete_fields = ["dealer_center", "site", "make", "car_model", "trim"]
    inlines = [EquipmentItemInline]

    def get_queryset(self, request: HttpRequest) -> QuerySet[EquipmentPackage]:
        return (
            super()
            .get_queryset(request)
            .select_related("dealer_center", "site", "make", "car_model__make", "trim")
        )
