import pytest
from django.core.exceptions import ValidationError

from certification.validators import uscc_check_character, validate_uscc


@pytest.mark.parametrize("code", ["91350100M000100Y43", "91440300708461136T", "914403001922038216"])
def test_validate_uscc_accepts_published_codes(code):
    validate_uscc(code)


def test_validate_uscc_accepts_lower_case_input():
    validate_uscc("91440300708461136t")


@pytest.mark.parametrize(
    ("code", "error"),
    [
        ("91350100M000100Y4", "uscc_length"),
        ("91350100M000100Y433", "uscc_length"),
        ("91350100M000100I43", "uscc_alphabet"),
        ("91350100M000100Y44", "uscc_check"),
        ("", "uscc_length"),
    ],
)
def test_validate_uscc_rejects_bad_codes(code, error):
    with pytest.raises(ValidationError) as exc:
        validate_uscc(code)
    assert exc.value.code == error


def test_validate_uscc_names_the_expected_check_character():
    with pytest.raises(ValidationError) as exc:
        validate_uscc("91350100M000100Y44")
    assert exc.value.params == {"expected": "3"}


def test_uscc_check_character_can_be_zero_remainder():
    # A weighted sum divisible by 31 gives the check character '0', not an index error.
    codes = [f"{n:017d}" for n in range(2000)]
    assert {uscc_check_character(c) for c in codes} <= set("0123456789ABCDEFGHJKLMNPQRTUWXY")
    assert "0" in {uscc_check_character(c) for c in codes}
