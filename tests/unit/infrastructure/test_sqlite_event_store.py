"""The SQLite recorder's one-statement insert: the notification ids it returns are the rows' rowids.

``ChainedSQLiteApplicationRecorder._insert_events`` inserts a save's events with one
``executemany`` and works their rowids out from the last one (the library reads each back after its
own INSERT). These tests hold it to the rowids SQLite actually gave, with saves from two
connections interleaved, and to its refusal once the table's rowids are exhausted.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from pathlib import Path
from uuid import UUID, uuid4

import pytest
from eventsourcing.persistence import IntegrityError, PersistenceError, StoredEvent
from eventsourcing.sqlite import SQLiteDatastore
from hypothesis import given, settings
from hypothesis import strategies as st

from infrastructure.audit_chain import verify_chain
from infrastructure.sqlite_event_store import ChainedSQLiteApplicationRecorder, _consecutive_rowids

TOPIC = "tests:Event"


def _recorder(path: Path) -> ChainedSQLiteApplicationRecorder:
    recorder = ChainedSQLiteApplicationRecorder(SQLiteDatastore(str(path)))
    recorder.create_table()
    return recorder


@pytest.fixture
def store_path(tmp_path: Path) -> Iterator[Path]:
    yield tmp_path / "events.sqlite"


def _events(originator: UUID, first_version: int, count: int) -> list[StoredEvent]:
    return [
        StoredEvent(originator, version, TOPIC, f'{{"v":{version}}}'.encode())
        for version in range(first_version, first_version + count)
    ]


def _rowids_of(path: Path, events: list[StoredEvent]) -> list[int]:
    """The rowids SQLite gave these events, read back from the table itself."""
    with sqlite3.connect(path) as connection:
        return [
            connection.execute(
                "SELECT rowid FROM stored_events WHERE originator_id = ? AND originator_version = ?",
                (UUID(str(event.originator_id)).hex, event.originator_version),
            ).fetchone()[0]
            for event in events
        ]


@settings(max_examples=25, deadline=None)
@given(sizes=st.lists(st.tuples(st.booleans(), st.integers(1, 40)), min_size=1, max_size=8))
def test_returned_ids_are_the_rows_rowids_with_two_writers(
    tmp_path_factory: pytest.TempPathFactory, sizes: list[tuple[bool, int]]
) -> None:
    """Saves of random sizes from two connections, interleaved: each save's returned ids are its
    rows' rowids, in the order of its events, and the chain over all of them verifies."""
    path = tmp_path_factory.mktemp("store") / "events.sqlite"
    writers = (_recorder(path), _recorder(path))
    versions: dict[UUID, int] = {}
    originators = [uuid4(), uuid4(), uuid4()]
    for number, (second, size) in enumerate(sizes):
        # One save spans several aggregates, as a batch of readings does.
        events: list[StoredEvent] = []
        for index in range(size):
            originator = originators[(number + index) % len(originators)]
            versions[originator] = versions.get(originator, 0) + 1
            events.append(StoredEvent(originator, versions[originator], TOPIC, b'{"n":%d}' % index))
        returned = writers[second].insert_events(events)
        assert list(returned or []) == _rowids_of(path, events)
    result = verify_chain(writers[0])
    assert not result.problems, result.problems


def test_a_conflicting_save_stores_nothing_and_the_next_ids_follow_on(store_path: Path) -> None:
    """Optimistic concurrency stays: a version already stored fails the whole save (no rows, no
    chain records), and the following save's ids start after the last stored row."""
    recorder = _recorder(store_path)
    originator = uuid4()
    assert list(recorder.insert_events(_events(originator, 1, 3)) or []) == [1, 2, 3]
    with pytest.raises(IntegrityError):
        recorder.insert_events(_events(uuid4(), 1, 2) + _events(originator, 3, 1))
    assert recorder.max_notification_id() == 3
    assert recorder.max_chain_position() == 3
    later = _events(originator, 4, 2)
    assert list(recorder.insert_events(later) or []) == _rowids_of(store_path, later) == [4, 5]
    assert not verify_chain(recorder).problems


def test_an_empty_save_returns_no_ids(store_path: Path) -> None:
    recorder = _recorder(store_path)
    assert list(recorder.insert_events([]) or []) == []
    assert recorder.max_chain_position() == 0


def test_a_table_past_its_largest_rowid_refuses_the_save(store_path: Path) -> None:
    """Once a row holds rowid 2**63 - 1 SQLite numbers new rows at random: the ids could not be
    worked out, so the save is refused and rolled back rather than given wrong ids."""
    recorder = _recorder(store_path)
    with sqlite3.connect(store_path) as connection:
        connection.execute(
            "INSERT INTO stored_events (rowid, originator_id, originator_version, topic, state) VALUES (?,?,?,?,?)",
            (2**63 - 1, uuid4().hex, 1, TOPIC, b"{}"),
        )
    with pytest.raises(PersistenceError, match="exhausted"):
        recorder.insert_events(_events(uuid4(), 1, 2))
    with sqlite3.connect(store_path) as connection:
        assert connection.execute("SELECT COUNT(*) FROM stored_events").fetchone()[0] == 1


@pytest.mark.parametrize(("last", "largest", "count", "expected"), [(7, 7, 3, [5, 6, 7]), (1, 1, 1, [1])])
def test_consecutive_rowids_end_at_the_last(last: int, largest: int, count: int, expected: list[int]) -> None:
    assert _consecutive_rowids(last, largest, count) == expected


def test_consecutive_rowids_refuse_a_last_row_below_the_largest() -> None:
    with pytest.raises(PersistenceError):
        _consecutive_rowids(12, 2**63 - 1, 2)
