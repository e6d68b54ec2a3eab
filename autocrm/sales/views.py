"""Sales screens of the intake issue: the hostess's visit form and the requests list.

The hostess form is made for a tablet at the showroom entrance: the phone first (the
client is looked up as it is typed), then the purpose, the dealer center and the manager
the visitor is handed to. Views parse input and call one selector or service.
"""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_GET, require_http_methods
from rules.contrib.views import permission_required

from autocrm.accounts.scoping import visible_dealer_centers
from autocrm.clients.selectors import client_list
from autocrm.clients.services import client_find, try_normalize_phone
from autocrm.communications.models import VisitPurpose
from autocrm.core.errors import DomainError
from autocrm.sales import selectors
from autocrm.sales.models import RequestSource, RequestStatus
from autocrm.sales.visits import client_card_url, visit_register

PAGE_SIZE = 50

# Big touch targets: the hostess works standing, on a tablet.
_LARGE = {"class": "form-control form-control-lg"}
_LARGE_SELECT = {"class": "form-select form-select-lg"}


class VisitForm(forms.Form):
    phone = forms.CharField(
        label=gettext_lazy("Phone"),
        max_length=40,
        widget=forms.TextInput(
            attrs={**_LARGE, "type": "tel", "autocomplete": "off", "inputmode": "tel"}
        ),
    )
    name = forms.CharField(
        label=gettext_lazy("Name"),
        max_length=450,
        required=False,
        widget=forms.TextInput(attrs={**_LARGE, "autocomplete": "off"}),
    )
    purpose = forms.ChoiceField(
        label=gettext_lazy("Purpose of the visit"),
        choices=VisitPurpose.choices,
        widget=forms.RadioSelect(attrs={"class": "btn-check"}),
    )
    dealer_center: forms.ModelChoiceField[Any] = forms.ModelChoiceField(
        label=gettext_lazy("Dealer center"),
        queryset=None,
        widget=forms.Select(attrs=_LARGE_SELECT),
    )
    manager = forms.TypedChoiceField(
        label=gettext_lazy("Hand over to"),
        coerce=int,
        required=False,
        empty_value=None,
        widget=forms.Select(attrs=_LARGE_SELECT),
    )
    note = forms.CharField(
        label=gettext_lazy("Note"),
        required=False,
        max_length=2000,
        widget=forms.Textarea(attrs={**_LARGE, "rows": 2}),
    )

    def __init__(self, *args: Any, user: Any, dealer_center_id: int | None, **kwargs: Any):
        super().__init__(*args, **kwargs)
        field: Any = self.fields["dealer_center"]
        field.queryset = visible_dealer_centers(user).select_related(None).only("id", "name")
        chosen = self.data.get("dealer_center") if self.is_bound else dealer_center_id
        chosen_id = int(str(chosen)) if str(chosen or "").isdigit() else None
        self.fields["manager"].choices = manager_choices(chosen_id)  # type: ignore[attr-defined]


def manager_choices(dealer_center_id: int | None) -> list[tuple[Any, str]]:
    managers = selectors.sales_managers(dealer_center_id=dealer_center_id)
    return [("", _("Nobody yet")), *((m.pk, m.display_name) for m in managers)]


def _default_dealer_center(request: HttpRequest) -> int | None:
    active = getattr(request, "active_dealer_center_id", None)
    if active is not None:
        return int(active)
    ids = list(visible_dealer_centers(request.user).values_list("pk", flat=True)[:2])
    return ids[0] if len(ids) == 1 else None


@require_http_methods(["GET", "POST"])
@login_required
@permission_required("sales.register_visit", raise_exception=True)
def visit_new(request: HttpRequest) -> HttpResponse:
    dealer_center_id = _default_dealer_center(request)
    if request.method == "POST":
        form = VisitForm(request.POST, user=request.user, dealer_center_id=dealer_center_id)
        if form.is_valid():
            data = form.cleaned_data
            try:
                visit = visit_register(
                    actor=request.user,
                    phone=data["phone"],
                    name=data["name"],
                    dealer_center_id=data["dealer_center"].pk,
                    purpose=data["purpose"],
                    manager_id=data["manager"],
                    note=data["note"],
                )
            except DomainError as error:
                field = {"dealer_center_id": "dealer_center", "manager_id": "manager"}.get(
                    error.field or "", error.field
                )
                form.add_error(field if field in form.fields else None, str(error.message))
            else:
                text = _("Visit of %(client)s registered.") % {"client": visit.client.display_name}
                if visit.manager is not None:
                    text += " " + _("%(manager)s has been notified.") % {
                        "manager": visit.manager.display_name
                    }
                messages.success(request, text)
                return HttpResponseRedirect(reverse("sales:visit_new"))
        status = 400
    else:
        form = VisitForm(
            user=request.user,
            dealer_center_id=dealer_center_id,
            initial={"dealer_center": dealer_center_id},
        )
        status = 200
    return render(request, "sales/visit_form.html", {"form": form}, status=status)


@require_GET
@login_required
@permission_required("sales.register_visit", raise_exception=True)
def visit_lookup(request: HttpRequest) -> HttpResponse:
    """As the phone is typed: who is this (name when the user may see him), or a new client."""
    raw = request.GET.get("phone", "")
    number = try_normalize_phone(raw)
    client = client_find(phone=number) if number else None
    visible = client is not None and client_list(user=request.user).filter(pk=client.pk).exists()
    context = {
        "phone_given": bool(raw.strip()),
        "number": number,
        "client": client if visible else None,
        "known_elsewhere": client is not None and not visible,
        "client_url": client_card_url(client.pk) if client is not None and visible else "",
        "name": request.GET.get("name", ""),
    }
    return render(request, "sales/visit_lookup.html", context)


@require_GET
@login_required
@permission_required("sales.register_visit", raise_exception=True)
def visit_managers(request: HttpRequest) -> HttpResponse:
    """The manager options of the chosen dealer center."""
    raw = request.GET.get("dealer_center", "")
    dealer_center_id = int(raw) if raw.isdigit() else None
    if dealer_center_id is not None and not (
        visible_dealer_centers(request.user).filter(pk=dealer_center_id).exists()
    ):
        dealer_center_id = None
    return render(
        request,
        "sales/visit_manager_options.html",
        {"choices": manager_choices(dealer_center_id)},
    )


# --- requests ---------------------------------------------------------------------------


class RequestFilterForm(forms.Form):
    status = forms.ChoiceField(
        label=gettext_lazy("Status"),
        required=False,
        choices=[("", gettext_lazy("Any status")), *RequestStatus.choices],
        widget=forms.Select(attrs={"class": "form-select"}),
    )
    source = forms.ChoiceField(
        label=gettext_lazy("Source"),
        required=False,
        choices=[("", gettext_lazy("Any source")), *RequestSource.choices],
        widget=forms.Select(attrs={"class": "form-select"}),
    )
    dealer_center: forms.ModelChoiceField[Any] = forms.ModelChoiceField(
        label=gettext_lazy("Dealer center"),
        required=False,
        queryset=None,
        empty_label=gettext_lazy("Any dealer center"),
        widget=forms.Select(attrs={"class": "form-select"}),
    )
    opened_from = forms.DateField(
        label=gettext_lazy("Opened from"),
        required=False,
        widget=forms.DateInput(attrs={"class": "form-control", "type": "date"}),
    )
    opened_to = forms.DateField(
        label=gettext_lazy("Opened to"),
        required=False,
        widget=forms.DateInput(attrs={"class": "form-control", "type": "date"}),
    )

    def __init__(self, *args: Any, user: Any, **kwargs: Any):
        super().__init__(*args, **kwargs)
        field: Any = self.fields["dealer_center"]
        field.queryset = visible_dealer_centers(user).select_related(None).only("id", "name")


@require_GET
@login_required
@permission_required("sales.view_requests", raise_exception=True)
def request_list(request: HttpRequest) -> HttpResponse:
    form = RequestFilterForm(request.GET or None, user=request.user)
    filters: dict[str, Any] = {}
    if form.is_bound and form.is_valid():
        data = form.cleaned_data
        filters = {
            "status": data["status"] or None,
            "source": data["source"] or None,
            "dealer_center_id": data["dealer_center"].pk if data["dealer_center"] else None,
            "opened_from": data["opened_from"],
            "opened_to": data["opened_to"],
        }
    queryset = selectors.request_list(
        user=request.user,
        active_dealer_center_id=getattr(request, "active_dealer_center_id", None),
        **filters,
    )
    page = Paginator(queryset, PAGE_SIZE).get_page(request.GET.get("page"))
    rows = [{"request": item, "client_url": client_card_url(item.client_id)} for item in page]
    query = request.GET.copy()
    query.pop("page", None)
    return render(
        request,
        "sales/request_list.html",
        {"form": form, "page": page, "rows": rows, "query": query.urlencode()},
    )
