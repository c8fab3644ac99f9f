"""The catch-up's read-ahead: a batch asked for is the one read for it, whether it was read ahead
in the thread (the same first position and size) or there and then; a batch read ahead for another
request is dropped, never handed over; a failure of the read ahead is the failure of the batch."""

from __future__ import annotations

import threading

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from projections.read_ahead import Batch, ReadAhead


class Log:
    """A notification log of positions 1..``last``: a batch is its positions and their squares."""

    def __init__(self, last: int) -> None:
        self.last = last
        self.reads: list[tuple[int, int, str]] = []  # (after, size, thread name)

    def read(self, after: int, size: int) -> Batch:
        self.reads.append((after, size, threading.current_thread().name))
        positions = list(range(after + 1, min(after + size, self.last) + 1))
        return positions, [position * position for position in positions]


def test_a_batch_read_ahead_is_handed_over_once_and_read_in_the_thread() -> None:
    log = Log(100)
    reader = ReadAhead(log.read, enabled=True)
    reader.ahead(10, 5)
    assert reader.batch(10, 5) == ([11, 12, 13, 14, 15], [121, 144, 169, 196, 225])
    assert reader.hits == 1 and len(log.reads) == 1 and log.reads[0][2].startswith("read-ahead")
    assert reader.batch(10, 5) == log.read(10, 5)  # asked again: read there and then
    assert reader.hits == 1
    reader.close()


def test_a_batch_read_ahead_for_another_request_is_dropped() -> None:
    log = Log(100)
    reader = ReadAhead(log.read, enabled=True)
    reader.ahead(10, 5)
    assert reader.batch(12, 5) == ([13, 14, 15, 16, 17], [169, 196, 225, 256, 289])  # another start
    reader.ahead(20, 5)
    assert reader.batch(20, 6)[0] == [21, 22, 23, 24, 25, 26]  # another size
    assert reader.hits == 0
    reader.close()


def test_disabled_it_reads_each_batch_when_asked() -> None:
    log = Log(100)
    reader = ReadAhead(log.read, enabled=False)
    reader.ahead(0, 3)
    assert log.reads == []
    assert reader.batch(0, 3)[0] == [1, 2, 3]
    assert reader.hits == 0 and log.reads[0][2] == threading.current_thread().name
    reader.close()


def test_a_read_ahead_that_failed_fails_its_batch_and_only_its_batch() -> None:
    def failing(after: int, size: int) -> Batch:
        if after == 10:
            raise RuntimeError("the database went away")
        return Log(100).read(after, size)

    reader = ReadAhead(failing, enabled=True)
    reader.ahead(10, 5)
    with pytest.raises(RuntimeError, match="went away"):
        reader.batch(10, 5)
    reader.ahead(10, 5)
    assert reader.batch(20, 2)[0] == [21, 22]  # the failed read ahead was not this batch's
    reader.close()


@settings(max_examples=50, deadline=None)
@given(
    steps=st.lists(
        st.tuples(st.integers(0, 60), st.integers(1, 9), st.booleans(), st.integers(0, 60), st.integers(1, 9)),
        max_size=12,
    ),
    enabled=st.booleans(),
)
def test_every_batch_is_the_one_asked_for_whatever_was_read_ahead(
    steps: list[tuple[int, int, bool, int, int]], enabled: bool
) -> None:
    log = Log(50)
    reader = ReadAhead(log.read, enabled=enabled)
    try:
        for after, size, read_ahead, ahead_after, ahead_size in steps:
            if read_ahead:
                reader.ahead(ahead_after, ahead_size)
            assert reader.batch(after, size) == Log(50).read(after, size)
    finally:
        reader.close()
