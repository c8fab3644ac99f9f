"""Filling the days a household meter did not report with estimated readings.

The method is the domain's (domain/estimation.py); this module reads its inputs from the read
models, turns the day estimates into cumulative register values at each business-day midnight,
and submits them through the intake as readings of source ``estimate``. The next real reading
trues them up (the meter voids them). Run it nightly, after the concentrators' uploads.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from typing import Any
from uuid import UUID

from sqlalchemy import Engine, and_, func, select

from application.authorization import Principal
from application.ingestion import MAXIMUM_BATCH_SIZE, ReadingItem
from domain.day_split import BUSINESS_TIME_ZONE, business_day
from domain.estimation import (
    MAXIMUM_ESTIMATED_DAYS,
    REFERENCE_DAYS,
    DayEstimate,
    EstimationMethod,
    estimate_from_building_area,
    estimate_from_own_history,
)
from domain.position import position_coefficient
from domain.readings import ReadingValues
from domain.values import HorizontalPosition, MeterKind, Position, ReadingSource, VerticalPosition
from infrastructure.intake import Channel, ReadingIntake
from infrastructure.weather import WeatherStore
from projections.tables import daily_consumption, faulty_interval_estimates, households, meter_intervals, meters

MEASURED = "measured"
ESTIMATED = "estimated"
FAULTY = "faulty"


def _days_covered(start: datetime, end: datetime) -> list[tuple[date, Decimal]]:
    """The business days an interval touches and the share of each day it covers."""
    days = []
    day = business_day(start)
    while midnight_starting(day) < end:
        first = max(start, midnight_starting(day))
        last = min(end, midnight_starting(day + timedelta(days=1)))
        days.append((day, Decimal((last - first).total_seconds()) / Decimal(86400)))
        day += timedelta(days=1)
    return days


@dataclass
class EstimationReport:
    """What a run did: meters looked at, readings estimated and accepted, meters left as they were."""

    meters_silent: int = 0
    readings_estimated: int = 0
    readings_accepted: int = 0
    faulty_intervals_estimated: int = 0
    skipped: list[tuple[str, str]] = field(default_factory=list)


@dataclass(frozen=True)
class _SilentMeter:
    meter_id: UUID
    serial: str
    last_measured_at: datetime
    last_energy_gj: Decimal
    community: str
    building: str
    household_id: UUID
    heated_area_m2: Decimal
    position: Position


def _interval_meter_of(row: Any) -> _SilentMeter:
    """A meter's facts as the estimation methods need them, from an interval's row."""
    position = Position(VerticalPosition(row.vertical_position), HorizontalPosition(row.horizontal_position))
    return _SilentMeter(
        row.meter_id,
        row.serial,
        row.start_at,
        Decimal(0),
        row.community,
        row.building,
        row.household_id,
        row.heated_area_m2,
        position,
    )


def midnight_starting(day: date) -> datetime:
    """The first moment of a business day, as an aware datetime."""
    return datetime.combine(day, time(0), BUSINESS_TIME_ZONE)


class GapEstimator:
    """Estimates the missing days of silent household meters, and reports estimated shares."""

    def __init__(self, engine: Engine, intake: ReadingIntake, weather: WeatherStore) -> None:
        self.engine = engine
        self.intake = intake
        self.weather = weather

    # -- running ------------------------------------------------------------------------------

    def run(self, principal: Principal, now: datetime) -> EstimationReport:
        """Estimate every household meter silent for a whole business day or more, up to today's midnight."""
        today = business_day(now)
        report = EstimationReport()
        items: list[ReadingItem] = []
        for meter in self._silent_meters(midnight_starting(today - timedelta(days=1))):
            report.meters_silent += 1
            estimated = self._estimate(meter, today)
            if isinstance(estimated, str):
                report.skipped.append((meter.serial, estimated))
                continue
            items.extend(estimated)
        report.readings_estimated = len(items)
        for start in range(0, len(items), MAXIMUM_BATCH_SIZE):
            chunk = items[start : start + MAXIMUM_BATCH_SIZE]
            batch = self.intake.submit(principal, chunk, Channel.ESTIMATE, "gap estimate")
            report.readings_accepted += batch.accepted
        self._estimate_faulty_intervals(principal, report)
        return report

    def _estimate_faulty_intervals(self, principal: Principal, report: EstimationReport) -> None:
        """Estimate every faulty interval of a household meter that has no estimate yet, by the same
        methods, in proportion to the part of each day the interval covers."""
        for meter, start, end in self._faulty_intervals():
            estimated = self._interval_estimate(meter, start, end)
            if isinstance(estimated, str):
                report.skipped.append((meter.serial, estimated))
                continue
            energy, method = estimated
            recorded = self.intake.ledger.estimate_faulty_interval(principal, meter.serial, start, energy, method)
            report.faulty_intervals_estimated += int(recorded)

    def estimate_interval(self, meter_serial: str, start: datetime, end: datetime) -> tuple[Decimal, str] | str:
        """The heat of a household meter's interval estimated as a faulty interval's is (an interval
        whose measured heat a clerk replaces): the GJ to 0.001 and the method, or why it cannot be."""
        meter = self._interval_meter(meter_serial, start)
        if meter is None:
            return "not an interval of a household meter serving a household"
        return self._interval_estimate(meter, start, end)

    def _interval_estimate(self, meter: _SilentMeter, start: datetime, end: datetime) -> tuple[Decimal, str] | str:
        """Each day's estimate weighted by the share of the day the interval covers, summed."""
        days = _days_covered(start, end)
        if len(days) > MAXIMUM_ESTIMATED_DAYS:
            return f"faulty for more than {MAXIMUM_ESTIMATED_DAYS} days"
        estimates = self._day_estimates(meter, [day for day, _ in days])
        if not estimates:
            return "no history and no building figures to estimate from"
        shares = dict(days)
        energy = sum((estimate.energy_gj * shares[estimate.day] for estimate in estimates), Decimal(0))
        return energy.quantize(Decimal("0.001")), estimates[0].method.value

    def _estimate(self, meter: _SilentMeter, today: date) -> list[ReadingItem] | str:
        first_day = business_day(meter.last_measured_at)
        days = [first_day + timedelta(days=offset) for offset in range((today - first_day).days)]
        if len(days) > MAXIMUM_ESTIMATED_DAYS:
            return f"silent for more than {MAXIMUM_ESTIMATED_DAYS} days: needs a visit"
        estimates = self._day_estimates(meter, days)
        if not estimates:
            return "no history and no building figures to estimate from"
        return self._readings(meter, estimates)

    def _day_estimates(self, meter: _SilentMeter, days: list[date]) -> list[DayEstimate]:
        reference = [days[0] - timedelta(days=offset) for offset in range(REFERENCE_DAYS, 0, -1)]
        own = self._daily(daily_consumption.c.meter_id == meter.meter_id, reference)
        if own:
            weather = self.weather.degree_days(reference + days)
            if all(day in weather for day in [*own, *days]):
                # The weather of every measured reference day and every estimated day is known.
                reference_degree_days = [weather[day] for day in own]
                return estimate_from_own_history(
                    days, list(own.values()), reference_degree_days, weather, EstimationMethod.OWN_HISTORY_DEGREE_DAYS
                )
        building = self._building_daily(meter, reference + days)
        if own:
            building_reference = [building[day] for day in reference if day in building]
            return estimate_from_own_history(days, list(own.values()), building_reference, building)
        per_m2 = self._building_per_m2(meter, days, building)
        mean = self._mean_coefficient(meter)
        return estimate_from_building_area(
            days, per_m2, meter.heated_area_m2, position_coefficient(meter.position), mean
        )

    @staticmethod
    def _readings(meter: _SilentMeter, estimates: list[DayEstimate]) -> list[ReadingItem]:
        """Cumulative register values at the midnight ending each estimated day.

        The first day is counted from the last reading, in proportion to the part of the day left."""
        items = []
        register = meter.last_energy_gj
        for estimate in estimates:
            start = max(midnight_starting(estimate.day), meter.last_measured_at)
            end = midnight_starting(estimate.day + timedelta(days=1))
            if end <= meter.last_measured_at:
                continue
            share = Decimal((end - start).total_seconds()) / Decimal(86400)
            register += (estimate.energy_gj * share).quantize(Decimal("0.001"))
            values = ReadingValues(measured_at=end, energy_gj=register, source=ReadingSource.ESTIMATE)
            items.append(ReadingItem(meter.serial, values))
        return items

    # -- reading the read models --------------------------------------------------------------

    def _interval_meter(self, meter_serial: str, start: datetime) -> _SilentMeter | None:
        """The facts of the household meter whose interval starts at ``start``, with the household
        the interval is charged to."""
        statement = self._intervals_with_households().where(
            meters.c.serial == meter_serial,
            meter_intervals.c.start_at == start,
            meters.c.kind == MeterKind.HOUSEHOLD.value,
        )
        with self.engine.connect() as connection:
            row = connection.execute(statement).one_or_none()
        return None if row is None else _interval_meter_of(row)

    @staticmethod
    def _intervals_with_households() -> Any:
        return (
            select(
                meter_intervals.c.meter_id,
                meters.c.serial,
                meter_intervals.c.start_at,
                meter_intervals.c.end_at,
                households.c.community,
                households.c.building,
                households.c.household_id,
                households.c.heated_area_m2,
                households.c.vertical_position,
                households.c.horizontal_position,
            )
            .join(meters, meters.c.meter_id == meter_intervals.c.meter_id)
            .join(households, households.c.household_id == meter_intervals.c.household_id)
        )

    def _faulty_intervals(self) -> list[tuple[_SilentMeter, datetime, datetime]]:
        """Faulty intervals of household meters that have no estimate yet, with their meter's facts."""
        estimated = select(faulty_interval_estimates.c.meter_id).where(
            faulty_interval_estimates.c.meter_id == meter_intervals.c.meter_id,
            faulty_interval_estimates.c.interval_start_at == meter_intervals.c.start_at,
        )
        statement = (
            self._intervals_with_households()
            .where(
                meter_intervals.c.quality == FAULTY,
                meters.c.kind == MeterKind.HOUSEHOLD.value,
                ~estimated.exists(),
            )
            .order_by(meters.c.serial, meter_intervals.c.start_at)
        )
        with self.engine.connect() as connection:
            return [(_interval_meter_of(row), row.start_at, row.end_at) for row in connection.execute(statement)]

    def _silent_meters(self, silent_since: datetime) -> list[_SilentMeter]:
        statement = (
            select(
                meters.c.meter_id,
                meters.c.serial,
                meters.c.last_measured_at,
                meters.c.last_energy_gj,
                households.c.community,
                households.c.building,
                households.c.household_id,
                households.c.heated_area_m2,
                households.c.vertical_position,
                households.c.horizontal_position,
            )
            .join(households, households.c.household_id == meters.c.household_id)
            .where(
                meters.c.kind == MeterKind.HOUSEHOLD.value,
                meters.c.decommissioned_at.is_(None),
                meters.c.last_measured_at.is_not(None),
                meters.c.last_measured_at < silent_since,
                households.c.heating_suspended.is_(False),
            )
            .order_by(meters.c.serial)
        )
        with self.engine.connect() as connection:
            return [
                _SilentMeter(
                    row.meter_id,
                    row.serial,
                    row.last_measured_at,
                    row.last_energy_gj,
                    row.community,
                    row.building,
                    row.household_id,
                    row.heated_area_m2,
                    Position(VerticalPosition(row.vertical_position), HorizontalPosition(row.horizontal_position)),
                )
                for row in connection.execute(statement)
            ]

    def _daily(self, condition: Any, days: Sequence[date]) -> dict[date, Decimal]:
        """Measured energy per day for the rows matching ``condition``, on the given days."""
        statement = (
            select(daily_consumption.c.day, func.sum(daily_consumption.c.energy_gj).label("energy_gj"))
            .where(condition, daily_consumption.c.quality == MEASURED, daily_consumption.c.day.in_(list(days)))
            .group_by(daily_consumption.c.day)
        )
        with self.engine.connect() as connection:
            return {row.day: row.energy_gj for row in connection.execute(statement)}

    def _building_daily(self, meter: _SilentMeter, days: Sequence[date]) -> dict[date, Decimal]:
        """The building's measured household-meter energy per day, without the silent meter."""
        return self._daily(
            and_(
                daily_consumption.c.community == meter.community,
                daily_consumption.c.building == meter.building,
                daily_consumption.c.meter_kind == MeterKind.HOUSEHOLD.value,
                daily_consumption.c.meter_id != meter.meter_id,
            ),
            days,
        )

    def _building_per_m2(
        self, meter: _SilentMeter, days: list[date], building: dict[date, Decimal]
    ) -> dict[date, Decimal]:
        """The building's measured energy per heated m² of the flats that reported, per day."""
        statement = (
            select(daily_consumption.c.day, func.sum(households.c.heated_area_m2).label("area_m2"))
            .join(households, households.c.household_id == daily_consumption.c.household_id)
            .where(
                daily_consumption.c.community == meter.community,
                daily_consumption.c.building == meter.building,
                daily_consumption.c.quality == MEASURED,
                daily_consumption.c.meter_id != meter.meter_id,
                daily_consumption.c.day.in_(days),
            )
            .group_by(daily_consumption.c.day)
        )
        with self.engine.connect() as connection:
            areas = {row.day: row.area_m2 for row in connection.execute(statement)}
        return {day: building[day] / areas[day] for day in days if day in building and areas.get(day)}

    def _mean_coefficient(self, meter: _SilentMeter) -> Decimal:
        statement = select(households.c.vertical_position, households.c.horizontal_position).where(
            households.c.community == meter.community, households.c.building == meter.building
        )
        with self.engine.connect() as connection:
            coefficients = [
                position_coefficient(Position(VerticalPosition(row[0]), HorizontalPosition(row[1])))
                for row in connection.execute(statement)
            ]
        return sum(coefficients, Decimal(0)) / len(coefficients)

    # -- reporting ----------------------------------------------------------------------------

    def estimated_share(self, household_id: UUID, first_day: date, last_day: date) -> tuple[Decimal, Decimal]:
        """A household's estimated energy and its billable energy over the days, in GJ.

        Billable: measured and estimated days, and faulty intervals by their estimate (their
        register difference is not billed); a faulty interval not yet estimated counts nothing."""
        statement = (
            select(daily_consumption.c.quality, func.sum(daily_consumption.c.energy_gj).label("energy_gj"))
            .where(
                daily_consumption.c.household_id == household_id,
                daily_consumption.c.day.between(first_day, last_day),
            )
            .group_by(daily_consumption.c.quality)
        )
        faulty_estimates = select(func.sum(faulty_interval_estimates.c.estimated_energy_gj)).where(
            faulty_interval_estimates.c.household_id == household_id,
            faulty_interval_estimates.c.day.between(first_day, last_day),
        )
        with self.engine.connect() as connection:
            by_quality = {row.quality: row.energy_gj for row in connection.execute(statement)}
            replaced = connection.execute(faulty_estimates).scalar() or Decimal(0)
        estimated = by_quality.get(ESTIMATED, Decimal(0)) + replaced
        billable = by_quality.get(MEASURED, Decimal(0)) + estimated
        return estimated, billable
