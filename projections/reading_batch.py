"""Writes a run of ReadingRecorded events to the read models with a few statements per table.

A catch-up batch holds hundreds of readings. Writing each one with its own statements (insert
reading, read meter, insert interval, read household, insert days, update meter) made the
projection five times slower than ingestion, so readings are buffered here and written per table
with one executemany. Lookups of meters and households are cached for the run and cleared
whenever another kind of event may have changed them.

Rows are tuples in their table's column order, written by ``RowsInserter`` (one pass per column to
convert the values, no per-row machinery of SQLAlchemy): the same statements and values, at a
fraction of the cost (a season of hourly readings is about 13,000 rows).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any
from uuid import UUID

from sqlalchemy import Connection, bindparam, delete, select, text, update
from sqlalchemy.types import NullType

from domain.day_split import split_across_days
from domain.meter import Meter
from domain.readings import MeteredInterval
from projections.analytics_summary import apply_day_changes
from projections.bulk_insert import ConvertedValues, RowsInserter
from projections.evidence_months import apply_added_days, estimate_keys, keys_of
from projections.id_lists import among, binary_array
from projections.tables import (
    ENERGY_SCALE,
    daily_consumption,
    faulty_interval_estimates,
    households,
    meter_intervals,
    meter_readings,
    meters,
)
from projections.types import ScaledDecimal, UtcDateTime

IntervalKey = tuple[UUID, datetime]
Row = tuple[Any, ...]
_NOT_LOADED: Any = object()  # a household not looked up yet (None: looked up, not found)

READING_COLUMNS = (
    "meter_id",
    "measured_at",
    "energy_gj",
    "volume_m3",
    "operating_hours",
    "flow_temperature_c",
    "return_temperature_c",
    "flow_rate_m3_h",
    "power_kw",
    "error_flags",
    "source",
    "faulty",
    "batch_id",
    "recorded_at",
    "actor",
    "energy_unwrapped_gj",
    "volume_unwrapped_m3",
    "fingerprint",
    "limit_breaches",
)
INTERVAL_COLUMNS = (
    "meter_id",
    "start_at",
    "end_at",
    "energy_gj",
    "volume_m3",
    "household_id",
    "expected_energy_gj",
    "deviation_percent",
    "permissible_error_percent",
    "plausible",
    "quality",
    "limit_breaches",
)
DAY_COLUMNS = (
    "meter_id",
    "interval_start_at",
    "day",
    "energy_gj",
    "volume_m3",
    "household_id",
    "meter_kind",
    "quality",
    "community",
    "building",
)
# The row builders below write these orders: a column added to a table must be added here too.
assert tuple(meter_readings.c.keys()) == READING_COLUMNS, "meter_readings columns"
assert tuple(meter_intervals.c.keys()) == INTERVAL_COLUMNS, "meter_intervals columns"
assert tuple(daily_consumption.c.keys()) == DAY_COLUMNS, "daily_consumption columns"

_READINGS = RowsInserter(meter_readings)
_INTERVALS = RowsInserter(meter_intervals)
_DAYS = RowsInserter(daily_consumption)


@dataclass
class _MeterState:
    """What the writer needs of a meter row, with the changes not yet written."""

    kind: str
    community: str
    building: str
    last_measured_at: datetime | None
    last_energy_gj: Decimal | None
    new_readings: int = 0
    version: int | None = None


class ReadingBatchWriter:
    """Buffers the rows of reading events; ``flush`` writes them (call it before other writes)."""

    def __init__(self, connection: Connection, keep_summaries: bool = True) -> None:
        """``keep_summaries`` False: the summaries of the daily rows (``analytics_summary``,
        ``evidence_months``) are left alone, for a rebuild to write once from the rows at its end."""
        self.connection = connection
        self.keep_summaries = keep_summaries
        self._meters: dict[UUID, _MeterState] = {}
        self._places: dict[UUID, tuple[str, str] | None] = {}
        self._readings: list[Row] = []
        # Each interval's row and the rows of its days, by meter and start.
        self._intervals: dict[IntervalKey, tuple[Row, list[Row]]] = {}
        self._stale_intervals: set[IntervalKey] = set()

    # -- lookups ------------------------------------------------------------------------------

    def preload(self, events: Iterable[Any]) -> None:
        """Load every meter and household the reading events name, one query each."""
        readings = [event for event in events if isinstance(event, Meter.ReadingRecorded)]
        meter_ids = {event.originator_id for event in readings} - self._meters.keys()
        household_ids = {
            interval.household_id
            for event in readings
            for interval in event.intervals
            if interval.household_id is not None
        } - self._places.keys()
        if meter_ids:
            self._load_meters(meter_ids)
        if household_ids:
            self._load_places(household_ids)

    def forget_lookups(self) -> None:
        """Drop cached meters and households: another event may have changed them."""
        assert not self._has_pending(), "flush before forgetting lookups"
        self._meters.clear()
        self._places.clear()

    def _load_meters(self, meter_ids: set[UUID]) -> None:
        columns = (meters.c.meter_id, meters.c.kind, meters.c.community, meters.c.building)
        rows = self.connection.execute(
            select(*columns, meters.c.last_measured_at, meters.c.last_energy_gj).where(
                among(self.connection, meters.c.meter_id, meter_ids)
            )
        )
        for row in rows:
            self._meters[row.meter_id] = _MeterState(
                row.kind, row.community, row.building, row.last_measured_at, row.last_energy_gj
            )

    def _load_places(self, household_ids: set[UUID]) -> None:
        rows = self.connection.execute(
            select(households.c.household_id, households.c.community, households.c.building).where(
                among(self.connection, households.c.household_id, household_ids)
            )
        )
        found = {row.household_id: (row.community, row.building) for row in rows}
        for household_id in household_ids:
            self._places[household_id] = found.get(household_id)

    def _meter(self, meter_id: UUID) -> _MeterState:
        found = self._meters.get(meter_id)
        if found is None:
            self._load_meters({meter_id})
            found = self._meters[meter_id]
        return found

    def _place(self, household_id: UUID) -> tuple[str, str] | None:
        found: tuple[str, str] | None = self._places.get(household_id, _NOT_LOADED)
        if found is _NOT_LOADED:
            self._load_places({household_id})
            found = self._places[household_id]
        return found

    # -- buffering ----------------------------------------------------------------------------

    def add(self, event: Meter.ReadingRecorded) -> None:
        """Buffer the rows of one reading event."""
        meter_id = event.originator_id
        meter = self._meter(meter_id)
        self._readings.append(_reading_row(event))
        if event.replaced_interval_start is not None:
            self._remove_interval((meter_id, event.replaced_interval_start))
        for interval in event.intervals:
            self._add_interval(meter_id, interval, meter)
        if meter.last_measured_at is None or event.measured_at > meter.last_measured_at:
            meter.last_measured_at, meter.last_energy_gj = event.measured_at, event.energy_gj
        meter.new_readings += 1
        meter.version = event.originator_version

    def replace_intervals(
        self, meter_id: UUID, removed_starts: Iterable[datetime], added: Iterable[MeteredInterval]
    ) -> None:
        """Buffer the removal of intervals (by start) and the addition of others, as a voided
        reading needs: its two intervals go, the merged one comes."""
        for start in removed_starts:
            self._remove_interval((meter_id, start))
        meter = self._meter(meter_id)
        for interval in added:
            self._add_interval(meter_id, interval, meter)

    def _remove_interval(self, key: IntervalKey) -> None:
        if key in self._intervals:
            del self._intervals[key]
        else:
            self._stale_intervals.add(key)

    def _add_interval(self, meter_id: UUID, interval: MeteredInterval, meter: _MeterState) -> None:
        community, building = meter.community, meter.building
        place = self._place(interval.household_id) if interval.household_id is not None else None
        if place is not None:
            community, building = place
        shares = split_across_days(interval.start, interval.end, interval.energy_gj, interval.volume_m3 or Decimal(0))
        has_volume = interval.volume_m3 is not None
        days = [
            (
                meter_id,
                interval.start,
                share.day,
                share.energy_gj,
                share.volume_m3 if has_volume else None,
                interval.household_id,
                meter.kind,
                interval.quality,
                community,
                building,
            )
            for share in shares
        ]
        self._intervals[(meter_id, interval.start)] = (_interval_row(meter_id, interval), days)

    # -- writing ------------------------------------------------------------------------------

    def _has_pending(self) -> bool:
        return bool(self._readings or self._stale_intervals or self._intervals)

    def flush(self) -> None:
        """Write everything buffered: stale intervals out first, then new rows, then meters."""
        if not self._has_pending():
            return
        removed_days: list[Any] = []  # for the analytics summaries
        removed_estimates: list[Any] = []  # for the evidence months
        for meter_id, start in sorted(self._stale_intervals):
            removed_days += self.connection.execute(
                delete(daily_consumption)
                .where(daily_consumption.c.meter_id == meter_id, daily_consumption.c.interval_start_at == start)
                .returning(*daily_consumption.c)
            )
            self.connection.execute(
                delete(meter_intervals).where(
                    meter_intervals.c.meter_id == meter_id, meter_intervals.c.start_at == start
                )
            )
            removed_estimates += self.connection.execute(
                delete(faulty_interval_estimates)
                .where(
                    faulty_interval_estimates.c.meter_id == meter_id,
                    faulty_interval_estimates.c.interval_start_at == start,
                )
                .returning(
                    faulty_interval_estimates.c.household_id,
                    faulty_interval_estimates.c.meter_id,
                    faulty_interval_estimates.c.day,
                )
            )
        converted = ConvertedValues()  # the same times and quantities recur across the three tables
        _READINGS.insert(self.connection, self._readings, converted)
        _INTERVALS.insert(self.connection, [interval for interval, _ in self._intervals.values()], converted)
        added_days = [day for _, days in self._intervals.values() for day in days]
        _DAYS.insert(self.connection, added_days, converted)
        if self.keep_summaries:
            apply_day_changes(self.connection, added_days, removed_days)
            apply_added_days(self.connection, added_days, keys_of(removed_days) | estimate_keys(removed_estimates))
        self._write_meters()
        self._readings, self._intervals, self._stale_intervals = [], {}, set()

    def _write_meters(self) -> None:
        changed = [(meter_id, state) for meter_id, state in self._meters.items() if state.new_readings]
        if not changed:
            return
        if self.connection.dialect.name == "postgresql":
            _update_meters_at_once(self.connection, changed)
        else:
            _update_meters_one_by_one(self.connection, changed)
        for _, state in changed:
            state.new_readings, state.version = 0, None


def _update_meters_one_by_one(connection: Connection, changed: list[tuple[UUID, _MeterState]]) -> None:
    """Each changed meter's count, last reading and version: one UPDATE a meter (executemany; on SQLite,
    and the oracle of ``_update_meters_at_once`` in the tests)."""
    statement = (
        update(meters)
        .where(meters.c.meter_id == bindparam("target_meter_id"))
        .values(
            readings_count=meters.c.readings_count + bindparam("new_readings"),
            last_measured_at=bindparam("new_last_measured_at", type_=UtcDateTime),
            last_energy_gj=bindparam("new_last_energy_gj", type_=ScaledDecimal(9)),
            version=bindparam("new_version"),
        )
    )
    connection.execute(
        statement,
        [
            {
                "target_meter_id": meter_id,
                "new_readings": state.new_readings,
                "new_last_measured_at": state.last_measured_at,
                "new_last_energy_gj": state.last_energy_gj,
                "new_version": state.version,
            }
            for meter_id, state in changed
        ],
    )


# One statement for every meter of a batch on PostgreSQL: the executemany above runs its UPDATE once
# per meter on the server (a pipeline of prepared statements), and at a city's density a batch holds
# about one reading per meter, so once per reading. The values go as five binary arrays
# (projections/id_lists.binary_array), unnested side by side.
_UPDATE_METERS_AT_ONCE = text(
    "UPDATE meters SET readings_count = meters.readings_count + changed.new_readings, "
    "last_measured_at = changed.last_measured_at, last_energy_gj = changed.last_energy_gj, "
    "version = changed.version "
    "FROM unnest(CAST(:meter_ids AS uuid[]), CAST(:new_readings AS integer[]), "
    "CAST(:last_measured_at AS timestamptz[]), CAST(:last_energy_gj AS bigint[]), CAST(:versions AS integer[])) "
    "AS changed(meter_id, new_readings, last_measured_at, last_energy_gj, version) "
    "WHERE meters.meter_id = changed.meter_id"
).bindparams(
    *(bindparam(name, type_=NullType()) for name in ("meter_ids", "new_readings", "last_measured_at")),
    *(bindparam(name, type_=NullType()) for name in ("last_energy_gj", "versions")),
)
_TIME = UtcDateTime()
_ENERGY = ScaledDecimal(ENERGY_SCALE)


def _update_meters_at_once(connection: Connection, changed: list[tuple[UUID, _MeterState]]) -> None:
    """The same changes as ``_update_meters_one_by_one``, by one UPDATE … FROM unnest (PostgreSQL)."""
    dbapi_connection, dialect = connection.connection.dbapi_connection, connection.dialect
    states = [state for _, state in changed]
    result = connection.execute(
        _UPDATE_METERS_AT_ONCE,
        {
            "meter_ids": binary_array(dbapi_connection, (meter_id for meter_id, _ in changed)),
            "new_readings": binary_array(dbapi_connection, (state.new_readings for state in states)),
            "last_measured_at": binary_array(
                dbapi_connection, (_TIME.process_bind_param(state.last_measured_at, dialect) for state in states)
            ),
            "last_energy_gj": binary_array(
                dbapi_connection, (_ENERGY.process_bind_param(state.last_energy_gj, dialect) for state in states)
            ),
            "versions": binary_array(dbapi_connection, (state.version for state in states)),
        },
    )
    assert result.rowcount == len(changed), "every meter a reading was buffered for has its row"


def _reading_row(event: Meter.ReadingRecorded) -> Row:
    """A meter_readings row (READING_COLUMNS' order)."""
    return (
        event.originator_id,
        event.measured_at,
        event.energy_gj,
        event.volume_m3,
        event.operating_hours,
        event.flow_temperature_c,
        event.return_temperature_c,
        event.flow_rate_m3_h,
        event.power_kw,
        event.error_flags,
        event.source,
        event.faulty,
        event.batch_id,
        event.timestamp,
        event.actor,
        event.energy_unwrapped_gj,
        event.volume_unwrapped_m3,
        event.fingerprint,
        event.limit_breaches or None,
    )


def _interval_row(meter_id: UUID, interval: MeteredInterval) -> Row:
    """A meter_intervals row (INTERVAL_COLUMNS' order)."""
    return (
        meter_id,
        interval.start,
        interval.end,
        interval.energy_gj,
        interval.volume_m3,
        interval.household_id,
        interval.expected_energy_gj,
        interval.deviation_percent,
        interval.permissible_error_percent,
        interval.plausible,
        interval.quality,
        interval.limit_breaches or None,
    )
