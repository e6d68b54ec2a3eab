"""Reads of order documents: a document is visible to whoever sees its order."""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet
from django.utils.translation import gettext as _

from autocrm.accounts.scoping import scope_queryset
from autocrm.core.errors import NotFound
from autocrm.orders.models import Document, Order


def documents_visible(user: Any) -> QuerySet[Document]:
    return scope_queryset(Document.objects.all(), user, field="order__dealer_center")


def document_list(user: Any, order: Order) -> QuerySet[Document]:
    """The order's documents, newest first (the caller has checked he sees the order)."""
    return (
        documents_visible(user)
        .filter(order=order)
        .select_related("created_by", "invoice")
        .order_by("-created_at", "-pk")
    )


def document_get(user: Any, document_id: int) -> Document:
    """The document if the user sees its order; NotFound otherwise (existence not told)."""
    document = (
        documents_visible(user).select_related("order", "created_by").filter(pk=document_id).first()
    )
    if document is None:
        raise NotFound(_("Document not found."))
    return document
