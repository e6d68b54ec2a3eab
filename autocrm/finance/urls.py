"""Pages and htmx partials of financial products (the order card's two tabs and the
catalog) and of credit applications (the order card's tab and the wizard)."""

from __future__ import annotations

from django.urls import path

from autocrm.finance import views, views_credit, views_credit_list

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
    # Credit applications: the list of all orders' applications, the order card's tab and
    # the four-step wizard.
    path("credit/", views_credit_list.credit_list, name="credit_list"),
    path("orders/<int:order_id>/credit/", views_credit.credit_tab, name="credit_tab"),
    path("orders/<int:order_id>/credit/new/", views_credit.credit_new, name="credit_new"),
    path("orders/<int:order_id>/credit/quote/", views_credit.credit_quote, name="credit_quote"),
    path("credit/<int:application_id>/", views_credit.credit_detail, name="credit_detail"),
    path(
        "credit/<int:application_id>/calculation/",
        views_credit.credit_calculation,
        name="credit_calculation",
    ),
    path(
        "credit/<int:application_id>/questionnaire/",
        views_credit.credit_questionnaire,
        name="credit_questionnaire",
    ),
    path("credit/<int:application_id>/submit/", views_credit.credit_submit, name="credit_submit"),
    path(
        "credit/<int:application_id>/documents/",
        views_credit.credit_document,
        name="credit_document",
    ),
    path(
        "credit/<int:application_id>/documents/<int:document_id>/",
        views_credit.credit_document_file,
        name="credit_document_file",
    ),
    path("credit/<int:application_id>/offers/", views_credit.credit_offers, name="credit_offers"),
    path(
        "credit/<int:application_id>/confirm/", views_credit.credit_confirm, name="credit_confirm"
    ),
    path("credit/<int:application_id>/cancel/", views_credit.credit_cancel, name="credit_cancel"),
    path("credit/<int:application_id>/resend/", views_credit.credit_resend, name="credit_resend"),
]
