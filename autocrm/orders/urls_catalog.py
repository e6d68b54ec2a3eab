"""The order card's promotion and equipment tabs (htmx partials and their actions) and the
logisticians' promotions page (namespace ``orders``)."""

from __future__ import annotations

from django.urls import URLPattern, path

from autocrm.orders import views_catalog as views

urlpatterns: list[URLPattern] = [
    path("promotions/", views.promotion_list, name="promotion_list"),
    path("promotions/new/", views.promotion_new, name="promotion_new"),
    path("promotions/<int:promotion_id>/edit/", views.promotion_edit, name="promotion_edit"),
    path("<int:order_id>/promotions/", views.promotions_tab, name="promotions_tab"),
    path("<int:order_id>/promotions/apply/", views.promotion_apply, name="promotion_apply"),
    path(
        "<int:order_id>/promotions/<int:promotion_id>/remove/",
        views.promotion_remove,
        name="promotion_remove",
    ),
    path("<int:order_id>/equipment/", views.equipment_tab, name="equipment_tab"),
    path("<int:order_id>/equipment/add/", views.equipment_add, name="equipment_add"),
    path(
        "<int:order_id>/equipment/<int:item_id>/remove/",
        views.equipment_remove,
        name="equipment_remove",
    ),
    path(
        "<int:order_id>/equipment/<int:item_id>/status/",
        views.equipment_status,
        name="equipment_status",
    ),
]
