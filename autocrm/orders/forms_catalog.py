"""Forms of the promotion and equipment screens. Forms only parse input; the services
(``orders.services.catalog``) decide, and their refusals are put back on the fields."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from django import forms
from django.utils.translation import gettext_lazy as _

from autocrm.accounts.models import Brand, City
from autocrm.core.errors import DomainError
from autocrm.core.money import MAX_AMOUNT
from autocrm.inventory.models import CarModel, Trim
from autocrm.orders.models import InstallationStatus, Promotion

_SELECT = {"class": "form-select"}
_INPUT = {"class": "form-control"}
_CHECK = {"class": "form-check-input"}

# The services name fields as the API does; the form's own names differ here and there.
SERVICE_FIELDS = {"model": "car_model"}


class _DateInput(forms.DateInput):
    input_type = "date"

    def __init__(self, attrs: dict[str, Any] | None = None) -> None:
        super().__init__(attrs={**_INPUT, **(attrs or {})}, format="%Y-%m-%d")


class _DateTimeInput(forms.DateTimeInput):
    input_type = "datetime-local"

    def __init__(self, attrs: dict[str, Any] | None = None) -> None:
        super().__init__(
            attrs={"class": "form-control form-control-sm", **(attrs or {})},
            format="%Y-%m-%dT%H:%M",
        )


def _money_field(label: Any, *, required: bool = False) -> forms.DecimalField:
    return forms.DecimalField(
        label=label,
        required=required,
        min_value=Decimal("0"),
        max_value=MAX_AMOUNT,
        max_digits=14,
        decimal_places=2,
        widget=forms.NumberInput(attrs={**_INPUT, "step": "0.01", "min": "0"}),
    )


def put_error(form: forms.Form, error: DomainError) -> None:
    """Show a service's refusal on the field it names, or above the form."""
    field = SERVICE_FIELDS.get(error.field or "", error.field or "")
    form.add_error(field if field in form.fields else None, str(error.message))


class PromotionFilterForm(forms.Form):
    q = forms.CharField(
        label=_("Search"),
        required=False,
        max_length=200,
        widget=forms.TextInput(attrs={**_INPUT, "placeholder": _("Name, bulletin, importer")}),
    )
    make = forms.ModelChoiceField(
        label=_("Make"),
        required=False,
        queryset=Brand.objects.order_by("name"),
        empty_label=_("Any make"),
        widget=forms.Select(attrs=_SELECT),
    )
    city = forms.ModelChoiceField(
        label=_("City"),
        required=False,
        queryset=City.objects.order_by("name"),
        empty_label=_("Any city"),
        widget=forms.Select(attrs=_SELECT),
    )
    active_on = forms.DateField(label=_("Valid on"), required=False, widget=_DateInput())
    state = forms.ChoiceField(
        label=_("State"),
        required=False,
        choices=[("", _("All")), ("active", _("Active")), ("inactive", _("Not active"))],
        widget=forms.Select(attrs=_SELECT),
    )


class PromotionForm(forms.Form):
    name = forms.CharField(label=_("Name"), max_length=200, widget=forms.TextInput(attrs=_INPUT))
    bulletin = forms.CharField(
        label=_("Importer bulletin"),
        required=False,
        max_length=200,
        widget=forms.TextInput(attrs=_INPUT),
    )
    importer = forms.CharField(
        label=_("Importer"), required=False, max_length=200, widget=forms.TextInput(attrs=_INPUT)
    )
    make = forms.ModelChoiceField(
        label=_("Make"),
        required=False,
        queryset=Brand.objects.order_by("name"),
        empty_label=_("Any make"),
        widget=forms.Select(attrs=_SELECT),
    )
    car_model = forms.ModelChoiceField(
        label=_("Model"),
        required=False,
        queryset=CarModel.objects.select_related("make").order_by("make__name", "name"),
        empty_label=_("Any model"),
        widget=forms.Select(attrs=_SELECT),
    )
    trim = forms.ModelChoiceField(
        label=_("Trim"),
        required=False,
        queryset=Trim.objects.select_related("car_model__make").order_by(
            "car_model__make__name", "car_model__name", "name"
        ),
        empty_label=_("Any trim"),
        widget=forms.Select(attrs=_SELECT),
    )
    cities = forms.ModelMultipleChoiceField(
        label=_("Cities"),
        required=False,
        queryset=City.objects.order_by("name"),
        help_text=_("None chosen: every city."),
        widget=forms.SelectMultiple(attrs={**_SELECT, "size": "8"}),
    )
    valid_from = forms.DateField(label=_("Valid from"), widget=_DateInput())
    valid_to = forms.DateField(label=_("Valid to"), widget=_DateInput())
    discount_amount = _money_field(_("Discount, roubles"))
    discount_percent = forms.DecimalField(
        label=_("Discount, %"),
        required=False,
        max_digits=5,
        decimal_places=2,
        widget=forms.NumberInput(attrs={**_INPUT, "step": "0.01", "min": "0", "max": "100"}),
    )
    importer_bonus = _money_field(_("Importer bonus"))
    combinable = forms.BooleanField(
        label=_("Combines with other promotions"),
        required=False,
        initial=True,
        widget=forms.CheckboxInput(attrs=_CHECK),
    )
    is_active = forms.BooleanField(
        label=_("Active"), required=False, initial=True, widget=forms.CheckboxInput(attrs=_CHECK)
    )

    @classmethod
    def initial_of(cls, promotion: Promotion) -> dict[str, Any]:
        return {
            "name": promotion.name,
            "bulletin": promotion.bulletin,
            "importer": promotion.importer,
            "make": promotion.make_id,
            "car_model": promotion.car_model_id,
            "trim": promotion.trim_id,
            "cities": [city.pk for city in promotion.cities.all()],
            "valid_from": promotion.valid_from,
            "valid_to": promotion.valid_to,
            "discount_amount": promotion.discount_amount,
            "discount_percent": promotion.discount_percent,
            "importer_bonus": promotion.importer_bonus,
            "combinable": promotion.combinable,
            "is_active": promotion.is_active,
        }

    def service_arguments(self) -> dict[str, Any]:
        data = dict(self.cleaned_data)
        data["cities"] = list(data.get("cities") or [])
        if data.get("importer_bonus") is None:
            data["importer_bonus"] = Decimal("0")
        return data


class InstallationStatusForm(forms.Form):
    status = forms.ChoiceField(
        label=_("Installation"),
        choices=InstallationStatus.choices,
        widget=forms.Select(attrs={"class": "form-select form-select-sm"}),
    )
    scheduled_for = forms.DateTimeField(
        label=_("Installation scheduled for"),
        required=False,
        input_formats=["%Y-%m-%dT%H:%M", "%Y-%m-%d %H:%M", "%Y-%m-%dT%H:%M:%S"],
        widget=_DateTimeInput(),
    )
