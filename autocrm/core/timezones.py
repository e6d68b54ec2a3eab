"""IANA time zones of dealer centers and cities."""

from __future__ import annotations

import zoneinfo
from datetime import date, datetime
from functools import cache

from django.conf import settings
from django.core.exceptions import ValidationError
from django.utils import timezone
from django.utils.translation import gettext_lazy as _


@cache
def available_time_zones() -> frozenset[str]:
    return frozenset(zoneinfo.available_timezones())


def validate_time_zone(value: str) -> None:
    if value not in available_time_zones():
        raise ValidationError(_("%(value)s is not an IANA time zone."), params={"value": value})


def zone_named(time_zone: str) -> zoneinfo.ZoneInfo:
    """The IANA zone of a dealer center or city; the project's default if it is unusable
    (the field is validated, so only a zone removed from the system database gets here)."""
    try:
        return zoneinfo.ZoneInfo(time_zone)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        return zoneinfo.ZoneInfo(settings.TIME_ZONE)


def local_today(time_zone: str, now: datetime | None = None) -> date:
    """Today's date where ``time_zone`` (an IANA name, e.g. a dealer center's) is."""
    return (now or timezone.now()).astimezone(zone_named(time_zone)).date()
