"""``heatledger projections rebuild --processes N`` on the demo store: the read models come back as
they were (every table of the ledger projection), the work split over processes by building."""

from pathlib import Path
from typing import Any

from sqlalchemy import delete, select

from infrastructure.container import Container
from projections.ledger_projection import LedgerProjection
from projections.runner import empty_tables
from projections.tables import projection_tracking
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


def test_a_catch_up_from_nothing_in_two_processes_gives_the_same_rows(
    env: dict[str, str],  # noqa: F811
    data_dir: Path,  # noqa: F811
) -> None:
    """`projections catch-up` on read models with nothing applied (a new read-model database):
    split by building when told; then, with everything applied, nothing more to do."""
    loaded = run(env, "demo", "--buildings", "2", "--days", "3")
    assert loaded.exit_code == 0, loaded.output
    with opened(data_dir) as container:
        before = every_row(container)
        events = container.runner.max_notification_id()
        with container.engine.begin() as connection:
            empty_tables(connection, LedgerProjection.tables)
            connection.execute(delete(projection_tracking))
        assert container.runner.applied_nothing()
    result = run(env, "projections", "catch-up", "--processes", "2")
    assert result.exit_code == 0, result.output
    assert f"Read models caught up from nothing: {events} events applied" in result.stdout
    with opened(data_dir) as container:
        assert every_row(container) == before and not container.runner.applied_nothing()
    again = run(env, "projections", "catch-up")
    assert again.exit_code == 0, again.output
    assert "Read models caught up: 0 events applied." in again.stdout
