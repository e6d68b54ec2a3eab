"""HTTP API of invoices (Счета), payments and refunds (docs/api.md, "Invoices").

Invoices are reached through the orders the caller sees (``selectors.orders_visible``);
anything else is a 404. Every endpoint checks the permission first, then finds the
object, then reads the body, and calls one selector or service. Money goes out as decimal
strings ("10000.00") and comes in as decimal strings or numbers with at most two decimals.
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Annotated, Any, Literal

from django.http import HttpRequest, HttpResponse
from django.urls import reverse
from ninja import Field, Query, Router, Schema, Status
from pydantic import field_validator

from autocrm.core.api import (
    DETAIL_ERROR_RESPONSES,
    ERROR_RESPONSES,
    ErrorOut,
    ListParams,
    Page,
    Text,
    body_schema,
    json_body,
    money,
    object_id,
    paginate,
    require_perm,
)
from autocrm.orders import selectors, selectors_invoices
from autocrm.orders.models import Invoice, Payment, Refund
from autocrm.orders.pdf import invoice_filename, render_invoice_pdf
from autocrm.orders.services import invoices as services

router = Router(tags=["invoices"])

VIEW_PERMISSION = "orders.view_orders"
SELL_PERMISSION = "orders.sell"
PAYMENT_PERMISSION = "orders.register_payments"
APPROVE_PERMISSION = "orders.approve_refunds"

EARLIEST_YEAR = 2000
LATEST_YEAR = 9000

InvoiceKindName = Literal["reservation", "prepayment", "final", "credit", "equipment", "product"]
InvoiceStatusName = Literal["issued", "partly_paid", "paid", "cancelled", "refunded"]
PaymentMethodName = Literal["cash", "card", "bank_transfer", "credit"]
RefundStatusName = Literal["requested", "approved", "rejected", "refunded"]


Amount = Annotated[
    Decimal,
    Field(
        gt=0,
        le=services.MAX_AMOUNT,
        max_digits=14,
        decimal_places=2,
        description='Roubles, at most two decimals: "10000.00" or 10000.',
    ),
]


# --- output ------------------------------------------------------------------------------


class Ref(Schema):
    id: int
    name: str


class InvoiceOut(Schema):
    id: int
    order_id: int
    number: str = Field(description="Issuer's prefix and a sequential number: POC0002235.")
    kind: str = Field(description="reservation, prepayment, final, credit, equipment or product.")
    kind_name: str
    status: str = Field(description="issued, partly_paid, paid, cancelled or refunded.")
    status_name: str
    amount: str = Field(description='VAT included; a decimal string, e.g. "10000.00".')
    vat_rate: str = Field(description='Percent, the issuer\'s rate when issued: "22.00".')
    vat_amount: str = Field(description="VAT included in the amount.")
    paid_amount: str
    refunded_amount: str
    outstanding: str = Field(description="Still to be paid (0 when cancelled or refunded).")
    refundable: str = Field(
        description="What a new refund request may still ask for (paid less refunded and "
        "pending refunds)."
    )
    issued_on: date = Field(description="In the dealer center's time zone.")
    due_on: date | None
    paid_on: date | None = Field(description="The date of the payment that completed it.")
    description: str
    issuer: Ref
    created_by: Ref | None
    cancelled_at: datetime | None
    created_at: datetime
    pdf_url: str


class PaymentOut(Schema):
    id: int
    invoice_id: int
    invoice_number: str
    amount: str
    paid_at: datetime
    method: str = Field(description="cash, card, bank_transfer or credit.")
    reference: str
    idempotency_key: str
    recorded_by: Ref | None
    created_at: datetime


class RefundOut(Schema):
    id: int
    invoice_id: int
    invoice_number: str
    order_id: int
    dealer_center_id: int
    client_name: str
    amount: str
    reason: str
    status: str = Field(description="requested, approved, rejected or refunded.")
    status_name: str
    requested_by: Ref | None
    decided_by: Ref | None
    decided_at: datetime | None
    decision_comment: str
    refunded_at: datetime | None
    created_at: datetime


def _ref(user: Any) -> dict[str, Any] | None:
    return None if user is None else {"id": user.pk, "name": user.display_name}


def _invoice(invoice: Invoice) -> dict[str, Any]:
    return {
        "id": invoice.pk,
        "order_id": invoice.order_id,
        "number": invoice.number,
        "kind": invoice.kind,
        "kind_name": invoice.get_kind_display(),
        "status": invoice.status,
        "status_name": invoice.get_status_display(),
        "amount": money(invoice.amount),
        "vat_rate": money(invoice.vat_rate),
        "vat_amount": money(invoice.vat_amount),
        "paid_amount": money(invoice.paid_amount),
        "refunded_amount": money(invoice.refunded_amount),
        "outstanding": money(invoice.outstanding),
        "refundable": money(selectors_invoices.refundable_amount(invoice)),
        "issued_on": invoice.issued_on,
        "due_on": invoice.due_on,
        "paid_on": invoice.paid_on,
        "description": invoice.description,
        "issuer": {"id": invoice.issuer.pk, "name": invoice.issuer.name},
        "created_by": _ref(invoice.created_by),
        "cancelled_at": invoice.cancelled_at,
        "created_at": invoice.created_at,
        "pdf_url": reverse("api:invoice_pdf", kwargs={"invoice_id": invoice.pk}),
    }


def _payment(payment: Payment, invoice: Invoice) -> dict[str, Any]:
    return {
        "id": payment.pk,
        "invoice_id": invoice.pk,
        "invoice_number": invoice.number,
        "amount": money(payment.amount),
        "paid_at": payment.paid_at,
        "method": payment.method,
        "reference": payment.reference,
        "idempotency_key": payment.idempotency_key,
        "recorded_by": _ref(payment.recorded_by),
        "created_at": payment.created_at,
    }


def _refund(refund: Refund) -> dict[str, Any]:
    invoice = refund.invoice
    return {
        "id": refund.pk,
        "invoice_id": invoice.pk,
        "invoice_number": invoice.number,
        "order_id": invoice.order_id,
        "dealer_center_id": invoice.order.dealer_center_id,
        "client_name": invoice.order.client.display_name,
        "amount": money(refund.amount),
        "reason": refund.reason,
        "status": refund.status,
        "status_name": refund.get_status_display(),
        "requested_by": _ref(refund.requested_by),
        "decided_by": _ref(refund.decided_by),
        "decided_at": refund.decided_at,
        "decision_comment": refund.decision_comment,
        "refunded_at": refund.refunded_at,
        "created_at": refund.created_at,
    }


def _fresh_invoice(request: HttpRequest, invoice_id: int) -> dict[str, Any]:
    return _invoice(selectors_invoices.invoice_get(request.user, invoice_id))


def _fresh_refund(request: HttpRequest, refund_id: int) -> dict[str, Any]:
    return _refund(selectors_invoices.refund_get(request.user, refund_id))


# --- input -------------------------------------------------------------------------------


class InvoiceIn(Schema):
    kind: InvoiceKindName
    amount: Amount
    due_on: date | None = Field(None, description="Pay by; not in the past.")
    description: Text = Field(
        "", max_length=300, description="The goods line of the printed invoice."
    )


class InvoiceCancelIn(Schema):
    reason: Text = Field("", max_length=500, description="Required.")


class PaymentIn(Schema):
    amount: Amount
    paid_at: datetime = Field(
        description="ISO 8601, not in the future; without an offset, the dealer center's "
        "local time."
    )
    idempotency_key: Text = Field(
        ...,
        min_length=1,
        max_length=100,
        description="Unique per payment: a repeat with the same key records nothing new "
        "and answers 200 with the payment recorded first.",
    )
    method: PaymentMethodName = "bank_transfer"
    reference: Text = Field("", max_length=100, description="The payment document's number.")

    @field_validator("paid_at")
    @classmethod
    def _paid_at(cls, value: datetime) -> datetime:
        # Checked before any shift between time zones, which would overflow at the ends.
        if not (EARLIEST_YEAR <= value.year <= LATEST_YEAR):
            raise ValueError(f"The year must be between {EARLIEST_YEAR} and {LATEST_YEAR}.")
        return value


class RefundIn(Schema):
    amount: Amount
    reason: Text = Field("", max_length=500, description="Required.")


class DecisionIn(Schema):
    comment: Text = Field("", max_length=500, description="Required to reject.")


class RefundFilters(ListParams):
    status: RefundStatusName | None = Field(
        None, description="requested: the heads' queue of refunds to approve."
    )
    order_id: int | None = Field(None, ge=1)
    invoice_id: int | None = Field(None, ge=1)
    dealer_center_id: int | None = Field(None, ge=1)


# --- invoices ----------------------------------------------------------------------------


@router.post(
    "/orders/{order_id}/invoices",
    response={201: InvoiceOut, 409: ErrorOut, **DETAIL_ERROR_RESPONSES},
    summary="Issue an invoice",
    openapi_extra=body_schema(InvoiceIn),
)
def invoice_create(request: HttpRequest, order_id: int = object_id()) -> Status[dict[str, Any]]:
    """Number from the issuer's sequence, VAT included at the issuer's rate, dated today
    in the dealer center. 409 ``above_balance`` when the amount is more than is still not
    invoiced (total − trade-in credit − live invoices), ``no_issuer``, ``order_closed``."""
    require_perm(request, SELL_PERMISSION)
    order = selectors.order_get(request.user, order_id)
    payload: InvoiceIn = json_body(request, InvoiceIn)
    invoice = services.invoice_issue(
        actor=request.user,
        order=order,
        kind=payload.kind,
        amount=payload.amount,
        due_on=payload.due_on,
        description=payload.description,
    )
    return Status(201, _fresh_invoice(request, invoice.pk))


@router.get(
    "/orders/{order_id}/invoices",
    response={200: Page[InvoiceOut], **DETAIL_ERROR_RESPONSES},
    summary="Invoices of an order",
)
def invoice_list(
    request: HttpRequest, params: Query[ListParams], order_id: int = object_id()
) -> dict[str, Any]:
    """Oldest first."""
    require_perm(request, VIEW_PERMISSION)
    order = selectors.order_get(request.user, order_id)
    page = paginate(selectors_invoices.order_invoices(order), params)
    return {"count": page["count"], "items": [_invoice(invoice) for invoice in page["items"]]}


@router.get(
    "/invoices/{invoice_id}",
    response={200: InvoiceOut, **DETAIL_ERROR_RESPONSES},
    summary="An invoice",
)
def invoice_detail(request: HttpRequest, invoice_id: int = object_id()) -> dict[str, Any]:
    require_perm(request, VIEW_PERMISSION)
    return _fresh_invoice(request, invoice_id)


@router.get(
    "/invoices/{invoice_id}/pdf",
    response=DETAIL_ERROR_RESPONSES,
    url_name="invoice_pdf",
    summary="The printable invoice (PDF)",
    openapi_extra={
        "responses": {
            "200": {
                "description": "The Russian “Счёт на оплату” form.",
                "content": {"application/pdf": {"schema": {"type": "string", "format": "binary"}}},
            }
        }
    },
)
def invoice_pdf(request: HttpRequest, invoice_id: int = object_id()) -> HttpResponse:
    require_perm(request, VIEW_PERMISSION)
    invoice = selectors_invoices.invoice_get(request.user, invoice_id)
    response = HttpResponse(render_invoice_pdf(invoice), content_type="application/pdf")
    response["Content-Disposition"] = f'inline; filename="{invoice_filename(invoice)}"'
    return response


@router.post(
    "/invoices/{invoice_id}/cancel",
    response={200: InvoiceOut, 409: ErrorOut, **DETAIL_ERROR_RESPONSES},
    summary="Cancel an invoice",
    openapi_extra=body_schema(InvoiceCancelIn),
)
def invoice_cancel(request: HttpRequest, invoice_id: int = object_id()) -> dict[str, Any]:
    """Only an invoice nobody paid into (409 ``invoice_paid``: refund it instead)."""
    require_perm(request, SELL_PERMISSION)
    invoice = selectors_invoices.invoice_get(request.user, invoice_id)
    payload: InvoiceCancelIn = json_body(request, InvoiceCancelIn)
    services.invoice_cancel(actor=request.user, invoice=invoice, reason=payload.reason)
    return _fresh_invoice(request, invoice_id)


# --- payments ----------------------------------------------------------------------------


@router.post(
    "/invoices/{invoice_id}/payments",
    response={201: PaymentOut, 200: PaymentOut, 409: ErrorOut, **DETAIL_ERROR_RESPONSES},
    summary="Register a payment",
    openapi_extra=body_schema(PaymentIn),
)
def payment_create(request: HttpRequest, invoice_id: int = object_id()) -> Status[dict[str, Any]]:
    """201 with the new payment; 200 with the same body when the idempotency key was
    used for this invoice and amount before (nothing new is recorded). 409
    ``idempotency_key_reused`` (the key of another payment), ``overpayment``,
    ``invoice_closed`` (cancelled or refunded)."""
    require_perm(request, PAYMENT_PERMISSION)
    invoice = selectors_invoices.invoice_get(request.user, invoice_id)
    payload: PaymentIn = json_body(request, PaymentIn)
    outcome = services.payment_record(
        actor=request.user,
        invoice=invoice,
        amount=payload.amount,
        paid_at=payload.paid_at,
        idempotency_key=payload.idempotency_key,
        method=payload.method,
        reference=payload.reference,
    )
    payment = Payment.objects.select_related("recorded_by").get(pk=outcome.payment.pk)
    return Status(201 if outcome.created else 200, _payment(payment, invoice))


@router.get(
    "/invoices/{invoice_id}/payments",
    response={200: Page[PaymentOut], **DETAIL_ERROR_RESPONSES},
    summary="Payments of an invoice",
)
def payment_list(
    request: HttpRequest, params: Query[ListParams], invoice_id: int = object_id()
) -> dict[str, Any]:
    require_perm(request, VIEW_PERMISSION)
    invoice = selectors_invoices.invoice_get(request.user, invoice_id)
    page = paginate(selectors_invoices.invoice_payments(invoice), params)
    return {"count": page["count"], "items": [_payment(p, invoice) for p in page["items"]]}


# --- refunds -----------------------------------------------------------------------------


@router.post(
    "/invoices/{invoice_id}/refunds",
    response={201: RefundOut, 409: ErrorOut, **DETAIL_ERROR_RESPONSES},
    summary="Request a refund",
    openapi_extra=body_schema(RefundIn),
)
def refund_create(request: HttpRequest, invoice_id: int = object_id()) -> Status[dict[str, Any]]:
    """With a reason; the heads of the dealer center are notified. 409 ``above_paid``
    when the amount, with the refunds pending and done, is more than was paid."""
    require_perm(request, SELL_PERMISSION)
    invoice = selectors_invoices.invoice_get(request.user, invoice_id)
    payload: RefundIn = json_body(request, RefundIn)
    refund = services.refund_request(
        actor=request.user, invoice=invoice, amount=payload.amount, reason=payload.reason
    )
    return Status(201, _fresh_refund(request, refund.pk))


@router.get(
    "/invoices/{invoice_id}/refunds",
    response={200: Page[RefundOut], **DETAIL_ERROR_RESPONSES},
    summary="Refunds of an invoice",
)
def invoice_refund_list(
    request: HttpRequest, params: Query[ListParams], invoice_id: int = object_id()
) -> dict[str, Any]:
    require_perm(request, VIEW_PERMISSION)
    invoice = selectors_invoices.invoice_get(request.user, invoice_id)
    page = paginate(selectors_invoices.refunds_visible(request.user, invoice_id=invoice.pk), params)
    return {"count": page["count"], "items": [_refund(refund) for refund in page["items"]]}


@router.get(
    "/refunds",
    response={200: Page[RefundOut], **ERROR_RESPONSES},
    summary="Refunds (the heads' queue with status=requested)",
)
def refund_list(request: HttpRequest, filters: Query[RefundFilters]) -> dict[str, Any]:
    """Refunds of the orders the caller sees, oldest first."""
    require_perm(request, VIEW_PERMISSION)
    queryset = selectors_invoices.refunds_visible(
        request.user,
        status=filters.status,
        order_id=filters.order_id,
        invoice_id=filters.invoice_id,
        dealer_center_id=filters.dealer_center_id,
    )
    page = paginate(queryset, filters)
    return {"count": page["count"], "items": [_refund(refund) for refund in page["items"]]}


@router.get(
    "/refunds/{refund_id}",
    response={200: RefundOut, **DETAIL_ERROR_RESPONSES},
    summary="A refund",
)
def refund_detail(request: HttpRequest, refund_id: int = object_id()) -> dict[str, Any]:
    require_perm(request, VIEW_PERMISSION)
    return _fresh_refund(request, refund_id)


@router.post(
    "/refunds/{refund_id}/approve",
    response={200: RefundOut, 409: ErrorOut, **DETAIL_ERROR_RESPONSES},
    summary="Approve a refund (heads)",
    openapi_extra=body_schema(DecisionIn),
)
def refund_approve(request: HttpRequest, refund_id: int = object_id()) -> dict[str, Any]:
    """Heads only (403 otherwise). 409 when the refund is not requested any more, or
    when with what is approved and refunded it would exceed what was paid."""
    require_perm(request, APPROVE_PERMISSION)
    refund = selectors_invoices.refund_get(request.user, refund_id)
    payload: DecisionIn = json_body(request, DecisionIn)
    services.refund_approve(actor=request.user, refund=refund, comment=payload.comment)
    return _fresh_refund(request, refund_id)


@router.post(
    "/refunds/{refund_id}/reject",
    response={200: RefundOut, 409: ErrorOut, **DETAIL_ERROR_RESPONSES},
    summary="Reject a refund (heads)",
    openapi_extra=body_schema(DecisionIn),
)
def refund_reject(request: HttpRequest, refund_id: int = object_id()) -> dict[str, Any]:
    """Heads only, with a comment (400 ``comment`` without one)."""
    require_perm(request, APPROVE_PERMISSION)
    refund = selectors_invoices.refund_get(request.user, refund_id)
    payload: DecisionIn = json_body(request, DecisionIn)
    services.refund_reject(actor=request.user, refund=refund, comment=payload.comment)
    return _fresh_refund(request, refund_id)


@router.post(
    "/refunds/{refund_id}/complete",
    response={200: RefundOut, 409: ErrorOut, **DETAIL_ERROR_RESPONSES},
    summary="Mark an approved refund as paid out (heads)",
)
def refund_complete(request: HttpRequest, refund_id: int = object_id()) -> dict[str, Any]:
    """The money went back to the client: the invoice's refunded amount grows; an
    invoice refunded in full becomes "refunded". 409 unless the refund is approved."""
    require_perm(request, APPROVE_PERMISSION)
    refund = selectors_invoices.refund_get(request.user, refund_id)
    services.refund_complete(actor=request.user, refund=refund)
    return _fresh_refund(request, refund_id)
