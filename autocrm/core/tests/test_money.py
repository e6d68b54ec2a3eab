from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from autocrm.core.errors import DomainError, NotAllowed, TransitionNotAllowed, ValidationFailed
from autocrm.core.money import round_money


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("62808.605", "62808.61"),  # half up, not banker's rounding
        ("62808.604", "62808.60"),
        ("0.005", "0.01"),
        ("-0.005", "-0.01"),
        (1829900, "1829900.00"),
        (Decimal("53201.445"), "53201.45"),
    ],
)
def test_round_money_is_half_up_to_kopecks(raw, expected):
    assert round_money(raw) == Decimal(expected)


def test_round_money_refuses_floats():
    with pytest.raises(TypeError):
        round_money(0.1)  # type: ignore[arg-type]


@given(st.decimals(min_value=-(10**9), max_value=10**9, allow_nan=False, places=6))
def test_rounding_error_is_at_most_half_a_kopeck(value):
    assert abs(round_money(value) - value) <= Decimal("0.005")


def test_domain_errors_carry_status_and_field():
    error = ValidationFailed("Too long.", field="name")
    assert error.status_code == 400
    assert error.as_dict() == {"code": "validation_error", "message": "Too long.", "field": "name"}
    assert NotAllowed("no").status_code == 403
    assert TransitionNotAllowed("no").status_code == 409
    assert DomainError("x", code="custom").code == "custom"
