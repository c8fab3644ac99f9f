"""Pull-based catch-up: apply new events to a projection in batches, exactly once.

Per batch, one transaction holds the projection's rows and the tracking row. The tracking row
moves forward only by compare-and-set on the position the batch started from, so when two
workers race, the later one changes nothing and rolls back.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager, suppress
from typing import Any, Protocol

from sqlalchemy import Connection, Engine, Table, delete, insert, select, update
from sqlalchemy.exc import DBAPIError, IntegrityError, OperationalError, SQLAlchemyError

from projections.collector import collector_paused
from projections.reading_events import ReadingEventDecoder
from projections.tables import projection_tracking

DEFAULT_BATCH_SIZE = 500
# Far behind (a rebuild, a worker starting late), batches grow to this many events: each batch
# costs a commit (an fsync on SQLite), a look-up of its meters and households and a flush of its
# readings, whatever its size, and 500-event batches spent about a third of a rebuild on those.
# 5,000 events hold SQLite's write lock for well under a second and take some 50 MB at most.
LARGEST_BATCH_SIZE = 5_000
# A bound on one catch-up call: 200,000 batches is far more than any store holds today.
MAXIMUM_BATCHES = 200_000
# SQLite keeps 2 MB of pages per connection by default; a large batch inserts into the reading
# tables' indexes all over, and with the pages it writes cached it takes a fifth less CPU. The
# connection gets this much for the batch only (KiB; the cache is filled as pages are read).
SQLITE_BATCH_CACHE_KIB = 65_536
LARGE_BATCH_SIZE = 2_000

# The tracking row's position while a rebuild split over processes runs (infrastructure/
# parallel_rebuild.py): beyond any notification id, so a catch-up meanwhile finds nothing to apply
# and writes nothing into the half-built tables. ``position()`` reads it as 0: nothing is known to
# be applied (a point-in-time read then builds its own view instead of reading these tables).
REBUILDING = 2**62

ProgressCallback = Callable[[int, int], None]


class Projection(Protocol):
    name: str
    tables: tuple[Table, ...]

    def apply_batch(self, connection: Connection, domain_events: Sequence[Any]) -> None: ...


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
        self.batch_size = batch_size or DEFAULT_BATCH_SIZE
        self.largest_batch_size = batch_size or LARGEST_BATCH_SIZE
        # The same events the source's mapper makes, readings decoded by msgspec (reading_events).
        self._decoder = ReadingEventDecoder(source.mapper)
        # One catch-up at a time per process; other processes are kept honest by the tracking row.
        self._lock = threading.Lock()

    def position(self) -> int:
        """The id of the last notification applied (0 before any, and while a split rebuild runs)."""
        with self.engine.connect() as connection:
            position = self._position(connection)
        return 0 if position == REBUILDING else position

    def rebuilding(self) -> bool:
        """Whether a rebuild split over processes is under way (or failed and was not run again)."""
        with self.engine.connect() as connection:
            return self._position(connection) == REBUILDING

    def max_notification_id(self) -> int:
        return int(self.source.recorder.max_notification_id() or 0)

    def catch_up(self, progress: ProgressCallback | None = None) -> int:
        """Apply every event not yet applied; returns how many notifications were processed."""
        with self._lock:
            applied = 0
            target = self.max_notification_id()
            size = self.batch_size
            for _ in range(MAXIMUM_BATCHES):
                try:
                    count = self._apply_next_batch(size)
                except TrackingMovedError:
                    continue
                if count == 0:
                    return applied
                applied += count
                if count == size:  # more are waiting, probably: a larger step
                    size = min(2 * size, self.largest_batch_size)
                if progress is not None:
                    progress(self.position(), target)
            raise RuntimeError(f"catch-up did not finish within {MAXIMUM_BATCHES} batches")

    def rebuild(self, progress: ProgressCallback | None = None) -> int:
        """Empty the projection's tables, reset its tracking, and catch up from the first event."""
        with self._lock, self.engine.begin() as connection:
            empty_tables(connection, self.projection.tables)
            connection.execute(delete(projection_tracking).where(*self._tracking_key()))
        return self.catch_up(progress)

    def _apply_next_batch(self, size: int) -> int:
        start: int | None = None
        try:
            with self.engine.connect() as connection, page_cache_for(connection, size), connection.begin():
                start = self._position(connection)
                with collector_paused():  # reading thousands of notifications makes no cycles either
                    notifications = self.source.recorder.select_notifications(
                        start=start, limit=size, inclusive_of_start=False
                    )
                    if not notifications:
                        return 0
                    domain_events = self._decoder.decode_all(notifications)
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

    def _tracking_key(self) -> tuple[Any, ...]:
        return (
            projection_tracking.c.projection_name == self.projection.name,
            projection_tracking.c.application_name == self.source.name,
        )

    def _position(self, connection: Connection) -> int:
        row = connection.execute(select(projection_tracking.c.notification_id).where(*self._tracking_key())).first()
        return int(row[0]) if row else 0

    def _advance(self, connection: Connection, start: int, end: int) -> None:
        assert end > start, "tracking only moves forward"
        if start == 0 and not connection.execute(select(projection_tracking).where(*self._tracking_key())).first():
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
    """A larger page cache on SQLite for a large batch, the connection's own restored after it
    (after its commit: this encloses the transaction)."""
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
