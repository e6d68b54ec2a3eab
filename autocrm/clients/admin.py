from django.contrib import admin
from simple_history.admin import SimpleHistoryAdmin

from autocrm.clients.models import Client


@admin.register(Client)
class ClientAdmin(SimpleHistoryAdmin):
    list_display = ["display_name", "kind", "dealer_center", "responsible", "created_at"]
    list_filter = ["kind", "dealer_center"]
    search_fields = ["last_name", "first_name", "company_name"]
    autocomplete_fields = ["dealer_center", "responsible"]
