"""Meter lifecycle and reading corrections: swaps, decommissioning, verifications, voids and
corrections, and the histories a clerk reads back.

Reading values here are a clerk's (a fitter's final and initial readings, a corrected reading):
they have the shape of a batch item without ``meter_serial``, their time must carry a zone
(a request without one is malformed), and their source is ``manual`` unless said otherwise.
The reading rules are the domain's: a value that breaks one fails the command with 422.
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Annotated
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field

from api.schemas.common import (
    KEY_MAX_LENGTH,
    NAME_MAX_LENGTH,
    EnergyText,
    InstantText,
    IsoDate,
    OptionalReason,
    PercentText,
    Reason,
    RequestModel,
    UtcDatetime,
    VolumeText,
)
from api.schemas.readings import MAXIMUM_ERROR_FLAGS, Instant, Register
from domain.readings import ReadingValues
from domain.values import ReadingSource
from domain.verification import MAXIMUM_TEST_POINTS, JudgedPoint
from projections.queries import CorrectionRecord, VerificationPointRecord, VerificationRecord

# Bounds on test-bench values, so that every point is stored and shown exactly (3 decimals).
MAXIMUM_TEST_FLOW_RATE_M3_H = Decimal(10) ** 6
MAXIMUM_TEST_TEMPERATURE_DIFFERENCE_K = Decimal(300)
MAXIMUM_MEASURED_ERROR_PERCENT = Decimal(1000)
TEST_POINT_DECIMALS = 3

_EXAMPLE_CORRELATION_ID = "0b7f3c1e-5d7a-4a51-9f0e-2f1f0a6f4c11"


class ReadingValuesInput(RequestModel):
    """One reading of the meter named in the path or the request: a batch item without ``meter_serial``."""

    measured_at: UtcDatetime = Field(description="When the meter showed these values, with time zone")
    energy_gj: Register
    volume_m3: Register | None = None
    operating_hours: Instant | None = None
    flow_temperature_c: Instant | None = None
    return_temperature_c: Instant | None = None
    flow_rate_m3_h: Instant | None = None
    power_kw: Instant | None = None
    error_flags: int = Field(
        default=0, ge=0, le=MAXIMUM_ERROR_FLAGS, description="The meter's error bits (M-Bus 0xFD 0x17)"
    )
    source: ReadingSource = Field(default=ReadingSource.MANUAL, description="How the values were taken")

    def to_values(self) -> ReadingValues:
        """The domain's reading values (times in UTC)."""
        return ReadingValues(
            measured_at=self.measured_at,
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


# -- swap and decommissioning -----------------------------------------------------------------


class MeterReplacement(RequestModel):
    """A household's meter swapped for another (换表) at one moment.

    The old meter's final reading and the new meter's initial reading are taken at that moment;
    the new meter must have been commissioned first.
    """

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "old_serial": "KM-100234",
                    "new_serial": "KM-200871",
                    "final_reading": {
                        "measured_at": "2025-12-05T10:30:00+08:00",
                        "energy_gj": "14.512",
                        "volume_m3": "88.310",
                    },
                    "initial_reading": {
                        "measured_at": "2025-12-05T10:30:00+08:00",
                        "energy_gj": "0.000",
                        "volume_m3": "0.000",
                    },
                    "reason": "display failed; replaced under warranty",
                }
            ]
        }
    )

    old_serial: str = Field(min_length=1, max_length=KEY_MAX_LENGTH, description="The meter taken off")
    new_serial: str = Field(min_length=1, max_length=KEY_MAX_LENGTH, description="The commissioned meter put on")
    final_reading: ReadingValuesInput = Field(description="The old meter's registers at the swap")
    initial_reading: ReadingValuesInput = Field(description="The new meter's registers at the same moment")
    reason: Reason


class MeterDecommissioning(RequestModel):
    """A detached meter taken out of service for good (停用)."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [{"decommissioned_at": "2025-12-06T09:00:00+08:00", "reason": "failed verification, scrapped"}]
        }
    )

    decommissioned_at: UtcDatetime = Field(description="Readings after this moment are rejected")
    reason: Reason


# -- verifications ----------------------------------------------------------------------------

TestFlowRate = Annotated[
    Decimal,
    Field(
        lt=MAXIMUM_TEST_FLOW_RATE_M3_H,
        decimal_places=TEST_POINT_DECIMALS,
        description="Flow rate q of the test point in m³/h; positive, at most 3 decimals",
    ),
]
TestTemperatureDifference = Annotated[
    Decimal,
    Field(
        le=MAXIMUM_TEST_TEMPERATURE_DIFFERENCE_K,
        decimal_places=TEST_POINT_DECIMALS,
        description="Temperature difference Δθ of the test point in K; positive, at most 3 decimals",
    ),
]
MeasuredError = Annotated[
    Decimal,
    Field(
        ge=-MAXIMUM_MEASURED_ERROR_PERCENT,
        le=MAXIMUM_MEASURED_ERROR_PERCENT,
        decimal_places=TEST_POINT_DECIMALS,
        description="The error the bench measured, in percent of the true value (signed)",
    ),
]


class TestPointInput(RequestModel):
    """One point of the test bench."""

    __test__ = False  # not a pytest test class, despite the name

    flow_rate_m3_h: TestFlowRate
    temperature_difference_k: TestTemperatureDifference
    measured_error_percent: MeasuredError


class MeterVerificationInput(RequestModel):
    """A verification of the meter (检定, JJG 225): the certificate and the errors measured at test points."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "verified_on": "2025-12-08",
                    "certificate": "JD-2025-12-0042",
                    "points": [
                        {"flow_rate_m3_h": "0.25", "temperature_difference_k": "20", "measured_error_percent": "3.5"},
                        {"flow_rate_m3_h": "2.5", "temperature_difference_k": "40", "measured_error_percent": "-1.2"},
                    ],
                    "reason": "periodic verification",
                }
            ]
        }
    )

    verified_on: IsoDate
    certificate: str = Field(default="", max_length=NAME_MAX_LENGTH, description="The certificate's number")
    points: list[TestPointInput] = Field(max_length=MAXIMUM_TEST_POINTS, description="1 to 50 test points")
    reason: OptionalReason = None


class JudgedPointOutput(BaseModel):
    """A test point with the meter class's maximum permissible error there and the verdict."""

    flow_rate_m3_h: InstantText
    temperature_difference_k: InstantText
    measured_error_percent: PercentText
    permissible_error_percent: PercentText = Field(
        description="MPE of the complete meter (EN 1434): flow sensor + calculator + temperature pair"
    )
    passed: bool = Field(description="|measured error| ≤ permissible error")

    @classmethod
    def from_point(cls, point: JudgedPoint | VerificationPointRecord) -> JudgedPointOutput:
        return cls(
            flow_rate_m3_h=point.flow_rate_m3_h,
            temperature_difference_k=point.temperature_difference_k,
            measured_error_percent=point.measured_error_percent,
            permissible_error_percent=point.permissible_error_percent,
            passed=point.passed,
        )


class VerificationRecorded(BaseModel):
    """The verification as recorded: the meter passes when every point is within its MPE."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "serial": "KM-100234",
                    "verified_on": "2025-12-08",
                    "certificate": "JD-2025-12-0042",
                    "passed": True,
                    "points": [
                        {
                            "flow_rate_m3_h": "0.250",
                            "temperature_difference_k": "20.000",
                            "measured_error_percent": "3.50",
                            "permissible_error_percent": "3.80",
                            "passed": True,
                        }
                    ],
                    "correlation_id": _EXAMPLE_CORRELATION_ID,
                }
            ]
        }
    )

    serial: str
    verified_on: date
    certificate: str
    passed: bool
    points: list[JudgedPointOutput]
    correlation_id: UUID


class VerificationOutput(BaseModel):
    """A recorded verification, who recorded it, when and why."""

    verified_on: date
    certificate: str
    passed: bool
    points: list[JudgedPointOutput]
    recorded_at: datetime = Field(description="When the ledger recorded the verification")
    recorded_by: str
    reason: str

    @classmethod
    def from_record(cls, record: VerificationRecord) -> VerificationOutput:
        return cls(
            verified_on=record.verified_on,
            certificate=record.certificate,
            passed=record.passed,
            points=[JudgedPointOutput.from_point(point) for point in record.points],
            recorded_at=record.recorded_at,
            recorded_by=record.actor,
            reason=record.reason,
        )


class VerificationPage(BaseModel):
    """A meter's verifications, the latest verified first."""

    items: list[VerificationOutput]
    total: int
    limit: int
    offset: int


# -- voids and corrections --------------------------------------------------------------------


class ReadingVoid(RequestModel):
    """A reading withdrawn (作废): it leaves the readings and consumption, and stays in the history."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [{"measured_at": "2025-12-03T00:00:00+08:00", "reason": "read from the neighbour's meter"}]
        }
    )

    measured_at: UtcDatetime = Field(description="The time of the reading to withdraw, exactly")
    reason: Reason


class ReadingCorrection(RequestModel):
    """A reading replaced by corrected values (更正), in one step: the original is withdrawn and
    the corrected reading recorded, or, if the corrected values break a reading rule, nothing changes."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "measured_at": "2025-12-03T00:00:00+08:00",
                    "corrected": {
                        "measured_at": "2025-12-03T00:00:00+08:00",
                        "energy_gj": "12.450",
                        "source": "manual",
                    },
                    "reason": "digits transposed when keyed in",
                }
            ]
        }
    )

    measured_at: UtcDatetime = Field(description="The time of the reading to replace, exactly")
    corrected: ReadingValuesInput = Field(description="The corrected reading (its time may differ)")
    reason: Reason


class CorrectionOutput(BaseModel):
    """A withdrawn reading: its original values, and who withdrew it, when and why.

    A correction appears here with the original; the corrected reading is among the readings
    (recorded under the same correlation id as its ``batch_id``).
    """

    measured_at: datetime
    original_energy_gj: EnergyText | None
    original_volume_m3: VolumeText | None
    original_source: str | None
    original_recorded_by: str | None = Field(description="Who recorded the original reading")
    voided_at: datetime = Field(description="When it was withdrawn")
    voided_by: str
    reason: str
    correlation_id: UUID

    @classmethod
    def from_record(cls, record: CorrectionRecord) -> CorrectionOutput:
        return cls(
            measured_at=record.measured_at,
            original_energy_gj=record.original_energy_gj,
            original_volume_m3=record.original_volume_m3,
            original_source=record.original_source,
            original_recorded_by=record.original_actor,
            voided_at=record.voided_at,
            voided_by=record.actor,
            reason=record.reason,
            correlation_id=record.correlation_id,
        )


class CorrectionPage(BaseModel):
    """Withdrawn readings of a meter, the latest withdrawn first."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "items": [
                        {
                            "measured_at": "2025-12-02T16:00:00Z",
                            "original_energy_gj": "12.540000",
                            "original_volume_m3": None,
                            "original_source": "manual",
                            "original_recorded_by": "clerk-wang",
                            "voided_at": "2025-12-10T04:00:00Z",
                            "voided_by": "clerk-li",
                            "reason": "digits transposed when keyed in",
                            "correlation_id": _EXAMPLE_CORRELATION_ID,
                        }
                    ],
                    "total": 1,
                    "limit": 50,
                    "offset": 0,
                }
            ]
        }
    )

    items: list[CorrectionOutput]
    total: int
    limit: int
    offset: int
