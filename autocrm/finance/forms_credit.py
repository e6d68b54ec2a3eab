"""Forms of the credit-application wizard: the calculation (stage 1), the applicant's
questionnaire (stage 2), a document upload (stage 3), the choice of an offer (stage 4)
and a cancellation.

The forms only parse what was typed (amounts as dealers write them: "279 900,50"); every
business rule — which program fits, what the questionnaire must hold — is the services'.
"""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from typing import Any

from django import forms
from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _

from autocrm.core.errors import DomainError
from autocrm.finance.models import CreditApplicant
from autocrm.finance.models.credit import DocumentKind, MaritalStatus

DOWN_PAYMENT_RUB = "rub"
DOWN_PAYMENT_PERCENT = "percent"
NO_PROGRAM = "none"
MAX_ID = 2**63 - 1

_INPUT = {"class": "form-control"}
_NUMBER = {"class": "form-control", "inputmode": "decimal", "autocomplete": "off"}


def put_error(
    form: forms.BaseForm, error: DomainError, aliases: dict[str, str]
) -> DomainError | None:
    """A service's error at the form field it names (``aliases`` maps the service's names
    to the form's); an error of no field of the form is given back, for the top of the
    page (the form may not even be shown any more, e.g. after the stage moved on)."""
    name = aliases.get(error.field or "", error.field or "")
    if name and name in form.fields:
        form.add_error(name, str(error.message))
        return None
    return error


class LooseDecimalField(forms.DecimalField):
    """A decimal typed the Russian way or the English way: spaces between thousands, a
    comma or a dot before the fraction."""

    def to_python(self, value: Any) -> Any:
        if isinstance(value, str):
            value = value.strip().replace("\u00a0", "").replace("\u202f", "").replace(" ", "")
            value = value.replace(",", ".")
        if value in self.empty_values:
            return None
        try:
            result = Decimal(str(value))
        except (InvalidOperation, ValueError):
            raise ValidationError(self.error_messages["invalid"], code="invalid") from None
        if not result.is_finite():
            raise ValidationError(self.error_messages["invalid"], code="invalid")
        return result


def _label(name: str) -> Any:
    return getattr(CreditApplicant._meta.get_field(name), "verbose_name", name)


class CalculationForm(forms.Form):
    """Stage 1, «Расчёт кредита»: the down payment in roubles or in percent (the other is
    derived), the term, CASCO, the order amount and a program (or a rate by hand)."""

    down_payment_mode = forms.ChoiceField(
        label=_("Down payment"),
        choices=[
            (DOWN_PAYMENT_RUB, _("Down payment in roubles")),
            (DOWN_PAYMENT_PERCENT, _("Down payment in percent")),
        ],
        initial=DOWN_PAYMENT_PERCENT,
        widget=forms.RadioSelect(attrs={"class": "form-check-input", "data-credit-mode": ""}),
    )
    down_payment = LooseDecimalField(
        label=_("Down payment, RUB"),
        required=False,
        min_value=Decimal("0"),
        max_digits=14,
        decimal_places=2,
        widget=forms.TextInput({**_NUMBER, "data-credit-down-rub": ""}),
    )
    down_payment_percent = LooseDecimalField(
        label=_("Down payment, %"),
        required=False,
        min_value=Decimal("0"),
        max_value=Decimal("99.99"),
        max_digits=5,
        decimal_places=2,
        widget=forms.TextInput({**_NUMBER, "data-credit-down-percent": ""}),
    )
    order_amount = LooseDecimalField(
        label=_("Order amount, RUB"),
        required=False,
        min_value=Decimal("0.01"),
        max_digits=14,
        decimal_places=2,
        widget=forms.TextInput({**_NUMBER, "data-credit-order-amount": ""}),
    )
    term_months = forms.IntegerField(
        label=_("Credit term, months"),
        min_value=1,
        max_value=120,
        widget=forms.NumberInput({**_INPUT, "min": "1", "max": "120", "step": "1"}),
    )
    casco = forms.BooleanField(
        label=_("CASCO insurance"),
        required=False,
        widget=forms.CheckboxInput({"class": "form-check-input"}),
    )
    program = forms.CharField(required=False)
    rate = LooseDecimalField(
        label=_("Rate, % a year"),
        required=False,
        min_value=Decimal("0"),
        max_value=Decimal("100"),
        max_digits=5,
        decimal_places=2,
        widget=forms.TextInput({**_NUMBER, "data-credit-rate": ""}),
    )

    def clean_program(self) -> int | None:
        raw = (self.cleaned_data.get("program") or "").strip()
        if raw in ("", NO_PROGRAM):
            return None
        if not raw.isascii() or not raw.isdigit() or len(raw) > 19 or not 1 <= int(raw) <= MAX_ID:
            raise ValidationError(_("Choose one of the listed programs."), code="invalid")
        return int(raw)

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        mode = data.get("down_payment_mode")
        wanted = {
            DOWN_PAYMENT_RUB: ("down_payment", _("Enter the down payment in roubles.")),
            DOWN_PAYMENT_PERCENT: (
                "down_payment_percent",
                _("Enter the down payment in percent."),
            ),
        }.get(mode or "")
        if wanted is not None:
            name, message = wanted
            if data.get(name) is None and name not in self.errors:
                self.add_error(name, message)
        return data

    def terms(self) -> dict[str, Any]:
        """The arguments of credit_application_create / _recalculate (without program)."""
        data = self.cleaned_data
        by_rub = data["down_payment_mode"] == DOWN_PAYMENT_RUB
        return {
            "term_months": data["term_months"],
            "down_payment": data["down_payment"] if by_rub else None,
            "down_payment_percent": None if by_rub else data["down_payment_percent"],
            "rate": data["rate"] if data.get("program") is None else None,
            "casco": bool(data["casco"]),
            "order_amount": data["order_amount"],
        }


# The questionnaire's groups, as the form and the read-only view show them.
QUESTIONNAIRE_GROUPS: tuple[tuple[str, Any, tuple[str, ...]], ...] = (
    (
        "identity",
        _("Identity document"),
        (
            "last_name",
            "first_name",
            "patronymic",
            "birth_date",
            "birth_place",
            "passport_number",
            "passport_issued_on",
            "passport_division_code",
            "passport_issued_by",
        ),
    ),
    ("addresses", _("Addresses"), ("registration_address", "residence_address")),
    ("contacts", _("Contacts"), ("phone", "email")),
    (
        "employment",
        _("Employment and income"),
        (
            "employer",
            "position",
            "employment_months",
            "monthly_income",
            "marital_status",
            "dependants",
        ),
    ),
    ("consents", _("Consents"), ("consent_personal_data", "consent_credit_history")),
)
TEXTAREA_FIELDS = frozenset({"registration_address", "residence_address", "passport_issued_by"})
WIDE_FIELDS = TEXTAREA_FIELDS | {"birth_place", "employer"}


def _text(name: str, max_length: int, **attrs: Any) -> forms.CharField:
    widget: forms.Widget
    if name in TEXTAREA_FIELDS:
        widget = forms.Textarea({**_INPUT, "rows": 2, **attrs})
    else:
        widget = forms.TextInput({**_INPUT, **attrs})
    return forms.CharField(
        label=_label(name), max_length=max_length, required=False, strip=True, widget=widget
    )


def _date(name: str) -> forms.DateField:
    return forms.DateField(
        label=_label(name),
        required=False,
        input_formats=["%Y-%m-%d", "%d.%m.%Y"],
        widget=forms.DateInput({**_INPUT, "type": "date"}, format="%Y-%m-%d"),
    )


class QuestionnaireForm(forms.Form):
    """Stage 2, the applicant's анкета for the E-Credit broker: every field of
    CreditApplicant (the service checks formats and, on sending, completeness)."""

    last_name = _text("last_name", 100, autocomplete="off")
    first_name = _text("first_name", 100, autocomplete="off")
    patronymic = _text("patronymic", 100, autocomplete="off")
    birth_date = _date("birth_date")
    birth_place = _text("birth_place", 500)
    passport_number = _text(
        "passport_number", 20, placeholder="4510 123456", inputmode="numeric", autocomplete="off"
    )
    passport_issued_on = _date("passport_issued_on")
    passport_division_code = _text(
        "passport_division_code", 10, placeholder="510-001", autocomplete="off"
    )
    passport_issued_by = _text("passport_issued_by", 500)
    registration_address = _text("registration_address", 500)
    residence_address = _text("residence_address", 500)
    phone = _text("phone", 32, placeholder="+79001234567", inputmode="tel", autocomplete="off")
    email = _text("email", 254, inputmode="email", autocomplete="off")
    employer = _text("employer", 200)
    position = _text("position", 200)
    employment_months = forms.IntegerField(
        label=_label("employment_months"),
        required=False,
        min_value=0,
        max_value=1200,
        widget=forms.NumberInput({**_INPUT, "min": "0", "max": "1200"}),
    )
    monthly_income = LooseDecimalField(
        label=_("Monthly income, RUB"),
        required=False,
        min_value=Decimal("0"),
        max_digits=14,
        decimal_places=2,
        widget=forms.TextInput(_NUMBER),
    )
    marital_status = forms.ChoiceField(
        label=_label("marital_status"),
        required=False,
        choices=[("", "—"), *MaritalStatus.choices],
        widget=forms.Select({"class": "form-select"}),
    )
    dependants = forms.IntegerField(
        label=_label("dependants"),
        required=False,
        min_value=0,
        max_value=20,
        widget=forms.NumberInput({**_INPUT, "min": "0", "max": "20"}),
    )
    consent_personal_data = forms.BooleanField(
        label=_label("consent_personal_data"),
        required=False,
        widget=forms.CheckboxInput({"class": "form-check-input"}),
    )
    consent_credit_history = forms.BooleanField(
        label=_label("consent_credit_history"),
        required=False,
        widget=forms.CheckboxInput({"class": "form-check-input"}),
    )

    def groups(self) -> list[dict[str, Any]]:
        return [
            {
                "key": key,
                "title": title,
                "fields": [self[name] for name in names],
            }
            for key, title, names in QUESTIONNAIRE_GROUPS
        ]

    def service_data(self) -> dict[str, Any]:
        """The questionnaire as credit_questionnaire_save takes it."""
        data = dict(self.cleaned_data)
        if data.get("dependants") is None:
            data["dependants"] = 0
        return data


class DocumentForm(forms.Form):
    kind = forms.ChoiceField(
        label=_("Document"),
        choices=DocumentKind.choices,
        widget=forms.Select({"class": "form-select"}),
    )
    file = forms.FileField(
        label=_("File (PDF, JPEG or PNG)"),
        widget=forms.ClearableFileInput(
            {"class": "form-control", "accept": "application/pdf,image/jpeg,image/png"}
        ),
    )


class ReasonForm(forms.Form):
    reason = forms.CharField(
        label=_("Reason"),
        max_length=300,
        required=False,  # the service names what is missing
        widget=forms.TextInput(_INPUT),
    )
