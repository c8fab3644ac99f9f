"""Room telemetry read models (issue 14), from the room controllers' ``ReportRecorded`` events:

- ``room_temperature_days``: per household and business day (Asia/Shanghai), the room
  temperature's samples, minimum, maximum and sum (the mean is sum / samples);
- ``valve_open_hours_days``: per household and business day, the hours its valve was open, from
  the differences of the controller's accumulated ``valve_open_hours_total`` between consecutive
  reports, shared across the days between them in proportion to time. These feed the on-off
  time-area allocation (通断时间面积法) when a clerk types no hours;
- ``room_controller_health``: per device, its latest report (last seen, battery, signal, valve,
  temperatures) and since when its room has been below 18 °C, for the under-heated list.

Reports may arrive out of order (a controller that was offline uploads its backlog). Day
temperatures do not depend on order. Valve hours are taken only from a report newer than the
last one that counted: an older report neither adds hours nor moves the counter's baseline. A
counter that went down (the controller was reset or replaced) starts a new baseline and adds
nothing; an increase larger than the time elapsed (the counter cannot run faster than the clock)
is capped at the time elapsed.

Written set-based (``RoomTelemetryWriter``): the runner's batch hands the writer its reports, and
the writer reads the controllers and their health rows with one query each, folds the reports in
order in memory, and writes each table's new rows with one executemany and its changed rows with
another. Written one statement per report, catch-up took 220-480 reports/s (docs/valves.md).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any
from uuid import UUID

from sqlalchemy import Column, Connection, Date, Index, Integer, String, Table, bindparam, select, tuple_, update

from domain.day_split import business_day, split_across_days
from domain.valve import RoomController
from projections.bulk_insert import RowsInserter
from projections.tables import INSTANT_SCALE, metadata
from projections.types import ScaledDecimal, UtcDateTime
from projections.valve_commands import room_controllers

# The national minimum room temperature in heated homes (GB 50736, 18 °C): a room below it for
# the configured time is under-heated. A constant, not a setting: the read model must rebuild alike.
UNDER_HEATED_BELOW_C = Decimal(18)
OPEN_HOURS_SCALE = 6
SECONDS_PER_HOUR = Decimal(3600)

room_temperature_days = Table(
    "room_temperature_days",
    metadata,
    Column("account_number", String(64), primary_key=True),
    Column("day", Date, primary_key=True),
    Column("samples", Integer, nullable=False),
    Column("minimum_c", ScaledDecimal(INSTANT_SCALE), nullable=False),
    Column("maximum_c", ScaledDecimal(INSTANT_SCALE), nullable=False),
    Column("total_c", ScaledDecimal(INSTANT_SCALE), nullable=False),
)

valve_open_hours_days = Table(
    "valve_open_hours_days",
    metadata,
    Column("account_number", String(64), primary_key=True),
    Column("day", Date, primary_key=True),
    Column("open_hours", ScaledDecimal(OPEN_HOURS_SCALE), nullable=False),
)

room_controller_health = Table(
    "room_controller_health",
    metadata,
    Column("device_id", String(64), primary_key=True),
    Column("account_number", String(64), nullable=False, index=True),
    Column("reports", Integer, nullable=False),
    Column("last_seen_at", UtcDateTime, nullable=False),  # the newest report's measured_at
    Column("last_report_id", String(64), nullable=False),
    Column("last_source", String(16), nullable=False),
    Column("room_temperature_c", ScaledDecimal(INSTANT_SCALE), nullable=True),
    Column("humidity_percent", ScaledDecimal(INSTANT_SCALE), nullable=True),
    Column("set_temperature_c", ScaledDecimal(INSTANT_SCALE), nullable=True),
    Column("valve_gear", Integer, nullable=True),
    Column("valve_state", String(16), nullable=True),
    Column("signal_dbm", Integer, nullable=True),
    Column("battery_percent", Integer, nullable=True),
    # The counter reading that the last valve hours were taken from, and when it was measured.
    Column("open_hours_total", ScaledDecimal(INSTANT_SCALE), nullable=True),
    Column("open_hours_measured_at", UtcDateTime, nullable=True),
    # The first report of the current run of reports below UNDER_HEATED_BELOW_C (None: not below).
    Column("below_minimum_since", UtcDateTime, nullable=True),
    Index("ix_room_controller_health_below", "below_minimum_since"),
)

ROOM_TELEMETRY_TABLES = (room_temperature_days, valve_open_hours_days, room_controller_health)

# Keys per look-up (SELECT … WHERE (account_number, day) IN …: two parameters a key).
LOOKUP_CHUNK = 400
# Reports buffered before the writer writes them without being asked (a bound on its memory;
# the runner's batches hold 5,000 events at most).
MAXIMUM_BUFFERED_REPORTS = 20_000

DayKey = tuple[str, date]  # (account_number, business day)
Health = dict[str, Any]  # a room_controller_health row, by column name

HEALTH_COLUMNS = tuple(room_controller_health.c.keys())
# The rows below are written in these orders: a column added to a table must be added there too.
assert tuple(room_temperature_days.c.keys())[:3] == ("account_number", "day", "samples"), "room_temperature_days"
assert tuple(valve_open_hours_days.c.keys()) == ("account_number", "day", "open_hours"), "valve_open_hours_days"
assert HEALTH_COLUMNS[0] == "device_id", "room_controller_health's key comes first"
_TEMPERATURE_DAYS = RowsInserter(room_temperature_days)
_OPEN_HOURS_DAYS = RowsInserter(valve_open_hours_days)
_HEALTH = RowsInserter(room_controller_health)


@dataclass
class _DayTemperatures:
    """A household's room temperatures of one day: samples, lowest, highest and their sum."""

    samples: int
    minimum_c: Decimal
    maximum_c: Decimal
    total_c: Decimal

    def add(self, other: _DayTemperatures) -> None:
        self.samples += other.samples
        self.minimum_c = min(self.minimum_c, other.minimum_c)
        self.maximum_c = max(self.maximum_c, other.maximum_c)
        self.total_c += other.total_c


class RoomTelemetryWriter:
    """Buffers ``ReportRecorded`` events; ``flush`` writes them with a few statements per table.

    The three tables are written by this writer alone, and the one row it reads besides them (a
    controller's device id and household, in ``room_controllers``) is inserted once at the
    controller's installation and never changed: so the reports of a batch may be written after
    the other events of that batch, in one go, and give the rows that writing each at its turn
    would give (a property test holds the two equal)."""

    def __init__(self, connection: Connection) -> None:
        self.connection = connection
        self._reports: list[RoomController.ReportRecorded] = []

    def add(self, event: RoomController.ReportRecorded) -> None:
        """Buffer one report (written at the next ``flush``)."""
        self._reports.append(event)
        if len(self._reports) >= MAXIMUM_BUFFERED_REPORTS:
            self.flush()

    def flush(self) -> None:
        """Write the buffered reports: look-ups first (controllers, their health rows), then the
        reports folded in order in memory, then each table's new rows and changed rows."""
        if not self._reports:
            return
        reports, self._reports = self._reports, []
        devices = _devices(self.connection, {report.originator_id for report in reports})
        fold = _Fold(_stored_health(self.connection, {device_id for device_id, _ in devices.values()}))
        for report in reports:
            fold.apply(devices[report.originator_id], report)
        _write_temperatures(self.connection, fold.temperatures)
        _write_open_hours(self.connection, fold.open_hours)
        _write_health(self.connection, fold.health, fold.stored_health)


class _Fold:
    """The reports of a batch applied in order: each controller's health row as it goes, and
    what the batch adds to each household's day temperatures and valve hours."""

    def __init__(self, stored_health: dict[str, Health]) -> None:
        self.stored_health = frozenset(stored_health)  # devices that have a row already
        self.health = stored_health
        self.temperatures: dict[DayKey, _DayTemperatures] = {}
        self.open_hours: dict[DayKey, Decimal] = {}

    def apply(self, device: tuple[str, str], event: RoomController.ReportRecorded) -> None:
        device_id, account_number = device
        health = self.health.get(device_id)
        if event.room_temperature_c is not None:
            self._add_temperature((account_number, business_day(event.measured_at)), event.room_temperature_c)
        baseline = self._add_open_hours(account_number, health, event)
        if health is None:
            self.health[device_id] = _first_health(device_id, account_number, event, baseline)
        else:
            health.update(_next_health(health, event, baseline))

    def _add_temperature(self, key: DayKey, temperature_c: Decimal) -> None:
        sample = _DayTemperatures(1, temperature_c, temperature_c, temperature_c)
        known = self.temperatures.get(key)
        if known is None:
            self.temperatures[key] = sample
        else:
            known.add(sample)

    def _add_open_hours(
        self, account_number: str, health: Health | None, event: RoomController.ReportRecorded
    ) -> tuple[Decimal, datetime] | None:
        """Book the valve hours since the last counted report; returns the counter's new baseline
        (None: keep the old one, because this report is older or carries no counter)."""
        total = event.valve_open_hours_total
        if total is None:
            return None
        previous_total = health["open_hours_total"] if health is not None else None
        previous_at = health["open_hours_measured_at"] if health is not None else None
        if previous_total is None or previous_at is None:
            return total, event.measured_at
        if event.measured_at <= previous_at:
            return None
        elapsed_hours = Decimal((event.measured_at - previous_at).total_seconds()) / SECONDS_PER_HOUR
        grown = min(total - previous_total, elapsed_hours).quantize(Decimal(1).scaleb(-OPEN_HOURS_SCALE))
        if grown > 0:
            for share in split_across_days(previous_at, event.measured_at, grown):
                if share.energy_gj != 0:
                    key = (account_number, share.day)
                    self.open_hours[key] = self.open_hours.get(key, Decimal(0)) + share.energy_gj
        return total, event.measured_at


def _latest_values(event: RoomController.ReportRecorded) -> dict[str, Any]:
    return {
        "last_seen_at": event.measured_at,
        "last_report_id": event.report_id,
        "last_source": event.source,
        "room_temperature_c": event.room_temperature_c,
        "humidity_percent": event.humidity_percent,
        "set_temperature_c": event.set_temperature_c,
        "valve_gear": event.valve_gear,
        "valve_state": event.valve_state,
        "signal_dbm": event.signal_dbm,
        "battery_percent": event.battery_percent,
    }


def _below_since(previous: datetime | None, event: RoomController.ReportRecorded) -> datetime | None:
    if event.room_temperature_c is None:
        return previous
    if event.room_temperature_c >= UNDER_HEATED_BELOW_C:
        return None
    return previous if previous is not None else event.measured_at


def _first_health(device_id: str, account_number: str, event: RoomController.ReportRecorded, baseline: Any) -> Health:
    return {
        "device_id": device_id,
        "account_number": account_number,
        "reports": 1,
        **_latest_values(event),
        "open_hours_total": baseline[0] if baseline else None,
        "open_hours_measured_at": baseline[1] if baseline else None,
        "below_minimum_since": _below_since(None, event),
    }


def _next_health(health: Health, event: RoomController.ReportRecorded, baseline: Any) -> dict[str, Any]:
    values: dict[str, Any] = {"reports": health["reports"] + 1}
    if baseline is not None:
        values |= {"open_hours_total": baseline[0], "open_hours_measured_at": baseline[1]}
    if event.measured_at >= health["last_seen_at"]:  # an older report from a backlog changes no latest value
        values |= _latest_values(event)
        values["below_minimum_since"] = _below_since(health["below_minimum_since"], event)
    return values


# -- reading --------------------------------------------------------------------------------------


def _chunks(keys: Iterable[Any]) -> Iterator[list[Any]]:
    ordered = sorted(keys)
    for start in range(0, len(ordered), LOOKUP_CHUNK):
        yield ordered[start : start + LOOKUP_CHUNK]


def _devices(connection: Connection, controller_ids: set[UUID]) -> dict[UUID, tuple[str, str]]:
    """Each controller's device id and household account (every report's controller is installed)."""
    table = room_controllers.c
    found: dict[UUID, tuple[str, str]] = {}
    for chunk in _chunks(controller_ids):
        query = select(table.controller_id, table.device_id, table.account_number).where(table.controller_id.in_(chunk))
        found |= {row.controller_id: (row.device_id, row.account_number) for row in connection.execute(query)}
    missing = controller_ids - found.keys()
    assert not missing, f"reports of controllers never installed: {sorted(map(str, missing))[:3]}"
    return found


def _stored_health(connection: Connection, device_ids: set[str]) -> dict[str, Health]:
    found: dict[str, Health] = {}
    for chunk in _chunks(device_ids):
        query = select(room_controller_health).where(room_controller_health.c.device_id.in_(chunk))
        found |= {row["device_id"]: dict(row) for row in connection.execute(query).mappings()}
    return found


def _stored_days(connection: Connection, table: Table, keys: Iterable[DayKey]) -> dict[DayKey, Any]:
    """The rows of a day table (by account and day) among ``keys``."""
    found: dict[DayKey, Any] = {}
    for chunk in _chunks(keys):
        query = select(table).where(tuple_(table.c.account_number, table.c.day).in_(chunk))
        found |= {(row.account_number, row.day): row for row in connection.execute(query)}
    return found


# -- writing --------------------------------------------------------------------------------------


def _write_temperatures(connection: Connection, added: dict[DayKey, _DayTemperatures]) -> None:
    stored = _stored_days(connection, room_temperature_days, added)
    new_rows, changed = [], []
    for key, day in added.items():
        row = stored.get(key)
        if row is None:
            new_rows.append((*key, day.samples, day.minimum_c, day.maximum_c, day.total_c))
            continue
        assert row.samples >= 1 and row.minimum_c <= row.maximum_c, f"room temperatures of {key}"
        merged = _DayTemperatures(row.samples, row.minimum_c, row.maximum_c, row.total_c)
        merged.add(day)
        changed.append((*key, merged.samples, merged.minimum_c, merged.maximum_c, merged.total_c))
    _TEMPERATURE_DAYS.insert(connection, new_rows)
    _update_rows(connection, room_temperature_days, changed)


def _write_open_hours(connection: Connection, added: dict[DayKey, Decimal]) -> None:
    stored = _stored_days(connection, valve_open_hours_days, added)
    new_rows, changed = [], []
    for key, hours in added.items():
        assert hours > 0, f"valve hours of {key} only grow"
        row = stored.get(key)
        if row is None:
            new_rows.append((*key, hours))
        else:
            changed.append((*key, row.open_hours + hours))
    _OPEN_HOURS_DAYS.insert(connection, new_rows)
    _update_rows(connection, valve_open_hours_days, changed)


def _write_health(connection: Connection, health: dict[str, Health], stored: frozenset[str]) -> None:
    rows = [tuple(row[name] for name in HEALTH_COLUMNS) for row in health.values()]
    _HEALTH.insert(connection, [row for row in rows if row[0] not in stored])
    _update_rows(connection, room_controller_health, [row for row in rows if row[0] in stored])


def _update_rows(connection: Connection, table: Table, rows: Sequence[tuple[Any, ...]]) -> None:
    """Set every other column of the rows named by their primary key (rows in column order)."""
    if not rows:
        return
    columns = list(table.columns)
    keys = [column for column in columns if column.primary_key]
    statement = (
        update(table)
        .where(*(column == bindparam(f"key_{column.key}", type_=column.type) for column in keys))
        .values(
            {
                column.key: bindparam(f"new_{column.key}", type_=column.type)
                for column in columns
                if not column.primary_key
            }
        )
    )
    names = [f"key_{column.key}" if column.primary_key else f"new_{column.key}" for column in columns]
    moved = connection.execute(statement, [dict(zip(names, row, strict=True)) for row in rows])
    assert moved.rowcount in (len(rows), -1), f"every changed row of {table.name} is there"


def _report_recorded(connection: Connection, event: RoomController.ReportRecorded) -> None:
    """One report written alone (a batch's reports go through one ``RoomTelemetryWriter``)."""
    writer = RoomTelemetryWriter(connection)
    writer.add(event)
    writer.flush()


ROOM_TELEMETRY_HANDLERS: dict[type[Any], Any] = {RoomController.ReportRecorded: _report_recorded}
