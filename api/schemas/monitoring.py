"""Monitoring lists as a clerk reads them: quarantined frames and unknown meters, rejected readings,
silent meters, implausible intervals and faulty meters. Each is a page, newest first."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field

from api.schemas.common import EnergyText, InstantText, PercentText, VolumeText
from infrastructure.intake import QuarantinedFrame
from projections.monitoring_queries import (
    FaultyMeterRecord,
    ImplausibleIntervalRecord,
    LimitBreachRecord,
    RejectedReadingRecord,
    SilentMeterRecord,
    UnknownMeterRecord,
)

# Error flags are a 32-bit word: at most 32 bits to list.
ERROR_FLAG_BITS = 32


def jsonable_params(params: dict[str, Any]) -> dict[str, Any]:
    """Message params as JSON values: numbers and text as they are, anything else as text."""
    return {name: value if isinstance(value, int | str) else str(value) for name, value in params.items()}


# -- quarantine -------------------------------------------------------------------------------------


class QuarantinedFrameOutput(BaseModel):
    """Data that reached the ledger but names no known meter or could not be decoded."""

    frame_id: UUID
    received_at: datetime = Field(description="When it arrived")
    channel: str = Field(description="mbus | nbiot | modbus | csv | api | upload …")
    received_from: str = Field(description="The token or process that delivered it")
    reason: str = Field(description="Why it was kept aside, e.g. unknown_meter or undecodable")
    identification: str | None = Field(description="The meter identification the frame states, if any")
    manufacturer: str | None = Field(description="The manufacturer code the frame states, if any")
    detail: str = Field(description="What the decoder found")
    payload: str = Field(description="The data as received (hex for binary frames), at most 4,096 characters")

    @classmethod
    def from_frame(cls, frame: QuarantinedFrame) -> QuarantinedFrameOutput:
        return cls(
            frame_id=frame.frame_id,
            received_at=frame.received_at,
            channel=frame.channel,
            received_from=frame.actor,
            reason=frame.reason,
            identification=frame.identification,
            manufacturer=frame.manufacturer,
            detail=frame.detail,
            payload=frame.payload,
        )


class QuarantinePage(BaseModel):
    """Quarantined frames, newest first."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "items": [
                        {
                            "frame_id": "7d0f7a4e-2b8c-4a51-9f0e-2f1f0a6f4c11",
                            "received_at": "2025-12-10T03:59:12Z",
                            "channel": "mbus",
                            "received_from": "concentrator-碧桂园-1",
                            "reason": "unknown_meter",
                            "identification": "12345678",
                            "manufacturer": "KAM",
                            "detail": "no meter is known by the identification 12345678",
                            "payload": "68 3C 3C 68 08 01 72 78 56 34 12 2D 2C …",
                        }
                    ],
                    "total": 1,
                    "limit": 50,
                    "offset": 0,
                }
            ]
        }
    )

    items: list[QuarantinedFrameOutput]
    total: int
    limit: int
    offset: int


class UnknownMeterOutput(BaseModel):
    """A meter identification that quarantined frames keep naming."""

    identification: str
    manufacturer: str | None
    frames: int = Field(description="How many quarantined frames name it")
    first_seen_at: datetime
    last_seen_at: datetime

    @classmethod
    def from_record(cls, record: UnknownMeterRecord) -> UnknownMeterOutput:
        return cls(
            identification=record.identification,
            manufacturer=record.manufacturer,
            frames=record.frames,
            first_seen_at=record.first_seen_at,
            last_seen_at=record.last_seen_at,
        )


class UnknownMeterPage(BaseModel):
    """Identifications named by quarantined frames, most recently seen first."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "items": [
                        {
                            "identification": "12345678",
                            "manufacturer": "KAM",
                            "frames": 42,
                            "first_seen_at": "2025-11-02T16:00:05Z",
                            "last_seen_at": "2025-12-10T03:59:12Z",
                        }
                    ],
                    "total": 1,
                    "limit": 50,
                    "offset": 0,
                }
            ]
        }
    )

    items: list[UnknownMeterOutput]
    total: int
    limit: int
    offset: int


# -- rejected readings ------------------------------------------------------------------------------


class RejectedReadingOutput(BaseModel):
    """A reading the ledger refused, the rule it broke and why, in the caller's language."""

    received_at: datetime = Field(description="When the ledger judged it")
    channel: str
    received_from: str = Field(description="The token or process that sent it")
    batch_id: UUID
    item_index: int = Field(description="Its position in its batch, from 0")
    meter_serial: str
    measured_at: datetime | None = Field(description="Null when the reading's time carried no zone")
    reason: str = Field(description="The rule it broke, e.g. register_backwards or unknown_meter")
    message: str = Field(description="The reason explained, in the caller's language")
    params: dict[str, Any] = Field(description="Values the message was built from")

    @classmethod
    def from_record(cls, record: RejectedReadingRecord, message: str) -> RejectedReadingOutput:
        return cls(
            received_at=record.received_at,
            channel=record.channel,
            received_from=record.actor,
            batch_id=record.batch_id,
            item_index=record.item_index,
            meter_serial=record.meter_serial,
            measured_at=record.measured_at,
            reason=record.reason,
            message=message,
            params=jsonable_params({name: value for name, value in record.params.items() if name != "reason"}),
        )


class RejectedReadingPage(BaseModel):
    """Rejected readings, newest first."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "items": [
                        {
                            "received_at": "2025-12-10T04:00:01Z",
                            "channel": "api",
                            "received_from": "concentrator-碧桂园-1",
                            "batch_id": "5f0c6c1e-9a7b-4b8e-8a53-0d7e2f6b1a90",
                            "item_index": 2,
                            "meter_serial": "KM-100234",
                            "measured_at": "2025-12-02T16:00:00Z",
                            "reason": "register_backwards",
                            "message": "The energy register went backwards from 12.745 to 12.700.",
                            "params": {"register": "energy", "previous": "12.745", "current": "12.700"},
                        }
                    ],
                    "total": 1,
                    "limit": 50,
                    "offset": 0,
                }
            ]
        }
    )

    items: list[RejectedReadingOutput]
    total: int
    limit: int
    offset: int


# -- silent meters ----------------------------------------------------------------------------------


class SilentMeterOutput(BaseModel):
    """A meter in service that has not reported for ``days_silent`` whole days."""

    serial: str
    kind: str
    community: str | None = Field(description="Where the meter sits")
    building: str | None
    household_account_number: str | None = Field(description="The household it serves, for household meters")
    commissioned_at: datetime
    last_measured_at: datetime | None = Field(description="Its newest reading; null if it never reported")
    days_silent: int = Field(description="Whole days from the newest reading (or the commissioning) to now")

    @classmethod
    def from_record(cls, record: SilentMeterRecord) -> SilentMeterOutput:
        return cls(
            serial=record.serial,
            kind=record.kind,
            community=record.community or None,
            building=record.building or None,
            household_account_number=record.household_account_number,
            commissioned_at=record.commissioned_at,
            last_measured_at=record.last_measured_at,
            days_silent=record.days_silent,
        )


class SilentMeterPage(BaseModel):
    """Meters silent for more than ``days`` days as of ``as_of``, the most recently silent first."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "as_of": "2025-12-10T04:00:00Z",
                    "days": 3,
                    "items": [
                        {
                            "serial": "KM-100234",
                            "kind": "household",
                            "community": "碧桂园",
                            "building": "1",
                            "household_account_number": "WZ-0001",
                            "commissioned_at": "2025-10-15T01:00:00Z",
                            "last_measured_at": "2025-12-03T16:00:00Z",
                            "days_silent": 6,
                        },
                        {
                            "serial": "KM-100301",
                            "kind": "household",
                            "community": "碧桂园",
                            "building": "2",
                            "household_account_number": "WZ-0107",
                            "commissioned_at": "2025-10-15T01:00:00Z",
                            "last_measured_at": None,
                            "days_silent": 56,
                        },
                    ],
                    "total": 2,
                    "limit": 50,
                    "offset": 0,
                }
            ]
        }
    )

    as_of: datetime = Field(description="The ledger's clock when the list was made")
    days: int
    items: list[SilentMeterOutput]
    total: int
    limit: int
    offset: int


# -- implausible intervals --------------------------------------------------------------------------


class ImplausibleIntervalOutput(BaseModel):
    """An interval whose metered energy and k·Δθ·ΔV differ by more than the meter's permissible error."""

    serial: str
    community: str | None
    building: str | None
    household_account_number: str | None = Field(description="The household the interval is charged to")
    start_at: datetime
    end_at: datetime
    energy_gj: EnergyText = Field(description="What the meter registered")
    volume_m3: VolumeText | None
    expected_energy_gj: EnergyText = Field(description="k·Δθ·ΔV from the mean temperatures")
    deviation_percent: PercentText = Field(description="(energy − expected) ÷ expected × 100")
    permissible_error_percent: PercentText = Field(description="The meter's maximum permissible error (EN 1434)")

    @classmethod
    def from_record(cls, record: ImplausibleIntervalRecord) -> ImplausibleIntervalOutput:
        return cls(
            serial=record.serial,
            community=record.community or None,
            building=record.building or None,
            household_account_number=record.household_account_number,
            start_at=record.start_at,
            end_at=record.end_at,
            energy_gj=record.energy_gj,
            volume_m3=record.volume_m3,
            expected_energy_gj=record.expected_energy_gj,
            deviation_percent=record.deviation_percent,
            permissible_error_percent=record.permissible_error_percent,
        )


class ImplausibleIntervalPage(BaseModel):
    """Implausible intervals, the latest first."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "items": [
                        {
                            "serial": "KM-100234",
                            "community": "碧桂园",
                            "building": "1",
                            "household_account_number": "WZ-0001",
                            "start_at": "2025-11-30T16:00:00Z",
                            "end_at": "2025-12-01T16:00:00Z",
                            "energy_gj": "0.500000",
                            "volume_m3": "2.403000",
                            "expected_energy_gj": "0.400064",
                            "deviation_percent": "24.98",
                            "permissible_error_percent": "3.80",
                        }
                    ],
                    "total": 1,
                    "limit": 50,
                    "offset": 0,
                }
            ]
        }
    )

    items: list[ImplausibleIntervalOutput]
    total: int
    limit: int
    offset: int


# -- faulty meters ----------------------------------------------------------------------------------


class FaultyMeterOutput(BaseModel):
    """A meter reporting error flags, or whose newest reading carries a sensor fault value."""

    serial: str
    kind: str
    community: str | None
    building: str | None
    household_account_number: str | None
    error_flags: int = Field(description="The error word of the newest reading (M-Bus 0xFD 0x17); 0 if none")
    error_bits: list[int] = Field(description="The bits set in error_flags, from 0 (their meaning is the maker's)")
    fault_since: datetime | None = Field(description="When the flags appeared (the reading that first had them)")
    last_measured_at: datetime | None
    last_reading_faulty: bool = Field(description="The newest reading has a sensor fault value (not billable)")

    @classmethod
    def from_record(cls, record: FaultyMeterRecord) -> FaultyMeterOutput:
        return cls(
            serial=record.serial,
            kind=record.kind,
            community=record.community or None,
            building=record.building or None,
            household_account_number=record.household_account_number,
            error_flags=record.error_flags,
            error_bits=[bit for bit in range(ERROR_FLAG_BITS) if record.error_flags >> bit & 1],
            fault_since=record.fault_since,
            last_measured_at=record.last_measured_at,
            last_reading_faulty=record.last_reading_faulty,
        )


class FaultyMeterPage(BaseModel):
    """Faulty meters, the most recent fault first."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "items": [
                        {
                            "serial": "KM-100234",
                            "kind": "household",
                            "community": "碧桂园",
                            "building": "1",
                            "household_account_number": "WZ-0001",
                            "error_flags": 5,
                            "error_bits": [0, 2],
                            "fault_since": "2025-12-06T16:00:00Z",
                            "last_measured_at": "2025-12-09T16:00:00Z",
                            "last_reading_faulty": False,
                        }
                    ],
                    "total": 1,
                    "limit": 50,
                    "offset": 0,
                }
            ]
        }
    )

    items: list[FaultyMeterOutput]
    total: int
    limit: int
    offset: int


# -- readings and intervals beyond their meter's rated limits ----------------------------------------


class LimitBreachOutput(BaseModel):
    """A reading or an interval beyond its meter model's rated limits, with the rules it breaks."""

    serial: str
    community: str | None
    building: str | None
    household_account_number: str | None = Field(
        description="For an interval the household charged; for a reading the one the meter serves now"
    )
    scope: str = Field(description="`reading` (instant values at one moment) or `interval` (between two readings)")
    start_at: datetime
    end_at: datetime = Field(description="For a reading, its moment (as `start_at`)")
    rules: list[str] = Field(
        description="temperature_out_of_range, flow_above_maximum (q_s), flow_above_permanent (q_p all along plus "
        "an hour a day at q_s), return_above_flow, temperature_difference_below_minimum (Δθ_min), "
        "power_inconsistent (power vs q·k·Δθ beyond the MPE)"
    )
    flow_temperature_c: InstantText | None
    return_temperature_c: InstantText | None
    flow_rate_m3_h: InstantText | None
    power_kw: InstantText | None
    energy_gj: EnergyText | None = Field(description="An interval's energy increase")
    volume_m3: VolumeText | None = Field(description="An interval's volume increase")
    mean_flow_m3_h: InstantText | None = Field(description="An interval's volume ÷ hours")
    permanent_flow_m3_h: InstantText | None = Field(description="The meter's q_p")
    maximum_flow_m3_h: InstantText | None = Field(description="The meter's q_s (null: not checked)")
    minimum_temperature_c: InstantText | None
    maximum_temperature_c: InstantText | None
    minimum_temperature_difference_k: InstantText | None

    @classmethod
    def from_record(cls, record: LimitBreachRecord) -> LimitBreachOutput:
        fields = vars(record) | {"community": record.community or None, "building": record.building or None}
        return cls(**fields)


class LimitBreachPage(BaseModel):
    """Readings and intervals beyond their meter's rated limits, the latest first."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "items": [
                        {
                            "serial": "KM-100234",
                            "community": "碧桂园",
                            "building": "1",
                            "household_account_number": "WZ-0001",
                            "scope": "interval",
                            "start_at": "2025-11-30T16:00:00Z",
                            "end_at": "2025-12-01T16:00:00Z",
                            "rules": ["flow_above_maximum"],
                            "flow_temperature_c": None,
                            "return_temperature_c": None,
                            "flow_rate_m3_h": None,
                            "power_kw": None,
                            "energy_gj": "2.000000",
                            "volume_m3": "480.000000",
                            "mean_flow_m3_h": "20.000",
                            "permanent_flow_m3_h": "2.500",
                            "maximum_flow_m3_h": "5.000",
                            "minimum_temperature_c": "2.000",
                            "maximum_temperature_c": "90.000",
                            "minimum_temperature_difference_k": "3.000",
                        }
                    ],
                    "total": 1,
                    "limit": 50,
                    "offset": 0,
                }
            ]
        }
    )

    items: list[LimitBreachOutput]
    total: int
    limit: int
    offset: int
