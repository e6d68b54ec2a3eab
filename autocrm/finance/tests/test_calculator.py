"""The loan calculator's exact values (the seed's examples) and its refusals."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from autocrm.core.errors import ValidationFailed
from autocrm.finance.calculator import loan_terms, loan_terms_for_order


def test_seed_examples() -> None:
    first = loan_terms(Decimal("1829900"), Decimal("14.3"), 36)
    assert first.monthly_payment == Decimal("62808.61")
    assert first.total_paid == Decimal("2261109.96")
    assert first.overpayment == Decimal("431209.96")
    assert loan_terms(Decimal("1550000"), Decimal("14.3"), 36).monthly_payment == Decimal(
        "53201.45"
    )


def test_zero_rate_divides_evenly_and_rounds_once() -> None:
    terms = loan_terms(Decimal("1000000"), Decimal("0"), 36)
    assert terms.monthly_payment == Decimal("27777.78")
    assert terms.overpayment == Decimal("0.08")  # 36 rounded payments


def test_down_payment_in_roubles_or_percent_derive_each_other() -> None:
    by_roubles = loan_terms_for_order(
        order_amount=Decimal("2550000"),
        down_payment=Decimal("1000000"),
        rate=Decimal("14.3"),
        term_months=36,
    )
    assert by_roubles.credit_amount == Decimal("1550000.00")
    assert by_roubles.down_payment_percent == Decimal("39.22")
    assert by_roubles.monthly_payment == Decimal("53201.45")
    by_percent = loan_terms_for_order(
        order_amount=Decimal("2000000"),
        down_payment_percent=Decimal("20"),
        rate=Decimal("14.3"),
        term_months=36,
        financed_products=Decimal("69800"),
    )
    assert by_percent.down_payment == Decimal("400000.00")
    assert by_percent.credit_amount == Decimal("1669800.00")


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"order_amount": Decimal("0"), "down_payment": Decimal("0")}, "order_amount"),
        ({"order_amount": Decimal("100"), "down_payment": Decimal("100")}, "down_payment"),
        ({"order_amount": Decimal("100"), "down_payment": Decimal("-1")}, "down_payment"),
        ({"order_amount": Decimal("100")}, "down_payment"),
        (
            {"order_amount": Decimal("100"), "down_payment_percent": Decimal("100")},
            "down_payment_percent",
        ),
        (
            {"order_amount": Decimal("100"), "down_payment": Decimal("1"), "term_months": 0},
            "term_months",
        ),
        (
            {"order_amount": Decimal("100"), "down_payment": Decimal("1"), "term_months": 121},
            "term_months",
        ),
        (
            {"order_amount": Decimal("100"), "down_payment": Decimal("1"), "rate": Decimal("-1")},
            "rate",
        ),
        (
            {
                "order_amount": Decimal("100"),
                "down_payment": Decimal("1"),
                "rate": Decimal("100.01"),
            },
            "rate",
        ),
    ],
)
def test_bad_input_names_the_field(kwargs: dict[str, Any], field: str) -> None:
    kwargs.setdefault("rate", Decimal("10"))
    kwargs.setdefault("term_months", 12)
    with pytest.raises(ValidationFailed) as refused:
        loan_terms_for_order(**kwargs)
    assert refused.value.field == field
