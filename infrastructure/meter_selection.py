"""The stored state of many meters in two reads: their latest snapshots and the events after them.

The library loads one aggregate with two queries (its newest snapshot, then its events after it):
a batch of 2,000 readings for meters the aggregate cache does not hold (a fresh process, or a city
with more meters than the cache keeps) paid 4,000 round trips before judging a reading. Here the
batch's meters come back in one query for the snapshots and one for the events, per slice of ids
(``application/meter_loads.py`` rebuilds them). SQLite and PostgreSQL; any other recorder (the
in-memory one of the tests) is read through the library's per-aggregate selection.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from functools import partial
from typing import Any
from uuid import UUID

from eventsourcing.persistence import StoredEvent
from eventsourcing.postgres import PostgresAggregateRecorder
from eventsourcing.sqlite import SQLiteAggregateRecorder
from psycopg.sql import SQL, Identifier

# The most ids one query names (well below either backend's parameter limits).
IDS_PER_QUERY = 500


def stored_meters(
    events: Any, snapshots: Any | None, meter_ids: Sequence[UUID]
) -> tuple[list[StoredEvent], list[StoredEvent]]:
    """(the newest snapshot of each meter that has one, every event of each meter after its
    snapshot's version), in no particular order, read from the recorders of the event store and
    of the snapshot store (None: no snapshots)."""
    found_snapshots: list[StoredEvent] = []
    found_events: list[StoredEvent] = []
    unique = sorted(set(meter_ids))
    for start in range(0, len(unique), IDS_PER_QUERY):
        ids = unique[start : start + IDS_PER_QUERY]
        slice_snapshots = _newest_snapshots(snapshots, ids) if snapshots is not None else []
        after = {snapshot.originator_id: snapshot.originator_version for snapshot in slice_snapshots}
        found_snapshots.extend(slice_snapshots)
        found_events.extend(_events_after(events, ids, after))
    return found_snapshots, found_events


def _newest_snapshots(recorder: Any, ids: Sequence[UUID]) -> list[StoredEvent]:
    if isinstance(recorder, SQLiteAggregateRecorder):
        table = recorder.events_table_name
        statement = (
            f"SELECT s.originator_id, s.originator_version, s.topic, s.state FROM {table} s "
            f"WHERE s.originator_id IN ({','.join('?' * len(ids))}) AND s.originator_version = "
            f"(SELECT MAX(n.originator_version) FROM {table} n WHERE n.originator_id = s.originator_id)"
        )
        return _sqlite_rows(recorder, statement, [meter_id.hex for meter_id in ids])
    if isinstance(recorder, PostgresAggregateRecorder):
        query = SQL(
            "SELECT DISTINCT ON (originator_id) originator_id, originator_version, topic, state "
            "FROM {schema}.{table} WHERE originator_id = ANY(%s) ORDER BY originator_id, originator_version DESC"
        ).format(schema=Identifier(recorder.datastore.schema), table=Identifier(recorder.events_table_name))
        return _postgres_rows(recorder, query, [list(ids)])
    return [snapshot for meter_id in ids for snapshot in recorder.select_events(meter_id, desc=True, limit=1)]


def _events_after(recorder: Any, ids: Sequence[UUID], after: dict[Any, int]) -> list[StoredEvent]:
    """The events of ``ids`` with a version above ``after``'s (all of them for an id without)."""
    versions = [after.get(meter_id, 0) for meter_id in ids]
    if isinstance(recorder, SQLiteAggregateRecorder):
        # The id and version bounds as a VALUES list joined to the table (its primary key serves it).
        bounds = ",".join("(?,?)" for _ in ids)
        statement = (
            f"WITH bounds(originator_id, after) AS (VALUES {bounds}) "
            f"SELECT e.originator_id, e.originator_version, e.topic, e.state FROM bounds b "
            f"JOIN {recorder.events_table_name} e ON e.originator_id = b.originator_id "
            "AND e.originator_version > b.after"
        )
        parameters: list[Any] = []
        for meter_id, version in zip(ids, versions, strict=True):
            parameters += [meter_id.hex, version]
        return _sqlite_rows(recorder, statement, parameters)
    if isinstance(recorder, PostgresAggregateRecorder):
        query = SQL(
            "SELECT e.originator_id, e.originator_version, e.topic, e.state "
            "FROM unnest(%s::uuid[], %s::bigint[]) AS b(originator_id, after) "
            "JOIN {schema}.{table} e ON e.originator_id = b.originator_id AND e.originator_version > b.after"
        ).format(schema=Identifier(recorder.datastore.schema), table=Identifier(recorder.events_table_name))
        return _postgres_rows(recorder, query, [list(ids), versions])
    return [
        stored
        for meter_id, version in zip(ids, versions, strict=True)
        for stored in recorder.select_events(meter_id, gt=version or None)
    ]


def _sqlite_rows(recorder: SQLiteAggregateRecorder, statement: str, parameters: list[Any]) -> list[StoredEvent]:
    with recorder.datastore.transaction(commit=False) as cursor:
        cursor.execute(statement, parameters)
        rows = cursor.fetchall()
    return [
        StoredEvent(UUID(originator_id), originator_version, topic, state)
        for originator_id, originator_version, topic, state in rows
    ]


def _postgres_rows(recorder: PostgresAggregateRecorder, statement: Any, parameters: list[Any]) -> list[StoredEvent]:
    with recorder.datastore.transaction(commit=False) as cursor:
        cursor.execute(statement, parameters)
        rows = cursor.fetchall()
    return [
        StoredEvent(row["originator_id"], row["originator_version"], row["topic"], bytes(row["state"])) for row in rows
    ]


def meter_selection_of(
    events: Any, snapshots: Any | None
) -> Callable[[Sequence[UUID]], tuple[list[StoredEvent], list[StoredEvent]]]:
    """``stored_meters`` bound to a ledger's recorders (``ledger.recorder``, and
    ``ledger.snapshots.recorder`` or None): what ``HeatLedger.stored_meters_of`` takes."""
    return partial(stored_meters, events, snapshots)
