"""The cyclic garbage collector is paused while a batch is projected, and comes back after."""

import gc
import threading
from collections.abc import Iterator

import pytest

from projections.collector import collector_paused


@pytest.fixture(autouse=True)
def collector_enabled() -> Iterator[None]:
    was_enabled = gc.isenabled()
    gc.enable()
    yield
    if not was_enabled:
        gc.disable()


def test_the_collector_is_off_inside_and_on_after() -> None:
    with collector_paused():
        assert not gc.isenabled()
    assert gc.isenabled()


def test_the_collector_comes_back_after_an_error() -> None:
    with pytest.raises(RuntimeError), collector_paused():
        raise RuntimeError("a batch failed")
    assert gc.isenabled()


def test_a_collector_that_was_off_stays_off() -> None:
    gc.disable()
    with collector_paused():
        pass
    assert not gc.isenabled()


def test_overlapping_pauses_resume_when_the_last_one_ends() -> None:
    # Two threads' batches overlap: the first to end must not switch the collector back on under
    # the second, and the last to end must.
    first_inside, second_done = threading.Event(), threading.Event()
    seen_after_second: list[bool] = []

    def first() -> None:
        with collector_paused():
            first_inside.set()
            assert second_done.wait(5)
            seen_after_second.append(gc.isenabled())

    def second() -> None:
        assert first_inside.wait(5)
        with collector_paused():
            pass
        second_done.set()

    threads = [threading.Thread(target=first), threading.Thread(target=second)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(10)
    assert seen_after_second == [False]
    assert gc.isenabled()
