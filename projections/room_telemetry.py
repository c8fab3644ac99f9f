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
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import Column, Connection, Date, Index, Integer, String, Table, insert, select, update

from domain.day_split import business_day, split_across_days
from domain.valve import RoomController
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


def _report_recorded(connection: Connection, event: RoomController.ReportRecorded) -> None:
    device = connection.execute(
        select(room_controllers.c.device_id, room_controllers.c.account_number).where(
            room_controllers.c.controller_id == event.originator_id
        )
    ).one()
    health = (
        connection.execute(select(room_controller_health).where(room_controller_health.c.device_id == device.device_id))
        .mappings()
        .one_or_none()
    )
    if event.room_temperature_c is not None:
        _add_temperature(connection, device.account_number, business_day(event.measured_at), event.room_temperature_c)
    baseline = _add_open_hours(connection, device.account_number, health, event)
    if health is None:
        connection.execute(insert(room_controller_health).values(_first_health(device, event, baseline)))
    else:
        connection.execute(
            update(room_controller_health)
            .where(room_controller_health.c.device_id == device.device_id)
            .values(_next_health(health, event, baseline))
        )


def _add_temperature(connection: Connection, account_number: str, day: Any, temperature_c: Decimal) -> None:
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


def _add_open_hours(
    connection: Connection, account_number: str, health: Any, event: RoomController.ReportRecorded
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
            _add_hours(connection, account_number, share.day, share.energy_gj)
    return total, event.measured_at


def _add_hours(connection: Connection, account_number: str, day: Any, hours: Decimal) -> None:
    if hours == 0:
        return
    key = (valve_open_hours_days.c.account_number == account_number, valve_open_hours_days.c.day == day)
    moved = connection.execute(
        update(valve_open_hours_days).where(*key).values(open_hours=valve_open_hours_days.c.open_hours + hours)
    )
    if moved.rowcount == 0:
        connection.execute(
            insert(valve_open_hours_days).values(account_number=account_number, day=day, open_hours=hours)
        )


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


def _first_health(device: Any, event: RoomController.ReportRecorded, baseline: Any) -> dict[str, Any]:
    return {
        "device_id": device.device_id,
        "account_number": device.account_number,
        "reports": 1,
        **_latest_values(event),
        "open_hours_total": baseline[0] if baseline else None,
        "open_hours_measured_at": baseline[1] if baseline else None,
        "below_minimum_since": _below_since(None, event),
    }


def _next_health(health: Any, event: RoomController.ReportRecorded, baseline: Any) -> dict[str, Any]:
    values: dict[str, Any] = {"reports": health["reports"] + 1}
    if baseline is not None:
        values |= {"open_hours_total": baseline[0], "open_hours_measured_at": baseline[1]}
    if event.measured_at >= health["last_seen_at"]:  # an older report from a backlog changes no latest value
        values |= _latest_values(event)
        values["below_minimum_since"] = _below_since(health["below_minimum_since"], event)
    return values


ROOM_TELEMETRY_HANDLERS: dict[type[Any], Any] = {RoomController.ReportRecorded: _report_recorded}
