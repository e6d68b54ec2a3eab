"""Admin of financial products: the catalog is edited here; products on orders are only
shown (they change through the order, ``finance.services``, which keeps the totals and
the history right)."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin
from django.http import HttpRequest
from django.utils.translation import gettext_lazy as _

from autocrm.finance.models import (
    Bank,
    BrokerCallback,
    BrokerConnection,
    BrokerSubmission,
    CreditApplication,
    CreditApplicationEvent,
    CreditOffer,
    CreditProgram,
    CreditProgramRate,
    FinancialProduct,
    OrderProduct,
    PiiAccess,
)


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
        "broker_code",
        "is_active",
    ]
    list_filter = ["kind", "mandatory_for_credit", "is_active"]
    search_fields = ["name", "counterparty", "broker_code"]
    ordering = ["name"]


class ReadOnlyAdmin(admin.ModelAdmin):
    """Shown, never edited here: these rows change through the services only."""

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(OrderProduct)
class OrderProductAdmin(ReadOnlyAdmin):
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


@admin.register(Bank)
class BankAdmin(admin.ModelAdmin):
    list_display = ["name", "code", "is_active"]
    search_fields = ["name", "code"]


class CreditProgramRateInline(admin.TabularInline):
    model = CreditProgramRate
    extra = 1


@admin.register(CreditProgram)
class CreditProgramAdmin(admin.ModelAdmin):
    list_display = [
        "name",
        "bank",
        "rate",
        "min_term_months",
        "max_term_months",
        "min_down_payment_percent",
        "casco_required",
        "valid_from",
        "valid_until",
        "is_active",
    ]
    list_filter = ["bank", "casco_required", "is_active"]
    search_fields = ["name", "bank__name"]
    filter_horizontal = ["mandatory_products", "brands", "car_models"]
    inlines = [CreditProgramRateInline]


class BrokerConnectionForm(forms.ModelForm):
    """The API key and the callback secret are write-only: the form never shows them,
    and leaving one empty keeps the stored value."""

    api_key = forms.CharField(label=_("API key"), required=False, widget=forms.PasswordInput)
    callback_secret = forms.CharField(
        label=_("callback signing secret"), required=False, widget=forms.PasswordInput
    )

    class Meta:
        model = BrokerConnection
        fields = [
            "name",
            "dealer_center",
            "base_url",
            "login",
            "api_key",
            "callback_secret",
            "is_active",
        ]

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        for name in ("api_key", "callback_secret"):
            if not cleaned.get(name):
                if self.instance.pk is None:
                    self.add_error(name, _("This field is required."))
                else:
                    cleaned[name] = getattr(self.instance, name)
        return cleaned


@admin.register(BrokerConnection)
class BrokerConnectionAdmin(admin.ModelAdmin):
    form = BrokerConnectionForm
    list_display = ["name", "dealer_center", "base_url", "login", "is_active"]


@admin.register(CreditApplication)
class CreditApplicationAdmin(ReadOnlyAdmin):
    """No questionnaire here: personal data is read through the order card, masked and
    logged."""

    list_display = [
        "pk",
        "order",
        "stage",
        "status",
        "credit_amount",
        "rate",
        "term_months",
        "broker_state",
        "created_at",
    ]
    list_filter = ["stage", "status", "broker_state"]
    raw_id_fields = ["order"]
    exclude = ["chosen_offer"]


@admin.register(CreditOffer)
class CreditOfferAdmin(ReadOnlyAdmin):
    list_display = ["application", "bank", "status", "amount", "rate", "term_months", "valid_until"]
    list_filter = ["status", "bank"]


@admin.register(CreditApplicationEvent)
class CreditApplicationEventAdmin(ReadOnlyAdmin):
    list_display = ["application", "kind", "from_value", "to_value", "changed_by", "changed_at"]
    list_filter = ["kind"]


@admin.register(BrokerSubmission)
class BrokerSubmissionAdmin(ReadOnlyAdmin):
    list_display = [
        "application",
        "kind",
        "version",
        "status",
        "attempts",
        "next_attempt_at",
        "sent_at",
    ]
    list_filter = ["status", "kind"]


@admin.register(BrokerCallback)
class BrokerCallbackAdmin(ReadOnlyAdmin):
    list_display = ["event_id", "connection", "received_at", "processed_at", "attempts", "error"]


@admin.register(PiiAccess)
class PiiAccessAdmin(ReadOnlyAdmin):
    """The log of personal-data readings, for the data-protection officer."""

    list_display = ["application", "user", "channel", "accessed_at"]
    list_filter = ["channel"]
    date_hierarchy = "accessed_at"
