"""The order card's "Promotions" (Акции) and "Additional equipment" (ДО) tabs, and the
logisticians' page of promotions.

The tabs are htmx partials that the order card loads. An action re-renders its tab and
answers with ``HX-Trigger: orderChanged`` so that the card's totals and other loaded tabs
refresh (the card's orders.js does not reload the tab the change came from). A refused
action re-renders the tab with the reason as an alert, with the refusal's own status
(409, 400); the tab is marked ``data-swap-errors`` so that the card swaps it in. Without
htmx (a plain form post) the browser goes back to ``next`` with the outcome as a message.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse
from django.utils import timezone
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods, require_POST
from rules.contrib.views import permission_required

from autocrm.accounts.scoping import scope_queryset
from autocrm.core.errors import DomainError, NotFound
from autocrm.orders import selectors_catalog as catalog
from autocrm.orders.forms_catalog import (
    InstallationStatusForm,
    PromotionFilterForm,
    PromotionForm,
    put_error,
)
from autocrm.orders.models import (
    INSTALLATION_TRANSITIONS,
    EquipmentPackage,
    InstallationStatus,
    Order,
    OrderEquipment,
    Promotion,
)
from autocrm.orders.selectors import order_get
from autocrm.orders.services import catalog as services

VIEW_PERMISSION = "orders.view_orders"
SELL_PERMISSION = "orders.sell"
PROMOTIONS_PERMISSION = "orders.manage_promotions"
EQUIPMENT_PERMISSION = "orders.manage_equipment"
ORDER_CHANGED = "orderChanged"
PAGE_SIZE = 50

view_permission = permission_required(VIEW_PERMISSION, raise_exception=True)
sell_permission = permission_required(SELL_PERMISSION, raise_exception=True)
promotions_permission = permission_required(PROMOTIONS_PERMISSION, raise_exception=True)


# --------------------------------------------------------------------------- helpers


def _order_or_404(request: HttpRequest, order_id: int) -> Order:
    try:
        return order_get(request.user, order_id)
    except NotFound:
        raise Http404 from None


def _htmx(request: HttpRequest) -> bool:
    return bool(getattr(request, "htmx", False))


def _int(value: str | None) -> int | None:
    text = (value or "").strip()
    return int(text) if text.isascii() and text.isdigit() and len(text) < 19 else None


def _next_url(request: HttpRequest, default: str) -> str:
    candidate = request.POST.get("next") or ""
    if candidate and url_has_allowed_host_and_scheme(
        candidate, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return candidate
    return default


def _back_url(request: HttpRequest) -> str:
    """Where a plain (non-htmx) form post of a tab returns: the page the tab was loaded
    into (htmx sends it), else nothing (the tab itself)."""
    candidate = request.headers.get("HX-Current-URL", "") or request.POST.get("next", "")
    if candidate and url_has_allowed_host_and_scheme(
        candidate, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return candidate
    return ""


def _may_install(user: Any) -> bool:
    return bool(user.has_perm(EQUIPMENT_PERMISSION) or user.has_perm(SELL_PERMISSION))


def _answer(
    request: HttpRequest,
    order_id: int,
    tab: str,
    *,
    error: DomainError | None = None,
    done: str = "",
) -> HttpResponse:
    """After an action: the tab again (htmx), or back to where the form was (browser)."""
    if not _htmx(request):
        back = _next_url(request, reverse(TABS[tab][1], args=[order_id]))
        if error is not None:
            messages.error(request, str(error.message))
        elif done:
            messages.success(request, done)
        return HttpResponseRedirect(back)
    order = _order_or_404(request, order_id)
    response: HttpResponse = TABS[tab][0](request, order, error=error)
    if error is None:
        response["HX-Trigger"] = ORDER_CHANGED
    else:
        response.status_code = error.status_code
    return response


def _alert(error: DomainError | None) -> dict[str, Any] | None:
    if error is None:
        return None
    return {"message": str(error.message), "code": error.code, "status": error.status_code}


# --------------------------------------------------------------------------- promotions tab


def _render_promotions(
    request: HttpRequest, order: Order, *, error: DomainError | None = None
) -> HttpResponse:
    today = catalog.dealer_center_today(order.dealer_center)
    applied = list(catalog.order_promotions(order))
    exclusive = next((line.promotion for line in applied if not line.promotion.combinable), None)
    available = []
    for promotion in catalog.promotions_available(order, today):
        blocked = ""
        if exclusive is not None:
            blocked = _("Does not combine with “%(name)s”.") % {"name": exclusive.name}
        elif applied and not promotion.combinable:
            blocked = _("Does not combine with the applied promotions.")
        available.append(
            {
                "promotion": promotion,
                "discount": catalog.promotion_discount(promotion, order.vehicle_price),
                "cities": sorted(city.name for city in promotion.cities.all()),
                "blocked": blocked,
            }
        )
    context = {
        "order": order,
        "today": today,
        "applied": applied,
        "available": available,
        "can_change": order.is_editable and request.user.has_perm(SELL_PERMISSION),
        "alert": _alert(error),
        "tab_url": reverse("orders:promotions_tab", args=[order.pk]),
        "next": _back_url(request),
    }
    return render(request, "orders/catalog/_promotions_tab.html", context)


@require_GET
@login_required
@view_permission
def promotions_tab(request: HttpRequest, order_id: int) -> HttpResponse:
    return _render_promotions(request, _order_or_404(request, order_id))


@require_POST
@login_required
@view_permission
@sell_permission
def promotion_apply(request: HttpRequest, order_id: int) -> HttpResponse:
    order = _order_or_404(request, order_id)
    promotion_id = _int(request.POST.get("promotion_id"))
    promotion = Promotion.objects.filter(pk=promotion_id).first() if promotion_id else None
    if promotion is None:
        raise Http404
    try:
        services.promotion_apply(actor=request.user, order=order, promotion=promotion)
    except DomainError as error:
        return _answer(request, order_id, "promotions", error=error)
    done = _("The promotion “%(name)s” is applied.") % {"name": promotion.name}
    return _answer(request, order_id, "promotions", done=done)


@require_POST
@login_required
@view_permission
@sell_permission
def promotion_remove(request: HttpRequest, order_id: int, promotion_id: int) -> HttpResponse:
    order = _order_or_404(request, order_id)
    promotion = Promotion.objects.filter(pk=promotion_id).first()
    if promotion is None:
        raise Http404
    try:
        services.promotion_remove(actor=request.user, order=order, promotion=promotion)
    except DomainError as error:
        return _answer(request, order_id, "promotions", error=error)
    done = _("The promotion “%(name)s” is removed.") % {"name": promotion.name}
    return _answer(request, order_id, "promotions", done=done)


# --------------------------------------------------------------------------- equipment tab


def _render_equipment(
    request: HttpRequest, order: Order, *, error: DomainError | None = None
) -> HttpResponse:
    may_install = order.is_active and _may_install(request.user)
    zone = catalog.dealer_center_zone(order.dealer_center)
    lines = []
    with timezone.override(zone):
        for line in catalog.order_equipment(order):
            allowed = sorted(INSTALLATION_TRANSITIONS[line.installation_status])
            if line.installation_status == InstallationStatus.SCHEDULED:
                allowed = sorted({*allowed, InstallationStatus.SCHEDULED})
            lines.append(
                {
                    "line": line,
                    "choices": [(code, InstallationStatus(code).label) for code in allowed],
                    "form_id": f"installation-{line.pk}",
                }
            )
        context = {
            "order": order,
            "lines": lines,
            "available": list(catalog.packages_available(order)),
            "can_change": order.is_editable and request.user.has_perm(SELL_PERMISSION),
            "may_install": may_install,
            "alert": _alert(error),
            "tab_url": reverse("orders:equipment_tab", args=[order.pk]),
            "next": _back_url(request),
            "installed": InstallationStatus.INSTALLED,
        }
        return render(request, "orders/catalog/_equipment_tab.html", context)


TABS: dict[str, tuple[Callable[..., HttpResponse], str]] = {
    "promotions": (_render_promotions, "orders:promotions_tab"),
    "equipment": (_render_equipment, "orders:equipment_tab"),
}


@require_GET
@login_required
@view_permission
def equipment_tab(request: HttpRequest, order_id: int) -> HttpResponse:
    return _render_equipment(request, _order_or_404(request, order_id))


@require_POST
@login_required
@view_permission
@sell_permission
def equipment_add(request: HttpRequest, order_id: int) -> HttpResponse:
    order = _order_or_404(request, order_id)
    package_id = _int(request.POST.get("package_id"))
    visible = scope_queryset(EquipmentPackage.objects.all(), request.user, include_unassigned=True)
    package = visible.filter(pk=package_id).first() if package_id else None
    if package is None:
        raise Http404
    try:
        services.equipment_add(actor=request.user, order=order, package=package)
    except DomainError as error:
        return _answer(request, order_id, "equipment", error=error)
    done = _("The package “%(name)s” is added.") % {"name": package.name}
    return _answer(request, order_id, "equipment", done=done)


def _line_or_404(order: Order, item_id: int) -> OrderEquipment:
    line = OrderEquipment.objects.select_related("package").filter(pk=item_id, order=order).first()
    if line is None:
        raise Http404
    return line


@require_POST
@login_required
@view_permission
@sell_permission
def equipment_remove(request: HttpRequest, order_id: int, item_id: int) -> HttpResponse:
    order = _order_or_404(request, order_id)
    line = _line_or_404(order, item_id)
    try:
        services.equipment_remove(actor=request.user, order=order, item=line)
    except DomainError as error:
        return _answer(request, order_id, "equipment", error=error)
    done = _("The package “%(name)s” is removed.") % {"name": line.package.name}
    return _answer(request, order_id, "equipment", done=done)


@require_POST
@login_required
@view_permission
def equipment_status(request: HttpRequest, order_id: int, item_id: int) -> HttpResponse:
    if not _may_install(request.user):
        raise PermissionDenied
    order = _order_or_404(request, order_id)
    line = _line_or_404(order, item_id)
    with timezone.override(catalog.dealer_center_zone(order.dealer_center)):
        form = InstallationStatusForm(request.POST)
        valid = form.is_valid()
    if not valid:
        field, errors = next(iter(form.errors.items()))
        error = DomainError(" ".join(str(message) for message in errors), field=field)
        return _answer(request, order_id, "equipment", error=error)
    try:
        services.installation_set_status(
            actor=request.user,
            item=line,
            status=form.cleaned_data["status"],
            scheduled_for=form.cleaned_data.get("scheduled_for"),
        )
    except DomainError as error:
        return _answer(request, order_id, "equipment", error=error)
    done = _("The installation of “%(name)s” is updated.") % {"name": line.package.name}
    return _answer(request, order_id, "equipment", done=done)


# --------------------------------------------------------------------------- promotions page


@require_GET
@login_required
@promotions_permission
def promotion_list(request: HttpRequest) -> HttpResponse:
    form = PromotionFilterForm(request.GET or None)
    filters: dict[str, Any] = {}
    if form.is_valid():
        data = form.cleaned_data
        state = data.get("state")
        filters = {
            "make": data.get("make"),
            "city": data.get("city"),
            "active_on": data.get("active_on"),
            "is_active": {"active": True, "inactive": False}.get(state or ""),
            "search": data.get("q") or "",
        }
    page = Paginator(catalog.promotion_list(**filters), PAGE_SIZE).get_page(request.GET.get("page"))
    context = {
        "form": form,
        "page": page,
        "query": request.GET.copy(),
        "today": timezone.localdate(),
    }
    status = 400 if form.is_bound and form.errors else 200
    return render(request, "orders/catalog/promotion_list.html", context, status=status)


def _promotion_form_page(
    request: HttpRequest, form: PromotionForm, promotion: Promotion | None, status: int = 200
) -> HttpResponse:
    context = {
        "form": form,
        "promotion": promotion,
        "in_use": promotion is not None and promotion.applications.exists(),
    }
    return render(request, "orders/catalog/promotion_form.html", context, status=status)


@require_http_methods(["GET", "POST"])
@login_required
@promotions_permission
def promotion_new(request: HttpRequest) -> HttpResponse:
    if request.method != "POST":
        return _promotion_form_page(request, PromotionForm(initial=_new_initial()), None)
    form = PromotionForm(request.POST)
    if form.is_valid():
        try:
            promotion = services.promotion_create(actor=request.user, **form.service_arguments())
        except DomainError as error:
            put_error(form, error)
        else:
            messages.success(
                request, _("The promotion “%(name)s” is created.") % {"name": promotion.name}
            )
            return HttpResponseRedirect(reverse("orders:promotion_list"))
    return _promotion_form_page(request, form, None, status=400)


def _new_initial() -> dict[str, Any]:
    today: date = timezone.localdate()
    return {"valid_from": today, "valid_to": today, "combinable": True, "is_active": True}


@require_http_methods(["GET", "POST"])
@login_required
@promotions_permission
def promotion_edit(request: HttpRequest, promotion_id: int) -> HttpResponse:
    promotion = (
        Promotion.objects.select_related("make", "car_model", "trim")
        .prefetch_related("cities")
        .filter(pk=promotion_id)
        .first()
    )
    if promotion is None:
        raise Http404
    if request.method != "POST":
        form = PromotionForm(initial=PromotionForm.initial_of(promotion))
        return _promotion_form_page(request, form, promotion)
    form = PromotionForm(request.POST)
    if form.is_valid():
        try:
            services.promotion_update(
                actor=request.user, promotion=promotion, **form.service_arguments()
            )
        except DomainError as error:
            put_error(form, error)
        else:
            messages.success(
                request,
                _("The promotion “%(name)s” is saved.") % {"name": form.cleaned_data["name"]},
            )
            return HttpResponseRedirect(reverse("orders:promotion_list"))
    return _promotion_form_page(request, form, promotion, status=400)
