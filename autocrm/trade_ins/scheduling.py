"""When an appraiser is free: the dealer center's working hours, the length of an
inspection, the travel buffer after a visit to a client's address, and the inspections
already booked.

An appraiser is busy from an appointment's ``starts_at`` until its ``blocked_until``; a new
inspection fits when its own busy interval (with its buffer) overlaps none of his booked
ones and the inspection itself lies within the opening hours of that day. Intervals are
half-open: an inspection may start the minute the previous one's buffer ends.
"""

from __future__ import annotations

import zoneinfo
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta

from django.db.models import QuerySet
from django.utils import timezone

from autocrm.accounts.models import DealerCenter, User
from autocrm.accounts.roles import RoleCode
from autocrm.accounts.working_time import WorkSchedule, schedule_for
from autocrm.core.timezones import zone_named
from autocrm.trade_ins.models import (
    AppointmentStatus,
    AppraisalAppointment,
    AppraisalPlace,
    AppraiserSettings,
)

# Inspections are daytime work: a dealer center whose opening hours were never entered
# books them 9:00–18:00 rather than around the clock (the SLA clock treats such a dealer
# center as always open, which is right for deadlines and wrong for appointments).
FALLBACK_HOURS = (time(9, 0), time(18, 0))


@dataclass(frozen=True)
class BookingRules:
    slot: timedelta
    buffer: timedelta
    max_days_ahead: int

    def blocked_until(self, place: str, ends_at: datetime) -> datetime:
        return ends_at + self.buffer if place == AppraisalPlace.CLIENT_ADDRESS else ends_at


def booking_rules(dealer_center_id: int) -> BookingRules:
    found = AppraiserSettings.objects.filter(dealer_center_id=dealer_center_id).first()
    configured = found or AppraiserSettings()  # the model's defaults
    return BookingRules(
        slot=timedelta(minutes=configured.slot_minutes),
        buffer=timedelta(minutes=configured.travel_buffer_minutes),
        max_days_ahead=configured.max_days_ahead,
    )


def zone_of(dealer_center: DealerCenter) -> zoneinfo.ZoneInfo:
    return zone_named(dealer_center.time_zone)


def opening(schedule: WorkSchedule, day: date) -> tuple[datetime, datetime] | None:
    """Opening and closing of ``day`` (local dates), or None on a day off."""
    if day in schedule.days_off:
        return None
    hours = FALLBACK_HOURS if schedule.always_open else schedule.hours.get(day.weekday())
    if hours is None:
        return None
    opens, closes = hours
    return (
        datetime.combine(day, opens, tzinfo=schedule.time_zone),
        datetime.combine(day, closes, tzinfo=schedule.time_zone),
    )


def within_opening(schedule: WorkSchedule, starts_at: datetime, ends_at: datetime) -> bool:
    day = starts_at.astimezone(schedule.time_zone).date()
    hours = opening(schedule, day)
    return hours is not None and hours[0] <= starts_at and ends_at <= hours[1]


def appraisers_of(dealer_center_id: int) -> QuerySet[User]:
    """Active employees of the dealer center who hold the appraiser role."""
    return (
        User.objects.filter(
            is_active=True,
            roles__code=RoleCode.APPRAISER,
            dealer_centers__id=dealer_center_id,
        )
        .distinct()
        .order_by("last_name", "first_name", "pk")
    )


@dataclass(frozen=True)
class Busy:
    starts_at: datetime
    blocked_until: datetime


@dataclass
class Workload:
    """Booked intervals and the number of inspections per local day, per appraiser."""

    busy: dict[int, list[Busy]] = field(default_factory=lambda: defaultdict(list))
    per_day: dict[tuple[int, date], int] = field(default_factory=lambda: defaultdict(int))

    def is_free(self, appraiser_id: int, starts_at: datetime, blocked_until: datetime) -> bool:
        return not any(
            interval.starts_at < blocked_until and starts_at < interval.blocked_until
            for interval in self.busy.get(appraiser_id, ())
        )

    def load(self, appraiser_id: int, day: date) -> int:
        return self.per_day.get((appraiser_id, day), 0)


def workload(
    appraiser_ids: Iterable[int],
    *,
    start: datetime,
    end: datetime,
    zone: zoneinfo.ZoneInfo,
    exclude_appointment_id: int | None = None,
) -> Workload:
    """Booked and done inspections of the appraisers touching ``[start, end)``."""
    ids = list(appraiser_ids)
    result = Workload()
    if not ids:
        return result
    rows = AppraisalAppointment.objects.filter(
        appraiser_id__in=ids,
        status__in=(AppointmentStatus.BOOKED, AppointmentStatus.DONE),
        starts_at__lt=end,
        blocked_until__gt=start,
    )
    if exclude_appointment_id is not None:
        rows = rows.exclude(pk=exclude_appointment_id)
    for appraiser_id, starts_at, blocked_until, status in rows.values_list(
        "appraiser_id", "starts_at", "blocked_until", "status"
    ):
        if status == AppointmentStatus.BOOKED:
            result.busy[appraiser_id].append(Busy(starts_at, blocked_until))
        result.per_day[(appraiser_id, starts_at.astimezone(zone).date())] += 1
    return result


def pick_appraiser(
    candidates: Sequence[int],
    load: Workload,
    *,
    starts_at: datetime,
    blocked_until: datetime,
    zone: zoneinfo.ZoneInfo,
    preferred: int | None = None,
) -> int | None:
    """The free appraiser with the fewest inspections that day (then the lowest id, so
    the choice is stable); ``preferred`` wins when he is free."""
    free = [pk for pk in candidates if load.is_free(pk, starts_at, blocked_until)]
    if not free:
        return None
    if preferred in free:
        return preferred
    day = starts_at.astimezone(zone).date()
    return min(free, key=lambda pk: (load.load(pk, day), pk))


@dataclass(frozen=True)
class Slot:
    starts_at: datetime
    ends_at: datetime
    appraiser_ids: tuple[int, ...]


def day_slots(
    *,
    schedule: WorkSchedule,
    rules: BookingRules,
    day: date,
    place: str,
    candidates: Sequence[int],
    load: Workload,
    not_before: datetime,
) -> list[Slot]:
    """The day's inspection slots (a grid of the slot length from opening time) that
    start after ``not_before``, each with the appraisers free for it."""
    hours = opening(schedule, day)
    if hours is None:
        return []
    opens, closes = hours
    slots = []
    starts_at = opens
    while starts_at + rules.slot <= closes:
        ends_at = starts_at + rules.slot
        if starts_at >= not_before:
            blocked = rules.blocked_until(place, ends_at)
            free = tuple(pk for pk in candidates if load.is_free(pk, starts_at, blocked))
            slots.append(Slot(starts_at, ends_at, free))
        starts_at = ends_at
    return slots


def next_free_slot(
    *,
    dealer_center: DealerCenter,
    rules: BookingRules,
    place: str,
    after: datetime,
    candidates: Sequence[int],
    exclude_appointment_id: int | None = None,
) -> Slot | None:
    """The first slot at or after ``after`` (and in the future) within the booking horizon
    in which some appraiser is free; None when there is none."""
    if not candidates:
        return None
    schedule = schedule_for(dealer_center.pk)
    zone = schedule.time_zone
    now = timezone.now()
    not_before = max(after, now)
    first_day = not_before.astimezone(zone).date()
    last_day = now.astimezone(zone).date() + timedelta(days=rules.max_days_ahead)
    if last_day < first_day:
        return None
    load = workload(
        candidates,
        start=not_before - rules.slot - rules.buffer,
        end=datetime.combine(last_day + timedelta(days=1), time.min, tzinfo=zone) + rules.buffer,
        zone=zone,
        exclude_appointment_id=exclude_appointment_id,
    )
    day = first_day
    while day <= last_day:
        for slot in day_slots(
            schedule=schedule,
            rules=rules,
            day=day,
            place=place,
            candidates=candidates,
            load=load,
            not_before=not_before,
        ):
            if slot.appraiser_ids:
                return slot
        day += timedelta(days=1)
    return None
