"""Reads for monitoring: what did not get in, which meters went quiet, faulted or measure implausibly.

Records are frozen dataclasses of primitive values; every list is a page, newest first, bounded
by ``MAXIMUM_MONITORING_PAGE``. The read models (meters, intervals, readings) are this package's
own tables. The intake log (rejected readings, quarantined frames) belongs to the
infrastructure's ``ReadingIntake``; its two tables are handed in (``IntakeLogTables``), since
projections do not import the infrastructure.

SQLAlchemy Core only, the same on SQLite and PostgreSQL: no date arithmetic in SQL (the caller
passes the cut-off times), quantities come back as exact Decimals from their ScaledDecimal columns.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any, TypeVar
from uuid import UUID

from sqlalchemy import (
    ColumnElement,
    Engine,
    FromClause,
    Select,
    Table,
    and_,
    case,
    cast,
    false,
    func,
    literal,
    null,
    or_,
    select,
    true,
    union_all,
)

from domain.values import MeterKind, ReadingSource
from projections.queries import Page
from projections.tables import households, meter_intervals, meter_readings, meters

# A bound on any monitoring page, whatever the caller asks for.
MAXIMUM_MONITORING_PAGE = 500
SECONDS_PER_DAY = 86400

RecordType = TypeVar("RecordType")


@dataclass(frozen=True)
class IntakeLogTables:
    """The intake log's tables (``infrastructure.intake``): rejected readings, quarantined frames."""

    rejected_readings: Table
    quarantined_frames: Table


@dataclass(frozen=True)
class UnknownMeterRecord:
    """A meter identification that quarantined frames name, and how often and when it was seen."""

    identification: str
    manufacturer: str | None
    frames: int
    first_seen_at: datetime
    last_seen_at: datetime


@dataclass(frozen=True)
class RejectedReadingRecord:
    """A reading the ledger refused: when, through which channel, the rule and its message params."""

    rejection_id: int
    received_at: datetime
    channel: str
    actor: str
    batch_id: UUID
    item_index: int
    meter_serial: str
    measured_at: datetime | None
    reason: str
    message_key: str | None
    message: str
    params: dict[str, Any]


@dataclass(frozen=True)
class SilentMeterRecord:
    """A meter that has not reported for a while (or ever, since its commissioning)."""

    serial: str
    kind: str
    community: str
    building: str
    household_account_number: str | None
    commissioned_at: datetime
    last_measured_at: datetime | None
    silent_since: datetime
    days_silent: int


@dataclass(frozen=True)
class ImplausibleIntervalRecord:
    """An interval whose energy disagrees with k·Δθ·ΔV by more than the meter's permissible error."""

    serial: str
    community: str
    building: str
    household_account_number: str | None
    start_at: datetime
    end_at: datetime
    energy_gj: Decimal
    volume_m3: Decimal | None
    expected_energy_gj: Decimal
    deviation_percent: Decimal
    permissible_error_percent: Decimal


@dataclass(frozen=True)
class FaultyMeterRecord:
    """A meter that reports error flags now, or whose newest reading is faulty (a sensor fault value)."""

    serial: str
    kind: str
    community: str
    building: str
    household_account_number: str | None
    error_flags: int
    fault_since: datetime | None
    last_measured_at: datetime | None
    last_reading_faulty: bool


@dataclass(frozen=True)
class LimitBreachRecord:
    """A reading or an interval beyond its meter model's rated limits, with the rules it breaks
    (``domain.rated_limits.LimitRule``), the values that break them and the meter's limits.

    A reading shows its instant values (``start_at`` = ``end_at``, its moment); an interval its
    energy and volume increase and mean flow, and the household billed for it."""

    serial: str
    community: str
    building: str
    household_account_number: str | None
    scope: str  # "reading" or "interval"
    start_at: datetime
    end_at: datetime
    rules: list[str]
    flow_temperature_c: Decimal | None
    return_temperature_c: Decimal | None
    flow_rate_m3_h: Decimal | None
    power_kw: Decimal | None
    energy_gj: Decimal | None
    volume_m3: Decimal | None
    mean_flow_m3_h: Decimal | None
    permanent_flow_m3_h: Decimal | None
    maximum_flow_m3_h: Decimal | None
    minimum_temperature_c: Decimal | None
    maximum_temperature_c: Decimal | None
    minimum_temperature_difference_k: Decimal | None


_METER_LIMITS = (
    meters.c.permanent_flow_m3_h,
    meters.c.maximum_flow_m3_h,
    meters.c.minimum_temperature_c,
    meters.c.maximum_temperature_c,
    meters.c.minimum_temperature_difference_k,
)


_METER_PLACE = (
    meters.c.serial,
    meters.c.kind,
    meters.c.community,
    meters.c.building,
    households.c.account_number.label("household_account_number"),
)


class MonitoringQueries:
    """The monitoring lists, from the read models on ``engine`` and the intake log's tables."""

    def __init__(self, engine: Engine, intake_log: IntakeLogTables) -> None:
        self.engine = engine
        self.intake_log = intake_log

    # -- the intake log -------------------------------------------------------------------------

    def unknown_meters(self, limit: int = 50, offset: int = 0) -> Page[UnknownMeterRecord]:
        """Identifications named by quarantined frames, grouped, most recently seen first."""
        frames = self.intake_log.quarantined_frames
        grouping = (frames.c.identification, frames.c.manufacturer)
        last_seen = func.max(frames.c.received_at)
        statement = (
            select(
                *grouping,
                func.count().label("frames"),
                func.min(frames.c.received_at).label("first_seen_at"),
                last_seen.label("last_seen_at"),
            )
            .where(frames.c.identification.is_not(None))
            .group_by(*grouping)
            .order_by(last_seen.desc(), frames.c.identification, frames.c.manufacturer)
        )
        groups = select(*grouping).where(frames.c.identification.is_not(None)).group_by(*grouping).subquery()
        total = select(func.count()).select_from(groups)
        return self._page(statement, total, limit, offset, _unknown_meter)

    def rejected_readings(
        self,
        meter_serial: str | None = None,
        reason: str | None = None,
        channel: str | None = None,
        limit: int = 50,
        offset: int = 0,
    ) -> Page[RejectedReadingRecord]:
        """Rejected readings, newest first, optionally of one meter, rule or channel."""
        rejected = self.intake_log.rejected_readings
        filters = {rejected.c.meter_serial: meter_serial, rejected.c.reason: reason, rejected.c.channel: channel}
        conditions = [column == value for column, value in filters.items() if value is not None]
        statement = select(rejected).where(*conditions).order_by(rejected.c.rejection_id.desc())
        total = select(func.count()).select_from(rejected).where(*conditions)
        return self._page(statement, total, limit, offset, _rejected_reading)

    # -- the read models ------------------------------------------------------------------------

    def silent_meters(
        self, now: datetime, days: int, community: str | None = None, limit: int = 50, offset: int = 0
    ) -> Page[SilentMeterRecord]:
        """Meters in service whose newest reading is more than ``days`` days before ``now``, or that
        never reported and were commissioned that long ago; the most recently silent first.

        Estimated readings do not count: they stand in for the readings of a silent meter. Meters
        in service: not decommissioned, and household meters only while they serve a household
        (one lying in the store is not expected to report).
        """
        assert days > 0, "silence is counted in whole days, at least one"
        cut_off = now - timedelta(days=days)
        newest = meter_readings.alias("newest_reading")
        newest_join = and_(newest.c.meter_id == meters.c.meter_id, newest.c.measured_at == meters.c.last_measured_at)
        last_reported = _newest_reported(newest)
        silent_since = func.coalesce(last_reported, meters.c.commissioned_at)
        conditions = [
            meters.c.decommissioned_at.is_(None),
            or_(meters.c.kind != MeterKind.HOUSEHOLD.value, meters.c.household_id.is_not(None)),
            # A meter's readings are never older than its commissioning, so one comparison does.
            silent_since < cut_off,
            *_community_condition(community),
        ]
        source = _meters_with_households().outerjoin(newest, newest_join)
        statement = (
            select(
                *_METER_PLACE,
                meters.c.commissioned_at,
                last_reported.label("last_measured_at"),
                silent_since.label("silent_since"),
            )
            .select_from(source)
            .where(*conditions)
            .order_by(silent_since.desc(), meters.c.serial)
        )
        total = select(func.count()).select_from(source).where(*conditions)
        return self._page(statement, total, limit, offset, lambda row: _silent_meter(row, now))

    def implausible_intervals(
        self,
        start: datetime | None = None,
        end: datetime | None = None,
        community: str | None = None,
        limit: int = 50,
        offset: int = 0,
    ) -> Page[ImplausibleIntervalRecord]:
        """Intervals that fail the k·Δθ·ΔV check, overlapping ``[start, end)``; the latest first.

        The household is the one billed for the interval; the community and building are where
        the meter sits now.
        """
        conditions: list[ColumnElement[bool]] = [meter_intervals.c.plausible == false()]
        if start is not None:
            conditions.append(meter_intervals.c.end_at > start)
        if end is not None:
            conditions.append(meter_intervals.c.start_at < end)
        conditions.extend(_community_condition(community))
        source = meter_intervals.join(meters, meter_intervals.c.meter_id == meters.c.meter_id).outerjoin(
            households, meter_intervals.c.household_id == households.c.household_id
        )
        statement = (
            select(
                meters.c.serial,
                meters.c.community,
                meters.c.building,
                households.c.account_number.label("household_account_number"),
                meter_intervals.c.start_at,
                meter_intervals.c.end_at,
                meter_intervals.c.energy_gj,
                meter_intervals.c.volume_m3,
                meter_intervals.c.expected_energy_gj,
                meter_intervals.c.deviation_percent,
                meter_intervals.c.permissible_error_percent,
            )
            .select_from(source)
            .where(*conditions)
            .order_by(meter_intervals.c.end_at.desc(), meters.c.serial)
        )
        total = select(func.count()).select_from(source).where(*conditions)
        return self._page(statement, total, limit, offset, _implausible_interval)

    def faulty_meters(self, community: str | None = None, limit: int = 50, offset: int = 0) -> Page[FaultyMeterRecord]:
        """Meters in service with error flags set, or whose newest reading is faulty; the most
        recent fault first (by when the flags appeared, else by the faulty reading's time)."""
        newest = meter_readings.alias("newest_reading")
        newest_join = and_(newest.c.meter_id == meters.c.meter_id, newest.c.measured_at == meters.c.last_measured_at)
        source = _meters_with_households().outerjoin(newest, newest_join)
        last_reading_faulty = func.coalesce(newest.c.faulty, false())
        conditions = [
            meters.c.decommissioned_at.is_(None),
            or_(meters.c.error_flags != 0, newest.c.faulty == true()),
            *_community_condition(community),
        ]
        fault_time = func.coalesce(meters.c.fault_since, meters.c.last_measured_at)
        statement = (
            select(
                *_METER_PLACE,
                meters.c.error_flags,
                meters.c.fault_since,
                meters.c.last_measured_at,
                last_reading_faulty.label("last_reading_faulty"),
            )
            .select_from(source)
            .where(*conditions)
            .order_by(fault_time.desc(), meters.c.serial)
        )
        total = select(func.count()).select_from(source).where(*conditions)
        return self._page(statement, total, limit, offset, _faulty_meter)

    def limit_breaches(
        self,
        start: datetime | None = None,
        end: datetime | None = None,
        community: str | None = None,
        limit: int = 50,
        offset: int = 0,
    ) -> Page[LimitBreachRecord]:
        """Readings and intervals beyond their meter's rated limits, within ``[start, end)``; the
        latest first. A reading's household is the one its meter serves now; an interval's the
        one billed for it."""
        breaches = union_all(_reading_breaches(start, end, community), _interval_breaches(start, end, community))
        listed = breaches.subquery("limit_breaches")
        statement = select(listed).order_by(listed.c.end_at.desc(), listed.c.serial, listed.c.scope)
        total = select(func.count()).select_from(listed)
        return self._page(statement, total, limit, offset, _limit_breach)

    # -- helpers --------------------------------------------------------------------------------

    def _page(
        self,
        statement: Select[Any],
        total: Select[Any],
        limit: int,
        offset: int,
        record: Callable[[Any], RecordType],
    ) -> Page[RecordType]:
        assert limit > 0 and offset >= 0, "a page holds at least one record and starts at 0 or later"
        bounded = min(limit, MAXIMUM_MONITORING_PAGE)
        with self.engine.connect() as connection:
            items = [record(row) for row in connection.execute(statement.limit(bounded).offset(offset)).mappings()]
            count = int(connection.execute(total).scalar_one())
        return Page(items, count, has_more=offset + len(items) < count)


def _meters_with_households() -> FromClause:
    return meters.outerjoin(households, meters.c.household_id == households.c.household_id)


def _newest_reported(newest: FromClause) -> ColumnElement[datetime]:
    """The time of a meter's newest reading that is not an estimate, given its newest reading.

    Estimates only ever extend a meter's history past its newest real reading, so the search
    for an older one is needed (and made) only when the newest reading is an estimate.
    """
    older = meter_readings.alias("older_reading")
    newest_real = (
        select(func.max(older.c.measured_at))
        .where(older.c.meter_id == meters.c.meter_id, older.c.source != ReadingSource.ESTIMATE.value)
        .scalar_subquery()
    )
    return case((newest.c.source == ReadingSource.ESTIMATE.value, newest_real), else_=meters.c.last_measured_at)


def _community_condition(community: str | None) -> Sequence[ColumnElement[bool]]:
    return [meters.c.community == community] if community is not None else []


def _unknown_meter(row: Any) -> UnknownMeterRecord:
    return UnknownMeterRecord(
        row["identification"], row["manufacturer"], int(row["frames"]), row["first_seen_at"], row["last_seen_at"]
    )


def _rejected_reading(row: Any) -> RejectedReadingRecord:
    values = dict(row)
    values["params"] = json.loads(values["params"])
    return RejectedReadingRecord(**values)


def _silent_meter(row: Any, now: datetime) -> SilentMeterRecord:
    silent_since: datetime = row["silent_since"]
    assert silent_since < now, "a silent meter last reported before now"
    days_silent = int((now - silent_since).total_seconds() // SECONDS_PER_DAY)
    return SilentMeterRecord(**{**row, "days_silent": days_silent})


def _implausible_interval(row: Any) -> ImplausibleIntervalRecord:
    record = ImplausibleIntervalRecord(**row)
    assert abs(record.deviation_percent) > record.permissible_error_percent, "an implausible interval deviates"
    return record


def _nothing(type_: Any) -> ColumnElement[Any]:
    return cast(null(), type_)


def _reading_breaches(start: datetime | None, end: datetime | None, community: str | None) -> Select[Any]:
    readings = meter_readings.c
    conditions = [readings.limit_breaches.is_not(None), *_community_condition(community)]
    if start is not None:
        conditions.append(readings.measured_at >= start)
    if end is not None:
        conditions.append(readings.measured_at < end)
    source = meter_readings.join(meters, readings.meter_id == meters.c.meter_id).outerjoin(
        households, meters.c.household_id == households.c.household_id
    )
    return (
        select(
            meters.c.serial,
            meters.c.community,
            meters.c.building,
            households.c.account_number.label("household_account_number"),
            literal("reading").label("scope"),
            readings.measured_at.label("start_at"),
            readings.measured_at.label("end_at"),
            readings.limit_breaches.label("rules"),
            readings.flow_temperature_c,
            readings.return_temperature_c,
            readings.flow_rate_m3_h,
            readings.power_kw,
            _nothing(readings.energy_gj.type).label("energy_gj"),
            _nothing(readings.volume_m3.type).label("volume_m3"),
            *_METER_LIMITS,
        )
        .select_from(source)
        .where(*conditions)
    )


def _interval_breaches(start: datetime | None, end: datetime | None, community: str | None) -> Select[Any]:
    intervals = meter_intervals.c
    conditions = [intervals.limit_breaches.is_not(None), *_community_condition(community)]
    if start is not None:
        conditions.append(intervals.end_at > start)
    if end is not None:
        conditions.append(intervals.start_at < end)
    source = meter_intervals.join(meters, intervals.meter_id == meters.c.meter_id).outerjoin(
        households, intervals.household_id == households.c.household_id
    )
    instant = meter_readings.c.flow_temperature_c.type
    return (
        select(
            meters.c.serial,
            meters.c.community,
            meters.c.building,
            households.c.account_number.label("household_account_number"),
            literal("interval").label("scope"),
            intervals.start_at,
            intervals.end_at,
            intervals.limit_breaches.label("rules"),
            _nothing(instant).label("flow_temperature_c"),
            _nothing(instant).label("return_temperature_c"),
            _nothing(instant).label("flow_rate_m3_h"),
            _nothing(instant).label("power_kw"),
            intervals.energy_gj,
            intervals.volume_m3,
            *_METER_LIMITS,
        )
        .select_from(source)
        .where(*conditions)
    )


def _limit_breach(row: Any) -> LimitBreachRecord:
    values = dict(row)
    values["rules"] = values["rules"].split(",")
    hours = Decimal((values["end_at"] - values["start_at"]).total_seconds()) / 3600
    volume = values["volume_m3"]
    mean_flow = (volume / hours).quantize(Decimal("0.001")) if volume is not None and hours > 0 else None
    record = LimitBreachRecord(**values, mean_flow_m3_h=mean_flow)
    assert record.rules and all(record.rules), "a listed breach names the rules it breaks"
    return record


def _faulty_meter(row: Any) -> FaultyMeterRecord:
    values = dict(row)
    values["last_reading_faulty"] = bool(values["last_reading_faulty"])
    record = FaultyMeterRecord(**values)
    assert record.error_flags != 0 or record.last_reading_faulty, "a faulty meter has flags or a faulty reading"
    return record
