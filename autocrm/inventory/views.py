"""Stock screens: the search page a sales manager lives in, the vehicle card, the printable
PTS page, and the card's actions (reserve, release, logistics status).

Views parse input and call one selector, search or service; the rules live there. Domain
errors from services become messages on the card, never a 500.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.db.models import Count
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect, QueryDict
from django.shortcuts import render
from django.urls import reverse
from django.utils import timezone
from django.utils.cache import patch_vary_headers
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_GET, require_POST
from rules.contrib.views import permission_required

from autocrm.accounts.models import Consignor
from autocrm.accounts.scoping import scope_queryset
from autocrm.core.errors import DomainError
from autocrm.inventory import presets, selectors, services
from autocrm.inventory.export import EXPORT_LIMIT, export_filename, write_vehicles_xlsx
from autocrm.inventory.forms import LogisticsStatusForm, ReserveForm, SavedSearchForm
from autocrm.inventory.models import (
    BodyType,
    Condition,
    DriveType,
    EngineType,
    LogisticsStatus,
    ReservationStatus,
    Transmission,
    Vehicle,
)
from autocrm.inventory.search import (
    DEFAULT_SORT,
    FILTER_LOOKUPS,
    SearchResult,
    VehicleSearchParams,
    filter_conditions,
    search_vehicles,
    vehicle_item,
)

PAGE_SIZE = 50
# Parameters of the page itself rather than of the search.
_PAGE_PARAMETERS = ("page", "limit", "offset")

# Checkbox groups in the order a buyer narrows a car down: where, what, which, what state.
FACET_GROUPS: list[tuple[str, Any]] = [
    ("city", gettext_lazy("City")),
    ("site", gettext_lazy("Site")),
    ("make", gettext_lazy("Make")),
    ("model", gettext_lazy("Model")),
    ("trim", gettext_lazy("Trim")),
    ("condition", gettext_lazy("Vehicle type")),
    ("body", gettext_lazy("Body")),
    ("drive", gettext_lazy("Drive")),
    ("engine", gettext_lazy("Engine")),
    ("transmission", gettext_lazy("Transmission")),
    ("color", gettext_lazy("Colour")),
    ("reservation_status", gettext_lazy("Status (reservation)")),
    ("logistics_status", gettext_lazy("Logistics status")),
    ("consignor", gettext_lazy("Consignor")),
]
# Shown above the ranges; the rest below them.
PRIMARY_FACETS = frozenset({"city", "site", "make", "model", "trim", "condition"})
# Long lists (models, colours ...) scroll inside their group instead of stretching the panel.
SCROLLING_FACETS = frozenset({"site", "model", "trim", "color", "consignor", "make", "city"})

RANGES: list[tuple[str, Any, str]] = [
    ("price", gettext_lazy("Price, ₽"), "10000"),
    ("year", gettext_lazy("Year"), "1"),
    ("mileage", gettext_lazy("Mileage, km"), "1000"),
    ("days_in_stock", gettext_lazy("Days in stock"), "1"),
]

SORTS: list[tuple[str, Any]] = [
    ("days_in_stock", gettext_lazy("Newest arrivals first")),
    ("price", gettext_lazy("Price: low to high")),
    ("-price", gettext_lazy("Price: high to low")),
    ("-year", gettext_lazy("Year: newest first")),
    ("year", gettext_lazy("Year: oldest first")),
    ("mileage", gettext_lazy("Mileage: lowest first")),
    ("-mileage", gettext_lazy("Mileage: highest first")),
    ("-days_in_stock", gettext_lazy("Days in stock: longest first")),
]


# --------------------------------------------------------------------------- search page


@dataclass(frozen=True)
class PageInfo:
    number: int
    num_pages: int
    count: int
    start_index: int
    end_index: int

    @property
    def has_previous(self) -> bool:
        return self.number > 1

    @property
    def has_next(self) -> bool:
        return self.number < self.num_pages

    @property
    def previous_page_number(self) -> int:
        return self.number - 1

    @property
    def next_page_number(self) -> int:
        return self.number + 1

    def links(self) -> list[int | None]:
        """Page numbers to show, ``None`` for a gap: 1 … 4 5 [6] 7 8 … 20."""
        shown: list[int | None] = []
        for number in range(1, self.num_pages + 1):
            if number in (1, self.num_pages) or abs(number - self.number) <= 2:
                shown.append(number)
            elif shown and shown[-1] is not None:
                shown.append(None)
        return shown


def _search_query(request: HttpRequest) -> QueryDict:
    """The filters of the request, without page navigation, empty fields (the form sends
    every field) and the default sort — the short, shareable form of the search."""
    query = QueryDict(mutable=True)
    for name, values in request.GET.lists():
        kept = [value for value in values if value.strip()]
        if name in _PAGE_PARAMETERS or not kept or (name == "sort" and kept == [DEFAULT_SORT]):
            continue
        query.setlist(name, kept)
    return query


def _page_number(request: HttpRequest) -> int:
    try:
        return max(int(request.GET.get("page", "1")), 1)
    except ValueError:
        return 1


def _search_params(query: QueryDict, *, limit: int, offset: int) -> VehicleSearchParams:
    parameters = query.copy()
    parameters["limit"] = str(limit)
    parameters["offset"] = str(offset)
    return VehicleSearchParams.from_query(parameters)


def _value_labels() -> dict[str, dict[str, str]]:
    """Display names of coded facet values (``suv`` → «Внедорожник»)."""
    labels: dict[str, dict[str, str]] = {
        "condition": {value: str(label) for value, label in Condition.choices},
        "reservation_status": {value: str(label) for value, label in ReservationStatus.choices},
    }
    for name, model in (
        ("body", BodyType),
        ("drive", DriveType),
        ("engine", EngineType),
        ("transmission", Transmission),
        ("logistics_status", LogisticsStatus),
    ):
        labels[name] = dict(model.objects.values_list("code", "name"))
    return labels


def _facet_entries(result: SearchResult, name: str, params: VehicleSearchParams, user: Any) -> Any:
    """The facet's ``(value, count)`` list, or ``None`` when there is nothing to offer.

    The engine counts the facets of the API contract. Trims are counted here once a model is
    chosen (a trim means nothing without its model, and the narrowed count is cheap);
    consignors are offered without counts. Either is replaced by the engine's facet as soon
    as it provides one.
    """
    entries = result.facets.get(name)
    if entries is not None:
        return [(str(entry.value), entry.count) for entry in entries]
    if name == "trim" and params.model:
        conditions = filter_conditions(params, result.today)
        conditions.pop("trim", None)
        column = FILTER_LOOKUPS["trim"]
        rows = (
            selectors.vehicle_queryset(user=user)
            .filter(*conditions.values())
            .exclude(**{f"{column}__isnull": True})
            .values_list(column)
            .annotate(number=Count("pk"))
            .order_by("-number", column)
        )
        return [(str(value), number) for value, number in rows]
    if name == "consignor":
        # The short consignor table, not a DISTINCT over every car in stock.
        names = scope_queryset(Consignor.objects.all(), user, include_unassigned=True).values_list(
            "name", flat=True
        )
        return [(value, None) for value in names.order_by("name")]
    return None


def _facet_groups(
    result: SearchResult,
    params: VehicleSearchParams,
    query: QueryDict,
    labels: dict[str, dict[str, str]],
    user: Any,
) -> list[dict[str, Any]]:
    groups = []
    for name, title in FACET_GROUPS:
        selected = [value for value in query.getlist(name) if value.strip()]
        entries = _facet_entries(result, name, params, user)
        if entries is None and not selected:
            continue
        options = []
        seen = set()
        for value, count in entries or []:
            seen.add(value)
            options.append(
                {
                    "value": value,
                    "label": labels.get(name, {}).get(value, value),
                    "count": count,
                    "checked": value in selected,
                }
            )
        # A ticked value that other filters reduced to nothing stays, so it can be unticked.
        for value in selected:
            if value not in seen:
                options.append(
                    {
                        "value": value,
                        "label": labels.get(name, {}).get(value, value),
                        "count": 0,
                        "checked": True,
                    }
                )
        groups.append(
            {
                "name": name,
                "title": title,
                "options": options,
                "selected_count": len(selected),
                "scrolls": name in SCROLLING_FACETS and len(options) > 8,
            }
        )
    return groups


def _active_filters(query: QueryDict, labels: dict[str, dict[str, str]]) -> list[dict[str, Any]]:
    """Chips above the result: one per ticked value, range bound and text search."""
    chips: list[dict[str, Any]] = []
    for name, title in FACET_GROUPS:
        for value in query.getlist(name):
            if value:
                remaining = query.copy()
                remaining.setlist(name, [item for item in query.getlist(name) if item != value])
                chips.append(
                    {
                        "title": title,
                        "label": labels.get(name, {}).get(value, value),
                        "query": remaining.urlencode(),
                        "live": True,
                    }
                )
    bounds = {"min": _("from"), "max": _("to")}
    for name, title, _step in RANGES:
        for bound, word in bounds.items():
            key = f"{name}_{bound}"
            if query.get(key):
                remaining = query.copy()
                remaining.pop(key)
                chips.append(
                    {
                        "title": title,
                        "label": f"{word} {query[key]}",
                        "query": remaining.urlencode(),
                        "live": False,
                    }
                )
    for key, title in (("q", _("Search")), ("vin", "VIN")):
        if query.get(key):
            remaining = query.copy()
            remaining.pop(key)
            chips.append(
                {"title": title, "label": query[key], "query": remaining.urlencode(), "live": False}
            )
    return chips


@require_GET
@login_required
@permission_required("inventory.search_stock", raise_exception=True)
def stock_search(request: HttpRequest) -> HttpResponse:
    query = _search_query(request)
    page_number = _page_number(request)
    context: dict[str, Any] = {
        "query": query,
        "query_string": query.urlencode(),
        "sorts": SORTS,
        "current_sort": query.get("sort") or DEFAULT_SORT,
        "ranges": [
            {
                "name": name,
                "title": title,
                "step": step,
                "min": query.get(f"{name}_min", ""),
                "max": query.get(f"{name}_max", ""),
            }
            for name, title, step in RANGES
        ],
        "error": None,
        "search_url": reverse("inventory:search"),
    }
    status = 200
    labels = _value_labels()
    try:
        params = _search_params(query, limit=PAGE_SIZE, offset=(page_number - 1) * PAGE_SIZE)
        result = search_vehicles(
            user=request.user,
            params=params,
            active_dealer_center_id=getattr(request, "active_dealer_center_id", None),
        )
    except DomainError as error:
        # A hand-edited or stale link: say which filter is wrong instead of failing.
        status = 400
        context["error"] = error
        context.update(
            count=0,
            items=[],
            facet_groups_primary=[],
            facet_groups_secondary=[],
            page=None,
            active_filters=[],
        )
    else:
        num_pages = max((result.count + PAGE_SIZE - 1) // PAGE_SIZE, 1)
        if page_number > num_pages and result.count:
            page_number = num_pages
            params = _search_params(query, limit=PAGE_SIZE, offset=(page_number - 1) * PAGE_SIZE)
            result = search_vehicles(
                user=request.user,
                params=params,
                active_dealer_center_id=getattr(request, "active_dealer_center_id", None),
            )
        start = (page_number - 1) * PAGE_SIZE
        groups = _facet_groups(result, params, query, labels, request.user)
        context.update(
            count=result.count,
            items=_rows(result, labels),
            facet_groups_primary=[group for group in groups if group["name"] in PRIMARY_FACETS],
            facet_groups_secondary=[
                group for group in groups if group["name"] not in PRIMARY_FACETS
            ],
            active_filters=_active_filters(query, labels),
            page=PageInfo(
                number=page_number,
                num_pages=num_pages,
                count=result.count,
                start_index=start + 1 if result.count else 0,
                end_index=min(start + PAGE_SIZE, result.count),
            ),
        )
    context["export_limit"] = EXPORT_LIMIT
    htmx = getattr(request, "htmx", None)
    if htmx and not htmx.history_restore_request:
        response = render(request, "inventory/search_fragment.html", context, status=status)
        # The address bar gets the short form of the search, not every empty form field.
        page = context["page"]
        pushed = query.copy()
        if page is not None and page.number > 1:
            pushed["page"] = str(page.number)
        response["HX-Push-Url"] = _search_url(pushed.urlencode())
    else:
        context["presets"] = presets.saved_search_list(user=request.user)
        context["preset_form"] = SavedSearchForm(initial={"query": context["query_string"]})
        response = render(request, "inventory/stock_search.html", context, status=status)
    # The same URL answers with the whole page or the fragment; caches must keep both apart.
    patch_vary_headers(response, ("HX-Request",))
    return response


# Item fields given as catalog codes; people read their names.
_CODED_FIELDS = (
    "condition",
    "reservation_status",
    "logistics_status",
    "body",
    "drive",
    "engine",
    "transmission",
)


def _rows(result: SearchResult, labels: dict[str, dict[str, str]]) -> list[dict[str, Any]]:
    """The result's cars as the engine spells them, plus display names of coded values."""
    rows = []
    for vehicle in result.items:
        row = vehicle_item(vehicle, result.today)
        row["price"] = vehicle.price
        for name in _CODED_FIELDS:
            value = row.get(name)
            row[f"{name}_label"] = labels.get(name, {}).get(value, value) if value else None
        rows.append(row)
    return rows


@require_GET
@login_required
@permission_required("inventory.search_stock", raise_exception=True)
def stock_export(request: HttpRequest) -> HttpResponse:
    """The current result, every matching row up to ``EXPORT_LIMIT``, as an XLSX file."""
    try:
        params = _search_params(_search_query(request), limit=PAGE_SIZE, offset=0)
    except DomainError as error:
        return HttpResponse(
            f"{error.field or 'query'}: {error.message}",
            status=400,
            content_type="text/plain; charset=utf-8",
        )
    labels = _value_labels()
    rows: list[dict[str, Any]] = []
    total = 0
    # Batches keep memory flat; the page-size cap of the API does not apply to this
    # internal reader, hence dataclasses.replace instead of from_query.
    while len(rows) < EXPORT_LIMIT:
        batch = dataclasses.replace(
            params, limit=min(EXPORT_BATCH, EXPORT_LIMIT - len(rows)), offset=len(rows)
        )
        result = search_vehicles(
            user=request.user,
            params=batch,
            with_facets=False,
            active_dealer_center_id=getattr(request, "active_dealer_center_id", None),
        )
        total = result.count
        rows.extend(_rows(result, labels))
        if not result.items or len(rows) >= total:
            break
    response = HttpResponse(
        write_vehicles_xlsx(rows),
        content_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    )
    response["Content-Disposition"] = f'attachment; filename="{export_filename()}"'
    response["X-Total-Count"] = str(total)
    return response


EXPORT_BATCH = 1000


# --------------------------------------------------------------------------- presets


def _search_url(query: str) -> str:
    url = reverse("inventory:search")
    return f"{url}?{query}" if query else url


@require_POST
@login_required
@permission_required("inventory.search_stock", raise_exception=True)
def preset_save(request: HttpRequest) -> HttpResponse:
    form = SavedSearchForm(request.POST)
    query = request.POST.get("query", "")
    if not form.is_valid():
        messages.error(request, _("Give the preset a name (up to 100 characters)."))
        return HttpResponseRedirect(_search_url(presets.normalize_query(query)))
    try:
        preset = presets.saved_search_save(
            actor=request.user, name=form.cleaned_data["name"], query=form.cleaned_data["query"]
        )
    except DomainError as error:
        messages.error(request, error.message)
        return HttpResponseRedirect(_search_url(presets.normalize_query(query)))
    messages.success(request, _("Preset “%(name)s” saved.") % {"name": preset.name})
    return HttpResponseRedirect(_search_url(preset.query))


@require_POST
@login_required
@permission_required("inventory.search_stock", raise_exception=True)
def preset_delete(request: HttpRequest, pk: int) -> HttpResponse:
    try:
        presets.saved_search_delete(actor=request.user, saved_search_id=pk)
    except DomainError:
        raise Http404 from None
    messages.success(request, _("Preset deleted."))
    return HttpResponseRedirect(_search_url(presets.normalize_query(request.POST.get("query", ""))))


# --------------------------------------------------------------------------- vehicle card


def _vehicle_or_404(request: HttpRequest, pk: int) -> Vehicle:
    vehicle = selectors.vehicle_card(user=request.user, vehicle_id=pk)
    if vehicle is None:
        # Missing and out of scope look the same, so a car's existence does not leak.
        raise Http404
    return vehicle


def _card(
    request: HttpRequest,
    vehicle: Vehicle,
    *,
    reserve_form: ReserveForm | None = None,
    logistics_form: LogisticsStatusForm | None = None,
    status: int = 200,
) -> HttpResponse:
    reservations = list(vehicle.reservations.all())
    for inspection in vehicle.inspections.all():
        inspection.repair_total = sum(  # type: ignore[attr-defined]
            (defect.repair_estimate for defect in inspection.defects.all()), Decimal("0")
        )
    flags = [
        {"key": "credit-sale", "label": _("Credit sale"), "value": vehicle.credit_sale},
        {"key": "trade-in-sale", "label": _("Trade-in sale"), "value": vehicle.trade_in_sale},
        {"key": "pledged", "label": _("Pledged"), "value": vehicle.pledged},
        {"key": "ord-present", "label": _("ORD present"), "value": vehicle.ord_present},
    ]
    context = {
        "vehicle": vehicle,
        "days_in_stock": vehicle.days_in_stock(timezone.localdate()),
        "active_reservation": next((item for item in reservations if item.is_active), None),
        "flags": flags,
        "can_reserve": request.user.has_perm("inventory.reserve_vehicle"),
        "can_change_logistics": request.user.has_perm("inventory.change_logistics_status"),
        "reserve_form": reserve_form or ReserveForm(),
        "logistics_form": logistics_form
        or LogisticsStatusForm(initial={"to_status": vehicle.logistics_status_id}),
    }
    return render(request, "inventory/vehicle_detail.html", context, status=status)


@require_GET
@login_required
@permission_required("inventory.search_stock", raise_exception=True)
def vehicle_detail(request: HttpRequest, pk: int) -> HttpResponse:
    return _card(request, _vehicle_or_404(request, pk))


@require_GET
@login_required
@permission_required("inventory.search_stock", raise_exception=True)
def vehicle_pts(request: HttpRequest, pk: int) -> HttpResponse:
    vehicle = _vehicle_or_404(request, pk)
    return render(
        request, "inventory/vehicle_pts.html", {"vehicle": vehicle, "printed_at": timezone.now()}
    )


def _back_to_card(vehicle: Vehicle) -> HttpResponseRedirect:
    return HttpResponseRedirect(reverse("inventory:detail", args=[vehicle.pk]))


@require_POST
@login_required
@permission_required("inventory.reserve_vehicle", raise_exception=True)
def vehicle_reserve(request: HttpRequest, pk: int) -> HttpResponse:
    vehicle = _vehicle_or_404(request, pk)
    form = ReserveForm(request.POST)
    if not form.is_valid():
        return _card(request, vehicle, reserve_form=form, status=400)
    try:
        reservation = services.reservation_create(
            actor=request.user,
            vehicle=vehicle,
            hours=form.cleaned_data["hours"],
            comment=form.cleaned_data["comment"],
        )
    except DomainError as error:
        messages.error(request, error.message)
    else:
        until = timezone.localtime(reservation.expires_at).strftime("%d.%m.%Y %H:%M")
        messages.success(request, _("The car is reserved until %(until)s.") % {"until": until})
    return _back_to_card(vehicle)


@require_POST
@login_required
@permission_required("inventory.reserve_vehicle", raise_exception=True)
def vehicle_release(request: HttpRequest, pk: int) -> HttpResponse:
    vehicle = _vehicle_or_404(request, pk)
    try:
        services.reservation_release(actor=request.user, vehicle=vehicle)
    except DomainError as error:
        messages.error(request, error.message)
    else:
        messages.success(request, _("The reservation is released."))
    return _back_to_card(vehicle)


@require_POST
@login_required
@permission_required("inventory.change_logistics_status", raise_exception=True)
def vehicle_logistics_change(request: HttpRequest, pk: int) -> HttpResponse:
    vehicle = _vehicle_or_404(request, pk)
    form = LogisticsStatusForm(request.POST)
    if not form.is_valid():
        return _card(request, vehicle, logistics_form=form, status=400)
    try:
        change = services.logistics_status_change(
            actor=request.user,
            vehicle=vehicle,
            to_status=form.cleaned_data["to_status"],
            comment=form.cleaned_data["comment"],
        )
    except DomainError as error:
        messages.error(request, error.message)
    else:
        messages.success(
            request,
            _("Logistics status changed to “%(status)s”.") % {"status": change.to_status.name},
        )
    return _back_to_card(vehicle)
