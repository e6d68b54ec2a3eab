"""Pages and htmx partials of trade-ins (mounted at /trade-ins/)."""

from __future__ import annotations

from django.urls import path

from autocrm.trade_ins import views

app_name = "trade_ins"

urlpatterns = [
    path("orders/<int:order_id>/", views.order_tab, name="order_tab"),
    path("orders/<int:order_id>/free-slots/", views.order_slots, name="order_slots"),
    path("calendar/", views.calendar, name="calendar"),
    path("<int:pk>/", views.appraisal, name="appraisal"),
    path("<int:pk>/accept/", views.accept, name="accept"),
    path("<int:pk>/decline/", views.decline, name="decline"),
    path("<int:pk>/cancel/", views.cancel, name="cancel"),
    path("<int:pk>/reschedule/", views.reschedule, name="reschedule"),
    path("<int:pk>/take-into-stock/", views.take_into_stock, name="take_into_stock"),
    path("<int:pk>/photos/", views.photo_upload, name="photo_upload"),
    path("<int:pk>/photos/<int:photo_id>/", views.photo, name="photo"),
]
