"""Pages of deals: board, list, card (``sales:`` namespace, included by ``sales.urls``)."""

from django.urls import path

from autocrm.sales import views_deals

urlpatterns = [
    path("deals/<int:pk>/", views_deals.deal_detail, name="deal_detail"),
]
