"""Admin of clients: contacts edited inline (normalised like the services do), messenger
identities, consents and merges shown as the record they are."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin
from django.http import HttpRequest
from simple_history.admin import SimpleHistoryAdmin

from autocrm.clients.models import (
    Client,
    ClientEmail,
    ClientIdentity,
    ClientMerge,
    ClientPhone,
    Consent,
)
from autocrm.clients.services import normalize_email, normalize_phone, search_text
from autocrm.core.errors import ValidationFailed


class ClientPhoneForm(forms.ModelForm):
    class Meta:
        model = ClientPhone
        fields = ["number", "kind", "is_primary"]

    def clean_number(self) -> str:
        try:
            return normalize_phone(self.cleaned_data["number"], field_name="number")
        except ValidationFailed as error:
            raise forms.ValidationError(error.message) from None


class ClientEmailForm(forms.ModelForm):
    class Meta:
        model = ClientEmail
        fields = ["address", "is_primary"]

    def clean_address(self) -> str:
        try:
            return normalize_email(self.cleaned_data["address"], field_name="address")
        except ValidationFailed as error:
            raise forms.ValidationError(error.message) from None


class ClientPhoneInline(admin.TabularInline):
    model = ClientPhone
    form = ClientPhoneForm
    extra = 0


class ClientEmailInline(admin.TabularInline):
    model = ClientEmail
    form = ClientEmailForm
    extra = 0


class ReadOnlyInline(admin.TabularInline):
    """Rows written by the intake and the services: shown, not edited here."""

    extra = 0
    can_delete = False

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


class ClientIdentityInline(ReadOnlyInline):
    model = ClientIdentity
    fields = readonly_fields = ("kind", "external_id", "username", "display_name", "created_at")


class ConsentInline(ReadOnlyInline):
    # 152-FZ: consents are a record of statements; a new one is added, none is rewritten.
    model = Consent
    fields = readonly_fields = ("purpose", "granted", "at", "source", "recorded_by")


@admin.register(Client)
class ClientAdmin(SimpleHistoryAdmin):
    list_display = ["display_name", "kind", "dealer_center", "responsible", "created_at"]
    list_filter = ["kind", "dealer_center"]
    search_fields = ["search_name", "phones__number", "emails__address"]
    autocomplete_fields = ["dealer_center", "responsible"]
    readonly_fields = ["merged_into", "created_at", "updated_at"]
    inlines = [ClientPhoneInline, ClientEmailInline, ClientIdentityInline, ConsentInline]

    def save_model(self, request: HttpRequest, obj: Client, form: Any, change: bool) -> None:
        # Search and duplicate detection read the case-folded name (services keep it).
        obj.search_name = search_text(
            obj.last_name, obj.first_name, obj.middle_name, obj.company_name, obj.inn
        )
        super().save_model(request, obj, form, change)


@admin.register(ClientMerge)
class ClientMergeAdmin(admin.ModelAdmin):
    """Merges are made on the duplicates screen or by the API; here they are the record."""

    list_display = ["at", "survivor", "merged", "reason", "merged_by"]
    list_filter = ["reason"]
    list_select_related = ["survivor", "merged", "merged_by"]
    search_fields = ["survivor__search_name", "merged__search_name"]
    date_hierarchy = "at"
    fields = readonly_fields = (
        "at",
        "survivor",
        "merged",
        "reason",
        "merged_by",
        "moved",
        "merged_snapshot",
    )

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False
