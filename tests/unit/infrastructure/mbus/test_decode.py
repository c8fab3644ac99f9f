"""The adapter over pymeterbus: exact decimals, unit factors, dates, and pymeterbus' failures."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

import meterbus
import pytest

from infrastructure.mbus.decode import DataRecord, Encoding, Function, Quantity, decode_frame, undefined_vif
from infrastructure.mbus.frame import FrameRejected, check_long_frame
from tests.unit.infrastructure.mbus.encoder import (
    BCD8,
    INT16,
    INT32,
    INT48,
    MAXIMUM,
    Frame,
    Record,
    data_information,
    date_record,
    date_time,
    energy_vib,
    error_flags,
    long_frame,
    numeric,
    real,
)


def records(*items: Record) -> list[DataRecord]:
    decoded = decode_frame(check_long_frame(Frame(records=items).encode()))
    assert decoded.unreadable == ()
    return list(decoded.records)


def one(item: Record) -> DataRecord:
    (record,) = records(item)
    return record


def test_pymeterbus_float_error_is_not_kept() -> None:
    """pymeterbus gives 46.160000000000004 °C for 4616 × 0.01; the adapter gives 46.16, which is
    what Decimal(repr(value)) quantised to the VIF's exponent gives."""
    frame = Frame(records=[numeric([0x5D], 4616)]).encode()
    (theirs,) = meterbus.TelegramLong(list(frame)).records
    assert theirs.value != Decimal("46.16")
    assert Decimal(repr(float(theirs.value))).quantize(Decimal("0.01")) == Decimal("46.16")
    record = one(numeric([0x5D], 4616))
    assert (record.quantity, record.value) == (Quantity.RETURN_TEMPERATURE, Decimal("46.16"))


@pytest.mark.parametrize(
    ("scale", "exponent", "raw", "gigajoules"),
    [
        ("Wh", -3, 1, Decimal("0.0000000036")),
        ("Wh", 0, 1000, Decimal("0.0036")),  # 1 kWh
        ("Wh", 3, 1, Decimal("0.0036")),  # kWh
        ("Wh", 4, 12, Decimal("0.432")),
        ("J", 0, 1, Decimal("0.000000001")),
        ("J", 6, 1234, Decimal("1.234")),  # MJ
        ("J", 7, 5, Decimal("0.05")),
        ("MWh", -1, 7, Decimal("2.52")),
        ("MWh", 0, 1, Decimal("3.6")),
        ("GJ", -1, 123, Decimal("12.3")),
        ("GJ", 0, 45, Decimal(45)),
    ],
)
def test_energy_is_converted_to_gigajoules_exactly(scale: str, exponent: int, raw: int, gigajoules: Decimal) -> None:
    vib, _ = energy_vib(scale, exponent)
    record = one(numeric(vib, raw))
    assert record.quantity is Quantity.ENERGY
    assert record.value == gigajoules


@pytest.mark.parametrize(
    ("vib", "raw", "quantity", "value"),
    [
        ([0x13], 561080, Quantity.VOLUME, Decimal("561.080")),
        ([0x17], 3, Quantity.VOLUME, Decimal(30)),
        ([0xFB, 0x11], 2, Quantity.VOLUME, Decimal(2000)),
        ([0x2E], 347, Quantity.POWER, Decimal("347")),  # kW
        ([0x2B], 34700, Quantity.POWER, Decimal("34.7")),  # W
        ([0xFB, 0x29], 2, Quantity.POWER, Decimal(2000)),  # MW
        ([0x33], 3600, Quantity.POWER, Decimal(1)),  # kJ/h
        ([0x3B], 543, Quantity.VOLUME_FLOW, Decimal("0.543")),
        ([0x44], 5, Quantity.VOLUME_FLOW, Decimal("0.3")),  # l/min
        ([0x4E], 1, Quantity.VOLUME_FLOW, Decimal("3.6")),  # l/s
        ([0x59], 10169, Quantity.FLOW_TEMPERATURE, Decimal("101.69")),
        ([0x5E], -125, Quantity.RETURN_TEMPERATURE, Decimal("-12.5")),
        ([0x61], 5553, Quantity.TEMPERATURE_DIFFERENCE, Decimal("55.53")),
        ([0x22], 985, Quantity.ON_TIME, Decimal(985)),
        ([0x27], 2, Quantity.OPERATING_TIME, Decimal(48)),
        ([0x25], 90, Quantity.OPERATING_TIME, Decimal("1.5")),
    ],
)
def test_units_are_the_ledgers(vib: list[int], raw: int, quantity: Quantity, value: Decimal) -> None:
    record = one(numeric(vib, raw))
    assert (record.quantity, record.value) == (quantity, value)


def test_seconds_become_hours() -> None:
    record = one(numeric([0x24], 5400))
    assert record.quantity is Quantity.OPERATING_TIME
    assert record.value == Decimal("1.5")


def test_bcd_and_wide_integers_are_exact() -> None:
    assert one(numeric([0x06], 12345678, BCD8)).value == Decimal("44444.4408")  # 12,345,678 kWh
    assert one(numeric([0x06], -5, BCD8)).value == Decimal("-0.018")
    big = 2**62 + 7
    assert one(numeric([0x08], big, 0x07)).value == Decimal(big).scaleb(-9)
    assert one(numeric([0x13], 2**40 + 1, INT48)).value == Decimal(2**40 + 1).scaleb(-3)


def test_reals_keep_the_digits_the_meter_meant() -> None:
    record = one(real([0x5B], 21.536703))
    assert (record.encoding, record.value) == (Encoding.REAL, Decimal("21.536703"))


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        ("FFFF7F7F", Decimal("3.4028235e38")),  # the largest float32: its shortest text overflowed struct
        ("FFFF7FFF", Decimal("-3.4028235e38")),
        ("01000000", Decimal("1e-45")),  # the smallest subnormal
        ("00000080", Decimal(0)),  # negative zero reads as 0
    ],
)
def test_reals_at_the_float32_extremes_are_read(data: str, expected: Decimal) -> None:
    record = one(Record(data_information(0x05), bytes([0x5B]), bytes.fromhex(data)))
    assert (record.quantity, record.value, record.invalid) == (Quantity.FLOW_TEMPERATURE, expected, False)
    assert str(record.value) != "-0"


@pytest.mark.parametrize("data", ["0000C07F", "0000807F", "000080FF"])  # NaN, +∞, −∞
def test_reals_that_are_no_number_are_invalid_values(data: str) -> None:
    record = one(Record(data_information(0x05), bytes([0x5B]), bytes.fromhex(data)))
    assert (record.quantity, record.value, record.invalid) == (Quantity.FLOW_TEMPERATURE, None, True)


def test_bcd_with_hex_digits_is_an_invalid_value() -> None:
    item = Record(data_information(BCD8), bytes([0x5A]), bytes.fromhex("BDEBDDDD"))
    record = one(item)
    assert record.quantity is Quantity.FLOW_TEMPERATURE
    assert (record.value, record.invalid) == (None, True)


def test_an_error_code_vife_marks_the_value_invalid() -> None:
    record = one(numeric([0xDB, 0x15], 243, INT16))
    assert (record.quantity, record.value, record.invalid) == (Quantity.FLOW_TEMPERATURE, None, True)


def test_positive_accumulation_keeps_the_meaning_other_vifes_change_it() -> None:
    heat, cooling, per_pulse = records(numeric([0x86, 0x3B], 35), numeric([0x86, 0x3C], 465), numeric([0x90, 0x28], 11))
    assert (heat.quantity, heat.value) == (Quantity.ENERGY, Decimal("0.126"))
    assert cooling.quantity is None and cooling.value is None
    assert per_pulse.quantity is None


def test_storage_tariff_subunit_and_function_are_read() -> None:
    record = one(numeric([0x06], 1, INT32, function=MAXIMUM, storage=37, tariff=2, subunit=1))
    assert (record.function, record.storage_number, record.tariff, record.subunit) == (Function.MAXIMUM, 37, 2, 1)


def test_error_flags_are_unsigned() -> None:
    assert one(error_flags(0x8004)).value == 0x8004
    assert one(error_flags(0xFFFFFFFF, INT32)).value == 0xFFFFFFFF


def test_date_types() -> None:
    moment = datetime(2025, 12, 9, 23, 45)
    time_record, summer, invalid, day = records(
        date_time(moment),
        date_time(moment, summer_time=True),
        date_time(moment, invalid=True),
        date_record(date(2025, 11, 30), storage=1),
    )
    assert (time_record.quantity, time_record.value, time_record.summer_time) == (Quantity.DATE_TIME, moment, False)
    assert (summer.value, summer.summer_time) == (moment, True)
    assert (invalid.value, invalid.invalid) == (None, True)
    assert (day.quantity, day.value, day.storage_number) == (Quantity.DATE, date(2025, 11, 30), 1)


def test_type_i_date_time_with_seconds() -> None:
    data = bytes([0x07, 0x2D, 0x17, 0x09 | (25 & 7) << 5, 0x0C | (25 >> 3) << 4, 0x00])
    record = one(Record(data_information(0x06), bytes([0x6D]), data))
    assert record.value == datetime(2025, 12, 9, 23, 45, 7)


def test_an_impossible_date_is_invalid() -> None:
    record = one(Record(data_information(INT16), bytes([0x6C]), bytes([0x00, 0x00])))
    assert (record.quantity, record.value, record.invalid) == (Quantity.DATE, None, True)


@pytest.mark.parametrize("vif", [0x7B, 0x7D])
def test_an_extension_table_without_its_code_is_skipped_and_the_rest_is_read(vif: int) -> None:
    """0x7B/0x7D are 0xFB/0xFD without the extension bit: no VIFE names the quantity, so the
    standard defines none (pymeterbus raises KeyError on them; sen_pollutherm sends 0x7B)."""
    undefined = Record(data_information(BCD8), bytes([vif]), bytes.fromhex("02030000"))
    frame = Frame(records=[numeric([0x06], 1), undefined, numeric([0x14], 7)]).encode()
    decoded = decode_frame(check_long_frame(frame))
    energy, volume = decoded.records
    assert (energy.index, energy.quantity, energy.value) == (0, Quantity.ENERGY, Decimal("0.0036"))
    assert (volume.index, volume.quantity, volume.value) == (2, Quantity.VOLUME, Decimal("0.07"))
    assert decoded.unreadable == ()
    (skipped,) = decoded.skipped
    assert (skipped.index, skipped.vib) == (1, (vif,))
    assert f"VIF {vif:02X} selects the" in skipped.reason and f"({vif | 0x80:02X})" in skipped.reason


def test_an_undefined_record_cut_short_is_damage_not_skipped() -> None:
    body = Frame(records=[numeric([0x06], 1)]).body() + bytes([0x0C, 0x7B, 0x02, 0x03])
    decoded = decode_frame(check_long_frame(long_frame(body)))
    assert decoded.skipped == ()
    (unreadable,) = decoded.unreadable
    assert (unreadable.index, unreadable.vib) == (1, (0x7B,))
    assert unreadable.error.startswith("ValueError: the data field has") and unreadable.error.endswith("of its 4 bytes")


@pytest.mark.parametrize(
    "vib",
    [(0xFB, 0x08), (0xFB, 0x7F), (0xFD, 0x17), (0xFD, 0x10), (0x7C, 0x01), (0x7E,), (0x7F,), (0x6F,), (0x7A,)],
)
def test_vifs_the_standard_defines_are_not_undefined(vib: tuple[int, ...]) -> None:
    assert undefined_vif(vib) is None


def test_a_record_cut_short_is_unreadable() -> None:
    body = Frame(records=[numeric([0x06], 1)]).body() + bytes([0x04, 0x13, 0x01, 0x02])
    decoded = decode_frame(check_long_frame(long_frame(body)))
    (unreadable,) = decoded.unreadable
    assert "of its 4 bytes" in unreadable.error


def test_records_pymeterbus_cannot_split_reject_the_frame() -> None:
    body = Frame().body() + bytes([0x84] + [0x80] * 11 + [0x00, 0x06, 0, 0, 0, 0])
    with pytest.raises(FrameRejected) as caught:
        decode_frame(check_long_frame(long_frame(body)))
    assert caught.value.reason == "undecodable"
    assert caught.value.header is not None and caught.value.header.identification == "12345678"


def test_manufacturer_data_and_more_records_follow() -> None:
    body = Frame(records=[numeric([0x06], 1)]).body() + bytes([0x1F])
    decoded = decode_frame(check_long_frame(long_frame(body)))
    assert decoded.more_records_follow
    body = Frame(records=[numeric([0x06], 1)]).body() + bytes([0x0F, 0x01, 0x02, 0x03])
    manufacturer = decode_frame(check_long_frame(long_frame(body))).records[-1]
    assert manufacturer.function is Function.MANUFACTURER_SPECIFIC and manufacturer.quantity is None


def test_a_variable_length_or_plain_text_record_is_not_read() -> None:
    plain_text = Record(data_information(INT32), bytes([0x7C, 0x01, 0x43]), bytes(4))
    assert one(plain_text).quantity is None
