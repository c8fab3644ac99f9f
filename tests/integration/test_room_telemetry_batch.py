"""The room telemetry projection writes a batch's reports set-based (``RoomTelemetryWriter``); the
rows must equal those of the reports written one by one, whatever the batching (issue 14).

The oracle below is the projection as it was before it was batched: one report at a time, each
row read, changed and written with its own statements. Both run on each backend over the same
events, made by the domain's RoomController (installations between reports, backlogs older than
the last report, counters that stall, grow faster than the clock or are reset, reports without a
temperature or counter, a second controller in the same flat).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any
from uuid import uuid4

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy import Connection, Engine, create_engine, delete, insert, select, update
from sqlalchemy.pool import StaticPool

from domain.day_split import business_day, split_across_days
from domain.values import CommandContext
from domain.valve import DeviceReport, ReportSource, RoomController
from projections.ledger_projection import LedgerProjection
from projections.room_telemetry import (
    OPEN_HOURS_SCALE,
    ROOM_TELEMETRY_TABLES,
    SECONDS_PER_HOUR,
    UNDER_HEATED_BELOW_C,
    room_controller_health,
    room_temperature_days,
    valve_open_hours_days,
)
from projections.tables import metadata
from projections.valve_commands import VALVE_TABLES, room_controllers
from tests.services import POSTGRES_HOST, POSTGRES_PORT, POSTGRES_USER, _create_database, port_open, unavailable

START = datetime(2025, 11, 20, 0, 0, tzinfo=UTC)  # 08:00 in Beijing
NOW = START + timedelta(days=30)
CONTEXT = CommandContext("gateway:test", "reported by the device", uuid4())
# Device ids and their flats: RC-3 is a second controller in RC-1's flat.
DEVICES = (("RC-1", "WZ-1"), ("RC-2", "WZ-2"), ("RC-3", "WZ-1"))
TABLES = (*VALVE_TABLES, *ROOM_TELEMETRY_TABLES)


# -- the oracle: one report at a time, as the projection was written before (e9ac64b) ----------------


def _oracle_report(connection: Connection, event: RoomController.ReportRecorded) -> None:
    device = connection.execute(
        select(room_controllers.c.device_id, room_controllers.c.account_number).where(
            room_controllers.c.controller_id == event.originator_id
        )
    ).one()
    table = room_controller_health
    health = connection.execute(select(table).where(table.c.device_id == device.device_id)).mappings().one_or_none()
    if event.room_temperature_c is not None:
        _oracle_temperature(
            connection, device.account_number, business_day(event.measured_at), event.room_temperature_c
        )
    baseline = _oracle_open_hours(connection, device.account_number, health, event)
    latest = {
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
    if health is None:
        values = {
            "device_id": device.device_id,
            "account_number": device.account_number,
            "reports": 1,
            **latest,
            "open_hours_total": baseline[0] if baseline else None,
            "open_hours_measured_at": baseline[1] if baseline else None,
            "below_minimum_since": _oracle_below_since(None, event),
        }
        connection.execute(insert(table).values(values))
        return
    values = {"reports": health["reports"] + 1}
    if baseline is not None:
        values |= {"open_hours_total": baseline[0], "open_hours_measured_at": baseline[1]}
    if event.measured_at >= health["last_seen_at"]:
        values |= latest
        values["below_minimum_since"] = _oracle_below_since(health["below_minimum_since"], event)
    connection.execute(update(table).where(table.c.device_id == device.device_id).values(values))


def _oracle_temperature(connection: Connection, account_number: str, day: Any, temperature_c: Decimal) -> None:
    key = (room_temperature_days.c.account_number == account_number, room_temperature_days.c.day == day)
    row = connection.execute(select(room_temperature_days).where(*key)).mappings().one_or_none()
    if row is None:
        connection.execute(
            insert(room_temperature_days).values(
                account_number=account_number,
                day=day,
                samples=1,
                minimum_c=temperature_c,
                maximum_c=temperature_c,
                total_c=temperature_c,
            )
        )
        return
    connection.execute(
        update(room_temperature_days)
        .where(*key)
        .values(
            samples=row["samples"] + 1,
            minimum_c=min(row["minimum_c"], temperature_c),
            maximum_c=max(row["maximum_c"], temperature_c),
            total_c=row["total_c"] + temperature_c,
        )
    )


def _oracle_open_hours(
    connection: Connection, account_number: str, health: Any, event: RoomController.ReportRecorded
) -> tuple[Decimal, datetime] | None:
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
            if share.energy_gj == 0:
                continue
            key = (valve_open_hours_days.c.account_number == account_number, valve_open_hours_days.c.day == share.day)
            moved = connection.execute(
                update(valve_open_hours_days)
                .where(*key)
                .values(open_hours=valve_open_hours_days.c.open_hours + share.energy_gj)
            )
            if moved.rowcount == 0:
                connection.execute(
                    insert(valve_open_hours_days).values(
                        account_number=account_number, day=share.day, open_hours=share.energy_gj
                    )
                )
    return total, event.measured_at


def _oracle_below_since(previous: datetime | None, event: RoomController.ReportRecorded) -> datetime | None:
    if event.room_temperature_c is None:
        return previous
    if event.room_temperature_c >= UNDER_HEATED_BELOW_C:
        return None
    return previous if previous is not None else event.measured_at


# -- the events -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class PlannedReport:
    device: int  # index into DEVICES
    minutes_after_start: int
    room_temperature_c: Decimal | None
    counter: str  # "none", "steady" (grows at half the clock), "random" (stalls, resets, runs fast)
    random_total: Decimal
    battery_percent: int | None
    valve_state: str | None


planned_reports = st.builds(
    PlannedReport,
    device=st.integers(0, len(DEVICES) - 1),
    minutes_after_start=st.integers(0, 14 * 24 * 60),
    room_temperature_c=st.none() | st.decimals(min_value=10, max_value=25, places=1),
    counter=st.sampled_from(["none", "steady", "steady", "random"]),
    random_total=st.decimals(min_value=0, max_value=400, places=3),
    battery_percent=st.none() | st.integers(0, 100),
    valve_state=st.none() | st.sampled_from(["open", "closed", "partial"]),
)


def events_of(plans: list[PlannedReport]) -> list[Any]:
    """Each controller installed before its first report, then the reports in the planned order."""
    controllers: dict[int, RoomController] = {}
    events: list[Any] = []
    for number, plan in enumerate(plans):
        if plan.device not in controllers:
            device_id, account_number = DEVICES[plan.device]
            controllers[plan.device] = RoomController.install(device_id, account_number, uuid4(), 5, START, CONTEXT)
        controller = controllers[plan.device]
        measured_at = START + timedelta(minutes=plan.minutes_after_start)
        total = {
            "none": None,
            "steady": (Decimal(plan.minutes_after_start) / 120).quantize(Decimal("0.001")),
            "random": plan.random_total,
        }[plan.counter]
        report = DeviceReport(
            f"r-{number}",
            measured_at,
            room_temperature_c=plan.room_temperature_c,
            valve_open_hours_total=total,
            battery_percent=plan.battery_percent,
            valve_state=plan.valve_state,
            signal_dbm=-80,
        )
        assert controller.record_report(report, ReportSource.MQTT, NOW, CONTEXT)
        events.extend(controller.collect_events())
    return events


# -- the stores -----------------------------------------------------------------------------------


@pytest.fixture(scope="module", params=["sqlite", "postgres"])
def engine(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Engine]:
    if request.param == "sqlite":
        path = Path(tmp_path_factory.mktemp("telemetry")) / "read_models.sqlite"
        built = create_engine(f"sqlite:///{path}", poolclass=StaticPool, connect_args={"check_same_thread": False})
        metadata.create_all(built, tables=TABLES)
        yield built
        built.dispose()
        return
    # A database of this module's own (dropped at exit): the run's shared one holds the whole
    # schema from the migrations, and these few tables alone must not stand in for it.
    if not port_open(POSTGRES_HOST, POSTGRES_PORT):
        unavailable("PostgreSQL", f"nothing listens on {POSTGRES_HOST}:{POSTGRES_PORT}")
    database = _create_database()
    built = create_engine(f"postgresql+psycopg://{POSTGRES_USER}@{POSTGRES_HOST}:{POSTGRES_PORT}/{database}")
    metadata.create_all(built, tables=TABLES)
    yield built
    built.dispose()


def _empty(engine: Engine) -> None:
    with engine.begin() as connection:
        for table in reversed(TABLES):
            connection.execute(delete(table))


def _rows(engine: Engine) -> dict[str, list[tuple[Any, ...]]]:
    with engine.connect() as connection:
        return {table.name: sorted(map(tuple, connection.execute(select(table)))) for table in ROOM_TELEMETRY_TABLES}


def one_by_one(engine: Engine, events: list[Any]) -> dict[str, list[tuple[Any, ...]]]:
    _empty(engine)
    projection = LedgerProjection()
    with engine.begin() as connection:
        for event in events:
            if isinstance(event, RoomController.ReportRecorded):
                _oracle_report(connection, event)
            else:
                projection.apply_batch(connection, [event])
    return _rows(engine)


def in_batches(engine: Engine, events: list[Any], batch_size: int) -> dict[str, list[tuple[Any, ...]]]:
    _empty(engine)
    projection = LedgerProjection()
    for start in range(0, len(events), batch_size):
        with engine.begin() as connection:
            projection.apply_batch(connection, events[start : start + batch_size])
    return _rows(engine)


@settings(max_examples=60)
@given(plans=st.lists(planned_reports, min_size=1, max_size=40), batch_size=st.integers(1, 60))
def test_reports_written_in_batches_equal_reports_written_one_by_one(
    engine: Engine, plans: list[PlannedReport], batch_size: int
) -> None:
    events = events_of(plans)
    expected = one_by_one(engine, events)
    assert in_batches(engine, events, batch_size) == expected
    assert sum(row[2] for row in expected["room_controller_health"]) == len(plans)  # every report counted


def test_a_season_of_one_controller_in_one_batch_equals_it_report_by_report(engine: Engine) -> None:
    """Hundreds of reports of one flat in one batch: a day's row changed many times in memory."""
    plans = [
        PlannedReport(0, minutes, Decimal(17 + minutes % 5), "steady", Decimal(0), 90, "open")
        for minutes in range(0, 20 * 24 * 60, 97)
    ]
    events = events_of(plans)
    expected = one_by_one(engine, events)
    assert len(expected["room_temperature_days"]) == 21  # 20 days from 08:00 in Beijing touch 21
    assert in_batches(engine, events, len(events)) == expected
