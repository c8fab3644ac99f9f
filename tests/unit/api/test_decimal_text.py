"""Decimals leave the API as exact fixed-point text (``api.schemas.common.decimal_text``)."""

from __future__ import annotations

from decimal import Decimal

from hypothesis import given
from hypothesis import strategies as st

from api.schemas.common import decimal_text


def text_by_definition(value: Decimal, minimum_places: int) -> str:
    """At least ``minimum_places`` decimals, and every significant digit the value has."""
    places = max(minimum_places, -int(value.normalize().as_tuple().exponent))
    return f"{value:.{places}f}"


# Up to 28 significant digits, the decimal context's precision (normalize() rounds to it): a ledger's
# amounts and registers carry far fewer.
AMOUNTS = st.decimals(min_value=-(10**15), max_value=10**15, allow_nan=False, allow_infinity=False, places=12)
SCALED = st.builds(lambda value, scale: value.quantize(Decimal(1).scaleb(-scale)), AMOUNTS, st.integers(0, 12))


@given(st.one_of(AMOUNTS, SCALED), st.integers(min_value=0, max_value=8))
def test_the_text_keeps_every_digit_and_at_least_the_places_asked(value: Decimal, minimum_places: int) -> None:
    text = decimal_text(value, minimum_places)

    assert text == text_by_definition(value, minimum_places)
    assert Decimal(text) == value
    assert len(text.partition(".")[2]) >= minimum_places


def test_a_read_model_value_at_its_scale_and_finer() -> None:
    assert decimal_text(Decimal("1.250000"), 6) == "1.250000"
    assert decimal_text(Decimal("1.2500000"), 6) == "1.250000"
    assert decimal_text(Decimal("0.000000001"), 6) == "0.000000001"
    assert decimal_text(Decimal("0E-6"), 2) == "0.00"
    assert decimal_text(Decimal("1E+2"), 0) == "100"
