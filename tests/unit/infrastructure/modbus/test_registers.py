"""Register decoding: word orders, signedness, float32 and scales, to exact decimals."""

from __future__ import annotations

import struct
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from infrastructure.float32 import shortest_float32_text
from infrastructure.modbus.registers import (
    DataType,
    DecodeError,
    TargetField,
    WordOrder,
    decode_registers,
    encode_value,
    scaled_decimal,
)


@pytest.mark.parametrize(
    ("registers", "data_type", "word_order", "expected"),
    [
        ([0x0000], DataType.UINT16, WordOrder.BIG, 0),
        ([0xFFFF], DataType.UINT16, WordOrder.BIG, 65535),
        ([0xFFFF], DataType.INT16, WordOrder.BIG, -1),
        ([0x8000], DataType.INT16, WordOrder.BIG, -32768),
        ([0x7FFF], DataType.INT16, WordOrder.LITTLE, 32767),
        ([0x0001, 0x0002], DataType.UINT32, WordOrder.BIG, 0x0001_0002),
        ([0x0001, 0x0002], DataType.UINT32, WordOrder.LITTLE, 0x0002_0001),
        ([0xFFFF, 0xFFFF], DataType.UINT32, WordOrder.BIG, 4294967295),
        ([0xFFFF, 0xFFFE], DataType.INT32, WordOrder.BIG, -2),
        ([0xFFFE, 0xFFFF], DataType.INT32, WordOrder.LITTLE, -2),
        ([0x8000, 0x0000], DataType.INT32, WordOrder.BIG, -(2**31)),
        ([0x0000, 0x8000], DataType.INT32, WordOrder.LITTLE, -(2**31)),
        ([0x0000, 0x8000], DataType.UINT32, WordOrder.LITTLE, 2**31),
        ([0x0012, 0xD687], DataType.UINT32, WordOrder.BIG, 1234567),
    ],
)
def test_integers_decode_by_word_order_and_signedness(
    registers: list[int], data_type: DataType, word_order: WordOrder, expected: int
) -> None:
    assert decode_registers(registers, data_type, word_order) == expected


def test_float32_decodes_in_both_word_orders() -> None:
    # 12.345 as IEEE 754 single: 0x4145851F
    assert (
        decode_registers([0x4145, 0x851F], DataType.FLOAT32, WordOrder.BIG)
        == struct.unpack(">f", b"\x41\x45\x85\x1f")[0]
    )
    assert decode_registers([0x851F, 0x4145], DataType.FLOAT32, WordOrder.LITTLE) == decode_registers(
        [0x4145, 0x851F], DataType.FLOAT32
    )
    assert decode_registers([0xC1C8, 0x0000], DataType.FLOAT32) == -25.0


@pytest.mark.parametrize(
    ("registers", "data_type"),
    [([], DataType.UINT16), ([1, 2], DataType.UINT16), ([1], DataType.UINT32), ([1, 2, 3], DataType.FLOAT32)],
)
def test_the_wrong_number_of_registers_is_a_decode_error(registers: list[int], data_type: DataType) -> None:
    with pytest.raises(DecodeError, match="register"):
        decode_registers(registers, data_type)


def test_words_wider_than_16_bits_are_a_decode_error() -> None:
    with pytest.raises(DecodeError, match="16-bit"):
        decode_registers([0x1_0000], DataType.UINT16)


@pytest.mark.parametrize(
    ("raw", "scale", "field", "expected"),
    [
        (1234567, Decimal("0.001"), TargetField.ENERGY_GJ, "1234.567"),
        (1234567, Decimal("0.0000036"), TargetField.ENERGY_GJ, "4.4444412"),  # Wh → GJ, exactly
        (7012, Decimal("0.01"), TargetField.FLOW_TEMPERATURE_C, "70.12"),
        (-25, Decimal("0.1"), TargetField.POWER_KW, "-2.5"),
        (4294967295, Decimal("0.000000001"), TargetField.VOLUME_M3, "4.294967295"),
        (12, Decimal(10), TargetField.OPERATING_HOURS, "120"),
        (5, Decimal(1), TargetField.ERROR_FLAGS, "5"),
    ],
)
def test_integers_times_a_decimal_scale_are_exact(raw: int, scale: Decimal, field: TargetField, expected: str) -> None:
    value = scaled_decimal(raw, scale, field)
    assert value == Decimal(expected)
    assert str(value) == expected


def test_a_float32_becomes_its_shortest_decimal_not_its_binary_noise() -> None:
    raw = decode_registers([0x4145, 0x851F], DataType.FLOAT32)
    assert repr(raw) == "12.345000267028809"  # what Decimal(repr(value)) alone would keep
    assert shortest_float32_text(raw) == "12.345"
    assert scaled_decimal(raw, Decimal(1), TargetField.ENERGY_GJ) == Decimal("12.345")
    assert str(scaled_decimal(raw, Decimal("0.001"), TargetField.ENERGY_GJ)) == "0.012345"


def test_a_float32_is_quantised_half_to_even_to_the_fields_resolution() -> None:
    raw = struct.unpack(">f", struct.pack(">f", 70.1236))[0]
    assert shortest_float32_text(raw) == "70.1236"
    assert str(scaled_decimal(raw, Decimal(1), TargetField.FLOW_TEMPERATURE_C)) == "70.124"
    assert str(scaled_decimal(raw, Decimal(1), TargetField.FLOW_TEMPERATURE_C, decimals=1)) == "70.1"
    half = struct.unpack(">f", struct.pack(">f", 0.0125))[0]
    assert str(scaled_decimal(half, Decimal(1), TargetField.POWER_KW, decimals=3)) == "0.012"  # half to even


def test_large_float32_values_are_written_out() -> None:
    raw = struct.unpack(">f", struct.pack(">f", 100000.0))[0]
    assert str(scaled_decimal(raw, Decimal(1), TargetField.ENERGY_GJ)) == "100000"


@pytest.mark.parametrize("bits", [b"\x7f\xc0\x00\x00", b"\x7f\x80\x00\x00", b"\xff\x80\x00\x00"])
def test_nan_and_infinities_are_decode_errors(bits: bytes) -> None:
    raw = struct.unpack(">f", bits)[0]
    with pytest.raises(DecodeError, match="not a number"):
        scaled_decimal(raw, Decimal(1), TargetField.ENERGY_GJ)


def test_absurdly_large_values_are_decode_errors() -> None:
    raw = struct.unpack(">f", b"\x7f\x7f\xff\xff")[0]  # the largest float32, about 3.4e38
    with pytest.raises(DecodeError, match="out of range"):
        scaled_decimal(raw, Decimal(1), TargetField.ENERGY_GJ)


@given(st.integers(0, 2**32 - 1), st.sampled_from(list(WordOrder)))
def test_uint32_round_trips(value: int, word_order: WordOrder) -> None:
    assert decode_registers(encode_value(value, DataType.UINT32, word_order), DataType.UINT32, word_order) == value


@given(st.integers(-(2**31), 2**31 - 1), st.sampled_from(list(WordOrder)))
def test_int32_round_trips(value: int, word_order: WordOrder) -> None:
    assert decode_registers(encode_value(value, DataType.INT32, word_order), DataType.INT32, word_order) == value


def test_a_negative_zero_register_is_zero() -> None:
    raw = decode_registers([0x8000, 0x0000], DataType.FLOAT32)
    assert str(scaled_decimal(raw, Decimal(1), TargetField.FLOW_TEMPERATURE_C)) == "0"
