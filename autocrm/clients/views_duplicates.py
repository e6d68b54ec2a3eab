"""The duplicates screen and the merge confirmation (for those who may merge clients).

URLs (clients/urls.py): ``duplicates/`` → ``duplicates``, ``<pk>/merge/<other_pk>/`` →
``merge``. The merge redirects to the survivor's card (``clients:detail``).
"""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.urls import NoReverseMatch, reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods
from rules.contrib.views import permission_required

from autocrm.clients import selectors, services
from autocrm.clients.models import Client
from autocrm.core.errors import DomainError

# Pairs shown on the screen; merging some brings the next ones up.
PAGE_SIZE = 50


def card_url(pk: int) -> str:
    try:
        return reverse("clients:detail", args=[pk])
    except NoReverseMatch:  # the card view is not mounted (yet): its documented path
        return f"/clients/{pk}/"


def merge_url(pk: int, other_pk: int) -> str:
    try:
        return reverse("clients:merge", args=[pk, other_pk])
    except NoReverseMatch:
        return f"/clients/{pk}/merge/{other_pk}/"


def _duplicates_url() -> str:
    try:
        return reverse("clients:duplicates")
    except NoReverseMatch:
        return "/clients/duplicates/"


def _side(client: Client) -> dict[str, Any]:
    return {
        "client": client,
        "url": card_url(client.pk),
        "phones": [phone.number for phone in client.phones.all()],
        "emails": [email.address for email in client.emails.all()],
        "identities": list(client.identities.all()),
    }


def _reason_labels(pair: selectors.DuplicatePair) -> list[dict[str, str]]:
    labels: list[dict[str, str]] = []
    for reason in pair.reasons:
        if reason == selectors.Reason.SIMILAR_NAME:
            label = _("Similar name (%(percent)s%%)") % {"percent": round(pair.score * 100)}
        else:
            label = _reason_label(reason)
        labels.append({"code": reason, "label": label})
    return labels


def _reason_label(reason: str) -> str:
    return {
        selectors.Reason.PHONE: _("Same phone"),
        selectors.Reason.EMAIL: _("Same e-mail"),
        selectors.Reason.NAME: _("Same name"),
    }.get(reason, reason)


@require_GET
@login_required
@permission_required("clients.merge_clients", raise_exception=True)
def duplicates(request: HttpRequest) -> HttpResponse:
    pairs = selectors.duplicate_pairs(user=request.user, limit=PAGE_SIZE)
    rows = [
        {
            "first": _side(pair.first),
            "second": _side(pair.second),
            "sides": [_side(pair.first), _side(pair.second)],
            "reasons": _reason_labels(pair),
            "shared": pair.shared,
            "merge_url": merge_url(pair.first.pk, pair.second.pk),
        }
        for pair in pairs
    ]
    return render(request, "clients/duplicates.html", {"rows": rows, "page_size": PAGE_SIZE})


def _visible(request: HttpRequest, pk: int) -> Client:
    client = (
        selectors.client_list(user=request.user)
        .select_related("dealer_center", "responsible")
        .prefetch_related("phones", "emails", "identities")
        .filter(pk=pk)
        .first()
    )
    if client is None:
        raise Http404
    return client


@require_http_methods(["GET", "POST"])
@login_required
@permission_required("clients.merge_clients", raise_exception=True)
def merge(request: HttpRequest, pk: int, other_pk: int) -> HttpResponse:
    """Confirm which of two clients survives (the older one by default), then merge."""
    if pk == other_pk:
        raise Http404
    one, two = _visible(request, pk), _visible(request, other_pk)
    older, newer = sorted((one, two), key=lambda c: (c.created_at, c.pk))
    error = ""
    survivor_id = older.pk
    if request.method == "POST":
        try:
            survivor_id = int(request.POST.get("survivor", ""))
        except ValueError:
            survivor_id = 0
        if survivor_id not in (one.pk, two.pk):
            error = _("Choose the client that stays.")
            survivor_id = older.pk
        else:
            survivor = one if survivor_id == one.pk else two
            other = two if survivor is one else one
            try:
                services.client_merge(actor=request.user, survivor=survivor, other=other)
            except DomainError as exc:
                error = str(exc.message)
            else:
                messages.success(
                    request,
                    _("Client #%(other)s is merged into this card.") % {"other": other.pk},
                )
                return HttpResponseRedirect(card_url(survivor.pk))
    sides = [
        _side(client) | {"history": selectors.client_history_counts(client)}
        for client in (older, newer)
    ]
    already_merged = one.merged_into_id is not None or two.merged_into_id is not None
    return render(
        request,
        "clients/merge_confirm.html",
        {
            "sides": sides,
            "survivor_id": survivor_id,
            "error": error,
            "already_merged": already_merged,
            "duplicates_url": _duplicates_url(),
        },
        status=400 if error else 200,
    )
