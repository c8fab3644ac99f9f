"""Reads of the room telemetry read models (projections.room_telemetry)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal

from sqlalchemy import Engine, func, select

from projections.room_telemetry import (
    UNDER_HEATED_BELOW_C,
    room_controller_health,
    room_temperature_days,
    valve_open_hours_days,
)
from projections.tables import households, meters
from projections.valve_commands import room_controllers

# The most rows one list returns, and the most days one series covers (a season and more).
MAXIMUM_LISTED = 500
MAXIMUM_DAYS = 400
HUNDREDTH = Decimal("0.01")


@dataclass(frozen=True)
class DayTemperature:
    day: date
    samples: int
    minimum_c: Decimal
    mean_c: Decimal
    maximum_c: Decimal


@dataclass(frozen=True)
class DayOpenHours:
    day: date
    open_hours: Decimal


@dataclass(frozen=True)
class DeviceHealth:
    device_id: str
    account_number: str
    reports: int
    last_seen_at: datetime
    last_source: str
    room_temperature_c: Decimal | None
    humidity_percent: Decimal | None
    set_temperature_c: Decimal | None
    valve_gear: int | None
    valve_state: str | None
    signal_dbm: int | None
    battery_percent: int | None
    below_minimum_since: datetime | None


@dataclass(frozen=True)
class UnderHeatedHousehold:
    """A household whose room has been below 18 °C since ``below_since`` (for customer service)."""

    account_number: str
    community: str | None
    building: str | None
    flat: str | None
    device_id: str
    below_since: datetime
    room_temperature_c: Decimal | None
    last_seen_at: datetime


def _days(first_day: date, last_day: date) -> None:
    if last_day < first_day or (last_day - first_day).days >= MAXIMUM_DAYS:
        raise ValueError(f"a series runs forward over at most {MAXIMUM_DAYS} days")


class RoomTelemetryQueries:
    """Room temperatures and valve hours per household and day, device health, the under-heated."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def room_temperatures(self, account_number: str, first_day: date, last_day: date) -> list[DayTemperature]:
        """The household's days with a room temperature, oldest first (mean to 0.01 °C)."""
        _days(first_day, last_day)
        table = room_temperature_days.c
        query = (
            select(room_temperature_days)
            .where(table.account_number == account_number, table.day >= first_day, table.day <= last_day)
            .order_by(table.day)
        )
        with self.engine.connect() as connection:
            rows = connection.execute(query).mappings().all()
        return [
            DayTemperature(
                row["day"],
                row["samples"],
                row["minimum_c"],
                (row["total_c"] / row["samples"]).quantize(HUNDREDTH, ROUND_HALF_UP),
                row["maximum_c"],
            )
            for row in rows
        ]

    def valve_open_hours(self, account_number: str, first_day: date, last_day: date) -> list[DayOpenHours]:
        """The household's days with valve-open time, oldest first."""
        _days(first_day, last_day)
        table = valve_open_hours_days.c
        query = (
            select(table.day, table.open_hours)
            .where(table.account_number == account_number, table.day >= first_day, table.day <= last_day)
            .order_by(table.day)
        )
        with self.engine.connect() as connection:
            return [DayOpenHours(row.day, row.open_hours) for row in connection.execute(query)]

    def open_hours_between(self, account_numbers: Sequence[str], first_day: date, last_day: date) -> dict[str, Decimal]:
        """Each household's valve-open hours over the days (a season): only those with reports."""
        table = valve_open_hours_days.c
        query = (
            select(table.account_number, func.sum(table.open_hours))
            .where(table.account_number.in_(list(account_numbers)), table.day >= first_day, table.day <= last_day)
            .group_by(table.account_number)
        )
        with self.engine.connect() as connection:
            return {row[0]: Decimal(row[1]) for row in connection.execute(query)}

    def device_health(self, account_number: str | None = None, limit: int = 100, offset: int = 0) -> list[DeviceHealth]:
        """Controllers by how long ago they last reported (the longest silent first)."""
        table = room_controller_health.c
        query = select(room_controller_health).order_by(table.last_seen_at, table.device_id)
        if account_number is not None:
            query = query.where(table.account_number == account_number)
        query = query.limit(min(max(limit, 1), MAXIMUM_LISTED)).offset(max(offset, 0))
        with self.engine.connect() as connection:
            rows = connection.execute(query).mappings().all()
        return [DeviceHealth(**{name: row[name] for name in DeviceHealth.__dataclass_fields__}) for row in rows]

    def under_heated(
        self, now: datetime, minimum_hours: int, limit: int = 100, offset: int = 0
    ) -> list[UnderHeatedHousehold]:
        """Households whose room has stayed below 18 °C for ``minimum_hours`` or more, the
        longest first: customer service's list of flats to call."""
        health = room_controller_health.c
        since = now - timedelta(hours=minimum_hours)
        query = (
            select(
                health.account_number,
                households.c.community,
                households.c.building,
                households.c.flat,
                health.device_id,
                health.below_minimum_since,
                health.room_temperature_c,
                health.last_seen_at,
            )
            .join(households, households.c.account_number == health.account_number, isouter=True)
            .where(health.below_minimum_since.is_not(None), health.below_minimum_since <= since)
            .order_by(health.below_minimum_since, health.device_id)
            .limit(min(max(limit, 1), MAXIMUM_LISTED))
            .offset(max(offset, 0))
        )
        with self.engine.connect() as connection:
            return [UnderHeatedHousehold(*row) for row in connection.execute(query)]

    def controllers_of_meters(self, serials: Sequence[str]) -> dict[str, str]:
        """The room controller of each meter's household, for meters whose household has exactly
        one (an NB-IoT push names the meter; its room fields belong to that flat's controller)."""
        query = (
            select(meters.c.serial, func.min(room_controllers.c.device_id), func.count())
            .join(room_controllers, room_controllers.c.household_id == meters.c.household_id)
            .where(meters.c.serial.in_(list(serials)[: MAXIMUM_LISTED * 20]))
            .group_by(meters.c.serial)
        )
        with self.engine.connect() as connection:
            return {row[0]: row[1] for row in connection.execute(query) if row[2] == 1}


__all__ = ["UNDER_HEATED_BELOW_C", "RoomTelemetryQueries"]
