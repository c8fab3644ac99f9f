"""The ledger's recorders read the notification log as the library's recorders do (issue 17): for
any start (inclusive or not), limit, stop and topics, the same notifications in the same order,
on SQLite and PostgreSQL. They fetch plain tuples (in binary on PostgreSQL) instead of the
library's rows, so the library's own read, called on the same recorder, is the oracle."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from eventsourcing.persistence import StoredEvent
from eventsourcing.postgres import PostgresApplicationRecorder
from eventsourcing.sqlite import SQLiteApplicationRecorder
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from infrastructure.container import Container, bootstrap
from infrastructure.settings import Backend, Settings
from tests.conftest import empty_sqlite_settings, postgres_settings
from tests.services import fresh_postgres_database

TOPICS = ("tests:Opened", "tests:Changed", "tests:Closed")
AGGREGATES = [uuid.UUID(int=number * 7919) for number in range(1, 6)]


def _stored_events() -> list[StoredEvent]:
    """A log of several aggregates interleaved, three topics, states of any bytes (an empty one)."""
    versions = dict.fromkeys(AGGREGATES, 0)
    events = []
    for index in range(60):
        aggregate = AGGREGATES[(index * 3) % len(AGGREGATES)]
        versions[aggregate] += 1
        state = bytes(range(index % 256)) * (index % 3) if index % 11 else b""
        events.append(StoredEvent(aggregate, versions[aggregate], TOPICS[index % len(TOPICS)], state))
    return events


@pytest.fixture(scope="module", params=[Backend.SQLITE, Backend.POSTGRES], ids=["sqlite", "postgres"])
def filled(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Container]:
    """A ledger whose store holds ``_stored_events`` in three saves, once per backend."""

    def fill(settings_: Settings) -> Iterator[Container]:
        built = bootstrap(settings_)
        events = _stored_events()
        for start in range(0, len(events), 20):
            built.ledger.recorder.insert_events(events[start : start + 20])
        try:
            yield built
        finally:
            built.close()

    if request.param is Backend.SQLITE:
        template = request.getfixturevalue("migrated_sqlite_template")
        yield from fill(empty_sqlite_settings(template, tmp_path_factory.mktemp("notification-reads")))
        return
    with fresh_postgres_database() as database:
        yield from fill(postgres_settings(database))


def _library_read(recorder: Any) -> Any:
    """The library's own ``select_notifications`` of ``recorder``'s backend (without its retry)."""
    postgres = isinstance(recorder, PostgresApplicationRecorder)
    base = PostgresApplicationRecorder if postgres else SQLiteApplicationRecorder
    method = base.select_notifications
    return getattr(method, "__wrapped__", method)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    start=st.none() | st.integers(-1, 65),
    limit=st.integers(1, 70),
    stop=st.none() | st.integers(-1, 65),
    topics=st.lists(st.sampled_from(TOPICS), unique=True, max_size=3),
    inclusive=st.booleans(),
)
def test_the_log_reads_as_the_library_reads_it(
    filled: Container, start: int | None, limit: int, stop: int | None, topics: list[str], inclusive: bool
) -> None:
    recorder = filled.ledger.recorder
    ours = recorder.select_notifications(start, limit, stop, topics, inclusive_of_start=inclusive)
    theirs = _library_read(recorder)(recorder, start, limit, stop, topics, inclusive_of_start=inclusive)
    assert ours == theirs
    assert all(type(notification.state) is bytes for notification in ours)


def test_every_event_comes_back_as_saved(filled: Container) -> None:
    """Not only equal to the library: each event as it was saved, ids ascending."""
    notifications = filled.ledger.recorder.select_notifications(None, 100)
    saved = [(n.originator_id, n.originator_version, n.topic, n.state) for n in notifications]
    assert saved == [(e.originator_id, e.originator_version, e.topic, e.state) for e in _stored_events()]
    assert [n.id for n in notifications] == sorted({n.id for n in notifications})
    assert all(type(notification.originator_id) is uuid.UUID for notification in notifications)
