"""The stored events of some aggregates, in the order the ledger recorded them, up to a position.

The library selects either one aggregate's events (without their notification ids) or the whole
notification log (without a filter by aggregate). A point-in-time view needs both at once: the
events of a household's aggregates, in recording order, up to the moment asked about. This module
asks the event store for exactly that, on each backend the ledger runs on.
"""

from __future__ import annotations

import json
from collections.abc import Collection, Iterator, Sequence
from dataclasses import fields
from typing import Any
from uuid import UUID

from eventsourcing.persistence import Notification
from eventsourcing.popo import POPOApplicationRecorder
from eventsourcing.postgres import PostgresApplicationRecorder
from eventsourcing.sqlite import SQLiteApplicationRecorder
from psycopg.rows import tuple_row
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


# -- for a rebuild split by building (infrastructure/parallel_rebuild.py) ---------------------

# Rows fetched at a time while the whole log is scanned for a rebuild's plan.
SCAN_FETCH_ROWS = 10_000


def events_per_aggregate(recorder: Any, stop: int) -> dict[UUID, int]:
    """How many stored events each aggregate has with notification id at most ``stop`` (counted
    by the database: a season's readings never come to Python for it)."""
    if isinstance(recorder, SQLiteApplicationRecorder):
        statement = (
            f"SELECT originator_id, COUNT(*) FROM {recorder.events_table_name} WHERE rowid <= ? GROUP BY originator_id"
        )
        with recorder.datastore.transaction(commit=False) as cursor:
            cursor.execute(statement, (stop,))
            return {UUID(text): count for text, count in cursor.fetchall()}
    if isinstance(recorder, PostgresApplicationRecorder):
        query = SQL(
            "SELECT originator_id, COUNT(*) AS events FROM {schema}.{table} WHERE notification_id <= %s "
            "GROUP BY originator_id"
        ).format(schema=Identifier(recorder.datastore.schema), table=Identifier(recorder.events_table_name))
        with recorder.datastore.transaction(commit=False) as cursor:
            cursor.execute(query, (stop,))
            return {row["originator_id"]: row["events"] for row in cursor.fetchall()}
    if isinstance(recorder, POPOApplicationRecorder):
        counts: dict[UUID, int] = {}
        for notification in recorder.select_notifications(start=1, limit=max(stop, 1), stop=stop):
            originator_id = UUID(str(notification.originator_id))
            counts[originator_id] = counts.get(originator_id, 0) + 1
        return counts
    raise TypeError(f"no count of events for {type(recorder).__name__}")


def scan_events(recorder: Any, stop: int, except_topics: Collection[str]) -> Iterator[Notification]:
    """Every stored event with notification id at most ``stop`` but those of ``except_topics`` (the
    readings and room reports, almost all of a season), in notification order, without reading a
    whole log into memory."""
    skipped = sorted(except_topics)
    assert skipped, "a scan skips the readings at least"
    if isinstance(recorder, SQLiteApplicationRecorder):
        statement = (
            f"SELECT rowid, originator_id, originator_version, topic, state FROM {recorder.events_table_name} "
            f"WHERE rowid <= ? AND topic NOT IN ({','.join('?' * len(skipped))}) ORDER BY rowid"
        )
        yield from _scan_sqlite(recorder, statement, (stop, *skipped))
    elif isinstance(recorder, PostgresApplicationRecorder):
        query = SQL(
            "SELECT notification_id, originator_id, originator_version, topic, state FROM {schema}.{table} "
            "WHERE notification_id <= %s AND NOT (topic = ANY(%s)) ORDER BY notification_id"
        ).format(schema=Identifier(recorder.datastore.schema), table=Identifier(recorder.events_table_name))
        yield from _scan_postgres(recorder, query, (stop, skipped))
    elif isinstance(recorder, POPOApplicationRecorder):
        for notification in recorder.select_notifications(start=1, limit=max(stop, 1), stop=stop):
            if notification.topic not in skipped:
                yield notification
    else:
        raise TypeError(f"no scan for {type(recorder).__name__}")


def _scan_sqlite(
    recorder: SQLiteApplicationRecorder, statement: str, parameters: tuple[Any, ...]
) -> Iterator[Notification]:
    with recorder.datastore.transaction(commit=False) as cursor:
        cursor.execute(statement, parameters)
        sqlite_cursor = cursor.sqlite_cursor  # the library's wrapper has no fetchmany
        for _ in range(MAXIMUM_SCAN_FETCHES):
            rows = sqlite_cursor.fetchmany(SCAN_FETCH_ROWS)
            if not rows:
                return
            for rowid, originator_text, originator_version, topic, state in rows:
                yield Notification(UUID(originator_text), originator_version, topic, state, rowid)
        raise RuntimeError("the scan of the event log did not end")


def _scan_postgres(
    recorder: PostgresApplicationRecorder, query: Any, parameters: tuple[Any, ...]
) -> Iterator[Notification]:
    with recorder.datastore.transaction(commit=False) as cursor:
        # Fetched in parts from one statement (psycopg's client-side cursor holds the result: the
        # events other than readings, a few per cent of a season's).
        cursor.execute(query, parameters)
        for _ in range(MAXIMUM_SCAN_FETCHES):
            rows = cursor.fetchmany(SCAN_FETCH_ROWS)
            if not rows:
                return
            for row in rows:
                yield Notification(
                    row["originator_id"],
                    row["originator_version"],
                    row["topic"],
                    bytes(row["state"]),
                    row["notification_id"],
                )
        raise RuntimeError("the scan of the event log did not end")


# A bound on the fetches of one scan: 10,000 rows each, far beyond a city's 507 million events.
MAXIMUM_SCAN_FETCHES = 1_000_000


class ScopedWindows:
    """The events of a fixed set of aggregates, read window by window of notification ids.

    A rebuild split by building gives each process the aggregates of its buildings; it reads their
    events in notification order by consecutive ranges of notification ids, so every query walks
    one range of the log's own order (no sort of a whole scope) and a window's events fit in memory.
    """

    def __init__(self, recorder: Any, originator_ids: Collection[UUID]) -> None:
        self.recorder = recorder
        self.ids = {originator_id.hex: originator_id for originator_id in originator_ids}
        self._wanted = set(originator_ids)
        self._json_ids = json.dumps(sorted(self.ids))  # SQLite: one parameter, a JSON array

    def window(self, after: int, until: int) -> list[Notification]:
        """The scope's events with ``after`` < notification id <= ``until``, in order."""
        assert until >= after, "a window runs forward"
        if not self.ids or until == after:
            return []
        recorder = self.recorder
        if isinstance(recorder, SQLiteApplicationRecorder):
            return self._sqlite(recorder, after, until)
        if isinstance(recorder, PostgresApplicationRecorder):
            return self._postgres(recorder, after, until)
        if isinstance(recorder, POPOApplicationRecorder):
            found = recorder.select_notifications(start=after + 1, limit=until - after, stop=until)
            return [notification for notification in found if notification.originator_id in self._wanted]
        raise TypeError(f"no scoped window for {type(recorder).__name__}")

    def _sqlite(self, recorder: SQLiteApplicationRecorder, after: int, until: int) -> list[Notification]:
        # "+originator_id": walk the rowid range and test each row against the set (built once per
        # query from the JSON array), not the id index, which would sort the scope's every event.
        statement = (
            f"SELECT rowid, originator_id, originator_version, topic, state FROM {recorder.events_table_name} "
            "WHERE rowid > ? AND rowid <= ? AND +originator_id IN (SELECT value FROM json_each(?)) ORDER BY rowid"
        )
        with recorder.datastore.transaction(commit=False) as cursor:
            cursor.execute(statement, (after, until, self._json_ids))
            rows = cursor.fetchall()
        ids = self.ids
        return [Notification(ids[text], version, topic, state, rowid) for rowid, text, version, topic, state in rows]

    def _postgres(self, recorder: PostgresApplicationRecorder, after: int, until: int) -> list[Notification]:
        statement = SQL(
            "SELECT notification_id, originator_id, originator_version, topic, state FROM {schema}.{table} "
            "WHERE notification_id > %s AND notification_id <= %s AND originator_id = ANY(%s) ORDER BY notification_id"
        ).format(schema=Identifier(recorder.datastore.schema), table=Identifier(recorder.events_table_name))
        with recorder.datastore.get_connection() as connection, connection.cursor(row_factory=tuple_row) as cursor:
            # In binary, as plain tuples: the states' bytes as stored, not escaped to hex and back.
            cursor.execute(statement, (after, until, list(self._wanted)), binary=True)
            rows = cursor.fetchall()
        return [
            Notification(originator_id, originator_version, topic, state, notification_id)
            for notification_id, originator_id, originator_version, topic, state in rows
        ]
