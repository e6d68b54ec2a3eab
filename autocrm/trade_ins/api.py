"""HTTP API of trade-ins (Авто в зачёт): booking the inspection of a client's car with a
free appraiser, the appraisal, the client's decision, taking the car into stock, the
appraisers' calendars and free slots.

Every endpoint checks the permission first, then finds the objects the caller may see
(404 otherwise), then reads the body (400 naming the field), then calls one service.
"""

from __future__ import annotations

import zoneinfo
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Annotated, Any, Literal

from django.conf import settings
from django.http import HttpRequest
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from ninja import Field, Query, Router, Schema, Status
from pydantic import AfterValidator, ConfigDict

from autocrm.accounts.models import DealerCenter, User
from autocrm.accounts.scoping import can_see_dealer_center
from autocrm.accounts.selectors import site_list
from autocrm.core.api import (
    DETAIL_ERROR_RESPONSES,
    ErrorOut,
    Id,
    ListParams,
    Page,
    Text,
    body_schema,
    json_body,
    object_id,
    paginate,
    require_perm,
)
from autocrm.core.errors import NotFound, ValidationFailed
from autocrm.orders.selectors import order_get
from autocrm.trade_ins import selectors, services
from autocrm.trade_ins.models import (
    Appraisal,
    AppraisalAppointment,
    AppraisalPhoto,
    TradeIn,
    TradeInStatusChange,
)
from autocrm.trade_ins.validation import MAX_MILEAGE

router = Router(tags=["trade-ins"])

MAX_CALENDAR_DAYS = 62
DEFAULT_CALENDAR_DAYS = 7
# Times are kept inside years that survive the shift to UTC on every database.
EARLIEST_YEAR = 1900
LATEST_YEAR = 9000

PlaceName = Literal["dealer_center", "client_address"]


def _moment(value: datetime) -> datetime:
    if not (EARLIEST_YEAR <= value.year <= LATEST_YEAR):
        raise ValueError(f"The year must be between {EARLIEST_YEAR} and {LATEST_YEAR}.")
    return value


def _day(value: date) -> date:
    if not (EARLIEST_YEAR <= value.year <= LATEST_YEAR):
        raise ValueError(f"The year must be between {EARLIEST_YEAR} and {LATEST_YEAR}.")
    return value


Moment = Annotated[datetime, AfterValidator(_moment)]
Day = Annotated[date, AfterValidator(_day)]
Amount = Annotated[Decimal, Field(max_digits=14, decimal_places=2, allow_inf_nan=False)]


# --- output --------------------------------------------------------------------------------


class UserRef(Schema):
    id: int
    name: str


class AppointmentOut(Schema):
    id: int
    starts_at: datetime
    ends_at: datetime
    blocked_until: datetime = Field(
        description="The appraiser is busy until then (travel buffer for an address)."
    )
    place: str = Field(description="dealer_center or client_address.")
    address: str
    status: str = Field(description="booked, done or cancelled.")
    appraiser: UserRef


class TradeInOut(Schema):
    id: int
    status: str = Field(
        description="appraisal_scheduled, appraised, accepted, declined, taken_into_stock "
        "or cancelled."
    )
    status_name: str
    order_id: int | None
    client: UserRef
    dealer_center_id: int
    make: str
    model: str
    make_id: int | None = Field(description="The catalog's make, when known there.")
    car_model_id: int | None
    plate: str
    vin: str
    year: int
    mileage: int | None
    appraiser: UserRef | None = Field(description="Who inspects (inspected) the car.")
    appointment: AppointmentOut | None = Field(
        description="The booked inspection, else the last one that took place."
    )
    offered_price: Decimal | None = Field(description='A decimal string, e.g. "850000.00".')
    valid_until: date | None
    accepted_amount: Decimal | None = Field(description="Credited to the order.")
    vehicle_id: int | None = Field(description="The stock car, once taken in.")
    created_at: datetime


class DefectOut(Schema):
    zone: str
    kind: str
    severity: str
    note: str
    repair_estimate: Decimal


class PhotoOut(Schema):
    id: int
    caption: str
    content_type: str
    size: int
    url: str = Field(description="Download (browser session).")


class AppraisalOut(Schema):
    appraiser: UserRef
    appraised_at: datetime
    checklist: dict[str, str]
    defects: list[DefectOut]
    offered_price: Decimal
    valid_until: date
    comment: str


class StatusChangeOut(Schema):
    from_status: str
    to_status: str
    changed_by: UserRef | None
    note: str
    at: datetime


class TradeInDetailOut(TradeInOut):
    appraisal: AppraisalOut | None
    photos: list[PhotoOut]
    history: list[StatusChangeOut]


class CalendarItemOut(Schema):
    id: int
    trade_in_id: int
    order_id: int | None
    dealer_center_id: int
    starts_at: datetime
    ends_at: datetime
    blocked_until: datetime
    place: str
    address: str
    status: str
    car: str
    plate: str
    client_name: str


class CalendarOut(Schema):
    appraiser: UserRef
    date_from: date = Field(alias="from")
    date_to: date = Field(alias="to")
    items: list[CalendarItemOut]

    model_config = ConfigDict(populate_by_name=True)


class SlotOut(Schema):
    starts_at: datetime
    ends_at: datetime


class FreeSlotOut(SlotOut):
    appraisers: list[UserRef]


class AppraiserSlotsOut(Schema):
    id: int
    name: str
    slots: list[SlotOut]


class FreeSlotsOut(Schema):
    dealer_center_id: int
    date: date
    place: str
    slot_minutes: int
    travel_buffer_minutes: int
    opens_at: datetime | None = Field(description="null: the dealer center does not work.")
    closes_at: datetime | None
    slots: list[FreeSlotOut] = Field(description="Slots with at least one free appraiser.")
    appraisers: list[AppraiserSlotsOut] = Field(description="Free slots per appraiser.")


def _user(user: Any) -> dict[str, Any] | None:
    return None if user is None else {"id": user.pk, "name": user.display_name}


def _appointment(appointment: AppraisalAppointment | None) -> dict[str, Any] | None:
    if appointment is None:
        return None
    return {
        "id": appointment.pk,
        "starts_at": appointment.starts_at,
        "ends_at": appointment.ends_at,
        "blocked_until": appointment.blocked_until,
        "place": appointment.place,
        "address": appointment.address,
        "status": appointment.status,
        "appraiser": _user(appointment.appraiser),
    }


def _appraisal_of(trade_in: TradeIn) -> Appraisal | None:
    try:
        return trade_in.appraisal
    except Appraisal.DoesNotExist:
        return None


def _trade_in(trade_in: TradeIn) -> dict[str, Any]:
    appointment = selectors.current_appointment(trade_in)
    appraisal = _appraisal_of(trade_in)
    appraiser = appointment.appraiser if appointment is not None else None
    if appraisal is not None and (appointment is None or appointment.status != "booked"):
        appraiser = appraisal.appraiser
    return {
        "id": trade_in.pk,
        "status": trade_in.status,
        "status_name": trade_in.get_status_display(),
        "order_id": trade_in.order_id,
        "client": {"id": trade_in.client_id, "name": trade_in.client.display_name},
        "dealer_center_id": trade_in.dealer_center_id,
        "make": trade_in.make_name,
        "model": trade_in.model_name,
        "make_id": trade_in.make_id,
        "car_model_id": trade_in.car_model_id,
        "plate": trade_in.plate_number,
        "vin": trade_in.vin,
        "year": trade_in.year,
        "mileage": trade_in.mileage,
        "appraiser": _user(appraiser),
        "appointment": _appointment(appointment),
        "offered_price": appraisal.offered_price if appraisal else None,
        "valid_until": appraisal.valid_until if appraisal else None,
        "accepted_amount": trade_in.accepted_amount,
        "vehicle_id": trade_in.vehicle_id,
        "created_at": trade_in.created_at,
    }


def _photo(photo: AppraisalPhoto) -> dict[str, Any]:
    return {
        "id": photo.pk,
        "caption": photo.caption,
        "content_type": photo.content_type,
        "size": photo.size,
        "url": reverse("trade_ins:photo", args=[photo.trade_in_id, photo.pk]),
    }


def _history(change: TradeInStatusChange) -> dict[str, Any]:
    return {
        "from_status": change.from_status,
        "to_status": change.to_status,
        "changed_by": _user(change.changed_by),
        "note": change.note,
        "at": change.at,
    }


def _detail(request: HttpRequest, trade_in_id: int) -> dict[str, Any]:
    trade_in = selectors.trade_in_get(request.user, trade_in_id)
    appraisal = _appraisal_of(trade_in)
    result = _trade_in(trade_in)
    result["appraisal"] = (
        None
        if appraisal is None
        else {
            "appraiser": _user(appraisal.appraiser),
            "appraised_at": appraisal.appraised_at,
            "checklist": appraisal.checklist,
            "defects": [
                {
                    "zone": defect.zone,
                    "kind": defect.kind,
                    "severity": defect.severity,
                    "note": defect.note,
                    "repair_estimate": defect.repair_estimate,
                }
                for defect in appraisal.defects.all()
            ],
            "offered_price": appraisal.offered_price,
            "valid_until": appraisal.valid_until,
            "comment": appraisal.comment,
        }
    )
    result["photos"] = [_photo(photo) for photo in trade_in.photos.all()]
    result["history"] = [
        _history(change) for change in trade_in.status_changes.select_related("changed_by")
    ]
    return result


def _visible_trade_in(request: HttpRequest, trade_in_id: int) -> TradeIn:
    return selectors.trade_in_get(request.user, trade_in_id)


# --- booking -------------------------------------------------------------------------------


class TradeInIn(Schema):
    make: Text = Field(..., max_length=100, description="Any make, e.g. Lada.")
    model: Text = Field(..., max_length=100)
    plate: Text = Field(..., max_length=20, description="E.g. А123ВС51; spaces are dropped.")
    vin: Text = Field(..., max_length=40)
    year: int = Field(..., description="Year of manufacture, 1950 to next year.")
    place: PlaceName
    address: Text = Field(
        "", max_length=300, description="Required for client_address; else the dealer center's."
    )
    starts_at: Moment = Field(
        ..., description="The inspection's start; without an offset: the dealer center's time."
    )
    mileage: int | None = Field(None, ge=0, le=MAX_MILEAGE)
    comment: Text = Field("", max_length=2000)


@router.post(
    "/orders/{order_id}/trade-ins",
    response={201: TradeInOut, 409: ErrorOut, **DETAIL_ERROR_RESPONSES},
    summary="Add a trade-in car to an order and book its inspection",
    openapi_extra=body_schema(TradeInIn),
)
def trade_in_create(request: HttpRequest, order_id: int = object_id()) -> Status[dict[str, Any]]:
    """The first free appraiser of the order's dealer center (least busy that day) gets the
    inspection. 409 ``no_appraiser_free`` when nobody is free then (outside working hours
    too); its message and ``errors[0].next_free_at`` give the next free time."""
    require_perm(request, "trade_ins.book")
    order = order_get(request.user, order_id)
    payload: TradeInIn = json_body(request, TradeInIn)
    trade_in = services.trade_in_create(
        actor=request.user,
        order=order,
        make=payload.make,
        model=payload.model,
        plate=payload.plate,
        vin=payload.vin,
        year=payload.year,
        place=payload.place,
        address=payload.address,
        starts_at=payload.starts_at,
        mileage=payload.mileage,
        comment=payload.comment,
    )
    return Status(201, _trade_in(selectors.trade_in_get(request.user, trade_in.pk)))


@router.get(
    "/orders/{order_id}/trade-ins",
    response={200: Page[TradeInOut], **DETAIL_ERROR_RESPONSES},
    summary="Trade-in cars of an order",
)
def trade_in_list(
    request: HttpRequest, params: Query[ListParams], order_id: int = object_id()
) -> dict[str, Any]:
    require_perm(request, "trade_ins.view_trade_ins")
    order = order_get(request.user, order_id)
    page = paginate(selectors.trade_ins_for_order(request.user, order), params)
    return {"count": page["count"], "items": [_trade_in(item) for item in page["items"]]}


class FreeSlotsParams(Schema):
    dealer_center_id: Id
    date: Day
    place: PlaceName = "dealer_center"


@router.get(
    "/trade-ins/free-slots",
    response={200: FreeSlotsOut, **DETAIL_ERROR_RESPONSES},
    summary="Free inspection slots of a day",
)
def free_slots(request: HttpRequest, params: Query[FreeSlotsParams]) -> dict[str, Any]:
    """The day's slots (of the dealer center's slot length, from opening time) that lie in
    the future, with the appraisers free for each; for ``client_address`` the travel
    buffer after the slot must be free too."""
    require_perm(request, "trade_ins.view_free_slots")
    dealer_center = DealerCenter.objects.filter(pk=params.dealer_center_id).first()
    if dealer_center is None or not can_see_dealer_center(request.user, dealer_center.pk):
        raise NotFound(_("Dealer center not found."), field="dealer_center_id")
    plan = selectors.free_slots(dealer_center=dealer_center, day=params.date, place=params.place)
    return {
        "dealer_center_id": dealer_center.pk,
        "date": plan.day,
        "place": plan.place,
        "slot_minutes": int(plan.rules.slot.total_seconds() // 60),
        "travel_buffer_minutes": int(plan.rules.buffer.total_seconds() // 60),
        "opens_at": plan.opens_at,
        "closes_at": plan.closes_at,
        "slots": [
            {
                "starts_at": slot.starts_at,
                "ends_at": slot.ends_at,
                "appraisers": [_user(appraiser) for appraiser in slot.appraisers],
            }
            for slot in plan.free_slots
        ],
        "appraisers": [
            {
                "id": appraiser.pk,
                "name": appraiser.display_name,
                "slots": [
                    {"starts_at": slot.starts_at, "ends_at": slot.ends_at}
                    for slot in plan.slots_of(appraiser)
                ],
            }
            for appraiser in plan.appraisers
        ],
    }


@router.get(
    "/trade-ins/{trade_in_id}",
    response={200: TradeInDetailOut, **DETAIL_ERROR_RESPONSES},
    summary="A trade-in with its appraisal, photos and history",
)
def trade_in_detail(request: HttpRequest, trade_in_id: int = object_id()) -> dict[str, Any]:
    require_perm(request, "trade_ins.view_trade_ins")
    return _detail(request, trade_in_id)


class RescheduleIn(Schema):
    starts_at: Moment
    place: PlaceName | None = Field(None, description="Default: as booked.")
    address: Text | None = Field(None, max_length=300, description="Default: as booked.")


@router.post(
    "/trade-ins/{trade_in_id}/reschedule",
    response={200: TradeInDetailOut, 409: ErrorOut, **DETAIL_ERROR_RESPONSES},
    summary="Move the inspection",
    openapi_extra=body_schema(RescheduleIn),
)
def trade_in_reschedule(request: HttpRequest, trade_in_id: int = object_id()) -> dict[str, Any]:
    """The same appraiser keeps it when free then; 409 ``no_appraiser_free`` as booking."""
    require_perm(request, "trade_ins.reschedule")
    trade_in = _visible_trade_in(request, trade_in_id)
    payload: RescheduleIn = json_body(request, RescheduleIn)
    services.appointment_reschedule(
        actor=request.user,
        trade_in=trade_in,
        starts_at=payload.starts_at,
        place=payload.place,
        address=payload.address,
    )
    return _detail(request, trade_in_id)


class ReasonIn(Schema):
    reason: Text = Field(..., min_length=1, max_length=500)


@router.post(
    "/trade-ins/{trade_in_id}/cancel",
    response={200: TradeInDetailOut, 409: ErrorOut, **DETAIL_ERROR_RESPONSES},
    summary="Call the trade-in off",
    openapi_extra=body_schema(ReasonIn),
)
def trade_in_cancel(request: HttpRequest, trade_in_id: int = object_id()) -> dict[str, Any]:
    """Frees the booked inspection; a credited amount leaves the order."""
    require_perm(request, "trade_ins.reschedule")
    trade_in = _visible_trade_in(request, trade_in_id)
    payload: ReasonIn = json_body(request, ReasonIn)
    services.trade_in_cancel(actor=request.user, trade_in=trade_in, reason=payload.reason)
    return _detail(request, trade_in_id)


# --- appraisal and decisions ---------------------------------------------------------------


class DefectIn(Schema):
    zone: Text = Field(..., max_length=30, description="A body zone code, e.g. front_bumper.")
    kind: Text = Field(..., max_length=20, description="scratch, dent, chip, crack, …")
    severity: Text = Field(..., max_length=10, description="minor, moderate or major.")
    note: Text = Field("", max_length=300)
    repair_estimate: Amount = Field(Decimal("0"), ge=0)


class AppraisalIn(Schema):
    checklist: dict[Annotated[str, Field(max_length=40)], Text] = Field(
        ...,
        description="Every item (body, paint, glass, tyres, interior, engine, gearbox, "
        'electrics, documents, keys, service_book, history_report) → "ok" or "not_ok".',
    )
    defects: list[DefectIn] = Field(default_factory=list, max_length=60)
    offered_price: Amount = Field(..., gt=0)
    valid_until: Day
    comment: Text = Field("", max_length=5000)
    mileage: int | None = Field(None, ge=0, le=MAX_MILEAGE)


@router.post(
    "/trade-ins/{trade_in_id}/appraisal",
    response={200: TradeInDetailOut, 409: ErrorOut, **DETAIL_ERROR_RESPONSES},
    summary="Record the appraisal",
    openapi_extra=body_schema(AppraisalIn),
)
def trade_in_appraisal(request: HttpRequest, trade_in_id: int = object_id()) -> dict[str, Any]:
    """The inspection is done, the trade-in appraised; until the offer is accepted the
    appraisal may be sent again to revise it."""
    require_perm(request, "trade_ins.appraise")
    trade_in = _visible_trade_in(request, trade_in_id)
    payload: AppraisalIn = json_body(request, AppraisalIn)
    services.appraisal_record(
        actor=request.user,
        trade_in=trade_in,
        checklist=payload.checklist,
        defects=[services.DefectInput(**defect.model_dump()) for defect in payload.defects],
        offered_price=payload.offered_price,
        valid_until=payload.valid_until,
        comment=payload.comment,
        mileage=payload.mileage,
    )
    return _detail(request, trade_in_id)


class AcceptIn(Schema):
    amount: Amount = Field(..., gt=0, description="At most the offered price.")


@router.post(
    "/trade-ins/{trade_in_id}/accept",
    response={200: TradeInDetailOut, 409: ErrorOut, **DETAIL_ERROR_RESPONSES},
    summary="The client accepts the offer",
    openapi_extra=body_schema(AcceptIn),
)
def trade_in_accept(request: HttpRequest, trade_in_id: int = object_id()) -> dict[str, Any]:
    """The amount is credited to the order (its ``trade_in_credit`` and ``balance_due``
    change at once). 409 ``offer_expired`` after the offer's date."""
    require_perm(request, "trade_ins.accept")
    trade_in = _visible_trade_in(request, trade_in_id)
    payload: AcceptIn = json_body(request, AcceptIn)
    services.trade_in_accept(actor=request.user, trade_in=trade_in, amount=payload.amount)
    return _detail(request, trade_in_id)


class DeclineIn(Schema):
    reason: Text = Field("", max_length=500)


@router.post(
    "/trade-ins/{trade_in_id}/decline",
    response={200: TradeInDetailOut, 409: ErrorOut, **DETAIL_ERROR_RESPONSES},
    summary="The client declines the offer",
    openapi_extra=body_schema(DeclineIn),
)
def trade_in_decline(request: HttpRequest, trade_in_id: int = object_id()) -> dict[str, Any]:
    require_perm(request, "trade_ins.decline")
    trade_in = _visible_trade_in(request, trade_in_id)
    payload: DeclineIn = json_body(request, DeclineIn)
    services.trade_in_decline(actor=request.user, trade_in=trade_in, reason=payload.reason)
    return _detail(request, trade_in_id)


class TakeIntoStockIn(Schema):
    site_id: Id = Field(..., description="Where the car will stand.")
    price: Amount = Field(..., ge=0, description="Sale price of the used car.")
    stock_code: Text = Field("", max_length=40, description="Default: the VIN.")
    mileage: int | None = Field(None, ge=0, le=MAX_MILEAGE)


@router.post(
    "/trade-ins/{trade_in_id}/take-into-stock",
    response={200: TradeInDetailOut, 409: ErrorOut, **DETAIL_ERROR_RESPONSES},
    summary="Take the accepted car into stock",
    openapi_extra=body_schema(TakeIntoStockIn),
)
def trade_in_take_into_stock(
    request: HttpRequest, trade_in_id: int = object_id()
) -> dict[str, Any]:
    """A used vehicle is created (cost: the accepted amount) and linked to the trade-in."""
    require_perm(request, "trade_ins.take_into_stock")
    trade_in = _visible_trade_in(request, trade_in_id)
    payload: TakeIntoStockIn = json_body(request, TakeIntoStockIn)
    site = site_list(user=request.user).filter(pk=payload.site_id).first()
    if site is None:
        raise ValidationFailed(_("No such site."), field="site_id")
    services.trade_in_take_into_stock(
        actor=request.user,
        trade_in=trade_in,
        site=site,
        price=payload.price,
        stock_code=payload.stock_code,
        mileage=payload.mileage,
    )
    return _detail(request, trade_in_id)


@router.post(
    "/trade-ins/{trade_in_id}/photos",
    response={201: PhotoOut, 409: ErrorOut, **DETAIL_ERROR_RESPONSES},
    summary="Upload a photo of the car",
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {
                "multipart/form-data": {
                    "schema": {
                        "type": "object",
                        "required": ["file"],
                        "properties": {
                            "file": {"type": "string", "format": "binary"},
                            "caption": {"type": "string", "maxLength": 200},
                        },
                    }
                }
            },
        }
    },
)
def trade_in_photo_add(
    request: HttpRequest, trade_in_id: int = object_id()
) -> Status[dict[str, Any]]:
    """JPEG or PNG (told from the content), up to the documents' size limit."""
    require_perm(request, "trade_ins.appraise")
    trade_in = _visible_trade_in(request, trade_in_id)
    upload = request.FILES.get("file")
    if upload is None:
        raise ValidationFailed(_("Attach the photo as multipart field “file”."), field="file")
    photo = services.appraisal_photo_add(
        actor=request.user,
        trade_in=trade_in,
        upload=upload,
        caption=str(request.POST.get("caption", "")),
    )
    return Status(201, _photo(photo))


# --- calendars -----------------------------------------------------------------------------


class CalendarParams(Schema):
    date_from: Day | None = Field(None, alias="from", description="First day; default today.")
    date_to: Day | None = Field(
        None,
        alias="to",
        description=f"Last day, inclusive; default a week; at most {MAX_CALENDAR_DAYS} days.",
    )


def _zone_of_user(user: User) -> zoneinfo.ZoneInfo:
    name = user.dealer_centers.order_by("pk").values_list("time_zone", flat=True).first()
    try:
        return zoneinfo.ZoneInfo(name or settings.TIME_ZONE)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        return zoneinfo.ZoneInfo(settings.TIME_ZONE)


@router.get(
    "/appraisers/{user_id}/calendar",
    response={200: CalendarOut, **DETAIL_ERROR_RESPONSES},
    summary="An appraiser's appointments",
    by_alias=True,
)
def appraiser_calendar(
    request: HttpRequest, params: Query[CalendarParams], user_id: int = object_id()
) -> dict[str, Any]:
    """Booked and done inspections from ``from`` to ``to`` (days in the appraiser's dealer
    center's time zone). An appraiser sees his own; heads and sales managers those of
    their dealer centers."""
    require_perm(request, "trade_ins.view_calendar")
    appraiser = selectors.appraiser_get(request.user, user_id)
    zone = _zone_of_user(appraiser)
    first = params.date_from or timezone.localdate(timezone.now(), zone)
    last = params.date_to or first + timedelta(days=DEFAULT_CALENDAR_DAYS - 1)
    if last < first:
        raise ValidationFailed(_("The last day is before the first."), field="to")
    if (last - first).days >= MAX_CALENDAR_DAYS:
        raise ValidationFailed(
            _("At most %(days)s days at once.") % {"days": MAX_CALENDAR_DAYS}, field="to"
        )
    start = datetime.combine(first, datetime.min.time(), tzinfo=zone)
    end = datetime.combine(last + timedelta(days=1), datetime.min.time(), tzinfo=zone)
    appointments = selectors.appointments_between(
        request.user, start=start, end=end, appraiser_ids=[appraiser.pk]
    )
    return {
        "appraiser": _user(appraiser),
        "from": first,
        "to": last,
        "items": [
            {
                "id": appointment.pk,
                "trade_in_id": appointment.trade_in_id,
                "order_id": appointment.trade_in.order_id,
                "dealer_center_id": appointment.trade_in.dealer_center_id,
                "starts_at": appointment.starts_at,
                "ends_at": appointment.ends_at,
                "blocked_until": appointment.blocked_until,
                "place": appointment.place,
                "address": appointment.address,
                "status": appointment.status,
                "car": appointment.trade_in.car_name,
                "plate": appointment.trade_in.plate_number,
                "client_name": appointment.trade_in.client.display_name,
            }
            for appointment in appointments
        ],
    }
