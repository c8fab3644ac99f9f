"""Room telemetry read models on each backend (issue 14): room temperatures and valve-open hours
per household and day, device health, the under-heated list; a rebuild equals the live rows."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy import select

from application.authorization import Principal, Role
from application.valves import RoomControllers
from domain.valve import DeviceReport, ReportSource
from infrastructure.container import Container
from projections.room_telemetry import ROOM_TELEMETRY_TABLES
from projections.room_telemetry_queries import RoomTelemetryQueries
from tests.strategies import register_household

CLERK = Principal("clerk-li", Role.CLERK)
GATEWAY = Principal("gateway:test", Role.DEVICE)
# 2025-11-20 08:00 in Beijing is 00:00 UTC.
START = datetime(2025, 11, 20, 0, 0, tzinfo=UTC)


class Clock:
    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def clock(container: Container) -> Clock:
    moving = Clock(START + timedelta(days=30))
    container.ledger.clock = moving
    return moving


@pytest.fixture
def valves(container: Container, clock: Clock) -> RoomControllers:
    register_household(container.ledger, "WZ-1")
    register_household(container.ledger, "WZ-2")
    service = container.room_controllers
    service.install("RC-1", "WZ-1", 5, CLERK)
    service.install("RC-2", "WZ-2", 5, CLERK)
    return service


def record(valves: RoomControllers, device_id: str, report_id: str, hours_after_start: float, **fields: object) -> bool:
    at = START + timedelta(hours=hours_after_start)
    return valves.record_report(device_id, DeviceReport(report_id, at, **fields), ReportSource.MQTT, GATEWAY)  # type: ignore[arg-type]


def test_room_temperatures_per_household_and_business_day(container: Container, valves: RoomControllers) -> None:
    record(valves, "RC-1", "a", 0, room_temperature_c=Decimal("19.5"))
    record(valves, "RC-1", "b", 6, room_temperature_c=Decimal("21.0"))
    record(valves, "RC-1", "c", 12, room_temperature_c=Decimal("20.0"))
    record(valves, "RC-1", "d", 16, room_temperature_c=Decimal("17.0"))  # 00:00 next day in Beijing
    record(valves, "RC-1", "d", 17, room_temperature_c=Decimal("30.0"))  # a duplicate id: recorded once
    container.catch_up()
    days = RoomTelemetryQueries(container.engine).room_temperatures("WZ-1", date(2025, 11, 20), date(2025, 11, 21))
    assert [(day.day, day.samples, day.minimum_c, day.mean_c, day.maximum_c) for day in days] == [
        (date(2025, 11, 20), 3, Decimal("19.5"), Decimal("20.17"), Decimal("21.0")),
        (date(2025, 11, 21), 1, Decimal("17.0"), Decimal("17.00"), Decimal("17.0")),
    ]
    assert (
        RoomTelemetryQueries(container.engine).room_temperatures("WZ-2", date(2025, 11, 20), date(2025, 11, 21)) == []
    )


def test_valve_hours_come_from_counter_differences_shared_across_days(
    container: Container, valves: RoomControllers
) -> None:
    record(valves, "RC-1", "a", 12, valve_open_hours_total=Decimal("100"))  # 20:00 Beijing: the baseline
    record(valves, "RC-1", "b", 20, valve_open_hours_total=Decimal("106"))  # 04:00 next day: 6 h over 8 h
    record(valves, "RC-1", "c", 18, valve_open_hours_total=Decimal("103"))  # older than b: no hours
    record(valves, "RC-1", "d", 22, valve_open_hours_total=Decimal("50"))  # reset: a new baseline, no hours
    record(valves, "RC-1", "e", 23, valve_open_hours_total=Decimal("60"))  # 10 h in 1 h: capped at 1 h
    container.catch_up()
    queries = RoomTelemetryQueries(container.engine)
    hours = queries.valve_open_hours("WZ-1", date(2025, 11, 20), date(2025, 11, 30))
    assert [(day.day, day.open_hours) for day in hours] == [
        (date(2025, 11, 20), Decimal("3.000000")),  # 20:00-24:00 is half of the 8 hours
        (date(2025, 11, 21), Decimal("4.000000")),  # 00:00-04:00 and the capped hour 06:00-07:00
    ]
    assert queries.open_hours_between(["WZ-1", "WZ-2"], date(2025, 11, 1), date(2026, 3, 31)) == {"WZ-1": Decimal(7)}


def test_device_health_shows_the_latest_report_and_the_under_heated(
    container: Container, valves: RoomControllers, clock: Clock
) -> None:
    record(valves, "RC-1", "a", 0, room_temperature_c=Decimal("16.5"), battery_percent=80, signal_dbm=-90)
    record(valves, "RC-1", "b", 30, room_temperature_c=Decimal("17.9"), battery_percent=79, valve_state="open")
    record(valves, "RC-1", "old", 10, room_temperature_c=Decimal("22.0"), battery_percent=99)  # a backlog report
    record(valves, "RC-2", "a", 0, room_temperature_c=Decimal("16.0"))
    record(valves, "RC-2", "b", 30, room_temperature_c=Decimal("18.0"))  # 18 °C is not below the minimum
    container.catch_up()
    queries = RoomTelemetryQueries(container.engine)
    [health] = queries.device_health("WZ-1")
    assert (health.reports, health.last_seen_at, health.battery_percent, health.valve_state) == (
        3,
        START + timedelta(hours=30),
        79,
        "open",
    )
    assert health.below_minimum_since == START
    now = START + timedelta(hours=30)
    [under] = queries.under_heated(now, minimum_hours=24)
    assert (under.account_number, under.device_id, under.below_since) == ("WZ-1", "RC-1", START)
    assert queries.under_heated(now, minimum_hours=31) == []


def _rows(container: Container) -> dict[str, list[tuple[object, ...]]]:
    with container.engine.connect() as connection:
        return {table.name: sorted(map(tuple, connection.execute(select(table)))) for table in ROOM_TELEMETRY_TABLES}


@settings(max_examples=10)  # each example rebuilds the whole ledger projection
@given(
    st.lists(
        st.tuples(
            st.sampled_from(["RC-1", "RC-2"]),
            st.integers(min_value=0, max_value=24 * 10),
            st.decimals(min_value=10, max_value=25, places=1),
            st.decimals(min_value=0, max_value=3000, places=3),
        ),
        min_size=1,
        max_size=25,
    )
)
def test_a_rebuild_equals_the_rows_built_report_by_report(
    container: Container, valves: RoomControllers, reports: list[tuple[str, int, Decimal, Decimal]]
) -> None:
    for index, (device_id, hours, room_c, total) in enumerate(reports):
        record(
            valves,
            device_id,
            f"p-{index}-{id(reports)}",
            hours,
            room_temperature_c=room_c,
            valve_open_hours_total=total,
        )
    container.catch_up()
    live = _rows(container)
    container.runner.rebuild()
    assert _rows(container) == live
    # Valve hours never exceed the time they could have been open in.
    with container.engine.connect() as connection:
        for table in ROOM_TELEMETRY_TABLES:
            if table.name == "valve_open_hours_days":
                assert all(row.open_hours <= 24 for row in connection.execute(select(table)))
