"""Forms of the invoices tab. They only parse input; the rules live in
``services.invoices`` (limits, statuses, permissions)."""

from __future__ import annotations

import uuid
from decimal import Decimal, InvalidOperation
from typing import Any

from django import forms
from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _

from autocrm.core.money import MAX_AMOUNT
from autocrm.orders.models import InvoiceKind, PaymentMethod

_INPUT = {"class": "form-control form-control-sm"}
_SELECT = {"class": "form-select form-select-sm"}


class MoneyField(forms.Field):
    """Roubles as people type them: "10000", "10 000,50", "1829900.00". More than two
    decimals is refused, never rounded."""

    max_length = 30

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault(
            "widget",
            forms.TextInput(attrs={**_INPUT, "inputmode": "decimal", "maxlength": self.max_length}),
        )
        super().__init__(**kwargs)

    def to_python(self, value: Any) -> Decimal | None:
        text = "" if value is None else str(value)
        # Spaces of any kind group the thousands; a comma is the decimal separator.
        cleaned = "".join(text.split()).replace(",", ".")
        if not cleaned:
            return None
        if len(cleaned) > self.max_length:
            raise ValidationError(_("Enter an amount in roubles."), code="invalid")
        try:
            amount = Decimal(cleaned)
        except InvalidOperation:
            raise ValidationError(_("Enter an amount in roubles."), code="invalid") from None
        if not amount.is_finite():
            raise ValidationError(_("Enter an amount in roubles."), code="invalid")
        if amount <= 0:
            raise ValidationError(_("The amount must be greater than zero."), code="min_value")
        if amount > MAX_AMOUNT:
            raise ValidationError(_("The amount is too large."), code="max_value")
        if amount != amount.quantize(Decimal("0.01")):
            raise ValidationError(
                _("The amount has more than two decimal places."), code="decimal_places"
            )
        return amount.quantize(Decimal("0.01"))


def money_initial(amount: Decimal) -> str:
    """An amount as the form shows it (a plain decimal, editable)."""
    return f"{amount.quantize(Decimal('0.01')):f}"


class InvoiceIssueForm(forms.Form):
    kind = forms.ChoiceField(
        label=_("Kind"), choices=InvoiceKind.choices, widget=forms.Select(attrs=_SELECT)
    )
    amount = MoneyField(label=_("Amount, ₽"))
    due_on = forms.DateField(
        label=_("Pay by"),
        required=False,
        widget=forms.DateInput(attrs={**_INPUT, "type": "date"}, format="%Y-%m-%d"),
    )
    description = forms.CharField(
        label=_("Goods line"),
        required=False,
        max_length=300,
        widget=forms.TextInput(attrs=_INPUT),
    )


class InvoiceCancelForm(forms.Form):
    reason = forms.CharField(
        label=_("Reason"), max_length=500, widget=forms.TextInput(attrs=_INPUT)
    )


def new_idempotency_key() -> str:
    """Put in the payment form when it is rendered: submitting the same form twice (a
    double click, a resent request) records one payment."""
    return f"form-{uuid.uuid4().hex}"


class PaymentForm(forms.Form):
    amount = MoneyField(label=_("Amount, ₽"))
    paid_on = forms.DateField(
        label=_("Payment date"),
        widget=forms.DateInput(attrs={**_INPUT, "type": "date"}, format="%Y-%m-%d"),
    )
    method = forms.ChoiceField(
        label=_("Method"), choices=PaymentMethod.choices, widget=forms.Select(attrs=_SELECT)
    )
    reference = forms.CharField(
        label=_("Payment document"),
        required=False,
        max_length=100,
        widget=forms.TextInput(attrs=_INPUT),
    )
    idempotency_key = forms.CharField(max_length=100, widget=forms.HiddenInput)


class RefundRequestForm(forms.Form):
    amount = MoneyField(label=_("Amount, ₽"))
    reason = forms.CharField(
        label=_("Reason"), max_length=500, widget=forms.TextInput(attrs=_INPUT)
    )


class RefundDecisionForm(forms.Form):
    comment = forms.CharField(
        label=_("Comment"), required=False, max_length=500, widget=forms.TextInput(attrs=_INPUT)
    )


def first_error(form: forms.Form) -> str:
    """The first problem of a bound form as one line: "Amount, ₽: Enter an amount…"."""
    for name, errors in form.errors.items():
        label = form.fields[name].label if name in form.fields else ""
        message = str(errors[0])
        return f"{label}: {message}" if label else message
    return ""
