"""``BillingInputs`` read from the ledger's read models in bulk.

Every method takes a list of households and reads each table it needs once per chunk of at most
``CHUNK_SIZE`` ids, so a city's billing run makes a handful of queries per chunk however many
meters and days there are. Sums of energy are taken in SQL on the ScaledDecimal columns (whole
numbers of 10⁻⁹ GJ), so they stay exact on SQLite as well as PostgreSQL.

The heat of a household (``meter_evidence``, ``monthly_energy``) is what its own household meters
put into ``daily_consumption``: the share of each metered interval that fell on each business day
(Asia/Shanghai). ``measured`` and ``estimated`` rows count; the energy of ``faulty`` rows is never
billed: the documented estimate in ``faulty_interval_estimates`` counts for those days instead.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from typing import Any
from uuid import UUID

from sqlalchemy import (
    ColumnElement,
    Connection,
    Engine,
    case,
    distinct,
    exists,
    extract,
    func,
    literal,
    or_,
    select,
    text,
    union,
    union_all,
)

from application.billing_inputs import (
    BillingInputs,
    HouseholdFacts,
    HouseholdSeasonRecord,
    MonthEnergy,
    SuspensionSpan,
)
from domain.billing import MeterEvidence
from domain.day_split import BUSINESS_TIME_ZONE
from domain.errors import ConflictError
from domain.implausible_heat import ImplausibleInterval, IntervalEvidence
from domain.readings import IntervalQuality
from domain.season import Season
from domain.values import MeterKind
from projections import implausible_heat_queries
from projections.ledger_projection import LedgerProjection
from projections.runner import REBUILDING
from projections.tables import (
    ENERGY_SCALE,
    daily_consumption,
    faulty_interval_estimates,
    household_owner_changes,
    household_suspensions,
    households,
    meter_intervals,
    meter_readings,
    meters,
    projection_tracking,
)

# The most ids one IN list carries (well below SQLite's and PostgreSQL's parameter limits).
CHUNK_SIZE = 500
ZERO_ENERGY_GJ = Decimal(0).scaleb(-ENERGY_SCALE)
ONE_DAY = timedelta(days=1)
# The settlement's evidence reads on PostgreSQL, for this transaction only: no JIT, no parallel
# workers, and room to sort a chunk's day rows in memory. The planner overestimates the distinct
# intervals of a chunk (31,000 rows for 1,250), so the end-readings query costs past
# jit_above_cost and JIT compiled 91 functions for every chunk (85 of its 231 ms, EXPLAIN ANALYZE
# at 10,000 households); two parallel workers were forked for a 37,000-row scan; the totals'
# sort of those rows spilled 2.6 MB to disk past the default 4 MB work_mem. On two cores the JIT
# and the workers cost the server more CPU than they save (issue 17: the evidence of 20 chunks
# 2.9-5.2 -> 1.7-1.8 server CPU s).
_SERIAL_PLANS = text(
    "SELECT set_config('jit', 'off', true), set_config('max_parallel_workers_per_gather', '0', true), "
    "set_config('work_mem', '32MB', true)"
)

_MEASURED = IntervalQuality.MEASURED.value
_ESTIMATED = IntervalQuality.ESTIMATED.value
_FAULTY = IntervalQuality.FAULTY.value
# The quality given to the rows of faulty_interval_estimates in the evidence below.
_FAULTY_ESTIMATE = "faulty_estimate"
_HOUSEHOLD = MeterKind.HOUSEHOLD.value
_BUILDING = MeterKind.BUILDING.value


class SqlBillingInputs(BillingInputs):
    """Bulk reads for billing runs from the read models on ``engine``."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def position(self) -> int:
        """The notification position the ledger's read models have applied up to (0: none).

        Raises ConflictError while a rebuild split over processes is under way (or failed and was
        not run again): the tables are half built, and a bill records the position it was read at."""
        tracking = projection_tracking.c
        with self.engine.connect() as connection:
            found = connection.execute(
                select(func.max(tracking.notification_id)).where(tracking.projection_name == LedgerProjection.name)
            ).scalar()
        if found == REBUILDING:
            raise ConflictError(
                "the read models are being rebuilt (heatledger projections rebuild --processes): "
                "bill after the rebuild has finished",
                message_key="read_models_rebuilding",
            )
        return int(found or 0)

    # -- households ---------------------------------------------------------------------------

    def households(self, community: str | None, limit: int, after: str | None = None) -> list[HouseholdFacts]:
        """The households of a community (None: the whole city), ordered by account number, at
        most ``limit``, those whose account number follows ``after`` when given (a keyset page:
        the unique index on the account number starts it where the page before ended).

        ``has_meter``: a household meter serves it now, or one served it once (a detached meter
        keeps its history in daily_consumption).
        """
        attached = exists().where(meters.c.household_id == households.c.household_id)
        metered_once = exists().where(
            daily_consumption.c.household_id == households.c.household_id,
            daily_consumption.c.meter_kind == _HOUSEHOLD,
        )
        statement = select(  # in the order of HouseholdFacts' fields
            households.c.household_id,
            households.c.account_number,
            households.c.community,
            households.c.building,
            households.c.customer_class,
            households.c.connected_area_m2,
            households.c.heated_area_m2,
            households.c.vertical_position,
            households.c.horizontal_position,
            households.c.suspended_since,
            or_(attached, metered_once).label("has_meter"),
            households.c.registered_on,
            households.c.deregistered_on,
        )
        if community is not None:
            statement = statement.where(households.c.community == community)
        if after is not None:
            statement = statement.where(households.c.account_number > after)
        statement = statement.order_by(households.c.account_number).limit(max(limit, 0))
        with self.engine.connect() as connection:
            rows = connection.execute(statement).all()
        # The columns are selected in the order of HouseholdFacts' fields: made by position, not
        # through a mapping per row (its keys were half of a page's read; a run reads every
        # household twice, checked then billed).
        return [HouseholdFacts(*row[:10], bool(row[10]), *row[11:]) for row in rows]

    def season_records(self, household_ids: Sequence[UUID], season: Season) -> dict[UUID, HouseholdSeasonRecord]:
        """Suspensions overlapping the season and owner changes inside it, for every household asked
        about (households with neither get an empty record)."""
        suspensions: dict[UUID, list[SuspensionSpan]] = defaultdict(list)
        owner_changes: dict[UUID, list[date]] = defaultdict(list)
        spans = household_suspensions.c
        changes = household_owner_changes.c
        with self.engine.connect() as connection:
            for chunk in _chunks(household_ids):
                # ended_on is the first day heated again: the span overlaps the season when it
                # started by the season's last day and was not resumed by its first day.
                span_rows = connection.execute(
                    select(spans.household_id, spans.started_on, spans.ended_on)
                    .where(
                        spans.household_id.in_(chunk),
                        spans.started_on <= season.last_day,
                        or_(spans.ended_on.is_(None), spans.ended_on > season.first_day),
                    )
                    .order_by(spans.household_id, spans.started_on)
                )
                for row in span_rows:
                    last_day = None if row.ended_on is None else row.ended_on - ONE_DAY
                    suspensions[row.household_id].append(SuspensionSpan(row.started_on, last_day))
                change_rows = connection.execute(
                    select(changes.household_id, changes.effective_on)
                    .where(
                        changes.household_id.in_(chunk),
                        changes.effective_on.between(season.first_day, season.last_day),
                    )
                    .order_by(changes.household_id, changes.effective_on)
                )
                for household_id, effective_on in change_rows:
                    owner_changes[household_id].append(effective_on)
        return {
            household_id: HouseholdSeasonRecord(
                tuple(suspensions.get(household_id, ())), tuple(owner_changes.get(household_id, ()))
            )
            for household_id in dict.fromkeys(household_ids)
        }

    # -- heat ---------------------------------------------------------------------------------

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

    def _end_readings(
        self,
        connection: Connection,
        chunk: Sequence[UUID],
        first_day: date,
        last_day: date,
        window_start: datetime,
        window_end: datetime,
    ) -> tuple[dict[UUID, str], dict[UUID, str]]:
        """Per household, the earliest reading at or after ``window_start`` and the latest at or
        before ``window_end`` among the readings that bound the household's own intervals in the
        days (so a meter moved to another flat gives this one only the readings of its time here)."""
        dc = daily_consumption.c
        mi, readings = meter_intervals.c, meter_readings.c
        # The household's intervals in the days, made distinct before anything is joined to them
        # (a day row per interval and day: 151 a season for monthly reads, 24 a day for hourly).
        # Their ends and the readings at their bounds are looked up by key, one correlated
        # lookup per interval and bound: joined, PostgreSQL's planner hashed the whole interval
        # and reading tables for a chunk's few thousand, a cost that grows with the city (issue
        # 17: per household 0.389 -> 0.151 ms on PostgreSQL, 0.267 -> 0.186 on SQLite, 10,000
        # households). (meter_id, start_at) and (meter_id, measured_at) are the tables' keys and
        # end_at and energy_gj are never NULL, so a NULL lookup is exactly a row the inner joins
        # dropped.
        starts = (
            select(dc.household_id, dc.meter_id, dc.interval_start_at)
            .where(dc.household_id.in_(chunk), dc.meter_kind == _HOUSEHOLD, dc.day.between(first_day, last_day))
            .distinct()
            .subquery("interval_starts")
        )
        end_at = (
            select(mi.end_at)
            .where(mi.meter_id == starts.c.meter_id, mi.start_at == starts.c.interval_start_at)
            .scalar_subquery()
        )
        intervals = select(
            starts.c.household_id, starts.c.meter_id, starts.c.interval_start_at, end_at.label("end_at")
        ).cte("household_intervals")
        bounds = union(
            select(intervals.c.household_id, intervals.c.meter_id, intervals.c.interval_start_at.label("at")).where(
                intervals.c.end_at.is_not(None)
            ),
            select(intervals.c.household_id, intervals.c.meter_id, intervals.c.end_at.label("at")).where(
                intervals.c.end_at.is_not(None)
            ),
        ).subquery("bounds")
        energy_gj = (
            select(readings.energy_gj)
            .where(readings.meter_id == bounds.c.meter_id, readings.measured_at == bounds.c.at)
            .scalar_subquery()
        )
        read = (
            select(
                bounds.c.household_id, bounds.c.meter_id, bounds.c.at.label("measured_at"), energy_gj.label("energy_gj")
            )
            .where(bounds.c.at.between(window_start, window_end))
            .subquery("read_bounds")
        )
        ranked = (
            select(
                read.c.household_id,
                meters.c.serial,
                read.c.measured_at,
                read.c.energy_gj,
                func.row_number()
                .over(partition_by=read.c.household_id, order_by=(read.c.measured_at.asc(), meters.c.serial.asc()))
                .label("from_first"),
                func.row_number()
                .over(partition_by=read.c.household_id, order_by=(read.c.measured_at.desc(), meters.c.serial.asc()))
                .label("from_last"),
            )
            .select_from(read)
            .join(meters, meters.c.meter_id == read.c.meter_id)
            .where(read.c.energy_gj.is_not(None))
            .subquery("ranked")
        )
        rows = connection.execute(
            select(ranked).where(or_(ranked.c.from_first == 1, ranked.c.from_last == 1))
        ).mappings()
        first: dict[UUID, str] = {}
        last: dict[UUID, str] = {}
        for row in rows:
            text = _reading_text(row["serial"], row["measured_at"], row["energy_gj"])
            if row["from_first"] == 1:
                first[row["household_id"]] = text
            if row["from_last"] == 1:
                last[row["household_id"]] = text
        return first, last

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

    def building_energy_gj(self, community: str, building: str, first_day: date, last_day: date) -> Decimal | None:
        """The heat the building meters of a building measured over the days: measured and estimated
        rows, and the recorded estimates of faulty intervals instead of their energy. None when the
        building has no building meter."""
        building_meters = select(meters.c.meter_id).where(
            meters.c.kind == _BUILDING, meters.c.community == community, meters.c.building == building
        )
        dc = daily_consumption.c
        fie = faulty_interval_estimates.c
        heat = union_all(
            select(dc.energy_gj.label("energy_gj")).where(
                dc.meter_kind == _BUILDING,
                dc.community == community,
                dc.building == building,
                dc.quality.in_((_MEASURED, _ESTIMATED)),
                dc.day.between(first_day, last_day),
            ),
            select(fie.estimated_energy_gj.label("energy_gj")).where(
                fie.meter_id.in_(building_meters), fie.day.between(first_day, last_day)
            ),
        ).subquery("heat")
        with self.engine.connect() as connection:
            if connection.execute(building_meters.limit(1)).first() is None:
                return None
            total = connection.execute(select(func.sum(heat.c.energy_gj))).scalar_one()
        return _energy(total)

    # -- heat far beyond the permissible error (projections/implausible_heat_queries.py) ----------

    def implausible_intervals(
        self, household_ids: Sequence[UUID], first_day: date, last_day: date
    ) -> dict[UUID, tuple[ImplausibleInterval, ...]]:
        """Per household, its meters' intervals on the days far beyond the MPE, with the decision."""
        return implausible_heat_queries.implausible_intervals(self.engine, household_ids, first_day, last_day)

    def interval_evidence(self, meter_serial: str, interval_start: datetime) -> IntervalEvidence | None:
        """The k·Δθ·ΔV evidence of a meter's interval, if it was checked."""
        return implausible_heat_queries.interval_evidence(self.engine, meter_serial, interval_start)


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


@contextmanager
def _bulk_read(engine: Engine) -> Iterator[Connection]:
    """A connection for a chunk's evidence reads: on PostgreSQL its transaction plans serially and
    without JIT (``_SERIAL_PLANS``, its sorts in memory; ``set_config(…, true)`` ends with the transaction, so the
    pooled connection goes back as it came)."""
    with engine.connect() as connection:
        if connection.dialect.name == "postgresql":
            connection.execute(_SERIAL_PLANS)
        yield connection


def _chunks(ids: Sequence[UUID]) -> Iterator[list[UUID]]:
    unique = list(dict.fromkeys(ids))
    for start in range(0, len(unique), CHUNK_SIZE):
        yield unique[start : start + CHUNK_SIZE]


def _local_midnight(day: date) -> datetime:
    return datetime.combine(day, time(0), BUSINESS_TIME_ZONE)


def _energy(value: Decimal | None) -> Decimal:
    return ZERO_ENERGY_GJ if value is None else value


def _reading_text(serial: str, measured_at: datetime, energy_gj: Decimal) -> str:
    """``M-1 2025-11-01T00:00:00+08:00 1234.567890000 GJ``: the meter, the local time, the register."""
    return f"{serial} {measured_at.astimezone(BUSINESS_TIME_ZONE).isoformat()} {energy_gj:f} GJ"
