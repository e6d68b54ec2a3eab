"""HTML of invoices: the "Invoices" tab of the order card (issue an invoice, print it,
register payments, request refunds; heads approve, reject and mark refunds paid out) and
the heads' queue of refunds to decide.

Views parse input, call one selector or service and render. An order or invoice outside
the user's dealer centers is a 404.

htmx: an action answers with the part it came from rendered afresh (the tab or the
queue) and ``HX-Trigger: orderChanged``, so the card's totals reload. A refused action
answers with its 4xx status and the same part showing the reason as an alert (the part
is marked ``data-swap-errors``, see ``static/js/orders.js``). Without JavaScript the
forms post normally and are redirected back with a message.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, time
from decimal import Decimal
from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.urls import NoReverseMatch, reverse
from django.utils import timezone
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_POST
from rules.contrib.views import permission_required

from autocrm.core.errors import DomainError, NotFound, ValidationFailed
from autocrm.orders import selectors, selectors_invoices
from autocrm.orders.forms_invoices import (
    InvoiceCancelForm,
    InvoiceIssueForm,
    PaymentForm,
    RefundDecisionForm,
    RefundRequestForm,
    first_error,
    money_initial,
    new_idempotency_key,
)
from autocrm.orders.models import (
    PENDING_REFUND_STATUSES,
    Invoice,
    InvoiceKind,
    InvoiceStatus,
    Order,
    PaymentMethod,
    Refund,
    RefundStatus,
)
from autocrm.orders.money_words import format_money
from autocrm.orders.pdf import invoice_filename, render_invoice_pdf
from autocrm.orders.services import invoices as services

VIEW = "orders.view_orders"
SELL = "orders.sell"
PAY = "orders.register_payments"
APPROVE = "orders.approve_refunds"
ORDER_CHANGED = "orderChanged"
QUEUE_LIMIT = 200
TAB_TEMPLATE = "orders/invoices/_tab.html"
QUEUE_TEMPLATE = "orders/invoices/refund_queue.html"
QUEUE_PART_TEMPLATE = "orders/invoices/_refund_queue_list.html"

view_permission = permission_required(VIEW, raise_exception=True)


# --------------------------------------------------------------------------- helpers


def _htmx(request: HttpRequest) -> bool:
    return bool(getattr(request, "htmx", False))


def _order_or_404(request: HttpRequest, order_id: int) -> Order:
    try:
        return selectors.order_get(request.user, order_id)
    except NotFound:
        raise Http404 from None


def _invoice_or_404(request: HttpRequest, invoice_id: int) -> Invoice:
    try:
        return selectors_invoices.invoice_get(request.user, invoice_id)
    except NotFound:
        raise Http404 from None


def _refund_or_404(request: HttpRequest, refund_id: int) -> Refund:
    try:
        return selectors_invoices.refund_get(request.user, refund_id)
    except NotFound:
        raise Http404 from None


def _require(request: HttpRequest, permission: str) -> None:
    if not request.user.has_perm(permission):
        raise PermissionDenied


def _order_card_url(order_id: int) -> str:
    try:
        return reverse("orders:order_detail", args=[order_id]) + "#invoices"
    except NoReverseMatch:
        return reverse("orders:invoices_tab", args=[order_id])


def _back(request: HttpRequest, default: str) -> str:
    candidate = request.POST.get("next") or ""
    if candidate and url_has_allowed_host_and_scheme(
        candidate, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return candidate
    return default


def _from_queue(request: HttpRequest) -> bool:
    return request.POST.get("part") == "queue"


def _form_error(form: Any) -> ValidationFailed:
    name = next(iter(form.errors), None)
    return ValidationFailed(first_error(form), field=name)


# --------------------------------------------------------------------------- the tab


@dataclass
class InvoiceRow:
    invoice: Invoice
    payments: list[Any]
    refunds: list[Refund]
    refundable: Decimal
    payment_form: PaymentForm | None = None
    refund_form: RefundRequestForm | None = None
    cancel_form: InvoiceCancelForm | None = None
    open: bool = False
    pending: list[Refund] = field(default_factory=list)


def _today(order: Order) -> Any:
    return services.dealer_center_today(order)


def _rows(request: HttpRequest, order: Order, *, open_id: int | None = None) -> list[InvoiceRow]:
    user = request.user
    can_pay = user.has_perm(PAY)
    can_sell = user.has_perm(SELL)
    invoices = list(
        selectors_invoices.order_invoices(order).prefetch_related(
            "payments__recorded_by", "refunds__requested_by", "refunds__decided_by"
        )
    )
    today = _today(order)
    rows = []
    for invoice in invoices:
        refunds = sorted(invoice.refunds.all(), key=lambda refund: (refund.created_at, refund.pk))
        pending = [refund for refund in refunds if refund.status in PENDING_REFUND_STATUSES]
        refundable = selectors_invoices.refundable_amount(invoice)
        row = InvoiceRow(
            invoice=invoice,
            payments=sorted(invoice.payments.all(), key=lambda p: (p.paid_at, p.pk)),
            refunds=refunds,
            refundable=refundable,
            pending=pending,
        )
        if can_pay and invoice.outstanding > 0:
            row.payment_form = PaymentForm(
                initial={
                    "amount": money_initial(invoice.outstanding),
                    "paid_on": today,
                    "method": PaymentMethod.BANK_TRANSFER,
                    "idempotency_key": new_idempotency_key(),
                },
                prefix=f"pay{invoice.pk}",
            )
        if can_sell and refundable > 0:
            row.refund_form = RefundRequestForm(
                initial={"amount": money_initial(refundable)}, prefix=f"refund{invoice.pk}"
            )
        if (
            can_sell
            and invoice.paid_amount == 0
            and invoice.status not in services.CLOSED_INVOICE_STATUSES
        ):
            row.cancel_form = InvoiceCancelForm(prefix=f"cancel{invoice.pk}")
        # Open what needs doing: money still due, refunds to decide or pay out.
        row.open = invoice.pk == open_id or bool(pending) or invoice.outstanding > 0
        rows.append(row)
    return rows


def _tab_context(
    request: HttpRequest,
    order: Order,
    *,
    error: DomainError | None = None,
    issue_form: InvoiceIssueForm | None = None,
    open_id: int | None = None,
) -> dict[str, Any]:
    user = request.user
    invoiceable = selectors_invoices.invoiceable_amount(order)
    can_issue = user.has_perm(SELL) and order.is_active and order.issuer_id is not None
    if issue_form is None and can_issue and invoiceable > 0:
        issue_form = InvoiceIssueForm(
            initial={
                "kind": InvoiceKind.RESERVATION
                if not order.invoices.exists()
                else InvoiceKind.FINAL,
                "amount": money_initial(invoiceable),
            },
            prefix="issue",
        )
    return {
        "order": order,
        "rows": _rows(request, order, open_id=open_id),
        "invoiceable": invoiceable,
        "issue_form": issue_form if can_issue else None,
        "no_issuer": order.issuer_id is None,
        "can_approve": user.has_perm(APPROVE),
        "error": error,
        "next": _order_card_url(order.pk),
        "RefundStatus": RefundStatus,
        "InvoiceStatus": InvoiceStatus,
    }


def _tab(
    request: HttpRequest,
    order: Order,
    *,
    status: int = 200,
    **context: Any,
) -> HttpResponse:
    order = _order_or_404(request, order.pk)  # the totals as the action left them
    with timezone.override(services.dealer_center_zone(order)):
        return render(request, TAB_TEMPLATE, _tab_context(request, order, **context), status=status)


@require_GET
@login_required
@view_permission
def invoices_tab(request: HttpRequest, order_id: int) -> HttpResponse:
    order = _order_or_404(request, order_id)
    return _tab(request, order)


def _done(
    request: HttpRequest,
    order: Order,
    message: str,
    *,
    open_id: int | None = None,
) -> HttpResponse:
    if _htmx(request):
        response = (
            _queue(request) if _from_queue(request) else _tab(request, order, open_id=open_id)
        )
        response["HX-Trigger"] = ORDER_CHANGED
        return response
    messages.success(request, message)
    default = reverse("orders:refund_queue") if _from_queue(request) else _order_card_url(order.pk)
    return HttpResponseRedirect(_back(request, default))


def _refused(
    request: HttpRequest,
    order: Order,
    error: DomainError,
    *,
    open_id: int | None = None,
    **context: Any,
) -> HttpResponse:
    if _htmx(request):
        if _from_queue(request):
            return _queue(request, error=error, status=error.status_code)
        return _tab(
            request, order, status=error.status_code, error=error, open_id=open_id, **context
        )
    messages.error(request, str(error.message))
    default = reverse("orders:refund_queue") if _from_queue(request) else _order_card_url(order.pk)
    return HttpResponseRedirect(_back(request, default))


# --------------------------------------------------------------------------- invoices


@require_POST
@login_required
@view_permission
def invoice_issue(request: HttpRequest, order_id: int) -> HttpResponse:
    order = _order_or_404(request, order_id)
    _require(request, SELL)
    form = InvoiceIssueForm(request.POST, prefix="issue")
    try:
        if not form.is_valid():
            raise _form_error(form)
        invoice = services.invoice_issue(
            actor=request.user,
            order=order,
            kind=form.cleaned_data["kind"],
            amount=form.cleaned_data["amount"],
            due_on=form.cleaned_data["due_on"],
            description=form.cleaned_data["description"],
        )
    except DomainError as error:
        return _refused(request, order, error, issue_form=form)
    return _done(
        request,
        order,
        _("Invoice %(number)s is issued.") % {"number": invoice.number},
        open_id=invoice.pk,
    )


@require_POST
@login_required
@view_permission
def invoice_cancel(request: HttpRequest, invoice_id: int) -> HttpResponse:
    invoice = _invoice_or_404(request, invoice_id)
    _require(request, SELL)
    form = InvoiceCancelForm(request.POST, prefix=f"cancel{invoice.pk}")
    try:
        if not form.is_valid():
            raise _form_error(form)
        services.invoice_cancel(
            actor=request.user, invoice=invoice, reason=form.cleaned_data["reason"]
        )
    except DomainError as error:
        return _refused(request, invoice.order, error, open_id=invoice.pk)
    return _done(
        request, invoice.order, _("Invoice %(number)s is cancelled.") % {"number": invoice.number}
    )


@require_GET
@login_required
@view_permission
def invoice_pdf(request: HttpRequest, invoice_id: int) -> HttpResponse:
    invoice = _invoice_or_404(request, invoice_id)
    response = HttpResponse(render_invoice_pdf(invoice), content_type="application/pdf")
    disposition = "attachment" if request.GET.get("download") == "1" else "inline"
    response["Content-Disposition"] = f'{disposition}; filename="{invoice_filename(invoice)}"'
    return response


# --------------------------------------------------------------------------- payments


def _paid_at(order: Order, day: Any) -> datetime:
    """A payment entered as a day: now when it is today, else midday of that day, in the
    dealer center's time (a day in the future stays in the future and is refused)."""
    zone = services.dealer_center_zone(order)
    if day == services.dealer_center_today(order):
        return timezone.now()
    return datetime.combine(day, time(12, 0), tzinfo=zone)


@require_POST
@login_required
@view_permission
def payment_register(request: HttpRequest, invoice_id: int) -> HttpResponse:
    invoice = _invoice_or_404(request, invoice_id)
    _require(request, PAY)
    form = PaymentForm(request.POST, prefix=f"pay{invoice.pk}")
    try:
        if not form.is_valid():
            raise _form_error(form)
        data = form.cleaned_data
        outcome = services.payment_record(
            actor=request.user,
            invoice=invoice,
            amount=data["amount"],
            paid_at=_paid_at(invoice.order, data["paid_on"]),
            idempotency_key=data["idempotency_key"],
            method=data["method"],
            reference=data["reference"],
        )
    except DomainError as error:
        return _refused(request, invoice.order, error, open_id=invoice.pk)
    message = (
        _("The payment of %(amount)s ₽ is registered.")
        if outcome.created
        else _("This payment of %(amount)s ₽ was registered already.")
    ) % {"amount": format_money(outcome.payment.amount)}
    return _done(request, invoice.order, message, open_id=invoice.pk)


# --------------------------------------------------------------------------- refunds


@require_POST
@login_required
@view_permission
def refund_request(request: HttpRequest, invoice_id: int) -> HttpResponse:
    invoice = _invoice_or_404(request, invoice_id)
    _require(request, SELL)
    form = RefundRequestForm(request.POST, prefix=f"refund{invoice.pk}")
    try:
        if not form.is_valid():
            raise _form_error(form)
        services.refund_request(
            actor=request.user,
            invoice=invoice,
            amount=form.cleaned_data["amount"],
            reason=form.cleaned_data["reason"],
        )
    except DomainError as error:
        return _refused(request, invoice.order, error, open_id=invoice.pk)
    return _done(
        request, invoice.order, _("The refund is requested from the head."), open_id=invoice.pk
    )


def _decide(request: HttpRequest, refund_id: int, action: str) -> HttpResponse:
    refund = _refund_or_404(request, refund_id)
    _require(request, APPROVE)
    order = refund.invoice.order
    form = RefundDecisionForm(request.POST, prefix=f"decide{refund.pk}")
    try:
        if not form.is_valid():
            raise _form_error(form)
        comment = form.cleaned_data["comment"]
        if action == "approve":
            services.refund_approve(actor=request.user, refund=refund, comment=comment)
            message = _("The refund is approved.")
        elif action == "reject":
            services.refund_reject(actor=request.user, refund=refund, comment=comment)
            message = _("The refund is rejected.")
        else:
            services.refund_complete(actor=request.user, refund=refund)
            message = _("The refund is marked as paid out.")
    except DomainError as error:
        return _refused(request, order, error, open_id=refund.invoice_id)
    return _done(request, order, message, open_id=refund.invoice_id)


@require_POST
@login_required
@view_permission
def refund_approve(request: HttpRequest, refund_id: int) -> HttpResponse:
    return _decide(request, refund_id, "approve")


@require_POST
@login_required
@view_permission
def refund_reject(request: HttpRequest, refund_id: int) -> HttpResponse:
    return _decide(request, refund_id, "reject")


@require_POST
@login_required
@view_permission
def refund_complete(request: HttpRequest, refund_id: int) -> HttpResponse:
    return _decide(request, refund_id, "complete")


# --------------------------------------------------------------------------- the heads' queue


def _queue_context(request: HttpRequest, *, error: DomainError | None = None) -> dict[str, Any]:
    active = getattr(request, "active_dealer_center_id", None)
    refunds = selectors_invoices.refunds_visible(request.user, dealer_center_id=active).filter(
        status__in=PENDING_REFUND_STATUSES
    )
    rows = list(refunds[: QUEUE_LIMIT + 1])
    return {
        "requested": [
            refund for refund in rows[:QUEUE_LIMIT] if refund.status == RefundStatus.REQUESTED
        ],
        "approved": [
            refund for refund in rows[:QUEUE_LIMIT] if refund.status == RefundStatus.APPROVED
        ],
        "more": len(rows) > QUEUE_LIMIT,
        "error": error,
        "RefundStatus": RefundStatus,
    }


def _queue(
    request: HttpRequest, *, error: DomainError | None = None, status: int = 200
) -> HttpResponse:
    return render(request, QUEUE_PART_TEMPLATE, _queue_context(request, error=error), status=status)


@require_GET
@login_required
@permission_required(APPROVE, raise_exception=True)
def refund_queue(request: HttpRequest) -> HttpResponse:
    """Refunds of the head's dealer centers waiting for a decision or for the payout."""
    if _htmx(request):
        return _queue(request)
    return render(request, QUEUE_TEMPLATE, _queue_context(request))
