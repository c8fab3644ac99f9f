"""Projection of clerks' decisions about heat far beyond a meter's permissible error.

A decision to **estimate** makes the interval what a faulty interval is: its rows in
``meter_intervals`` and ``daily_consumption`` get quality ``faulty`` (their register difference is
no longer billed, nor summed as measured anywhere) and the estimate is shared across its days in
``faulty_interval_estimates``, which every reader of billable heat already counts instead. A
later decision to bill as measured, or to hold, puts the interval back to ``measured`` and drops
the estimate. Only intervals of quality ``measured`` are checked by k·Δθ·ΔV, so ``measured`` is
the quality to restore.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any
from uuid import UUID

from sqlalchemy import Connection, and_, delete, insert, select, update

from domain.day_split import split_across_days
from domain.implausible_heat import HeatDecision
from domain.meter import Meter
from domain.readings import IntervalQuality
from projections.evidence_months import interval_keys, refresh
from projections.tables import (
    daily_consumption,
    faulty_interval_estimates,
    implausible_heat_decisions,
    meter_intervals,
    meters,
)


def implausible_heat_decided(connection: Connection, event: Meter.ImplausibleHeatDecided) -> UUID | None:
    """Keep the decision in force and make the interval's billable heat follow it."""
    meter_id = event.originator_id
    connection.execute(
        delete(implausible_heat_decisions).where(
            implausible_heat_decisions.c.meter_id == meter_id,
            implausible_heat_decisions.c.interval_start_at == event.interval_start,
        )
    )
    connection.execute(
        insert(implausible_heat_decisions).values(
            meter_id=meter_id,
            interval_start_at=event.interval_start,
            interval_end_at=event.interval_end,
            decision=event.decision,
            estimated_energy_gj=event.estimated_energy_gj,
            method=event.method,
            decided_at=event.timestamp,
            actor=event.actor,
            reason=event.reason,
            correlation_id=event.correlation_id,
        )
    )
    _follow_decision(connection, event)
    connection.execute(update(meters).where(meters.c.meter_id == meter_id).values(version=event.originator_version))
    return None


def _follow_decision(connection: Connection, event: Meter.ImplausibleHeatDecided) -> None:
    meter_id = event.originator_id
    interval = and_(
        meter_intervals.c.meter_id == meter_id,
        meter_intervals.c.start_at == event.interval_start,
        meter_intervals.c.end_at == event.interval_end,
    )
    household_id = connection.execute(select(meter_intervals.c.household_id).where(interval)).one_or_none()
    if household_id is None:
        return  # the interval was split or withdrawn since: the decision no longer applies to anything
    evidence = interval_keys(connection, meter_id, [event.interval_start])
    _decide_interval(connection, event, interval, household_id[0])
    refresh(connection, evidence | interval_keys(connection, meter_id, [event.interval_start]))


def _decide_interval(
    connection: Connection, event: Meter.ImplausibleHeatDecided, interval: Any, household_id: Any
) -> None:
    """The interval's quality as decided, and its estimate (when one was decided) in place of any before."""
    meter_id = event.originator_id
    estimated = HeatDecision(event.decision) is HeatDecision.ESTIMATE
    quality = (IntervalQuality.FAULTY if estimated else IntervalQuality.MEASURED).value
    connection.execute(update(meter_intervals).where(interval).values(quality=quality))
    connection.execute(
        update(daily_consumption)
        .where(daily_consumption.c.meter_id == meter_id, daily_consumption.c.interval_start_at == event.interval_start)
        .values(quality=quality)
    )
    connection.execute(
        delete(faulty_interval_estimates).where(
            faulty_interval_estimates.c.meter_id == meter_id,
            faulty_interval_estimates.c.interval_start_at == event.interval_start,
        )
    )
    if not estimated or event.estimated_energy_gj is None:
        return
    shares = split_across_days(event.interval_start, event.interval_end, event.estimated_energy_gj)
    connection.execute(
        insert(faulty_interval_estimates),
        [
            {
                "meter_id": meter_id,
                "interval_start_at": event.interval_start,
                "day": share.day,
                "estimated_energy_gj": share.energy_gj,
                "method": event.method,
                "household_id": household_id,
            }
            for share in shares
        ],
    )


HEAT_DECISION_HANDLERS: dict[type[Any], Callable[[Connection, Any], UUID | None]] = {
    Meter.ImplausibleHeatDecided: implausible_heat_decided,
}
