"""The PostgreSQL recorders insert a save's events as one array per column (issue 17): every event
stored as given, in the order given, with notification ids ascending; versions past int4 and
states of any bytes included, on the chained recorder (the ledger's) and the unchained one (the
benchmark's baseline)."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator

import pytest
from eventsourcing.persistence import IntegrityError, StoredEvent
from eventsourcing.postgres import PostgresDatastore

from infrastructure.postgres_event_store import ChainedPostgresApplicationRecorder, LedgerPostgresApplicationRecorder
from tests.services import POSTGRES_HOST, POSTGRES_PORT, POSTGRES_USER, fresh_postgres_database

pytestmark = pytest.mark.postgres

RECORDERS = [ChainedPostgresApplicationRecorder, LedgerPostgresApplicationRecorder]


@pytest.fixture
def datastore() -> Iterator[PostgresDatastore]:
    with fresh_postgres_database() as database:
        store = PostgresDatastore(database, POSTGRES_HOST, str(POSTGRES_PORT), POSTGRES_USER, "")
        try:
            yield store
        finally:
            store.close()


def _events() -> list[StoredEvent]:
    first, second = uuid.uuid4(), uuid.uuid4()
    return [
        StoredEvent(first, 1, "tests:Opened", b'{"a":1}'),
        StoredEvent(first, 2, "tests:Changed", bytes(range(256)) * 8),  # every byte value, 2 KB
        StoredEvent(second, 2**40, "tests:Far", b""),  # a version past int4, an empty state
    ]


@pytest.mark.parametrize("recorder_class", RECORDERS, ids=["chained", "unchained"])
def test_a_save_is_stored_as_given_in_order(
    datastore: PostgresDatastore, recorder_class: type[LedgerPostgresApplicationRecorder]
) -> None:
    recorder = recorder_class(datastore, events_table_name=f"columns_{os.getpid()}_events")
    recorder.create_table()
    events = _events()
    notification_ids = recorder.insert_events(events)
    assert notification_ids is not None and notification_ids == sorted(notification_ids)
    stored = recorder.select_notifications(start=0, limit=10)
    assert [(n.id, n.originator_id, n.originator_version, n.topic, n.state) for n in stored] == [
        (notification_id, event.originator_id, event.originator_version, event.topic, event.state)
        for notification_id, event in zip(notification_ids, events, strict=True)
    ]
    # A second save of small versions after one past int4: the prepared statement serves both.
    later = [StoredEvent(uuid.uuid4(), 1, "tests:Opened", b"{}")]
    assert recorder.insert_events(later) == [notification_ids[-1] + 1]
    with pytest.raises(IntegrityError):  # a version already stored: the whole save refused
        recorder.insert_events([StoredEvent(uuid.uuid4(), 1, "tests:Opened", b"{}"), events[0]])
    assert len(recorder.select_notifications(start=0, limit=10)) == len(events) + 1
