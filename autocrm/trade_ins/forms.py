"""Forms of the trade-in pages. They only parse input; the rules live in the services,
whose errors (naming the API's fields) are put back on the form fields here."""

from __future__ import annotations

from datetime import date, datetime, time
from typing import Any

from django import forms
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from autocrm.accounts.models import Site
from autocrm.core.errors import DomainError
from autocrm.inventory.models import BodyZone, DefectKind, Severity
from autocrm.trade_ins.models import AppraisalPlace, ChecklistItem, CheckResult
from autocrm.trade_ins.validation import MAX_MILEAGE, MIN_YEAR, max_year

_INPUT = {"class": "form-control"}
_SELECT = {"class": "form-select"}


def put_error(form: forms.BaseForm, error: DomainError, fields: dict[str, str]) -> None:
    """Show a service's error at the form field it names (``fields`` maps the service's
    names to the form's), else above the form."""
    name = fields.get(error.field or "", error.field or "")
    form.add_error(name if name in form.fields else None, str(error.message))


class TradeInForm(forms.Form):
    """«Добавить авто для зачета»: the car, then the place and time of the inspection."""

    make = forms.CharField(label=_("Make"), max_length=100, widget=forms.TextInput(_INPUT))
    model = forms.CharField(label=_("Model"), max_length=100, widget=forms.TextInput(_INPUT))
    plate = forms.CharField(
        label=_("Plate number"),
        max_length=20,
        widget=forms.TextInput(
            {**_INPUT, "placeholder": "А123ВС51", "autocapitalize": "characters"}
        ),
    )
    vin = forms.CharField(
        label=_("VIN"),
        max_length=40,
        widget=forms.TextInput({**_INPUT, "autocapitalize": "characters", "spellcheck": "false"}),
    )
    year = forms.IntegerField(
        label=_("Year of manufacture"),
        widget=forms.NumberInput({**_INPUT, "min": MIN_YEAR, "inputmode": "numeric"}),
    )
    place = forms.ChoiceField(
        label=_("Place of inspection"),
        choices=AppraisalPlace.choices,
        initial=AppraisalPlace.DEALER_CENTER,
        widget=forms.RadioSelect,
    )
    address = forms.CharField(
        label=_("Address"), max_length=300, required=False, widget=forms.TextInput(_INPUT)
    )
    date = forms.DateField(
        label=_("Date"),
        widget=forms.DateInput(attrs={**_INPUT, "type": "date"}, format="%Y-%m-%d"),
    )
    time = forms.TimeField(label=_("Time"), required=False)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["year"].widget.attrs["max"] = max_year()

    def car_fields(self) -> list[forms.BoundField]:
        return [self[name] for name in ("make", "model", "plate", "vin", "year")]

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if data.get("date") is not None and data.get("time") is None and "time" not in self.errors:
            self.add_error("time", _("Choose a free time."))
        return data

    def starts_at(self) -> datetime:
        """The chosen moment in the time zone the view activated (the dealer center's)."""
        day: date = self.cleaned_data["date"]
        moment: time = self.cleaned_data["time"]
        return timezone.make_aware(datetime.combine(day, moment))


# Where the services' field names land on TradeInForm.
TRADE_IN_FIELDS = {"starts_at": "time"}


class RescheduleForm(forms.Form):
    place = forms.ChoiceField(
        label=_("Place of inspection"), choices=AppraisalPlace.choices, widget=forms.RadioSelect
    )
    address = forms.CharField(
        label=_("Address"), max_length=300, required=False, widget=forms.TextInput(_INPUT)
    )
    date = forms.DateField(
        label=_("Date"),
        widget=forms.DateInput(attrs={**_INPUT, "type": "date"}, format="%Y-%m-%d"),
    )
    time = forms.TimeField(
        label=_("Time"),
        widget=forms.TimeInput(attrs={**_INPUT, "type": "time"}, format="%H:%M"),
    )

    def starts_at(self) -> datetime:
        return timezone.make_aware(
            datetime.combine(self.cleaned_data["date"], self.cleaned_data["time"])
        )


RESCHEDULE_FIELDS = {"starts_at": "time"}


class AppraisalForm(forms.Form):
    offered_price = forms.DecimalField(
        label=_("Offered price, ₽"),
        min_value=0,
        widget=forms.NumberInput({**_INPUT, "step": "0.01", "inputmode": "decimal"}),
        max_digits=14,
        decimal_places=2,
    )
    valid_until = forms.DateField(
        label=_("Offer valid until"),
        widget=forms.DateInput(attrs={**_INPUT, "type": "date"}, format="%Y-%m-%d"),
    )
    mileage = forms.IntegerField(
        label=_("Mileage, km"),
        required=False,
        min_value=0,
        max_value=MAX_MILEAGE,
        widget=forms.NumberInput({**_INPUT, "inputmode": "numeric"}),
    )
    comment = forms.CharField(
        label=_("Comment"),
        required=False,
        max_length=5000,
        widget=forms.Textarea({**_INPUT, "rows": 3}),
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        for item in ChecklistItem:
            self.fields[f"check_{item.value}"] = forms.ChoiceField(
                label=item.label,
                choices=CheckResult.choices,
                widget=forms.RadioSelect,
            )

    def checklist_fields(self) -> list[forms.BoundField]:
        return [self[f"check_{item.value}"] for item in ChecklistItem]

    def checklist(self) -> dict[str, str]:
        return {item.value: self.cleaned_data[f"check_{item.value}"] for item in ChecklistItem}


APPRAISAL_FIELDS = {
    **{f"checklist.{item.value}": f"check_{item.value}" for item in ChecklistItem},
}


class DefectForm(forms.Form):
    zone = forms.ChoiceField(
        label=_("Body zone"),
        choices=[("", "—"), *BodyZone.choices],
        required=False,
        widget=forms.Select(_SELECT),
    )
    kind = forms.ChoiceField(
        label=_("Defect"),
        choices=[("", "—"), *DefectKind.choices],
        required=False,
        widget=forms.Select(_SELECT),
    )
    severity = forms.ChoiceField(
        label=_("Severity"),
        choices=[("", "—"), *Severity.choices],
        required=False,
        widget=forms.Select(_SELECT),
    )
    note = forms.CharField(
        label=_("Note"), max_length=300, required=False, widget=forms.TextInput(_INPUT)
    )
    repair_estimate = forms.DecimalField(
        label=_("Repair estimate, ₽"),
        min_value=0,
        required=False,
        widget=forms.NumberInput({**_INPUT, "step": "0.01", "inputmode": "decimal"}),
        max_digits=14,
        decimal_places=2,
    )

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        filled = [name for name in ("zone", "kind", "severity") if data.get(name)]
        if filled and len(filled) < 3:
            for name in ("zone", "kind", "severity"):
                if not data.get(name):
                    self.add_error(name, _("This field is required."))
        return data

    def is_blank(self) -> bool:
        data = getattr(self, "cleaned_data", {})
        return not any(data.get(name) for name in ("zone", "kind", "severity"))


DefectFormSet = forms.formset_factory(DefectForm, extra=3, max_num=60, absolute_max=60)


class AcceptForm(forms.Form):
    amount = forms.DecimalField(
        label=_("Accepted amount, ₽"),
        min_value=0,
        widget=forms.NumberInput({**_INPUT, "step": "0.01", "inputmode": "decimal"}),
        max_digits=14,
        decimal_places=2,
    )


class ReasonForm(forms.Form):
    reason = forms.CharField(
        label=_("Reason"), max_length=500, required=False, widget=forms.TextInput(_INPUT)
    )


class TakeIntoStockForm(forms.Form):
    site: forms.ModelChoiceField[Site] = forms.ModelChoiceField(
        label=_("Site"), queryset=Site.objects.none(), widget=forms.Select(_SELECT)
    )
    price = forms.DecimalField(
        label=_("Sale price, ₽"),
        min_value=0,
        widget=forms.NumberInput({**_INPUT, "step": "0.01", "inputmode": "decimal"}),
        max_digits=14,
        decimal_places=2,
    )
    stock_code = forms.CharField(
        label=_("Stock code"), max_length=40, required=False, widget=forms.TextInput(_INPUT)
    )
    mileage = forms.IntegerField(
        label=_("Mileage, km"),
        required=False,
        min_value=0,
        max_value=MAX_MILEAGE,
        widget=forms.NumberInput({**_INPUT, "inputmode": "numeric"}),
    )

    def __init__(self, *args: Any, sites: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        field = self.fields["site"]
        assert isinstance(field, forms.ModelChoiceField)
        field.queryset = sites


STOCK_FIELDS = {"site_id": "site"}


class PhotoForm(forms.Form):
    file = forms.FileField(
        label=_("Photo"),
        widget=forms.ClearableFileInput({**_INPUT, "accept": "image/jpeg,image/png"}),
    )
    caption = forms.CharField(
        label=_("Caption"), max_length=200, required=False, widget=forms.TextInput(_INPUT)
    )
