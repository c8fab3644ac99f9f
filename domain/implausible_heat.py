"""Heat a settlement must not bill without a clerk's decision: intervals whose recorded energy
fails the k·Δθ·ΔV check far beyond the meter class's maximum permissible error (MPE).

An interval merely outside the MPE is listed in monitoring and billed as measured: the check uses
the two readings' instant temperatures, so it screens for gross faults and is no verification.
An interval *far* beyond it (``is_far_beyond``) stops the household's settlement until a clerk
decides (``HeatDecision``): bill it as measured, with a reason; replace it by an estimate; or hold
the household pending a meter verification (JJG 225). The decision is an event on the meter that
recorded the interval (``domain.meter.Meter.ImplausibleHeatDecided``); the settlement bill says
which was done in a line per decided interval.

Pure rules: the evidence and the decision come in, the refusal or the bill lines go out.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal
from enum import StrEnum
from typing import Any

from domain.day_split import BUSINESS_TIME_ZONE, business_day
from domain.errors import InvalidInputError
from domain.settlement import BillLine

# "Far beyond": the deviation exceeds this many times the interval's MPE (EN 1434). Ten, not two
# or three: the check uses instant temperatures at the interval's ends, and a night setback alone
# can move a daily interval by tens of percent, while a typical MPE is 3–10 %.
FAR_BEYOND_FACTOR = Decimal(10)
# ...and the recorded heat differs from the expected by at least this much: register resolution
# (0.001 GJ, 1 kWh = 0.0036 GJ, 0.01 MWh = 0.036 GJ) makes short intervals deviate by large
# percentages over a few MJ, which no one should have to decide about (0.1 GJ ≈ 4.39 元 at 43.9 元/GJ).
MINIMUM_EXCESS_GJ = Decimal("0.1")
ONE_MICROSECOND = timedelta(microseconds=1)


class HeatDecision(StrEnum):
    """What a clerk decided about an interval far beyond the MPE."""

    BILL_AS_MEASURED = "bill_as_measured"  # the recorded heat stands (a reason says why)
    ESTIMATE = "estimate"  # the interval is billed by an estimate, like a faulty interval
    HOLD = "hold"  # not billed until a meter verification settles it


@dataclass(frozen=True)
class IntervalEvidence:
    """One interval of a meter with its k·Δθ·ΔV check: what it recorded, what physics expects,
    how far apart they are and how far they may be (the MPE at the interval's flow and Δθ)."""

    meter_serial: str
    start: datetime
    end: datetime
    recorded_gj: Decimal
    expected_gj: Decimal
    deviation_percent: Decimal
    permissible_error_percent: Decimal

    @property
    def far_beyond(self) -> bool:
        return is_far_beyond(self.recorded_gj, self.expected_gj, self.deviation_percent, self.permissible_error_percent)

    def overlaps_days(self, first_day: date, last_day: date) -> bool:
        """Whether the interval spends time on any business day first…last (both inclusive)."""
        # An interval ending exactly at a midnight spends no time on the day that midnight starts.
        end_day = business_day(self.end - ONE_MICROSECOND)
        return business_day(self.start) <= last_day and first_day <= end_day

    def figures(self) -> dict[str, str]:
        """The evidence as a bill line's or a run exception's figures."""
        return {
            "meter_serial": self.meter_serial,
            "interval_start": self.start.astimezone(BUSINESS_TIME_ZONE).isoformat(),
            "interval_end": self.end.astimezone(BUSINESS_TIME_ZONE).isoformat(),
            "recorded_gj": readable_gj(self.recorded_gj),
            "expected_gj": readable_gj(self.expected_gj),
            "deviation_percent": _percent_text(self.deviation_percent),
            "permissible_error_percent": _percent_text(self.permissible_error_percent),
        }


@dataclass(frozen=True)
class DecisionTaken:
    """A clerk's decision about an interval: what, by whom, why and, for an estimate, the heat."""

    decision: HeatDecision
    actor: str
    reason: str
    estimated_gj: Decimal | None = None
    method: str = ""


@dataclass(frozen=True)
class ImplausibleInterval:
    """An interval far beyond the MPE and the decision in force about it (None: undecided)."""

    evidence: IntervalEvidence
    decision: DecisionTaken | None = None


def readable_gj(energy_gj: Decimal) -> str:
    """An energy figure to 0.001 GJ (1 MJ) when that is exact, else every digit the ledger holds
    (as ``domain.billing.readable_gj``, which imports this module)."""
    milli = energy_gj.quantize(Decimal("0.001"))
    return str(milli) if milli == energy_gj else format(energy_gj.normalize(), "f")


def _percent_text(percent: Decimal) -> str:
    """A percentage as the check computed it: to 0.01 (the read model keeps three places)."""
    hundredth = percent.quantize(Decimal("0.01"))
    return str(hundredth) if hundredth == percent else format(percent.normalize(), "f")


def is_far_beyond(
    recorded_gj: Decimal, expected_gj: Decimal, deviation_percent: Decimal, permissible_error_percent: Decimal
) -> bool:
    """Whether an interval's heat is too implausible to bill without a decision: the deviation
    exceeds ``FAR_BEYOND_FACTOR`` × the MPE and the heat is off by ``MINIMUM_EXCESS_GJ`` or more,
    whichever way (a meter recording too little is as wrong as one recording too much)."""
    beyond = abs(deviation_percent) > FAR_BEYOND_FACTOR * permissible_error_percent
    return beyond and abs(recorded_gj - expected_gj) >= MINIMUM_EXCESS_GJ


class ImplausibleHeatError(InvalidInputError):
    """A settlement that would bill heat far beyond the MPE without a decision, or held pending a
    verification. ``exceptions`` lists one (message key, params) per such interval."""

    code = "billing_input"

    def __init__(self, account_number: str, intervals: list[ImplausibleInterval]) -> None:
        self.exceptions = [_exception_of(account_number, interval) for interval in intervals]
        first_key, first_params = self.exceptions[0]
        super().__init__(
            f"{len(intervals)} intervals of heat far beyond the meter's permissible error await a decision",
            message_key=first_key,
            **first_params,
        )


def _exception_of(account_number: str, interval: ImplausibleInterval) -> tuple[str, dict[str, Any]]:
    params: dict[str, Any] = {"account_number": account_number, **interval.evidence.figures()}
    params["factor"] = str(FAR_BEYOND_FACTOR)
    if interval.decision is None:
        return "implausible_heat", params
    params.update(decided_by=interval.decision.actor, decision_reason=interval.decision.reason)
    return "held_pending_verification", params


def require_decided(account_number: str, intervals: tuple[ImplausibleInterval, ...]) -> None:
    """Refuse to settle while an interval far beyond the MPE is undecided or held."""
    waiting = [
        interval
        for interval in intervals
        if interval.decision is None or interval.decision.decision is HeatDecision.HOLD
    ]
    if waiting:
        raise ImplausibleHeatError(account_number, waiting)


def decision_lines(intervals: tuple[ImplausibleInterval, ...], first_day: date, last_day: date) -> list[BillLine]:
    """A bill line per decided interval on the days first…last: billed as measured, or replaced
    by an estimate (the evidence, the decision, who took it and why)."""
    lines = []
    for interval in sorted(intervals, key=lambda found: (found.evidence.start, found.evidence.meter_serial)):
        taken = interval.decision
        if taken is None or taken.decision is HeatDecision.HOLD:
            continue
        if not interval.evidence.overlaps_days(first_day, last_day):
            continue
        figures = {**interval.evidence.figures(), "decided_by": taken.actor, "decision_reason": taken.reason}
        if taken.decision is HeatDecision.BILL_AS_MEASURED:
            lines.append(BillLine("heat_billed_as_measured", None, figures))
        else:
            estimated_gj = readable_gj(taken.estimated_gj if taken.estimated_gj is not None else Decimal(0))
            figures.update(estimated_gj=estimated_gj, method=taken.method)
            lines.append(BillLine("heat_replaced_by_estimate", None, figures))
    return lines


def check_decision(
    evidence: IntervalEvidence, decision: HeatDecision, estimated_gj: Decimal | None, reason: str
) -> None:
    """Refuse a decision the rules do not allow: about an interval not far beyond the MPE, without
    a reason, or with an estimate given for anything but ``estimate`` (or missing for it)."""
    if not evidence.far_beyond:
        raise InvalidInputError(
            "the interval's heat is not far beyond the meter's permissible error: it is billed as measured",
            message_key="interval_not_far_beyond",
            **evidence.figures(),
            factor=str(FAR_BEYOND_FACTOR),
        )
    if not reason.strip():
        raise InvalidInputError(
            "a decision about implausible heat needs a reason", message_key="reason_required", field="reason"
        )
    wants_estimate = HeatDecision(decision) is HeatDecision.ESTIMATE
    if wants_estimate != (estimated_gj is not None):
        raise InvalidInputError(
            "only a decision to estimate carries an estimate", message_key="estimate_only_for_estimate"
        )
    if estimated_gj is not None and (not estimated_gj.is_finite() or estimated_gj < 0):
        raise InvalidInputError("an estimate must be a non-negative energy", field="estimated_energy_gj")
