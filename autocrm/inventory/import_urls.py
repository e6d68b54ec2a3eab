"""Routes of the stock import. No app_name: included under ``/stock/import/`` inside the
``inventory`` namespace by ``inventory/urls.py``."""

from django.urls import path

from autocrm.inventory import import_views

urlpatterns = [
    path("", import_views.import_upload, name="import_upload"),
    path("<int:pk>/", import_views.import_detail, name="import_detail"),
    path("<int:pk>/mapping/", import_views.import_mapping, name="import_mapping"),
    path("<int:pk>/progress/", import_views.import_progress, name="import_progress"),
    path("<int:pk>/errors.csv", import_views.import_errors, name="import_errors"),
    path("<int:pk>/run/", import_views.import_run, name="import_run"),
]
