"""The order list, new orders, the order card (header, totals, history) and the orders
panel of the client card."""

from __future__ import annotations

from django.urls import URLPattern, path

from autocrm.orders import views_card

urlpatterns: list[URLPattern] = [
    path("", views_card.order_list, name="order_list"),
    path("new/", views_card.order_new, name="order_new"),
    path("new/importer/", views_card.importer_order_new, name="importer_order_new"),
    path("new/clients/", views_card.client_options, name="client_options"),
    path("new/deals/", views_card.deal_options, name="deal_options"),
    path("<int:order_id>/", views_card.order_detail, name="order_detail"),
    path("<int:order_id>/header/", views_card.order_header, name="order_header"),
    path("<int:order_id>/totals/", views_card.order_totals, name="order_totals"),
    path("<int:order_id>/history/", views_card.order_history, name="order_history"),
    path("<int:order_id>/status/", views_card.order_transition_view, name="order_transition"),
    path("<int:order_id>/price/", views_card.order_price, name="order_price"),
    path(
        "<int:order_id>/importer-status/",
        views_card.importer_transition,
        name="importer_transition",
    ),
    path(
        "clients/<int:client_id>/panel/",
        views_card.client_orders_panel,
        name="client_orders_panel",
    ),
]
