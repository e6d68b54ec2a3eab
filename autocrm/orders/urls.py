"""Sales orders: the list, the order card and its tabs (each area has its own module)."""

from __future__ import annotations

from django.urls import include, path

app_name = "orders"

urlpatterns = [
    path("", include("autocrm.orders.urls_card")),
    path("", include("autocrm.orders.urls_catalog")),
    path("", include("autocrm.orders.urls_invoices")),
    path("", include("autocrm.orders.urls_documents")),
]
