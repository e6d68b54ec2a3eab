"""VIN rules (ISO 3779): 17 characters, no I, O or Q; the check digit is advisory here."""

from __future__ import annotations

import re

VIN_RE = re.compile(r"^[A-HJ-NPR-Z0-9]{17}$")
VIN_TAIL_RE = re.compile(r"^[A-HJ-NPR-Z0-9]{4,17}$")

_TRANSLITERATION = {
    **{str(digit): digit for digit in range(10)},
    **dict(zip("ABCDEFGH", range(1, 9), strict=True)),
    **dict(zip("JKLMN", range(1, 6), strict=True)),
    "P": 7,
    "R": 9,
    **dict(zip("STUVWXYZ", range(2, 10), strict=True)),
}
_WEIGHTS = (8, 7, 6, 5, 4, 3, 2, 10, 0, 9, 8, 7, 6, 5, 4, 3, 2)


def normalize_vin(value: str) -> str:
    return "".join(value.split()).upper()


def is_valid_vin(value: str) -> bool:
    return bool(VIN_RE.match(value))


def check_digit(vin: str) -> str:
    total = sum(_TRANSLITERATION[char] * weight for char, weight in zip(vin, _WEIGHTS, strict=True))
    remainder = total % 11
    return "X" if remainder == 10 else str(remainder)


def check_digit_matches(vin: str) -> bool:
    """North-American VINs carry a check digit in position 9; most others do not."""
    return is_valid_vin(vin) and vin[8] == check_digit(vin)
