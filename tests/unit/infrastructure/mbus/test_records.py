"""Mapping a decoded frame to readings: serial, medium and side, storage numbers, times, faults."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest

from api.schemas.mbus import MAXIMUM_FRAMES
from application.ingestion import MAXIMUM_BATCH_SIZE
from domain.values import FlowSensorSide, ReadingSource
from infrastructure.mbus.decode import decode_frame
from infrastructure.mbus.frame import FrameRejected, check_long_frame
from infrastructure.mbus.records import MAXIMUM_STORED_READINGS, FrameReadings, error_flags, readings_of
from tests.unit.infrastructure.mbus.encoder import (
    BCD8,
    HEAT_FLOW,
    INT16,
    MAXIMUM,
    Frame,
    Record,
    data_information,
    date_record,
    date_time,
    energy_vib,
    long_frame,
    numeric,
    real,
)
from tests.unit.infrastructure.mbus.encoder import error_flags as error_flags_record

RECEIVED_AT = datetime(2025, 12, 10, 4, 0, 0, tzinfo=UTC)
KWH = energy_vib("Wh", 3)[0]


def mapped(*records: Record, **frame: object) -> FrameReadings:
    return readings_of(decode_frame(check_long_frame(Frame(records=records, **frame).encode())), RECEIVED_AT)  # type: ignore[arg-type]


def rejected(*records: Record, **frame: object) -> FrameRejected:
    with pytest.raises(FrameRejected) as caught:
        mapped(*records, **frame)
    return caught.value


def test_a_full_current_reading() -> None:
    readings = mapped(
        numeric(KWH, 12345),
        numeric([0x14], 56108),
        numeric([0x59], 7012, INT16),
        numeric([0x5D], 4015, INT16),
        numeric([0x3B], 543),
        numeric([0x2B], 34700),
        numeric([0x22], 985),
        error_flags_record(0),
        date_time(datetime(2025, 12, 10, 0, 0)),
    )
    assert (readings.identification, readings.manufacturer, readings.meter_serial) == ("12345678", "KAM", "12345678")
    assert readings.side is FlowSensorSide.RETURN
    (current,) = readings.readings
    values = current.values
    assert values.measured_at == datetime(2025, 12, 9, 16, 0, tzinfo=UTC)  # midnight in Asia/Shanghai
    assert values.energy_gj == Decimal("44.442")
    assert values.volume_m3 == Decimal("561.08")
    assert (values.flow_temperature_c, values.return_temperature_c) == (Decimal("70.12"), Decimal("40.15"))
    assert (values.flow_rate_m3_h, values.power_kw, values.operating_hours) == (
        Decimal("0.543"),
        Decimal("34.7"),
        Decimal(985),
    )
    assert (values.error_flags, values.source, values.faulty) == (0, ReadingSource.MBUS, False)


def test_the_serial_keeps_leading_zeros() -> None:
    assert mapped(numeric(KWH, 1), identification="00012345").meter_serial == "00012345"


def test_medium_decides_the_side() -> None:
    assert mapped(numeric(KWH, 1), medium=HEAT_FLOW).side is FlowSensorSide.FLOW
    for medium in (0x00, 0x02, 0x06, 0x07, 0x0D, 0x0B):
        caught = rejected(numeric(KWH, 1), medium=medium)
        assert (caught.reason, caught.params) == ("unknown_medium", {"medium": f"{medium:02X}"})
        assert caught.header is not None and caught.header.identification == "12345678"


def test_without_a_clock_the_reading_is_timed_when_received() -> None:
    assert mapped(numeric(KWH, 1)).readings[0].values.measured_at == RECEIVED_AT


def test_an_invalid_clock_is_not_used() -> None:
    readings = mapped(numeric(KWH, 1), date_time(datetime(2025, 12, 10, 0, 0), invalid=True))
    assert readings.readings[0].values.measured_at == RECEIVED_AT


def test_summer_time_is_one_hour_ahead() -> None:
    readings = mapped(numeric(KWH, 1), date_time(datetime(2025, 12, 10, 1, 0), summer_time=True))
    assert readings.readings[0].values.measured_at == datetime(2025, 12, 9, 16, 0, tzinfo=UTC)


def test_a_billing_date_value_is_its_own_reading_at_local_midnight() -> None:
    readings = mapped(
        numeric(KWH, 2000),
        date_time(datetime(2025, 12, 10, 0, 0)),
        numeric(KWH, 1500, storage=1),
        numeric([0x14], 900, storage=1),
        date_record(date(2025, 11, 30), storage=1),
        numeric(KWH, 1000, storage=2),  # no date: not a reading
        numeric(KWH, 999, storage=3, tariff=1),
        date_record(date(2025, 10, 31), storage=3),  # date but no tariff-0 energy: not a reading
    )
    current, billing = readings.readings
    assert current.values.energy_gj == Decimal("7.2")
    assert billing.storage_number == 1
    assert billing.values.measured_at == datetime(2025, 11, 29, 16, 0, tzinfo=UTC)
    assert (billing.values.energy_gj, billing.values.volume_m3) == (Decimal("5.4"), Decimal("9.00"))
    assert billing.values.error_flags == 0


def test_a_stored_date_time_is_used_as_it_is() -> None:
    readings = mapped(numeric(KWH, 2), numeric(KWH, 1, storage=8), date_time(datetime(2025, 12, 1, 0, 0), storage=8))
    assert readings.readings[1].values.measured_at == datetime(2025, 11, 30, 16, 0, tzinfo=UTC)


def test_a_stored_value_at_the_current_readings_time_is_not_repeated() -> None:
    moment = datetime(2025, 12, 10, 0, 0)
    readings = mapped(numeric(KWH, 2), date_time(moment), numeric(KWH, 2, storage=1), date_time(moment, storage=1))
    assert len(readings.readings) == 1


def test_only_instantaneous_values_of_tariff_0_and_subunit_0_count() -> None:
    readings = mapped(
        numeric(KWH, 7, tariff=1),
        numeric(KWH, 8, subunit=1),
        numeric(KWH, 9, function=MAXIMUM),
        numeric(KWH, 10),
        numeric(KWH, 11),
        numeric([0x2B], 99999, function=MAXIMUM),
    )
    values = readings.readings[0].values
    assert values.energy_gj == Decimal("0.036")  # the first tariff-0 instantaneous energy
    assert values.power_kw is None


def test_the_heat_register_is_read_not_the_cooling_one() -> None:
    values = mapped(numeric([0x86, 0x3C], 99), numeric([0x86, 0x3B], 35)).readings[0].values
    assert values.energy_gj == Decimal("0.126")


def test_operating_time_is_preferred_to_on_time() -> None:
    values = mapped(numeric(KWH, 1), numeric([0x22], 100), numeric([0x26], 90)).readings[0].values
    assert values.operating_hours == Decimal(90)
    assert mapped(numeric(KWH, 1), numeric([0x20], 3601)).readings[0].values.operating_hours == Decimal("1.000")


def test_registers_are_cut_to_9_decimals_and_instants_rounded_to_3() -> None:
    values = (
        mapped(
            numeric([0x00], 1234567),  # 0.001 Wh steps: 1234.567 Wh = 0.0044444412 GJ
            numeric([0x10], 1),  # 1 ml
            real([0x5B], 21.536703),
            real([0x5F], 21.6055),
            numeric([0x38], 1234567),  # 1.234567 m³/h
        )
        .readings[0]
        .values
    )
    assert values.energy_gj == Decimal("0.004444441")
    assert values.volume_m3 == Decimal("0.000001")
    assert (values.flow_temperature_c, values.return_temperature_c) == (Decimal("21.537"), Decimal("21.606"))
    assert values.flow_rate_m3_h == Decimal("1.235")


@pytest.mark.parametrize(
    ("flow", "faulty", "kept"),
    [
        (Decimal(70), False, Decimal(70)),
        (Decimal(0), False, Decimal(0)),
        (Decimal(200), False, Decimal(200)),
        (Decimal(243), True, Decimal(243)),  # a sensor-fault value within the ledger's bounds: kept
        (Decimal("249.9"), True, Decimal("249.9")),
        (Decimal(250), True, None),  # beyond the ledger's bounds: dropped
        (Decimal("999.9"), True, None),
        (Decimal(-1), True, Decimal(-1)),
        (Decimal(-60), True, None),
    ],
)
def test_sensor_fault_temperatures_make_the_reading_faulty(flow: Decimal, faulty: bool, kept: Decimal | None) -> None:
    record = numeric([0x5A], int(flow * 10), INT16)
    values = mapped(numeric(KWH, 1), record, numeric([0x5E], 400, INT16)).readings[0].values
    assert values.faulty is faulty
    assert values.flow_temperature_c == kept
    assert values.return_temperature_c == Decimal(40)


def test_a_temperature_the_meter_marks_invalid_is_a_fault() -> None:
    readings = mapped(numeric(KWH, 1), numeric([0xDB, 0x15], 0, INT16))
    (current,) = readings.readings
    assert current.values.faulty
    assert current.values.flow_temperature_c is None
    assert current.faults == ("flow_temperature marked invalid by the meter",)


def test_an_instant_beyond_the_ledgers_bounds_is_dropped_as_a_fault() -> None:
    values = mapped(numeric(KWH, 1), numeric([0x2F], 2**31 - 1)).readings[0].values  # 2·10¹³ W
    assert values.faulty and values.power_kw is None


def test_error_flags_are_kept_in_31_bits() -> None:
    assert mapped(numeric(KWH, 1), error_flags_record(0x0104)).readings[0].values.error_flags == 0x0104
    assert error_flags(2**31 - 1) == 2**31 - 1
    assert error_flags(0x80000001) == 0x40000001
    assert error_flags(2**40) == 0x40000000


def test_negative_energy_is_left_to_the_ledgers_rules() -> None:
    values = mapped(numeric(KWH, -5, BCD8)).readings[0].values
    assert values.energy_gj == Decimal("-0.018")


def test_a_frame_without_energy_is_refused() -> None:
    assert rejected(numeric([0x14], 5)).reason == "no_energy"
    assert rejected(Record(data_information(BCD8), bytes(KWH), bytes.fromhex("AAAAAAAA"))).reason == "no_energy"
    assert rejected(numeric(KWH, 5, storage=1), date_record(date(2025, 1, 1), storage=1)).reason == "no_energy"


def test_a_record_the_standard_does_not_define_is_skipped_not_the_frame() -> None:
    """As in sen_pollutherm: VIF 0x7B (0xFB without its code) between readable records."""
    undefined = Record(data_information(BCD8), bytes([0x7B]), bytes.fromhex("02030000"))
    readings = mapped(numeric(KWH, 8640, BCD8), undefined, numeric([0x14], 799892, BCD8))
    (current,) = readings.readings
    assert (current.values.energy_gj, current.values.volume_m3) == (Decimal("31.104"), Decimal("7998.92"))
    (skipped,) = readings.skipped
    assert (skipped.index, skipped.vib) == (1, (0x7B,))
    assert "defines no quantity" in skipped.reason


def test_a_damaged_record_refuses_the_frame() -> None:
    body = Frame(records=[numeric(KWH, 1)]).body() + bytes([0x04, 0x13, 0x01, 0x02])  # 2 of 4 data bytes
    with pytest.raises(FrameRejected) as caught:
        readings_of(decode_frame(check_long_frame(long_frame(body))), RECEIVED_AT)
    assert (caught.value.reason, caught.value.message_key) == ("undecodable", "mbus.undecodable.record")
    assert (caught.value.params["record"], caught.value.params["vif"]) == (1, "13")
    assert str(caught.value.params["error"]).endswith("of its 4 bytes")


def test_reading_times_are_aware_utc() -> None:
    readings = mapped(numeric(KWH, 1), date_time(datetime(2025, 6, 1, 12, 0)))
    measured_at = readings.readings[0].values.measured_at
    assert measured_at.utcoffset() == timedelta(0)
    assert measured_at == datetime(2025, 6, 1, 4, 0, tzinfo=UTC)


def test_at_most_nine_billing_date_values_the_newest() -> None:
    stored = [
        record
        for month in range(1, 13)
        for record in (numeric(KWH, month, storage=month), date_record(date(2025, month, 1), storage=month))
    ]
    readings = mapped(numeric(KWH, 20), *stored)
    assert [reading.storage_number for reading in readings.readings] == [0, *range(4, 13)]


def test_a_full_request_fits_in_one_ledger_batch() -> None:
    assert MAXIMUM_FRAMES * (1 + MAXIMUM_STORED_READINGS) <= MAXIMUM_BATCH_SIZE
