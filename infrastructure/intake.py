"""The single way readings enter the ledger from outside, and its log of what did not get in.

Every channel (the JSON API, CSV files, M-Bus frames, NB-IoT pushes, Modbus polls, queued
uploads) hands its readings to ``ReadingIntake.submit``. The ledger judges them; what it rejects
is kept in ``rejected_readings`` and data that names no known meter or cannot be decoded is kept
in ``quarantined_frames``, so that clerks can list and follow up on both. These are logs of
arrivals, not ledger facts: the ledger's facts are its events.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from uuid import UUID, uuid4

from sqlalchemy import (
    BigInteger,
    Column,
    Engine,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    Uuid,
    func,
    insert,
    select,
)

from application.authorization import Principal
from application.ingestion import BatchReport, ItemStatus, ReadingItem
from application.ledger import HeatLedger
from infrastructure.text import printable
from projections.types import UtcDateTime

# Longest raw payload kept with a quarantined frame (an M-Bus long frame is at most 261 bytes).
MAXIMUM_PAYLOAD_CHARACTERS = 4096
MAXIMUM_DETAIL_CHARACTERS = 1000

metadata = MetaData()

rejected_readings = Table(
    "rejected_readings",
    metadata,
    Column("rejection_id", BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True),
    Column("received_at", UtcDateTime, nullable=False),
    Column("channel", String(16), nullable=False),
    Column("actor", String(128), nullable=False),
    Column("batch_id", Uuid, nullable=False),
    Column("item_index", Integer, nullable=False),
    Column("meter_serial", String(64), nullable=False),
    Column("measured_at", UtcDateTime, nullable=True),
    Column("reason", String(64), nullable=False),
    Column("message_key", String(64), nullable=True),
    Column("message", Text, nullable=False),
    Column("params", Text, nullable=False),
    Index("ix_rejected_readings_received", "received_at"),
    Index("ix_rejected_readings_meter", "meter_serial"),
)

quarantined_frames = Table(
    "quarantined_frames",
    metadata,
    Column("frame_id", Uuid, primary_key=True),
    Column("received_at", UtcDateTime, nullable=False),
    Column("channel", String(16), nullable=False),
    Column("actor", String(128), nullable=False),
    Column("reason", String(64), nullable=False),
    Column("detail", Text, nullable=False),
    Column("identification", String(64), nullable=True),
    Column("manufacturer", String(8), nullable=True),
    Column("payload", Text, nullable=False),
    Index("ix_quarantined_frames_received", "received_at"),
    Index("ix_quarantined_frames_identification", "identification"),
)


class Channel(StrEnum):
    """Where readings came from."""

    API = "api"
    CSV = "csv"
    MBUS = "mbus"
    NBIOT = "nbiot"
    MODBUS = "modbus"
    UPLOAD = "upload"
    DEMO = "demo"
    ESTIMATE = "estimate"
    # Room controllers' messages over MQTT that the gateway could not record (issue 14).
    MQTT = "mqtt"


@dataclass(frozen=True)
class QuarantinedFrame:
    """Data that reached the ledger but could not become a reading of a known meter."""

    frame_id: UUID
    received_at: datetime
    channel: str
    actor: str
    reason: str
    detail: str
    identification: str | None
    manufacturer: str | None
    payload: str


class ReadingIntake:
    """Submits readings to the ledger and logs what it refused; lists the quarantine."""

    def __init__(self, ledger: HeatLedger, engine: Engine) -> None:
        self.ledger = ledger
        self.engine = engine

    def submit(
        self,
        principal: Principal,
        items: Sequence[ReadingItem],
        channel: Channel,
        reason: str = "reading upload",
        batch_id: UUID | None = None,
    ) -> BatchReport:
        """Record a batch through the ledger (all accepted items saved together) and log rejections."""
        report = self.ledger.record_readings(principal, items, reason, batch_id)
        self._log_rejections(report, channel, principal.name)
        return report

    def _log_rejections(self, report: BatchReport, channel: Channel, actor: str) -> None:
        rows = [
            {
                "received_at": datetime.now(UTC),
                "channel": Channel(channel).value,
                "actor": actor,
                "batch_id": report.batch_id,
                "item_index": outcome.index,
                "meter_serial": printable(outcome.meter_serial)[:64],
                "measured_at": outcome.measured_at if outcome.measured_at.tzinfo else None,
                "reason": outcome.reason or "rejected",
                "message_key": outcome.message_key,
                "message": printable(outcome.message or ""),
                "params": json.dumps(outcome.params, ensure_ascii=False, default=str),
            }
            for outcome in report.outcomes
            if outcome.status is ItemStatus.REJECTED
        ]
        if rows:
            with self.engine.begin() as connection:
                connection.execute(insert(rejected_readings), rows)

    def quarantine(
        self,
        channel: Channel,
        actor: str,
        reason: str,
        detail: str,
        payload: str,
        identification: str | None = None,
        manufacturer: str | None = None,
    ) -> UUID:
        """Keep data that names no known meter or cannot be decoded; returns its id."""
        frame_id = uuid4()
        with self.engine.begin() as connection:
            connection.execute(
                insert(quarantined_frames).values(
                    frame_id=frame_id,
                    received_at=datetime.now(UTC),
                    channel=Channel(channel).value,
                    actor=actor,
                    reason=reason,
                    detail=printable(detail)[:MAXIMUM_DETAIL_CHARACTERS],
                    identification=printable(identification)[:64] if identification else None,
                    manufacturer=printable(manufacturer)[:8] if manufacturer else None,
                    payload=printable(payload)[:MAXIMUM_PAYLOAD_CHARACTERS],
                )
            )
        return frame_id

    def quarantined(self, limit: int = 50, offset: int = 0) -> tuple[list[QuarantinedFrame], int]:
        """Quarantined frames, newest first, and how many there are."""
        page = select(quarantined_frames).order_by(quarantined_frames.c.received_at.desc()).limit(limit).offset(offset)
        with self.engine.connect() as connection:
            items = [QuarantinedFrame(**row) for row in connection.execute(page).mappings()]
            total = connection.execute(select(func.count()).select_from(quarantined_frames)).scalar_one()
        return items, int(total)
