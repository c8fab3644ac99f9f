"""The ingestion service on a real store: one batch for all good frames, quarantine for the rest,
an outcome per frame; random bytes and text never make it fail (hypothesis)."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from application.authorization import SYSTEM, Principal, Role
from domain.errors import PermissionDeniedError
from domain.values import AccuracyClass, FlowSensorSide, MeterKind
from infrastructure.container import Container
from infrastructure.mbus.service import FrameStatus, MbusIngestion
from tests.strategies import rejected_readings
from tests.unit.infrastructure.mbus.encoder import (
    HEAT_FLOW,
    INT16,
    Frame,
    Record,
    data_information,
    date_record,
    date_time,
    energy_vib,
    error_flags,
    long_frame,
    numeric,
)

NOW = datetime(2025, 12, 10, 4, 0, tzinfo=UTC)
DEVICE = Principal("concentrator-7", Role.DEVICE)
KWH = energy_vib("Wh", 3)[0]
SERIAL = "12345678"


@pytest.fixture
def container(sqlite_container: Container) -> Iterator[Container]:
    sqlite_container.ledger.clock = lambda: NOW
    sqlite_container.ledger.commission_meter(
        SYSTEM,
        SERIAL,
        "Kamstrup",
        "MULTICAL 603",
        AccuracyClass.CLASS_2,
        FlowSensorSide.RETURN,
        MeterKind.HOUSEHOLD,
        datetime(2025, 10, 15, 1, 0, tzinfo=UTC),
    )
    yield sqlite_container


def heat_frame(kwh: int, day: int = 9, identification: str = SERIAL, *extra: Record, **frame: Any) -> bytes:
    records = [numeric(KWH, kwh), numeric([0x14], kwh * 10), date_time(datetime(2025, 12, day, 8, 0)), *extra]
    return Frame(identification=identification, records=records, **frame).encode()


def test_a_good_frame_becomes_a_reading(container: Container) -> None:
    report = MbusIngestion(container.intake).ingest(DEVICE, [heat_frame(1000).hex(" ")])
    (frame,) = report.frames
    assert (frame.status, frame.identification, frame.manufacturer, frame.meter_serial) == (
        FrameStatus.ACCEPTED,
        SERIAL,
        "KAM",
        SERIAL,
    )
    (reading,) = frame.readings
    assert reading.storage_number == 0
    assert reading.outcome.measured_at == datetime(2025, 12, 9, 0, 0, tzinfo=UTC)
    meter = container.ledger.meter(SERIAL)
    assert meter.latest_reading is not None and meter.latest_reading.energy_register_gj == Decimal("3.6")


def test_all_good_frames_go_in_one_batch(container: Container, monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[int] = []
    submit = container.intake.submit

    def counting_submit(*args: Any, **kwargs: Any) -> Any:
        calls.append(len(args[1]))
        return submit(*args, **kwargs)

    monkeypatch.setattr(container.intake, "submit", counting_submit)
    frames = [heat_frame(1000, 7), b"\x00\x01", heat_frame(1010, 8), heat_frame(1020, 9)]
    report = MbusIngestion(container.intake).ingest(DEVICE, frames, reason="concentrator upload")
    assert calls == [3]
    assert [frame.status for frame in report.frames] == [
        FrameStatus.ACCEPTED,
        FrameStatus.REJECTED,
        FrameStatus.ACCEPTED,
        FrameStatus.ACCEPTED,
    ]
    assert container.ledger.meter(SERIAL).readings_count == 3


def test_frames_of_unknown_meters_are_quarantined(container: Container) -> None:
    report = MbusIngestion(container.intake).ingest(DEVICE, [heat_frame(5, identification="00000042")])
    (frame,) = report.frames
    assert (frame.status, frame.reason, frame.meter_serial) == (FrameStatus.QUARANTINED, "unknown_meter", "00000042")
    assert frame.readings == ()
    (kept,), total = container.intake.quarantined()
    assert total == 1
    assert (kept.frame_id, kept.reason, kept.identification, kept.manufacturer, kept.channel, kept.actor) == (
        frame.quarantine_id,
        "unknown_meter",
        "00000042",
        "KAM",
        "mbus",
        "concentrator-7",
    )
    assert kept.payload == heat_frame(5, identification="00000042").hex(" ").upper()


def test_undecodable_frames_are_rejected_and_quarantined(container: Container) -> None:
    good = heat_frame(1000)
    damaged = good[:-2] + bytes([(good[-2] + 1) % 256, 0x16])
    report = MbusIngestion(container.intake).ingest(DEVICE, ["68 ZZ", damaged, good])
    not_hex, bad_checksum, accepted = report.frames
    assert (not_hex.status, not_hex.reason, not_hex.identification) == (FrameStatus.REJECTED, "not_hex", None)
    assert (bad_checksum.status, bad_checksum.reason) == (FrameStatus.REJECTED, "bad_checksum")
    assert accepted.status is FrameStatus.ACCEPTED
    kept, total = container.intake.quarantined()
    assert total == 2
    assert {item.reason for item in kept} == {"undecodable"}
    assert {item.detail.split(":")[0] for item in kept} == {"not_hex", "bad_checksum"}
    assert {item.payload for item in kept} == {"68 ZZ", damaged.hex(" ").upper()}


def test_text_that_cannot_be_stored_as_it_is_is_escaped(container: Container) -> None:
    """PostgreSQL text holds no NUL, UTF-8 no lone surrogate: both reach us in JSON strings."""
    report = MbusIngestion(container.intake).ingest(DEVICE, ["68\x00", "\ud800 68", "热表"])
    assert [(frame.reason, frame.params["character"]) for frame in report.frames] == [
        ("not_hex", "\\x00"),
        ("not_hex", "\\ud800"),
        ("not_hex", "热"),
    ]
    kept, _ = container.intake.quarantined()
    assert {item.payload for item in kept} == {"68\\x00", "\\ud800 68", "热表"}


def test_a_frame_whose_side_contradicts_the_meter_is_rejected(container: Container) -> None:
    report = MbusIngestion(container.intake).ingest(DEVICE, [heat_frame(1000, medium=HEAT_FLOW)])
    (frame,) = report.frames
    assert (frame.status, frame.reason, frame.message_key) == (
        FrameStatus.REJECTED,
        "side_mismatch",
        "mbus.side_mismatch.flow",
    )
    assert frame.params == {"meter_serial": SERIAL, "frame_side": "flow", "registered_side": "return"}
    assert container.ledger.meter(SERIAL).readings_count == 0
    assert container.intake.quarantined()[0][0].reason == "side_mismatch"


def test_billing_date_values_are_readings_and_never_change_the_fault_state(container: Container) -> None:
    frame = heat_frame(
        1000,
        9,
        SERIAL,
        error_flags(0x04, INT16),
        numeric(KWH, 900, storage=1),
        date_record(date(2025, 12, 1), storage=1),
    )
    (outcome,) = MbusIngestion(container.intake).ingest(DEVICE, [frame]).frames
    assert [(reading.storage_number, reading.outcome.status.value) for reading in outcome.readings] == [
        (0, "accepted"),
        (1, "accepted"),
    ]
    meter = container.ledger.meter(SERIAL)
    assert meter.readings_count == 2
    assert meter.error_flags == 0x04


def test_the_same_frames_twice_are_duplicates(container: Container) -> None:
    frames = [heat_frame(1000, 8), heat_frame(1010, 9)]
    MbusIngestion(container.intake).ingest(DEVICE, frames)
    again = MbusIngestion(container.intake).ingest(DEVICE, frames)
    assert [frame.status for frame in again.frames] == [FrameStatus.DUPLICATE, FrameStatus.DUPLICATE]


def test_a_reading_the_ledger_rejects_rejects_its_frame(container: Container) -> None:
    (frame,) = MbusIngestion(container.intake).ingest(DEVICE, [heat_frame(1000, 11)]).frames  # tomorrow
    assert (frame.status, frame.reason) == (FrameStatus.REJECTED, "future_timestamp")
    assert frame.readings[0].outcome.reason == "future_timestamp"
    page = rejected_readings(container.engine)
    assert page.total == 1 and page.items[0].channel == "mbus"


def test_only_callers_who_may_submit_readings_get_in(container: Container) -> None:
    with pytest.raises(PermissionDeniedError):
        MbusIngestion(container.intake).ingest(Principal("audit", Role.AUDITOR), [b"\x00"])
    assert container.intake.quarantined()[1] == 0


def test_nothing_to_do(container: Container) -> None:
    report = MbusIngestion(container.intake).ingest(DEVICE, [])
    assert report.frames == []


VALID = heat_frame(1000)


@st.composite
def garbage(draw: st.DrawFn) -> str | bytes:
    """Random bytes, random text, random hex, and valid frames with bytes changed (checksum fixed or not)."""
    kind = draw(st.sampled_from(["bytes", "text", "hex", "mutated", "mutated_checksum", "cut"]))
    if kind == "bytes":
        return draw(st.binary(max_size=300))
    if kind == "text":
        return draw(st.text(max_size=200))
    if kind == "hex":
        return draw(st.text(alphabet="0123456789abcdefABCDEF \n", max_size=600))
    data = bytearray(VALID)
    if kind == "cut":
        return bytes(data[: draw(st.integers(0, len(data) - 1))])
    for _ in range(draw(st.integers(1, 4))):
        data[draw(st.integers(0, len(data) - 1))] = draw(st.integers(0, 255))
    if kind == "mutated_checksum" and len(data) > 6 and data[1] == data[2] == len(data) - 6:
        data[-2] = sum(data[4:-2]) % 256
    return bytes(data)


@settings(max_examples=150)
@given(st.lists(garbage(), max_size=5))
def test_random_input_never_fails_the_request(container: Container, frames: list[str | bytes]) -> None:
    report = MbusIngestion(container.intake).ingest(DEVICE, frames)
    assert [frame.index for frame in report.frames] == list(range(len(frames)))
    for frame in report.frames:
        assert frame.status in set(FrameStatus)
        if frame.status in (FrameStatus.REJECTED, FrameStatus.QUARANTINED):
            assert frame.reason and frame.message
        if frame.readings:
            assert frame.readings[0].storage_number == 0


def test_an_undecodable_record_structure_is_a_rejection(container: Container) -> None:
    body = Frame().body() + bytes([0x84] + [0x80] * 11 + [0x00, 0x06, 0, 0, 0, 0])
    (frame,) = MbusIngestion(container.intake).ingest(DEVICE, [long_frame(body)]).frames
    assert (frame.status, frame.reason, frame.identification) == (FrameStatus.REJECTED, "undecodable", SERIAL)


def test_a_record_the_standard_does_not_define_is_skipped_and_named(
    container: Container, caplog: pytest.LogCaptureFixture
) -> None:
    frame = heat_frame(1000, 9, SERIAL, Record(data_information(0x0C), bytes([0x7B]), bytes(4)))
    with caplog.at_level(logging.INFO, logger="heatledger.mbus"):
        (outcome,) = MbusIngestion(container.intake).ingest(DEVICE, [frame]).frames
    assert (outcome.status, outcome.reason) == (FrameStatus.ACCEPTED, None)
    (skipped,) = outcome.skipped_records
    assert (skipped.index, skipped.vib) == (3, (0x7B,))
    assert container.intake.quarantined()[1] == 0
    assert "M-Bus frame 0 of meter 12345678: record 3 (VIF 7B) skipped: VIF 7B selects the first" in caplog.text
