"""IANA time zones of dealer centers and cities."""

from __future__ import annotations

import zoneinfo
from datetime import date, datetime
from functools import cache

from django.core.exceptions import ValidationError
from django.utils import timezone
from django.utils.translation import gettext_lazy as _


@cache
def available_time_zones() -> frozenset[str]:
    return frozenset(zoneinfo.available_timezones())


def validate_time_zone(value: str) -> None:
    if value not in available_time_zones():
        raise ValidationError(_("%(value)s is not an IANA time zone."), params={"value": value})


def local_today(time_zone: str, now: datetime | None = None) -> date:
    """Today's date where ``time_zone`` (an IANA name, e.g. a dealer center's) is."""
    moment = now or timezone.now()
    return moment.astimezone(zoneinfo.ZoneInfo(time_zone)).date()
