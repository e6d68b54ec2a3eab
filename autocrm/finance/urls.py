"""Pages and htmx partials of financial products: the order card's two tabs and the
catalog."""

from __future__ import annotations

from django.urls import path

from autocrm.finance import views

app_name = "finance"

urlpatterns = [
    path(
        "orders/<int:order_id>/products/",
        views.order_products_tab,
        name="order_products_tab",
    ),
    path(
        "orders/<int:order_id>/products/add/",
        views.order_product_add,
        name="order_product_add",
    ),
    path(
        "orders/<int:order_id>/products/<int:product_id>/remove/",
        views.order_product_remove,
        name="order_product_remove",
    ),
    path("products/", views.product_catalog, name="product_catalog"),
    path("products/new/", views.product_new, name="product_new"),
    path("products/<int:product_id>/toggle/", views.product_toggle, name="product_toggle"),
]
