"""The next batch of a catch-up read and decoded while this one is written (issue 17).

A batch's writing waits on the database most of its time on PostgreSQL: the server takes the rows
of each COPY, checks the keys and writes the WAL while the catch-up sits in ``Connection.wait``
(measured on a season of 479,313 events: the catch-up's own CPU 15 s of a 23.6 s rebuild, the
server's 10 s). Reading the next batch's notifications and decoding them (a third of the catch-up's
own CPU) fits in those waits: ``ReadAhead`` does it in a thread of its own, one batch ahead, and
hands the batch over when the catch-up asks for exactly that batch (the same first position and
size); any other batch is read there and then, and what was read ahead is dropped.

Only where the writer waits without holding the interpreter's lock for long stretches: on SQLite
the writes are the library's C calls, which let the lock go and take it back for every row, and a
thread decoding beside them would make each take wait (so there it is off).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

from projections.collector import collector_paused

# (the notifications, their domain events)
Batch = tuple[Sequence[Any], list[Any]]


class ReadAhead:
    """Reads batches of ``read(after, size)``; ``ahead`` starts the next one in a thread."""

    def __init__(self, read: Callable[[int, int], Batch], enabled: bool) -> None:
        self._read = read
        self._threads = ThreadPoolExecutor(1, thread_name_prefix="read-ahead") if enabled else None
        self._pending: tuple[tuple[int, int], Future[Batch]] | None = None
        self.hits = 0  # batches handed over as read ahead (for the tests and benchmarks)

    def batch(self, after: int, size: int) -> Batch:
        """The notifications after position ``after``, ``size`` at most, and their events."""
        pending, self._pending = self._pending, None
        if pending is not None:
            key, future = pending
            if key == (after, size):
                self.hits += 1
                return future.result()
            future.cancel()
            if not future.cancelled():
                future.exception()  # finished or running: wait for it, its result is not wanted
        return self._read(after, size)

    def ahead(self, after: int, size: int) -> None:
        """Start reading the batch after ``after`` (when enabled and nothing is pending)."""
        if self._threads is not None and self._pending is None:
            self._pending = ((after, size), self._threads.submit(self._read_paused, after, size))

    def close(self) -> None:
        """Drop what was read ahead and end the thread."""
        if self._pending is not None:
            self._pending[1].cancel()
            self._pending = None
        if self._threads is not None:
            self._threads.shutdown(wait=True, cancel_futures=True)

    def _read_paused(self, after: int, size: int) -> Batch:
        with collector_paused():  # thousands of events and no cycles (application/collector.py)
            return self._read(after, size)
