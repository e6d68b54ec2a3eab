"""Formatting for the stock screens: roubles as dealers write them, query strings that keep
the current filters."""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from typing import Any

from django import template
from django.http import QueryDict

register = template.Library()


def _group_thousands(digits: str) -> str:
    groups: list[str] = []
    while len(digits) > 3:
        groups.insert(0, digits[-3:])
        digits = digits[:-3]
    groups.insert(0, digits)
    return " ".join(groups)


@register.filter
def rub(value: Any) -> str:
    """``3119900`` → ``3 119 900 ₽``; kopecks only when there are any (``1 250,50 ₽``)."""
    if value is None or value == "":
        return "—"
    try:
        amount = Decimal(str(value)).quantize(Decimal("0.01"))
    except (InvalidOperation, ValueError):
        return str(value)
    sign = "−" if amount < 0 else ""
    whole, _, fraction = f"{abs(amount):.2f}".partition(".")
    text = _group_thousands(whole)
    if fraction != "00":
        text += f",{fraction}"
    return f"{sign}{text} ₽"


@register.filter
def thousands(value: Any) -> str:
    """``120500`` → ``120 500`` (mileage, counts)."""
    if value is None or value == "":
        return "—"
    try:
        number = int(value)
    except (TypeError, ValueError):
        return str(value)
    sign = "−" if number < 0 else ""
    return sign + _group_thousands(str(abs(number)))


@register.filter
def yes_no(value: Any) -> str:
    from django.utils.translation import gettext

    return gettext("Yes") if value else gettext("No")


@register.simple_tag
def query_with(query: QueryDict, *args: Any, **kwargs: Any) -> str:
    """The query string ``query`` with keys replaced (``page=2``) or removed (``page=None``).

    Positional pairs remove one value of a repeated key: ``query_with q "city" "Мурманск"``
    drops only that city and keeps the others.
    """
    result = query.copy()
    for key, value in kwargs.items():
        if value is None or value == "":
            result.pop(key, None)
        else:
            result[key] = str(value)
    for key, value in zip(args[0::2], args[1::2], strict=False):
        kept = [item for item in result.getlist(key) if item != str(value)]
        if kept:
            result.setlist(key, kept)
        else:
            result.pop(key, None)
    return result.urlencode()
