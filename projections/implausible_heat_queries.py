"""Reads of heat far beyond a meter's permissible error: the intervals a settlement must not bill
without a decision, with the decision in force, and one interval's evidence for a clerk's command.

A run reads them in one query per chunk of households: the households' implausible intervals
(a partial index holds only those) that left a day row of the household's own meter on the days
in ``daily_consumption``; the far-beyond rule itself is the domain's
(``domain.implausible_heat.is_far_beyond``), applied to the rows the check flagged as implausible.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from datetime import date, datetime
from typing import Any
from uuid import UUID

from sqlalchemy import Engine, and_, select

from domain.implausible_heat import DecisionTaken, HeatDecision, ImplausibleInterval, IntervalEvidence
from domain.values import MeterKind
from projections.tables import daily_consumption, implausible_heat_decisions, meter_intervals, meters

# The most ids one IN list carries (as in projections/billing_inputs.py).
CHUNK_SIZE = 500

_DECISION_MATCHES = and_(
    implausible_heat_decisions.c.meter_id == meter_intervals.c.meter_id,
    implausible_heat_decisions.c.interval_start_at == meter_intervals.c.start_at,
    # A decision is about the interval with this end: a split interval is another, undecided.
    implausible_heat_decisions.c.interval_end_at == meter_intervals.c.end_at,
)
_COLUMNS = (
    meter_intervals.c.household_id,
    meters.c.serial,
    meter_intervals.c.start_at,
    meter_intervals.c.end_at,
    meter_intervals.c.energy_gj,
    meter_intervals.c.expected_energy_gj,
    meter_intervals.c.deviation_percent,
    meter_intervals.c.permissible_error_percent,
    implausible_heat_decisions.c.decision,
    implausible_heat_decisions.c.actor,
    implausible_heat_decisions.c.reason,
    implausible_heat_decisions.c.estimated_energy_gj,
    implausible_heat_decisions.c.method,
)


def implausible_intervals(
    engine: Engine, household_ids: Sequence[UUID], first_day: date, last_day: date
) -> dict[UUID, tuple[ImplausibleInterval, ...]]:
    """Per household, the intervals of its own meters on the days (both inclusive) whose heat is
    far beyond the MPE, oldest first, each with the decision in force (None: undecided).
    Households without any are absent."""
    found: dict[UUID, list[ImplausibleInterval]] = defaultdict(list)
    unique = list(dict.fromkeys(household_ids))
    dc = daily_consumption.c
    with engine.connect() as connection:
        for start in range(0, len(unique), CHUNK_SIZE):
            chunk = unique[start : start + CHUNK_SIZE]
            # From the few implausible intervals to their day rows, not from a chunk's 37,000 day
            # rows to their intervals (issue 17: a primary-key look-up per day row found nothing in
            # nearly every chunk). The same rows: an interval is kept when a day row of the
            # household's own meter on the days starts with it.
            on_the_days = (
                select(dc.meter_id)
                .where(
                    dc.meter_id == meter_intervals.c.meter_id,
                    dc.interval_start_at == meter_intervals.c.start_at,
                    dc.household_id.in_(chunk),
                    dc.meter_kind == MeterKind.HOUSEHOLD.value,
                    dc.day.between(first_day, last_day),
                )
                .exists()
            )
            statement = (
                select(*_COLUMNS)
                .select_from(meter_intervals)
                .join(meters, meters.c.meter_id == meter_intervals.c.meter_id)
                .outerjoin(implausible_heat_decisions, _DECISION_MATCHES)
                .where(
                    meter_intervals.c.plausible.is_(False),
                    meter_intervals.c.household_id.in_(chunk),
                    on_the_days,
                )
                .order_by(meter_intervals.c.household_id, meter_intervals.c.start_at, meters.c.serial)
            )
            for row in connection.execute(statement):
                interval = _implausible_interval(row)
                if interval.evidence.far_beyond:
                    found[row.household_id].append(interval)
    return {household_id: tuple(intervals) for household_id, intervals in found.items()}


def interval_evidence(engine: Engine, meter_serial: str, interval_start: datetime) -> IntervalEvidence | None:
    """The k·Δθ·ΔV evidence of the meter's interval starting at ``interval_start``; None when the
    meter has no such interval or the interval was not checked (no volume, temperatures or flow)."""
    statement = (
        select(*_COLUMNS)
        .select_from(meter_intervals)
        .join(meters, meters.c.meter_id == meter_intervals.c.meter_id)
        .outerjoin(implausible_heat_decisions, _DECISION_MATCHES)
        .where(
            meters.c.serial == meter_serial,
            meter_intervals.c.start_at == interval_start,
            meter_intervals.c.plausible.is_not(None),
        )
    )
    with engine.connect() as connection:
        row = connection.execute(statement).one_or_none()
    return None if row is None else _implausible_interval(row).evidence


def _implausible_interval(row: Any) -> ImplausibleInterval:
    evidence = IntervalEvidence(
        meter_serial=row.serial,
        start=row.start_at,
        end=row.end_at,
        recorded_gj=row.energy_gj,
        expected_gj=row.expected_energy_gj,
        deviation_percent=row.deviation_percent,
        permissible_error_percent=row.permissible_error_percent,
    )
    if row.decision is None:
        return ImplausibleInterval(evidence)
    taken = DecisionTaken(HeatDecision(row.decision), row.actor, row.reason, row.estimated_energy_gj, row.method)
    return ImplausibleInterval(evidence, taken)
