"""The catch-up runner: batches, tracking that only moves forward, races lost cleanly, rebuild."""

from collections.abc import Iterator, Sequence
from datetime import date
from pathlib import Path
from typing import Any
from uuid import uuid4

import pytest
from sqlalchemy import Connection, Engine, create_engine, insert
from sqlalchemy.exc import IntegrityError, OperationalError

from application.authorization import SYSTEM
from application.ledger import HeatLedger
from projections import runner as runner_module
from projections.ledger_projection import LedgerProjection
from projections.runner import ProjectionRunner, TrackingMovedError
from projections.tables import households, metadata
from tests.strategies import (
    SEASON_START,
    hours_after,
    household_with_meter,
    item,
    last_notification_id,
    memory_ledger,
    projection_rows,
    register_household,
)


@pytest.fixture
def engine(tmp_path: Path) -> Iterator[Engine]:
    built = create_engine(f"sqlite:///{tmp_path / 'read_models.sqlite'}")
    metadata.create_all(built)
    yield built
    built.dispose()


@pytest.fixture
def ledger() -> HeatLedger:
    """Five events: a household registered, a meter commissioned and attached (two events), and one reading."""
    built = memory_ledger()
    household_with_meter(built)
    built.record_readings(SYSTEM, [item("M-1", SEASON_START, "1")])
    assert last_notification_id(built) == 5
    return built


def runner_for(ledger: HeatLedger, engine: Engine, batch_size: int = 500) -> ProjectionRunner:
    return ProjectionRunner(ledger, engine, LedgerProjection(), batch_size=batch_size)


def test_catch_up_applies_every_event_and_tracks_the_last(ledger: HeatLedger, engine: Engine) -> None:
    runner = runner_for(ledger, engine)
    assert runner.position() == 0
    assert runner.catch_up() == 5
    assert runner.position() == runner.max_notification_id() == 5
    assert len(projection_rows(engine)["meter_readings"]) == 1


def test_a_second_catch_up_finds_nothing_new(ledger: HeatLedger, engine: Engine) -> None:
    runner = runner_for(ledger, engine)
    runner.catch_up()
    assert runner.catch_up() == 0
    assert runner.position() == 5


def test_catch_up_continues_from_its_position(ledger: HeatLedger, engine: Engine) -> None:
    runner = runner_for(ledger, engine)
    runner.catch_up()
    ledger.record_readings(SYSTEM, [item("M-1", hours_after(SEASON_START, 1), "1.1")])
    assert runner.catch_up() == 1
    assert len(projection_rows(engine)["meter_readings"]) == 2


def test_catch_up_works_in_batches_and_reports_progress(ledger: HeatLedger, engine: Engine) -> None:
    runner = runner_for(ledger, engine, batch_size=2)
    progress: list[tuple[int, int]] = []
    assert runner.catch_up(lambda position, target: progress.append((position, target))) == 5
    # 5 events in batches of 2: positions 2, 4, 5 of 5.
    assert progress == [(2, 5), (4, 5), (5, 5)]


def test_a_new_runner_instance_resumes_from_the_stored_position(ledger: HeatLedger, engine: Engine) -> None:
    runner_for(ledger, engine).catch_up()
    second = runner_for(ledger, engine)
    assert (second.position(), second.catch_up()) == (5, 0)


def test_tracking_only_moves_forward_from_where_a_batch_started(ledger: HeatLedger, engine: Engine) -> None:
    runner = runner_for(ledger, engine)
    runner.catch_up()
    with pytest.raises(TrackingMovedError), engine.begin() as connection:
        runner._advance(connection, 3, 4)  # a worker that started at 3 while the row says 5
    assert runner.position() == 5
    with pytest.raises(AssertionError, match="only moves forward"), engine.begin() as connection:
        runner._advance(connection, 5, 5)


def test_a_worker_that_believes_it_is_first_cannot_overwrite_the_tracking_row(
    ledger: HeatLedger, engine: Engine
) -> None:
    winner = runner_for(ledger, engine)
    winner.catch_up()
    with pytest.raises(TrackingMovedError, match="moved past 0"), engine.begin() as connection:
        # The row says 5; a worker that read 0 before the winner committed must not set it to 3,
        # and the rows of its batch go with its transaction.
        connection.execute(insert(households).values(**_household_row("X")))
        runner_for(ledger, engine)._advance(connection, 0, 3)
    assert winner.position() == 5
    assert [row[1] for row in projection_rows(engine)["households"]] == ["WZ-0001"]


class _RacedProjection(LedgerProjection):
    """Lets another runner apply everything first, then fails as the collision would."""

    def __init__(self, rival: ProjectionRunner | None, error: Exception) -> None:
        super().__init__()
        self.rival, self.error, self.failed = rival, error, False

    def apply_batch(self, connection: Connection, domain_events: Sequence[Any], **options: Any) -> None:
        if not self.failed:
            self.failed = True
            if self.rival is not None:
                self.rival.catch_up()
            raise self.error
        super().apply_batch(connection, domain_events, **options)


COLLISIONS = [
    IntegrityError("INSERT INTO households", {}, Exception("UNIQUE constraint failed")),
    OperationalError("UPDATE meters", {}, Exception("deadlock detected")),
]


@pytest.mark.parametrize("collision", COLLISIONS, ids=["unique_violation", "deadlock"])
def test_a_runner_that_collides_with_a_faster_one_rolls_back_and_carries_on(
    ledger: HeatLedger, engine: Engine, collision: Exception
) -> None:
    rival = runner_for(ledger, engine)
    slow = ProjectionRunner(ledger, engine, _RacedProjection(rival, collision))
    assert slow.catch_up() == 0  # the rival applied all five; the slow runner's batch was rolled back
    assert slow.position() == rival.position() == 5
    assert len(projection_rows(engine)["households"]) == 1


@pytest.mark.parametrize("collision", COLLISIONS, ids=["unique_violation", "deadlock"])
def test_a_database_error_without_a_race_is_not_swallowed(
    ledger: HeatLedger, engine: Engine, collision: Exception
) -> None:
    lonely = ProjectionRunner(ledger, engine, _RacedProjection(None, collision))
    with pytest.raises(type(collision)):
        lonely.catch_up()
    assert lonely.position() == 0
    assert projection_rows(engine)["households"] == []


def test_a_projection_fault_rolls_back_its_batch(ledger: HeatLedger, engine: Engine) -> None:
    # A row that the projection will collide with, put there by hand: a real fault, not a race.
    with engine.begin() as connection:
        connection.execute(insert(households).values(**_household_row("WZ-0001")))
    runner = runner_for(ledger, engine)
    with pytest.raises(IntegrityError):
        runner.catch_up()
    assert runner.position() == 0
    assert projection_rows(engine)["meters"] == []


def test_rebuild_empties_the_tables_and_replays_from_the_first_event(ledger: HeatLedger, engine: Engine) -> None:
    runner = runner_for(ledger, engine, batch_size=2)
    runner.catch_up()
    register_household(ledger, "WZ-0002")
    runner.catch_up()
    incrementally_built = projection_rows(engine)
    with engine.begin() as connection:  # damage the read model: rebuild must not keep any of it
        connection.execute(insert(households).values(**_household_row("STRAY")))
    assert runner.rebuild() == 6
    assert runner.position() == 6
    assert projection_rows(engine) == incrementally_built


def _household_row(account_number: str) -> dict[str, Any]:
    return {
        "household_id": uuid4(),
        "account_number": account_number,
        "community": "c",
        "building": "b",
        "entrance": "1",
        "floor": 1,
        "flat": "101",
        "connected_area_m2": 1,
        "heated_area_m2": 1,
        "customer_class": "residential",
        "vertical_position": "middle",
        "horizontal_position": "middle",
        "registered_on": date(2025, 1, 1),
        "heating_suspended": False,
        "suspended_since": None,
        "version": 1,
    }


def batch_sizes(runner: ProjectionRunner, monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """The sizes of the batches ``runner`` asks for from now on, in order."""
    sizes: list[int] = []
    applying = runner._apply_next_batch

    def recorded(connection: Connection, size: int) -> int:
        sizes.append(size)
        return applying(connection, size)

    monkeypatch.setattr(runner, "_apply_next_batch", recorded)
    return sizes


def test_batches_grow_to_the_catch_up_bound_and_a_rebuild_to_its_own(
    ledger: HeatLedger, engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Far behind, a catch-up's batches double up to LARGEST_BATCH_SIZE; a rebuild's up to
    REBUILD_BATCH_SIZE (larger: per-meter costs of a batch spread over more readings), on one
    connection throughout, with the same rows either way."""
    for number in range(2, 12):
        register_household(ledger, f"WZ-{number:04d}")  # 15 events in all
    monkeypatch.setattr(runner_module, "DEFAULT_BATCH_SIZE", 1)
    monkeypatch.setattr(runner_module, "LARGEST_BATCH_SIZE", 2)
    monkeypatch.setattr(runner_module, "REBUILD_BATCH_SIZE", 8)
    runner = ProjectionRunner(ledger, engine, LedgerProjection())
    sizes = batch_sizes(runner, monkeypatch)
    assert runner.catch_up() == 15
    caught_up = projection_rows(engine)
    assert sizes == [1, 2, 2, 2, 2, 2, 2, 2, 2]  # 1 + 7 × 2 = 15, then an empty batch
    sizes.clear()
    assert runner.rebuild() == 15
    assert sizes == [1, 2, 4, 8, 8]  # 1 + 2 + 4 + 8 = 15, then an empty batch
    assert projection_rows(engine) == caught_up


def test_a_catch_up_stops_growing_its_batches_at_the_bytes_bound_and_a_rebuild_does_not(
    ledger: HeatLedger, engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A catch-up's batch doubles only while twice its stored state stays within the bound (memory
    follows the events decoded); a rebuild's batches are bounded by their count alone."""
    for number in range(2, 12):
        register_household(ledger, f"WZ-{number:04d}")  # 15 events in all
    monkeypatch.setattr(runner_module, "DEFAULT_BATCH_SIZE", 1)
    monkeypatch.setattr(runner_module, "LARGEST_BATCH_SIZE", 8)
    monkeypatch.setattr(runner_module, "REBUILD_BATCH_SIZE", 8)
    heaviest = max(len(notification.state) for notification in ledger.recorder.select_notifications(start=1, limit=15))
    runner = ProjectionRunner(ledger, engine, LedgerProjection())
    sizes = batch_sizes(runner, monkeypatch)
    # Room for two of the heaviest events: a batch of one may double, a batch of two may not.
    assert runner.catch_up(bytes_bound=2 * heaviest + 1) == 15
    caught_up = projection_rows(engine)
    assert sizes[:2] == [1, 2] and set(sizes[1:-1]) == {2}
    sizes.clear()
    assert runner.rebuild() == 15
    assert sizes == [1, 2, 4, 8, 8]
    assert projection_rows(engine) == caught_up
