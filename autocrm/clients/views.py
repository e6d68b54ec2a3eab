"""Client screens: the list with search, find-before-create, and the client card with its
timeline across channels.

Views parse input and call selectors and services. A client outside the user's dealer
centers answers 404 like a missing one; a merged client's old links lead to the survivor.
"""

from __future__ import annotations

from typing import Any

import phonenumbers
from django.contrib.auth.decorators import login_required
from django.db.models import Q
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_http_methods
from rules.contrib.views import permission_required

from autocrm.accounts.scoping import visible_dealer_centers
from autocrm.clients import services, timeline
from autocrm.clients.forms import ClientCreateForm, ClientSearchForm
from autocrm.clients.models import (
    Client,
    ClientEmail,
    ClientPhone,
    ConsentPurpose,
)
from autocrm.clients.selectors import client_detail as client_card
from autocrm.clients.selectors import client_list, client_search, latest_consents
from autocrm.core.errors import DomainError, ValidationFailed

PAGE_SIZE = 50
# Followed merges at most this deep (a chain of merges is flattened by client_merge).


def format_phone(number: str) -> str:
    """``+79123456789`` as people write it: ``+7 912 345-67-89``."""
    try:
        parsed = phonenumbers.parse(number, None)
    except phonenumbers.NumberParseException:
        return number
    return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.INTERNATIONAL)


# --------------------------------------------------------------------------- the list


@login_required
@permission_required("clients.view_client", raise_exception=True)
@require_GET
def client_list_view(request: HttpRequest) -> HttpResponse:
    form = ClientSearchForm(request.GET or None)
    query = form.cleaned_data["q"] if form.is_valid() else ""
    try:
        page_number = max(int(request.GET.get("page", "1")), 1)
    except ValueError:
        page_number = 1
    queryset = client_search(
        user=request.user,
        q=query,
        active_dealer_center_id=getattr(request, "active_dealer_center_id", None),
    ).select_related("dealer_center", "responsible")
    offset = (page_number - 1) * PAGE_SIZE
    # One row more than the page tells whether there is a next one, without counting a
    # client base of a million rows.
    rows = list(queryset.order_by("-pk")[offset : offset + PAGE_SIZE + 1])
    clients = rows[:PAGE_SIZE]
    context = {
        "form": form,
        "query": query,
        "rows": [
            {
                "client": c,
                "phones": [format_phone(phone.number) for phone in c.phones.all()],
                "emails": [email.address for email in c.emails.all()],
            }
            for c in clients
        ],
        "page_number": page_number,
        "has_previous": page_number > 1,
        "has_next": len(rows) > PAGE_SIZE,
        "can_create": request.user.has_perm("clients.add_client"),
    }
    return render(request, "clients/list.html", context)


# --------------------------------------------------------------------------- creation


def _matching_clients(user: Any, phone: str | None, email: str | None) -> tuple[list[Client], bool]:
    """Clients the user sees with this phone or e-mail, and whether one exists that he
    does not see (he is told so, without who it is)."""
    condition = Q()
    if phone:
        condition |= Q(pk__in=ClientPhone.objects.filter(number=phone).values("client_id"))
    if email:
        condition |= Q(pk__in=ClientEmail.objects.filter(address=email).values("client_id"))
    if not condition:
        return [], False
    everywhere = Client.objects.filter(condition, merged_into__isnull=True)
    visible = list(
        client_list(user=user)
        .filter(condition, merged_into__isnull=True)
        .select_related("dealer_center")
        .order_by("pk")[:10]
    )
    hidden = everywhere.exclude(pk__in=[c.pk for c in visible]).exists() and not visible
    return visible, hidden


@login_required
@permission_required("clients.add_client", raise_exception=True)
@require_http_methods(["GET", "POST"])
def client_create_view(request: HttpRequest) -> HttpResponse:
    """Find before create: a phone or e-mail that is already known shows that client
    instead; the user may still create a new one with "create anyway"."""
    dealer_centers = [(dc.pk, dc.name) for dc in visible_dealer_centers(request.user)]
    active = getattr(request, "active_dealer_center_id", None)
    initial_dc = active or (dealer_centers[0][0] if len(dealer_centers) == 1 else None)
    form = ClientCreateForm(
        request.POST or None, dealer_centers=dealer_centers, initial={"dealer_center": initial_dc}
    )
    matches: list[Client] = []
    hidden_match = False
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        phone: str | None = None
        email: str | None = None
        try:
            if data["phone"].strip():
                phone = services.normalize_phone(data["phone"])
            if data["email"].strip():
                email = services.normalize_email(data["email"])
        except ValidationFailed as error:
            form.add_error(error.field or None, str(error.message))
        if form.is_valid():
            matches, hidden_match = _matching_clients(request.user, phone, email)
            if not (matches or hidden_match) or data["confirm_duplicate"]:
                consents = {}
                if data["consent_personal_data"]:
                    consents[ConsentPurpose.PERSONAL_DATA.value] = True
                if data["consent_marketing"]:
                    consents[ConsentPurpose.MARKETING.value] = True
                try:
                    client = services.client_create(
                        actor=request.user,
                        kind=data["kind"],
                        last_name=data["last_name"],
                        first_name=data["first_name"],
                        middle_name=data["middle_name"],
                        company_name=data["company_name"],
                        phones=[phone] if phone else [],
                        emails=[email] if email else [],
                        dealer_center_id=data["dealer_center"],
                        responsible_id=request.user.pk if data["responsible_me"] else None,
                        note=data["note"],
                        consents=consents,
                        consent_source="manual",
                    )
                except DomainError as error:
                    field = error.field if error.field in form.fields else None
                    form.add_error(field, str(error.message))
                else:
                    return redirect("clients:detail", pk=client.pk)
    context = {
        "form": form,
        "matches": [
            {
                "client": c,
                "phones": [format_phone(p.number) for p in c.phones.all()],
                "emails": [e.address for e in c.emails.all()],
            }
            for c in matches
        ],
        "hidden_match": hidden_match,
    }
    return render(request, "clients/create.html", context)


# --------------------------------------------------------------------------- the card


def _visible_client(request: HttpRequest, pk: int) -> Client:
    client = client_list(user=request.user).filter(pk=pk).first()
    if client is None:
        raise Http404
    return client


def _consent_rows(client: Client) -> list[dict[str, Any]]:
    latest = latest_consents(client)
    return [
        {"purpose": purpose, "label": label, "consent": latest.get(purpose)}
        for purpose, label in ConsentPurpose.choices
    ]


def timeline_context(
    client: Client, items: list[timeline.TimelineItem], next_before: str | None
) -> dict[str, Any]:
    """What ``clients/_timeline.html`` needs; the reply box's POST renders it too."""
    return {
        "client": client,
        "items": items,
        "next_before": next_before,
        "newest": items[0].cursor.encode() if items else "",
        "timeline_url": reverse("clients:timeline", args=[client.pk]),
    }


@login_required
@permission_required("clients.view_client", raise_exception=True)
@require_GET
def client_detail(request: HttpRequest, pk: int) -> HttpResponse:
    client = client_card(user=request.user, client_id=pk)
    if client is None:
        raise Http404
    if client.merged_into_id is not None:
        return redirect("clients:detail", pk=services.client_survivor(client).pk)
    items, next_before = timeline.client_timeline(client=client)
    context = {
        **timeline_context(client, items, next_before),
        "phones": [
            {"number": p.number, "display": format_phone(p.number), "phone": p}
            for p in client.phones.all()
        ],
        "emails": list(client.emails.all()),
        "identities": list(client.identities.all()),
        "consents": _consent_rows(client),
        "card_panels": [
            {"key": key, "url": build(client)} for key, build in timeline.card_panels().items()
        ],
    }
    return render(request, "clients/detail.html", context)


@login_required
@permission_required("clients.view_client", raise_exception=True)
@require_GET
def client_timeline_part(request: HttpRequest, pk: int) -> HttpResponse:
    """htmx parts of the timeline.

    ``?before=`` — the next older page and a new "show earlier" button (replaces the old
    one); ``?after=`` — items newer than the newest shown, preceded by the poller with the
    new position (replaces the old poller, so new items land at the top); neither — the
    whole timeline.
    """
    client = _visible_client(request, pk)
    if client.merged_into_id is not None:
        response = HttpResponse(status=204)
        response["HX-Redirect"] = reverse(
            "clients:detail", args=[services.client_survivor(client).pk]
        )
        return response
    try:
        if "after" in request.GET:
            items, overflow = timeline.client_timeline_newer(
                client=client, after=request.GET["after"]
            )
            if overflow:
                # More arrived than one poll shows: reload rather than leave a gap.
                response = HttpResponse(status=204)
                response["HX-Refresh"] = "true"
                return response
            context = timeline_context(client, items, None)
            # Nothing was shown before: the "no history" line goes once items arrive.
            context["first_items"] = not request.GET["after"]
            if not items:
                context["newest"] = request.GET["after"]
            return render(request, "clients/_timeline_new.html", context)
        before = request.GET.get("before")
        items, next_before = timeline.client_timeline(client=client, before=before)
    except ValidationFailed as error:
        return HttpResponse(str(error.message), status=400, content_type="text/plain")
    context = timeline_context(client, items, next_before)
    template = "clients/_timeline_page.html" if before else "clients/_timeline.html"
    return render(request, template, context)
