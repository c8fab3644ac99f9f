"""Several processes opening one PostgreSQL store at the same moment (issue 17).

``heatledger serve --workers 2``, or two ``heatledger worker`` processes started together, each
open the store: migrate the read models and set up the event store's schema (the library's type,
tables and insert function, the chain's tables and function, the seal of an unchained store).
Run side by side, those statements used to fail: ``CREATE OR REPLACE FUNCTION`` twice at once
raises "tuple concurrently updated", two ``CREATE TYPE`` or ``CREATE TABLE`` of one name a
unique violation, two alembic upgrades a duplicate table. Here a few processes, held at a
barrier, open each of several new databases together: the whole container (as a server worker
does), the event store alone (so its race is not hidden behind the read models'), or the event
store set up before (a restart: only the functions' replacement races). Every open must succeed,
and the store must then save, read back and verify its chain.
"""

from __future__ import annotations

import contextlib
import multiprocessing
import queue as queue_module
import threading
import time
import traceback
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from multiprocessing.context import SpawnProcess
from queue import Queue
from typing import Any

import psycopg
import pytest
from eventsourcing.domain import Aggregate, event

from application.ledger import HeatLedger
from infrastructure.audit_chain import verify_chain
from infrastructure.container import bootstrap
from infrastructure.event_store import event_store_environment
from infrastructure.postgres_event_store import take_schema_set_up_lock
from tests.conftest import postgres_settings
from tests.services import (
    POSTGRES_ADMIN_DB,
    POSTGRES_HOST,
    POSTGRES_PORT,
    POSTGRES_USER,
    fresh_postgres_database,
    port_open,
    unavailable,
)

pytestmark = pytest.mark.postgres

# As many openers as a two-worker server and two job workers; on two cores they still overlap.
OPENERS = 4
# Each round a new database: the race is on a store whose schema does not exist yet.
ROUNDS = 3
BARRIER_SECONDS = 60.0
# An open, a save and a read take well under a second; this long means a child is stuck.
ROUND_SECONDS = 120.0
# How often the test looks whether an opener died while it waits for their reports.
REPORT_WAIT_SECONDS = 0.5
OPENED = "opened"


class Probe(Aggregate):
    """An aggregate each opener saves, to show the store it opened works."""

    @event("Opened")
    def __init__(self, opener: int) -> None:
        self.opener = opener


# What an opener opens: the whole container, or the event store alone (new, or set up before: a
# server restarted with several workers, where only CREATE OR REPLACE FUNCTION still races).
CONTAINER, EVENT_STORE, EXISTING_EVENT_STORE = "container", "event store", "existing event store"
OPENED_ALIKE = (EVENT_STORE, EXISTING_EVENT_STORE, CONTAINER)
# The openers serve every test here: a round of each for each kind, and the stop.
TASKS_AT_MOST = len(OPENED_ALIKE) * ROUNDS + 1
Task = tuple[str, str]  # (database, what)


def open_stores(opener: int, tasks: Queue[Task | None], barrier: Any, results: Queue[tuple[int, str]]) -> None:
    """A child process: for each task it is given (None: stop), wait at the barrier with the
    other openers, then open the store, save a probe and read it back; report what happened."""
    for _ in range(TASKS_AT_MOST):
        task = tasks.get(timeout=ROUND_SECONDS)
        if task is None:
            return
        barrier.wait(timeout=BARRIER_SECONDS)
        results.put((opener, open_save_and_read(*task, opener)))


def open_save_and_read(database: str, what: str, opener: int) -> str:
    """``OPENED``, or the first error's type and message."""
    try:
        container = bootstrap(postgres_settings(database)) if what == CONTAINER else None
        ledger = container.ledger if container else HeatLedger(env=event_store_environment(postgres_settings(database)))
    except Exception as error:
        return "open: " + _error_line(error)
    try:
        probe = Probe(opener)
        ledger.save(probe)
        read: Probe = ledger.repository.get(probe.id)
        return OPENED if read.opener == opener else f"read back opener {read.opener}, saved {opener}"
    except Exception as error:
        return "save or read: " + _error_line(error)
    finally:
        (container or ledger).close()


def _error_line(error: BaseException) -> str:
    # The first line: SQLAlchemy's errors go on with the whole statement.
    return traceback.format_exception_only(error)[-1].strip().splitlines()[0]


@dataclass
class Openers:
    """The child processes, a queue of tasks to each, their barrier and their reports."""

    processes: list[SpawnProcess]
    tasks: list[Queue[Task | None]]
    results: Queue[tuple[int, str]]

    def open_together(self, database: str, what: str) -> dict[int, str]:
        """Every opener opens ``what`` of ``database`` at once; what each reported, by opener."""
        for queue in self.tasks:
            queue.put((database, what))
        reports: dict[int, str] = {}
        for _ in range(int(ROUND_SECONDS / REPORT_WAIT_SECONDS)):
            dead = [process.exitcode for process in self.processes if not process.is_alive()]
            assert not dead, f"an opener ended early (exit codes {dead})"
            with contextlib.suppress(queue_module.Empty):
                opener, report = self.results.get(timeout=REPORT_WAIT_SECONDS)
                reports[opener] = report
            if len(reports) == len(self.processes):
                return reports
        pytest.fail(f"only {len(reports)} of {len(self.processes)} openers reported in {ROUND_SECONDS} s")


@pytest.fixture(scope="module")
def openers() -> Iterator[Openers]:
    """``OPENERS`` processes, started once (importing the ledger takes seconds) and reused by
    every round; spawned, not forked, as the server's workers are separate interpreters."""
    if not port_open(POSTGRES_HOST, POSTGRES_PORT):
        unavailable("PostgreSQL", f"nothing listens on {POSTGRES_HOST}:{POSTGRES_PORT}")
    context = multiprocessing.get_context("spawn")
    barrier = context.Barrier(OPENERS)
    tasks: list[Any] = [context.Queue() for _ in range(OPENERS)]
    results: Any = context.Queue()
    processes = [
        context.Process(target=open_stores, args=(opener, tasks[opener], barrier, results), daemon=True)
        for opener in range(OPENERS)
    ]
    for process in processes:
        process.start()
    try:
        yield Openers(processes, tasks, results)
    finally:
        for queue in tasks:
            queue.put(None)
        for process in processes:
            process.join(timeout=ROUND_SECONDS)
            if process.is_alive():
                process.kill()
                process.join()
        for queue in [*tasks, results]:
            queue.close()
            queue.join_thread()


def _admin_connection_string() -> str:
    return f"host={POSTGRES_HOST} port={POSTGRES_PORT} user={POSTGRES_USER} dbname={POSTGRES_ADMIN_DB}"


@contextmanager
def new_database() -> Iterator[str]:
    """A database of its own, with no schema at all (the suite's shared one is already set up),
    dropped afterwards."""
    name = f"heatledger_opens_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(_admin_connection_string(), autocommit=True) as connection:
        connection.execute(f'CREATE DATABASE "{name}"')
    try:
        yield name
    finally:
        with psycopg.connect(_admin_connection_string(), autocommit=True) as connection:
            connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.mark.parametrize("what", OPENED_ALIKE)
def test_processes_opening_a_store_together_all_succeed(openers: Openers, what: str) -> None:
    failures: list[str] = []
    for round_number in range(ROUNDS):
        with new_database() as database:
            if what == EXISTING_EVENT_STORE:
                HeatLedger(env=event_store_environment(postgres_settings(database))).close()
            reports = openers.open_together(database, what)
            failed = {opener: report for opener, report in reports.items() if report != OPENED}
            failures += [f"round {round_number}, opener {opener}: {report}" for opener, report in failed.items()]
            if not failed:
                _assert_store_works(database)
    assert not failures, "\n".join(failures)


def _assert_store_works(database: str) -> None:
    """Opened once more after the race: every opener's probe is there, in an intact chain."""
    container = bootstrap(postgres_settings(database))
    try:
        result = verify_chain(container.ledger.recorder)  # type: ignore[arg-type]
        assert result.intact, result.problems
        assert result.events_checked == result.chain_records_checked == OPENERS
        probe = Probe(OPENERS)
        container.ledger.save(probe)
        assert container.ledger.repository.get(probe.id).opener == OPENERS
    finally:
        container.close()


# -- the lock itself --------------------------------------------------------------------------

SHORT_LOCK_TIMEOUT = "200ms"
SESSION_STATEMENT_TIMEOUT = "30s"
HELD_SECONDS = 1.0


def test_a_set_up_waits_for_another_beyond_the_session_lock_timeout() -> None:
    """One session holds the set-up lock five times longer than the other's lock timeout: the
    other still gets it once the first commits, and then has its own timeouts back."""
    with fresh_postgres_database() as database:
        connection_string = f"host={POSTGRES_HOST} port={POSTGRES_PORT} user={POSTGRES_USER} dbname={database}"
        options = f"-c lock_timeout={SHORT_LOCK_TIMEOUT} -c statement_timeout={SESSION_STATEMENT_TIMEOUT}"
        with (
            psycopg.connect(connection_string) as holder,
            psycopg.connect(connection_string, options=options) as waiter,
        ):
            take_schema_set_up_lock(lambda statement: holder.execute(statement).fetchone()[0])  # type: ignore[index]
            release = threading.Timer(HELD_SECONDS, holder.commit)
            release.start()
            started = time.monotonic()
            take_schema_set_up_lock(lambda statement: waiter.execute(statement).fetchone()[0])  # type: ignore[index]
            waited_seconds = time.monotonic() - started
            release.join()
            assert waited_seconds >= HELD_SECONDS * 0.9
            assert waiter.execute("SHOW lock_timeout").fetchone() == (SHORT_LOCK_TIMEOUT,)
            assert waiter.execute("SHOW statement_timeout").fetchone() == (SESSION_STATEMENT_TIMEOUT,)
            waiter.commit()
