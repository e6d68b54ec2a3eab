"""Working time of a dealer center: deadlines and SLAs count only its opening hours, in its
own time zone.

A request that arrives in Мурманск at 17:50 with a 30-minute deadline, when the dealer
center closes at 18:00 and opens at 09:00, is due at 09:20 the next working day. A dealer
center with no working hours at all is treated as always open (calendar time), so a
forgotten schedule never makes a deadline unreachable. Days off (``DayOff``: public
holidays of the group, closures of one dealer center) are skipped whatever their weekday.
"""

from __future__ import annotations

import zoneinfo
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from typing import Any

from django.conf import settings
from django.db.models import Q

from autocrm.accounts.models import DayOff, DealerCenter, WorkingHours

# How far ahead a deadline is searched for; a schedule with a single working day a week
# still fits a year of working hours many times over.
_HORIZON_DAYS = 3700
_DAYS_OFF_PAST = 400


@dataclass(frozen=True)
class WorkSchedule:
    time_zone: zoneinfo.ZoneInfo
    # weekday (Monday = 0) → (opens, closes) in local time
    hours: dict[int, tuple[time, time]] = field(default_factory=dict)
    # local dates without work (public holidays), whatever their weekday
    days_off: frozenset[date] = frozenset()

    @property
    def always_open(self) -> bool:
        return not self.hours

    def _interval(self, day: date) -> tuple[datetime, datetime] | None:
        opening = self.hours.get(day.weekday())
        if opening is None or day in self.days_off:
            return None
        opens, closes = opening
        return (
            datetime.combine(day, opens, tzinfo=self.time_zone),
            datetime.combine(day, closes, tzinfo=self.time_zone),
        )

    def add(self, start: datetime, duration: timedelta) -> datetime:
        """The moment ``duration`` of working time after ``start`` (aware, any zone)."""
        if duration <= timedelta(0) or self.always_open:
            return start + max(duration, timedelta(0))
        local = start.astimezone(self.time_zone)
        remaining = duration
        day = local.date()
        for _ in range(_HORIZON_DAYS):
            interval = self._interval(day)
            if interval is not None:
                begin = max(interval[0], local)
                if begin < interval[1]:
                    available = interval[1] - begin
                    if remaining <= available:
                        return (begin + remaining).astimezone(start.tzinfo)
                    remaining -= available
            day += timedelta(days=1)
        raise ValueError("the schedule has no working time within the horizon")

    def between(self, start: datetime, end: datetime) -> timedelta:
        """Working time from ``start`` to ``end`` (zero when ``end`` is not later)."""
        if end <= start:
            return timedelta(0)
        if self.always_open:
            return end - start
        local_start = start.astimezone(self.time_zone)
        local_end = end.astimezone(self.time_zone)
        total = timedelta(0)
        day = local_start.date()
        while day <= local_end.date():
            interval = self._interval(day)
            if interval is not None:
                begin = max(interval[0], local_start)
                finish = min(interval[1], local_end)
                if begin < finish:
                    total += finish - begin
            day += timedelta(days=1)
        return total


def _group_schedule() -> WorkSchedule:
    return WorkSchedule(time_zone=zoneinfo.ZoneInfo(settings.TIME_ZONE))


def schedules_for(dealer_center_ids: Any) -> dict[int | None, WorkSchedule]:
    """Schedules of the given dealer centers in three queries; ``None`` maps to the group's
    (calendar time in the default time zone)."""
    ids = {pk for pk in dealer_center_ids if pk is not None}
    result: dict[int | None, WorkSchedule] = {None: _group_schedule()}
    if not ids:
        return result
    hours: dict[int, dict[int, tuple[time, time]]] = {}
    for row in WorkingHours.objects.filter(dealer_center_id__in=ids).values_list(
        "dealer_center_id", "weekday", "opens_at", "closes_at"
    ):
        hours.setdefault(row[0], {})[row[1]] = (row[2], row[3])
    # Days off from a year back (SLAs of old requests) to the horizon of deadlines.
    today = date.today()
    group_days: set[date] = set()
    own_days: dict[int, set[date]] = {}
    for dealer_center_id, day in DayOff.objects.filter(
        Q(dealer_center_id__in=ids) | Q(dealer_center__isnull=True),
        date__gte=today - timedelta(days=_DAYS_OFF_PAST),
        date__lte=today + timedelta(days=_HORIZON_DAYS),
    ).values_list("dealer_center_id", "date"):
        (
            group_days if dealer_center_id is None else own_days.setdefault(dealer_center_id, set())
        ).add(day)
    for pk, zone in DealerCenter.objects.filter(pk__in=ids).values_list("pk", "time_zone"):
        result[pk] = WorkSchedule(
            time_zone=zoneinfo.ZoneInfo(zone),
            hours=hours.get(pk, {}),
            days_off=frozenset(group_days | own_days.get(pk, set())),
        )
    return result


def schedule_for(dealer_center_id: int | None) -> WorkSchedule:
    return schedules_for([dealer_center_id]).get(dealer_center_id) or _group_schedule()


def working_deadline(
    dealer_center_id: int | None, start: datetime, minutes: int | float
) -> datetime:
    return schedule_for(dealer_center_id).add(start, timedelta(minutes=minutes))
