"""The event store on PostgreSQL: the eventsourcing library's factory and recorder, with three changes.

1. Events are inserted without psycopg's pipeline mode. psycopg 3.3.9 (the newest release) can
   hang forever in ``Pipeline.sync()`` when one save is larger than the socket takes at once
   (about 5,000 events of 1.4 KB): its ``pipeline_communicate`` stops sending when no command is
   left to queue even though libpq's output buffer still holds the end of the INSERT, then waits
   for a result the server cannot send, since the server waits for the rest of that message.
   The recorder here calls one server function (lock the table, notify, insert, return the
   notification ids) with one ordinary statement, which psycopg flushes completely before it
   reads; one statement is one transaction, so a batch is still saved whole or not at all.
   docs/operations.md, "Large saves on PostgreSQL", has the measurements.
2. Every connection has a statement timeout and a lock timeout, set when it connects, and a save
   that times out is tried once more, not ten times as the library does.
3. The events go to the server function as four arrays, one per column (ids, versions, topics,
   states), not as one array of the library's composite type: psycopg sends those in binary,
   whereas a composite array is dumped as text with every byte of every state escaped, and the
   server parses it back (issue 17: 255 bill events of 1.5 KB, 14 -> 7 ms of client CPU and
   about 23 -> 15 ms of wall a chunk's save).
4. The same server function hashes every event into the tamper-evident chain and inserts its
   chain records in the events' transaction (``ChainedPostgresApplicationRecorder``; the hashes
   are defined in infrastructure/audit_chain.py, the design in docs/audit.md, "Tamper evidence").
5. Setting up the schema (every process does it when it opens the store) runs in one transaction
   that first takes an advisory lock, so several processes may open one store at once
   (``SCHEMA_SET_UP_LOCK_KEY``, ``SerialisedSchemaSetUp``).

``event_store_environment`` names ``LedgerPostgresFactory`` as ``PERSISTENCE_MODULE``; its
timeouts come from ``POSTGRES_STATEMENT_TIMEOUT_MS`` and ``POSTGRES_LOCK_TIMEOUT_MS``.
``UnchainedPostgresFactory`` (no chain) is the benchmark's baseline only.
"""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import Callable, Sequence
from typing import Any

from eventsourcing.persistence import InterfaceError, Notification, OperationalError, StoredEvent
from eventsourcing.postgres import (
    PostgresAggregateRecorder,
    PostgresApplicationRecorder,
    PostgresDatastore,
    PostgresFactory,
    PostgresRecorder,
)
from eventsourcing.utils import Environment, EnvType, retry
from psycopg.errors import DuplicateObject
from psycopg.rows import tuple_row
from psycopg.sql import SQL, Composed, Identifier

from infrastructure.audit_chain import GENESIS_HASH, ChainRecord, Checkpoint, chain_records, record_hash_sql
from infrastructure.notification_reads import notification_conditions
from projections.id_lists import binary_array

logger = logging.getLogger(__name__)

STATEMENT_TIMEOUT_MS = "POSTGRES_STATEMENT_TIMEOUT_MS"
LOCK_TIMEOUT_MS = "POSTGRES_LOCK_TIMEOUT_MS"
# libpq's connect_timeout (whole seconds): opening a connection to a server that is down or
# unreachable gives up after this long. (The library's POSTGRES_CONNECT_TIMEOUT is something else:
# how long a caller waits for a pooled connection.)
SERVER_CONNECT_TIMEOUT_S = "POSTGRES_SERVER_CONNECT_TIMEOUT_S"
# A save that failed on a timeout or a dropped connection is tried this many times in all: once
# more, so a passing stall is absorbed, and then refused, so a caller never waits ten timeouts.
SAVE_ATTEMPTS = 2
SAVE_RETRY_WAIT_SECONDS = 0.2
# Reads likewise: the library tries ten times, and while the database is down each try waits the
# pool timeout, so one request would wait ten of them (issue 16).
READ_ATTEMPTS = 2
# The pool's refill of a connection that failed backs off 1, 2, 4, 8 … s until it gives up after
# this long (psycopg_pool's default: 5 minutes, so after a restart the pool could stay empty for
# minutes). Given up, the next request that waits for a connection starts a fresh attempt at once.
RECONNECT_GIVE_UP_SECONDS = 5.0
# Existing events are sealed this many at a time (one transaction for all of them).
SEAL_PAGE_SIZE = 5000
# The events of a save, a row per event in the order given, from the insert function's arrays
# (unnest of several arrays walks them together).
EVENTS_FROM_COLUMNS = SQL(
    "unnest(originator_ids, originator_versions, topics, states) "
    "AS events(originator_id, originator_version, topic, state)"
)

# Every process that opens a store sets up its schema first: the event store's composite type
# (CREATE TYPE), tables and index (CREATE ... IF NOT EXISTS), insert functions (CREATE OR REPLACE
# FUNCTION), the chain's tables, the seal of an unchained store, and the read models' migrations
# (infrastructure/database.py). Several processes doing so at the same moment (``serve --workers``,
# job workers started together) failed: two CREATE OR REPLACE of one function raise "tuple
# concurrently updated", two CREATE TYPE or CREATE TABLE of one name (IF NOT EXISTS or not) a
# unique violation on the catalog, two alembic upgrades a duplicate table. So each set-up runs in
# one transaction that first takes this transaction-level advisory lock: one set-up at a time per
# database (an advisory lock's key is scoped to its database), the lock released by the commit or
# rollback, or by the server when the process dies. The key is a fixed bigint that nothing else in
# the database uses: the ASCII bytes of "HeatLedg".
SCHEMA_SET_UP_LOCK_KEY = 0x48_65_61_74_4C_65_64_67
# How long a set-up waits for another process's set-up, beyond the session's lock and statement
# timeouts: a set-up takes milliseconds, the first migration of a new store about a second, the
# seal of a large store written before the chain may take minutes.
SCHEMA_SET_UP_WAIT_SECONDS = 600
_TRY_SCHEMA_SET_UP_LOCK = f"SELECT pg_try_advisory_xact_lock({SCHEMA_SET_UP_LOCK_KEY})"
_WAIT_FOR_SCHEMA_SET_UP_LOCK = f"SELECT pg_advisory_xact_lock({SCHEMA_SET_UP_LOCK_KEY})"
# ``set_config(…, true)`` is SET LOCAL as a query (so every statement here returns a row);
# ``reset_val`` is the session's own value, given when it connected (``session_timeout_options``).
_WAIT_TIMEOUTS = (
    f"SELECT count(set_config(name, '{SCHEMA_SET_UP_WAIT_SECONDS}s', true)) FROM pg_settings "
    "WHERE name IN ('lock_timeout', 'statement_timeout')"
)
_SESSION_TIMEOUTS = (
    "SELECT count(set_config(name, reset_val, true)) FROM pg_settings "
    "WHERE name IN ('lock_timeout', 'statement_timeout')"
)


def take_schema_set_up_lock(query: Callable[[str], Any]) -> None:
    """Take ``SCHEMA_SET_UP_LOCK_KEY`` for the transaction ``query`` runs in (``query`` runs one
    statement in it and returns the first value of its first row).

    Free, it costs one statement. Held by another process's set-up, this waits for that set-up's
    commit up to ``SCHEMA_SET_UP_WAIT_SECONDS``, and then the session's timeouts apply again."""
    if query(_TRY_SCHEMA_SET_UP_LOCK):
        return
    logger.info("waiting for another process to finish setting up the store's schema")
    query(_WAIT_TIMEOUTS)
    query(_WAIT_FOR_SCHEMA_SET_UP_LOCK)
    query(_SESSION_TIMEOUTS)


class SerialisedSchemaSetUp(PostgresRecorder):
    """A recorder whose schema set-up runs whole in one transaction under the schema set-up lock
    (``SCHEMA_SET_UP_LOCK_KEY``), so processes opening one store together take turns.

    The library's ``create_table`` creates the types in transactions of their own (``CREATE TYPE``
    has no ``IF NOT EXISTS``: an existing type fails its transaction) and the rest in another,
    with no lock; here a savepoint keeps the one transaction usable when a type exists."""

    def create_table(self) -> None:
        with self.datastore.transaction(commit=True) as cursor:
            take_schema_set_up_lock(lambda statement: _first_value(cursor.execute(statement).fetchone()))
            self._create_types(cursor)
            self._create_table(cursor)  # the library's: every statement but the types, in order
            self._finish_set_up(cursor)
        self.datastore.register_type_adapters()

    def _create_types(self, cursor: Any) -> None:
        for statement in self.sql_create_statements:
            if "CREATE TYPE" in statement.as_string():
                with contextlib.suppress(DuplicateObject), cursor.connection.transaction():
                    cursor.execute(statement, prepare=False)

    def _finish_set_up(self, cursor: Any) -> None:
        """What a recorder does after creating its schema, in the same transaction (nothing here)."""


def _first_value(row: Any) -> Any:
    # The datastore's cursors return rows as dicts.
    return next(iter(row.values())) if row else None


class SerialisedPostgresAggregateRecorder(SerialisedSchemaSetUp, PostgresAggregateRecorder):
    """The library's aggregate recorder (the snapshots' table), set up under the schema lock: it
    creates the same composite type as the events' recorder."""


class LedgerPostgresApplicationRecorder(SerialisedSchemaSetUp, PostgresApplicationRecorder):
    """The library's application recorder, inserting with one statement and set up under the
    schema lock (see the module doc)."""

    # The insert function is named after the events table and this (the chained recorder's differs).
    # "columns": it takes one array per column (the composite-array functions of earlier stores,
    # named without it, stay and are no longer called).
    insert_function_suffix = "insert_columns"

    def __init__(self, datastore: PostgresDatastore, *, events_table_name: str = "stored_events") -> None:
        super().__init__(datastore, events_table_name=events_table_name)
        # One function per events table: the library's own function names no table, so two
        # applications in one schema would replace each other's.
        self.pg_function_name_insert_events = f"{events_table_name}_{self.insert_function_suffix}"
        # Cast, so the statement is prepared once whatever types psycopg picks for the values
        # (an int list may go as int2[] when every version is small).
        self.sql_invoke_pg_function_insert_events = SQL(
            "SELECT * FROM {schema}.{function}(%s::{id_type}[], %s::bigint[], %s::text[], %s::bytea[])"
        ).format(
            schema=Identifier(self.datastore.schema),
            function=Identifier(self.pg_function_name_insert_events),
            id_type=self._originator_id_type(),
        )
        self.sql_create_statements.append(self._create_insert_function())

    def _create_insert_function(self) -> Composed:
        # The EXCLUSIVE lock makes commit order equal notification order, as in the library's
        # pipelined insert, so a catch-up never passes over a gap that a slower transaction fills
        # in later (the library's own function leaves the lock out). The lock is taken when the
        # statement runs, after the server has received every event, and lock_timeout bounds it.
        return SQL(
            "CREATE OR REPLACE FUNCTION {schema}.{function}({columns}) "
            "RETURNS SETOF bigint LANGUAGE plpgsql AS $BODY$ "
            "BEGIN "
            "LOCK TABLE {schema}.{table} IN EXCLUSIVE MODE; "
            "NOTIFY {channel}; "
            "RETURN QUERY INSERT INTO {schema}.{table} (originator_id, originator_version, topic, state) "
            "SELECT * FROM {events} "
            "RETURNING notification_id; "
            "END; $BODY$"
        ).format(
            schema=Identifier(self.datastore.schema),
            function=Identifier(self.pg_function_name_insert_events),
            columns=self._column_parameters(),
            events=EVENTS_FROM_COLUMNS,
            table=Identifier(self.events_table_name),
            channel=Identifier(self.channel_name),
        )

    def _column_parameters(self) -> Composed:
        """The insert function's parameters: an array per column of the events table (the
        originator ids of the store's type, uuid or text)."""
        return SQL("originator_ids {}[], originator_versions bigint[], topics text[], states bytea[]").format(
            self._originator_id_type()
        )

    def _originator_id_type(self) -> SQL:
        return SQL("uuid") if self.datastore.originator_id_type == "uuid" else SQL("text")

    @retry((InterfaceError, OperationalError), max_attempts=READ_ATTEMPTS, wait=SAVE_RETRY_WAIT_SECONDS)
    def select_events(self, *args: Any, **kwargs: Any) -> Any:
        """The library's read, tried twice rather than ten times (see ``READ_ATTEMPTS``)."""
        return _unretried(PostgresApplicationRecorder.select_events)(self, *args, **kwargs)

    @retry((InterfaceError, OperationalError), max_attempts=READ_ATTEMPTS, wait=SAVE_RETRY_WAIT_SECONDS)
    def select_notifications(
        self,
        start: int | None,
        limit: int,
        stop: int | None = None,
        topics: Sequence[str] = (),
        *,
        inclusive_of_start: bool = True,
    ) -> list[Notification]:
        """The library's read (the same rows as the same ``Notification`` objects), tried twice
        rather than ten times (see ``READ_ATTEMPTS``), and fetched in binary as plain tuples: the
        library fetches text, each state's bytes escaped to hex by the server and decoded back in
        Python, into a dict per row. A catch-up reads every event this way (issue 17: 479,313
        events read 6.5 -> 1.5 CPU s)."""
        conditions, parameters = notification_conditions(start, stop, topics, inclusive_of_start)
        statement = SQL(
            "SELECT notification_id, originator_id, originator_version, topic, state FROM {table}{where} "
            "ORDER BY notification_id LIMIT %s"
        ).format(
            table=SQL("{schema}.{table}").format(
                schema=Identifier(self.datastore.schema), table=Identifier(self.events_table_name)
            ),
            where=SQL(" WHERE " + " AND ".join(conditions)) if conditions else SQL(""),
        )
        with self.datastore.get_connection() as connection, connection.cursor(row_factory=tuple_row) as cursor:
            cursor.execute(statement, [*parameters, limit], prepare=True, binary=True)
            rows = cursor.fetchall()
        return [
            Notification(originator_id, originator_version, topic, state, notification_id)
            for notification_id, originator_id, originator_version, topic, state in rows
        ]

    @retry((InterfaceError, OperationalError), max_attempts=READ_ATTEMPTS, wait=SAVE_RETRY_WAIT_SECONDS)
    def max_notification_id(self) -> int | None:
        """The library's read, tried twice rather than ten times (see ``READ_ATTEMPTS``)."""
        return _unretried(PostgresApplicationRecorder.max_notification_id)(self)  # type: ignore[no-any-return]

    @retry((InterfaceError, OperationalError), max_attempts=SAVE_ATTEMPTS, wait=SAVE_RETRY_WAIT_SECONDS)
    def insert_events(self, stored_events: Sequence[StoredEvent], **kwargs: Any) -> Sequence[int] | None:
        """Insert ``stored_events`` with one statement, so in one transaction; their notification
        ids, in order. Nothing is sent before every event is encoded, nothing is locked before the
        server has the whole statement, and no session sits idle in a transaction meanwhile."""
        if not stored_events:
            return None
        columns = (
            [event.originator_id for event in stored_events],
            [event.originator_version for event in stored_events],
            [event.topic for event in stored_events],
            [event.state for event in stored_events],
        )
        with self.datastore.get_connection() as connection, connection.cursor() as cursor:
            # As binary arrays: in text, psycopg escapes every state's bytes to hex in Python, which
            # took a settlement's save longer than the server took to store the events.
            arrays = [binary_array(connection, column) for column in columns]
            cursor.execute(self.sql_invoke_pg_function_insert_events, arrays, prepare=True)
            notification_ids = [row[self.pg_function_name_insert_events] for row in cursor.fetchall()]
        assert len(notification_ids) == len(stored_events), "a notification id for every event"
        return notification_ids


class ChainedPostgresApplicationRecorder(LedgerPostgresApplicationRecorder):
    """The ledger's recorder, writing a chain record with every event in the same statement.

    The insert function locks the events table (as the unchained one does), reads the chain's head,
    inserts the events, hashes each in notification order (``sha256`` is built into PostgreSQL 11
    and later) and inserts their chain records, all in the one statement and transaction the
    events go in: a save is stored with its chain records or not at all. The head is read under
    the lock every writer already takes to keep commit order equal to notification order, so the
    chain adds no lock and no hot row: each save appends rows, it updates none. Nothing is sent
    back and forth while the lock is held. infrastructure/audit_chain.py defines the hashes.
    """

    insert_function_suffix = "insert_chained_columns"

    def __init__(self, datastore: PostgresDatastore, *, events_table_name: str = "stored_events") -> None:
        self.chain_table_name = f"{events_table_name}_chain"
        self.checkpoint_table_name = f"{events_table_name}_checkpoints"
        super().__init__(datastore, events_table_name=events_table_name)
        self.check_identifier_length(self.checkpoint_table_name)
        # The chain's tables before the function that writes them (the last statement so far).
        self.sql_create_statements[-1:-1] = self._create_chain_tables()

    def _table(self, name: str) -> Composed:
        return SQL("{schema}.{table}").format(schema=Identifier(self.datastore.schema), table=Identifier(name))

    def _create_chain_tables(self) -> list[Composed]:
        return [
            SQL(
                "CREATE TABLE IF NOT EXISTS {chain} ("
                "notification_id bigint PRIMARY KEY, "
                "originator_id text NOT NULL, "
                "originator_version bigint NOT NULL, "
                "record_hash bytea NOT NULL, "
                "previous_hash bytea NOT NULL)"
            ).format(chain=self._table(self.chain_table_name)),
            SQL(
                "CREATE TABLE IF NOT EXISTS {checkpoints} ("
                "position bigint PRIMARY KEY, "
                "record_hash bytea NOT NULL, "
                "recorded_at timestamptz NOT NULL)"
            ).format(checkpoints=self._table(self.checkpoint_table_name)),
        ]

    def _create_insert_function(self) -> Composed:
        # The canonical bytes of audit_chain.record_hash (``record_hash_sql``, which the server's
        # check of the chain hashes with too): a uuid's text is its canonical lower-case form.
        # Arrays collect the chain records so they are inserted with one statement after the loop.
        return SQL(
            "CREATE OR REPLACE FUNCTION {schema}.{function}({columns}) "
            "RETURNS SETOF bigint LANGUAGE plpgsql AS $BODY$ "
            "DECLARE "
            "chain_head bytea; last_id bigint := 0; inserted record; "
            "originator_bytes bytea; topic_bytes bytea; "
            "chain_ids bigint[] := '{{}}'; chain_originators text[] := '{{}}'; chain_versions bigint[] := '{{}}'; "
            "chain_hashes bytea[] := '{{}}'; chain_previous bytea[] := '{{}}'; "
            "BEGIN "
            "LOCK TABLE {table} IN EXCLUSIVE MODE; "
            "NOTIFY {channel}; "
            "SELECT record_hash INTO chain_head FROM {chain} ORDER BY notification_id DESC LIMIT 1; "
            "chain_head := coalesce(chain_head, decode(repeat('00', 32), 'hex')); "
            "FOR inserted IN INSERT INTO {table} (originator_id, originator_version, topic, state) "
            "SELECT * FROM {events} "
            "RETURNING notification_id, originator_id::text AS originator_text, originator_version, topic, state "
            "LOOP "
            "IF inserted.notification_id <= last_id THEN "
            "RAISE EXCEPTION 'notification ids out of order: % after %', inserted.notification_id, last_id; "
            "END IF; "
            "last_id := inserted.notification_id; "
            "originator_bytes := convert_to(inserted.originator_text, 'UTF8'); "
            "topic_bytes := convert_to(inserted.topic, 'UTF8'); "
            "chain_previous := chain_previous || chain_head; "
            "chain_head := "
            + record_hash_sql(
                "chain_head",
                "inserted.notification_id",
                "inserted.originator_version",
                "originator_bytes",
                "topic_bytes",
                "inserted.state",
            )
            + "; "
            "chain_ids := chain_ids || inserted.notification_id; "
            "chain_originators := chain_originators || inserted.originator_text; "
            "chain_versions := chain_versions || inserted.originator_version; "
            "chain_hashes := chain_hashes || chain_head; "
            "RETURN NEXT inserted.notification_id; "
            "END LOOP; "
            "INSERT INTO {chain} (notification_id, originator_id, originator_version, record_hash, previous_hash) "
            "SELECT * FROM unnest(chain_ids, chain_originators, chain_versions, chain_hashes, chain_previous); "
            "END; $BODY$"
        ).format(
            schema=Identifier(self.datastore.schema),
            function=Identifier(self.pg_function_name_insert_events),
            columns=self._column_parameters(),
            events=EVENTS_FROM_COLUMNS,
            table=self._table(self.events_table_name),
            chain=self._table(self.chain_table_name),
            channel=Identifier(self.channel_name),
        )

    def _finish_set_up(self, cursor: Any) -> None:
        """The seal of a store written before the chain, in the set-up's transaction (so under the
        schema lock, and seeing the tables it may just have created)."""
        self._seal_unchained_store(cursor)

    # -- sealing a store written before the chain ---------------------------------------------

    def _seal_unchained_store(self, cursor: Any) -> None:
        """Chain every stored event when none is chained yet and no checkpoint was ever taken; a
        chain that merely lags (or a store with checkpoints and no chain) is left as it is, for
        ``heatledger audit verify`` to report: it is never repaired silently."""
        if self._chain_keeps_up(cursor):
            return  # every start asks, but only a store that may need a seal waits for the writers' lock
        # The writers' own lock: no save slips in between the reads and the seal.
        cursor.execute(SQL("LOCK TABLE {table} IN EXCLUSIVE MODE").format(table=self._table(self.events_table_name)))
        sealed = self._seal(cursor)
        if sealed:
            logger.warning("sealed the event store: %d events written before the hash chain are now chained", sealed)

    def _chain_keeps_up(self, cursor: Any) -> bool:
        """The check every start makes without the writers' lock: the events' head read first,
        then the chain's, so a save committed in between can only make the chain look further
        ahead."""
        event_head = self._scalar(cursor, "SELECT max(notification_id) FROM {table}", self.events_table_name) or 0
        chain_head = self._scalar(cursor, "SELECT max(notification_id) FROM {table}", self.chain_table_name) or 0
        return event_head == 0 or chain_head >= event_head

    def _seal(self, cursor: Any) -> int:
        event_head = self._scalar(cursor, "SELECT max(notification_id) FROM {table}", self.events_table_name)
        chain_head = self._scalar(cursor, "SELECT max(notification_id) FROM {table}", self.chain_table_name)
        checkpoints = self._scalar(cursor, "SELECT count(*) FROM {table}", self.checkpoint_table_name)
        if not event_head or (chain_head or 0) >= event_head:
            return 0
        if chain_head or checkpoints:
            logger.error(
                "the hash chain ends at %s but the events at %s: not repaired; run `heatledger audit verify`",
                chain_head,
                event_head,
            )
            return 0
        started, sealed, previous_hash, after = time.monotonic(), 0, GENESIS_HASH, 0
        select_page = SQL(
            "SELECT notification_id, originator_id, originator_version, topic, state FROM {table} "
            "WHERE notification_id > %s ORDER BY notification_id LIMIT %s"
        ).format(table=self._table(self.events_table_name))
        for _ in range(event_head // SEAL_PAGE_SIZE + 2):
            cursor.execute(select_page, (after, SEAL_PAGE_SIZE))
            page = [_fields(row) for row in cursor.fetchall()]
            if not page:
                break
            records = chain_records(previous_hash, page)
            self._insert_chain_records(cursor, records)
            previous_hash, after, sealed = records[-1].record_hash, page[-1][0], sealed + len(page)
        logger.info("sealing %d events took %.1f s", sealed, time.monotonic() - started)
        return sealed

    def _insert_chain_records(self, cursor: Any, records: Sequence[ChainRecord]) -> None:
        # One statement of arrays, not executemany (which pipelines: see the module doc).
        cursor.execute(
            SQL(
                "INSERT INTO {chain} (notification_id, originator_id, originator_version, record_hash, previous_hash) "
                "SELECT * FROM unnest(%s::bigint[], %s::text[], %s::bigint[], %s::bytea[], %s::bytea[])"
            ).format(chain=self._table(self.chain_table_name)),
            (
                [record.notification_id for record in records],
                [record.originator_id for record in records],
                [record.originator_version for record in records],
                [record.record_hash for record in records],
                [record.previous_hash for record in records],
            ),
        )

    def _scalar(self, cursor: Any, statement: str, table: str) -> Any:
        cursor.execute(SQL(statement).format(table=self._table(table)))
        row = cursor.fetchone()
        return next(iter(row.values())) if row else None

    # -- reading the chain --------------------------------------------------------------------

    def max_chain_position(self) -> int:
        """The notification id of the last chain record (0: none)."""
        with self.datastore.get_connection() as connection, connection.cursor() as cursor:
            return int(self._scalar(cursor, "SELECT max(notification_id) FROM {table}", self.chain_table_name) or 0)

    def select_chain(self, after: int, stop: int, limit: int) -> list[ChainRecord]:
        """Chain records with ``after`` < notification id ≤ ``stop``, ascending, at most ``limit``."""
        statement = SQL(
            "SELECT notification_id, originator_id, originator_version, record_hash, previous_hash FROM {chain} "
            "WHERE notification_id > %s AND notification_id <= %s ORDER BY notification_id LIMIT %s"
        ).format(chain=self._table(self.chain_table_name))
        with self.datastore.get_connection() as connection, connection.cursor() as cursor:
            cursor.execute(statement, (after, stop, limit), prepare=True)
            return [
                ChainRecord(
                    row["notification_id"],
                    row["originator_id"],
                    row["originator_version"],
                    bytes(row["record_hash"]),
                    bytes(row["previous_hash"]),
                )
                for row in cursor.fetchall()
            ]

    def chain_positions_of(self, originator_id: str, originator_version: int) -> list[int]:
        """Where the chain records this aggregate version (a scan: only asked about a problem)."""
        statement = SQL(
            "SELECT notification_id FROM {chain} WHERE originator_id = %s AND originator_version = %s "
            "ORDER BY notification_id"
        ).format(chain=self._table(self.chain_table_name))
        with self.datastore.get_connection() as connection, connection.cursor() as cursor:
            cursor.execute(statement, (originator_id, originator_version))
            return [int(row["notification_id"]) for row in cursor.fetchall()]

    def select_checkpoints(self) -> list[Checkpoint]:
        statement = SQL("SELECT position, record_hash, recorded_at FROM {checkpoints} ORDER BY position").format(
            checkpoints=self._table(self.checkpoint_table_name)
        )
        with self.datastore.get_connection() as connection, connection.cursor() as cursor:
            cursor.execute(statement)
            return [
                Checkpoint(row["position"], bytes(row["record_hash"]), row["recorded_at"]) for row in cursor.fetchall()
            ]

    def insert_checkpoint(self, checkpoint: Checkpoint) -> bool:
        statement = SQL(
            "INSERT INTO {checkpoints} (position, record_hash, recorded_at) VALUES (%s, %s, %s) "
            "ON CONFLICT (position) DO NOTHING"
        ).format(checkpoints=self._table(self.checkpoint_table_name))
        with self.datastore.get_connection() as connection, connection.cursor() as cursor:
            cursor.execute(statement, (checkpoint.position, checkpoint.record_hash, checkpoint.recorded_at))
            return bool(cursor.rowcount)


def _unretried(method: Any) -> Any:
    """The library's method without its own retry decorator (``functools.wraps`` keeps it)."""
    return getattr(method, "__wrapped__", method)


def _fields(row: Any) -> tuple[int, Any, int, str, bytes]:
    return row["notification_id"], row["originator_id"], row["originator_version"], row["topic"], bytes(row["state"])


class LedgerPostgresFactory(PostgresFactory):
    """The library's PostgreSQL factory with the ledger's chained recorder and per-connection timeouts."""

    aggregate_recorder_class = SerialisedPostgresAggregateRecorder
    application_recorder_class: type[LedgerPostgresApplicationRecorder] = ChainedPostgresApplicationRecorder

    def __init__(self, env: Environment | EnvType | None) -> None:
        super().__init__(env)
        statement_timeout_ms = _milliseconds(self.env.get(STATEMENT_TIMEOUT_MS), STATEMENT_TIMEOUT_MS)
        lock_timeout_ms = _milliseconds(self.env.get(LOCK_TIMEOUT_MS), LOCK_TIMEOUT_MS)
        # libpq's "options" sets both for the whole session when a connection opens, before any
        # statement, so every read and write of the event store has them. Nothing is open yet:
        # the library opens its pool on first use.
        connection_arguments = self.datastore.pool.kwargs
        assert isinstance(connection_arguments, dict), "the library passes its connection arguments as a dict"
        connection_arguments["options"] = session_timeout_options(statement_timeout_ms, lock_timeout_ms)
        connect_timeout = self.env.get(SERVER_CONNECT_TIMEOUT_S)
        if connect_timeout is not None:
            # The same check as the timeouts above (a positive whole number; here of seconds).
            connection_arguments["connect_timeout"] = _milliseconds(connect_timeout, SERVER_CONNECT_TIMEOUT_S)
        self.datastore.pool.reconnect_timeout = RECONNECT_GIVE_UP_SECONDS


def session_timeout_options(statement_timeout_ms: int, lock_timeout_ms: int) -> str:
    """libpq's ``options`` value giving a session these timeouts (0 would mean none)."""
    assert statement_timeout_ms > 0 and lock_timeout_ms > 0, "every database call has a timeout"
    return f"-c statement_timeout={statement_timeout_ms} -c lock_timeout={lock_timeout_ms}"


def _milliseconds(value: str | None, key: str) -> int:
    if value is None or not value.isdigit() or int(value) <= 0:
        msg = f"{key} must be a positive whole number of milliseconds, not {value!r}"
        raise OSError(msg)
    return int(value)


class UnchainedPostgresFactory(LedgerPostgresFactory):
    """The ledger's factory with the recorder that writes no chain: the benchmark's baseline
    (bench/ingest.py), never a store's."""

    application_recorder_class = LedgerPostgresApplicationRecorder
