"""Forms of the deal pages: filters of the board and the list, a stage move, a new deal,
the edit form of the card. Forms only parse input; the services decide."""

from __future__ import annotations

import re
from datetime import date
from typing import Any

from django import forms
from django.contrib.auth import get_user_model
from django.db.models import QuerySet
from django.utils.translation import gettext_lazy as _

from autocrm.accounts.roles import RoleCode
from autocrm.accounts.scoping import visible_dealer_center_ids, visible_dealer_centers
from autocrm.sales.models import DealState, PaymentIntent, Pipeline, RequestSource

MAX_ID = 2_147_483_647
MAX_VEHICLES = 20
_SELECT = {"class": "form-select"}
_INPUT = {"class": "form-control"}
_VEHICLE_SEPARATORS = re.compile(r"[\s,;]+")


def staff_choices(user: Any) -> QuerySet[Any]:
    """Who may be named responsible or filtered by: active sales managers and heads of the
    dealer centers the user sees (every one of them for group-level users)."""
    users = get_user_model().objects.filter(
        is_active=True, roles__code__in=[RoleCode.SALES_MANAGER, RoleCode.HEAD]
    )
    visible = visible_dealer_center_ids(user)
    if visible is not None:
        users = users.filter(dealer_centers__in=visible)
    return (
        get_user_model()
        .objects.filter(pk__in=users.values("pk"))
        .order_by("last_name", "first_name", "username")
    )


class UserChoiceField(forms.ModelChoiceField):
    def label_from_instance(self, obj: Any) -> str:
        return str(obj.display_name)


def _dealer_center_field(*, required: bool, empty_label: Any) -> forms.ModelChoiceField[Any]:
    return forms.ModelChoiceField(
        label=_("Dealer center"),
        required=required,
        queryset=None,
        empty_label=empty_label,
        widget=forms.Select(attrs=_SELECT),
    )


class _ScopedChoicesMixin:
    """Offers only the dealer centers and staff the user sees."""

    fields: dict[str, Any]

    def _scope(self, user: Any) -> None:
        if "dealer_center" in self.fields:
            self.fields["dealer_center"].queryset = (
                visible_dealer_centers(user).select_related(None).only("id", "name")
            )
        for name in ("manager", "responsible"):
            if name in self.fields:
                self.fields[name].queryset = staff_choices(user)


class BoardFilterForm(_ScopedChoicesMixin, forms.Form):
    manager = UserChoiceField(
        label=_("Manager"),
        required=False,
        queryset=None,
        empty_label=_("Any manager"),
        widget=forms.Select(attrs=_SELECT),
    )
    dealer_center = _dealer_center_field(required=False, empty_label=_("Any dealer center"))

    def __init__(self, *args: Any, user: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._scope(user)

    def filters(self) -> dict[str, Any]:
        """Selector arguments of a valid form (none for an unbound or invalid one)."""
        if not self.is_bound or not self.is_valid():
            return {}
        data = self.cleaned_data
        return {
            "manager_id": data["manager"].pk if data["manager"] else None,
            "dealer_center_id": data["dealer_center"].pk if data["dealer_center"] else None,
        }


class DealFilterForm(BoardFilterForm):
    pipeline = forms.ChoiceField(
        label=_("Pipeline"), required=False, widget=forms.Select(attrs=_SELECT)
    )
    stage = forms.ChoiceField(label=_("Stage"), required=False, widget=forms.Select(attrs=_SELECT))
    state = forms.ChoiceField(
        label=_("State"),
        required=False,
        choices=[("", _("Any state")), *DealState.choices],
        widget=forms.Select(attrs=_SELECT),
    )
    source = forms.ChoiceField(
        label=_("Source"),
        required=False,
        choices=[("", _("Any source")), *RequestSource.choices],
        widget=forms.Select(attrs=_SELECT),
    )
    created_from = forms.DateField(
        label=_("Created from"),
        required=False,
        widget=forms.DateInput(attrs={**_INPUT, "type": "date"}),
    )
    created_to = forms.DateField(
        label=_("Created to"),
        required=False,
        widget=forms.DateInput(attrs={**_INPUT, "type": "date"}),
    )

    def __init__(self, *args: Any, user: Any, pipelines: list[Pipeline], **kwargs: Any) -> None:
        super().__init__(*args, user=user, **kwargs)
        self.fields["pipeline"].choices = [
            ("", _("Any pipeline")),
            *((pipeline.code, pipeline.name) for pipeline in pipelines),
        ]
        # Stage codes repeat across pipelines ("new", "lost"); grouped by pipeline, the
        # filter matches the code in whichever pipeline is chosen.
        self.fields["stage"].choices = [
            ("", _("Any stage")),
            *(
                (pipeline.name, [(stage.code, stage.name) for stage in pipeline.stages.all()])
                for pipeline in pipelines
            ),
        ]

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        start, end = data.get("created_from"), data.get("created_to")
        if isinstance(start, date) and isinstance(end, date) and start > end:
            self.add_error("created_to", _("The end date is before the start date."))
        return data

    def filters(self) -> dict[str, Any]:
        if not self.is_bound or not self.is_valid():
            return {}
        data = self.cleaned_data
        return super().filters() | {
            "pipeline": data["pipeline"] or None,
            "stage": data["stage"] or None,
            "state": data["state"] or None,
            "source": data["source"] or None,
            "created_from": data["created_from"],
            "created_to": data["created_to"],
        }


class DealMoveForm(forms.Form):
    stage = forms.SlugField(label=_("Stage"), max_length=50, widget=forms.Select(attrs=_SELECT))
    version = forms.IntegerField(
        required=False, min_value=1, max_value=MAX_ID, widget=forms.HiddenInput
    )
    loss_reason = forms.CharField(
        label=_("Loss reason"),
        required=False,
        max_length=200,
        widget=forms.Select(attrs=_SELECT),
    )
    reason = forms.CharField(
        label=_("Comment"),
        required=False,
        max_length=2000,
        widget=forms.Textarea(attrs={**_INPUT, "rows": 2}),
    )

    def __init__(self, *args: Any, stages: Any = (), loss_reasons: Any = (), **kwargs: Any):
        super().__init__(*args, **kwargs)
        self.fields["stage"].widget.choices = [(stage.code, stage.name) for stage in stages]
        self.fields["loss_reason"].widget.choices = [
            ("", "—"),
            *((reason.pk, reason.name) for reason in loss_reasons),
        ]


class _DealFieldsForm(_ScopedChoicesMixin, forms.Form):
    title = forms.CharField(
        label=_("Title"), required=False, max_length=200, widget=forms.TextInput(attrs=_INPUT)
    )
    topic = forms.CharField(
        label=_("Topic"), required=False, max_length=200, widget=forms.TextInput(attrs=_INPUT)
    )
    responsible = UserChoiceField(
        label=_("Responsible manager"),
        required=False,
        queryset=None,
        empty_label=_("Nobody yet"),
        widget=forms.Select(attrs=_SELECT),
    )
    budget = forms.DecimalField(
        label=_("Budget"),
        required=False,
        min_value=0,
        max_digits=14,
        decimal_places=2,
        widget=forms.NumberInput(attrs={**_INPUT, "step": "1000", "inputmode": "decimal"}),
    )
    payment_intent = forms.ChoiceField(
        label=_("Payment"),
        required=False,
        choices=PaymentIntent.choices,
        widget=forms.Select(attrs=_SELECT),
    )


class DealCreateForm(_DealFieldsForm):
    client = forms.IntegerField(
        label=_("Client number"),
        min_value=1,
        max_value=MAX_ID,
        widget=forms.NumberInput(attrs=_INPUT),
    )
    pipeline: forms.ModelChoiceField[Any] = forms.ModelChoiceField(
        label=_("Pipeline"), queryset=None, widget=forms.Select(attrs=_SELECT)
    )
    dealer_center = _dealer_center_field(required=True, empty_label=None)

    field_order = [
        "client",
        "pipeline",
        "dealer_center",
        "responsible",
        "title",
        "topic",
        "budget",
        "payment_intent",
    ]

    def __init__(
        self,
        *args: Any,
        user: Any,
        pipelines: QuerySet[Pipeline],
        qualifying: bool = False,
        **kwargs: Any,
    ) -> None:
        super().__init__(*args, **kwargs)
        self._scope(user)
        self.fields["pipeline"].queryset = pipelines
        if qualifying:
            # The client comes with the request; the dealer center too when it has one.
            del self.fields["client"]
            self.fields["dealer_center"].required = False
            self.fields["dealer_center"].empty_label = _("The request's dealer center")


class DealEditForm(_DealFieldsForm):
    vehicles = forms.CharField(
        label=_("Vehicles of interest"),
        required=False,
        max_length=2000,
        help_text=_("Stock numbers (id) or VINs, separated by spaces or commas."),
        widget=forms.TextInput(attrs={**_INPUT, "autocomplete": "off"}),
    )

    def __init__(self, *args: Any, user: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._scope(user)

    def clean_vehicles(self) -> list[str]:
        tokens = [
            token for token in _VEHICLE_SEPARATORS.split(self.cleaned_data["vehicles"]) if token
        ]
        if len(tokens) > MAX_VEHICLES:
            raise forms.ValidationError(_("At most %(count)d vehicles.") % {"count": MAX_VEHICLES})
        for token in tokens:
            if not (token.isdigit() and 0 < int(token) <= MAX_ID) and not re.fullmatch(
                r"[A-Za-z0-9]{17}", token
            ):
                raise forms.ValidationError(
                    _("“%(value)s” is neither a vehicle number nor a VIN.") % {"value": token[:40]}
                )
        return tokens
