"""Screens of order documents and of the deal passport (htmx partials).

* ``documents_tab``: the "Documents" tab of the order card: the documents with download
  links, the upload form, buttons that generate the contract and the acceptance act. It
  reloads itself on ``orderChanged``; its actions answer 204 with ``HX-Trigger:
  orderChanged`` (the tab and the card's totals refresh), or the tab again with the
  reason when refused.
* ``document_download``: the only way to a stored file; checks that the caller sees the
  order (404 otherwise) and always sends it as an attachment.
* ``vehicle_passport``: the car's deal passport as a table, for the vehicle card and the
  order card (``orders.view_deal_passport``).
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import (
    FileResponse,
    Http404,
    HttpRequest,
    HttpResponse,
    HttpResponseRedirect,
)
from django.shortcuts import render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_POST
from rules.contrib.views import permission_required

from autocrm.accounts.roles import SUPERVISING_ROLES
from autocrm.core.errors import DomainError, NotFound, ValidationFailed
from autocrm.orders import passport as passports
from autocrm.orders.models import Document, DocumentKind, Invoice, InvoiceStatus, Order
from autocrm.orders.selectors import order_get
from autocrm.orders.selectors_documents import document_get, document_list
from autocrm.orders.services import documents as services
from autocrm.orders.services.documents import ACT_STATUSES, EXTENSIONS, download_filename

ORDER_CHANGED = "orderChanged"
VIEW_PERMISSION = "orders.view_orders"
GENERATE_PERMISSION = "orders.sell"
PASSPORT_PERMISSION = "orders.view_deal_passport"
MEGABYTE = 1024 * 1024


# --------------------------------------------------------------------------- file responses


def document_file_response(document: Document) -> FileResponse:
    """The stored file as a download: the type from the row (only the types uploads may
    have), a safe file name, and headers that stop a browser from rendering or sniffing
    it. Raises Http404 when the file is gone from the storage."""
    try:
        handle = document.file.open("rb")
    except (FileNotFoundError, OSError, ValueError):
        raise Http404 from None
    content_type = (
        document.content_type if document.content_type in EXTENSIONS else "application/octet-stream"
    )
    response = FileResponse(
        handle,
        as_attachment=True,
        filename=download_filename(document),
        content_type=content_type,
    )
    response["X-Content-Type-Options"] = "nosniff"
    response["Content-Security-Policy"] = "default-src 'none'; sandbox"
    response["Cache-Control"] = "private, no-store"
    return response


# --------------------------------------------------------------------------- helpers


def _htmx(request: HttpRequest) -> bool:
    return bool(getattr(request, "htmx", False))


def _order_or_404(request: HttpRequest, order_id: int) -> Order:
    try:
        return order_get(request.user, order_id)
    except NotFound:
        raise Http404 from None


def _can_delete(user: Any, document: Document) -> bool:
    if document.kind != DocumentKind.SCAN:
        return False
    if document.created_by_id is not None and document.created_by_id == user.pk:
        return True
    return bool(user.is_superuser or user.has_role(*SUPERVISING_ROLES))


def _card_url(request: HttpRequest) -> str:
    """The page the tab lives on (the order card), to come back to without htmx."""
    candidate = request.POST.get("next") or ""
    if not candidate and _htmx(request):
        candidate = request.htmx.current_url or ""  # type: ignore[attr-defined]
    if candidate and url_has_allowed_host_and_scheme(
        candidate, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return candidate
    return ""


def _tab(
    request: HttpRequest, order: Order, *, error: str = "", field: str | None = None
) -> HttpResponse:
    documents = list(document_list(request.user, order))
    invoices = list(
        Invoice.objects.filter(order=order)
        .exclude(status=InvoiceStatus.CANCELLED)
        .order_by("issued_on", "pk")
    )
    context = {
        "order": order,
        "rows": [
            {"document": document, "can_delete": _can_delete(request.user, document)}
            for document in documents
        ],
        "invoices": invoices,
        "error": error,
        "error_field": field,
        "max_megabytes": round(settings.DOCUMENT_MAX_BYTES / MEGABYTE, 1),
        "can_generate": request.user.has_perm(GENERATE_PERMISSION),
        "act_allowed": order.status in ACT_STATUSES,
        "has_vehicle": order.vehicle_id is not None,
        "next_url": _card_url(request),
    }
    return render(request, "orders/documents/_tab.html", context)


def _done(request: HttpRequest, order: Order, message: str) -> HttpResponse:
    if _htmx(request):
        response = HttpResponse(status=204)
        response["HX-Trigger"] = ORDER_CHANGED
        return response
    messages.success(request, message)
    return HttpResponseRedirect(
        _card_url(request) or reverse("orders:documents_tab", args=[order.pk])
    )


def _refused(request: HttpRequest, order: Order, error: DomainError) -> HttpResponse:
    if _htmx(request):
        # The tab again, with the reason next to the form (htmx swaps only 2xx answers).
        return _tab(request, order, error=str(error.message), field=error.field)
    messages.error(request, str(error.message))
    return HttpResponseRedirect(
        _card_url(request) or reverse("orders:documents_tab", args=[order.pk])
    )


# --------------------------------------------------------------------------- documents


@login_required
@permission_required(VIEW_PERMISSION, raise_exception=True)
@require_GET
def documents_tab(request: HttpRequest, order_id: int) -> HttpResponse:
    return _tab(request, _order_or_404(request, order_id))


@login_required
@permission_required(VIEW_PERMISSION, raise_exception=True)
@require_POST
def document_upload(request: HttpRequest, order_id: int) -> HttpResponse:
    order = _order_or_404(request, order_id)
    upload = request.FILES.get("file")
    try:
        if upload is None:
            raise ValidationFailed(_("Choose a file to upload."), field="file")
        document = services.document_upload(
            actor=request.user, order=order, upload=upload, title=request.POST.get("title", "")
        )
    except DomainError as error:
        return _refused(request, order, error)
    return _done(request, order, _("“%(title)s” is uploaded.") % {"title": document.title})


@login_required
@permission_required(GENERATE_PERMISSION, raise_exception=True)
@require_POST
def document_generate(request: HttpRequest, order_id: int) -> HttpResponse:
    order = _order_or_404(request, order_id)
    kind = request.POST.get("kind", "")
    invoice: Invoice | None = None
    raw_invoice = (request.POST.get("invoice_id") or "").strip()
    try:
        if raw_invoice:
            invoice = (
                Invoice.objects.filter(pk=int(raw_invoice), order=order).first()
                if raw_invoice.isascii() and raw_invoice.isdigit() and len(raw_invoice) < 19
                else None
            )
            if invoice is None:
                raise ValidationFailed(_("No such invoice on this order."), field="invoice_id")
        document = services.document_generate(
            actor=request.user, order=order, kind=kind, invoice=invoice
        )
    except DomainError as error:
        return _refused(request, order, error)
    return _done(request, order, _("“%(title)s” is ready.") % {"title": document.title})


@login_required
@permission_required(VIEW_PERMISSION, raise_exception=True)
@require_POST
def document_delete(request: HttpRequest, document_id: int) -> HttpResponse:
    try:
        document = document_get(request.user, document_id)
    except NotFound:
        raise Http404 from None
    order = _order_or_404(request, document.order_id)
    title = document.title
    try:
        services.document_delete(actor=request.user, document=document)
    except DomainError as error:
        return _refused(request, order, error)
    return _done(request, order, _("“%(title)s” is deleted.") % {"title": title})


@login_required
@permission_required(VIEW_PERMISSION, raise_exception=True)
@require_GET
def document_download(request: HttpRequest, document_id: int) -> FileResponse:
    try:
        document = document_get(request.user, document_id)
    except NotFound:
        raise Http404 from None
    return document_file_response(document)


# --------------------------------------------------------------------------- deal passport


@login_required
@permission_required(PASSPORT_PERMISSION, raise_exception=True)
@require_GET
def vehicle_passport(request: HttpRequest, vehicle_id: int) -> HttpResponse:
    try:
        vehicle = passports.passport_vehicle_get(request.user, vehicle_id)
    except NotFound:
        raise Http404 from None
    passport = passports.deal_passport(vehicle)
    return render(
        request,
        "orders/passport/_passport.html",
        {
            "vehicle": vehicle,
            "passport": passport,
            "negative": passport.margin < 0,
        },
    )
