import pytest

from autocrm.inventory.vin import check_digit, check_digit_matches, is_valid_vin, normalize_vin


@pytest.mark.parametrize(
    "vin",
    [
        "1M8GDM9AXKP042788",  # the textbook North-American example with a correct check digit
        "1HGCM82633A004352",
    ],
)
def test_north_american_vins_carry_a_matching_check_digit(vin):
    assert is_valid_vin(vin)
    assert check_digit_matches(vin)
    assert check_digit(vin) == vin[8]


def test_the_seed_car_vin_is_valid_and_its_check_digit_matches():
    assert is_valid_vin("LVVDB21B1PD734288")
    assert check_digit_matches("LVVDB21B1PD734288")


def test_a_wrong_check_digit_still_leaves_the_vin_valid():
    # Most non-North-American VINs do not use position 9 as a check digit: valid,
    # the service only warns.
    vin = "XTA21093022696310"
    assert is_valid_vin(vin)
    assert not check_digit_matches(vin)


@pytest.mark.parametrize(
    "vin",
    [
        "LVVDB21B1PD73428",  # 16 characters
        "LVVDB21B1PD7342888",  # 18
        "LVVDB21B1PD73428I",  # I is not allowed
        "LVVDB21B1PD73428O",
        "LVVDB21B1PD73428Q",
        "LVVDB21B1PD7342-8",
        "lvvdb21b1pd734288",  # not normalised yet
    ],
)
def test_invalid_vins(vin):
    assert not is_valid_vin(vin)


def test_normalize_uppercases_and_strips_spaces():
    assert normalize_vin(" lvvdb21b1 pd734288\n") == "LVVDB21B1PD734288"
