"""A small M-Bus frame encoder for the tests (never used by the product).

Written from EN 13757-3 directly, not from the decoder, so that a frame built here and decoded by
``infrastructure.mbus`` checks the decoder against the standard rather than against itself.
"""

from __future__ import annotations

import struct
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal

# Data field codes (the DIF's low nibble) by encoding and size.
INT8, INT16, INT24, INT32, REAL32, INT48, INT64 = 0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07
BCD2, BCD4, BCD6, BCD8, BCD12 = 0x09, 0x0A, 0x0B, 0x0C, 0x0E
_INT_SIZES = {INT8: 1, INT16: 2, INT24: 3, INT32: 4, INT48: 6, INT64: 8}
_BCD_SIZES = {BCD2: 1, BCD4: 2, BCD6: 3, BCD8: 4, BCD12: 6}

HEAT_RETURN, HEAT_FLOW = 0x04, 0x0C
INSTANTANEOUS, MAXIMUM, MINIMUM, ERROR_STATE = 0, 1, 2, 3


def manufacturer_field(code: str) -> bytes:
    """Three letters A–Z as the 2-byte manufacturer field (5 bits a letter, A = 1)."""
    value = 0
    for letter in code:
        value = value << 5 | (ord(letter) - 64)
    return value.to_bytes(2, "little")


def data_information(
    data_field: int, function: int = INSTANTANEOUS, storage: int = 0, tariff: int = 0, subunit: int = 0
) -> bytes:
    """DIF and DIFEs: storage number bit 0 in the DIF, then 4 bits a DIFE; tariff 2 bits and
    subunit 1 bit a DIFE."""
    dif = data_field | function << 4 | (storage & 1) << 6
    storage >>= 1
    extensions: list[int] = []
    while storage or tariff or subunit:
        extensions.append((storage & 0x0F) | (tariff & 0x03) << 4 | (subunit & 0x01) << 6)
        storage, tariff, subunit = storage >> 4, tariff >> 2, subunit >> 1
    if extensions:
        dif |= 0x80
        extensions = [extension | 0x80 for extension in extensions[:-1]] + [extensions[-1]]
    return bytes([dif, *extensions])


def integer_data(value: int, data_field: int) -> bytes:
    return value.to_bytes(_INT_SIZES[data_field], "little", signed=True)


def bcd_data(value: int, data_field: int) -> bytes:
    """BCD digits, least significant byte first; a negative value has F as its top digit."""
    size = _BCD_SIZES[data_field]
    digits = f"{abs(value):0{size * 2}d}"
    if value < 0:
        digits = "F" + digits[1:]
    return bytes.fromhex(digits)[::-1]


def real_data(value: float) -> bytes:
    return struct.pack("<f", value)


def type_f(moment: datetime, summer_time: bool = False, invalid: bool = False) -> bytes:
    """Date and time, type F: minute (IV bit 7), hour (SU bit 7), day and month with the year's 7 bits."""
    year = moment.year % 100
    return bytes(
        [
            moment.minute | (0x80 if invalid else 0),
            moment.hour | (0x80 if summer_time else 0),
            moment.day | (year & 0x07) << 5,
            moment.month | (year >> 3) << 4,
        ]
    )


def type_g(day: date) -> bytes:
    """Date, type G: day and month with the year's 7 bits."""
    year = day.year % 100
    return bytes([day.day | (year & 0x07) << 5, day.month | (year >> 3) << 4])


@dataclass(frozen=True)
class Record:
    """One data record: DIB, VIB (VIF and VIFEs) and data field."""

    dib: bytes
    vib: bytes
    data: bytes

    def encode(self) -> bytes:
        return self.dib + self.vib + self.data


def numeric(
    vib: Sequence[int] | bytes,
    value: int,
    data_field: int = INT32,
    function: int = INSTANTANEOUS,
    storage: int = 0,
    tariff: int = 0,
    subunit: int = 0,
) -> Record:
    """A record holding the whole number ``value`` in units of the VIF's step."""
    data = bcd_data(value, data_field) if data_field in _BCD_SIZES else integer_data(value, data_field)
    return Record(data_information(data_field, function, storage, tariff, subunit), bytes(vib), data)


def real(vib: Sequence[int] | bytes, value: float, function: int = INSTANTANEOUS, storage: int = 0) -> Record:
    return Record(data_information(REAL32, function, storage), bytes(vib), real_data(value))


def date_time(moment: datetime, storage: int = 0, summer_time: bool = False, invalid: bool = False) -> Record:
    return Record(data_information(INT32, storage=storage), bytes([0x6D]), type_f(moment, summer_time, invalid))


def date_record(day: date, storage: int = 0) -> Record:
    return Record(data_information(INT16, storage=storage), bytes([0x6C]), type_g(day))


def error_flags(flags: int, data_field: int = INT16) -> Record:
    size = _INT_SIZES[data_field]
    return Record(data_information(data_field), bytes([0xFD, 0x17]), flags.to_bytes(size, "little"))


@dataclass(frozen=True)
class Frame:
    """An RSP_UD long frame with CI 0x72 and the records given."""

    identification: str = "12345678"
    manufacturer: str = "KAM"
    medium: int = HEAT_RETURN
    records: Sequence[Record] = field(default_factory=tuple)
    version: int = 1
    access_number: int = 1
    status: int = 0
    control: int = 0x08
    address: int = 0x01

    def body(self) -> bytes:
        header = (
            bytes.fromhex(self.identification)[::-1]
            + manufacturer_field(self.manufacturer)
            + bytes([self.version, self.medium, self.access_number, self.status, 0, 0])
        )
        return bytes([self.control, self.address, 0x72]) + header + b"".join(r.encode() for r in self.records)

    def encode(self) -> bytes:
        return long_frame(self.body())

    def hex(self) -> str:
        return self.encode().hex(" ").upper()


def long_frame(body: bytes, checksum: int | None = None) -> bytes:
    """``68 L L 68 body CS 16`` with the right checksum unless one is given."""
    length = len(body)
    total = sum(body) % 256 if checksum is None else checksum
    return bytes([0x68, length, length, 0x68]) + body + bytes([total, 0x16])


# VIF bytes for the quantities the ledger reads, with the value of one step in the ledger's unit.
GJ_PER_WH = Decimal("0.0000036")


def energy_vib(scale: str, exponent: int) -> tuple[bytes, Decimal]:
    """The VIB of an energy register and the GJ of one step: ``Wh`` (10^-3…10^4 Wh), ``J``
    (1…10^7 J), ``MWh`` (0.1 or 1 MWh via 0xFB), ``GJ`` (0.1 or 1 GJ via 0xFB)."""
    if scale == "Wh":
        return bytes([0x00 | (exponent + 3)]), GJ_PER_WH * Decimal(10) ** exponent
    if scale == "J":
        return bytes([0x08 | exponent]), Decimal("1e-9") * Decimal(10) ** exponent
    if scale == "MWh":
        return bytes([0xFB, 0x00 | (exponent + 1)]), Decimal("3.6") * Decimal(10) ** exponent
    if scale == "GJ":
        return bytes([0xFB, 0x08 | (exponent + 1)]), Decimal(10) ** exponent
    raise ValueError(scale)
