"""Checks of what is entered about a client's car: make and model, plate number, VIN, year.

Each check returns the normalised value or raises ``ValidationFailed`` naming the field as
the API calls it, so the API, the form and the service report the same thing.
"""

from __future__ import annotations

import re
from typing import Any

from django.utils import timezone
from django.utils.translation import gettext as _

from autocrm.core.errors import ValidationFailed
from autocrm.inventory.vin import is_valid_vin, normalize_vin

MIN_YEAR = 1950
NAME_MAX_LENGTH = 100
MAX_MILEAGE = 5_000_000

# Russian plates use only the twelve Cyrillic letters that look like Latin ones; people
# type them on whichever keyboard is active. The Latin look-alikes are turned into
# Cyrillic only when the result is a standard Russian plate (А123ВС51), so a foreign
# plate typed in Latin letters stays as it was.
_LATIN_TO_CYRILLIC = str.maketrans("ABEKMHOPCTYX", "АВЕКМНОРСТУХ")
_RUSSIAN_PLATE = re.compile(r"^[АВЕКМНОРСТУХ]\d{3}[АВЕКМНОРСТУХ]{2}\d{2,3}$")
# Loose check for every other plate (foreign, trailers, old formats): 6–9 letters and
# digits with at least one digit.
_ANY_PLATE = re.compile(r"^(?=.*\d)[0-9A-ZА-ЯЁ]{6,9}$")
_SEPARATORS = re.compile(r"[\s\-_.·|/]+")


def normalize_plate(value: str) -> str:
    compact = _SEPARATORS.sub("", value or "").upper()
    as_cyrillic = compact.translate(_LATIN_TO_CYRILLIC)
    if _RUSSIAN_PLATE.match(as_cyrillic):
        return as_cyrillic
    return compact


def clean_plate(value: str, *, field: str = "plate") -> str:
    plate = normalize_plate(value)
    if not plate:
        raise ValidationFailed(_("Enter the plate number."), field=field)
    if not _ANY_PLATE.match(plate):
        raise ValidationFailed(
            _("A plate number is 6 to 9 letters and digits, e.g. А123ВС51."), field=field
        )
    return plate


def clean_vin(value: str, *, field: str = "vin") -> str:
    vin = normalize_vin(value or "")
    if not vin:
        raise ValidationFailed(_("Enter the VIN."), field=field)
    if not is_valid_vin(vin):
        raise ValidationFailed(
            _("VIN must be 17 characters: Latin letters except I, O, Q and digits."), field=field
        )
    return vin


def max_year() -> int:
    return timezone.now().year + 1


def clean_year(value: Any, *, field: str = "year") -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValidationFailed(_("Enter the year as a number."), field=field)
    if not MIN_YEAR <= value <= max_year():
        raise ValidationFailed(
            _("The year must be between %(first)s and %(last)s.")
            % {"first": MIN_YEAR, "last": max_year()},
            field=field,
        )
    return value


def clean_name(value: str, *, field: str) -> str:
    text = " ".join((value or "").split())
    if not text:
        raise ValidationFailed(_("This field is required."), field=field)
    if len(text) > NAME_MAX_LENGTH:
        raise ValidationFailed(
            _("At most %(limit)s characters.") % {"limit": NAME_MAX_LENGTH}, field=field
        )
    return text


def clean_mileage(value: int | None, *, field: str = "mileage") -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= MAX_MILEAGE:
        raise ValidationFailed(
            _("Mileage must be between 0 and %(limit)s km.") % {"limit": MAX_MILEAGE},
            field=field,
        )
    return value
