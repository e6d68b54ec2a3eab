from __future__ import annotations

from typing import Any

from django.contrib import admin, messages
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils.translation import gettext_lazy as _
from simple_history.admin import SimpleHistoryAdmin

from autocrm.accounts import services
from autocrm.accounts.models import (
    ApiToken,
    Brand,
    City,
    Consignor,
    DayOff,
    DealerCenter,
    Department,
    Region,
    Role,
    Site,
    User,
    WorkingHours,
)


@admin.register(Region)
class RegionAdmin(admin.ModelAdmin):
    list_display = ["name", "code"]
    search_fields = ["name", "code"]


@admin.register(City)
class CityAdmin(admin.ModelAdmin):
    list_display = ["name", "region", "time_zone"]
    list_filter = ["region"]
    search_fields = ["name"]
    autocomplete_fields = ["region"]


@admin.register(Brand)
class BrandAdmin(admin.ModelAdmin):
    list_display = ["name", "code"]
    search_fields = ["name", "code"]
    prepopulated_fields = {"code": ["name"]}


class WorkingHoursInline(admin.TabularInline):
    model = WorkingHours
    extra = 0
    max_num = 7


class DayOffInline(admin.TabularInline):
    model = DayOff
    extra = 0


@admin.register(DayOff)
class DayOffAdmin(admin.ModelAdmin):
    """Public holidays of the whole group (no dealer center) and days off of one."""

    list_display = ["date", "name", "dealer_center"]
    list_filter = ["dealer_center"]
    date_hierarchy = "date"
    list_select_related = ["dealer_center"]


@admin.register(DealerCenter)
class DealerCenterAdmin(SimpleHistoryAdmin):
    list_display = ["name", "code", "city", "time_zone", "is_active"]
    list_filter = ["is_active", "city__region", "brands"]
    search_fields = ["name", "code", "address"]
    autocomplete_fields = ["city"]
    filter_horizontal = ["brands"]
    inlines = [WorkingHoursInline, DayOffInline]


@admin.register(Site)
class SiteAdmin(SimpleHistoryAdmin):
    list_display = ["name", "kind", "city", "dealer_center", "is_active"]
    list_filter = ["kind", "is_active", "city"]
    search_fields = ["name", "address"]
    autocomplete_fields = ["city", "dealer_center"]


@admin.register(Consignor)
class ConsignorAdmin(SimpleHistoryAdmin):
    list_display = ["name", "inn", "city", "dealer_center"]
    search_fields = ["name", "legal_name", "inn"]
    autocomplete_fields = ["city", "dealer_center"]


@admin.register(Department)
class DepartmentAdmin(SimpleHistoryAdmin):
    list_display = ["name", "kind", "dealer_center"]
    list_filter = ["kind"]
    search_fields = ["name", "dealer_center__name"]
    autocomplete_fields = ["dealer_center"]


@admin.register(Role)
class RoleAdmin(admin.ModelAdmin):
    list_display = ["code", "name", "is_group_level"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # roles are defined by the product (accounts.roles), not by hand

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(User)
class UserAdmin(SimpleHistoryAdmin, DjangoUserAdmin):
    list_display = ["username", "display_name", "email", "is_active", "department"]
    list_filter = ["is_active", "roles", "dealer_centers", "is_superuser"]
    search_fields = ["username", "first_name", "last_name", "email"]
    autocomplete_fields = ["department"]
    filter_horizontal = ["roles", "dealer_centers", "groups", "user_permissions"]
    fieldsets = (
        *(DjangoUserAdmin.fieldsets or ()),
        (
            _("Dealer group"),
            {
                "fields": (
                    "middle_name",
                    "phone",
                    "phone_extension",
                    "department",
                    "roles",
                    "dealer_centers",
                )
            },
        ),
    )


@admin.register(ApiToken)
class ApiTokenAdmin(SimpleHistoryAdmin):
    list_display = [
        "prefix",
        "user",
        "name",
        "created_at",
        "last_used_at",
        "expires_at",
        "revoked_at",
    ]
    list_filter = ["revoked_at"]
    search_fields = ["prefix", "user__username", "name"]
    readonly_fields = ["prefix", "digest", "last_used_at", "revoked_at", "created_at"]
    actions = ["revoke"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # issued with `manage.py create_api_token` so the secret is shown once

    @admin.action(description=_("Revoke selected tokens"))
    def revoke(self, request: HttpRequest, queryset: QuerySet[ApiToken]) -> None:
        for token in queryset:
            services.api_token_revoke(actor=request.user, token=token)
        self.message_user(request, _("Tokens revoked."), messages.SUCCESS)
