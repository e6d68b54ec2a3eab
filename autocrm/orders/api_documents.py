"""HTTP API of order documents and of the deal passport (docs/api.md, "Sales orders").

Documents: the list of an order's documents, upload of a scan (multipart), generation of
the contract, the acceptance act or an invoice's PDF, download, deletion of a scan. A
document is visible to whoever sees its order; other callers get 404 as for a missing one.

The deal passport of a car: income and expense lines, totals and margin as decimal
strings; heads, management, administrators and logisticians (``orders.view_deal_passport``).
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any, Literal

from django.http import FileResponse, HttpRequest, HttpResponse
from django.urls import reverse
from django.utils.translation import gettext as _
from ninja import Field, Query, Router, Schema, Status

from autocrm.core.api import (
    DETAIL_ERROR_RESPONSES,
    MAX_ID,
    ErrorOut,
    ListParams,
    Page,
    json_body,
    object_id,
    paginate,
    require_perm,
)
from autocrm.core.errors import ValidationFailed
from autocrm.orders import passport as passports
from autocrm.orders.models import Document, Invoice
from autocrm.orders.selectors import order_get
from autocrm.orders.selectors_documents import document_get, document_list
from autocrm.orders.services import documents as services
from autocrm.orders.views_documents import document_file_response

router = Router(tags=["order documents"])

VIEW_PERMISSION = "orders.view_orders"
GENERATE_PERMISSION = "orders.sell"
PASSPORT_PERMISSION = "orders.view_deal_passport"


class UserRef(Schema):
    id: int
    name: str


class DocumentOut(Schema):
    id: int
    order_id: int
    kind: str = Field(description="contract, acceptance_act, invoice or scan.")
    title: str
    content_type: str = Field(
        description="Told from the content: application/pdf, image/jpeg, image/png."
    )
    size: int = Field(description="Bytes.")
    sha256: str
    original_name: str
    invoice_id: int | None
    created_by: UserRef | None
    created_at: datetime
    download_url: str


class GenerateIn(Schema):
    kind: Literal["contract", "acceptance_act", "invoice"] = Field(
        description="contract; acceptance_act (only for orders ready for delivery or delivered, "
        "else 409); invoice (needs invoice_id)."
    )
    invoice_id: int | None = Field(None, ge=1, le=MAX_ID, description="For kind invoice.")


class PassportLineOut(Schema):
    kind: str = Field(description="income, expense or info (shown, not counted).")
    code: str
    label: str
    amount: Decimal = Field(description='A decimal string, e.g. "1829900.00".')


class PassportOut(Schema):
    vehicle_id: int
    order_id: int | None = Field(description="The car's latest order that was not cancelled.")
    lines: list[PassportLineOut]
    income_total: Decimal
    expense_total: Decimal
    margin: Decimal = Field(description="income_total − expense_total.")


def _document(document: Document) -> dict[str, Any]:
    creator = document.created_by
    return {
        "id": document.pk,
        "order_id": document.order_id,
        "kind": document.kind,
        "title": document.title,
        "content_type": document.content_type,
        "size": document.size,
        "sha256": document.sha256,
        "original_name": document.original_name,
        "invoice_id": document.invoice_id,
        "created_by": None if creator is None else {"id": creator.pk, "name": creator.display_name},
        "created_at": document.created_at,
        "download_url": reverse("api:document_download", args=[document.pk]),
    }


UPLOAD_BODY = {
    "requestBody": {
        "required": True,
        "content": {
            "multipart/form-data": {
                "schema": {
                    "type": "object",
                    "required": ["file"],
                    "properties": {
                        "file": {
                            "type": "string",
                            "format": "binary",
                            "description": "PDF, JPEG or PNG (told from the content), "
                            "up to settings.DOCUMENT_MAX_BYTES.",
                        },
                        "title": {"type": "string", "maxLength": 200},
                    },
                }
            }
        },
    }
}


@router.get(
    "/orders/{order_id}/documents",
    response={200: Page[DocumentOut], **DETAIL_ERROR_RESPONSES},
    summary="Documents of an order",
)
def documents(
    request: HttpRequest, params: Query[ListParams], order_id: int = object_id()
) -> dict[str, Any]:
    """Generated documents (every version) and uploaded scans, newest first."""
    require_perm(request, VIEW_PERMISSION)
    order = order_get(request.user, order_id)
    page = paginate(document_list(request.user, order), params)
    return {"count": page["count"], "items": [_document(row) for row in page["items"]]}


@router.post(
    "/orders/{order_id}/documents",
    response={201: DocumentOut, **DETAIL_ERROR_RESPONSES},
    summary="Upload a scan",
    openapi_extra=UPLOAD_BODY,
)
def document_upload(request: HttpRequest, order_id: int = object_id()) -> Status[dict[str, Any]]:
    """Multipart with the field ``file`` (and optional ``title``). The type is told from the
    content: anything but PDF, JPEG or PNG, an empty or a too large file is a 400 on
    ``file``. Stored outside the web root."""
    require_perm(request, VIEW_PERMISSION)
    order = order_get(request.user, order_id)
    upload = request.FILES.get("file")
    if upload is None:
        raise ValidationFailed(_("Choose a file to upload."), field="file")
    document = services.document_upload(
        actor=request.user, order=order, upload=upload, title=request.POST.get("title", "")
    )
    return Status(201, _document(document))


@router.post(
    "/orders/{order_id}/documents/generate",
    response={201: DocumentOut, 409: ErrorOut, **DETAIL_ERROR_RESPONSES},
    summary="Generate a document",
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {"application/json": {"schema": GenerateIn.model_json_schema()}},
        }
    },
)
def document_generate(request: HttpRequest, order_id: int = object_id()) -> Status[dict[str, Any]]:
    """A new version of the sales contract, the acceptance act (409 unless the order is
    ready for delivery or delivered) or an invoice's PDF; older versions are kept."""
    require_perm(request, GENERATE_PERMISSION)
    order = order_get(request.user, order_id)
    payload: GenerateIn = json_body(request, GenerateIn)
    invoice: Invoice | None = None
    if payload.invoice_id is not None:
        invoice = Invoice.objects.filter(pk=payload.invoice_id, order=order).first()
        if invoice is None:
            raise ValidationFailed(_("No such invoice on this order."), field="invoice_id")
    document = services.document_generate(
        actor=request.user, order=order, kind=payload.kind, invoice=invoice
    )
    return Status(201, _document(document))


@router.get(
    "/documents/{document_id}/download",
    response={200: None, **DETAIL_ERROR_RESPONSES},
    summary="Download a document",
    url_name="document_download",
    openapi_extra={
        "responses": {
            "200": {
                "description": "The file, as an attachment.",
                "content": {
                    "application/pdf": {"schema": {"type": "string", "format": "binary"}},
                    "image/jpeg": {"schema": {"type": "string", "format": "binary"}},
                    "image/png": {"schema": {"type": "string", "format": "binary"}},
                },
            }
        }
    },
)
def document_download(request: HttpRequest, document_id: int = object_id()) -> FileResponse:
    """The file with its content type, as an attachment, for callers who see the order."""
    require_perm(request, VIEW_PERMISSION)
    return document_file_response(document_get(request.user, document_id))


@router.delete(
    "/documents/{document_id}",
    response={204: None, 409: ErrorOut, **DETAIL_ERROR_RESPONSES},
    summary="Delete an uploaded scan",
)
def document_delete(request: HttpRequest, document_id: int = object_id()) -> HttpResponse:
    """Its uploader or a head may delete a scan (403 for others); generated documents are
    kept (409)."""
    require_perm(request, VIEW_PERMISSION)
    document = document_get(request.user, document_id)
    services.document_delete(actor=request.user, document=document)
    return HttpResponse(status=204)


@router.get(
    "/vehicles/{vehicle_id}/deal-passport",
    response={200: PassportOut, **DETAIL_ERROR_RESPONSES},
    summary="Deal passport of a vehicle",
)
def deal_passport(request: HttpRequest, vehicle_id: int = object_id()) -> dict[str, Any]:
    """Income (sale price, equipment sold, importer bonuses, financial products'
    commissions), expense (cost price, transport, consignment, equipment cost, promotion
    discounts), their totals and the gross margin; ``info`` lines are not counted."""
    require_perm(request, PASSPORT_PERMISSION)
    vehicle = passports.passport_vehicle_get(request.user, vehicle_id)
    passport = passports.deal_passport(vehicle)
    return {
        "vehicle_id": vehicle.pk,
        "order_id": passport.order.pk if passport.order is not None else None,
        "lines": [
            {"kind": line.kind, "code": line.code, "label": str(line.label), "amount": line.amount}
            for line in passport.lines
        ],
        "income_total": passport.income_total,
        "expense_total": passport.expense_total,
        "margin": passport.margin,
    }
