"""The command locks: shared beside shared, exclusive alone, one thread per aggregate, no deadlock."""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Callable
from uuid import UUID

import pytest

from application.locks import CommandLocks, KeyedLocks, LockOrderError, SharedExclusiveLock
from domain.errors import ConflictError

WAIT_S = 5.0


def _run_all(workers: list[Callable[[], None]], timeout_s: float = 20.0) -> None:
    """Run each callable in its own thread; fail if any raises or any is still running at the end."""
    errors: list[BaseException] = []

    def guarded(work: Callable[[], None]) -> Callable[[], None]:
        def run() -> None:
            try:
                work()
            except BaseException as error:
                errors.append(error)

        return run

    threads = [threading.Thread(target=guarded(work), daemon=True) for work in workers]
    for thread in threads:
        thread.start()
    deadline = time.monotonic() + timeout_s
    for thread in threads:
        thread.join(max(0.0, deadline - time.monotonic()))
    assert not any(thread.is_alive() for thread in threads), "threads still waiting: a deadlock"
    assert not errors, errors


def test_two_shared_holders_are_inside_at_once() -> None:
    lock = SharedExclusiveLock()
    both_inside = threading.Barrier(2, timeout=WAIT_S)

    def reader() -> None:
        with lock.shared():
            both_inside.wait()

    _run_all([reader, reader])


def test_always_exclusive_keeps_shared_holders_apart() -> None:
    lock = SharedExclusiveLock(always_exclusive=True)
    both_inside = threading.Barrier(2, timeout=0.3)
    broken: list[bool] = []

    def reader() -> None:
        with lock.shared():
            try:
                both_inside.wait()
            except threading.BrokenBarrierError:
                broken.append(True)

    _run_all([reader, reader])
    assert broken, "the second holder got in while the first was inside"


def test_an_exclusive_holder_waits_for_shared_holders_and_keeps_new_ones_out() -> None:
    lock = SharedExclusiveLock()
    events: list[str] = []
    reader_inside, writer_waiting = threading.Event(), threading.Event()

    def first_reader() -> None:
        with lock.shared():
            reader_inside.set()
            writer_waiting.wait(WAIT_S)
            time.sleep(0.05)
            events.append("reader 1 out")

    def writer() -> None:
        reader_inside.wait(WAIT_S)
        writer_waiting.set()
        with lock:
            events.append("writer")

    def late_reader() -> None:
        writer_waiting.wait(WAIT_S)
        time.sleep(0.02)  # the writer is waiting by now: a new reader queues behind it
        with lock.shared():
            events.append("reader 2")

    _run_all([first_reader, writer, late_reader])
    assert events == ["reader 1 out", "writer", "reader 2"]


def test_reentrant_exclusive_and_shared_inside_exclusive() -> None:
    lock = SharedExclusiveLock()
    with lock, lock, lock.shared():
        assert lock.held_exclusive()
    assert not lock.held_exclusive()
    with lock.shared():  # free again
        pass


def test_a_nested_shared_hold_gets_in_past_a_waiting_writer() -> None:
    lock = SharedExclusiveLock()
    writer_started = threading.Event()

    def writer() -> None:
        writer_started.set()
        with lock:
            pass

    def reader() -> None:
        with lock.shared():
            threading.Thread(target=writer, daemon=True).start()
            writer_started.wait(WAIT_S)
            time.sleep(0.05)
            with lock.shared():  # would wait for the writer, which waits for this thread
                pass

    _run_all([reader])


def test_asking_for_exclusive_while_holding_shared_is_refused() -> None:
    lock = SharedExclusiveLock()
    with lock.shared(), pytest.raises(LockOrderError):
        lock.acquire()


def test_one_aggregate_one_thread_at_a_time() -> None:
    locks = KeyedLocks()
    aggregate_id = UUID(int=7)
    inside: list[int] = []
    most_inside: list[int] = [0]

    def worker() -> None:
        for _ in range(50):
            with locks.holding([aggregate_id]):
                inside.append(1)
                most_inside[0] = max(most_inside[0], len(inside))
                time.sleep(0)
                inside.pop()

    _run_all([worker] * 4)
    assert most_inside == [1]


def test_different_aggregates_are_held_at_once() -> None:
    locks = KeyedLocks(stripes=16)
    both_inside = threading.Barrier(2, timeout=WAIT_S)

    def holder(aggregate_id: UUID) -> Callable[[], None]:
        def run() -> None:
            with locks.holding([aggregate_id]):
                both_inside.wait()

        return run

    _run_all([holder(UUID(int=1)), holder(UUID(int=2))])


def test_a_lower_stripe_below_a_held_one_is_refused_and_a_held_one_is_reentrant() -> None:
    locks = KeyedLocks(stripes=16)
    with locks.holding([UUID(int=5)]):
        with locks.holding([UUID(int=5), UUID(int=9)]):  # 5 held already, 9 above it
            pass
        with pytest.raises(LockOrderError), locks.holding([UUID(int=3)]):
            pass
    with locks.holding([UUID(int=3)]):  # everything was released
        pass


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_many_threads_on_overlapping_aggregates_never_deadlock_nor_share_an_aggregate(seed: int) -> None:
    """Threads take random sets of a few ids (sorted or not, as callers pass them), some
    exclusive, some nested: all finish, and no id is ever worked on by two threads at once."""
    locks = CommandLocks(stripes=8)
    ids = [UUID(int=number) for number in range(12)]
    counters = dict.fromkeys(ids, 0)
    expected = dict.fromkeys(ids, 0)
    plans: list[list[tuple[bool, list[UUID]]]] = []
    chooser = random.Random(seed)
    for _ in range(8):
        plan = [(chooser.random() < 0.1, chooser.sample(ids, chooser.randint(1, 4))) for _ in range(60)]
        for _, chosen in plan:
            for aggregate_id in set(chosen):
                expected[aggregate_id] += 1
        plans.append(plan)

    def bump(chosen: list[UUID]) -> None:
        for aggregate_id in set(chosen):
            value = counters[aggregate_id]
            time.sleep(0)  # a lost update shows if two threads are inside on one id
            counters[aggregate_id] = value + 1

    def worker(plan: list[tuple[bool, list[UUID]]]) -> Callable[[], None]:
        def run() -> None:
            for exclusive, chosen in plan:
                if exclusive:
                    with locks.process, locks.writing(chosen):
                        bump(chosen)
                else:
                    with locks.writing(chosen), locks.writing(chosen[:1]):  # nested: held already
                        bump(chosen)

        return run

    _run_all([worker(plan) for plan in plans], timeout_s=60.0)
    assert counters == expected


def test_aggregates_found_from_one_are_locked_with_it_in_ascending_order() -> None:
    """A meter's household below the meter's stripe: looked up under the meter's lock, then both
    taken together (never the lower one asked for while the higher is held)."""
    locks = CommandLocks(stripes=16)
    meter, household = UUID(int=9), UUID(int=3)
    with locks.writing_found([meter], lambda: [household]):
        held = locks.aggregates._held.stripes
        assert sorted(held) == [3, 9]
        with locks.writing([household, meter]):  # both held: reentrant, nothing asked below
            pass
    assert locks.aggregates._held.stripes == []


def test_aggregates_that_change_between_the_look_and_the_lock_are_looked_up_again() -> None:
    locks = CommandLocks(stripes=16)
    looks = iter([[UUID(int=3)], [UUID(int=4)], [UUID(int=4)], [UUID(int=4)]])
    with locks.writing_found([UUID(int=9)], lambda: next(looks)):
        assert sorted(locks.aggregates._held.stripes) == [4, 9]

    moving = iter(UUID(int=number) for number in range(1, 100))
    with pytest.raises(ConflictError) as refused, locks.writing_found([UUID(int=9)], lambda: [next(moving)]):
        pass
    assert refused.value.message_key == "concurrent_change"
