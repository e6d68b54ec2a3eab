"""Order documents (the card's "Documents" tab, downloads) and the deal passport partial."""

from __future__ import annotations

from django.urls import URLPattern, path

from autocrm.orders import views_documents as views

urlpatterns: list[URLPattern] = [
    path("<int:order_id>/documents/", views.documents_tab, name="documents_tab"),
    path("<int:order_id>/documents/upload/", views.document_upload, name="document_upload"),
    path("<int:order_id>/documents/generate/", views.document_generate, name="document_generate"),
    path(
        "documents/<int:document_id>/download/",
        views.document_download,
        name="document_download",
    ),
    path("documents/<int:document_id>/delete/", views.document_delete, name="document_delete"),
    path("vehicles/<int:vehicle_id>/passport/", views.vehicle_passport, name="vehicle_passport"),
]
