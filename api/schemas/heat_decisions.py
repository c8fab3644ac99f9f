"""Clerks' decisions about heat far beyond a meter's permissible error, and the intervals awaiting one."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field

from api.schemas.common import EnergyText, PercentText, Reason, RequestModel, UtcDatetime
from application.heat_decisions import HeatDecisionOutcome
from domain.implausible_heat import HeatDecision, ImplausibleInterval, IntervalEvidence


class HeatDecisionRequest(RequestModel):
    """What a clerk decided about one interval of the meter, and why."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "interval_start": "2026-01-10T00:00:00+08:00",
                    "decision": "estimate",
                    "reason": "register jumped by 38 GJ; the calculator is suspect",
                }
            ]
        },
    )

    interval_start: UtcDatetime = Field(description="The start of the interval (the earlier reading's time), exactly")
    decision: HeatDecision = Field(
        description="`bill_as_measured` (the recorded heat stands), `estimate` (replaced by an estimate, as a "
        "faulty interval is) or `hold` (not settled until a meter verification, JJG 225)"
    )
    reason: Reason


class IntervalEvidenceOutput(BaseModel):
    """An interval's k·Δθ·ΔV check: recorded heat, expected heat, deviation and permissible error."""

    meter_serial: str
    interval_start: datetime
    interval_end: datetime
    recorded_energy_gj: EnergyText
    expected_energy_gj: EnergyText
    deviation_percent: PercentText
    permissible_error_percent: PercentText

    @classmethod
    def from_evidence(cls, evidence: IntervalEvidence) -> IntervalEvidenceOutput:
        return cls(
            meter_serial=evidence.meter_serial,
            interval_start=evidence.start,
            interval_end=evidence.end,
            recorded_energy_gj=evidence.recorded_gj,
            expected_energy_gj=evidence.expected_gj,
            deviation_percent=evidence.deviation_percent,
            permissible_error_percent=evidence.permissible_error_percent,
        )


class HeatDecisionOutput(BaseModel):
    """The decision in force about the interval; ``recorded`` is false when it already was."""

    evidence: IntervalEvidenceOutput
    decision: HeatDecision
    estimated_energy_gj: EnergyText | None = Field(description="The estimate billed instead (decision `estimate`)")
    method: str = Field(description="The estimation method (decision `estimate`), else empty")
    recorded: bool = Field(description="False: the same decision was in force already and nothing was recorded")

    @classmethod
    def from_outcome(cls, outcome: HeatDecisionOutcome) -> HeatDecisionOutput:
        return cls(
            evidence=IntervalEvidenceOutput.from_evidence(outcome.evidence),
            decision=outcome.decision,
            estimated_energy_gj=outcome.estimated_energy_gj,
            method=outcome.method,
            recorded=outcome.recorded,
        )


class ImplausibleIntervalOutput(BaseModel):
    """An interval far beyond the MPE with the decision in force (none: it stops the settlement)."""

    evidence: IntervalEvidenceOutput
    decision: HeatDecision | None
    decided_by: str | None
    decision_reason: str | None
    estimated_energy_gj: EnergyText | None

    @classmethod
    def from_interval(cls, interval: ImplausibleInterval) -> ImplausibleIntervalOutput:
        taken = interval.decision
        return cls(
            evidence=IntervalEvidenceOutput.from_evidence(interval.evidence),
            decision=taken.decision if taken else None,
            decided_by=taken.actor if taken else None,
            decision_reason=taken.reason if taken else None,
            estimated_energy_gj=taken.estimated_gj if taken else None,
        )


class ImplausibleIntervalList(BaseModel):
    """A household's intervals far beyond the MPE in a season, oldest first."""

    items: list[ImplausibleIntervalOutput]
