from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_POST
from rules.contrib.views import permission_required

from autocrm.accounts import selectors
from autocrm.accounts.middleware import SESSION_KEY
from autocrm.accounts.models import Weekday
from autocrm.accounts.scoping import can_see_dealer_center


def _active(request: HttpRequest) -> int | None:
    return getattr(request, "active_dealer_center_id", None)


@login_required
@permission_required("accounts.view_structure", raise_exception=True)
def dealer_center_list(request: HttpRequest) -> HttpResponse:
    dealer_centers = selectors.dealer_center_list(
        user=request.user, active_dealer_center_id=_active(request)
    )
    page = Paginator(dealer_centers, 50).get_page(request.GET.get("page"))
    return render(request, "accounts/dealer_center_list.html", {"page": page})


@login_required
@permission_required("accounts.view_structure", raise_exception=True)
def dealer_center_detail(request: HttpRequest, pk: int) -> HttpResponse:
    dealer_center = (
        selectors.dealer_center_list(user=request.user)
        .prefetch_related("working_hours", "sites", "departments")
        .filter(pk=pk)
        .first()
    )
    if dealer_center is None:
        raise Http404
    # Every weekday is listed; a weekday without a row is a day off.
    hours_by_day = {hours.weekday: hours for hours in dealer_center.working_hours.all()}
    working_week = [
        {"label": label, "hours": hours_by_day.get(value)} for value, label in Weekday.choices
    ]
    return render(
        request,
        "accounts/dealer_center_detail.html",
        {"dealer_center": dealer_center, "working_week": working_week},
    )


@login_required
@permission_required("accounts.view_staff", raise_exception=True)
def user_list(request: HttpRequest) -> HttpResponse:
    users = selectors.user_list(user=request.user, active_dealer_center_id=_active(request))
    page = Paginator(users, 50).get_page(request.GET.get("page"))
    return render(request, "accounts/user_list.html", {"page": page})


@require_POST
@login_required
def switch_dealer_center(request: HttpRequest) -> HttpResponse:
    """Narrow every screen to one dealer center, or back to all (empty value)."""
    raw = request.POST.get("dealer_center", "")
    if raw == "":
        request.session.pop(SESSION_KEY, None)
    else:
        try:
            chosen = int(raw)
        except ValueError:
            return HttpResponse("dealer_center: not a number", status=400)
        if not can_see_dealer_center(request.user, chosen):
            raise Http404
        request.session[SESSION_KEY] = chosen
    target = request.POST.get("next") or "/"
    if not url_has_allowed_host_and_scheme(target, {request.get_host()}, request.is_secure()):
        target = "/"
    return HttpResponseRedirect(target)
