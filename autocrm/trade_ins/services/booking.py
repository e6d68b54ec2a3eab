"""Booking the inspection of a trade-in car with a free appraiser, moving it, calling the
trade-in off.

Two managers booking the same hour at once must not get the same appraiser. Every booking
locks the rows of the dealer center's appraisers (in id order, so two bookings never
deadlock) and only then reads their booked intervals: the second booking waits for the
first to commit and sees its appointment. On PostgreSQL the exclusion constraint of
migration 0002 refuses an overlapping insert whatever path it comes by; SQLite has no row
locks but runs one writing transaction at a time.
"""

from __future__ import annotations

from datetime import datetime, time, timedelta
from typing import Any

from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from autocrm.accounts.models import Brand, DealerCenter, User
from autocrm.accounts.scoping import can_see_dealer_center
from autocrm.accounts.working_time import schedule_for
from autocrm.clients.models import Client
from autocrm.core.audit import user_or_none
from autocrm.core.errors import Conflict, NotAllowed, TransitionNotAllowed, ValidationFailed
from autocrm.inventory.models import CarModel
from autocrm.orders.models import Order
from autocrm.orders.services.orders import (
    order_lock,
    order_recalculate,
    require_editable,
    require_order_access,
)
from autocrm.trade_ins.models import (
    CREDITED_STATUSES,
    OPEN_STATUSES,
    AppointmentStatus,
    AppraisalAppointment,
    AppraisalPlace,
    TradeIn,
    TradeInStatus,
    TradeInStatusChange,
)
from autocrm.trade_ins.scheduling import (
    BookingRules,
    appraisers_of,
    booking_rules,
    next_free_slot,
    pick_appraiser,
    within_opening,
    workload,
    zone_of,
)
from autocrm.trade_ins.services.common import (
    cancel_booked_appointments,
    local_text,
    log_to_order,
    require_trade_in_access,
    set_status,
    trade_in_lock,
)
from autocrm.trade_ins.validation import (
    clean_mileage,
    clean_name,
    clean_plate,
    clean_vin,
    clean_year,
)

ADDRESS_MAX_LENGTH = 300
NO_APPRAISER_FREE = "no_appraiser_free"


class NoAppraiserFree(Conflict):
    """Nobody can inspect the car at the asked time (409). ``next_free_at`` is the first
    slot within the booking horizon when somebody can, if there is one."""

    code = NO_APPRAISER_FREE

    def __init__(self, message: str, *, next_free_at: datetime | None) -> None:
        super().__init__(message, field="starts_at")
        self.next_free_at = next_free_at

    def as_dict(self) -> dict[str, object]:
        error = super().as_dict()
        error["next_free_at"] = self.next_free_at.isoformat() if self.next_free_at else None
        return error


def _aware(value: datetime, dealer_center: DealerCenter) -> datetime:
    """A time without an offset is the dealer center's local time; seconds are dropped."""
    if not isinstance(value, datetime):
        raise ValidationFailed(_("Enter the date and time of the inspection."), field="starts_at")
    if timezone.is_naive(value):
        value = timezone.make_aware(value, zone_of(dealer_center))
    return value.replace(second=0, microsecond=0)


def _place_and_address(place: str, address: str, dealer_center: DealerCenter) -> tuple[str, str]:
    if place not in AppraisalPlace.values:
        raise ValidationFailed(
            _("Choose the dealer center or the client's address."), field="place"
        )
    if place == AppraisalPlace.DEALER_CENTER:
        return place, dealer_center.address[:ADDRESS_MAX_LENGTH]
    text = " ".join((address or "").split())
    if not text:
        raise ValidationFailed(_("Enter the client's address."), field="address")
    if len(text) > ADDRESS_MAX_LENGTH:
        raise ValidationFailed(
            _("At most %(limit)s characters.") % {"limit": ADDRESS_MAX_LENGTH}, field="address"
        )
    return place, text


def _check_start(starts_at: datetime, rules: BookingRules, dealer_center: DealerCenter) -> None:
    now = timezone.now()
    if starts_at <= now:
        raise ValidationFailed(_("The inspection must be in the future."), field="starts_at")
    zone = zone_of(dealer_center)
    last_day = timezone.localdate(now, zone) + timedelta(days=rules.max_days_ahead)
    if timezone.localdate(starts_at, zone) > last_day:
        raise ValidationFailed(
            _("Inspections are booked at most %(days)s days ahead.")
            % {"days": rules.max_days_ahead},
            field="starts_at",
        )


def _moment_text(moment: datetime, dealer_center: DealerCenter) -> str:
    return timezone.localtime(moment, zone_of(dealer_center)).strftime("%d.%m.%Y %H:%M")


def _refusal(
    *,
    reason: str,
    dealer_center: DealerCenter,
    rules: BookingRules,
    place: str,
    starts_at: datetime,
    candidates: list[int],
    exclude_appointment_id: int | None,
) -> NoAppraiserFree:
    suggestion = next_free_slot(
        dealer_center=dealer_center,
        rules=rules,
        place=place,
        after=starts_at,
        candidates=candidates,
        exclude_appointment_id=exclude_appointment_id,
    )
    if suggestion is None:
        message = _("%(reason)s No appraiser is free in the next %(days)s days.") % {
            "reason": reason,
            "days": rules.max_days_ahead,
        }
        return NoAppraiserFree(message, next_free_at=None)
    message = _("%(reason)s The next free time: %(when)s.") % {
        "reason": reason,
        "when": _moment_text(suggestion.starts_at, dealer_center),
    }
    return NoAppraiserFree(message, next_free_at=suggestion.starts_at)


def _book(
    *,
    actor: Any,
    trade_in: TradeIn,
    place: str,
    address: str,
    starts_at: datetime,
    rules: BookingRules,
    preferred: int | None = None,
    exclude_appointment_id: int | None = None,
) -> AppraisalAppointment:
    dealer_center = trade_in.dealer_center
    schedule = schedule_for(dealer_center.pk)
    zone = schedule.time_zone
    ends_at = starts_at + rules.slot
    blocked_until = rules.blocked_until(place, ends_at)
    # The appraisers' rows are locked before their calendars are read (see the module
    # docstring). DISTINCT cannot be combined with FOR UPDATE, hence two queries.
    candidate_ids = list(appraisers_of(dealer_center.pk).values_list("pk", flat=True))
    candidates = list(
        User.objects.select_for_update()
        .filter(pk__in=candidate_ids)
        .order_by("pk")
        .values_list("pk", flat=True)
    )
    when = _moment_text(starts_at, dealer_center)
    if not candidates:
        raise NoAppraiserFree(
            _("The dealer center has no appraisers to inspect the car."), next_free_at=None
        )

    def refuse(reason: str) -> NoAppraiserFree:
        return _refusal(
            reason=reason,
            dealer_center=dealer_center,
            rules=rules,
            place=place,
            starts_at=starts_at,
            candidates=candidates,
            exclude_appointment_id=exclude_appointment_id,
        )

    if not within_opening(schedule, starts_at, ends_at):
        raise refuse(_("The dealer center does not work at %(when)s.") % {"when": when})
    day = timezone.localdate(starts_at, zone)
    day_start = datetime.combine(day, time.min, tzinfo=zone)
    load = workload(
        candidates,
        start=min(day_start, starts_at),
        end=max(day_start + timedelta(days=1), blocked_until),
        zone=zone,
        exclude_appointment_id=exclude_appointment_id,
    )
    chosen = pick_appraiser(
        candidates,
        load,
        starts_at=starts_at,
        blocked_until=blocked_until,
        zone=zone,
        preferred=preferred,
    )
    if chosen is None:
        raise refuse(_("No appraiser is free at %(when)s.") % {"when": when})
    try:
        with transaction.atomic():
            return AppraisalAppointment.objects.create(
                trade_in=trade_in,
                appraiser_id=chosen,
                place=place,
                address=address,
                starts_at=starts_at,
                ends_at=ends_at,
                blocked_until=blocked_until,
                created_by=user_or_none(actor),
            )
    except IntegrityError:
        # The database's exclusion constraint caught an overlap the lock did not (a
        # booking that bypassed this service): the answer is the same.
        raise refuse(_("No appraiser is free at %(when)s.") % {"when": when}) from None


def _catalog_match(make_name: str, model_name: str) -> tuple[Brand | None, CarModel | None]:
    """The catalog's make and model of these names, compared case-insensitively in
    Python (SQLite folds the case of Latin letters only)."""
    wanted = make_name.casefold()
    brand = next(
        (
            brand
            for brand in Brand.objects.order_by("pk")
            if wanted in (brand.name.casefold(), brand.code.casefold())
        ),
        None,
    )
    if brand is None:
        return None, None
    wanted_model = model_name.casefold()
    car_model = next(
        (
            car_model
            for car_model in CarModel.objects.filter(make=brand).order_by("pk")
            if car_model.name.casefold() == wanted_model
        ),
        None,
    )
    return brand, car_model


def _appraiser_name(appointment: AppraisalAppointment) -> str:
    appraiser = User.objects.filter(pk=appointment.appraiser_id).first()
    return appraiser.display_name if appraiser is not None else ""


@transaction.atomic
def trade_in_create(
    *,
    actor: Any,
    order: Order | None = None,
    client: Client | None = None,
    dealer_center: DealerCenter | None = None,
    make: str,
    model: str,
    plate: str,
    vin: str,
    year: int,
    place: str,
    address: str = "",
    starts_at: datetime,
    mileage: int | None = None,
    comment: str = "",
) -> TradeIn:
    """Register the client's car and book its inspection with the first free appraiser
    (least busy that day first). Nobody free then: ``NoAppraiserFree`` (409) naming the
    next free time, and nothing is saved. Without an order it is a plain buy-out."""
    if order is not None:
        require_order_access(actor, order)
        require_editable(order)
        client, dealer_center = order.client, order.dealer_center
    else:
        if client is None:
            raise ValidationFailed(_("Choose the client."), field="client_id")
        if dealer_center is None:
            raise ValidationFailed(_("Choose the dealer center."), field="dealer_center_id")
        if not can_see_dealer_center(actor, dealer_center.pk):
            raise NotAllowed(_("You do not work at this dealer center."), field="dealer_center_id")
    make_name = clean_name(make, field="make")
    model_name = clean_name(model, field="model")
    plate_number = clean_plate(plate)
    vin = clean_vin(vin)
    year = clean_year(year)
    mileage = clean_mileage(mileage)
    place, address = _place_and_address(place, address, dealer_center)
    rules = booking_rules(dealer_center.pk)
    starts_at = _aware(starts_at, dealer_center)
    _check_start(starts_at, rules, dealer_center)
    duplicate = TradeIn.objects.filter(vin=vin, status__in=OPEN_STATUSES).first()
    if duplicate is not None:
        raise Conflict(
            _("This car is already being appraised (trade-in No. %(number)s).")
            % {"number": duplicate.pk},
            field="vin",
            code="duplicate_trade_in",
        )
    brand, car_model = _catalog_match(make_name, model_name)
    trade_in = TradeIn.objects.create(
        order=order,
        client=client,
        dealer_center=dealer_center,
        make_name=make_name,
        model_name=model_name,
        make=brand,
        car_model=car_model,
        plate_number=plate_number,
        vin=vin,
        year=year,
        mileage=mileage,
        comment=(comment or "").strip(),
        created_by=user_or_none(actor),
    )
    appointment = _book(
        actor=actor,
        trade_in=trade_in,
        place=place,
        address=address,
        starts_at=starts_at,
        rules=rules,
    )
    TradeInStatusChange.objects.create(
        trade_in=trade_in,
        from_status="",
        to_status=TradeInStatus.APPRAISAL_SCHEDULED,
        changed_by=user_or_none(actor),
    )
    log_to_order(
        trade_in,
        actor,
        to_value=TradeInStatus.APPRAISAL_SCHEDULED,
        text=_("%(car)s: inspection %(when)s, %(place)s, appraiser %(appraiser)s")
        % {
            "car": trade_in,
            "when": local_text(appointment.starts_at, trade_in),
            "place": appointment.get_place_display().lower(),
            "appraiser": _appraiser_name(appointment),
        },
    )
    return trade_in


@transaction.atomic
def appointment_reschedule(
    *,
    actor: Any,
    trade_in: TradeIn,
    starts_at: datetime,
    place: str | None = None,
    address: str | None = None,
) -> AppraisalAppointment:
    """Move the inspection to another time (and place). The same appraiser keeps it when
    he is free then; otherwise the first free one takes it. Refused like a new booking."""
    trade_in = trade_in_lock(trade_in)
    require_trade_in_access(actor, trade_in)
    if trade_in.status != TradeInStatus.APPRAISAL_SCHEDULED:
        raise TransitionNotAllowed(
            _("Only an inspection that has not taken place can be moved."), field="status"
        )
    current = (
        AppraisalAppointment.objects.select_for_update()
        .filter(trade_in=trade_in, status=AppointmentStatus.BOOKED)
        .first()
    )
    dealer_center = trade_in.dealer_center
    if place is None:
        place = current.place if current is not None else AppraisalPlace.DEALER_CENTER
    if address is None:
        address = current.address if current is not None else ""
    place, address = _place_and_address(place, address, dealer_center)
    rules = booking_rules(dealer_center.pk)
    starts_at = _aware(starts_at, dealer_center)
    _check_start(starts_at, rules, dealer_center)
    if current is not None:
        current.status = AppointmentStatus.CANCELLED
        current.cancelled_at = timezone.now()
        current.save(update_fields=["status", "cancelled_at", "updated_at"])
    appointment = _book(
        actor=actor,
        trade_in=trade_in,
        place=place,
        address=address,
        starts_at=starts_at,
        rules=rules,
        preferred=current.appraiser_id if current is not None else None,
        exclude_appointment_id=current.pk if current is not None else None,
    )
    log_to_order(
        trade_in,
        actor,
        text=_("%(car)s: inspection moved to %(when)s, %(place)s, appraiser %(appraiser)s")
        % {
            "car": trade_in,
            "when": local_text(appointment.starts_at, trade_in),
            "place": appointment.get_place_display().lower(),
            "appraiser": _appraiser_name(appointment),
        },
    )
    return appointment


@transaction.atomic
def trade_in_cancel(*, actor: Any, trade_in: TradeIn, reason: str) -> TradeIn:
    """Call the trade-in off (the client will not come, changed his mind): the booked
    inspection is freed, and a credited amount leaves the order."""
    reason = " ".join((reason or "").split())
    if not reason:
        raise ValidationFailed(_("Say why the trade-in is cancelled."), field="reason")
    order = order_lock(trade_in.order_id) if trade_in.order_id is not None else None
    trade_in = trade_in_lock(trade_in)
    require_trade_in_access(actor, trade_in)
    was_credited = trade_in.status in CREDITED_STATUSES
    if was_credited and order is not None:
        require_editable(order)
    set_status(trade_in, TradeInStatus.CANCELLED, actor, note=reason)
    cancel_booked_appointments(trade_in)
    if was_credited and order is not None:
        order_recalculate(order, actor=actor)
    return trade_in
