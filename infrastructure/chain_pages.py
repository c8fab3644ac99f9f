"""The stored events and their chain records read as plain rows, page by page, for the quick check
of the hash chain (``audit_chain.verify_chain``; issue 17).

The walk that names problems reads the events through the library (a ``Notification`` each, its
originator id parsed into a UUID) and the chain through the recorder (a ``ChainRecord`` each): about
30-40 µs an event, most of it Python building objects. An intact chain needs none of that: each
event's fields as the chain hashes them (the originator id already as its canonical text) and each
record's two hashes. This module selects exactly those, on the SQLite and PostgreSQL recorders; any
other recorder has no page reader and is walked as before.

PostgreSQL wrote the chain itself (its ``sha256``, in the insert function), so it checks it itself
too: ``_PostgresPages.check_window`` is one statement a window of positions that hashes every event
where it is stored and returns a few numbers and hashes (``audit_chain.ChainWindow``). Reading and
hashing 479,313 states (~1.1 KB each) in the client took about 6 s of a rebuild's 39 s.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from eventsourcing.postgres import PostgresApplicationRecorder
from eventsourcing.sqlite import SQLiteApplicationRecorder
from psycopg.rows import tuple_row
from psycopg.sql import SQL, Identifier

from infrastructure.audit_chain import ChainPages, ChainWindow, record_hash_sql
from infrastructure.notification_reads import MAXIMUM_REMEMBERED_IDS
from infrastructure.settings import Settings

# (notification id, originator id as the chain hashes it, originator version, topic, stored state)
EventRow = tuple[int, str, int, str, Any]
# (notification id, record hash, previous hash)
ChainRow = tuple[int, bytes, bytes]
# Positions a statement of PostgreSQL's check covers: ~0.4 s of one server core a window (the rows
# stream through a merge join, none held), progress told window by window.
CHECK_WINDOW_POSITIONS = 100_000

# The window statement's plan, whatever the table statistics say (the events table is often never
# analysed: PostgreSQL then guesses a quarter of the rows, hashes the events with their states into
# a join that spills to disk and sorts the chain, 0.75-0.85 s a window of 100,000 instead of 0.37):
# both tables read in notification order by their index on it and merged as they stream, no JIT
# compilation (20 ms a statement for a plan run once). Set for the statement's transaction only.
_WINDOW_PLAN = SQL(
    "SELECT set_config('enable_hashjoin', 'off', true), set_config('enable_bitmapscan', 'off', true), "
    "set_config('enable_sort', 'off', true), set_config('jit', 'off', true)"
)
# One window (after, end]: the events and chain records at its positions joined by position (a
# FULL JOIN: a row on either side alone is a problem), each record's link compared with the record
# before it (lag), each event hashed from its record's previous hash with the bytes of
# audit_chain.record_hash (``record_hash_sql``, the expression postgres_event_store's insert
# function hashes with: a uuid's text its canonical form, the topic's UTF-8 bytes; a NULL topic or
# state as the walk reads it, the text "None"). Then the record hashes at the checkpoints'
# positions and the next position holding a row up to the range's end (least() skips a NULL).
_WINDOW = (
    """
WITH events AS (
    SELECT notification_id, originator_version, convert_to(originator_id::text, 'UTF8') AS originator,
        convert_to(coalesce(topic, 'None'), 'UTF8') AS topic, coalesce(state, convert_to('None', 'UTF8')) AS state
    FROM {events} WHERE notification_id > %(after)s AND notification_id <= %(end)s
), records AS (
    SELECT notification_id, record_hash, previous_hash,
        lag(record_hash) OVER positions AS record_before,
        row_number() OVER positions = 1 AS is_first,
        lead(notification_id) OVER positions IS NULL AS is_last
    FROM {chain} WHERE notification_id > %(after)s AND notification_id <= %(end)s
    WINDOW positions AS (ORDER BY notification_id)
), checkpointed AS (
    SELECT array_agg(notification_id ORDER BY notification_id) AS positions,
        array_agg(record_hash ORDER BY notification_id) AS hashes
    FROM {chain}
    WHERE notification_id = ANY(%(checkpoints)s::bigint[])
        AND notification_id > %(after)s AND notification_id <= %(end)s
)
SELECT
    count(events.notification_id),
    count(*) FILTER (WHERE events.notification_id IS NULL OR records.notification_id IS NULL),
    count(*) FILTER (WHERE records.previous_hash <> records.record_before),
    count(*) FILTER (WHERE """
    + record_hash_sql(
        "records.previous_hash",
        "events.notification_id",
        "events.originator_version",
        "events.originator",
        "events.topic",
        "events.state",
    )
    + """ IS DISTINCT FROM records.record_hash),
    (array_agg(records.previous_hash) FILTER (WHERE records.is_first))[1],
    (array_agg(records.record_hash) FILTER (WHERE records.is_last))[1],
    coalesce(max(events.notification_id), 0),
    (SELECT positions FROM checkpointed),
    (SELECT hashes FROM checkpointed),
    least(
        (SELECT min(notification_id) FROM {events} WHERE notification_id > %(end)s AND notification_id <= %(until)s),
        (SELECT min(notification_id) FROM {chain} WHERE notification_id > %(end)s AND notification_id <= %(until)s)
    )
FROM events FULL JOIN records ON events.notification_id = records.notification_id
"""
)


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
        self._window = SQL(_WINDOW).format(
            events=SQL("{schema}.{table}").format(schema=schema, table=Identifier(recorder.events_table_name)),
            chain=SQL("{schema}.{table}").format(schema=schema, table=Identifier(recorder.chain_table_name)),
        )
        self.window_positions = CHECK_WINDOW_POSITIONS

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

    def check_window(self, after: int, until: int, checkpoint_positions: Sequence[int]) -> ChainWindow:
        """The positions ``after`` < p <= min(``after`` + ``window_positions``, ``until``) checked by
        the server in one statement (see ``_WINDOW``); the record hashes at ``checkpoint_positions``."""
        assert self.window_positions > 0 and after < until, "a window holds at least one position"
        end = min(after + self.window_positions, until)
        parameters = {"after": after, "end": end, "until": until, "checkpoints": list(checkpoint_positions)}
        with (
            self.recorder.datastore.get_connection() as connection,
            connection.transaction(force_rollback=True),
            connection.cursor(row_factory=tuple_row) as cursor,
        ):
            cursor.execute(_WINDOW_PLAN)
            cursor.execute(self._window, parameters, prepare=True, binary=True)
            row = cursor.fetchone()
        assert row is not None, "an aggregate without GROUP BY returns one row"
        events, unmatched, broken_links, wrong_hashes, first_link, last_hash, last_position, *rest = row
        positions, hashes, next_position = rest
        return ChainWindow(
            end=end,
            events=events,
            intact=unmatched == 0 and broken_links == 0 and wrong_hashes == 0,
            first_link=first_link,
            last_hash=last_hash,
            last_position=last_position,
            checkpoint_hashes=dict(zip(positions or (), hashes or (), strict=True)),
            next_position=next_position,
        )
