"""``heatledger demo --room-reports`` (issue 14): the demo's heated flats get room controllers
whose reports (room temperatures, valve hours) are in the read models; a store loaded without them
gets them on a later run with the flag, once; without the flag the demo records none."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import func, select

from projections.room_telemetry import room_controller_health, room_temperature_days, valve_open_hours_days
from projections.valve_commands import room_controllers
from tests.e2e.test_cli import data_dir, env, events_in_store, opened, run  # noqa: F401


def rows(data_dir: Path) -> dict[str, int]:  # noqa: F811
    with opened(data_dir) as container, container.engine.connect() as connection:
        return {
            table.name: connection.execute(select(func.count()).select_from(table)).scalar_one()
            for table in (room_controllers, room_controller_health, room_temperature_days, valve_open_hours_days)
        }


def test_the_demo_records_room_reports_only_when_asked_and_once(env: dict[str, str], data_dir: Path) -> None:  # noqa: F811
    plain = run(env, "demo", "--buildings", "1", "--days", "3")
    assert plain.exit_code == 0, plain.output
    assert set(rows(data_dir).values()) == {0} and "Room controllers" not in plain.stdout

    asked = run(env, "demo", "--buildings", "1", "--days", "3", "--room-reports")
    assert asked.exit_code == 0, asked.output
    counted = rows(data_dir)
    assert 40 <= counted["room_controllers"] == counted["room_controller_health"] < 48  # the suspended get none
    assert counted["room_temperature_days"] >= counted["room_controllers"] * 3
    assert counted["valve_open_hours_days"] >= counted["room_controllers"] * 2
    assert f"Room controllers: {counted['room_controllers']} ({counted['room_controllers']} installed now)" in (
        asked.stdout
    )

    events = events_in_store(data_dir)
    again = run(env, "demo", "--buildings", "1", "--days", "3", "--room-reports")
    assert again.exit_code == 0, again.output
    assert "0 new reports" in again.stdout and events_in_store(data_dir) == events
