"""The ledger projection rebuilt by several processes, split by building (issue 17).

``rebuild_split`` does what ``ProjectionRunner.rebuild`` does (empty the read models, apply every
event, leave the tracking row at the last one) with the events divided as
``projections/rebuild_plan.py`` explains: the city-wide aggregates' events first, here, then each
process the events of its buildings' aggregates in notification order, all at once.

1. The plan (``plan_split``): the store's last notification id (``stop``), the events per
   aggregate up to it counted by the database, and the events other than readings and room
   reports (a few per cent) read and decoded for the ids they name. It only reads: the command
   makes it while the hash chain is verified, where the database does the hashing (PostgreSQL).
2. The read models are emptied and the tracking row set to ``REBUILDING`` in one transaction. No
   catch-up applies anything while the row says so (it finds no notification after it), so a
   worker or a command's catch-up cannot write into half-built tables.
3. The city-wide aggregates' events, here; then the groups, each in a process of its own (forked:
   the modules are imported already), each opening its own connections, each reading its
   aggregates' events window by window of notification ids and applying each window in one
   transaction. On SQLite, whose database has one writer at a time, a process takes the write lock
   before a window's first read (a read transaction that later writes fails at once, whatever the
   busy timeout, when another process wrote in between); its decoding happens outside the lock.
4. Once every process is done, the projection's summaries are written from its rows and the
   tracking row moves from ``REBUILDING`` to ``stop`` (compare and set), in one transaction
   (``projections.runner.finish_rebuild``: the processes leave the summaries alone, as a rebuild in
   one process does), and what was recorded meanwhile is caught up as usual.

A process that fails fails the rebuild; the tracking row stays at ``REBUILDING`` (the read models
answer as they were left, and nothing catches up) until a rebuild (split or not) runs again.
"""

from __future__ import annotations

import time
from collections.abc import Collection, Iterable, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from multiprocessing import get_context
from typing import Any
from uuid import UUID

from sqlalchemy import Connection, Engine, update

from application.collector import collector_paused
from application.ledger import HeatLedger
from infrastructure.database import create_database_engine
from infrastructure.event_selection import ScopedWindows, events_per_aggregate, scan_events, scoped_notifications
from infrastructure.event_store import event_store_environment
from infrastructure.settings import Settings
from projections.reading_events import ReadingEventDecoder
from projections.rebuild_plan import UNREAD_TOPICS, RebuildPlan, build_plan
from projections.runner import (
    REBUILD_BATCH_SIZE,
    EventSource,
    Projection,
    ProjectionRunner,
    abandon_from_nothing,
    apply_rebuild_batch,
    begin_rebuild,
    claim_from_nothing,
    finish_rebuild,
    page_cache_for,
)
from projections.tables import projection_tracking

# A process's window holds about this many of its events (the window spans this many times the
# number of processes of notification ids): a transaction as large as a rebuild's batch in one
# process (projections/runner.py says why so large), about 400 MB of memory at most per process.
EVENTS_PER_WINDOW = REBUILD_BATCH_SIZE
MOST_PROCESSES = 64
# Not told how many processes, `heatledger projections rebuild` splits a store of this many events
# or more on PostgreSQL: below it the processes' start (about a second each: the store opened, the
# plan) outweighs what they share (479,313 events: 26,000 events/s split over two processes against
# 18,000 in one, docs/scaling.md). On SQLite the processes write one at a time: one, unless told.
SPLIT_FROM_EVENTS = 200_000
# ... over one process per core, this many at most (the database server wants cores too).
DEFAULT_MOST_PROCESSES = 4


def default_processes(on_postgresql: bool, events: int, cores: int | None) -> int:
    """The processes a rebuild of a store of ``events`` events takes when not told (``cores``: the
    machine's, None when unknown): one per core up to ``DEFAULT_MOST_PROCESSES`` for a PostgreSQL
    store of ``SPLIT_FROM_EVENTS`` events or more, one otherwise."""
    if not on_postgresql or events < SPLIT_FROM_EVENTS:
        return 1
    return max(1, min(cores or 1, DEFAULT_MOST_PROCESSES))


@dataclass(frozen=True)
class SplitRebuild:
    """What a split rebuild did: the plan, the events applied in all (the plan's and those caught
    up after it), and each group's work."""

    plan: RebuildPlan
    applied: int
    groups: tuple[GroupWork, ...] = ()  # each group's work, as its process reported it


def plan_split(source: EventSource, processes: int) -> RebuildPlan:
    """The plan of a rebuild over ``processes`` processes of every event stored now (it only reads:
    the command makes it while the chain is verified, where the database hashes)."""
    assert 1 <= processes <= MOST_PROCESSES, f"1 to {MOST_PROCESSES} processes"
    recorder = source.recorder
    stop = int(recorder.max_notification_id() or 0)
    events = events_per_aggregate(recorder, stop)
    return build_plan(
        events, scan_events(recorder, stop, UNREAD_TOPICS), stop, processes, source.mapper.to_domain_event
    )


def rebuild_split(
    source: EventSource,
    engine: Engine,
    projection: Projection,
    processes: int,
    open_store: Any = None,
    plan: RebuildPlan | None = None,
    *,
    claimed: bool = False,
) -> SplitRebuild:
    """Rebuild ``projection`` from ``source`` over ``processes`` processes, by ``plan`` (made here
    when None: ``plan_split``). ``claimed``: the tables are empty and the tracking row marked
    already (``claim_from_nothing``), so the rebuild does not empty and mark them again.

    ``open_store`` is a picklable callable that opens, in a new process, ``(source, engine)`` of
    the same store (``StoreOpener`` of the settings). Without it (tests), or with one process, the
    groups are applied here one after another, last group first: the same independence of groups
    the processes rely on, shown without them."""
    assert 1 <= processes <= MOST_PROCESSES, f"1 to {MOST_PROCESSES} processes"
    runner = ProjectionRunner(source, engine, projection)
    plan = plan if plan is not None else plan_split(source, processes)
    assert len(plan.groups) == processes, "a plan for as many processes"
    stop = plan.stop
    if not claimed:
        begin_rebuild(engine, projection, source.name)
    applied = apply_city_wide(source, engine, projection, plan.city_wide, stop)
    if open_store is None or processes == 1:
        groups = [apply_group(source, engine, projection, group, stop, processes) for group in reversed(plan.groups)]
    else:
        groups = _apply_in_processes(open_store, projection, plan, processes)
    finish_rebuild(engine, projection, source.name, stop)
    applied += sum(work.applied for work in groups) + runner.catch_up()
    return SplitRebuild(plan, applied, tuple(groups))


def catch_up_split_from_nothing(
    source: EventSource, engine: Engine, projection: Projection, processes: int, open_store: Any = None
) -> SplitRebuild | None:
    """A catch-up of a projection with nothing applied yet (no tracking row: a new read-model
    database, a worker's first start on it) split by building as ``rebuild_split`` is. One runner
    anywhere claims it (``claim_from_nothing``); a failure gives the claim back
    (``abandon_from_nothing``), so the next catch-up starts from nothing again. None when something
    was applied already or another runner claimed it first."""
    if not claim_from_nothing(engine, projection, source.name):
        return None
    try:
        return rebuild_split(source, engine, projection, processes, open_store, claimed=True)
    except BaseException:
        abandon_from_nothing(engine, projection, source.name)
        raise


def apply_city_wide(
    source: EventSource, engine: Engine, projection: Projection, originator_ids: Collection[UUID], stop: int
) -> int:
    """Apply the city-wide aggregates' events (few: tariffs, seasons, substations) in order."""
    notifications = scoped_notifications(source.recorder, originator_ids, stop)
    decoder = ReadingEventDecoder(source.mapper)
    for start in range(0, len(notifications), REBUILD_BATCH_SIZE):
        _apply(engine, projection, decoder.decode_all(notifications[start : start + REBUILD_BATCH_SIZE]))
    return len(notifications)


@dataclass
class GroupWork:
    """What one group's process did: events applied, its CPU seconds, and (wall seconds) how
    long it waited for SQLite's write lock and how long it held it."""

    applied: int = 0
    cpu_seconds: float = 0.0
    lock_wait_seconds: float = 0.0
    locked_seconds: float = 0.0


def apply_group(
    source: EventSource, engine: Engine, projection: Projection, group: Collection[UUID], stop: int, processes: int
) -> GroupWork:
    """Apply the events of ``group``'s aggregates up to ``stop``, in notification order, one
    window of notification ids per transaction, all on one connection (on SQLite with the
    larger page cache throughout, as a rebuild in one process has it)."""
    reader = ScopedWindows(source.recorder, group)
    decoder = ReadingEventDecoder(source.mapper)
    span = EVENTS_PER_WINDOW * processes
    work = GroupWork()
    cpu_before = time.process_time()
    with engine.connect() as connection, page_cache_for(connection, stop):
        for after in range(0, stop, span):
            with collector_paused():  # thousands of events and rows, no cycles (application/collector.py)
                notifications = reader.window(after, min(after + span, stop))
                if notifications:
                    domain_events = decoder.decode_all(notifications)
                    _apply_on(connection, projection, domain_events, work)
                    work.applied += len(notifications)
                    del domain_events
    work.cpu_seconds = time.process_time() - cpu_before
    return work


def _apply(engine: Engine, projection: Projection, domain_events: Sequence[Any], work: GroupWork | None = None) -> None:
    with engine.connect() as connection, page_cache_for(connection, len(domain_events)):
        _apply_on(connection, projection, domain_events, work)


def _apply_on(
    connection: Connection, projection: Projection, domain_events: Sequence[Any], work: GroupWork | None = None
) -> None:
    """Apply ``domain_events`` in one transaction of ``connection`` (on SQLite, the write lock
    taken first)."""
    with connection.begin():
        asked = time.perf_counter()
        _take_write_lock(connection, projection)
        taken = time.perf_counter()
        apply_rebuild_batch(connection, projection, domain_events)
    if work is not None:
        work.lock_wait_seconds += taken - asked
        work.locked_seconds += time.perf_counter() - taken  # the commit included


def _take_write_lock(connection: Connection, projection: Projection) -> None:
    """On SQLite, begin the transaction with a write (the tracking row set to itself), so it waits
    its turn for the one writer's lock (busy timeout) instead of failing after its reads."""
    if connection.dialect.name != "sqlite":
        return  # PostgreSQL locks rows, not the database: the processes write side by side
    tracking = projection_tracking.c
    connection.execute(
        update(projection_tracking)
        .where(tracking.projection_name == projection.name)
        .values(notification_id=tracking.notification_id)
    )


def _apply_in_processes(open_store: Any, projection: Projection, plan: RebuildPlan, processes: int) -> list[GroupWork]:
    arguments = [(open_store, type(projection), group, plan.stop, processes) for group in plan.groups if group]
    with ProcessPoolExecutor(max_workers=len(arguments) or 1, mp_context=get_context("fork")) as pool:
        futures = [pool.submit(_group_process, *argument) for argument in arguments]
        return [future.result() for future in futures]


def _group_process(
    open_store: Any, projection_type: type[Any], group: Iterable[UUID], stop: int, processes: int
) -> GroupWork:
    """In a new process: open the store anew and apply one group."""
    source, engine = open_store()
    try:
        return apply_group(source, engine, projection_type(), frozenset(group), stop, processes)
    finally:
        engine.dispose()
        source.close()


@dataclass(frozen=True)
class StoreOpener:
    """Opens the store of ``settings`` in a group's process: the ledger application (for its
    recorder and mapper) and the read models' engine, not migrated (the parent did that)."""

    settings: Settings

    def __call__(self) -> tuple[HeatLedger, Engine]:
        engine = create_database_engine(self.settings)
        environment = event_store_environment(self.settings)
        # The parent made the tables; the library's CREATE OR REPLACE of its functions from two
        # processes at once fails on PostgreSQL ("tuple concurrently updated").
        environment["CREATE_TABLE"] = "false"
        return HeatLedger(env=environment), engine
