"""The demo's room controllers and their reports (issue 14) on the real SQLite container: one
building (48 flats) of season 2025-2026 loaded to 10 December 2025 14:30 (Asia/Shanghai), as
``heatledger demo`` does it.

Checked: every flat but the suspended has a controller with two reports a day up to now, none
ahead of it; the read models hold a room temperature and valve-open hours per household and day,
the hours growing with the cold; vacant flats and exposed flats in a cold spell are under-heated,
ordinary occupied flats are not; a second load installs and records nothing new.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from sqlalchemy import func, select

from application.authorization import SYSTEM
from infrastructure.container import Container, bootstrap
from infrastructure.demo.community import generate_community
from infrastructure.demo.loader import load_community
from infrastructure.demo.model import DemoCommunity, Occupancy
from infrastructure.demo.room_controllers import (
    REPORT_HOURS,
    RoomControllersReport,
    device_id_of,
    heated_flats,
    record_demo_room_controllers,
)
from projections.room_telemetry import room_temperature_days, valve_open_hours_days
from projections.room_telemetry_queries import RoomTelemetryQueries
from tests.conftest import sqlite_settings

TODAY = date(2025, 12, 10)
NOW = datetime(2025, 12, 10, 6, 30, tzinfo=UTC)  # 14:30 in Asia/Shanghai
DAYS = 40  # 1 November to 10 December


@dataclass
class RoomsDemo:
    container: Container
    community: DemoCommunity
    report: RoomControllersReport


@pytest.fixture(scope="module")
def rooms_demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RoomsDemo]:
    container = bootstrap(sqlite_settings(Path(tmp_path_factory.mktemp("demo-rooms"))))
    community = generate_community(today=TODAY, buildings=1, days=DAYS)
    container.ledger.clock = lambda: NOW
    load_community(container.ledger, community, SYSTEM)
    report = record_demo_room_controllers(container.room_controllers, community, SYSTEM, NOW)
    container.catch_up()
    yield RoomsDemo(container, community, report)
    container.close()


def test_every_heated_flat_reports_twice_a_day_up_to_now(rooms_demo: RoomsDemo) -> None:
    flats = heated_flats(rooms_demo.community)
    suspended = [h for h in rooms_demo.community.households if h.occupancy is Occupancy.SUSPENDED]
    assert len(flats) + len(suspended) == 48 and suspended, "the demo has suspended flats"
    per_flat = (DAYS - 1) * len(REPORT_HOURS) + 1  # 10 December: 08:00 (now is 14:30)
    report = rooms_demo.report
    assert (report.controllers, report.installed) == (len(flats), len(flats))
    assert report.reports == report.recorded == len(flats) * per_flat
    controller = rooms_demo.container.room_controllers.controller(device_id_of(flats[0].household.account_number))
    assert controller.last_report is not None and controller.last_report.measured_at <= NOW
    assert controller.last_report.measured_at == NOW - timedelta(hours=6, minutes=30)


def test_the_read_models_hold_each_households_days(rooms_demo: RoomsDemo) -> None:
    engine = rooms_demo.container.engine
    flats = heated_flats(rooms_demo.community)
    with engine.connect() as connection:
        temperature_rows = connection.execute(select(func.count()).select_from(room_temperature_days)).scalar_one()
        hour_days = connection.execute(select(func.count()).select_from(valve_open_hours_days)).scalar_one()
    assert temperature_rows == len(flats) * DAYS
    assert hour_days >= len(flats) * (DAYS - 1)  # the first report is a baseline
    queries = RoomTelemetryQueries(engine)
    account = next(f.household.account_number for f in flats if f.household.occupancy is Occupancy.OCCUPIED)
    days = queries.valve_open_hours(account, date(2025, 11, 1), TODAY)
    assert all(Decimal(0) < day.open_hours <= 24 for day in days)
    season = rooms_demo.community.season
    hours = queries.open_hours_between([account], season.first_day, season.last_day)[account]
    assert hours == sum((day.open_hours for day in days), Decimal(0))


def test_vacant_and_exposed_flats_are_under_heated_the_others_not(rooms_demo: RoomsDemo) -> None:
    listed = RoomTelemetryQueries(rooms_demo.container.engine).under_heated(NOW, 24, limit=500)
    accounts = {row.account_number for row in listed}
    vacant = {
        f.household.account_number
        for f in heated_flats(rooms_demo.community)
        if f.household.occupancy is Occupancy.VACANT
    }
    assert vacant and vacant <= accounts
    ordinary = {
        f.household.account_number
        for f in heated_flats(rooms_demo.community)
        if f.household.occupancy is Occupancy.OCCUPIED and f.behaviour.position_coefficient <= 1.0
    }
    assert ordinary and not ordinary & accounts


def test_a_second_load_records_nothing_new(rooms_demo: RoomsDemo) -> None:
    again = record_demo_room_controllers(rooms_demo.container.room_controllers, rooms_demo.community, SYSTEM, NOW)
    assert (again.installed, again.recorded) == (0, 0) and again.reports == rooms_demo.report.reports
