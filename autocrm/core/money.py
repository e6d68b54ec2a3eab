"""Money: Decimal everywhere, rounded in exactly one place."""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from django.db import models

KOPECK = Decimal("0.01")
# The largest amount a MoneyField holds (14 digits, 2 of them kopecks).
MAX_AMOUNT = Decimal("999999999999.99")
DEFAULT_CURRENCY = "RUB"


def round_money(value: Decimal | int | str) -> Decimal:
    """Round to kopecks, half up (the rule Russian accounting uses)."""
    if isinstance(value, float):
        raise TypeError("Money must never be a float; pass Decimal, int or str.")
    return Decimal(value).quantize(KOPECK, rounding=ROUND_HALF_UP)


class MoneyField(models.DecimalField):
    """An amount in roubles and kopecks (up to 999 999 999 999.99)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("max_digits", 14)
        kwargs.setdefault("decimal_places", 2)
        super().__init__(*args, **kwargs)


class CurrencyField(models.CharField):
    """ISO 4217 code of the currency an amount is in."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("max_length", 3)
        kwargs.setdefault("default", DEFAULT_CURRENCY)
        super().__init__(*args, **kwargs)
