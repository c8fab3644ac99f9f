"""``heatledger projections rebuild --processes N`` on the demo store: the read models come back as
they were (every table of the ledger projection), the work split over processes by building."""

from pathlib import Path
from typing import Any

from sqlalchemy import select

from infrastructure.container import Container
from projections.ledger_projection import LedgerProjection
from tests.e2e.test_cli import data_dir, env, opened, run  # noqa: F401 (data_dir and env are fixtures)


def every_row(container: Container) -> dict[str, list[tuple[Any, ...]]]:
    with container.engine.connect() as connection:
        return {
            table.name: sorted((tuple(row) for row in connection.execute(select(table))), key=repr)
            for table in LedgerProjection.tables
        }


def test_a_rebuild_in_two_processes_gives_the_same_rows(env: dict[str, str], data_dir: Path) -> None:  # noqa: F811
    loaded = run(env, "demo", "--buildings", "2", "--days", "3", "--room-reports")
    assert loaded.exit_code == 0, loaded.output
    with opened(data_dir) as container:
        before = every_row(container)
        events = container.runner.max_notification_id()
    assert before["daily_consumption"] and before["bills"] and before["payments"]
    assert before["room_temperature_days"] and before["room_controllers"]  # room reports, not read by the plan
    result = run(env, "projections", "rebuild", "--processes", "2")
    assert result.exit_code == 0, result.output
    assert f"Read models rebuilt: {events} events applied" in result.stdout
    shares = result.stdout.split("events per process: ", 1)[1].split(")", 1)[0]
    assert all(int(share.replace(",", "")) > 0 for share in shares.split(", ")), result.stdout  # two buildings
    with opened(data_dir) as container:
        assert every_row(container) == before
