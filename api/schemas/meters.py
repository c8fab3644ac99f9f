"""Meters: commissioning, detachment, and a meter as a clerk reads it."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field

from api.schemas.common import KEY_MAX_LENGTH, NAME_MAX_LENGTH, OptionalReason, Reason, RequestModel, UtcDatetime
from api.schemas.households import LastReading, last_reading_of
from domain.values import AccuracyClass, FlowSensorSide, MeterKind
from projections.queries import MeterRecord, MeterSearch, MeterState


class MeterCommissioning(RequestModel):
    """A heat meter put into service.

    Household meters get their place when attached to a household; building and substation
    meters name their community and building here.
    """

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "serial": "KM-100234",
                    "maker": "Kamstrup",
                    "model": "MULTICAL 403",
                    "accuracy_class": "2",
                    "flow_sensor_side": "return",
                    "kind": "household",
                    "commissioned_at": "2025-10-15T09:00:00+08:00",
                    "permanent_flow_m3_h": "1.5",
                    "maximum_flow_m3_h": "3.0",
                    "minimum_temperature_c": "2",
                    "maximum_temperature_c": "90",
                    "minimum_temperature_difference_k": "3",
                    "energy_register_width_gj": "1000000",
                },
                {
                    "serial": "BM-0001",
                    "maker": "Landis+Gyr",
                    "model": "T550",
                    "accuracy_class": "2",
                    "flow_sensor_side": "return",
                    "kind": "building",
                    "community": "碧桂园",
                    "building": "1",
                    "commissioned_at": "2025-10-10T09:00:00+08:00",
                },
            ]
        }
    )

    serial: str = Field(min_length=1, max_length=KEY_MAX_LENGTH)
    maker: str = Field(max_length=NAME_MAX_LENGTH)
    model: str = Field(max_length=NAME_MAX_LENGTH)
    accuracy_class: AccuracyClass
    flow_sensor_side: FlowSensorSide = Field(description="The pipe the flow sensor sits in")
    kind: MeterKind = MeterKind.HOUSEHOLD
    commissioned_at: UtcDatetime
    community: str = Field(default="", max_length=NAME_MAX_LENGTH, description="Building and substation meters only")
    building: str = Field(default="", max_length=KEY_MAX_LENGTH, description="Building and substation meters only")
    permanent_flow_m3_h: Decimal | None = Field(
        default=None, description="q_p as marked on the meter; 2.5 m³/h (a flat's DN20 meter; DN15: 1.5) when absent"
    )
    maximum_flow_m3_h: Decimal | None = Field(
        default=None,
        description="q_s as marked; 2 × q_p when absent for a household meter, unchecked for others when absent",
    )
    minimum_temperature_c: Decimal | None = Field(default=None, description="θ_min as marked; 2 °C when absent")
    maximum_temperature_c: Decimal | None = Field(
        default=None,
        description="θ_max as marked; when absent 90 °C for a household meter, 130 °C for a building meter, "
        "180 °C for a substation's primary",
    )
    minimum_temperature_difference_k: Decimal | None = Field(
        default=None, description="Δθ_min as marked: 1, 3, 5 or 10 K; 3 K when absent"
    )
    energy_register_width_gj: Decimal | None = Field(default=None, description="Where the energy register rolls over")
    volume_register_width_m3: Decimal | None = Field(default=None, description="Where the volume register rolls over")
    reason: OptionalReason = None


class MeterCommissioned(BaseModel):
    """A meter in service; read it at the Location given."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [{"serial": "KM-100234", "correlation_id": "0b7f3c1e-5d7a-4a51-9f0e-2f1f0a6f4c11"}]
        }
    )

    serial: str
    correlation_id: UUID


class MeterDetachment(RequestModel):
    """A meter taken off its household (replaced, sent for verification)."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [{"detached_at": "2026-01-05T10:00:00+08:00", "reason": "sent for verification"}]
        }
    )

    detached_at: UtcDatetime
    reason: Reason


class MeterDetail(BaseModel):
    """A meter: what it is, where it sits, whom it serves, and its newest reading."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "serial": "KM-100234",
                    "maker": "Kamstrup",
                    "model": "MULTICAL 403",
                    "accuracy_class": "2",
                    "flow_sensor_side": "return",
                    "kind": "household",
                    "community": "碧桂园",
                    "building": "1",
                    "commissioned_at": "2025-10-15T01:00:00Z",
                    "household_account_number": "WZ-0001",
                    "readings_count": 41,
                    "last_reading": {"measured_at": "2025-12-10T16:00:00Z", "energy_gj": "16.412000"},
                    "error_flags": 0,
                    "fault_since": None,
                    "decommissioned_at": None,
                    "last_verified_on": "2025-09-20",
                    "last_verification_passed": True,
                }
            ]
        }
    )

    serial: str
    maker: str
    model: str
    accuracy_class: str
    flow_sensor_side: str
    kind: str
    community: str | None = Field(description="Where the meter sits; None for a household meter never attached")
    building: str | None
    commissioned_at: datetime
    household_account_number: str | None = Field(description="The household it serves now, if any")
    readings_count: int
    last_reading: LastReading | None
    error_flags: int = Field(description="The newest reading's error bits (M-Bus 0xFD 0x17); 0 when healthy")
    fault_since: datetime | None = Field(description="When the current fault began (null without a fault)")
    decommissioned_at: datetime | None = Field(description="When the meter was taken out of service, if it was")
    last_verified_on: date | None = Field(description="The date of the latest verification (检定), if any")
    last_verification_passed: bool | None = Field(description="Whether the latest verification passed")

    @classmethod
    def from_record(cls, record: MeterRecord) -> MeterDetail:
        return cls(
            serial=record.serial,
            maker=record.maker,
            model=record.model,
            accuracy_class=record.accuracy_class,
            flow_sensor_side=record.flow_sensor_side,
            kind=record.kind,
            community=record.community or None,
            building=record.building or None,
            commissioned_at=record.commissioned_at,
            household_account_number=record.household_account_number,
            readings_count=record.readings_count,
            last_reading=last_reading_of(record),
            error_flags=record.error_flags,
            fault_since=record.fault_since,
            decommissioned_at=record.decommissioned_at,
            last_verified_on=record.last_verified_on,
            last_verification_passed=record.last_verification_passed,
        )


class MeterFilter(BaseModel):
    """Which meters to list (query parameters; the meters page's search form too)."""

    search: str | None = Field(
        None, max_length=KEY_MAX_LENGTH, description="A part of the serial number (表号), in any case"
    )
    community: str | None = Field(None, max_length=NAME_MAX_LENGTH, description="Only meters in this community")
    building: str | None = Field(None, max_length=KEY_MAX_LENGTH, description="Only meters in this building")
    kind: MeterKind | None = Field(None, description="Only meters of this kind")
    state: MeterState | None = Field(
        None,
        description="`in_service` (not decommissioned), `unattached` (in service and serving no household: "
        "a household meter waiting to be fitted) or `decommissioned`",
    )

    def to_search(self) -> MeterSearch:
        """The read model's search (blank text searches nothing out)."""
        return MeterSearch(
            serial=(self.search or "").strip(),
            community=self.community,
            building=self.building,
            kind=self.kind.value if self.kind is not None else None,
            state=self.state,
        )


class MeterPage(BaseModel):
    """One page of meters by serial number, and how many match in all."""

    items: list[MeterDetail]
    total: int
    limit: int
    offset: int
