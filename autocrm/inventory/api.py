"""API of the stock: faceted vehicle search, the vehicle card, reservations."""

from __future__ import annotations

import json
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from django.http import HttpRequest, HttpResponse
from ninja import Body, Field, Query, Router, Schema, Status
from ninja.responses import NinjaJSONEncoder

from autocrm.clients.selectors import client_list
from autocrm.core.api import (
    DEFAULT_LIMIT,
    DETAIL_ERROR_RESPONSES,
    ERROR_RESPONSES,
    MAX_ID,
    MAX_LIMIT,
    MAX_OFFSET,
    ErrorOut,
    get_or_404,
    object_id,
    require_perm,
)
from autocrm.core.errors import NotFound
from autocrm.inventory import selectors, services
from autocrm.inventory.search import (
    DEFAULT_SORT,
    SORTS,
    VehicleSearchParams,
    search_today,
    search_vehicles,
    vehicle_item,
    vehicle_year,
)

router = Router(tags=["inventory"])


class VehicleFilters(Schema):
    """Query parameters of the search; repeat a list parameter for OR within it."""

    make: list[str] = Field(default_factory=list, description="Make name.")
    model: list[str] = Field(default_factory=list, description="Model name.")
    trim: list[str] = Field(default_factory=list, description="Trim name.")
    body: list[str] = Field(default_factory=list, description="Body type code, e.g. suv.")
    drive: list[str] = Field(default_factory=list, description="Drive code: fwd, rwd, awd.")
    engine: list[str] = Field(default_factory=list, description="Engine type code.")
    transmission: list[str] = Field(default_factory=list, description="Transmission code.")
    color: list[str] = Field(default_factory=list, description="Colour name.")
    condition: list[str] = Field(default_factory=list, description="new or used.")
    city: list[str] = Field(default_factory=list, description="City name.")
    site: list[str] = Field(default_factory=list, description="Site name.")
    consignor: list[str] = Field(default_factory=list, description="Consignor name.")
    reservation_status: list[str] = Field(
        default_factory=list, description="free, reserved or sold."
    )
    logistics_status: list[str] = Field(default_factory=list, description="Logistics code.")
    year_min: str | None = Field(None, description="Model year (or year by PTS), from.")
    year_max: str | None = Field(None, description="Model year (or year by PTS), to.")
    price_min: str | None = Field(None, description="Price from, a decimal number.")
    price_max: str | None = Field(None, description="Price to, a decimal number.")
    mileage_min: str | None = Field(None, description="Mileage from, km.")
    mileage_max: str | None = Field(None, description="Mileage to, km.")
    days_in_stock_min: str | None = Field(None, description="Days in stock, from.")
    days_in_stock_max: str | None = Field(None, description="Days in stock, to.")
    vin: str | None = Field(None, description="The full VIN or its last 4 to 16 characters.")
    q: str | None = Field(None, description="Words to find in VIN, stock code, make, model.")
    sort: str | None = Field(
        None, description=f"One of {', '.join(SORTS)}; ties by id. Default: {DEFAULT_SORT}."
    )
    limit: str | None = Field(None, description=f"Page size, 1 to {MAX_LIMIT} ({DEFAULT_LIMIT}).")
    offset: str | None = Field(None, description=f"Rows to skip, 0 to {MAX_OFFSET}.")


class VehicleItemOut(Schema):
    id: int
    stock_code: str
    vin: str
    make: str
    model: str
    trim: str | None
    body: str | None
    drive: str | None
    engine: str | None
    transmission: str | None
    color: str | None
    year: int | None
    mileage: int
    price: str = Field(description="Decimal string, e.g. 3119900.00.")
    currency: str
    condition: str
    city: str
    site: str
    consignor: str | None
    reservation_status: str
    logistics_status: str
    days_in_stock: int


class FacetValueOut(Schema):
    value: str | int
    count: int


class VehicleSearchOut(Schema):
    count: int = Field(description="Cars matching every filter, on all pages.")
    items: list[VehicleItemOut]
    facets: dict[str, list[FacetValueOut]] = Field(
        description="Per facet, counts under every filter except the facet's own."
    )


@router.get(
    "/vehicles",
    response={200: VehicleSearchOut, **ERROR_RESPONSES},
    summary="Search the stock with facets",
)
def vehicle_search(request: HttpRequest, filters: Query[VehicleFilters]) -> HttpResponse:
    """Cars in stock the caller may see, filtered, sorted and paged, with facet counts.

    Parsing and validation are ``VehicleSearchParams.from_query`` (the search page uses the
    same), so the API and the page accept exactly the same parameters."""
    require_perm(request, "inventory.search_stock")
    params = VehicleSearchParams.from_query(request.GET)
    result = search_vehicles(user=request.user, params=params)
    payload = {
        "count": result.count,
        "items": [vehicle_item(vehicle, result.today) for vehicle in result.items],
        "facets": {
            name: [{"value": entry.value, "count": entry.count} for entry in entries]
            for name, entries in result.facets.items()
        },
    }
    # Rendered here rather than by ninja: its response validation walks ~1,000 plain
    # values through a getter wrapper (~2.5 ms a page). The payload is built of str, int
    # and None in exactly the shape of VehicleSearchOut (documented above; a test
    # validates real answers against it), and rendered like ninja's JSON renderer.
    return HttpResponse(
        json.dumps(payload, cls=NinjaJSONEncoder), content_type="application/json; charset=utf-8"
    )


class CodeName(Schema):
    code: str
    name: str


class IdName(Schema):
    id: int
    name: str


class UserRef(Schema):
    id: int
    display_name: str


class LogisticsChangeOut(Schema):
    id: int
    from_status: CodeName | None
    to_status: CodeName
    changed_by: UserRef | None
    changed_at: datetime
    comment: str


class RestrictionOut(Schema):
    id: int
    kind: str
    source: str
    starts_on: date | None
    ends_on: date | None
    note: str


class DefectOut(Schema):
    id: int
    body_zone: str
    kind: str
    severity: str
    repair_estimate: Decimal
    note: str


class InspectionOut(Schema):
    id: int
    inspected_at: datetime
    inspector: UserRef
    mileage: int
    result: str
    notes: str
    defects: list[DefectOut]
    photos: list[str]


class ReservationOut(Schema):
    id: int
    vehicle_id: int
    client: IdName | None
    manager: UserRef
    created_at: datetime
    expires_at: datetime
    comment: str
    is_active: bool


class VehicleCardOut(VehicleItemOut):
    model_year: int | None
    pts_year: int | None
    displacement_cc: int | None
    power_hp: Decimal | None
    power_kw: Decimal | None
    interior: str
    report_date: date | None
    right_hand_drive: bool
    stock_in_date: date
    warranty_start: date | None
    warranty_end: date | None
    planned_delivery_date: date | None
    actual_delivery_date: date | None
    description: str
    pts_kind: str
    pts_number: str
    pts_present: bool
    pts_buyout_date: date | None
    pts_received_date: date | None
    pts_storage_place: str
    credit_sale: bool
    trade_in_sale: bool
    pledged: bool
    ord_present: bool
    dealer_center: IdName | None
    owners_count: int | None
    history_report_url: str
    history_report_date: date | None
    logistics_history: list[LogisticsChangeOut]
    restrictions: list[RestrictionOut]
    inspections: list[InspectionOut]
    reservation: ReservationOut | None = Field(description="The active reservation, if any.")


def _user_ref(user: Any) -> dict[str, Any] | None:
    return None if user is None else {"id": user.pk, "display_name": user.display_name}


def _card(vehicle: Any) -> dict[str, Any]:
    today = search_today()
    reservations = list(vehicle.reservations.all())
    active = next((reservation for reservation in reservations if reservation.is_active), None)
    card = vehicle_item(vehicle, today)
    card.update(
        {
            name: getattr(vehicle, name)
            for name in (
                "model_year",
                "pts_year",
                "displacement_cc",
                "power_hp",
                "power_kw",
                "interior",
                "report_date",
                "right_hand_drive",
                "stock_in_date",
                "warranty_start",
                "warranty_end",
                "planned_delivery_date",
                "actual_delivery_date",
                "description",
                "pts_kind",
                "pts_number",
                "pts_present",
                "pts_buyout_date",
                "pts_received_date",
                "pts_storage_place",
                "credit_sale",
                "trade_in_sale",
                "pledged",
                "ord_present",
                "owners_count",
                "history_report_url",
                "history_report_date",
            )
        }
    )
    card["year"] = vehicle_year(vehicle)
    card["dealer_center"] = vehicle.dealer_center
    card["logistics_history"] = [
        {
            "id": change.pk,
            "from_status": change.from_status,
            "to_status": change.to_status,
            "changed_by": _user_ref(change.changed_by),
            "changed_at": change.changed_at,
            "comment": change.comment,
        }
        for change in vehicle.logistics_history.all()
    ]
    card["restrictions"] = list(vehicle.restrictions.all())
    card["inspections"] = [
        {
            "id": inspection.pk,
            "inspected_at": inspection.inspected_at,
            "inspector": _user_ref(inspection.inspector),
            "mileage": inspection.mileage,
            "result": inspection.result,
            "notes": inspection.notes,
            "defects": list(inspection.defects.all()),
            "photos": [photo.image.url for photo in inspection.photos.all()],
        }
        for inspection in vehicle.inspections.all()
    ]
    card["reservation"] = _reservation(active) if active is not None else None
    return card


def _reservation(reservation: Any) -> dict[str, Any]:
    return {
        "id": reservation.pk,
        "vehicle_id": reservation.vehicle_id,
        "client": None
        if reservation.client is None
        else {"id": reservation.client.pk, "name": str(reservation.client)},
        "manager": _user_ref(reservation.manager),
        "created_at": reservation.created_at,
        "expires_at": reservation.expires_at,
        "comment": reservation.comment,
        "is_active": reservation.is_active,
    }


@router.get(
    "/vehicles/{vehicle_id}",
    response={200: VehicleCardOut, **DETAIL_ERROR_RESPONSES},
    summary="One vehicle's card",
)
def vehicle_detail(request: HttpRequest, vehicle_id: int = object_id()) -> dict[str, Any]:
    """Every field of the card, with logistics history, restrictions, inspections with
    their defects and the active reservation. Cars of other dealer centers: 404."""
    require_perm(request, "inventory.search_stock")
    vehicle = selectors.vehicle_card(user=request.user, vehicle_id=vehicle_id)
    if vehicle is None:
        raise NotFound("Not found.")
    return _card(vehicle)


class ReservationIn(Schema):
    client_id: int | None = Field(None, ge=1, le=MAX_ID, description="The client, if known.")
    hours: int = Field(
        services.DEFAULT_RESERVATION_HOURS,
        ge=1,
        le=services.MAX_RESERVATION_HOURS,
        description="How long the hold lasts.",
    )
    comment: str = Field("", max_length=300)


# The body may be left out entirely: every field has a default.
OPTIONAL_BODY = Body(None)


@router.post(
    "/vehicles/{vehicle_id}/reservation",
    response={201: ReservationOut, 409: ErrorOut, **DETAIL_ERROR_RESPONSES},
    summary="Reserve a vehicle",
)
def reservation_create(
    request: HttpRequest,
    vehicle_id: int = object_id(),
    payload: ReservationIn | None = OPTIONAL_BODY,
) -> Status[dict[str, Any]]:
    """Hold a free car for a client: 201 with the reservation, 409 when it is already
    reserved (of concurrent requests exactly one wins)."""
    require_perm(request, "inventory.reserve_vehicle")
    payload = payload or ReservationIn.model_validate({})
    vehicle = get_or_404(selectors.vehicle_queryset(user=request.user), pk=vehicle_id)
    client = None
    if payload.client_id is not None:
        # A client of another dealer center answers like a missing one.
        client = client_list(user=request.user).filter(pk=payload.client_id).first()
        if client is None:
            raise NotFound("No such client.", field="client_id")
    reservation = services.reservation_create(
        actor=request.user,
        vehicle=vehicle,
        client=client,
        hours=payload.hours,
        comment=payload.comment,
    )
    return Status(201, _reservation(reservation))


@router.delete(
    "/vehicles/{vehicle_id}/reservation",
    response={204: None, 409: ErrorOut, **DETAIL_ERROR_RESPONSES},
    summary="Release a vehicle's reservation",
)
def reservation_release(request: HttpRequest, vehicle_id: int = object_id()) -> HttpResponse:
    """Release the active reservation (204); 409 when the car is not reserved."""
    require_perm(request, "inventory.reserve_vehicle")
    vehicle = get_or_404(selectors.vehicle_queryset(user=request.user), pk=vehicle_id)
    services.reservation_release(actor=request.user, vehicle=vehicle)
    return HttpResponse(status=204)
