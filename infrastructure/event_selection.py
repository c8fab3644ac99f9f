"""The stored events of some aggregates, in the order the ledger recorded them, up to a position.

The library selects either one aggregate's events (without their notification ids) or the whole
notification log (without a filter by aggregate). A point-in-time view needs both at once: the
events of a household's aggregates, in recording order, up to the moment asked about. This module
asks the event store for exactly that, on each backend the ledger runs on.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import fields
from typing import Any
from uuid import UUID

from eventsourcing.persistence import Notification
from eventsourcing.popo import POPOApplicationRecorder
from eventsourcing.postgres import PostgresApplicationRecorder
from eventsourcing.sqlite import SQLiteApplicationRecorder
from psycopg.sql import SQL, Identifier

# The most ids one IN list carries (well below SQLite's and PostgreSQL's parameter limits).
IDS_PER_QUERY = 500
# The library's Notification, built positionally below (a fifth cheaper than by keyword per row).
assert [field.name for field in fields(Notification)] == ["originator_id", "originator_version", "topic", "state", "id"]
# A bound on what one selection returns: a household's aggregates hold far fewer events (an hourly
# meter records about 8,800 readings a year).
MAXIMUM_EVENTS = 5_000_000


def scoped_notifications(
    recorder: Any, originator_ids: Collection[UUID], stop: int | None = None
) -> list[Notification]:
    """The stored events of ``originator_ids`` with notification id at most ``stop`` (None: all),
    ordered by notification id. Works on the SQLite, PostgreSQL and in-memory recorders."""
    unique = sorted(set(originator_ids))
    if not unique:
        return []
    found: list[Notification] = []
    for start in range(0, len(unique), IDS_PER_QUERY):
        found.extend(_select(recorder, unique[start : start + IDS_PER_QUERY], stop))
        assert len(found) <= MAXIMUM_EVENTS, "a point-in-time scope holds more events than any household has"
    found.sort(key=lambda notification: notification.id)
    return found


def _select(recorder: Any, ids: Sequence[UUID], stop: int | None) -> list[Notification]:
    if isinstance(recorder, SQLiteApplicationRecorder):
        return _select_sqlite(recorder, ids, stop)
    if isinstance(recorder, PostgresApplicationRecorder):
        return _select_postgres(recorder, ids, stop)
    if isinstance(recorder, POPOApplicationRecorder):
        return _select_in_memory(recorder, ids, stop)
    raise TypeError(f"no scoped selection for {type(recorder).__name__}")


def _select_sqlite(recorder: SQLiteApplicationRecorder, ids: Sequence[UUID], stop: int | None) -> list[Notification]:
    statement = (
        f"SELECT rowid, originator_id, originator_version, topic, state FROM {recorder.events_table_name} "
        f"WHERE originator_id IN ({','.join('?' * len(ids))})"
    )
    parameters: list[Any] = [originator_id.hex for originator_id in ids]
    if stop is not None:
        statement += " AND rowid <= ?"
        parameters.append(stop)
    with recorder.datastore.transaction(commit=False) as cursor:
        cursor.execute(statement, parameters)
        rows = cursor.fetchall()
    # A scope has few aggregates and many events: each id's text is parsed once.
    originator_ids = {originator_id.hex: originator_id for originator_id in ids}
    return [
        Notification(
            originator_ids[originator_id],  # the text selected by
            originator_version,
            topic,
            state,
            rowid,
        )
        for rowid, originator_id, originator_version, topic, state in rows
    ]


def _select_postgres(
    recorder: PostgresApplicationRecorder, ids: Sequence[UUID], stop: int | None
) -> list[Notification]:
    statement = SQL(
        "SELECT notification_id, originator_id, originator_version, topic, state FROM {schema}.{table} "
        "WHERE originator_id = ANY(%s)"
    ).format(schema=Identifier(recorder.datastore.schema), table=Identifier(recorder.events_table_name))
    parameters: list[Any] = [list(ids)]
    if stop is not None:
        statement += SQL(" AND notification_id <= %s")
        parameters.append(stop)
    with recorder.datastore.transaction(commit=False) as cursor:
        cursor.execute(statement, parameters)
        rows = cursor.fetchall()
    return [
        Notification(
            id=row["notification_id"],
            originator_id=row["originator_id"],
            originator_version=row["originator_version"],
            topic=row["topic"],
            state=bytes(row["state"]),
        )
        for row in rows
    ]


def _select_in_memory(recorder: POPOApplicationRecorder, ids: Sequence[UUID], stop: int | None) -> list[Notification]:
    wanted = set(ids)
    last = stop if stop is not None else recorder.max_notification_id() or 0
    notifications = recorder.select_notifications(start=1, limit=max(last, 1), stop=last)
    return [notification for notification in notifications if notification.originator_id in wanted]
