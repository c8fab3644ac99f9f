"""The ledger's locks within one process: shared or exclusive for commands, and one per aggregate.

Some services edit the cached aggregate itself, not a copy (copying a meter costs more than judging
its reading), so no two threads may ever work on the same cached aggregate. Commands take the
process lock *shared* and lock the ids of the aggregates they load or save (``CommandLocks.writing``,
or ``writing_found`` when one names the others), so two of them only wait for each other when they
touch the same aggregate. The few that change cached billing periods in place (billing runs, tariff
corrections' chunks) run *exclusive*: alone in the process, as every command once did. Across
processes the store's version check stays the final guard (a conflicting save fails, and the
commands that retry do so a bounded number of times).

Deadlock freedom: the process lock is always taken first; aggregate locks are striped (an id maps
to one of ``STRIPES`` locks) and one thread takes its stripes in ascending order, never a lower
stripe while it holds a higher one (checked: ``LockOrderError``). A thread holding the lock shared
never asks for it exclusive (``LockOrderError`` too): two such threads would wait for each other.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from types import TracebackType
from uuid import UUID

from domain.errors import ConflictError

# Enough stripes that 50 clients on different households rarely share one (a shared stripe only
# makes two commands wait for each other, never wrong), few enough to cost nothing.
STRIPES = 1024
# How often a command whose further aggregates are known only once one is loaded looks again when
# they changed between the look and the lock (``CommandLocks.writing_found``).
MAXIMUM_LOOKS = 3


class LockOrderError(RuntimeError):
    """A thread asked for a lock in an order that could deadlock: a programming error."""


class SharedExclusiveLock:
    """A readers-writer lock, reentrant both ways a thread may nest, preferring waiting writers.

    Used as a context manager it is taken exclusive (so ``with ledger.command_lock:`` keeps its
    old meaning). A thread holding it exclusive may take it again either way; a thread holding it
    shared may take it shared again (even with a writer waiting, or it would wait for itself).
    ``always_exclusive`` turns every shared acquisition into an exclusive one: the old behaviour,
    kept for measuring (bench/api_writes.py) and as an operator's fallback.
    """

    def __init__(self, *, always_exclusive: bool = False) -> None:
        self.always_exclusive = always_exclusive
        self._condition = threading.Condition(threading.Lock())
        self._writer: int | None = None
        self._writer_depth = 0
        self._writers_waiting = 0
        self._readers: dict[int, int] = {}

    # -- exclusive ----------------------------------------------------------------------------

    def acquire(self) -> None:
        """Take the lock exclusive; wait until no other thread holds it either way."""
        me = threading.get_ident()
        with self._condition:
            if self._writer == me:
                self._writer_depth += 1
                return
            if me in self._readers:
                raise LockOrderError("a thread holding the command lock shared asked for it exclusive")
            self._writers_waiting += 1
            try:
                self._condition.wait_for(lambda: self._writer is None and not self._readers)
            finally:
                self._writers_waiting -= 1
            self._writer, self._writer_depth = me, 1

    def release(self) -> None:
        with self._condition:
            assert self._writer == threading.get_ident(), "released by a thread that does not hold it exclusive"
            self._writer_depth -= 1
            if self._writer_depth == 0:
                self._writer = None
                self._condition.notify_all()

    def __enter__(self) -> SharedExclusiveLock:
        self.acquire()
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        self.release()

    def held_exclusive(self) -> bool:
        """Whether the calling thread holds the lock exclusive."""
        return self._writer == threading.get_ident()

    # -- shared -------------------------------------------------------------------------------

    @contextmanager
    def shared(self) -> Iterator[None]:
        """Hold the lock shared (exclusive under ``always_exclusive``, or nested in exclusive)."""
        if self.always_exclusive or self.held_exclusive():
            with self:
                yield
            return
        self._acquire_shared()
        try:
            yield
        finally:
            self._release_shared()

    def _acquire_shared(self) -> None:
        me = threading.get_ident()
        with self._condition:
            if me not in self._readers:
                self._condition.wait_for(lambda: self._writer is None and self._writers_waiting == 0)
            self._readers[me] = self._readers.get(me, 0) + 1

    def _release_shared(self) -> None:
        me = threading.get_ident()
        with self._condition:
            depth = self._readers.pop(me)
            if depth > 1:
                self._readers[me] = depth - 1
            elif not self._readers:
                self._condition.notify_all()


class KeyedLocks:
    """One lock per aggregate id, striped: an id maps to one of ``stripes`` reentrant locks."""

    def __init__(self, stripes: int = STRIPES) -> None:
        assert stripes >= 1, "one stripe at least"
        self._locks = tuple(threading.RLock() for _ in range(stripes))
        self._held = threading.local()

    def stripe_of(self, aggregate_id: UUID) -> int:
        return aggregate_id.int % len(self._locks)

    @contextmanager
    def holding(self, aggregate_ids: Iterable[UUID]) -> Iterator[None]:
        """Hold the locks of these ids, taken in ascending stripe order (each stripe once)."""
        held: list[int] = self._held.__dict__.setdefault("stripes", [])
        wanted = sorted({self.stripe_of(aggregate_id) for aggregate_id in aggregate_ids} - set(held))
        if held and wanted and wanted[0] < max(held):
            raise LockOrderError("an aggregate lock asked for below one already held could deadlock")
        taken: list[int] = []
        try:
            for stripe in wanted:
                self._locks[stripe].acquire()
                taken.append(stripe)
                held.append(stripe)
            yield
        finally:
            for stripe in reversed(taken):
                held.remove(stripe)
                self._locks[stripe].release()


class CommandLocks:
    """The process lock and the aggregate locks together, in the one order that cannot deadlock."""

    def __init__(self, *, always_exclusive: bool = False, stripes: int = STRIPES) -> None:
        self.process = SharedExclusiveLock(always_exclusive=always_exclusive)
        self.aggregates = KeyedLocks(stripes)

    @contextmanager
    def writing(self, aggregate_ids: Iterable[UUID]) -> Iterator[None]:
        """Run beside other commands, alone on these aggregates (and alone in the process while an
        exclusive command runs). Under an exclusive hold the aggregate locks are not needed."""
        with self.process.shared():
            if self.process.held_exclusive():
                yield
                return
            with self.aggregates.holding(aggregate_ids):
                yield

    @contextmanager
    def writing_found(self, aggregate_ids: Iterable[UUID], find: Callable[[], Iterable[UUID]]) -> Iterator[None]:
        """``writing`` for a command that learns further aggregates from one it loads (a meter's
        household, a refund's): ``find`` names them, looked up under the first ids' locks; then all
        are locked together (in ascending order, so the further ones are not asked for below one
        held) and ``find`` must name the same ones again, else it looks again (a bounded number of
        times, then ConflictError ``concurrent_change``)."""
        first = list(aggregate_ids)
        for _ in range(MAXIMUM_LOOKS):
            with self.writing(first):
                found = set(find())
            with self.writing([*first, *found]):
                if set(find()) == found:
                    yield
                    return
        raise ConflictError(
            "the record kept changing while the command was prepared; reload and try again",
            message_key="concurrent_change",
        )
