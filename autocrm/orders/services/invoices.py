"""Invoices (Счета) of a sales order, payments against them and the refund procedure.

Every public function is one transaction and takes its locks in one order: the sales
order, then the invoice, then the refund (the issuer last, for the invoice number). The
order's lock serialises everything that changes its money, so the checks below ("no more
invoiced than the order is worth", "no more paid than invoiced", "no more refunded than
paid") see every earlier change; the database's constraints on ``Invoice`` are the last
guard. Each function ends with ``order_recalculate`` so the order's totals, paid amount,
balance and payment status are current when it commits.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, tzinfo
from decimal import Decimal, InvalidOperation
from typing import Any

from django.contrib.auth import get_user_model
from django.db import IntegrityError, transaction
from django.db.models import Max, Sum
from django.urls import NoReverseMatch, reverse
from django.utils import timezone
from django.utils.translation import gettext as _

from autocrm.accounts.roles import RoleCode
from autocrm.communications.models import NotificationKind
from autocrm.communications.services import notification_create
from autocrm.core.audit import user_or_none
from autocrm.core.errors import Conflict, NotAllowed, TransitionNotAllowed, ValidationFailed
from autocrm.core.money import MAX_AMOUNT, round_money
from autocrm.core.timezones import local_today, zone_named
from autocrm.orders.models import (
    REFUND_TRANSITIONS,
    Invoice,
    InvoiceKind,
    InvoiceStatus,
    Issuer,
    Order,
    OrderEventKind,
    Payment,
    PaymentMethod,
    Refund,
    RefundStatus,
)
from autocrm.orders.money_words import format_money
from autocrm.orders.selectors_invoices import invoiceable_amount, refundable_amount
from autocrm.orders.services.orders import (
    order_lock,
    order_log,
    order_recalculate,
    require_order_access,
)

ZERO = Decimal("0")
# The largest amount a MoneyField holds (14 digits, 2 of them kopecks).
NUMBER_DIGITS = 7  # POC0002235: the prefix and seven digits, as in the seed
MAX_KEY_LENGTH = 100
MAX_REASON_LENGTH = 500
MAX_REFERENCE_LENGTH = 100
MAX_DESCRIPTION_LENGTH = 300
# Invoices that take no more money: nothing is paid into them any more.
CLOSED_INVOICE_STATUSES = (InvoiceStatus.CANCELLED, InvoiceStatus.REFUNDED)


# --------------------------------------------------------------------------- helpers


def _require_perm(actor: Any, permission: str) -> None:
    if actor is None or not actor.has_perm(permission):
        raise NotAllowed(_("You do not have permission to perform this action."))


def dealer_center_zone(order: Order) -> tzinfo:
    """The order's dealer center's time zone (the project default if it is unusable)."""
    return zone_named(order.dealer_center.time_zone)


def dealer_center_today(order: Order) -> date:
    return local_today(order.dealer_center.time_zone)


def _amount(value: Any, *, field: str = "amount") -> Decimal:
    """A positive amount of roubles and kopecks; more precision is refused, not rounded
    (a payment of 100.005 ₽ is a typo, and silently rounding money hides it)."""
    if isinstance(value, float):
        raise TypeError("Money must never be a float; pass Decimal, int or str.")
    try:
        amount = Decimal(str(value).strip().replace(",", "."))
    except (InvalidOperation, ValueError):
        raise ValidationFailed(_("Enter an amount in roubles."), field=field) from None
    if not amount.is_finite():
        raise ValidationFailed(_("Enter an amount in roubles."), field=field)
    if amount <= 0:
        raise ValidationFailed(_("The amount must be greater than zero."), field=field)
    if amount > MAX_AMOUNT:
        raise ValidationFailed(_("The amount is too large."), field=field)
    if round_money(amount) != amount:
        raise ValidationFailed(_("The amount has more than two decimal places."), field=field)
    return round_money(amount)


def _money_text(amount: Decimal) -> str:
    """1829900.00 → "1 829 900,00" for messages (no-break spaces between thousands)."""
    return format_money(amount)


def _lock_invoice(invoice: Invoice | int) -> tuple[Order, Invoice]:
    """The invoice's order and the invoice, both locked (in this order: see the module)."""
    pk = invoice if isinstance(invoice, int) else invoice.pk
    order_id = Invoice.objects.filter(pk=pk).values_list("order_id", flat=True).first()
    if order_id is None:
        raise Invoice.DoesNotExist
    order = order_lock(order_id)
    locked = Invoice.objects.select_for_update(of=("self",)).get(pk=pk)
    locked.order = order
    return order, locked


def _lock_refund(refund: Refund | int) -> tuple[Order, Invoice, Refund]:
    pk = refund if isinstance(refund, int) else refund.pk
    invoice_id = Refund.objects.filter(pk=pk).values_list("invoice_id", flat=True).first()
    if invoice_id is None:
        raise Refund.DoesNotExist
    order, invoice = _lock_invoice(invoice_id)
    locked = Refund.objects.select_for_update(of=("self",)).get(pk=pk)
    locked.invoice = invoice
    return order, invoice, locked


def _order_url(order: Order) -> str:
    """The order card's invoices tab, when the card's pages are installed."""
    try:
        return reverse("orders:order_detail", args=[order.pk]) + "#invoices"
    except NoReverseMatch:
        return ""


def _refund_queue_url() -> str:
    try:
        return reverse("orders:refund_queue")
    except NoReverseMatch:
        return ""


def _heads_of(order: Order, *, besides: Any) -> list[Any]:
    heads = (
        get_user_model()
        .objects.filter(
            is_active=True, roles__code=RoleCode.HEAD, dealer_centers=order.dealer_center_id
        )
        .distinct()
        .order_by("pk")
    )
    excluded = user_or_none(besides)
    if excluded is not None:
        heads = heads.exclude(pk=excluded.pk)
    return list(heads)


# --------------------------------------------------------------------------- invoices


def _next_number(issuer_id: int) -> tuple[Issuer, str]:
    """Take the issuer's next number. The issuer's row lock makes concurrent issues wait
    for each other, so no two transactions read the same ``next_number``; a number already
    used (the counter set back by hand) is skipped rather than failing the sale."""
    issuer = Issuer.objects.select_for_update().get(pk=issuer_id)
    number_value = issuer.next_number
    number = f"{issuer.prefix}{number_value:0{NUMBER_DIGITS}d}"
    while Invoice.objects.filter(number=number).exists():
        number_value += 1
        number = f"{issuer.prefix}{number_value:0{NUMBER_DIGITS}d}"
    Issuer.objects.filter(pk=issuer.pk).update(
        next_number=number_value + 1, updated_at=timezone.now()
    )
    issuer.next_number = number_value + 1
    return issuer, number


@transaction.atomic
def invoice_issue(
    *,
    actor: Any,
    order: Order,
    kind: str,
    amount: Decimal | int | str,
    due_on: date | None = None,
    description: str = "",
) -> Invoice:
    """Issue an invoice of the order for ``amount`` (VAT included at the issuer's rate).

    What may still be invoiced is the order's total less the trade-in credit less what
    live invoices ask for: ``total − trade_in_credit − Σ(amount − refunded_amount)`` over
    invoices neither cancelled nor refunded (``selectors_invoices.invoiceable_amount``).
    A refund thus frees its amount for a new invoice; a cancelled invoice frees all of it.
    """
    _require_perm(actor, "orders.sell")
    if kind not in InvoiceKind.values:
        raise ValidationFailed(_("Unknown kind of invoice."), field="kind")
    amount = _amount(amount)
    description = (description or "").strip()
    if len(description) > MAX_DESCRIPTION_LENGTH:
        raise ValidationFailed(
            _("At most %(count)d characters.") % {"count": MAX_DESCRIPTION_LENGTH},
            field="description",
        )
    order = order_lock(order)
    require_order_access(actor, order)
    if not order.is_active:
        raise Conflict(
            _("The order is %(status)s: no more invoices.")
            % {"status": order.get_status_display().lower()},
            code="order_closed",
        )
    issuer_id = order.issuer_id
    if issuer_id is None:
        raise Conflict(
            _("The order has no legal entity to issue invoices (set the issuer)."),
            code="no_issuer",
        )
    today = dealer_center_today(order)
    if due_on is not None and due_on < today:
        raise ValidationFailed(_("The payment deadline is in the past."), field="due_on")
    # The stored totals are current (every change recalculates), but the trade-in credit
    # and products come from other apps: recalculate before comparing money with them.
    order = order_recalculate(order, actor=actor)
    available = invoiceable_amount(order)
    if amount > available:
        raise Conflict(
            _("Only %(available)s ₽ of the order is not invoiced yet.")
            % {"available": _money_text(available)},
            field="amount",
            code="above_balance",
        )
    issuer, number = _next_number(issuer_id)
    if not issuer.is_active:  # the whole transaction rolls back: no number is lost
        raise Conflict(_("The order's issuer no longer issues invoices."), code="no_issuer")
    rate = issuer.vat_rate
    try:
        with transaction.atomic():
            invoice = Invoice.objects.create(
                order=order,
                issuer=issuer,
                number=number,
                issued_on=today,
                due_on=due_on,
                kind=kind,
                description=description,
                amount=amount,
                vat_rate=rate,
                vat_amount=round_money(amount * rate / (100 + rate)),
                created_by=user_or_none(actor),
            )
    except IntegrityError:
        # Only the unique number can fail here, and the issuer's lock rules that out;
        # should it happen anyway (numbers written around this service), refuse cleanly.
        raise Conflict(
            _("Invoice number %(number)s is taken; try again.") % {"number": number},
            code="number_taken",
        ) from None
    invoice.order = order
    order_log(
        order,
        OrderEventKind.INVOICE,
        actor,
        subject_id=invoice.pk,
        to_value=InvoiceStatus.ISSUED,
        text=f"{invoice.number} ({invoice.get_kind_display()})",
        amount=amount,
    )
    order_recalculate(order, actor=actor)
    return invoice


@transaction.atomic
def invoice_cancel(*, actor: Any, invoice: Invoice, reason: str) -> Invoice:
    """Cancel an invoice nobody paid into (a paid one is refunded instead)."""
    _require_perm(actor, "orders.sell")
    order, invoice = _lock_invoice(invoice)
    require_order_access(actor, order)
    reason = (reason or "").strip()
    if not reason:
        raise ValidationFailed(_("Say why the invoice is cancelled."), field="reason")
    if len(reason) > MAX_REASON_LENGTH:
        raise ValidationFailed(
            _("At most %(count)d characters.") % {"count": MAX_REASON_LENGTH}, field="reason"
        )
    if invoice.status in CLOSED_INVOICE_STATUSES:
        raise TransitionNotAllowed(
            _("The invoice is %(status)s already.")
            % {"status": invoice.get_status_display().lower()},
            field="status",
        )
    if invoice.paid_amount > 0:
        raise Conflict(
            _("%(paid)s ₽ is paid into this invoice: refund it instead of cancelling.")
            % {"paid": _money_text(invoice.paid_amount)},
            code="invoice_paid",
        )
    from_status = invoice.status
    invoice.status = InvoiceStatus.CANCELLED
    invoice.cancelled_at = timezone.now()
    invoice.save(update_fields=["status", "cancelled_at", "updated_at"])
    order_log(
        order,
        OrderEventKind.INVOICE,
        actor,
        subject_id=invoice.pk,
        from_value=from_status,
        to_value=InvoiceStatus.CANCELLED,
        text=f"{invoice.number}: {reason}",
        amount=invoice.amount,
    )
    order_recalculate(order, actor=actor)
    return invoice


# --------------------------------------------------------------------------- payments


@dataclass(frozen=True)
class PaymentOutcome:
    payment: Payment
    created: bool  # False: the idempotency key's payment was recorded before


def _replayed(idempotency_key: str, invoice_id: int, amount: Decimal) -> PaymentOutcome | None:
    """The payment recorded before under this key, when the repeat asks for the same;
    a different invoice or amount under the same key is refused (a client's bug)."""
    earlier = Payment.objects.filter(idempotency_key=idempotency_key).first()
    if earlier is None:
        return None
    if earlier.invoice_id != invoice_id or earlier.amount != amount:
        raise Conflict(
            _("This idempotency key was used for another payment."),
            field="idempotency_key",
            code="idempotency_key_reused",
        )
    return PaymentOutcome(earlier, created=False)


def _paid_moment(order: Order, paid_at: datetime) -> datetime:
    if not isinstance(paid_at, datetime):
        raise ValidationFailed(_("Enter the date and time of the payment."), field="paid_at")
    if timezone.is_naive(paid_at):
        # A time without an offset is the dealer center's local time.
        paid_at = timezone.make_aware(paid_at, dealer_center_zone(order))
    if paid_at > timezone.now():
        raise ValidationFailed(_("The payment date is in the future."), field="paid_at")
    if paid_at.year < 2000:
        raise ValidationFailed(_("The payment date is too far in the past."), field="paid_at")
    return paid_at


@transaction.atomic
def payment_record(
    *,
    actor: Any,
    invoice: Invoice,
    amount: Decimal | int | str,
    paid_at: datetime,
    idempotency_key: str,
    method: str = PaymentMethod.BANK_TRANSFER,
    reference: str = "",
) -> PaymentOutcome:
    """Register a payment into the invoice and tell whether it is new.

    Idempotent: the same key again (a retry, a double click) returns the payment recorded
    the first time and changes nothing. Concurrent requests with one key serialise on the
    order's lock, and where they do not (two invoices), the key's unique index decides:
    the loser finds the winner's payment."""
    _require_perm(actor, "orders.register_payments")
    key = (idempotency_key or "").strip()
    if not key:
        raise ValidationFailed(_("Send an idempotency key."), field="idempotency_key")
    if len(key) > MAX_KEY_LENGTH:
        raise ValidationFailed(
            _("At most %(count)d characters.") % {"count": MAX_KEY_LENGTH},
            field="idempotency_key",
        )
    amount = _amount(amount)
    if method not in PaymentMethod.values:
        raise ValidationFailed(_("Unknown payment method."), field="method")
    reference = (reference or "").strip()
    if len(reference) > MAX_REFERENCE_LENGTH:
        raise ValidationFailed(
            _("At most %(count)d characters.") % {"count": MAX_REFERENCE_LENGTH},
            field="reference",
        )
    require_order_access(actor, invoice.order)
    paid_at = _paid_moment(invoice.order, paid_at)
    replay = _replayed(key, invoice.pk, amount)
    if replay is not None:
        return replay
    order, invoice = _lock_invoice(invoice)
    replay = _replayed(key, invoice.pk, amount)  # recorded while we waited for the lock
    if replay is not None:
        return replay
    if invoice.status in CLOSED_INVOICE_STATUSES:
        raise Conflict(
            _("The invoice is %(status)s: it takes no payments.")
            % {"status": invoice.get_status_display().lower()},
            code="invoice_closed",
        )
    outstanding = invoice.amount - invoice.paid_amount
    if amount > outstanding:
        raise Conflict(
            _("Overpayment: only %(outstanding)s ₽ of invoice %(number)s is unpaid.")
            % {"outstanding": _money_text(outstanding), "number": invoice.number},
            field="amount",
            code="overpayment",
        )
    try:
        with transaction.atomic():
            payment = Payment.objects.create(
                invoice=invoice,
                amount=amount,
                paid_at=paid_at,
                method=method,
                idempotency_key=key,
                reference=reference,
                recorded_by=user_or_none(actor),
            )
    except IntegrityError:
        replay = _replayed(key, invoice.pk, amount)
        if replay is None:
            raise
        return replay
    from_status = invoice.status
    invoice.paid_amount += amount
    if invoice.paid_amount == invoice.amount:
        invoice.status = InvoiceStatus.PAID
        last_paid_at = invoice.payments.aggregate(last=Max("paid_at"))["last"] or paid_at
        invoice.paid_on = timezone.localtime(last_paid_at, dealer_center_zone(order)).date()
    else:
        invoice.status = InvoiceStatus.PARTLY_PAID
    invoice.save(update_fields=["paid_amount", "status", "paid_on", "updated_at"])
    order_log(
        order,
        OrderEventKind.PAYMENT,
        actor,
        subject_id=payment.pk,
        from_value=from_status,
        to_value=invoice.status,
        text=f"{invoice.number}: {payment.get_method_display()}"
        + (f", {reference}" if reference else ""),
        amount=amount,
    )
    order_recalculate(order, actor=actor)
    payment.invoice = invoice
    return PaymentOutcome(payment, created=True)


def payment_register(
    *,
    actor: Any,
    invoice: Invoice,
    amount: Decimal | int | str,
    paid_at: datetime,
    idempotency_key: str,
    method: str = PaymentMethod.BANK_TRANSFER,
    reference: str = "",
) -> Payment:
    """``payment_record`` for callers that need only the payment (new or replayed)."""
    return payment_record(
        actor=actor,
        invoice=invoice,
        amount=amount,
        paid_at=paid_at,
        idempotency_key=idempotency_key,
        method=method,
        reference=reference,
    ).payment


# --------------------------------------------------------------------------- refunds


def _above_paid(invoice: Invoice, available: Decimal) -> Conflict:
    return Conflict(
        _("Only %(available)s ₽ of invoice %(number)s may still be refunded.")
        % {"available": _money_text(max(available, ZERO)), "number": invoice.number},
        field="amount",
        code="above_paid",
    )


@transaction.atomic
def refund_request(
    *, actor: Any, invoice: Invoice, amount: Decimal | int | str, reason: str
) -> Refund:
    """Ask to give money of a paid invoice back. What is asked for, together with the
    refunds already pending (requested or approved) and done, never exceeds what was paid
    (``selectors_invoices.refundable_amount``); the heads of the dealer center are told."""
    _require_perm(actor, "orders.sell")
    amount = _amount(amount)
    reason = (reason or "").strip()
    if not reason:
        raise ValidationFailed(_("Say why the money is refunded."), field="reason")
    if len(reason) > MAX_REASON_LENGTH:
        raise ValidationFailed(
            _("At most %(count)d characters.") % {"count": MAX_REASON_LENGTH}, field="reason"
        )
    order, invoice = _lock_invoice(invoice)
    require_order_access(actor, order)
    if invoice.paid_amount <= 0 or invoice.status in CLOSED_INVOICE_STATUSES:
        raise Conflict(
            _("Invoice %(number)s has nothing paid to refund.") % {"number": invoice.number},
            code="not_paid",
        )
    available = refundable_amount(invoice)
    if amount > available:
        raise _above_paid(invoice, available)
    refund = Refund.objects.create(
        invoice=invoice, amount=amount, reason=reason, requested_by=user_or_none(actor)
    )
    order_log(
        order,
        OrderEventKind.REFUND,
        actor,
        subject_id=refund.pk,
        to_value=RefundStatus.REQUESTED,
        text=f"{invoice.number}: {reason}",
        amount=amount,
    )
    text = _(
        "Refund of %(amount)s ₽ on invoice %(number)s (order No. %(order)s) to approve: %(reason)s"
    ) % {
        "amount": _money_text(amount),
        "number": invoice.number,
        "order": order.number,
        "reason": reason,
    }
    for head in _heads_of(order, besides=actor):
        # A request waits for the head's decision: an escalation to him (mailed too).
        notification_create(
            user=head, kind=NotificationKind.ESCALATION, text=text, url=_refund_queue_url()
        )
    order_recalculate(order, actor=actor)
    return refund


def _refund_move(refund: Refund, to: str) -> None:
    if to not in REFUND_TRANSITIONS[refund.status]:
        raise TransitionNotAllowed(
            _("A refund cannot go from “%(from)s” to “%(to)s”.")
            % {"from": refund.get_status_display(), "to": RefundStatus(to).label},
            field="status",
        )


def _tell_requester(refund: Refund, order: Order, actor: Any, text: str) -> None:
    requester = refund.requested_by
    if requester is None or not requester.is_active or requester == user_or_none(actor):
        return
    notification_create(
        user=requester, kind=NotificationKind.GENERAL, text=text, url=_order_url(order)
    )


def _decide(refund: Refund, actor: Any, to: str, comment: str) -> None:
    refund.status = to
    refund.decided_by = user_or_none(actor)
    refund.decided_at = timezone.now()
    refund.decision_comment = comment
    refund.save(
        update_fields=["status", "decided_by", "decided_at", "decision_comment", "updated_at"]
    )


def _clean_comment(comment: str, *, required: bool) -> str:
    comment = (comment or "").strip()
    if required and not comment:
        raise ValidationFailed(_("Say why the refund is rejected."), field="comment")
    if len(comment) > MAX_REASON_LENGTH:
        raise ValidationFailed(
            _("At most %(count)d characters.") % {"count": MAX_REASON_LENGTH}, field="comment"
        )
    return comment


@transaction.atomic
def refund_approve(*, actor: Any, refund: Refund, comment: str = "") -> Refund:
    """A head approves a requested refund. The limit is checked again under the invoice's
    lock against what is refunded and approved already, so two heads approving at once
    can never together give back more than was paid."""
    _require_perm(actor, "orders.approve_refunds")
    comment = _clean_comment(comment, required=False)
    order, invoice, refund = _lock_refund(refund)
    require_order_access(actor, order)
    _refund_move(refund, RefundStatus.APPROVED)
    approved = (
        invoice.refunds.filter(status=RefundStatus.APPROVED)
        .exclude(pk=refund.pk)
        .aggregate(total=Sum("amount"))["total"]
        or ZERO
    )
    available = invoice.paid_amount - invoice.refunded_amount - approved
    if refund.amount > available:
        raise _above_paid(invoice, available)
    _decide(refund, actor, RefundStatus.APPROVED, comment)
    order_log(
        order,
        OrderEventKind.REFUND,
        actor,
        subject_id=refund.pk,
        from_value=RefundStatus.REQUESTED,
        to_value=RefundStatus.APPROVED,
        text=f"{invoice.number}: {comment}" if comment else invoice.number,
        amount=refund.amount,
    )
    _tell_requester(
        refund,
        order,
        actor,
        _("Refund of %(amount)s ₽ on invoice %(number)s is approved.")
        % {"amount": _money_text(refund.amount), "number": invoice.number},
    )
    order_recalculate(order, actor=actor)
    return refund


@transaction.atomic
def refund_reject(*, actor: Any, refund: Refund, comment: str) -> Refund:
    """A head turns a requested refund down, saying why; the requester is told."""
    _require_perm(actor, "orders.approve_refunds")
    comment = _clean_comment(comment, required=True)
    order, invoice, refund = _lock_refund(refund)
    require_order_access(actor, order)
    _refund_move(refund, RefundStatus.REJECTED)
    _decide(refund, actor, RefundStatus.REJECTED, comment)
    order_log(
        order,
        OrderEventKind.REFUND,
        actor,
        subject_id=refund.pk,
        from_value=RefundStatus.REQUESTED,
        to_value=RefundStatus.REJECTED,
        text=f"{invoice.number}: {comment}",
        amount=refund.amount,
    )
    _tell_requester(
        refund,
        order,
        actor,
        _("Refund of %(amount)s ₽ on invoice %(number)s is rejected: %(comment)s")
        % {"amount": _money_text(refund.amount), "number": invoice.number, "comment": comment},
    )
    order_recalculate(order, actor=actor)
    return refund


@transaction.atomic
def refund_complete(*, actor: Any, refund: Refund) -> Refund:
    """The approved money went out: the invoice's refunded amount grows, and an invoice
    refunded in full (all that was paid) becomes "refunded"."""
    _require_perm(actor, "orders.approve_refunds")
    order, invoice, refund = _lock_refund(refund)
    require_order_access(actor, order)
    _refund_move(refund, RefundStatus.REFUNDED)
    if invoice.refunded_amount + refund.amount > invoice.paid_amount:
        raise _above_paid(invoice, invoice.paid_amount - invoice.refunded_amount)
    from_status = invoice.status
    invoice.refunded_amount += refund.amount
    if invoice.refunded_amount == invoice.paid_amount:
        invoice.status = InvoiceStatus.REFUNDED
    invoice.save(update_fields=["refunded_amount", "status", "updated_at"])
    refund.status = RefundStatus.REFUNDED
    refund.refunded_at = timezone.now()
    refund.save(update_fields=["status", "refunded_at", "updated_at"])
    order_log(
        order,
        OrderEventKind.REFUND,
        actor,
        subject_id=refund.pk,
        from_value=RefundStatus.APPROVED,
        to_value=RefundStatus.REFUNDED,
        text=invoice.number
        if invoice.status == from_status
        else f"{invoice.number}: {InvoiceStatus(from_status).label} → {invoice.get_status_display()}",
        amount=refund.amount,
    )
    order_recalculate(order, actor=actor)
    return refund
