"""The pages' fast number formatting writes exactly what ``api.i18n`` (Babel) writes."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from api import i18n
from api.i18n import Language
from api.web import number_format

LANGUAGES = st.sampled_from(list(Language))
DECIMALS = st.integers(min_value=0, max_value=i18n.MAXIMUM_DECIMALS)
# Amounts as the ledger holds them: up to 15 integer digits, up to 12 decimals, either sign.
EXACT = st.decimals(
    min_value=Decimal("-1e15"), max_value=Decimal("1e15"), places=None, allow_nan=False, allow_infinity=False
)
PLACED = st.integers(min_value=0, max_value=12).flatmap(
    lambda places: st.decimals(
        min_value=Decimal("-1e15"), max_value=Decimal("1e15"), places=places, allow_nan=False, allow_infinity=False
    )
)
INTEGERS = st.integers(min_value=-(10**15), max_value=10**15)
FLOATS = st.floats(min_value=-1e12, max_value=1e12, allow_nan=False, allow_infinity=False)


def test_both_languages_take_the_fast_path() -> None:
    """If a locale wrote numbers otherwise, the module would fall back to Babel: say so here."""
    assert all(number_format.writes_like_python(language) for language in Language)


@given(value=PLACED, language=LANGUAGES)
def test_a_decimal_shows_the_digits_it_has(value: Decimal, language: Language) -> None:
    assert number_format.format_number(value, language) == i18n.format_number(value, language)


@given(value=st.one_of(PLACED, EXACT, INTEGERS, FLOATS), language=LANGUAGES, decimals=DECIMALS)
def test_fixed_decimals_round_half_up_as_babel(value: Decimal | int | float, language: Language, decimals: int) -> None:
    assert number_format.format_number(value, language, decimals) == i18n.format_number(value, language, decimals)


@given(value=st.one_of(INTEGERS, FLOATS), language=LANGUAGES)
def test_integers_and_floats_without_decimals(value: int | float, language: Language) -> None:
    assert number_format.format_number(value, language) == i18n.format_number(value, language)


@given(value=PLACED, language=LANGUAGES)
def test_money_and_energy(value: Decimal, language: Language) -> None:
    assert number_format.format_money(value, language) == i18n.format_money(value, language)
    assert number_format.format_energy_gj(value, language) == i18n.format_energy_gj(value, language)


@pytest.mark.parametrize(
    ("value", "decimals", "expected"),
    [
        (Decimal("-0.005"), 2, "-0.01"),  # half up, away from zero
        (Decimal("0.005"), 2, "0.01"),
        (Decimal("-0.00"), None, "-0.00"),
        (Decimal("1E+3"), None, "1,000"),
        (Decimal("1234567.125"), 2, "1,234,567.13"),
        (1234567, None, "1,234,567"),
    ],
)
def test_examples(value: Decimal | int, decimals: int | None, expected: str) -> None:
    for language in Language:
        assert number_format.format_number(value, language, decimals) == expected
        assert i18n.format_number(value, language, decimals) == expected


def test_infinity_is_left_to_babel() -> None:
    for language in Language:
        assert number_format.format_number(Decimal("Infinity"), language) == i18n.format_number(
            Decimal("Infinity"), language
        )
