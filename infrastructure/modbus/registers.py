"""Register decoding: Modbus words to exact decimals of the ledger's reading fields.

A Modbus register is a 16-bit word sent most significant byte first. Values wider than one
word span consecutive registers; devices disagree on which word comes first, so each entry
of a register map names its ``word_order``: ``big`` (most significant word first, "ABCD") or
``little`` (least significant word first, "CDAB"). Byte order inside a word is always big-endian.

Integers become decimals exactly (``Decimal(raw) * scale``; the configuration only allows
scales whose result fits the field's resolution, so nothing is rounded). A float32 holds about
7 significant digits: it becomes the shortest decimal that reads back as the same float32 (what
the device's firmware meant, ``12.345`` rather than ``12.345000267028809``; ``infrastructure/float32.py``,
shared with M-Bus), is multiplied by the scale and is then quantised, half to even, to the
field's resolution.
"""

from __future__ import annotations

import struct
from collections.abc import Sequence
from decimal import ROUND_HALF_EVEN, Decimal
from enum import StrEnum

from domain.meter import INSTANT_DECIMALS, REGISTER_DECIMALS
from infrastructure.float32 import float32_decimal


class DataType(StrEnum):
    """How a value is laid out in registers."""

    UINT16 = "uint16"
    INT16 = "int16"
    UINT32 = "uint32"
    INT32 = "int32"
    FLOAT32 = "float32"

    @property
    def register_count(self) -> int:
        return 1 if self in (DataType.UINT16, DataType.INT16) else 2

    @property
    def is_integer(self) -> bool:
        return self is not DataType.FLOAT32

    @property
    def is_signed(self) -> bool:
        return self in (DataType.INT16, DataType.INT32)


class WordOrder(StrEnum):
    """Which register of a two-register value carries the most significant word."""

    BIG = "big"
    LITTLE = "little"


class TargetField(StrEnum):
    """The reading field a register feeds (units as in the ledger: GJ, m³, °C, m³/h, kW, h)."""

    ENERGY_GJ = "energy_gj"
    VOLUME_M3 = "volume_m3"
    FLOW_TEMPERATURE_C = "flow_temperature_c"
    RETURN_TEMPERATURE_C = "return_temperature_c"
    FLOW_RATE_M3_H = "flow_rate_m3_h"
    POWER_KW = "power_kw"
    OPERATING_HOURS = "operating_hours"
    ERROR_FLAGS = "error_flags"

    @property
    def decimals(self) -> int:
        """The most decimals the ledger keeps of this field (its resolution)."""
        if self in (TargetField.ENERGY_GJ, TargetField.VOLUME_M3):
            return REGISTER_DECIMALS
        if self is TargetField.ERROR_FLAGS:
            return 0
        return INSTANT_DECIMALS


_STRUCT_FORMATS = {
    DataType.UINT16: ">H",
    DataType.INT16: ">h",
    DataType.UINT32: ">I",
    DataType.INT32: ">i",
    DataType.FLOAT32: ">f",
}
# Far above anything the ledger takes (registers and instants stay below 10⁹): a decoded value
# this large is garbage, and refusing it keeps the decimal arithmetic exact.
MAXIMUM_MAGNITUDE = Decimal(10) ** 15


class DecodeError(ValueError):
    """Registers that do not hold a usable value (the wrong number of words, not a number)."""


def decode_registers(
    registers: Sequence[int], data_type: DataType, word_order: WordOrder = WordOrder.BIG
) -> int | float:
    """The raw value held by ``registers``: an int for integer types, a float for float32."""
    if len(registers) != data_type.register_count:
        raise DecodeError(f"{data_type.value} takes {data_type.register_count} register(s), got {len(registers)}")
    if any(not 0 <= word <= 0xFFFF for word in registers):
        raise DecodeError(f"registers are 16-bit words, got {list(registers)}")
    words = list(registers) if word_order is WordOrder.BIG else list(reversed(registers))
    raw = b"".join(word.to_bytes(2, "big") for word in words)
    value: int | float = struct.unpack(_STRUCT_FORMATS[data_type], raw)[0]
    return value


def scaled_decimal(raw: int | float, scale: Decimal, field: TargetField, decimals: int | None = None) -> Decimal:
    """``raw × scale`` as an exact decimal at the field's resolution (or ``decimals``, if fewer).

    Integers are exact; a float32 is taken at its shortest round-tripping decimal, then rounded
    half to even to the resolution. NaN and infinities raise DecodeError.
    """
    places = field.decimals if decimals is None else min(decimals, field.decimals)
    if isinstance(raw, float):
        if raw != raw or raw in (float("inf"), float("-inf")):
            raise DecodeError(f"the float32 register holds {raw}, not a number")
        value = float32_decimal(raw) * scale
    else:
        value = Decimal(raw) * scale
    if abs(value) >= MAXIMUM_MAGNITUDE:
        raise DecodeError(f"the value {value} is out of range for {field.value}")
    exponent = value.as_tuple().exponent
    assert isinstance(exponent, int), "finite by construction"
    if exponent < -places:
        return value.quantize(Decimal(1).scaleb(-places), rounding=ROUND_HALF_EVEN)
    if exponent > 0:  # 1E+5 from a float32 of 100000: written out in full
        return value.quantize(Decimal(1))
    return value


def encode_value(value: int | float, data_type: DataType, word_order: WordOrder = WordOrder.BIG) -> list[int]:
    """The registers that hold ``value``: the inverse of ``decode_registers`` (for tests and simulators)."""
    raw = struct.pack(_STRUCT_FORMATS[data_type], value)
    words = [int.from_bytes(raw[index : index + 2], "big") for index in range(0, len(raw), 2)]
    return words if word_order is WordOrder.BIG else list(reversed(words))
