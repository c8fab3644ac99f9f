"""32-bit reals (IEEE 754 binary32) as the decimals their senders meant.

A meter or a Modbus device that sends a float32 means a decimal of at most 9 significant digits:
``12.345``, not the ``12.345000267028809`` the same bits give as a Python float. The decimal it
meant is the shortest one that reads back as the same float32. Modbus registers
(``infrastructure/modbus/registers.py``) and M-Bus records (``infrastructure/mbus/decode.py``)
both read their 32-bit reals through this module.
"""

from __future__ import annotations

import math
import struct
from decimal import Decimal

# Nine significant digits tell every float32 from its neighbours (IEEE 754-2008, 5.12.2).
FLOAT32_MAXIMUM_SIGNIFICANT_DIGITS = 9
# Python's repr switches to scientific notation outside 1e-4 ≤ |x| < 1e16; the text here follows
# it, so that it is never longer than repr.
_SMALLEST_POSITIONAL_EXPONENT = -4
_LARGEST_POSITIONAL_EXPONENT = 15
_FRACTION_BITS = 0x007F_FFFF


def shortest_float32_text(value: float) -> str:
    """The shortest decimal text that reads back as the same float32 as ``value`` (bit for bit:
    ``-0`` for negative zero), written as Python's repr writes it but without a trailing ``.0``:
    ``12.345``, ``100000``, ``1e-45``, ``3.4028235e+38``.

    ValueError for NaN, the infinities and floats that are not float32 values (``0.1``): a
    float32 decoder never produces them, so one here is a bug of the caller.
    """
    bits = _float32_bits(value)
    if value == 0:
        return "-0" if math.copysign(1, value) < 0 else "0"
    for digits in range(1, FLOAT32_MAXIMUM_SIGNIFICANT_DIGITS + 1):
        found = _nearest_reading_back(value, digits, bits)
        if found is not None:
            return _text(Decimal(found))
    raise AssertionError(f"no {FLOAT32_MAXIMUM_SIGNIFICANT_DIGITS}-digit decimal reads back as {value!r}")


def float32_decimal(value: float) -> Decimal:
    """``shortest_float32_text(value)`` as a ``Decimal``; negative zero becomes 0, because a
    reading of "-0" means nothing more than 0 and the ledger never shows it. ValueError as there."""
    decimal = Decimal(shortest_float32_text(value))
    return abs(decimal) if decimal.is_zero() else decimal


def _float32_bits(value: float) -> bytes:
    if not math.isfinite(value):
        raise ValueError(f"{value} is not a finite number")
    try:
        bits = struct.pack(">f", value)
    except OverflowError:
        raise ValueError(f"{value!r} is beyond the float32 range") from None
    if struct.unpack(">f", bits)[0] != value:
        raise ValueError(f"{value!r} is not a float32 value")
    return bits


def _nearest_reading_back(value: float, digits: int, bits: bytes) -> str | None:
    """Of the two decimals with ``digits`` significant digits either side of ``value``, the nearer
    that reads back as ``bits`` (as text such as ``21536703e-6``); None if neither does.

    The decimals that read back as one float32 form an interval around it, so if any decimal of
    that many digits does, one of these two does. Mostly the nearer one; at a power of two the
    interval is lopsided (half as wide below) and only the other may.
    """
    nearest = f"{value:.{digits - 1}e}"  # correctly rounded: the nearer of the two
    if _reads_back(nearest, bits):
        return nearest
    if not _is_power_of_two(bits):  # a symmetric interval: the farther one reads back even less
        return None
    mantissa_text, exponent_text = nearest.split("e")
    mantissa, exponent = int(mantissa_text.replace(".", "")), int(exponent_text) - (digits - 1)
    # float() is monotonic and the nearer decimal is not ``value`` itself, so this tells the side.
    other = mantissa + 1 if float(nearest) < value else mantissa - 1
    other_text = f"{other}e{exponent}"
    return other_text if _reads_back(other_text, bits) else None


def _is_power_of_two(bits: bytes) -> bool:
    """A float32 whose significand is exactly 1 (fraction bits 0), so that the float32 below it
    lies half as far as the one above."""
    return int.from_bytes(bits, "big") & _FRACTION_BITS == 0


def _reads_back(candidate: str, bits: bytes) -> bool:
    try:
        return struct.pack(">f", float(candidate)) == bits
    except OverflowError:  # above the largest float32 by more than half a step
        return False


def _text(decimal: Decimal) -> str:
    """Repr's notation: positional between 1e-4 and 1e16, scientific (``1.5e-05``) outside."""
    decimal = decimal.normalize()
    exponent = decimal.adjusted()
    if _SMALLEST_POSITIONAL_EXPONENT <= exponent <= _LARGEST_POSITIONAL_EXPONENT:
        return f"{decimal:f}"
    sign, digit_tuple, _ = decimal.as_tuple()
    digit_text = "".join(map(str, digit_tuple))
    mantissa = digit_text[0] + (f".{digit_text[1:]}" if len(digit_text) > 1 else "")
    return f"{'-' if sign else ''}{mantissa}e{exponent:+03d}"
