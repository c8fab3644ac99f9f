"""M-Bus ingestion: frames in, one reading batch out, an outcome per frame (docs/mbus.md).

Every frame is checked and decoded on its own; a damaged one is rejected with its reason and
kept in quarantine (reason ``undecodable``), so one bad frame never costs the others. Frames of
meters the ledger does not know are quarantined (reason ``unknown_meter``) with their
identification and manufacturer. The readings of all the other frames go to the ledger in ONE
``ReadingIntake.submit`` (channel ``mbus``): judged in order, the accepted ones saved together.
A record whose VIF the standard does not define is skipped, named in the frame's outcome and
logged; the frame's other records still count.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any
from uuid import UUID, uuid4

from application.authorization import Permission, Principal
from application.ingestion import ItemOutcome, ReadingItem
from domain.errors import NotFoundError
from domain.values import FlowSensorSide
from infrastructure.intake import MAXIMUM_PAYLOAD_CHARACTERS, Channel, ReadingIntake
from infrastructure.mbus.decode import SkippedRecord, decode_frame
from infrastructure.mbus.frame import FixedHeader, FrameRejected, bytes_from_hex, check_long_frame
from infrastructure.mbus.records import FrameReadings, readings_of, serial_of
from infrastructure.text import printable

logger = logging.getLogger("heatledger.mbus")

DEFAULT_REASON = "M-Bus upload"
# Quarantine reasons: a frame that cannot be read at all, and one naming no known meter.
UNDECODABLE = "undecodable"
UNKNOWN_METER = "unknown_meter"
# Rejections of frames that were read but cannot be used: kept in quarantine under their own reason.
_QUARANTINED_AS_THEMSELVES = frozenset({"unknown_medium", "side_mismatch", "no_energy"})


class FrameStatus(StrEnum):
    """What became of one frame: its current reading's outcome, or why it gave no reading."""

    ACCEPTED = "accepted"
    DUPLICATE = "duplicate"
    REJECTED = "rejected"
    QUARANTINED = "quarantined"


@dataclass(frozen=True)
class FrameReadingOutcome:
    """The outcome of one reading a frame yielded (storage number 0: the current reading)."""

    storage_number: int
    outcome: ItemOutcome
    faulty: bool = False
    faults: tuple[str, ...] = ()


@dataclass(frozen=True)
class FrameOutcome:
    """One frame: its place in the request, its status and, unless accepted, why."""

    index: int
    status: FrameStatus
    reason: str | None = None
    message: str | None = None
    params: dict[str, Any] = field(default_factory=dict)
    message_key: str | None = None
    identification: str | None = None
    manufacturer: str | None = None
    meter_serial: str | None = None
    quarantine_id: UUID | None = None
    readings: tuple[FrameReadingOutcome, ...] = ()
    skipped_records: tuple[SkippedRecord, ...] = ()


@dataclass(frozen=True)
class MbusReport:
    """Every frame's outcome, in the order received, and the batch the readings went in."""

    batch_id: UUID
    frames: list[FrameOutcome]

    def count(self, status: FrameStatus) -> int:
        return sum(1 for frame in self.frames if frame.status is status)


@dataclass
class _Pending:
    """A frame on its way through: what it decoded to, or why it was turned away."""

    index: int
    payload: str
    readings: FrameReadings | None = None
    rejection: FrameRejected | None = None
    quarantine_reason: str | None = None
    items: list[int] = field(default_factory=list)


class MbusIngestion:
    """Turns M-Bus frames into readings through ``ReadingIntake`` and quarantines what it cannot use."""

    def __init__(self, intake: ReadingIntake) -> None:
        self.intake = intake
        self.ledger = intake.ledger

    def ingest(
        self,
        principal: Principal,
        frames: Sequence[str | bytes],
        reason: str | None = None,
        batch_id: UUID | None = None,
    ) -> MbusReport:
        """Decode every frame (hex text or raw bytes), submit the readings of the good ones in one
        batch, quarantine the others, and report each frame."""
        principal.require(Permission.SUBMIT_READINGS)
        received_at = self.ledger.clock().replace(microsecond=0)
        pending = [self._decode(index, frame, received_at) for index, frame in enumerate(frames)]
        sides: dict[str, FlowSensorSide | None] = {}
        items: list[ReadingItem] = []
        for frame in pending:
            if frame.readings is None:
                continue
            serial = frame.readings.meter_serial
            if serial not in sides:
                sides[serial] = self._side_of(serial)
            side = sides[serial]
            if side is None:
                frame.quarantine_reason = UNKNOWN_METER
                frame.rejection = _unknown_meter(frame.readings)
            elif side is not frame.readings.side:
                frame.rejection = _side_mismatch(frame.readings, side)
                frame.quarantine_reason = frame.rejection.reason
            else:
                for reading in frame.readings.readings:
                    frame.items.append(len(items))
                    items.append(ReadingItem(serial, reading.values))
        batch = batch_id or uuid4()
        outcomes: list[ItemOutcome] = []
        if items:
            report = self.intake.submit(principal, items, Channel.MBUS, reason or DEFAULT_REASON, batch)
            batch, outcomes = report.batch_id, report.outcomes
        return MbusReport(batch, [self._outcome(frame, outcomes, principal.name) for frame in pending])

    def _decode(self, index: int, frame: str | bytes, received_at: datetime) -> _Pending:
        # What the quarantine keeps: the frame as hex, or text that is not hex made storable.
        payload = printable(frame[:MAXIMUM_PAYLOAD_CHARACTERS]) if isinstance(frame, str) else _hex(frame)
        pending = _Pending(index, payload)
        try:
            data = bytes_from_hex(frame) if isinstance(frame, str) else frame
            checked = check_long_frame(data)
            pending.payload = checked.hex
            pending.readings = readings_of(decode_frame(checked), received_at)
            _log_skipped(index, pending.readings)
        except (ArithmeticError, ValueError) as error:  # a value no decimal can hold: the frame is garbage
            pending.rejection = FrameRejected(
                UNDECODABLE, f"the frame's values cannot be read ({type(error).__name__})", error=type(error).__name__
            )
            pending.quarantine_reason = UNDECODABLE
        except FrameRejected as rejection:
            pending.rejection = rejection
            pending.quarantine_reason = (
                rejection.reason if rejection.reason in _QUARANTINED_AS_THEMSELVES else UNDECODABLE
            )
        return pending

    def _side_of(self, serial: str) -> FlowSensorSide | None:
        try:
            return self.ledger.meter(serial).flow_sensor_side
        except NotFoundError:
            return None

    def _outcome(self, frame: _Pending, outcomes: list[ItemOutcome], actor: str) -> FrameOutcome:
        header = frame.rejection.header if frame.rejection is not None else None
        identification, manufacturer = _names(frame.readings, header)
        serial = serial_of(identification) if identification and identification.isdigit() else None
        if frame.rejection is not None:
            rejection = frame.rejection
            quarantine_id = None
            if frame.quarantine_reason is not None:
                quarantine_id = self.intake.quarantine(
                    Channel.MBUS,
                    actor,
                    frame.quarantine_reason,
                    f"{rejection.reason}: {rejection.message}",
                    frame.payload,
                    identification,
                    manufacturer,
                )
            status = FrameStatus.QUARANTINED if frame.quarantine_reason == UNKNOWN_METER else FrameStatus.REJECTED
            return FrameOutcome(
                frame.index,
                status,
                rejection.reason,
                rejection.message,
                dict(rejection.params),
                rejection.message_key,
                identification,
                manufacturer,
                serial,
                quarantine_id,
                skipped_records=frame.readings.skipped if frame.readings is not None else (),
            )
        assert frame.readings is not None
        readings = tuple(
            FrameReadingOutcome(mapped.storage_number, outcomes[item], mapped.values.faulty, mapped.faults)
            for mapped, item in zip(frame.readings.readings, frame.items, strict=True)
        )
        current = readings[0].outcome
        return FrameOutcome(
            frame.index,
            FrameStatus(current.status.value),
            current.reason,
            current.message,
            dict(current.params),
            current.message_key,
            identification,
            manufacturer,
            serial,
            readings=readings,
            skipped_records=frame.readings.skipped,
        )


def _log_skipped(index: int, readings: FrameReadings) -> None:
    for skipped in readings.skipped:
        logger.info(
            "M-Bus frame %d of meter %s: record %d (VIF %s) skipped: %s",
            index,
            readings.identification,
            skipped.index,
            " ".join(f"{byte:02X}" for byte in skipped.vib),
            skipped.reason,
        )


def _hex(data: bytes) -> str:
    """Raw bytes as spaced hex, no more than the quarantine keeps."""
    return data[: MAXIMUM_PAYLOAD_CHARACTERS // 3].hex(" ").upper()


def _names(readings: FrameReadings | None, header: FixedHeader | None) -> tuple[str | None, str | None]:
    if readings is not None:
        return readings.identification, readings.manufacturer
    if header is not None:
        return header.identification, header.manufacturer
    return None, None


def _unknown_meter(readings: FrameReadings) -> FrameRejected:
    serial = readings.meter_serial
    return FrameRejected(
        UNKNOWN_METER,
        f"no meter has the serial number {serial} (M-Bus identification {readings.identification}, "
        f"manufacturer {readings.manufacturer}); the frame is kept in quarantine",
        meter_serial=serial,
        manufacturer=readings.manufacturer,
    )


def _side_mismatch(readings: FrameReadings, registered: FlowSensorSide) -> FrameRejected:
    return FrameRejected(
        "side_mismatch",
        f"the frame says the volume is measured in the {readings.side.value} pipe, but meter "
        f"{readings.meter_serial} is registered with its flow sensor in the {registered.value} pipe",
        message_key=f"mbus.side_mismatch.{readings.side.value}",
        meter_serial=readings.meter_serial,
        frame_side=readings.side.value,
        registered_side=registered.value,
    )
