"""The shortest decimal of a float32, shared by the Modbus and M-Bus decoders: the extremes, the
refusals, and the property that every finite float32 reads back from its text."""

from __future__ import annotations

import struct
from decimal import Decimal

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from infrastructure.float32 import float32_decimal, shortest_float32_text


def from_bits(bits: int) -> float:
    value: float = struct.unpack(">f", bits.to_bytes(4, "big"))[0]
    return value


def float32_bits(value: float) -> bytes:
    return struct.pack(">f", value)


def significant_digits(text: str) -> int:
    return len(Decimal(text).normalize().as_tuple().digits)


LARGEST = from_bits(0x7F7F_FFFF)  # 3.4028234663852886e+38


@pytest.mark.parametrize(
    ("bits", "expected"),
    [
        (0x7F7F_FFFF, "3.4028235e+38"),  # the largest float32 (the M-Bus copy overflowed on it)
        (0xFF7F_FFFF, "-3.4028235e+38"),
        (0x0000_0001, "1e-45"),  # the smallest subnormal
        (0x0080_0000, "1.1754944e-38"),  # the smallest normal
        (0x8000_0000, "-0"),  # negative zero, bit for bit
        (0x0000_0000, "0"),
        (0x4145_851F, "12.345"),  # not 12.345000267028809
        (0x47C3_5000, "100000"),  # written out, not 1e+05
        (0x4B80_0000, "16777216"),  # 2**24
        (0x3727_C5AC, "1e-05"),  # scientific below 1e-4, as repr
        # 2**87, a power of two: its rounding interval is lopsided and the nearest 8-digit decimal
        # (1.547425e+26) falls outside it, but the one above does not. The old copies gave 9 digits.
        (0x6B00_0000, "1.5474251e+26"),
    ],
)
def test_extremes_and_landmarks(bits: int, expected: str) -> None:
    value = from_bits(bits)
    assert shortest_float32_text(value) == expected
    assert float32_bits(float(expected)) == bits.to_bytes(4, "big")


def test_the_largest_float32_is_a_decimal_not_an_overflow() -> None:
    assert float32_decimal(LARGEST) == Decimal("3.4028235E+38")
    assert float32_decimal(-LARGEST) == Decimal("-3.4028235E+38")


def test_negative_zero_is_zero_as_a_decimal() -> None:
    zero = float32_decimal(-0.0)
    assert zero == 0 and not zero.is_signed() and str(zero) == "0"


@pytest.mark.parametrize("value", [float("nan"), float("inf"), float("-inf")])
def test_nan_and_infinities_are_refused(value: float) -> None:
    with pytest.raises(ValueError, match="not a finite number"):
        shortest_float32_text(value)
    with pytest.raises(ValueError, match="not a finite number"):
        float32_decimal(value)


@pytest.mark.parametrize(
    ("value", "problem"),
    [
        (0.1, "not a float32 value"),
        (3.4028235e38, "not a float32 value"),  # within half a step of the largest: a double, not it
        (3.5e38, "beyond the float32 range"),
        (1e39, "beyond the float32 range"),
    ],
)
def test_floats_that_are_no_float32_are_refused(value: float, problem: str) -> None:
    with pytest.raises(ValueError, match=problem):
        shortest_float32_text(value)


@given(st.floats(width=32, allow_nan=False, allow_infinity=False))
@example(LARGEST)
@example(-LARGEST)
@example(from_bits(1))
@example(-0.0)
@example(from_bits(0x6B00_0000))  # a power of two, where the rounding interval is lopsided
def test_every_finite_float32_reads_back_from_its_text_which_is_no_longer_than_repr(value: float) -> None:
    text = shortest_float32_text(value)
    assert float32_bits(float(text)) == float32_bits(value)
    assert len(text) <= len(repr(value))
    assert significant_digits(text) <= 9
    assert float32_decimal(value) == Decimal(text)


@given(st.floats(width=32, allow_nan=False, allow_infinity=False).filter(lambda value: value != 0))
@example(from_bits(0x6B00_0000))  # 1.5474251e+26: %g-style rounding needed one digit more here
@example(from_bits(0x0000_0001))
def test_no_decimal_with_fewer_digits_reads_back(value: float) -> None:
    """The text is the shortest: numpy's Dragon4 (an independent implementation, installed with
    iapws → scipy) needs as many significant digits."""
    numpy = pytest.importorskip("numpy")
    dragon4 = numpy.format_float_scientific(numpy.float32(value), unique=True, trim="-")
    assert significant_digits(shortest_float32_text(value)) == significant_digits(dragon4)
