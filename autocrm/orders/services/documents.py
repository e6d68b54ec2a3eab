"""Documents of a sales order: uploaded scans and generated PDFs (sales contract,
acceptance act, invoice).

Files live in private storage (``settings.PRIVATE_MEDIA_ROOT``, outside the web root) and
reach a browser only through the download view and API, which check that the caller sees
the order. An upload's type is told from its content (``core.storage.check_upload``),
never from its name. Generating a document again stores a new version and keeps the old
ones: what was signed stays what it was.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
import uuid
import zoneinfo
from datetime import date
from decimal import Decimal
from pathlib import PurePath
from typing import IO, Any

from django.conf import settings
from django.core.files.base import ContentFile
from django.db import transaction
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from autocrm.accounts.roles import SUPERVISING_ROLES
from autocrm.core.errors import Conflict, NotAllowed, ValidationFailed
from autocrm.core.pdf import render_pdf
from autocrm.core.storage import check_upload
from autocrm.core.timezones import local_today, zone_named
from autocrm.orders.models import (
    Document,
    DocumentKind,
    Invoice,
    Order,
    OrderEquipment,
    OrderEventKind,
    OrderStatus,
)
from autocrm.orders.money_words import amount_in_words_ru
from autocrm.orders.pdf import invoice_filename, render_invoice_pdf
from autocrm.orders.services.orders import order_lock, order_log, require_order_access

# The types an upload may have (core.storage) and the extension each is saved with.
EXTENSIONS = {"application/pdf": "pdf", "image/jpeg": "jpg", "image/png": "png"}
GENERATED_KINDS = (DocumentKind.CONTRACT, DocumentKind.ACCEPTANCE_ACT, DocumentKind.INVOICE)
# An acceptance act records a handover: only for cars ready for it or handed over.
ACT_STATUSES = (OrderStatus.READY, OrderStatus.DELIVERED)
TITLE_MAX = 200
NAME_MAX = 255

_UNSAFE_NAME = re.compile(r'[\\/:*?"<>|;]+')


def _clean_text(value: str) -> str:
    """Drop control and format characters (NUL breaks PostgreSQL, bidi overrides disguise
    extensions) and squeeze whitespace."""
    kept = "".join(
        " " if unicodedata.category(char) in ("Cc", "Cf", "Zl", "Zp") else char
        for char in value or ""
    )
    return " ".join(kept.split())


def clean_file_name(name: str) -> str:
    """The client's file name without any path, unsafe or invisible characters."""
    base = re.split(r"[\\/]", name or "")[-1]
    base = _UNSAFE_NAME.sub("_", _clean_text(base)).strip(" ._")
    if len(base) > NAME_MAX:
        path = PurePath(base)
        suffix = path.suffix[:16]
        base = path.stem[: NAME_MAX - len(suffix)] + suffix
    return base


def download_filename(document: Document) -> str:
    """What the browser saves the file as: the stored name with the extension of the
    content's real type (a PNG uploaded as ``scan.pdf`` is saved as ``scan.png``)."""
    extension = EXTENSIONS.get(document.content_type, "bin")
    stem = PurePath(clean_file_name(document.original_name)).stem or f"document-{document.pk}"
    return f"{stem}.{extension}"


def _storage_name(order: Order, kind: str, extension: str) -> str:
    # Never the client's name on disk: it may hold anything; ``upload_to`` adds the folders.
    return f"order-{order.pk}-{kind}-{uuid.uuid4().hex}.{extension}"


def _is_supervisor(actor: Any) -> bool:
    return bool(getattr(actor, "is_superuser", False)) or bool(
        getattr(actor, "is_authenticated", False) and actor.has_role(*SUPERVISING_ROLES)
    )


def _store(
    *,
    actor: Any,
    order: Order,
    kind: str,
    title: str,
    content: bytes,
    content_type: str,
    sha256: str,
    original_name: str,
    invoice: Invoice | None = None,
) -> Document:
    document = Document(
        order=order,
        kind=kind,
        title=title[:TITLE_MAX],
        content_type=content_type,
        size=len(content),
        sha256=sha256,
        original_name=original_name[:NAME_MAX],
        invoice=invoice,
        created_by=actor if getattr(actor, "is_authenticated", False) else None,
    )
    name = _storage_name(order, kind, EXTENSIONS[content_type])
    document.file.save(name, ContentFile(content), save=False)
    try:
        document.save()
        order_log(
            order,
            OrderEventKind.DOCUMENT,
            actor,
            subject_id=document.pk,
            to_value=kind,
            text=document.title,
        )
    except Exception:
        # The file was written before the row: leave no file that no row points to. (A
        # rollback of an enclosing transaction later would leave one behind; it is
        # unreachable, private, and harmless.)
        document.file.storage.delete(document.file.name)
        raise
    return document


@transaction.atomic
def document_upload(*, actor: Any, order: Order, upload: IO[bytes], title: str = "") -> Document:
    """Attach a scan (PDF, JPEG or PNG up to ``settings.DOCUMENT_MAX_BYTES``, told by its
    content) to the order. Refused with 400 on field ``file``."""
    require_order_access(actor, order)
    checked = check_upload(upload, field="file")
    original = clean_file_name(getattr(upload, "name", "") or "")
    title = _clean_text(title)[:TITLE_MAX]
    if not title:
        title = PurePath(original).stem or _("Scan")
    return _store(
        actor=actor,
        order=order,
        kind=DocumentKind.SCAN,
        title=title,
        content=checked.content,
        content_type=checked.content_type,
        sha256=checked.sha256,
        original_name=original or f"scan.{checked.extension}",
    )


# --- generated documents ----------------------------------------------------------------------


def _version(order: Order, kind: str, invoice: Invoice | None) -> int:
    existing = Document.objects.filter(order=order, kind=kind)
    if invoice is not None:
        existing = existing.filter(invoice=invoice)
    return existing.count() + 1


def _document_date(order: Order) -> date:
    return local_today(order.dealer_center.time_zone)


def _vehicle_context(order: Order) -> dict[str, Any]:
    vehicle = order.vehicle
    assert vehicle is not None
    return {
        "vehicle": vehicle,
        "year": vehicle.pts_year or vehicle.model_year,
        "colour": vehicle.color.name if vehicle.color is not None else "",
    }


def _equipment(order: Order) -> list[OrderEquipment]:
    return list(
        OrderEquipment.objects.filter(order=order)
        .select_related("package")
        .prefetch_related("package__items")
    )


def _amount_in_words(amount: Decimal) -> str:
    try:
        return amount_in_words_ru(amount)
    except ValueError:  # negative or beyond words: the figures alone say it
        return ""


def _render(template_name: str, context: dict[str, Any]) -> bytes:
    # A legal document is written in the language of the country's law, whatever the
    # language of the employee's screen.
    with translation.override(settings.LANGUAGE_CODE):
        return render_pdf(template_name, context)


def _contract(order: Order) -> bytes:
    return _render(
        "orders/documents/contract.html",
        {
            "order": order,
            "issuer": order.issuer,
            "client": order.client,
            "phone": order.client.phones.order_by("-is_primary", "pk").first(),
            "equipment": _equipment(order),
            "date": _document_date(order),
            "city": order.dealer_center.city.name,
            "amount_in_words": _amount_in_words(order.total),
            **_vehicle_context(order),
        },
    )


def _acceptance_act(order: Order) -> bytes:
    handed_over = (
        timezone.localtime(order.delivered_at, _zone(order)).date()
        if order.delivered_at is not None
        else _document_date(order)
    )
    return _render(
        "orders/documents/acceptance_act.html",
        {
            "order": order,
            "issuer": order.issuer,
            "client": order.client,
            "equipment": _equipment(order),
            "date": handed_over,
            "city": order.dealer_center.city.name,
            **_vehicle_context(order),
        },
    )


def _zone(order: Order) -> zoneinfo.ZoneInfo:
    return zone_named(order.dealer_center.time_zone)


@transaction.atomic
def document_generate(
    *, actor: Any, order: Order, kind: str, invoice: Invoice | None = None
) -> Document:
    """Generate a document of the order as a new version (older versions are kept):
    ``contract`` (the sales contract), ``acceptance_act`` (only for an order ready for
    delivery or delivered, else 409) or ``invoice`` (of ``invoice``, one of the order's)."""
    if kind not in GENERATED_KINDS:
        raise ValidationFailed(
            _("Choose a contract, an acceptance act or an invoice."), field="kind"
        )
    # Serialises generations of one order, so versions are numbered without gaps.
    order = order_lock(order)
    require_order_access(actor, order)
    order = (
        Order.objects.select_related(
            "client",
            "issuer",
            "dealer_center__city",
            "vehicle__make",
            "vehicle__car_model",
            "vehicle__trim",
            "vehicle__color",
            "vehicle__body",
            "vehicle__engine",
        )
        .filter(pk=order.pk)
        .get()
    )
    if kind == DocumentKind.INVOICE:
        if invoice is None:
            raise ValidationFailed(_("Choose the invoice to print."), field="invoice_id")
        if invoice.order_id != order.pk:
            raise ValidationFailed(_("The invoice belongs to another order."), field="invoice_id")
        content = render_invoice_pdf(invoice)
        version = _version(order, kind, invoice)
        title = _("Invoice No. %(number)s") % {"number": invoice.number}
        file_name = invoice_filename(invoice)
    else:
        invoice = None
        if order.status == OrderStatus.CANCELLED:
            raise Conflict(_("The order is cancelled."), field="kind", code="order_closed")
        if order.vehicle is None:
            raise Conflict(_("The car has not arrived yet."), field="kind", code="not_arrived")
        if order.issuer is None:
            raise Conflict(
                _("The order has no seller: set up the invoice issuer of its dealer center."),
                field="kind",
                code="no_issuer",
            )
        if kind == DocumentKind.CONTRACT:
            content = _contract(order)
            title = _("Sales contract No. %(number)s") % {"number": order.number}
        else:
            if order.status not in ACT_STATUSES:
                raise Conflict(
                    _("An acceptance act is made when the car is ready for delivery."),
                    field="kind",
                    code="not_ready",
                )
            content = _acceptance_act(order)
            title = _("Acceptance act to contract No. %(number)s") % {"number": order.number}
        version = _version(order, kind, None)
        file_name = f"{kind.replace('_', '-')}-{order.number}.pdf"
    if version > 1:
        title = _("%(title)s, version %(version)s") % {"title": title, "version": version}
        file_name = file_name.replace(".pdf", f"-v{version}.pdf")
    return _store(
        actor=actor,
        order=order,
        kind=kind,
        title=title,
        content=content,
        content_type="application/pdf",
        sha256=hashlib.sha256(content).hexdigest(),
        original_name=file_name,
        invoice=invoice,
    )


@transaction.atomic
def document_delete(*, actor: Any, document: Document) -> None:
    """Remove an uploaded scan: its uploader or a head may. Generated documents are kept
    (a new version replaces them)."""
    document = Document.objects.select_for_update().select_related("order").get(pk=document.pk)
    require_order_access(actor, document.order)
    if document.kind != DocumentKind.SCAN:
        raise Conflict(
            _("Generated documents are kept; generate a new version instead."),
            code="not_deletable",
        )
    is_uploader = document.created_by_id is not None and document.created_by_id == getattr(
        actor, "pk", None
    )
    if not is_uploader and not _is_supervisor(actor):
        raise NotAllowed(_("Only the employee who uploaded the scan or a head may delete it."))
    storage, name = document.file.storage, document.file.name
    order_log(
        document.order,
        OrderEventKind.DOCUMENT,
        actor,
        subject_id=document.pk,
        from_value=document.kind,
        text=_("Deleted: %(title)s") % {"title": document.title},
    )
    document.delete()
    # The file goes only once the row is surely gone.
    transaction.on_commit(lambda: storage.delete(name))
