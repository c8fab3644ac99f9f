"""The catch-up runner on each backend: two runners racing, tracking that only moves forward, rebuild."""

import threading
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import Engine, delete, select

from application.authorization import SYSTEM
from infrastructure.container import Container
from infrastructure.database import create_database_engine
from infrastructure.settings import Settings
from projections.ledger_projection import LedgerProjection
from projections.runner import ProjectionRunner, abandon_from_nothing, claim_from_nothing, empty_tables
from projections.tables import meters, projection_tracking
from tests.strategies import SEASON_START, hours_after, household_with_meter, item, projection_rows

HOUSEHOLDS = 12
READING_BATCHES = 6


@pytest.fixture
def rival_engine(backend_settings: Settings) -> Iterator[Engine]:
    """A second engine on the same database, as a worker in another process would have."""
    engine = create_database_engine(backend_settings)
    yield engine
    engine.dispose()


class RacingRunner:
    """A second ProjectionRunner catching up in a loop on its own thread, noting every position it sees."""

    def __init__(self, container: Container, engine: Engine) -> None:
        self.runner = ProjectionRunner(container.ledger, engine, LedgerProjection(), batch_size=3)
        self.applied = 0
        self.positions: list[int] = []
        self.errors: list[BaseException] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self.applied += self.runner.catch_up()
                self.positions.append(self.runner.position())
            except BaseException as error:
                self.errors.append(error)
                return

    def __enter__(self) -> "RacingRunner":
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._thread.join(timeout=60)
        assert not self._thread.is_alive()


def write_a_community(container: Container) -> None:
    """Households, meters and readings; the container catches up after each command."""
    for number in range(HOUSEHOLDS):
        household_with_meter(container.ledger, f"WZ-{number:03d}", f"M-{number:03d}", building=str(number % 3))
    for batch in range(READING_BATCHES):
        moment = hours_after(SEASON_START, 6 * batch)
        items = [item(f"M-{number:03d}", moment, Decimal("0.5") * batch + number) for number in range(HOUSEHOLDS)]
        assert container.ledger.record_readings(SYSTEM, items).accepted == HOUSEHOLDS


def test_two_runners_racing_apply_every_event_exactly_once(container: Container, rival_engine: Engine) -> None:
    with RacingRunner(container, rival_engine) as rival:
        write_a_community(container)
    assert rival.errors == []
    container.catch_up()
    rival.applied += rival.runner.catch_up()
    last = container.runner.max_notification_id()
    # 12 × (registered, commissioned, attached twice) + 6 batches × 12 readings.
    assert last == HOUSEHOLDS * 4 + READING_BATCHES * HOUSEHOLDS
    assert container.runner.position() == rival.runner.position() == last
    # Which runner wins each batch depends on the scheduler (on a loaded machine the main one may win
    # them all); what must hold is that no event was applied twice, which the counts below show.
    assert 0 <= rival.applied <= last
    assert rival.positions == sorted(rival.positions)
    raced = projection_rows(container.engine)
    with container.engine.connect() as connection:
        counts = set(connection.execute(select(meters.c.readings_count)).scalars())
    assert counts == {READING_BATCHES}  # a reading applied twice would show here (or fail on its key)
    assert container.runner.rebuild() == last
    assert projection_rows(container.engine) == raced


def test_tracking_never_moves_back_while_commands_and_catch_ups_interleave(container: Container) -> None:
    seen = [container.runner.position()]
    container.ledger.add_after_save_hook(lambda: seen.append(container.runner.position()))
    write_a_community(container)
    assert seen == sorted(seen)
    assert seen[-1] == container.runner.max_notification_id()


def test_rebuild_from_zero_equals_the_incremental_build(container: Container) -> None:
    """Every table, the summaries a rebuild writes at its end included."""
    write_a_community(container)
    incremental = every_row(container.engine)
    assert len(incremental["daily_consumption"]) > 0 and len(incremental["place_heat_days"]) > 0
    assert container.runner.rebuild() == container.runner.max_notification_id()
    assert every_row(container.engine) == incremental
    # A second rebuild is just as good: rebuilding is repeatable.
    container.runner.rebuild()
    assert every_row(container.engine) == incremental


class FailingOnTheThirdBatch(LedgerProjection):
    """The ledger projection, failing on its third batch (a handler's bug, a lost database)."""

    def __init__(self) -> None:
        super().__init__()
        self.batches = 0

    def apply_batch(self, connection: Any, domain_events: Any, **options: Any) -> None:
        self.batches += 1
        if self.batches == 3:
            raise RuntimeError("the third batch failed")
        super().apply_batch(connection, domain_events, **options)


def test_a_failed_rebuild_holds_every_catch_up_until_a_rebuild_runs_again(container: Container) -> None:
    """While a rebuild runs, and after one failed, the tracking row says so: no catch-up writes
    into the half-built tables (the summaries of its rows are not written yet), nothing is known
    to be applied; the next rebuild starts from nothing and ends as the incremental build."""
    write_a_community(container)
    incremental = every_row(container.engine)
    # 48 events of registration, then 72 readings: the first two batches hold 12 of them.
    failing = ProjectionRunner(container.ledger, container.engine, FailingOnTheThirdBatch(), batch_size=30)
    with pytest.raises(RuntimeError, match="the third batch failed"):
        failing.rebuild()
    assert container.runner.rebuilding() and container.runner.position() == 0
    half_built = every_row(container.engine)
    assert 0 < len(half_built["meter_readings"]) < len(incremental["meter_readings"])
    assert incremental["household_heat_months"] and incremental["household_evidence_months"]
    assert half_built["household_heat_months"] == half_built["household_evidence_months"] == []  # at the end only
    assert container.runner.catch_up() == 0
    assert every_row(container.engine) == half_built
    assert container.runner.rebuild() == container.runner.max_notification_id()
    assert not container.runner.rebuilding()
    assert every_row(container.engine) == incremental


def every_row(engine: Engine) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of every table of the ledger projection (its summaries included), sorted."""
    with engine.connect() as connection:
        return {
            table.name: sorted((tuple(row) for row in connection.execute(select(table))), key=repr)
            for table in LedgerProjection.tables
        }


def test_a_runner_started_later_resumes_from_the_shared_tracking_row(
    container: Container, rival_engine: Engine
) -> None:
    write_a_community(container)
    incremental = projection_rows(container.engine)
    late = ProjectionRunner(container.ledger, rival_engine, LedgerProjection(), batch_size=7)
    assert late.catch_up() == 0  # the tracking row is shared: nothing is left to apply
    assert projection_rows(container.engine) == incremental


def test_emptying_takes_every_row_and_falls_back_to_delete_when_truncate_must_wait(
    container: Container, rival_engine: Engine
) -> None:
    """On PostgreSQL the read models are emptied by TRUNCATE; when another session holds a lock
    TRUNCATE would wait for past the lock timeout, by DELETE (which that lock lets through)."""
    household_with_meter(container.ledger)
    container.runner.catch_up()
    tables = LedgerProjection.tables
    postgres = container.engine.dialect.name == "postgresql"
    with rival_engine.connect() as reader, reader.begin():
        if postgres:  # an open read of meters: its ACCESS SHARE lock blocks TRUNCATE, not DELETE
            reader.exec_driver_sql("LOCK TABLE meters IN ACCESS SHARE MODE")
        with container.engine.connect() as connection, connection.begin():
            if postgres:
                connection.exec_driver_sql("SET LOCAL lock_timeout = '200ms'")
            empty_tables(connection, tables)
            assert all(connection.execute(select(table)).first() is None for table in tables)
    with container.engine.begin() as connection:  # and without the lock: TRUNCATE
        assert connection.execute(select(meters)).first() is None
    assert container.runner.rebuild() > 0
    with container.engine.begin() as connection:
        assert connection.execute(select(meters)).first() is not None
        empty_tables(connection, tables)
    with container.engine.connect() as connection:
        assert all(connection.execute(select(table)).first() is None for table in tables)


def forget_every_event(engine: Engine) -> None:
    """The read models as a new read-model database has them: empty, no tracking row."""
    with engine.begin() as connection:
        empty_tables(connection, LedgerProjection.tables)
        connection.execute(delete(projection_tracking))


def catching_up_from_nothing(container: Container, engine: Engine, **options: Any) -> ProjectionRunner:
    """A runner of its own that takes the rebuild's path from nothing whatever the store's size."""
    runner = ProjectionRunner(container.ledger, engine, options.pop("projection", LedgerProjection()), **options)
    runner.rebuild_from_events = 1
    return runner


def test_a_catch_up_from_nothing_runs_as_a_rebuild_where_that_is_cheaper(container: Container) -> None:
    """On PostgreSQL (summaries written at the end) a catch-up that finds nothing applied marks a
    rebuild while it runs; on SQLite it stays an ordinary catch-up. Either way every table ends as
    the incremental build left it, and the events are applied once."""
    write_a_community(container)
    incremental = every_row(container.engine)
    forget_every_event(container.engine)
    runner = catching_up_from_nothing(container, container.engine, batch_size=30)
    marked: list[bool] = []
    applied = runner.catch_up(progress=lambda *_: marked.append(runner.rebuilding()))
    assert applied == runner.max_notification_id() == runner.position()
    postgres = container.engine.dialect.name == "postgresql"
    assert len(marked) > 2 and set(marked) == {postgres}
    assert not runner.rebuilding()
    assert every_row(container.engine) == incremental


def test_below_its_threshold_a_catch_up_from_nothing_stays_ordinary(container: Container) -> None:
    write_a_community(container)
    incremental = every_row(container.engine)
    forget_every_event(container.engine)
    runner = ProjectionRunner(container.ledger, container.engine, LedgerProjection(), batch_size=30)
    runner.rebuild_from_events = runner.max_notification_id() + 1
    marked: list[bool] = []
    assert runner.catch_up(progress=lambda *_: marked.append(runner.rebuilding())) == runner.max_notification_id()
    assert marked and set(marked) == {False}
    assert every_row(container.engine) == incremental


def test_a_failed_catch_up_from_nothing_starts_from_nothing_again(container: Container) -> None:
    """Where the catch-up ran as a rebuild, its failure gives the claim back (tables emptied, no
    tracking row), so the next catch-up is not held as after a failed rebuild; elsewhere the
    batches before the failure stay applied. The next catch-up ends as the incremental build."""
    write_a_community(container)
    incremental = every_row(container.engine)
    forget_every_event(container.engine)
    failing = catching_up_from_nothing(container, container.engine, batch_size=30, projection=FailingOnTheThirdBatch())
    with pytest.raises(RuntimeError, match="the third batch failed"):
        failing.catch_up()
    assert not container.runner.rebuilding()
    if container.engine.dialect.name == "postgresql":
        assert container.runner.position() == 0
        assert all(rows == [] for rows in every_row(container.engine).values())
    else:
        assert container.runner.position() == 60  # two batches of 30 applied before the third failed
    assert container.runner.catch_up() > 0
    assert every_row(container.engine) == incremental


def test_one_runner_claims_the_projection_from_nothing_and_holds_the_others(
    container: Container, rival_engine: Engine
) -> None:
    write_a_community(container)
    forget_every_event(container.engine)
    projection, name = LedgerProjection(), container.ledger.name
    assert claim_from_nothing(container.engine, projection, name)
    assert not claim_from_nothing(rival_engine, projection, name)  # claimed already
    assert ProjectionRunner(container.ledger, rival_engine, LedgerProjection()).catch_up() == 0
    assert container.runner.rebuilding()
    abandon_from_nothing(container.engine, projection, name)
    assert not container.runner.rebuilding() and container.runner.position() == 0
    container.runner.catch_up()
    assert not claim_from_nothing(container.engine, projection, name)  # something is applied now


def test_two_runners_catching_up_from_nothing_at_once_apply_every_event_once(
    container: Container, rival_engine: Engine
) -> None:
    write_a_community(container)
    incremental = every_row(container.engine)
    forget_every_event(container.engine)
    runners = [
        catching_up_from_nothing(container, engine, batch_size=20) for engine in (container.engine, rival_engine)
    ]
    applied: list[int] = []
    errors: list[BaseException] = []
    barrier = threading.Barrier(len(runners))

    def run(runner: ProjectionRunner) -> None:
        barrier.wait()
        try:
            applied.append(runner.catch_up())
        except BaseException as error:
            errors.append(error)

    threads = [threading.Thread(target=run, args=(runner,)) for runner in runners]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert errors == []
    # One applies everything; the other finds it claimed (0) or, having come after, the rest (0).
    applied.append(container.runner.catch_up())
    assert sum(applied) == container.runner.max_notification_id() == container.runner.position()
    assert every_row(container.engine) == incremental
