"""Readings: a batch as devices and clerks send it, its per-item outcomes, and pages of readings.

Types and shapes are checked here (a non-number energy fails the whole request with 422); the
reading rules (registers going backwards, future times, out-of-range or too precise values, …)
are the domain's and reject single items, so one bad reading never costs the rest of the batch.
"""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Annotated, Any
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field

from api.schemas.common import (
    KEY_MAX_LENGTH,
    EnergyText,
    InstantText,
    IsoDatetime,
    OptionalReason,
    PercentText,
    RequestModel,
    VolumeText,
    WholeNumber,
)
from application.ingestion import MAXIMUM_BATCH_SIZE, ItemOutcome, ReadingItem
from domain.readings import ReadingValues
from domain.values import ReadingSource
from projections.queries import IntervalRecord, ReadingRecord

# Error flags are stored in a 32-bit integer.
MAXIMUM_ERROR_FLAGS = 2**31 - 1

Register = Annotated[
    Decimal,
    Field(description="Cumulative register value: 0 to 10⁹, at most 9 decimals; a string keeps every digit exact"),
]
Instant = Annotated[Decimal, Field(description="At most 3 decimals, magnitude below 10⁹")]


class ReadingInput(BaseModel):
    """One reading of one meter. Registers are cumulative; instant values are optional."""

    model_config = ConfigDict(extra="forbid")

    meter_serial: str = Field(min_length=1, max_length=KEY_MAX_LENGTH)
    measured_at: IsoDatetime = Field(
        description="When the meter took it, with time zone (a reading without one is rejected)"
    )
    energy_gj: Register
    volume_m3: Register | None = None
    operating_hours: Instant | None = None
    flow_temperature_c: Instant | None = None
    return_temperature_c: Instant | None = None
    flow_rate_m3_h: Instant | None = None
    power_kw: Instant | None = None
    error_flags: WholeNumber = Field(
        default=0, ge=0, le=MAXIMUM_ERROR_FLAGS, description="The meter's error bits (M-Bus 0xFD 0x17)"
    )
    source: ReadingSource

    def to_item(self) -> ReadingItem:
        """The application's view of this reading; aware times are kept in UTC."""
        measured_at = self.measured_at.astimezone(UTC) if self.measured_at.tzinfo else self.measured_at
        values = ReadingValues(
            measured_at=measured_at,
            energy_gj=self.energy_gj,
            volume_m3=self.volume_m3,
            operating_hours=self.operating_hours,
            flow_temperature_c=self.flow_temperature_c,
            return_temperature_c=self.return_temperature_c,
            flow_rate_m3_h=self.flow_rate_m3_h,
            power_kw=self.power_kw,
            error_flags=self.error_flags,
            source=self.source,
        )
        return ReadingItem(self.meter_serial, values)


class ReadingBatch(RequestModel):
    """Up to 10,000 readings, judged one by one; the accepted ones are saved together or not at all.

    Sending the same ``batch_id`` again is safe: readings already recorded come back as duplicates.
    """

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "batch_id": "5f0c6c1e-9a7b-4b8e-8a53-0d7e2f6b1a90",
                    "reason": "concentrator upload",
                    "readings": [
                        {
                            "meter_serial": "KM-100234",
                            "measured_at": "2025-12-01T00:00:00+08:00",
                            "energy_gj": "12.345000",
                            "volume_m3": "74.120",
                            "flow_temperature_c": "68.5",
                            "return_temperature_c": "41.2",
                            "source": "mbus",
                        }
                    ],
                }
            ]
        }
    )

    readings: list[ReadingInput] = Field(max_length=MAXIMUM_BATCH_SIZE)
    batch_id: UUID | None = Field(
        default=None, description="Your id for the batch, for safe retries; one is made if absent"
    )
    reason: OptionalReason = None


class ReadingOutcome(BaseModel):
    """What became of one reading: accepted, duplicate (already recorded) or rejected (and why)."""

    index: int = Field(description="Position of the reading in the batch, from 0")
    meter_serial: str
    measured_at: datetime
    status: str = Field(description="accepted | duplicate | rejected")
    reason: str | None = Field(default=None, description="The rule a rejected reading broke, e.g. register_backwards")
    message: str | None = Field(default=None, description="The reason explained, in the caller's language")
    params: dict[str, Any] = Field(default_factory=dict, description="Values the message was built from")

    @classmethod
    def from_outcome(cls, outcome: ItemOutcome, message: str | None) -> ReadingOutcome:
        params = {
            name: value if isinstance(value, int | str) else str(value)
            for name, value in outcome.params.items()
            if name != "reason"  # already the outcome's own field
        }
        return cls(
            index=outcome.index,
            meter_serial=outcome.meter_serial,
            measured_at=outcome.measured_at,
            status=outcome.status.value,
            reason=outcome.reason,
            message=message,
            params=params,
        )


class BatchReceipt(BaseModel):
    """The batch's id, its counts, and every reading's outcome in the order sent."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "batch_id": "5f0c6c1e-9a7b-4b8e-8a53-0d7e2f6b1a90",
                    "received": 2,
                    "accepted": 1,
                    "duplicates": 0,
                    "rejected": 1,
                    "outcomes": [
                        {
                            "index": 0,
                            "meter_serial": "KM-100234",
                            "measured_at": "2025-11-30T16:00:00Z",
                            "status": "accepted",
                            "params": {},
                        },
                        {
                            "index": 1,
                            "meter_serial": "KM-999999",
                            "measured_at": "2025-11-30T16:00:00Z",
                            "status": "rejected",
                            "reason": "unknown_meter",
                            "message": "没有表号为 KM-999999 的热表。",
                            "params": {"meter_serial": "KM-999999"},
                        },
                    ],
                }
            ]
        }
    )

    batch_id: UUID
    received: int
    accepted: int
    duplicates: int
    rejected: int
    outcomes: list[ReadingOutcome]


class IntervalOutput(BaseModel):
    """The interval from the previous reading to this one, and its k·Δθ·ΔV plausibility check.

    The check fields are null when the interval lacks volume or temperatures.
    """

    start_at: datetime
    energy_gj: EnergyText
    volume_m3: VolumeText | None
    expected_energy_gj: EnergyText | None = Field(description="k·Δθ·ΔV from the mean temperatures")
    deviation_percent: PercentText | None
    permissible_error_percent: PercentText | None = Field(description="The meter's maximum permissible error (EN 1434)")
    plausible: bool | None

    @classmethod
    def from_record(cls, record: IntervalRecord) -> IntervalOutput:
        return cls(
            start_at=record.start_at,
            energy_gj=record.energy_gj,
            volume_m3=record.volume_m3,
            expected_energy_gj=record.expected_energy_gj,
            deviation_percent=record.deviation_percent,
            permissible_error_percent=record.permissible_error_percent,
            plausible=record.plausible,
        )


class ReadingOutput(BaseModel):
    """A recorded reading, when and by whom it was recorded, and the interval ending at it."""

    measured_at: datetime
    energy_gj: EnergyText
    volume_m3: VolumeText | None
    operating_hours: InstantText | None
    flow_temperature_c: InstantText | None
    return_temperature_c: InstantText | None
    flow_rate_m3_h: InstantText | None
    power_kw: InstantText | None
    error_flags: int
    source: str
    batch_id: UUID
    recorded_at: datetime = Field(description="When the ledger learned of the reading")
    recorded_by: str
    interval: IntervalOutput | None

    @classmethod
    def from_record(cls, record: ReadingRecord) -> ReadingOutput:
        return cls(
            measured_at=record.measured_at,
            energy_gj=record.energy_gj,
            volume_m3=record.volume_m3,
            operating_hours=record.operating_hours,
            flow_temperature_c=record.flow_temperature_c,
            return_temperature_c=record.return_temperature_c,
            flow_rate_m3_h=record.flow_rate_m3_h,
            power_kw=record.power_kw,
            error_flags=record.error_flags,
            source=record.source,
            batch_id=record.batch_id,
            recorded_at=record.recorded_at,
            recorded_by=record.actor,
            interval=IntervalOutput.from_record(record.interval) if record.interval else None,
        )


class ReadingPage(BaseModel):
    """Readings newest first. Pass ``next_cursor`` as ``cursor`` for the next page (null: last page)."""

    items: list[ReadingOutput]
    total: int
    limit: int
    offset: int
    next_cursor: str | None
