"""Amounts as Russian financial documents write them: "1 829 900,00" and, in words,
"Один миллион восемьсот двадцать девять тысяч девятьсот рублей 00 копеек".

The words are Russian whatever the interface language: the invoice form is a Russian
document, and the sum in words is a legal requisite of it (not a translatable message).
"""

from __future__ import annotations

from decimal import Decimal

from autocrm.core.money import round_money

NO_BREAK_SPACE = "\u00a0"

_UNITS_MASCULINE = (
    "",
    "один",
    "два",
    "три",
    "четыре",
    "пять",
    "шесть",
    "семь",
    "восемь",
    "девять",
)
_UNITS_FEMININE = ("", "одна", "две", *_UNITS_MASCULINE[3:])
_TEENS = (
    "десять",
    "одиннадцать",
    "двенадцать",
    "тринадцать",
    "четырнадцать",
    "пятнадцать",
    "шестнадцать",
    "семнадцать",
    "восемнадцать",
    "девятнадцать",
)
_TENS = (
    "",
    "",
    "двадцать",
    "тридцать",
    "сорок",
    "пятьдесят",
    "шестьдесят",
    "семьдесят",
    "восемьдесят",
    "девяносто",
)
_HUNDREDS = (
    "",
    "сто",
    "двести",
    "триста",
    "четыреста",
    "пятьсот",
    "шестьсот",
    "семьсот",
    "восемьсот",
    "девятьсот",
)
# (one, few, many, feminine) from the smallest group up: units of roubles, thousands, …
_SCALES = (
    ("", "", "", False),
    ("тысяча", "тысячи", "тысяч", True),
    ("миллион", "миллиона", "миллионов", False),
    ("миллиард", "миллиарда", "миллиардов", False),
)
MAX_IN_WORDS = Decimal("999999999999.99")


def plural_ru(count: int, one: str, few: str, many: str) -> str:
    """The Russian plural form for ``count``: 1 рубль, 2 рубля, 5 рублей, 11 рублей."""
    count = abs(count)
    if 11 <= count % 100 <= 14:
        return many
    if count % 10 == 1:
        return one
    if 2 <= count % 10 <= 4:
        return few
    return many


def _triad(value: int, *, feminine: bool) -> list[str]:
    words = [_HUNDREDS[value // 100]]
    rest = value % 100
    if 10 <= rest <= 19:
        words.append(_TEENS[rest - 10])
    else:
        words.append(_TENS[rest // 10])
        words.append((_UNITS_FEMININE if feminine else _UNITS_MASCULINE)[rest % 10])
    return [word for word in words if word]


def number_in_words_ru(value: int) -> str:
    """A whole number of roubles (masculine) in words: 21 → "двадцать один"."""
    if value < 0:
        raise ValueError("A negative amount has no place on an invoice.")
    if value == 0:
        return "ноль"
    groups: list[str] = []
    scale = 0
    while value:
        value, triad = divmod(value, 1000)
        if scale >= len(_SCALES):
            raise ValueError("The amount is too large to write in words.")
        if triad:
            one, few, many, feminine = _SCALES[scale]
            words = _triad(triad, feminine=feminine)
            if one:
                words.append(plural_ru(triad, one, few, many))
            groups.insert(0, " ".join(words))
        scale += 1
    return " ".join(groups)


def amount_in_words_ru(amount: Decimal) -> str:
    """1829900.00 → "Один миллион восемьсот двадцать девять тысяч девятьсот рублей 00 копеек"
    (roubles in words, kopecks in digits, as Russian invoices write the sum)."""
    if isinstance(amount, float):
        raise TypeError("Money must never be a float; pass Decimal, int or str.")
    amount = round_money(amount)
    if amount < 0:
        raise ValueError("A negative amount has no place on an invoice.")
    if amount > MAX_IN_WORDS:
        raise ValueError("The amount is too large to write in words.")
    roubles = int(amount)
    kopecks = int((amount - roubles) * 100)
    words = number_in_words_ru(roubles)
    text = (
        f"{words} {plural_ru(roubles, 'рубль', 'рубля', 'рублей')} "
        f"{kopecks:02d} {plural_ru(kopecks, 'копейка', 'копейки', 'копеек')}"
    )
    return text[0].upper() + text[1:]


def format_money(amount: Decimal) -> str:
    """1829900.00 → "1 829 900,00": thousands apart by no-break spaces, a decimal comma."""
    whole, _point, kopecks = f"{round_money(amount):.2f}".partition(".")
    sign = "−" if whole.startswith("-") else ""
    digits = whole.lstrip("-")
    groups: list[str] = []
    while digits:
        groups.insert(0, digits[-3:])
        digits = digits[:-3]
    return f"{sign}{NO_BREAK_SPACE.join(groups) or '0'},{kopecks}"
