"""Forms of the stock screens. They only parse input; the rules live in the services."""

from __future__ import annotations

from django import forms
from django.utils.translation import gettext_lazy as _

from autocrm.inventory.models import LogisticsStatus
from autocrm.inventory.services import DEFAULT_RESERVATION_HOURS, MAX_RESERVATION_HOURS


class ReserveForm(forms.Form):
    hours = forms.IntegerField(
        label=_("Hold for, hours"),
        min_value=1,
        max_value=MAX_RESERVATION_HOURS,
        initial=DEFAULT_RESERVATION_HOURS,
        widget=forms.NumberInput(attrs={"class": "form-control", "inputmode": "numeric"}),
    )
    comment = forms.CharField(
        label=_("Comment"),
        max_length=300,
        required=False,
        widget=forms.TextInput(attrs={"class": "form-control"}),
    )


class LogisticsStatusForm(forms.Form):
    to_status = forms.ModelChoiceField(
        label=_("New logistics status"),
        queryset=LogisticsStatus.objects.filter(is_active=True),
        widget=forms.Select(attrs={"class": "form-select"}),
    )
    comment = forms.CharField(
        label=_("Comment"),
        max_length=300,
        required=False,
        widget=forms.TextInput(attrs={"class": "form-control"}),
    )


class SavedSearchForm(forms.Form):
    name = forms.CharField(
        label=_("Preset name"),
        max_length=100,
        widget=forms.TextInput(attrs={"class": "form-control form-control-sm"}),
    )
    query = forms.CharField(max_length=2000, required=False, widget=forms.HiddenInput)
