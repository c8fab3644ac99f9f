"""The settlement's evidence as it was read before ``household_evidence_months`` (issue 17): the
day rows of ``daily_consumption`` and ``faulty_interval_estimates`` summed per chunk in SQL. Kept
here as the oracle the kept months are held to (tests/integration/test_evidence_months.py)."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from datetime import date
from decimal import Decimal
from typing import Any
from uuid import UUID

from sqlalchemy import ColumnElement, Connection, case, distinct, extract, func, literal, select, union_all

from application.billing_inputs import MonthEnergy
from domain.billing import MeterEvidence
from domain.season import Season
from projections.billing_inputs import (
    ONE_DAY,
    SqlBillingInputs,
    _bulk_read,
    _chunks,
    _energy,
    _local_midnight,
)
from projections.tables import daily_consumption, faulty_interval_estimates, meters

_MEASURED, _ESTIMATED, _FAULTY = "measured", "estimated", "faulty"
_FAULTY_ESTIMATE = "faulty_estimate"
_HOUSEHOLD = "household"


class RowByRowEvidence(SqlBillingInputs):
    """``SqlBillingInputs`` with the evidence read from the day rows, as before the kept months."""

    def meter_evidence(
        self, household_ids: Sequence[UUID], first_day: date, last_day: date
    ) -> dict[UUID, MeterEvidence]:
        """The heat of each household's own meters over the days (both inclusive), by quality.

        A day is *measured* when a measured row covers part of it, *estimated* when only estimated
        rows or faulty-interval estimates do, and *without data* otherwise (also a day covered only
        by faulty rows without an estimate). A household whose meters left any row in the days,
        even only faulty ones, is in the result (its meter was there but broken); households
        without any row are absent. ``meter_serials`` names the meters that left rows.
        """
        total_days = (last_day - first_day).days + 1
        window_start = _local_midnight(first_day)
        window_end = _local_midnight(last_day + ONE_DAY)
        result: dict[UUID, MeterEvidence] = {}
        with _bulk_read(self.engine) as connection:
            for chunk in _chunks(household_ids):
                totals, serials = _evidence_totals(connection, chunk, first_day, last_day)
                if not totals:
                    continue
                first_readings, last_readings = self._end_readings(
                    connection, chunk, first_day, last_day, window_start, window_end
                )
                for row in totals:
                    days_measured = int(row.days_measured)
                    days_usable = int(row.days_usable)
                    result[row.household_id] = MeterEvidence(
                        measured_gj=_energy(row.measured_gj),
                        estimated_gj=_energy(row.estimated_gj),
                        days_measured=days_measured,
                        days_estimated=days_usable - days_measured,
                        days_without_data=total_days - days_usable,
                        meter_serials=tuple(serials.get(row.household_id, ())),
                        first_reading=first_readings.get(row.household_id, ""),
                        last_reading=last_readings.get(row.household_id, ""),
                    )
        return result

    def monthly_energy(self, household_ids: Sequence[UUID], season: Season) -> dict[UUID, MonthEnergy]:
        """Each household's metered heat (measured, estimated and faulty-interval estimates) per
        calendar month of the season's business days; households without any such heat are absent."""
        by_household: dict[UUID, dict[str, Decimal]] = defaultdict(dict)
        with _bulk_read(self.engine) as connection:
            for chunk in _chunks(household_ids):
                evidence = _evidence(chunk, season.first_day, season.last_day, include_faulty=False).subquery(
                    "evidence"
                )
                # extract() compiles to EXTRACT on PostgreSQL and to STRFTIME on SQLite.
                year = extract("year", evidence.c.day).label("year")
                month = extract("month", evidence.c.day).label("month")
                rows = connection.execute(
                    select(evidence.c.household_id, year, month, func.sum(evidence.c.energy_gj).label("energy_gj"))
                    .group_by(evidence.c.household_id, year, month)
                    .order_by(evidence.c.household_id, year, month)
                )
                for row in rows:
                    by_household[row.household_id][f"{int(row.year):04d}-{int(row.month):02d}"] = _energy(row.energy_gj)
        return {household_id: MonthEnergy(months) for household_id, months in by_household.items()}


def _evidence_totals(
    connection: Connection, chunk: Sequence[UUID], first_day: date, last_day: date
) -> tuple[list[Any], dict[UUID, list[str]]]:
    """Per household of ``chunk`` with evidence in the days: its measured and estimated heat and
    its days measured and usable (``_totals`` rows), and the serials of its meters that left rows.

    One pass groups the evidence per household and meter (with the meter's serial), which is the
    household's total whenever one meter served it in the days, nearly always; the few households
    with rows of several meters (a meter replaced) are grouped again per household, because a day
    both meters covered counts once."""
    by_meter = _totals(_evidence(chunk, first_day, last_day, include_faulty=True).subquery("evidence"), True)
    rows = connection.execute(by_meter).all()
    serials: dict[UUID, list[str]] = defaultdict(list)
    for row in rows:
        serials[row.household_id].append(row.serial)
    several = [household_id for household_id, found in serials.items() if len(found) > 1]
    totals = [row for row in rows if len(serials[row.household_id]) == 1]
    if several:
        evidence = _evidence(several, first_day, last_day, include_faulty=True).subquery("evidence")
        totals += connection.execute(_totals(evidence, False)).all()
    return totals, serials


def _totals(evidence: Any, per_meter: bool) -> Any:
    """The evidence's heat and days by quality, grouped per household (and per meter, with its
    serial, when ``per_meter``)."""
    measured = evidence.c.quality == _MEASURED
    estimated = evidence.c.quality.in_((_ESTIMATED, _FAULTY_ESTIMATE))
    columns = [
        evidence.c.household_id,
        func.sum(case((measured, evidence.c.energy_gj))).label("measured_gj"),
        func.sum(case((estimated, evidence.c.energy_gj))).label("estimated_gj"),
        func.count(distinct(case((measured, evidence.c.day)))).label("days_measured"),
        func.count(distinct(case((evidence.c.quality != _FAULTY, evidence.c.day)))).label("days_usable"),
    ]
    if not per_meter:
        return select(*columns).group_by(evidence.c.household_id)
    # Grouped by the meter's id, its serial looked up per group rather than joined to every row
    # (the serial is the meter's natural key: the same groups, a fifth less of the query's time).
    # A scalar subquery, not a join: PostgreSQL overestimated a chunk's groups (7,601 for 250) and
    # hashed the whole meters table for every chunk (55 of 110 ms a chunk at 100,000 households,
    # one scan per chunk: a city's settlement grew with the square of its size); by the primary key
    # it is 250 look-ups whatever the city. A group's meter is always projected (serial is NOT
    # NULL), so "IS NOT NULL" keeps exactly the join's rows.
    grouped = select(*columns, evidence.c.meter_id).group_by(evidence.c.household_id, evidence.c.meter_id)
    by_meter = grouped.subquery("by_meter")
    serial = select(meters.c.serial).where(meters.c.meter_id == by_meter.c.meter_id).scalar_subquery()
    with_serial = select(
        by_meter.c.household_id,
        by_meter.c.measured_gj,
        by_meter.c.estimated_gj,
        by_meter.c.days_measured,
        by_meter.c.days_usable,
        serial.label("serial"),
    ).subquery("with_serial")
    return (
        select(with_serial)
        .where(with_serial.c.serial.is_not(None))
        .order_by(with_serial.c.household_id, with_serial.c.serial)
    )


def _evidence(chunk: Sequence[UUID], first_day: date, last_day: date, include_faulty: bool) -> Any:
    """(household_id, meter_id, day, quality, energy_gj) of the households' own meters in the days:
    daily_consumption rows (faulty ones only when asked for: their energy must not be summed) and
    faulty-interval estimates, the latter with quality ``faulty_estimate``."""
    dc = daily_consumption.c
    fie = faulty_interval_estimates.c
    qualities = (_MEASURED, _ESTIMATED, _FAULTY) if include_faulty else (_MEASURED, _ESTIMATED)
    conditions: list[ColumnElement[bool]] = [
        dc.household_id.in_(chunk),
        dc.meter_kind == _HOUSEHOLD,
        dc.day.between(first_day, last_day),
        dc.quality.in_(qualities),
    ]
    return union_all(
        select(
            dc.household_id.label("household_id"),
            dc.meter_id.label("meter_id"),
            dc.day.label("day"),
            dc.quality.label("quality"),
            dc.energy_gj.label("energy_gj"),
        ).where(*conditions),
        select(
            fie.household_id,
            fie.meter_id,
            fie.day,
            literal(_FAULTY_ESTIMATE).label("quality"),
            fie.estimated_energy_gj,
        ).where(fie.household_id.in_(chunk), fie.day.between(first_day, last_day)),
    )
