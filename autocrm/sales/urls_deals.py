"""Pages of deals: board, list, card (``sales:`` namespace, included by ``sales.urls``)."""

from django.urls import path

from autocrm.sales import views_deals

urlpatterns = [
    path("deals/", views_deals.deal_list, name="deal_list"),
    path("deals/export.xlsx", views_deals.deal_export, name="deal_export"),
    path("deals/new/", views_deals.deal_new, name="deal_new"),
    path("deals/board/", views_deals.deal_board, name="deal_board"),
    path("deals/board/<slug:code>/", views_deals.deal_board_pipeline, name="deal_board_pipeline"),
    path(
        "deals/board/<slug:code>/<slug:stage_code>/",
        views_deals.deal_board_column,
        name="deal_board_column",
    ),
    path("deals/<int:pk>/", views_deals.deal_detail, name="deal_detail"),
    path("deals/<int:pk>/move/", views_deals.deal_move, name="deal_move"),
    path("deals/<int:pk>/edit/", views_deals.deal_edit, name="deal_edit"),
    path(
        "clients/<int:client_id>/deals/",
        views_deals.client_deals_panel,
        name="client_deals_panel",
    ),
]
