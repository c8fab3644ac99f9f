"""The stored events and their chain records read as plain rows, page by page, for the quick check
of the hash chain (``audit_chain.verify_chain``; issue 17).

The walk that names problems reads the events through the library (a ``Notification`` each, its
originator id parsed into a UUID) and the chain through the recorder (a ``ChainRecord`` each): about
30-40 µs an event, most of it Python building objects. An intact chain needs none of that: each
event's fields as the chain hashes them (the originator id already as its canonical text) and each
record's two hashes. This module selects exactly those, on the SQLite and PostgreSQL recorders; any
other recorder has no page reader and is walked as before.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from eventsourcing.postgres import PostgresApplicationRecorder
from eventsourcing.sqlite import SQLiteApplicationRecorder
from psycopg.rows import tuple_row
from psycopg.sql import SQL, Identifier

from infrastructure.audit_chain import ChainPages
from infrastructure.settings import Settings

# (notification id, originator id as the chain hashes it, originator version, topic, stored state)
EventRow = tuple[int, str, int, str, Any]
# (notification id, record hash, previous hash)
ChainRow = tuple[int, bytes, bytes]
# Distinct originator ids whose canonical text a SQLite reader keeps (an aggregate's events come
# in runs: a meter's daily readings); past it the memo starts again, so memory stays bounded.
MAXIMUM_REMEMBERED_IDS = 100_000


def chain_pages_of(recorder: Any) -> ChainPages | None:
    """The page reader for ``recorder``'s backend, or None (the walk reads through the library)."""
    if isinstance(recorder, SQLiteApplicationRecorder) and hasattr(recorder, "chain_table_name"):
        return _SqlitePages(recorder)
    if isinstance(recorder, PostgresApplicationRecorder) and hasattr(recorder, "chain_table_name"):
        return _PostgresPages(recorder)
    return None


@dataclass(frozen=True)
class PagesOpener:
    """Opens, in a process of the split quick check (``audit_chain.verify_intact_split``), the page
    reader of the store of ``settings`` on connections of its own, and a function closing them."""

    settings: Settings

    def __call__(self) -> tuple[ChainPages, Callable[[], None]]:
        from application.ledger import HeatLedger  # only in the range's process
        from infrastructure.event_store import event_store_environment

        environment = event_store_environment(self.settings)
        environment["CREATE_TABLE"] = "false"  # the parent opened the store: its tables are there
        ledger = HeatLedger(env=environment)
        pages = chain_pages_of(ledger.recorder)
        if pages is None:
            ledger.close()
            raise TypeError(f"no page reader for {type(ledger.recorder).__name__}")
        return pages, ledger.close


class _SqlitePages:
    def __init__(self, recorder: Any) -> None:
        self.recorder = recorder
        self._events = (
            f"SELECT rowid, originator_id, originator_version, topic, state FROM {recorder.events_table_name} "
            "WHERE rowid > ? AND rowid <= ? ORDER BY rowid LIMIT ?"
        )
        self._records = (
            f"SELECT notification_id, record_hash, previous_hash FROM {recorder.chain_table_name} "
            "WHERE notification_id > ? AND notification_id <= ? ORDER BY notification_id LIMIT ?"
        )
        self._canonical: dict[str, str] = {}

    def events(self, after: int, stop: int, limit: int) -> list[EventRow]:
        with self.recorder.datastore.transaction(commit=False) as cursor:
            rows = self._fetch(cursor, self._events, (after, stop, limit))
        canonical = self._canonical_of
        return [(row[0], canonical(row[1]), row[2], row[3], row[4]) for row in rows]

    def records(self, after: int, stop: int, limit: int) -> list[ChainRow]:
        with self.recorder.datastore.transaction(commit=False) as cursor:
            return self._fetch(cursor, self._records, (after, stop, limit))

    @staticmethod
    def _fetch(cursor: Any, statement: str, parameters: tuple[int, int, int]) -> list[Any]:
        """Plain tuples: the library's connections make a ``sqlite3.Row`` of each row (a third of
        the reading's cost), which nothing here needs."""
        sqlite_cursor = cursor.sqlite_cursor
        sqlite_cursor.row_factory = None
        sqlite_cursor.execute(statement, parameters)
        rows: list[Any] = sqlite_cursor.fetchall()
        return rows

    def _canonical_of(self, stored: str) -> str:
        """The id as the library reads it back (a UUID from its hex) in the chain's canonical text."""
        found = self._canonical.get(stored)
        if found is None:
            if len(self._canonical) >= MAXIMUM_REMEMBERED_IDS:
                self._canonical.clear()
            found = self._canonical[stored] = str(self.recorder.convert_originator_id(stored))
        return found


class _PostgresPages:
    def __init__(self, recorder: Any) -> None:
        self.recorder = recorder
        schema = Identifier(recorder.datastore.schema)
        # A uuid's text output is its canonical lower-case form, as str(UUID) gives it.
        self._events = SQL(
            "SELECT notification_id, originator_id::text, originator_version, topic, state FROM {schema}.{table} "
            "WHERE notification_id > %s AND notification_id <= %s ORDER BY notification_id LIMIT %s"
        ).format(schema=schema, table=Identifier(recorder.events_table_name))
        self._records = SQL(
            "SELECT notification_id, record_hash, previous_hash FROM {schema}.{table} "
            "WHERE notification_id > %s AND notification_id <= %s ORDER BY notification_id LIMIT %s"
        ).format(schema=schema, table=Identifier(recorder.chain_table_name))

    def events(self, after: int, stop: int, limit: int) -> list[EventRow]:
        return self._select(self._events, after, stop, limit)

    def records(self, after: int, stop: int, limit: int) -> list[ChainRow]:
        return self._select(self._records, after, stop, limit)

    def _select(self, statement: Any, after: int, stop: int, limit: int) -> list[Any]:
        with self.recorder.datastore.get_connection() as connection, connection.cursor(row_factory=tuple_row) as cursor:
            # Binary: the states' bytes as stored, not hex text decoded on the way.
            cursor.execute(statement, (after, stop, limit), prepare=True, binary=True)
            rows: list[Any] = cursor.fetchall()
            return rows
