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
from typing import Any, NamedTuple
from uuid import UUID

from sqlalchemy import (
    ColumnElement,
    Connection,
    Engine,
    exists,
    func,
    literal_column,
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
from projections.analytics_summary import month_of
from projections.evidence_months import (
    Bucket,
    BucketKey,
    buckets_of,
    household_evidence_months,
    next_month,
)
from projections.id_lists import among
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

        Read from ``household_evidence_months`` for the whole calendar months among the days and
        from the day rows for the days of a month the span starts or ends within
        (``projections/evidence_months.py``): a season of whole months is a few rows a household
        meter, whatever its readings' frequency.
        """
        total_days = (last_day - first_day).days + 1
        window = (_local_midnight(first_day), _local_midnight(last_day + ONE_DAY))
        span = _MonthSpan.of(first_day, last_day)
        result: dict[UUID, MeterEvidence] = {}
        with _bulk_read(self.engine) as connection:
            for chunk in _chunks(household_ids):
                per_meter = _meter_totals(connection, chunk, span)
                if not per_meter:
                    continue
                serials = {meter_id: totals[0] for (_, meter_id), totals in per_meter.items()}
                evidence = _household_totals(connection, per_meter, span, serials)
                first_readings, last_readings = self._evidence_ends(
                    connection, list(evidence), span, window, serials, (first_day, last_day)
                )
                for household_id, (
                    measured_gj,
                    estimated_gj,
                    days_measured,
                    days_usable,
                    meters_serials,
                ) in evidence.items():
                    result[household_id] = MeterEvidence(
                        measured_gj=measured_gj,
                        estimated_gj=estimated_gj,
                        days_measured=days_measured,
                        days_estimated=days_usable - days_measured,
                        days_without_data=total_days - days_usable,
                        meter_serials=meters_serials,
                        first_reading=first_readings.get(household_id, ""),
                        last_reading=last_readings.get(household_id, ""),
                    )
        return result

    def _evidence_ends(
        self,
        connection: Connection,
        household_ids: list[UUID],
        span: _MonthSpan,
        window: tuple[datetime, datetime],
        serials: dict[UUID, str],
        days: tuple[date, date],
    ) -> tuple[dict[UUID, str], dict[UUID, str]]:
        """``_end_readings``' answer from each household meter's first and last interval in the
        days: the earliest bound in the window is the first interval's start, or its end when it
        started before the window (the meter's intervals do not overlap, so every other bound is
        later); the latest is the last interval's end, or its start. A household any of whose
        candidate bounds has no reading or no interval (never the case in a consistent store) is
        answered by ``_end_readings`` itself."""
        window_start, window_end = window
        first: dict[UUID, tuple[datetime, str, Decimal]] = {}
        last: dict[UUID, tuple[datetime, str, Decimal]] = {}
        unsure: set[UUID] = set()
        for row in connection.execute(_ends_statement(connection, household_ids, span)):
            serial = serials.get(row.meter_id)
            if serial is None:  # a meter not projected: the join dropped its rows
                continue
            bounds = ((row.s0, row.r_s0), (row.e0, row.r_e0), (row.sn, row.r_sn), (row.en, row.r_en))
            if row.e0 is None or row.en is None:
                unsure.add(row.household_id)
                continue
            for at, energy_gj in bounds:
                if not window_start <= at <= window_end:
                    continue
                if energy_gj is None:
                    unsure.add(row.household_id)
                    continue
                found = first.get(row.household_id)
                if found is None or (at, serial) < found[:2]:
                    first[row.household_id] = (at, serial, energy_gj)
                found = last.get(row.household_id)
                if found is None or at > found[0] or (at == found[0] and serial < found[1]):
                    last[row.household_id] = (at, serial, energy_gj)
        first_texts = {household_id: _reading_text(s, at, e) for household_id, (at, s, e) in first.items()}
        last_texts = {household_id: _reading_text(s, at, e) for household_id, (at, s, e) in last.items()}
        if unsure:
            exact_first, exact_last = self._end_readings(connection, sorted(unsure), *days, *window)
            for household_id in unsure:
                first_texts.pop(household_id, None)
                last_texts.pop(household_id, None)
            first_texts.update(exact_first)
            last_texts.update(exact_last)
        return first_texts, last_texts

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
        calendar month of the season's business days; households without any such heat are absent
        (read as ``meter_evidence`` reads: whole months summed, the days of a month the season
        starts or ends within from their rows)."""
        span = _MonthSpan.of(season.first_day, season.last_day)
        by_household: dict[UUID, dict[str, Decimal]] = defaultdict(dict)
        with _bulk_read(self.engine) as connection:
            for chunk in _chunks(household_ids):
                for (household_id, _, month), bucket in sorted(
                    _buckets(connection, chunk, span).items(), key=_by_month
                ):
                    if not bucket.usable_days:  # faulty rows alone: no heat to bill
                        continue
                    months = by_household[household_id]
                    name = f"{month.year:04d}-{month.month:02d}"
                    months[name] = months.get(name, ZERO_ENERGY_GJ) + bucket.measured_gj + bucket.estimated_gj
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


class _MonthSpan(NamedTuple):
    """Days as the whole calendar months among them (their first days, in order) and the runs of
    days of a month they start or end within (at most two)."""

    months: tuple[date, ...]
    edges: tuple[tuple[date, date], ...]

    @classmethod
    def of(cls, first_day: date, last_day: date) -> _MonthSpan:
        months: list[date] = []
        edges: list[tuple[date, date]] = []
        day = first_day
        while day <= last_day:
            month_end = next_month(month_of(day)) - ONE_DAY
            end = min(month_end, last_day)
            if day.day == 1 and end == month_end:
                months.append(day)
            else:
                edges.append((day, end))
            day = end + ONE_DAY
        return cls(tuple(months), tuple(edges))


def _buckets(connection: Connection, chunk: Sequence[UUID], span: _MonthSpan) -> dict[BucketKey, Bucket]:
    """The households' evidence buckets over the span: the kept rows of its whole months, and
    buckets summed here from the day rows and estimates of its edge days."""
    buckets: dict[BucketKey, Bucket] = {}
    if span.months:
        kept = household_evidence_months.c
        rows = connection.execute(
            select(
                kept.household_id,
                kept.meter_id,
                kept.month,
                kept.measured_gj,
                kept.estimated_gj,
                kept.measured_days,
                kept.usable_days,
                kept.first_interval_start_at,
                kept.last_interval_start_at,
            ).where(among(connection, kept.household_id, chunk), kept.month.between(span.months[0], span.months[-1]))
        )
        for household_id, meter_id, month, *values in rows:
            buckets[(household_id, meter_id, month)] = Bucket(*values)
    if span.edges:
        buckets.update(_edge_buckets(connection, chunk, span))
    return buckets


def _edge_buckets(connection: Connection, chunk: Sequence[UUID], span: _MonthSpan) -> dict[BucketKey, Bucket]:
    """The households' buckets of the span's edge days, summed from their rows."""
    dc, fie = daily_consumption.c, faulty_interval_estimates.c
    day_rows = connection.execute(
        select(daily_consumption).where(
            among(connection, dc.household_id, chunk),
            dc.meter_kind == _HOUSEHOLD,
            _on_days(dc.day, span.edges),
        )
    )
    estimate_rows = connection.execute(
        select(fie.household_id, fie.meter_id, fie.day, fie.estimated_energy_gj).where(
            among(connection, fie.household_id, chunk), _on_days(fie.day, span.edges)
        )
    )
    return buckets_of(day_rows, estimate_rows)


def _by_month(item: tuple[BucketKey, Bucket]) -> tuple[UUID, date, UUID]:
    (household_id, meter_id, month), _ = item
    return household_id, month, meter_id


def _on_days(day: Any, runs: tuple[tuple[date, date], ...]) -> ColumnElement[bool]:
    return or_(*(day.between(first, last) for first, last in runs))


# Per household meter: its serial, heat measured and estimated, days measured and usable.
MeterTotals = list[Any]


def _meter_totals(
    connection: Connection, chunk: Sequence[UUID], span: _MonthSpan
) -> dict[tuple[UUID, UUID], MeterTotals]:
    """Each household meter's totals over the span: its whole months summed by the server (a
    month's days counted from its bits), the edge days' buckets added here. Meters that are not
    projected are left out, as a join to ``meters`` leaves their rows out."""
    totals: dict[tuple[UUID, UUID], MeterTotals] = {}
    if span.months:
        kept = household_evidence_months.c
        grouped = (
            select(
                kept.household_id,
                kept.meter_id,
                func.sum(kept.measured_gj).label("measured_gj"),
                func.sum(kept.estimated_gj).label("estimated_gj"),
                func.sum(_bit_count(kept.measured_days)).label("days_measured"),
                func.sum(_bit_count(kept.usable_days)).label("days_usable"),
            )
            .where(among(connection, kept.household_id, chunk), kept.month.between(span.months[0], span.months[-1]))
            .group_by(kept.household_id, kept.meter_id)
            .subquery("grouped")
        )
        # The serial by the meter's key, per group (as _end_readings' join found it).
        serial = select(meters.c.serial).where(meters.c.meter_id == grouped.c.meter_id).scalar_subquery()
        for household_id, meter_id, measured_gj, estimated_gj, days_measured, days_usable, found in connection.execute(
            select(grouped, serial.label("serial"))
        ):
            if found is not None:
                totals[(household_id, meter_id)] = [
                    found,
                    measured_gj,
                    estimated_gj,
                    int(days_measured),
                    int(days_usable),
                ]
    if span.edges:
        edge = _edge_buckets(connection, chunk, span)
        serials = _serials(connection, {meter_id for _, meter_id, _ in edge})
        for (household_id, meter_id, _), bucket in edge.items():
            found = serials.get(meter_id)
            if found is None:
                continue
            meter_totals = totals.setdefault((household_id, meter_id), [found, ZERO_ENERGY_GJ, ZERO_ENERGY_GJ, 0, 0])
            meter_totals[1] += bucket.measured_gj
            meter_totals[2] += bucket.estimated_gj
            meter_totals[3] += bucket.measured_days.bit_count()
            meter_totals[4] += bucket.usable_days.bit_count()
    return totals


def _household_totals(
    connection: Connection,
    per_meter: dict[tuple[UUID, UUID], MeterTotals],
    span: _MonthSpan,
    serials: dict[UUID, str],
) -> dict[UUID, HouseholdTotals]:
    """Each household's totals: its meter's, when one meter left rows in the span (nearly always);
    from its meters' months otherwise, where a day two meters covered counts once."""
    meters_of: dict[UUID, list[MeterTotals]] = defaultdict(list)
    for (household_id, _), totals in per_meter.items():
        meters_of[household_id].append(totals)
    evidence: dict[UUID, HouseholdTotals] = {}
    several = [household_id for household_id, found in meters_of.items() if len(found) > 1]
    for household_id, found in meters_of.items():
        if len(found) == 1:
            serial, measured_gj, estimated_gj, days_measured, days_usable = found[0]
            evidence[household_id] = (measured_gj, estimated_gj, days_measured, days_usable, (serial,))
    if several:
        evidence.update(_household_evidence(_buckets(connection, several, span), serials))
    return evidence


def _bit_count(days: Any) -> Any:
    """The bits set in a month's day mask (below 2³¹), in SQL both backends run: SQLite has no
    popcount. Pairs, nibbles and bytes summed in place, then the bytes summed by one product. The
    constants are written into the statement (PostgreSQL shifts a bigint by an integer only)."""

    def shifted(value: Any, bits: int) -> Any:
        return value.op(">>")(literal_column(str(bits)))

    def masked(value: Any, mask: int) -> Any:
        return value.op("&")(literal_column(str(mask)))

    pairs = days - masked(shifted(days, 1), 0x55555555)
    nibbles = masked(pairs, 0x33333333) + masked(shifted(pairs, 2), 0x33333333)
    octets = masked(nibbles + shifted(nibbles, 4), 0x0F0F0F0F)
    return masked(shifted(octets * literal_column(str(0x01010101)), 24), 0xFF)


def _serials(connection: Connection, meter_ids: set[UUID]) -> dict[UUID, str]:
    """The serials of the meters that are projected among ``meter_ids``."""
    rows = connection.execute(
        select(meters.c.meter_id, meters.c.serial).where(among(connection, meters.c.meter_id, sorted(meter_ids)))
    )
    return {meter_id: serial for meter_id, serial in rows}


# (measured heat, estimated heat, days measured, days usable, the serials of the meters)
HouseholdTotals = tuple[Decimal, Decimal, int, int, tuple[str, ...]]


def _household_evidence(buckets: dict[BucketKey, Bucket], serials: dict[UUID, str]) -> dict[UUID, HouseholdTotals]:
    """Each household's heat and days from its meters' buckets: the heat summed, a month's days
    OR-ed over the meters (a day two meters covered counts once) and counted. Buckets of meters
    that are not projected are left out, as a join to ``meters`` leaves their rows out."""
    heat: dict[UUID, list[Decimal]] = {}
    measured_days: dict[tuple[UUID, date], int] = defaultdict(int)
    usable_days: dict[tuple[UUID, date], int] = defaultdict(int)
    household_serials: dict[UUID, set[str]] = defaultdict(set)
    for (household_id, meter_id, month), bucket in buckets.items():
        serial = serials.get(meter_id)
        if serial is None:
            continue
        household_serials[household_id].add(serial)
        sums = heat.setdefault(household_id, [ZERO_ENERGY_GJ, ZERO_ENERGY_GJ])
        sums[0] += bucket.measured_gj
        sums[1] += bucket.estimated_gj
        measured_days[(household_id, month)] |= bucket.measured_days
        usable_days[(household_id, month)] |= bucket.usable_days
    counted: dict[UUID, list[int]] = {household_id: [0, 0] for household_id in heat}
    for (household_id, _), days in measured_days.items():
        counted[household_id][0] += days.bit_count()
    for (household_id, _), days in usable_days.items():
        counted[household_id][1] += days.bit_count()
    return {
        household_id: (*sums, *counted[household_id], tuple(sorted(household_serials[household_id])))  # type: ignore[misc]
        for household_id, sums in heat.items()
    }


def _ends_statement(connection: Connection, household_ids: Sequence[UUID], span: _MonthSpan) -> Any:
    """Per household meter with evidence in the span: the starts of its first and last intervals
    there (``s0``, ``sn``), their ends (``e0``, ``en``) and the registers read at all four
    (``r_…``), each looked up by key: a handful of look-ups a household, whatever the readings."""
    kept, dc = household_evidence_months.c, daily_consumption.c
    parts = []
    if span.months:
        parts.append(
            select(
                kept.household_id.label("household_id"),
                kept.meter_id.label("meter_id"),
                kept.first_interval_start_at.label("first_at"),
                kept.last_interval_start_at.label("last_at"),
            ).where(
                among(connection, kept.household_id, household_ids),
                kept.month.between(span.months[0], span.months[-1]),
                kept.first_interval_start_at.is_not(None),
            )
        )
    if span.edges:
        parts.append(
            select(
                dc.household_id.label("household_id"),
                dc.meter_id.label("meter_id"),
                dc.interval_start_at.label("first_at"),
                dc.interval_start_at.label("last_at"),
            ).where(
                among(connection, dc.household_id, household_ids),
                dc.meter_kind == _HOUSEHOLD,
                _on_days(dc.day, span.edges),
            )
        )
    spans = (parts[0] if len(parts) == 1 else union_all(*parts)).subquery("spans")
    grouped = (
        select(
            spans.c.household_id,
            spans.c.meter_id,
            func.min(spans.c.first_at).label("s0"),
            func.max(spans.c.last_at).label("sn"),
        )
        .group_by(spans.c.household_id, spans.c.meter_id)
        .subquery("grouped")
    )
    mi, readings = meter_intervals.c, meter_readings.c

    def end_of(start: Any) -> Any:
        return select(mi.end_at).where(mi.meter_id == grouped.c.meter_id, mi.start_at == start).scalar_subquery()

    ended = select(
        grouped.c.household_id,
        grouped.c.meter_id,
        grouped.c.s0,
        end_of(grouped.c.s0).label("e0"),
        grouped.c.sn,
        end_of(grouped.c.sn).label("en"),
    ).subquery("ended")

    def read_at(at: Any) -> Any:
        return (
            select(readings.energy_gj)
            .where(readings.meter_id == ended.c.meter_id, readings.measured_at == at)
            .scalar_subquery()
        )

    return select(
        ended.c.household_id,
        ended.c.meter_id,
        ended.c.s0,
        ended.c.e0,
        ended.c.sn,
        ended.c.en,
        read_at(ended.c.s0).label("r_s0"),
        read_at(ended.c.e0).label("r_e0"),
        read_at(ended.c.sn).label("r_sn"),
        read_at(ended.c.en).label("r_en"),
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
