"""Forms of the client screens. They parse input; normalising and the rules are services'."""

from __future__ import annotations

from typing import Any

from django import forms
from django.utils.translation import gettext_lazy as _

from autocrm.clients.models import ClientKind


class ClientSearchForm(forms.Form):
    q = forms.CharField(
        label=_("Search"),
        max_length=200,
        required=False,
        widget=forms.TextInput(
            attrs={
                "class": "form-control",
                "type": "search",
                "placeholder": _("Phone, e-mail or name"),
                "autocomplete": "off",
            }
        ),
    )


class ClientCreateForm(forms.Form):
    kind = forms.ChoiceField(
        label=_("Kind"),
        choices=ClientKind.choices,
        initial=ClientKind.PERSON,
        widget=forms.Select(attrs={"class": "form-select"}),
    )
    last_name = forms.CharField(
        label=_("Last name"),
        max_length=150,
        required=False,
        widget=forms.TextInput(attrs={"class": "form-control", "autocomplete": "off"}),
    )
    first_name = forms.CharField(
        label=_("First name"),
        max_length=150,
        required=False,
        widget=forms.TextInput(attrs={"class": "form-control", "autocomplete": "off"}),
    )
    middle_name = forms.CharField(
        label=_("Middle name"),
        max_length=150,
        required=False,
        widget=forms.TextInput(attrs={"class": "form-control", "autocomplete": "off"}),
    )
    company_name = forms.CharField(
        label=_("Company name"),
        max_length=300,
        required=False,
        widget=forms.TextInput(attrs={"class": "form-control", "autocomplete": "off"}),
    )
    phone = forms.CharField(
        label=_("Phone"),
        max_length=40,
        required=False,
        widget=forms.TextInput(
            attrs={"class": "form-control", "inputmode": "tel", "autocomplete": "off"}
        ),
    )
    email = forms.CharField(
        label=_("E-mail"),
        max_length=254,
        required=False,
        widget=forms.EmailInput(attrs={"class": "form-control", "autocomplete": "off"}),
    )
    dealer_center = forms.TypedChoiceField(
        label=_("Dealer center"),
        coerce=int,
        required=False,
        empty_value=None,
        widget=forms.Select(attrs={"class": "form-select"}),
    )
    responsible_me = forms.BooleanField(
        label=_("I am the responsible manager"),
        required=False,
        initial=True,
        widget=forms.CheckboxInput(attrs={"class": "form-check-input"}),
    )
    consent_personal_data = forms.BooleanField(
        label=_("Consents to personal data processing"),
        required=False,
        widget=forms.CheckboxInput(attrs={"class": "form-check-input"}),
    )
    consent_marketing = forms.BooleanField(
        label=_("Consents to marketing communications"),
        required=False,
        widget=forms.CheckboxInput(attrs={"class": "form-check-input"}),
    )
    note = forms.CharField(
        label=_("Note"),
        required=False,
        max_length=2000,
        widget=forms.Textarea(attrs={"class": "form-control", "rows": 2}),
    )
    # Sent by the "create anyway" button, shown once the user has seen the matching clients.
    confirm_duplicate = forms.BooleanField(required=False)

    def __init__(
        self, *args: Any, dealer_centers: list[tuple[int, str]] | None = None, **kwargs: Any
    ) -> None:
        super().__init__(*args, **kwargs)
        choices: list[tuple[Any, str]] = [("", str(_("Not chosen")))]
        choices.extend(dealer_centers or [])
        field = self.fields["dealer_center"]
        assert isinstance(field, forms.TypedChoiceField)
        field.choices = choices

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if not any(
            (data.get(name) or "").strip()
            for name in ("last_name", "first_name", "company_name", "phone", "email")
        ):
            raise forms.ValidationError(_("Enter a name, a phone or an e-mail."))
        return data
