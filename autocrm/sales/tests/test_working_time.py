"""Working-time arithmetic of dealer centers: deadlines and SLAs across nights, weekends and
time zones."""

from __future__ import annotations

import zoneinfo
from datetime import UTC, date, datetime, time, timedelta

import pytest

from autocrm.accounts.models import DayOff, WorkingHours
from autocrm.accounts.tests.factories import DealerCenterFactory
from autocrm.accounts.working_time import (
    WorkSchedule,
    schedule_for,
    schedules_for,
    working_deadline,
)

MOSCOW = zoneinfo.ZoneInfo("Europe/Moscow")
VLADIVOSTOK = zoneinfo.ZoneInfo("Asia/Vladivostok")

WEEKDAYS_9_18 = {day: (time(9), time(18)) for day in range(5)}


def test_inside_the_day_it_is_plain_addition() -> None:
    schedule = WorkSchedule(time_zone=MOSCOW, hours=WEEKDAYS_9_18)
    start = datetime(2026, 11, 26, 10, 0, tzinfo=MOSCOW)  # Thursday
    assert schedule.add(start, timedelta(minutes=30)) == datetime(
        2026, 11, 26, 10, 30, tzinfo=MOSCOW
    )


def test_after_closing_the_rest_is_due_next_working_morning() -> None:
    schedule = WorkSchedule(time_zone=MOSCOW, hours=WEEKDAYS_9_18)
    start = datetime(2026, 11, 26, 17, 50, tzinfo=MOSCOW)
    assert schedule.add(start, timedelta(minutes=30)) == datetime(
        2026, 11, 27, 9, 20, tzinfo=MOSCOW
    )


def test_friday_evening_rolls_over_the_weekend() -> None:
    schedule = WorkSchedule(time_zone=MOSCOW, hours=WEEKDAYS_9_18)
    start = datetime(2026, 11, 27, 17, 0, tzinfo=MOSCOW)  # Friday
    assert schedule.add(start, timedelta(hours=2)) == datetime(2026, 11, 30, 10, 0, tzinfo=MOSCOW)


def test_a_start_at_night_begins_at_opening() -> None:
    schedule = WorkSchedule(time_zone=MOSCOW, hours=WEEKDAYS_9_18)
    start = datetime(2026, 11, 26, 3, 0, tzinfo=MOSCOW)
    assert schedule.add(start, timedelta(minutes=15)) == datetime(
        2026, 11, 26, 9, 15, tzinfo=MOSCOW
    )


def test_many_days_of_working_time() -> None:
    schedule = WorkSchedule(time_zone=MOSCOW, hours=WEEKDAYS_9_18)
    start = datetime(2026, 11, 23, 9, 0, tzinfo=MOSCOW)  # Monday
    # 3 days of 9 hours and 4 more hours: Thursday 13:00.
    assert schedule.add(start, timedelta(hours=31)) == datetime(2026, 11, 26, 13, 0, tzinfo=MOSCOW)


def test_between_counts_only_open_hours() -> None:
    schedule = WorkSchedule(time_zone=MOSCOW, hours=WEEKDAYS_9_18)
    start = datetime(2026, 11, 26, 17, 50, tzinfo=MOSCOW)
    end = datetime(2026, 11, 27, 9, 10, tzinfo=MOSCOW)
    assert schedule.between(start, end) == timedelta(minutes=20)
    assert schedule.between(end, start) == timedelta(0)
    friday = datetime(2026, 11, 27, 17, 0, tzinfo=MOSCOW)
    monday = datetime(2026, 11, 30, 10, 0, tzinfo=MOSCOW)
    assert schedule.between(friday, monday) == timedelta(hours=2)


def test_add_and_between_agree() -> None:
    schedule = WorkSchedule(
        time_zone=VLADIVOSTOK, hours={0: (time(9), time(13)), 2: (time(14), time(20))}
    )
    start = datetime(2026, 11, 24, 1, 2, tzinfo=UTC)
    for minutes in (1, 59, 240, 241, 600, 5000):
        due = schedule.add(start, timedelta(minutes=minutes))
        assert schedule.between(start, due) == timedelta(minutes=minutes)


def test_no_hours_means_calendar_time() -> None:
    schedule = WorkSchedule(time_zone=MOSCOW)
    start = datetime(2026, 11, 28, 23, 0, tzinfo=UTC)
    assert schedule.add(start, timedelta(minutes=30)) == start + timedelta(minutes=30)
    assert schedule.between(start, start + timedelta(hours=5)) == timedelta(hours=5)


@pytest.mark.django_db
def test_the_same_rule_in_two_time_zones() -> None:
    """One UTC moment: 17:50 in Мурманск (Moscow time) is after hours in Владивосток."""
    murmansk = DealerCenterFactory.create(name="Мурманск CHERY", time_zone="Europe/Moscow")
    vladivostok = DealerCenterFactory.create(name="Владивосток", time_zone="Asia/Vladivostok")
    for dealer_center in (murmansk, vladivostok):
        for day in range(5):
            WorkingHours.objects.create(
                dealer_center=dealer_center, weekday=day, opens_at=time(9), closes_at=time(18)
            )
    moment = datetime(2026, 11, 26, 17, 50, tzinfo=MOSCOW)  # 00:50 Friday in Vladivostok
    assert working_deadline(murmansk.pk, moment, 30) == datetime(2026, 11, 27, 9, 20, tzinfo=MOSCOW)
    assert working_deadline(vladivostok.pk, moment, 30) == datetime(
        2026, 11, 27, 9, 30, tzinfo=VLADIVOSTOK
    )
    schedules = schedules_for([murmansk.pk, vladivostok.pk, None])
    assert schedules[murmansk.pk].time_zone.key == "Europe/Moscow"
    assert schedules[None].always_open
    assert schedule_for(None).always_open


def test_days_off_are_skipped_whatever_their_weekday() -> None:
    new_year = frozenset(date(2027, 1, day) for day in range(1, 9))
    schedule = WorkSchedule(time_zone=MOSCOW, hours=WEEKDAYS_9_18, days_off=new_year)
    start = datetime(2026, 12, 31, 17, 50, tzinfo=MOSCOW)  # Thursday before the break
    # Friday 1 January to Friday 8 January are off, then the weekend: Monday 11 January.
    assert schedule.add(start, timedelta(minutes=30)) == datetime(2027, 1, 11, 9, 20, tzinfo=MOSCOW)
    assert schedule.between(start, datetime(2027, 1, 11, 9, 20, tzinfo=MOSCOW)) == timedelta(
        minutes=30
    )


@pytest.mark.django_db
def test_group_holidays_and_a_dealer_centers_own_closure() -> None:
    closed = DealerCenterFactory.create(name="Мурманск CHERY", time_zone="Europe/Moscow")
    open_one = DealerCenterFactory.create(name="Химки", time_zone="Europe/Moscow")
    for dealer_center in (closed, open_one):
        for day in range(5):
            WorkingHours.objects.create(
                dealer_center=dealer_center, weekday=day, opens_at=time(9), closes_at=time(18)
            )
    thursday = datetime.now(MOSCOW).date() + timedelta(
        days=(3 - datetime.now(MOSCOW).weekday()) % 7 + 7
    )
    friday = thursday + timedelta(days=1)
    DayOff.objects.create(date=friday, name="Санитарный день", dealer_center=closed)
    start = datetime.combine(thursday, time(17, 50), tzinfo=MOSCOW)
    monday = friday + timedelta(days=3)
    assert working_deadline(closed.pk, start, 30) == datetime.combine(
        monday, time(9, 20), tzinfo=MOSCOW
    )
    assert working_deadline(open_one.pk, start, 30) == datetime.combine(
        friday, time(9, 20), tzinfo=MOSCOW
    )
    DayOff.objects.create(date=friday, name="Праздник")  # the whole group
    assert working_deadline(open_one.pk, start, 30) == datetime.combine(
        monday, time(9, 20), tzinfo=MOSCOW
    )
