"""The invoices tab of the order card, its actions, the printable invoice and the heads'
queue of refunds."""

from __future__ import annotations

from django.urls import URLPattern, path

from autocrm.orders import views_invoices

urlpatterns: list[URLPattern] = [
    path("<int:order_id>/invoices/", views_invoices.invoices_tab, name="invoices_tab"),
    path("<int:order_id>/invoices/new/", views_invoices.invoice_issue, name="invoice_issue"),
    path("invoices/<int:invoice_id>/pdf/", views_invoices.invoice_pdf, name="invoice_pdf"),
    path("invoices/<int:invoice_id>/cancel/", views_invoices.invoice_cancel, name="invoice_cancel"),
    path(
        "invoices/<int:invoice_id>/payments/",
        views_invoices.payment_register,
        name="payment_register",
    ),
    path(
        "invoices/<int:invoice_id>/refunds/", views_invoices.refund_request, name="refund_request"
    ),
    path("refunds/", views_invoices.refund_queue, name="refund_queue"),
    path("refunds/<int:refund_id>/approve/", views_invoices.refund_approve, name="refund_approve"),
    path("refunds/<int:refund_id>/reject/", views_invoices.refund_reject, name="refund_reject"),
    path(
        "refunds/<int:refund_id>/complete/",
        views_invoices.refund_complete,
        name="refund_complete",
    ),
]
