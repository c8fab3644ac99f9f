"""A clerk's decision about heat far beyond a meter's permissible error (domain/implausible_heat.py).

A service beside the ``HeatLedger``, like ``Billing``: it reads the interval's evidence from the
read model (the meter no longer remembers a season's intervals), asks the estimator for an
estimate when the clerk replaces the interval by one, and records the decision as an event on the
meter. The next settlement run bills the household as decided, or keeps it an exception while the
interval is held pending a verification.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Protocol
from uuid import UUID, uuid4

from application.authorization import Permission, Principal
from application.billing_inputs import BillingInputs
from application.ledger import HeatLedger
from domain import ids
from domain.errors import ConflictError, NotFoundError
from domain.implausible_heat import HeatDecision, IntervalEvidence
from domain.values import CommandContext


class IntervalEstimator(Protocol):
    """Estimates an interval's heat the way faulty intervals are estimated (infrastructure/estimation.py)."""

    def estimate_interval(self, meter_serial: str, start: datetime, end: datetime) -> tuple[Decimal, str] | str:
        """The estimated GJ and the method's name, or why there is nothing to estimate from."""
        ...


@dataclass(frozen=True)
class HeatDecisionOutcome:
    """What was decided about which interval, and whether it changed anything (False: the same
    decision was already in force, nothing was recorded)."""

    evidence: IntervalEvidence
    decision: HeatDecision
    estimated_energy_gj: Decimal | None
    method: str
    recorded: bool


class HeatDecisions:
    """Records clerks' decisions about implausible heat, with the caller's permission checked first."""

    def __init__(self, ledger: HeatLedger, inputs: BillingInputs, estimator: IntervalEstimator) -> None:
        self.ledger = ledger
        self.inputs = inputs
        self.estimator = estimator

    def decide(
        self,
        principal: Principal,
        meter_serial: str,
        interval_start: datetime,
        decision: HeatDecision,
        reason: str,
        correlation_id: UUID | None = None,
    ) -> HeatDecisionOutcome:
        """Bill the interval as measured, replace it by an estimate, or hold it pending a verification."""
        principal.require(Permission.RUN_BILLING)
        evidence = self._evidence(meter_serial, interval_start)
        decision = HeatDecision(decision)
        estimate, method = self._estimate(evidence) if decision is HeatDecision.ESTIMATE else (None, "")
        context = CommandContext(principal.name, reason.strip(), correlation_id or uuid4())
        with self.ledger.locks.writing([ids.meter_id(meter_serial)]):  # beside other commands, on a copy
            meter = self.ledger.meter(meter_serial)
            recorded = meter.decide_implausible_heat(evidence, decision, estimate, method, context)
            if recorded:
                self.ledger.save(meter)
        return HeatDecisionOutcome(evidence, decision, estimate, method, recorded)

    def _evidence(self, meter_serial: str, interval_start: datetime) -> IntervalEvidence:
        self.ledger.meter(meter_serial)  # NotFoundError for an unknown meter, before the interval
        evidence = self.inputs.interval_evidence(meter_serial, interval_start)
        if evidence is None:
            raise NotFoundError(
                f"meter {meter_serial} has no checked interval starting at {interval_start.isoformat()}",
                kind="interval",
                key=f"{meter_serial} {interval_start.isoformat()}",
            )
        return evidence

    def _estimate(self, evidence: IntervalEvidence) -> tuple[Decimal, str]:
        estimated = self.estimator.estimate_interval(evidence.meter_serial, evidence.start, evidence.end)
        if isinstance(estimated, str):
            raise ConflictError(
                f"the interval cannot be estimated: {estimated}",
                message_key="interval_not_estimable",
                meter_serial=evidence.meter_serial,
                why=estimated,
            )
        return estimated
