"""Invoices (Счета), payments against them and the refund procedure."""

from __future__ import annotations

from decimal import Decimal

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from autocrm.core.models import TimeStampedModel
from autocrm.core.money import MoneyField
from autocrm.orders.models.orders import Issuer, Order


class InvoiceKind(models.TextChoices):
    RESERVATION = "reservation", _("Reservation")
    PREPAYMENT = "prepayment", _("Prepayment")
    FINAL = "final", _("Final payment")
    CREDIT = "credit", _("Credit")
    EQUIPMENT = "equipment", _("Additional equipment")
    PRODUCT = "product", _("Financial product")


class InvoiceStatus(models.TextChoices):
    ISSUED = "issued", _("Issued")
    PARTLY_PAID = "partly_paid", _("Partly paid")
    PAID = "paid", _("Paid")
    CANCELLED = "cancelled", _("Cancelled")
    REFUNDED = "refunded", _("Refunded")


class Invoice(TimeStampedModel):
    """``paid_amount`` is what was paid, ``refunded_amount`` what was given back; both are
    kept by the payment and refund services under a lock on the invoice."""

    order = models.ForeignKey(
        Order, models.PROTECT, related_name="invoices", verbose_name=_("sales order")
    )
    issuer = models.ForeignKey(
        Issuer, models.PROTECT, related_name="invoices", verbose_name=_("issuer")
    )
    number = models.CharField(_("number"), max_length=20, unique=True)
    issued_on = models.DateField(_("invoice date"))
    due_on = models.DateField(_("pay by"), null=True, blank=True)
    kind = models.CharField(_("kind"), max_length=12, choices=InvoiceKind.choices)
    description = models.CharField(_("description"), max_length=300, blank=True)
    amount = MoneyField(_("amount"))
    vat_rate = models.DecimalField(_("VAT rate, %"), max_digits=5, decimal_places=2)
    vat_amount = MoneyField(_("VAT included"))
    status = models.CharField(
        _("status"), max_length=12, choices=InvoiceStatus.choices, default=InvoiceStatus.ISSUED
    )
    paid_amount = MoneyField(_("paid"), default=Decimal("0"))
    refunded_amount = MoneyField(_("refunded"), default=Decimal("0"))
    paid_on = models.DateField(_("payment date"), null=True, blank=True)
    cancelled_at = models.DateTimeField(_("cancelled at"), null=True, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("issued by"),
    )

    class Meta:
        ordering = ["issued_on", "pk"]
        verbose_name = _("invoice")
        verbose_name_plural = _("invoices")
        constraints = [
            models.CheckConstraint(
                condition=Q(amount__gt=0), name="orders_invoice_amount_positive"
            ),
            models.CheckConstraint(
                condition=Q(paid_amount__gte=0) & Q(paid_amount__lte=models.F("amount")),
                name="orders_invoice_paid_within_amount",
            ),
            models.CheckConstraint(
                condition=Q(refunded_amount__gte=0)
                & Q(refunded_amount__lte=models.F("paid_amount")),
                name="orders_invoice_refund_within_paid",
            ),
        ]

    def __str__(self) -> str:
        return self.number

    @property
    def net_paid(self) -> Decimal:
        return self.paid_amount - self.refunded_amount

    @property
    def outstanding(self) -> Decimal:
        if self.status in (InvoiceStatus.CANCELLED, InvoiceStatus.REFUNDED):
            return Decimal("0")
        return self.amount - self.paid_amount


class PaymentMethod(models.TextChoices):
    CASH = "cash", _("Cash")
    CARD = "card", _("Card")
    BANK_TRANSFER = "bank_transfer", _("Bank transfer")
    CREDIT = "credit", _("Credit funds")


class Payment(models.Model):
    """One payment. The idempotency key is unique: a repeated registration (a retry, a
    double click) finds the payment it already made."""

    invoice = models.ForeignKey(
        Invoice, models.PROTECT, related_name="payments", verbose_name=_("invoice")
    )
    amount = MoneyField(_("amount"))
    paid_at = models.DateTimeField(_("paid at"))
    method = models.CharField(
        _("method"),
        max_length=14,
        choices=PaymentMethod.choices,
        default=PaymentMethod.BANK_TRANSFER,
    )
    idempotency_key = models.CharField(_("idempotency key"), max_length=100, unique=True)
    reference = models.CharField(_("payment document"), max_length=100, blank=True)
    recorded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("recorded by"),
    )
    created_at = models.DateTimeField(_("recorded at"), auto_now_add=True)

    class Meta:
        ordering = ["paid_at", "pk"]
        verbose_name = _("payment")
        verbose_name_plural = _("payments")
        constraints = [
            models.CheckConstraint(condition=Q(amount__gt=0), name="orders_payment_amount_positive")
        ]

    def __str__(self) -> str:
        return f"{self.invoice.number}: {self.amount}"


class RefundStatus(models.TextChoices):
    REQUESTED = "requested", _("Requested")
    APPROVED = "approved", _("Approved")
    REJECTED = "rejected", _("Rejected")
    REFUNDED = "refunded", _("Refunded")


REFUND_TRANSITIONS: dict[str, frozenset[str]] = {
    RefundStatus.REQUESTED: frozenset({RefundStatus.APPROVED, RefundStatus.REJECTED}),
    RefundStatus.APPROVED: frozenset({RefundStatus.REFUNDED}),
    RefundStatus.REJECTED: frozenset(),
    RefundStatus.REFUNDED: frozenset(),
}
# Refunds that count against what may still be refunded.
PENDING_REFUND_STATUSES = (RefundStatus.REQUESTED, RefundStatus.APPROVED)


class Refund(TimeStampedModel):
    """Money given back on a paid invoice: requested with a reason by the manager, approved
    (or rejected) by the head, then paid out. Never more than was paid."""

    invoice = models.ForeignKey(
        Invoice, models.PROTECT, related_name="refunds", verbose_name=_("invoice")
    )
    amount = MoneyField(_("amount"))
    reason = models.CharField(_("reason"), max_length=500)
    status = models.CharField(
        _("status"), max_length=10, choices=RefundStatus.choices, default=RefundStatus.REQUESTED
    )
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("requested by"),
    )
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("decided by"),
    )
    decided_at = models.DateTimeField(_("decided at"), null=True, blank=True)
    decision_comment = models.CharField(_("decision comment"), max_length=500, blank=True)
    refunded_at = models.DateTimeField(_("refunded at"), null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-pk"]
        verbose_name = _("refund")
        verbose_name_plural = _("refunds")
        constraints = [
            models.CheckConstraint(condition=Q(amount__gt=0), name="orders_refund_amount_positive")
        ]

    def __str__(self) -> str:
        return f"{self.invoice.number}: −{self.amount}"
