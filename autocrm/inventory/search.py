"""Faceted stock search: the one interface the API and the search page call.

``VehicleSearchParams.from_query(request.GET)`` parses and validates the filters (bad input
raises ``ValidationFailed`` naming the parameter); ``search_vehicles(user=..., params=...)``
answers ``SearchResult(count, items, facets)`` for the cars the user may see.

Two engines compute the same answer:

* ``search_index`` — an in-memory roaring-bitmap index per process, kept exact by reading
  ``StockChange`` before every search (docs/architecture.md, "Stock search"); the default.
* ``search_vehicles_sql`` — the same query in plain SQL through the ORM: the reference the
  benchmark compares with, and the fallback when the index cannot be used.

Value spellings (filters, facet values and item fields alike): make, model, trim, colour,
city, site and consignor by name; body, drive, engine, transmission and logistics status
by catalog code; condition and reservation status by their codes. ``year`` is the model
year, or the year by (E)PTS when the model year is unknown. ``days_in_stock`` is
``max(today - stock_in_date, 0)`` with ``today`` the date in the project's time zone.
"""

from __future__ import annotations

import dataclasses
import datetime
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any, Literal
from urllib.parse import urlencode

from django.db.models import Count, F, Q, QuerySet, Value
from django.db.models.fields import DateField
from django.db.models.functions import Coalesce, Least
from django.utils import timezone
from django.utils.translation import gettext as _

from autocrm.core.api import DEFAULT_LIMIT, MAX_LIMIT, MAX_OFFSET
from autocrm.core.errors import ValidationFailed
from autocrm.inventory.models import Condition, ReservationStatus, Vehicle
from autocrm.inventory.selectors import vehicle_queryset
from autocrm.inventory.vin import VIN_TAIL_RE, normalize_vin

# Filters that take a list of values (OR within one filter, AND between filters).
LIST_FILTERS: tuple[str, ...] = (
    "make",
    "model",
    "trim",
    "body",
    "drive",
    "engine",
    "transmission",
    "color",
    "condition",
    "city",
    "site",
    "consignor",
    "reservation_status",
    "logistics_status",
)
# Filters given as <name>_min / <name>_max, both inclusive.
RANGE_FILTERS: tuple[str, ...] = ("year", "price", "mileage", "days_in_stock")
# Facets returned with every search, in this order.
FACETS: tuple[str, ...] = (
    "make",
    "model",
    "body",
    "drive",
    "engine",
    "transmission",
    "color",
    "condition",
    "city",
    "site",
    "reservation_status",
    "logistics_status",
    "year",
)
SortKey = Literal["price", "year", "mileage", "days_in_stock"]
SORTS: tuple[str, ...] = (
    "days_in_stock",
    "-days_in_stock",
    "price",
    "-price",
    "year",
    "-year",
    "mileage",
    "-mileage",
)
# Newest arrivals first: what a manager opens the page for.
DEFAULT_SORT = "days_in_stock"

# The ORM path of each list filter's value (its spelling: a name or a code).
FILTER_LOOKUPS: dict[str, str] = {
    "make": "make__name",
    "model": "car_model__name",
    "trim": "trim__name",
    "body": "body__code",
    "drive": "drive__code",
    "engine": "engine__code",
    "transmission": "transmission__code",
    "color": "color__name",
    "condition": "condition",
    "city": "city__name",
    "site": "site__name",
    "consignor": "consignor__name",
    "reservation_status": "reservation_status",
    "logistics_status": "logistics_status__code",
}
CLOSED_VALUE_SETS: dict[str, frozenset[str]] = {
    "condition": frozenset(Condition.values),
    "reservation_status": frozenset(ReservationStatus.values),
}
MAX_VALUES_PER_FILTER = 100
MAX_VALUE_LENGTH = 200
MAX_TEXT_LENGTH = 100
MAX_PRICE = Decimal("999999999999.99")
MAX_INTEGER = 2_000_000_000
# Columns of a vehicle that a result page shows (one query for the whole page).
ITEM_RELATED = (
    "make",
    "car_model",
    "trim",
    "body",
    "drive",
    "engine",
    "transmission",
    "color",
    "city",
    "site",
    "consignor",
    "logistics_status",
)


def search_today() -> datetime.date:
    """The date days in stock count to: today in the project's time zone (Europe/Moscow)."""
    return timezone.localdate()


@dataclass(frozen=True)
class VehicleSearchParams:
    """Every filter of the stock search. Empty tuples and ``None`` mean "no filter"."""

    make: tuple[str, ...] = ()
    model: tuple[str, ...] = ()
    trim: tuple[str, ...] = ()
    body: tuple[str, ...] = ()
    drive: tuple[str, ...] = ()
    engine: tuple[str, ...] = ()
    transmission: tuple[str, ...] = ()
    color: tuple[str, ...] = ()
    condition: tuple[str, ...] = ()
    city: tuple[str, ...] = ()
    site: tuple[str, ...] = ()
    consignor: tuple[str, ...] = ()
    reservation_status: tuple[str, ...] = ()
    logistics_status: tuple[str, ...] = ()
    year_min: int | None = None
    year_max: int | None = None
    price_min: Decimal | None = None
    price_max: Decimal | None = None
    mileage_min: int | None = None
    mileage_max: int | None = None
    days_in_stock_min: int | None = None
    days_in_stock_max: int | None = None
    vin: str | None = None  # normalised: upper case, 4 to 17 VIN characters
    q: str | None = None
    sort: str = DEFAULT_SORT
    limit: int = DEFAULT_LIMIT
    offset: int = 0

    @classmethod
    def from_query(cls, query: Mapping[str, Any]) -> VehicleSearchParams:
        """Parse a query string (a ``QueryDict`` or a mapping of name -> value or list).

        Unknown parameters are ignored and empty values mean "no filter" (an HTML form
        sends them); a malformed value raises ``ValidationFailed(field=<parameter>)``.
        """
        values: dict[str, Any] = {}
        for name in LIST_FILTERS:
            values[name] = _parse_list(name, _get_list(query, name))
        for name in RANGE_FILTERS:
            for bound in ("min", "max"):
                key = f"{name}_{bound}"
                raw = _get_one(query, key)
                if raw is not None:
                    values[key] = (
                        _parse_decimal(key, raw) if name == "price" else _parse_int(key, raw)
                    )
        vin = _get_one(query, "vin")
        if vin is not None:
            vin = normalize_vin(vin)
            if not VIN_TAIL_RE.match(vin):
                raise ValidationFailed(
                    _("VIN: 4 to 17 characters, Latin letters except I, O, Q, and digits."),
                    field="vin",
                )
            values["vin"] = vin
        text = _get_one(query, "q")
        if text is not None:
            text = " ".join(text.split())
            if len(text) > MAX_TEXT_LENGTH:
                raise ValidationFailed(_("The search text is too long."), field="q")
            values["q"] = text or None
        sort = _get_one(query, "sort")
        if sort is not None:
            if sort not in SORTS:
                raise ValidationFailed(
                    _("Unknown sort; use one of: %(sorts)s.") % {"sorts": ", ".join(SORTS)},
                    field="sort",
                )
            values["sort"] = sort
        limit = _get_one(query, "limit")
        if limit is not None:
            values["limit"] = _parse_int("limit", limit, minimum=1, maximum=MAX_LIMIT)
        offset = _get_one(query, "offset")
        if offset is not None:
            values["offset"] = _parse_int("offset", offset, maximum=MAX_OFFSET)
        return cls(**values)

    def to_query(self, *, page: bool = True) -> str:
        """The query string that ``from_query`` parses back to these parameters."""
        pairs: list[tuple[str, str]] = []
        defaults = VehicleSearchParams()
        for item in dataclasses.fields(self):
            value = getattr(self, item.name)
            if value == getattr(defaults, item.name):
                continue
            if not page and item.name in {"limit", "offset"}:
                continue
            if isinstance(value, tuple):
                pairs.extend((item.name, element) for element in value)
            else:
                pairs.append((item.name, str(value)))
        return urlencode(pairs)

    def list_filter(self, name: str) -> tuple[str, ...]:
        value: tuple[str, ...] = getattr(self, name)
        return value

    def range_filter(self, name: str) -> tuple[Any, Any]:
        return getattr(self, f"{name}_min"), getattr(self, f"{name}_max")

    @property
    def sort_key(self) -> str:
        return self.sort.lstrip("-")

    @property
    def sort_descending(self) -> bool:
        return self.sort.startswith("-")


def _get_list(query: Mapping[str, Any], name: str) -> list[str]:
    getlist = getattr(query, "getlist", None)
    if getlist is not None:
        return [str(value) for value in getlist(name)]
    value = query.get(name)
    if value is None:
        return []
    if isinstance(value, (list, tuple)):
        return [str(element) for element in value]
    return [str(value)]


def _get_one(query: Mapping[str, Any], name: str) -> str | None:
    values = _get_list(query, name)
    if not values:
        return None
    value = values[-1].strip()
    return value or None


def _parse_list(name: str, raw: Iterable[str]) -> tuple[str, ...]:
    values = tuple(dict.fromkeys(value.strip() for value in raw if value.strip()))
    if len(values) > MAX_VALUES_PER_FILTER:
        raise ValidationFailed(_("Too many values."), field=name)
    if any(len(value) > MAX_VALUE_LENGTH for value in values):
        raise ValidationFailed(_("The value is too long."), field=name)
    allowed = CLOSED_VALUE_SETS.get(name)
    if allowed is not None:
        unknown = [value for value in values if value not in allowed]
        if unknown:
            raise ValidationFailed(
                _("Unknown value %(value)s; use one of: %(values)s.")
                % {"value": unknown[0], "values": ", ".join(sorted(allowed))},
                field=name,
            )
    return values


def _parse_int(name: str, raw: str, *, minimum: int = 0, maximum: int = MAX_INTEGER) -> int:
    try:
        value = int(raw)
    except ValueError:
        raise ValidationFailed(_("Must be a whole number."), field=name) from None
    if not minimum <= value <= maximum:
        raise ValidationFailed(
            _("Must be from %(minimum)s to %(maximum)s.")
            % {"minimum": minimum, "maximum": maximum},
            field=name,
        )
    return value


def _parse_decimal(name: str, raw: str) -> Decimal:
    try:
        value = Decimal(raw.replace(",", ".").replace(" ", ""))
    except InvalidOperation:
        raise ValidationFailed(_("Must be a number."), field=name) from None
    if not value.is_finite() or not Decimal(0) <= value <= MAX_PRICE:
        raise ValidationFailed(_("Must be a non-negative amount."), field=name)
    return value


@dataclass(frozen=True)
class FacetValue:
    value: str | int
    count: int


@dataclass
class SearchResult:
    count: int
    items: list[Vehicle]
    facets: dict[str, list[FacetValue]] = field(default_factory=dict)
    today: datetime.date = field(default_factory=search_today)
    engine: str = "sql"


def search_vehicles(
    *,
    user: Any,
    params: VehicleSearchParams,
    today: datetime.date | None = None,
    with_facets: bool = True,
    active_dealer_center_id: int | None = None,
) -> SearchResult:
    """The page of cars matching ``params`` that ``user`` may see, their count and facets.

    ``active_dealer_center_id`` (the UI's dealer-center switcher) narrows the scope to that
    dealer center's cars plus group stock; a dealer center the user may not see is ignored.

    ``items`` are ``Vehicle`` rows with their catalog relations loaded; ``vehicle_item``
    turns one into the API's dictionary. Answers from the in-memory index when it can,
    from SQL otherwise; both give the same answer (tests compare them with plain Python).
    """
    from autocrm.inventory import search_index

    today = today or search_today()
    result = search_index.search(
        user=user,
        params=params,
        today=today,
        with_facets=with_facets,
        active_dealer_center_id=active_dealer_center_id,
    )
    if result is not None:
        return result
    return search_vehicles_sql(
        user=user,
        params=params,
        today=today,
        with_facets=with_facets,
        active_dealer_center_id=active_dealer_center_id,
    )


# --- the SQL engine -------------------------------------------------------------------


def _list_condition(name: str, values: Sequence[str]) -> Q:
    return Q(**{f"{FILTER_LOOKUPS[name]}__in": list(values)})


def _range_condition(name: str, params: VehicleSearchParams, today: datetime.date) -> Q:
    low, high = params.range_filter(name)
    condition = Q()
    if name == "days_in_stock":
        # days = max(today - stock_in_date, 0): compare dates, so indexes on them apply.
        if low is not None and low > 0:
            condition &= Q(stock_in_date__lte=today - datetime.timedelta(days=low))
        if high is not None:
            condition &= Q(stock_in_date__gte=today - datetime.timedelta(days=high))
        return condition
    column = {"year": "search_year", "price": "price", "mileage": "mileage"}[name]
    if low is not None:
        condition &= Q(**{f"{column}__gte": low})
    if high is not None:
        condition &= Q(**{f"{column}__lte": high})
    return condition


def text_words(text: str) -> list[str]:
    return [word.upper() for word in text.split()]


def _text_condition(params: VehicleSearchParams) -> Q:
    condition = Q()
    if params.vin:
        condition &= Q(vin__endswith=params.vin)
    for word in text_words(params.q or ""):
        condition &= (
            Q(vin__contains=word)
            | Q(stock_code__icontains=word)
            | Q(make__name__icontains=word)
            | Q(car_model__name__icontains=word)
        )
    return condition


def filter_conditions(params: VehicleSearchParams, today: datetime.date) -> dict[str, Q]:
    """One condition per active filter, keyed by the facet it belongs to."""
    conditions: dict[str, Q] = {}
    for name in LIST_FILTERS:
        values = params.list_filter(name)
        if values:
            conditions[name] = _list_condition(name, values)
    for name in RANGE_FILTERS:
        if any(bound is not None for bound in params.range_filter(name)):
            conditions[name] = _range_condition(name, params, today)
    if params.vin or params.q:
        conditions["text"] = _text_condition(params)
    return conditions


def _base_queryset(user: Any, active_dealer_center_id: int | None = None) -> QuerySet[Vehicle]:
    return vehicle_queryset(user=user, active_dealer_center_id=active_dealer_center_id).annotate(
        search_year=Coalesce("model_year", "pts_year")
    )


def _ordering(params: VehicleSearchParams, today: datetime.date) -> list[Any]:
    key = params.sort_key
    descending = params.sort_descending
    expression: Any
    if key == "days_in_stock":
        # Fewer days = later stock-in date; dates after today all count as 0 days.
        expression = Least(F("stock_in_date"), Value(today, output_field=DateField()))
        descending = not descending
    elif key == "year":
        expression = F("search_year")
    else:
        expression = F(key)
    ordered = expression.desc(nulls_last=True) if descending else expression.asc(nulls_last=True)
    return [ordered, "pk"]


def search_vehicles_sql(
    *,
    user: Any,
    params: VehicleSearchParams,
    today: datetime.date | None = None,
    with_facets: bool = True,
    active_dealer_center_id: int | None = None,
) -> SearchResult:
    """The search in plain SQL: one COUNT, one page query and one GROUP BY per facet."""
    today = today or search_today()
    base = _base_queryset(user, active_dealer_center_id)
    conditions = filter_conditions(params, today)
    matching = base.filter(*conditions.values())
    count = matching.count()
    page = list(
        matching.select_related(*ITEM_RELATED).order_by(*_ordering(params, today))[
            params.offset : params.offset + params.limit
        ]
    )
    facets: dict[str, list[FacetValue]] = {}
    if with_facets:
        for facet in FACETS:
            others = [condition for name, condition in conditions.items() if name != facet]
            column = "search_year" if facet == "year" else FILTER_LOOKUPS[facet]
            rows = (
                base.filter(*others)
                .exclude(**{f"{column}__isnull": True})
                .values_list(column)
                .annotate(n=Count("pk"))
                .order_by()
            )
            counts: dict[str | int, int] = {}
            for value, number in rows:
                counts[value] = counts.get(value, 0) + number
            facets[facet] = facet_values(facet, counts, params)
    return SearchResult(count=count, items=page, facets=facets, today=today, engine="sql")


def facet_values(
    facet: str, counts: Mapping[str | int, int], params: VehicleSearchParams
) -> list[FacetValue]:
    """Order a facet: values with cars, plus any selected value even at 0.

    Years newest first; other facets by count, then by value.
    """
    selected: set[str | int] = set(params.list_filter(facet)) if facet in LIST_FILTERS else set()
    entries = [
        FacetValue(value=value, count=counts.get(value, 0))
        for value in set(counts) | selected
        if counts.get(value, 0) > 0 or value in selected
    ]
    if facet == "year":
        entries.sort(key=lambda entry: -int(entry.value))
    else:
        entries.sort(key=lambda entry: (-entry.count, str(entry.value)))
    return entries


# --- items ----------------------------------------------------------------------------


def _name(related: Any) -> str | None:
    return None if related is None else str(related.name)


def _code(related: Any) -> str | None:
    return None if related is None else str(related.code)


def vehicle_year(vehicle: Vehicle) -> int | None:
    return vehicle.model_year if vehicle.model_year is not None else vehicle.pts_year


def vehicle_item(vehicle: Vehicle, today: datetime.date) -> dict[str, Any]:
    """One result row in the API's spelling (the same spelling the filters take)."""
    return {
        "id": vehicle.pk,
        "stock_code": vehicle.stock_code,
        "vin": vehicle.vin,
        "make": vehicle.make.name,
        "model": vehicle.car_model.name,
        "trim": _name(vehicle.trim),
        "body": _code(vehicle.body),
        "drive": _code(vehicle.drive),
        "engine": _code(vehicle.engine),
        "transmission": _code(vehicle.transmission),
        "color": _name(vehicle.color),
        "year": vehicle_year(vehicle),
        "mileage": vehicle.mileage,
        "price": f"{vehicle.price:.2f}",
        "currency": vehicle.currency,
        "condition": vehicle.condition,
        "city": vehicle.city.name,
        "site": vehicle.site.name,
        "consignor": _name(vehicle.consignor),
        "reservation_status": vehicle.reservation_status,
        "logistics_status": vehicle.logistics_status.code,
        "days_in_stock": vehicle.days_in_stock(today),
    }


def vehicles_by_ids(ids: Sequence[int]) -> list[Vehicle]:
    """Rows for ``ids`` in that order (one query); ids gone meanwhile are skipped."""
    rows = Vehicle.objects.select_related(*ITEM_RELATED).in_bulk(list(ids))
    return [rows[pk] for pk in ids if pk in rows]
