"""Pull-based catch-up: apply new events to a projection in batches, exactly once.

Per batch, one transaction holds the projection's rows and the tracking row. The tracking row
moves forward only by compare-and-set on the position the batch started from, so when two
workers race, the later one changes nothing and rolls back.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager, suppress
from typing import Any, Protocol, runtime_checkable

from sqlalchemy import Connection, Engine, Table, delete, insert, select, update
from sqlalchemy.exc import DBAPIError, IntegrityError, OperationalError, SQLAlchemyError

from projections.collector import collector_paused
from projections.reading_events import ReadingEventDecoder
from projections.tables import projection_tracking

DEFAULT_BATCH_SIZE = 500
# Far behind (a worker starting late), batches grow to this many events. Every batch pays, whatever
# its size, a commit, a look-up of its meters and households, one UPDATE of each meter it read
# for and one upsert of each month and place its days fall in: per meter and batch, not per event.
# On a store of 3,000 households (479,313 events, issue 17) 5,000-event batches held under two
# readings a meter, and those costs were most of a catch-up's: 20,000 took a third less CPU on
# PostgreSQL than 5,000 (client 35.0 -> 25.3 s, server 25.7 -> 13.8 s). About 240 MB of memory
# at most; on SQLite the write lock is held 1-2 s a batch.
LARGEST_BATCH_SIZE = 20_000
# ... and stop doubling before a batch would carry more stored state than this (bytes): memory
# follows the events decoded and the rows built from them, and a settlement's bills weigh more than
# readings (a bill event about 25 KB in memory: at 20,000 a batch a city's settlement as run peaked
# at 626 MB on PostgreSQL, 924 on SQLite, against 261-342 at 5,000). 20,000 readings (about 1.1
# KB of state each) fit; a settlement's catch-up stays near 8,000 bills a batch.
LARGEST_BATCH_BYTES = 24 * 2**20
# A rebuild (the read models emptied, nothing else to serve meanwhile) takes larger steps still:
# 50,000 events a batch, about 400 MB at most (client 20.0 s and server 10.3 on the same store).
REBUILD_BATCH_SIZE = 50_000
# A catch-up that finds nothing applied yet (no tracking row: a new read-model database, the first
# start after a migration that emptied the read models) and at least this many events to apply
# takes a rebuild's path where that path is cheaper (``summaries_deferred``: PostgreSQL): batches
# of REBUILD_BATCH_SIZE and the summaries written once at the end. On a season of 479,313 events
# the summaries kept up batch by batch were about a quarter of a catch-up's CPU (docs/scaling.md).
CATCH_UP_AS_REBUILD_FROM_EVENTS = 100_000
# A bound on one catch-up call: 200,000 batches is far more than any store holds today.
MAXIMUM_BATCHES = 200_000
# SQLite keeps 2 MB of pages per connection by default; a large batch inserts into the reading
# tables' indexes all over (a page of each index per meter), and with the pages it writes cached it
# takes a fifth less CPU. A catch-up that starts this far behind gets the larger cache for all its
# batches, the connection's own restored after them (KiB; the cache is filled as pages are read).
# Restored after every batch instead, the cache was emptied and filled again each time (6 % of a
# rebuild of 479,313 events).
SQLITE_BATCH_CACHE_KIB = 262_144
LARGE_BATCH_SIZE = 2_000

# The tracking row's position while a rebuild runs (``rebuild``; split over processes:
# infrastructure/parallel_rebuild.py): beyond any notification id, so a catch-up meanwhile finds nothing to apply
# and writes nothing into the half-built tables. ``position()`` reads it as 0: nothing is known to
# be applied (a point-in-time read then builds its own view instead of reading these tables).
REBUILDING = 2**62

ProgressCallback = Callable[[int, int], None]


class Projection(Protocol):
    name: str
    tables: tuple[Table, ...]

    def apply_batch(self, connection: Connection, domain_events: Sequence[Any]) -> None: ...


@runtime_checkable
class SummarisingProjection(Protocol):
    """A projection some of whose tables only sum others: a rebuild's batches leave them alone
    (``keep_summaries=False``) and ``summarise`` writes them from the rows once, at its end."""

    def apply_batch(self, connection: Connection, domain_events: Sequence[Any], *, keep_summaries: bool) -> None: ...

    def summarise(self, connection: Connection) -> None: ...


class EventSource(Protocol):
    """What the runner needs of an eventsourcing Application: its name, recorder and mapper."""

    name: str
    recorder: Any
    mapper: Any


class TrackingMovedError(Exception):
    """Another worker applied the batch first; this one's work is rolled back."""


class ProjectionRunner:
    """Catches one projection up with one application's notification log."""

    def __init__(
        self, source: EventSource, engine: Engine, projection: Projection, batch_size: int | None = None
    ) -> None:
        """``batch_size`` fixes the events per batch; without it, batches start at
        ``DEFAULT_BATCH_SIZE`` and double while they come back full, up to ``LARGEST_BATCH_SIZE``,
        so the catch-up after one command stays small and a rebuild takes large steps."""
        assert batch_size is None or batch_size >= 1, "a batch holds one event at least"
        self.source = source
        self.engine = engine
        self.projection = projection
        self.fixed_batch_size = batch_size
        self.batch_size = batch_size or DEFAULT_BATCH_SIZE
        # A catch-up from nothing with this many events or more to apply runs as a rebuild.
        self.rebuild_from_events = CATCH_UP_AS_REBUILD_FROM_EVENTS
        self.largest_batch_size = batch_size or LARGEST_BATCH_SIZE
        # The same events the source's mapper makes, readings decoded by msgspec (reading_events).
        self._decoder = ReadingEventDecoder(source.mapper)
        # The stored state of the last batch applied, in bytes (what the next batch's size follows).
        self._batch_bytes = 0
        # One catch-up at a time per process; other processes are kept honest by the tracking row.
        self._lock = threading.Lock()
        # While this runner rebuilds: the last notification the rebuild applied (the tracking row
        # stands at REBUILDING meanwhile); None otherwise.
        self._rebuilt_up_to: int | None = None

    def position(self) -> int:
        """The id of the last notification applied (0 before any, and while a rebuild runs)."""
        with self.engine.connect() as connection:
            position = self._position(connection)
        return 0 if position == REBUILDING else position

    def applied_nothing(self) -> bool:
        """Whether nothing was ever applied (no tracking row: a new read-model database, or read
        models a migration emptied); a rebuild under way has applied something."""
        with self.engine.connect() as connection:
            return not has_tracking_row(connection, self.projection, self.source.name)

    def rebuilding(self) -> bool:
        """Whether a rebuild (in one process or split) is under way (or failed and was not run again)."""
        with self.engine.connect() as connection:
            return self._position(connection) == REBUILDING

    def max_notification_id(self) -> int:
        return int(self.source.recorder.max_notification_id() or 0)

    def catch_up(
        self,
        progress: ProgressCallback | None = None,
        largest_batch_size: int | None = None,
        bytes_bound: int | None = LARGEST_BATCH_BYTES,
    ) -> int:
        """Apply every event not yet applied; returns how many notifications were processed.
        Batches grow up to ``largest_batch_size`` (the runner's own bound when None) while their
        stored state stays within ``bytes_bound`` (None: no bound, as a rebuild takes them)."""
        with self._lock:
            applied = self._catch_up_from_nothing(progress)
            return applied + self._catch_up(progress, largest_batch_size or self.largest_batch_size, bytes_bound)

    def rebuild(self, progress: ProgressCallback | None = None) -> int:
        """Empty the projection's tables and apply every event from the first, in batches of up to
        ``REBUILD_BATCH_SIZE`` events unless the runner's size is fixed; returns the events applied.

        Meanwhile the tracking row stands at ``REBUILDING``: no catch-up anywhere writes into the
        half-built tables, and a rebuild that fails leaves it so until a rebuild runs again (as a
        split rebuild does, ``infrastructure/parallel_rebuild.py``). On PostgreSQL a projection's
        summaries (``SummarisingProjection``) are not kept up batch by batch but written from the
        rows at the end, in the transaction that moves the tracking row to the last event applied
        (``summaries_deferred``)."""
        with self._lock:
            begin_rebuild(self.engine, self.projection, self.source.name)
            return self._rebuild_after_begin(progress)

    def _rebuild_after_begin(self, progress: ProgressCallback | None) -> int:
        """Every event applied in rebuild batches after ``begin_rebuild`` (or ``claim_from_nothing``)
        marked the rebuild, then ``finish_rebuild``; returns the events applied."""
        self._rebuilt_up_to = 0
        try:
            applied = self._catch_up(progress, self.fixed_batch_size or REBUILD_BATCH_SIZE, None)
            finish_rebuild(self.engine, self.projection, self.source.name, self._rebuilt_up_to)
        finally:
            self._rebuilt_up_to = None
        return applied

    def _catch_up_from_nothing(self, progress: ProgressCallback | None) -> int:
        """When nothing is applied yet and ``rebuild_from_events`` or more events wait, on a
        database where a rebuild's path is cheaper (``summaries_deferred``): claim the projection
        as a rebuild does (``claim_from_nothing``: only one runner anywhere wins) and apply every
        event so, the tracking row at ``REBUILDING`` meanwhile. Returns the events applied (0 when
        the path was not taken). A failure gives the claim back (``abandon_from_nothing``): the
        next catch-up starts from nothing again, as it would have after a failed batch."""
        if not summaries_deferred(self.engine, self.projection):
            return 0  # decided without a connection: every command's catch-up passes here on SQLite
        with self.engine.connect() as connection:
            if has_tracking_row(connection, self.projection, self.source.name):
                return 0
        if self.max_notification_id() < self.rebuild_from_events:
            return 0
        if not claim_from_nothing(self.engine, self.projection, self.source.name):
            return 0  # another runner claimed it first: its mark holds this one's catch-up
        try:
            return self._rebuild_after_begin(progress)
        except BaseException:
            abandon_from_nothing(self.engine, self.projection, self.source.name)
            raise

    def _catch_up(self, progress: ProgressCallback | None, largest: int, bytes_bound: int | None) -> int:
        """Batches on one connection, growing from ``batch_size`` to ``largest`` while full; the
        SQLite page cache raised once for them all when the catch-up starts far behind."""
        applied = 0
        target = self.max_notification_id()
        size = min(self.batch_size, largest)
        with self.engine.connect() as connection, page_cache_for(connection, target - self.position()):
            for _ in range(MAXIMUM_BATCHES):
                try:
                    count = self._apply_next_batch(connection, size)
                except TrackingMovedError:
                    continue
                if count == 0:
                    return applied
                applied += count
                heavy = bytes_bound is not None and 2 * self._batch_bytes > bytes_bound
                if count == size and not heavy:  # more are waiting, probably: a larger step
                    size = min(2 * size, largest)
                if progress is not None:
                    progress(self._rebuilt_up_to if self._rebuilt_up_to is not None else self.position(), target)
        raise RuntimeError(f"catch-up did not finish within {MAXIMUM_BATCHES} batches")

    def _read_batch(self, after: int, size: int) -> tuple[Sequence[Any], list[Any]]:
        """The notifications after position ``after`` (``size`` at most) and their domain events."""
        notifications = self.source.recorder.select_notifications(start=after, limit=size, inclusive_of_start=False)
        if not notifications:
            return notifications, []
        self._batch_bytes = sum(len(notification.state) for notification in notifications)
        return notifications, self._decoder.decode_all(notifications)

    def _apply_next_batch(self, connection: Connection, size: int) -> int:
        if self._rebuilt_up_to is not None:
            return self._apply_next_rebuild_batch(connection, size)
        start: int | None = None
        try:
            with connection.begin():
                start = self._position(connection)
                with collector_paused():  # reading thousands of notifications makes no cycles either
                    notifications, domain_events = self._read_batch(start, size)
                    if not notifications:
                        return 0
                    self.projection.apply_batch(connection, domain_events)
                    del domain_events
                self._advance(connection, start, notifications[-1].id)
                return len(notifications)
        except (IntegrityError, OperationalError) as error:
            # A racing worker committed these events first: our rows collide with its rows (or, on
            # PostgreSQL, our locks with its locks). That is a moved tracking row, not a fault; an
            # error while the tracking row stayed where we started is a real one and propagates.
            if start is not None and self.position() != start:
                raise TrackingMovedError(f"{self.projection.name} moved past {start} meanwhile") from error
            raise

    def _apply_next_rebuild_batch(self, connection: Connection, size: int) -> int:
        """The batch after the last one the rebuild applied, in a transaction of its own; the
        tracking row stays at REBUILDING (``finish_rebuild`` moves it)."""
        assert self._rebuilt_up_to is not None, "only while rebuilding"
        with connection.begin(), collector_paused():
            notifications, domain_events = self._read_batch(self._rebuilt_up_to, size)
            if not notifications:
                return 0
            apply_rebuild_batch(connection, self.projection, domain_events)
            del domain_events
        self._rebuilt_up_to = notifications[-1].id
        return len(notifications)

    def _tracking_key(self) -> tuple[Any, ...]:
        return tracking_key(self.projection, self.source.name)

    def _position(self, connection: Connection) -> int:
        row = connection.execute(select(projection_tracking.c.notification_id).where(*self._tracking_key())).first()
        return int(row[0]) if row else 0

    def _advance(self, connection: Connection, start: int, end: int) -> None:
        assert end > start, "tracking only moves forward"
        if start == 0 and not has_tracking_row(connection, self.projection, self.source.name):
            try:
                connection.execute(
                    insert(projection_tracking).values(
                        projection_name=self.projection.name, application_name=self.source.name, notification_id=end
                    )
                )
            except IntegrityError as error:
                raise TrackingMovedError(f"{self.projection.name} was started by another worker") from error
            return
        moved = connection.execute(
            update(projection_tracking)
            .where(*self._tracking_key(), projection_tracking.c.notification_id == start)
            .values(notification_id=end)
        )
        if moved.rowcount != 1:
            raise TrackingMovedError(f"{self.projection.name} moved past {start} meanwhile")


def tracking_key(projection: Projection, application_name: str) -> tuple[Any, ...]:
    """The conditions that pick ``projection``'s tracking row for ``application_name``'s log."""
    return (
        projection_tracking.c.projection_name == projection.name,
        projection_tracking.c.application_name == application_name,
    )


def has_tracking_row(connection: Connection, projection: Projection, application_name: str) -> bool:
    """Whether ``projection`` has a tracking row for ``application_name``'s log (none: nothing applied)."""
    found = connection.execute(
        select(projection_tracking.c.notification_id).where(*tracking_key(projection, application_name))
    )
    return found.first() is not None


def begin_rebuild(engine: Engine, projection: Projection, application_name: str) -> None:
    """Empty the projection's tables and mark the rebuild in progress (the tracking row at
    ``REBUILDING``), in one transaction."""
    with engine.begin() as connection:
        empty_tables(connection, projection.tables)
        connection.execute(delete(projection_tracking).where(*tracking_key(projection, application_name)))
        connection.execute(
            insert(projection_tracking).values(
                projection_name=projection.name, application_name=application_name, notification_id=REBUILDING
            )
        )


def claim_from_nothing(engine: Engine, projection: Projection, application_name: str) -> bool:
    """Mark a rebuild (the tracking row at ``REBUILDING``) if the projection has no tracking row
    (nothing applied), and empty its tables to be sure of it, in one transaction; True when this
    call marked it. Two runners racing: the second's insert waits on the first's key, then fails."""
    with engine.begin() as connection:
        if has_tracking_row(connection, projection, application_name):
            return False
        try:
            with connection.begin_nested():
                connection.execute(
                    insert(projection_tracking).values(
                        projection_name=projection.name, application_name=application_name, notification_id=REBUILDING
                    )
                )
        except IntegrityError:
            return False
        empty_tables(connection, projection.tables)
    return True


def abandon_from_nothing(engine: Engine, projection: Projection, application_name: str) -> None:
    """Undo a failed ``claim_from_nothing``: the tables emptied and the tracking row removed, if it
    still stands at ``REBUILDING`` (compare and set), in one transaction; the next catch-up starts
    from nothing. Best effort: an error here (the database lost) leaves the mark, as a failed
    rebuild does, and the original error is the one raised."""
    with suppress(SQLAlchemyError), engine.begin() as connection:
        key = tracking_key(projection, application_name)
        removed = connection.execute(
            delete(projection_tracking).where(*key, projection_tracking.c.notification_id == REBUILDING)
        )
        if removed.rowcount == 1:
            empty_tables(connection, projection.tables)


def summaries_deferred(connection: Connection | Engine, projection: Projection) -> bool:
    """Whether a rebuild of ``projection`` on ``connection``'s database leaves its summaries to its
    end: on PostgreSQL, where the batches' upserts cost the rebuild of a season (479,313 events) 4
    CPU s and their writing from the rows at the end 1.3 s of the server's. Not on SQLite, where
    writing them at the end (2.7 s, one statement after another) cost more than keeping them up."""
    return isinstance(projection, SummarisingProjection) and connection.dialect.name == "postgresql"


def apply_rebuild_batch(connection: Connection, projection: Projection, domain_events: Sequence[Any]) -> None:
    """Apply a batch of a rebuild, the projection's summaries left to ``finish_rebuild`` where it
    writes them (``summaries_deferred``)."""
    if summaries_deferred(connection, projection):
        assert isinstance(projection, SummarisingProjection)
        projection.apply_batch(connection, domain_events, keep_summaries=False)
    else:
        projection.apply_batch(connection, domain_events)


def finish_rebuild(engine: Engine, projection: Projection, application_name: str, stop: int) -> None:
    """In one transaction: the projection's summaries written from its rows (where the rebuild's
    batches left them: ``summaries_deferred``), and the tracking row moved from ``REBUILDING`` to
    ``stop``, the last event applied (no row when nothing was)."""
    with engine.begin() as connection:
        if summaries_deferred(connection, projection):
            assert isinstance(projection, SummarisingProjection)
            projection.summarise(connection)
        key = tracking_key(projection, application_name)
        if stop == 0:
            moved = connection.execute(
                delete(projection_tracking).where(*key, projection_tracking.c.notification_id == REBUILDING)
            )
        else:
            moved = connection.execute(
                update(projection_tracking)
                .where(*key, projection_tracking.c.notification_id == REBUILDING)
                .values(notification_id=stop)
            )
        if moved.rowcount != 1:
            raise RuntimeError(f"{projection.name}: the tracking row moved during the rebuild")


def empty_tables(connection: Connection, tables: Sequence[Table]) -> None:
    """Delete every row of ``tables`` in the connection's transaction: on PostgreSQL by one
    TRUNCATE, whose cost does not grow with the rows (a DELETE of a city's hundreds of millions of
    rows takes as long as writing them, and leaves them dead in the tables and their indexes for
    the rebuild's inserts to step over until a vacuum). Where TRUNCATE cannot be had (a lock
    another session holds past the lock timeout, a foreign key from a table not emptied), DELETE."""
    if connection.dialect.name == "postgresql" and tables:
        names = ", ".join(connection.dialect.identifier_preparer.format_table(table) for table in tables)
        try:
            with connection.begin_nested():
                connection.exec_driver_sql(f"TRUNCATE {names}")
            return
        except DBAPIError:
            pass  # the savepoint was rolled back: the same rows by DELETE
    for table in tables:
        connection.execute(delete(table))


@contextmanager
def page_cache_for(connection: Connection, size: int) -> Iterator[None]:
    """A larger page cache on SQLite for ``size`` events to come (one large batch, or every batch
    of a catch-up far behind), the connection's own restored after them (after the last commit:
    this encloses the transactions)."""
    in_memory = connection.engine.url.database in (None, "", ":memory:")  # its pages are all cached
    if connection.dialect.name != "sqlite" or in_memory or size < LARGE_BATCH_SIZE:
        yield
        return
    before = int(connection.exec_driver_sql("PRAGMA cache_size").scalar_one())

    def cache(kib_or_pages: int) -> None:
        connection.exec_driver_sql(f"PRAGMA cache_size = {kib_or_pages}")
        connection.commit()  # the PRAGMA began SQLAlchemy's transaction: end it

    cache(-SQLITE_BATCH_CACHE_KIB)
    try:
        yield
    except BaseException:
        with suppress(SQLAlchemyError):  # the batch's own error is the one to raise
            cache(before)
        raise
    cache(before)
