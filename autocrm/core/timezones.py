"""IANA time zones: validation and conversions for dealer-center local time."""

from __future__ import annotations

import zoneinfo
from datetime import datetime
from functools import cache

from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _


@cache
def available_time_zones() -> frozenset[str]:
    return frozenset(zoneinfo.available_timezones())


def validate_time_zone(value: str) -> None:
    if value not in available_time_zones():
        raise ValidationError(_("%(value)s is not an IANA time zone."), params={"value": value})


def time_zone_choices() -> list[tuple[str, str]]:
    """Russian zones first (the ones a dealer group uses), then the rest."""
    russian = sorted(
        zone
        for zone in available_time_zones()
        if zone.startswith(("Europe/Moscow", "Europe/Samara", "Europe/Kaliningrad", "Asia/"))
    )
    return [(zone, zone) for zone in russian]


def local_time(moment: datetime, zone_name: str) -> datetime:
    """Express an aware UTC moment in a dealer center's zone."""
    return moment.astimezone(zoneinfo.ZoneInfo(zone_name))
