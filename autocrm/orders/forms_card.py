"""Forms of the order screens: the list's filters, a new order from a stock car or from the
importer, the price, a status move and the importer order's move. Forms only parse
input; the services decide."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from django import forms
from django.db.models import QuerySet
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from autocrm.accounts.models import Site
from autocrm.accounts.scoping import visible_dealer_centers
from autocrm.core.forms import NamedChoiceField
from autocrm.inventory.models import CarModel, Trim
from autocrm.orders.models import ImporterOrderStatus, OrderStatus, PaymentStatus
from autocrm.orders.selectors_card import OrderFilters
from autocrm.sales.forms_deals import UserChoiceField, staff_choices

MAX_ID = 2_147_483_647
MAX_PRICE = Decimal("999999999999.99")
_SELECT = {"class": "form-select"}
_INPUT = {"class": "form-control"}


class MoneyInputField(forms.DecimalField):
    """Roubles as people type them: ``1 829 900,50``, ``1829900.50`` or ``1 829 900``."""

    def to_python(self, value: Any) -> Decimal | None:  # type: ignore[override]
        if isinstance(value, str):
            value = "".join(value.split()).replace("\u00a0", "").replace(",", ".").rstrip("₽")
        return super().to_python(value)


def _money_field(label: Any, *, required: bool) -> MoneyInputField:
    return MoneyInputField(
        label=label,
        required=required,
        min_value=Decimal("0"),
        max_value=MAX_PRICE,
        max_digits=14,
        decimal_places=2,
        widget=forms.TextInput(attrs={**_INPUT, "inputmode": "decimal", "autocomplete": "off"}),
    )


class _Form(forms.Form):
    def _field(self, name: str) -> Any:
        """A field whose queryset or labels are set per request (typed loosely)."""
        return self.fields[name]


class OrderFilterForm(_Form):
    q = forms.CharField(
        label=_("Client or VIN"),
        required=False,
        max_length=100,
        widget=forms.TextInput(attrs={**_INPUT, "type": "search", "autocomplete": "off"}),
    )
    status = forms.ChoiceField(
        label=_("Status"),
        required=False,
        choices=[("", _("Any status")), *OrderStatus.choices],
        widget=forms.Select(attrs=_SELECT),
    )
    payment_status = forms.ChoiceField(
        label=_("Payment"),
        required=False,
        choices=[("", _("Any payment status")), *PaymentStatus.choices],
        widget=forms.Select(attrs=_SELECT),
    )
    manager = UserChoiceField(
        label=_("Manager"),
        required=False,
        queryset=None,
        empty_label=_("Any manager"),
        widget=forms.Select(attrs=_SELECT),
    )
    dealer_center = NamedChoiceField(
        label=_("Dealer center"),
        required=False,
        queryset=None,
        empty_label=_("Any dealer center"),
        widget=forms.Select(attrs=_SELECT),
    )
    created_from = forms.DateField(
        label=_("Created from"),
        required=False,
        widget=forms.DateInput(attrs={**_INPUT, "type": "date"}, format="%Y-%m-%d"),
    )
    created_to = forms.DateField(
        label=_("Created to"),
        required=False,
        widget=forms.DateInput(attrs={**_INPUT, "type": "date"}, format="%Y-%m-%d"),
    )

    def __init__(self, *args: Any, user: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._field("manager").queryset = staff_choices(user)
        self._field("dealer_center").queryset = visible_dealer_centers(user).only("id", "name")

    def clean(self) -> dict[str, Any]:
        super().clean()
        data = self.cleaned_data
        first, last = data.get("created_from"), data.get("created_to")
        if first and last and first > last:
            self.add_error("created_to", _("The end of the period is before its start."))
        return data

    def filters(self) -> OrderFilters:
        """The selector's filters of a valid form (none for an unbound or invalid one)."""
        if not self.is_bound or not self.is_valid():
            return OrderFilters()
        data = self.cleaned_data
        return OrderFilters(
            status=data["status"] or None,
            payment_status=data["payment_status"] or None,
            manager_id=data["manager"].pk if data["manager"] else None,
            dealer_center_id=data["dealer_center"].pk if data["dealer_center"] else None,
            created_from=data["created_from"],
            created_to=data["created_to"],
            query=data["q"],
        )


class OrderCreateForm(forms.Form):
    """A car in stock for a client: the client is picked from the search results."""

    client = forms.IntegerField(
        label=_("Client"),
        min_value=1,
        max_value=MAX_ID,
        error_messages={"required": _("Pick the client.")},
        widget=forms.HiddenInput,
    )
    deal = forms.IntegerField(
        label=_("Deal"), required=False, min_value=1, max_value=MAX_ID, widget=forms.HiddenInput
    )
    comment = forms.CharField(
        label=_("Comment"),
        required=False,
        max_length=1000,
        widget=forms.Textarea(attrs={**_INPUT, "rows": 2}),
    )


class ImporterOrderForm(_Form):
    client = forms.IntegerField(
        label=_("Client"),
        min_value=1,
        max_value=MAX_ID,
        error_messages={"required": _("Pick the client.")},
        widget=forms.HiddenInput,
    )
    deal = forms.IntegerField(
        label=_("Deal"), required=False, min_value=1, max_value=MAX_ID, widget=forms.HiddenInput
    )
    dealer_center = NamedChoiceField(
        label=_("Dealer center"), queryset=None, widget=forms.Select(attrs=_SELECT)
    )
    car_model = forms.ModelChoiceField(
        label=_("Make and model"),
        queryset=CarModel.objects.none(),
        widget=forms.Select(attrs=_SELECT),
    )
    trim = forms.ModelChoiceField(
        label=_("Trim"),
        required=False,
        queryset=Trim.objects.none(),
        empty_label=_("Not chosen yet"),
        widget=forms.Select(attrs=_SELECT),
    )
    color = forms.CharField(
        label=_("Colour"), required=False, max_length=100, widget=forms.TextInput(attrs=_INPUT)
    )
    options = forms.CharField(
        label=_("Options"),
        required=False,
        max_length=2000,
        widget=forms.Textarea(attrs={**_INPUT, "rows": 3}),
    )
    wished_date = forms.DateField(
        label=_("Wished delivery date"),
        required=False,
        widget=forms.DateInput(attrs={**_INPUT, "type": "date"}, format="%Y-%m-%d"),
    )
    expected_price = _money_field(_("Expected price"), required=False)
    comment = forms.CharField(
        label=_("Comment"),
        required=False,
        max_length=1000,
        widget=forms.Textarea(attrs={**_INPUT, "rows": 2}),
    )

    def __init__(self, *args: Any, user: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._field("dealer_center").queryset = visible_dealer_centers(user).only("id", "name")
        models: QuerySet[CarModel] = CarModel.objects.select_related("make").order_by(
            "make__name", "name"
        )
        self._field("car_model").queryset = models
        self._field("car_model").label_from_instance = lambda obj: f"{obj.make.name} {obj.name}"
        self._field("trim").queryset = Trim.objects.select_related("car_model__make").order_by(
            "car_model__make__name", "car_model__name", "name"
        )
        self._field("trim").label_from_instance = lambda obj: (
            f"{obj.car_model.make.name} {obj.car_model.name} {obj.name}"
        )


class PriceForm(forms.Form):
    vehicle_price = _money_field(_("Vehicle price"), required=True)


class TransitionForm(forms.Form):
    to = forms.ChoiceField(choices=OrderStatus.choices, widget=forms.HiddenInput)
    reason = forms.CharField(
        label=_("Reason"),
        required=False,
        max_length=300,
        widget=forms.TextInput(attrs={**_INPUT, "autocomplete": "off"}),
    )


class ImporterTransitionForm(_Form):
    to = forms.ChoiceField(
        label=pgettext_lazy("importer order", "Next status"),
        choices=ImporterOrderStatus.choices,
        widget=forms.Select(attrs=_SELECT),
    )
    importer_reference = forms.CharField(
        label=_("Importer's order number"),
        required=False,
        max_length=60,
        widget=forms.TextInput(attrs={**_INPUT, "autocomplete": "off"}),
    )
    vin = forms.CharField(
        label=_("VIN of the car that arrived"),
        required=False,
        max_length=17,
        widget=forms.TextInput(attrs={**_INPUT, "autocomplete": "off"}),
    )
    site = forms.ModelChoiceField(
        label=_("Site"),
        required=False,
        queryset=Site.objects.none(),
        empty_label=_("Choose the site"),
        widget=forms.Select(attrs=_SELECT),
    )
    price = _money_field(_("Price of the car"), required=False)

    def __init__(self, *args: Any, dealer_center_id: int, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._field("site").queryset = Site.objects.filter(dealer_center_id=dealer_center_id)
        self._field("site").label_from_instance = lambda obj: obj.name

    def clean(self) -> dict[str, Any]:
        super().clean()
        data = self.cleaned_data
        if data.get("to") == ImporterOrderStatus.ARRIVED:
            if not (data.get("vin") or "").strip():
                self.add_error("vin", _("Enter the VIN of the car that arrived."))
            if data.get("site") is None:
                self.add_error("site", _("Choose the site where the car stands."))
        return data

    def arrival(self) -> dict[str, Any]:
        """The stock car's fields for ``importer_order_transition`` (arrival only)."""
        data = self.cleaned_data
        fields: dict[str, Any] = {"vin": data["vin"].strip()}
        if data["site"] is not None:
            fields["site"] = data["site"]
            fields["city"] = data["site"].city
        if data["price"] is not None:
            fields["price"] = data["price"]
        return fields
