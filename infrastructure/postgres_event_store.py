"""The event store on PostgreSQL: the eventsourcing library's factory and recorder, with two changes.

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

``event_store_environment`` names ``LedgerPostgresFactory`` as ``PERSISTENCE_MODULE``; its
timeouts come from ``POSTGRES_STATEMENT_TIMEOUT_MS`` and ``POSTGRES_LOCK_TIMEOUT_MS``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from eventsourcing.persistence import InterfaceError, OperationalError, StoredEvent
from eventsourcing.postgres import PostgresApplicationRecorder, PostgresDatastore, PostgresFactory
from eventsourcing.utils import Environment, EnvType, retry
from psycopg.sql import SQL, Composed, Identifier

STATEMENT_TIMEOUT_MS = "POSTGRES_STATEMENT_TIMEOUT_MS"
LOCK_TIMEOUT_MS = "POSTGRES_LOCK_TIMEOUT_MS"
# A save that failed on a timeout or a dropped connection is tried this many times in all: once
# more, so a passing stall is absorbed, and then refused, so a caller never waits ten timeouts.
SAVE_ATTEMPTS = 2
SAVE_RETRY_WAIT_SECONDS = 0.2


class LedgerPostgresApplicationRecorder(PostgresApplicationRecorder):
    """The library's application recorder, inserting with one statement (see the module doc)."""

    def __init__(self, datastore: PostgresDatastore, *, events_table_name: str = "stored_events") -> None:
        super().__init__(datastore, events_table_name=events_table_name)
        # One function per events table: the library's own function names no table, so two
        # applications in one schema would replace each other's.
        self.pg_function_name_insert_events = f"{events_table_name}_insert"
        self.sql_invoke_pg_function_insert_events = SQL("SELECT * FROM {schema}.{function}((%s))").format(
            schema=Identifier(self.datastore.schema), function=Identifier(self.pg_function_name_insert_events)
        )
        self.sql_create_statements.append(self._create_insert_function())

    def _create_insert_function(self) -> Composed:
        # The EXCLUSIVE lock makes commit order equal notification order, as in the library's
        # pipelined insert, so a catch-up never passes over a gap that a slower transaction fills
        # in later (the library's own function leaves the lock out). The lock is taken when the
        # statement runs, after the server has received every event, and lock_timeout bounds it.
        return SQL(
            "CREATE OR REPLACE FUNCTION {schema}.{function}(events {schema}.{event_type}[]) "
            "RETURNS SETOF bigint LANGUAGE plpgsql AS $BODY$ "
            "BEGIN "
            "LOCK TABLE {schema}.{table} IN EXCLUSIVE MODE; "
            "NOTIFY {channel}; "
            "RETURN QUERY INSERT INTO {schema}.{table} (originator_id, originator_version, topic, state) "
            "SELECT originator_id, originator_version, topic, state FROM unnest(events) "
            "RETURNING notification_id; "
            "END; $BODY$"
        ).format(
            schema=Identifier(self.datastore.schema),
            function=Identifier(self.pg_function_name_insert_events),
            event_type=Identifier(self.stored_event_type_name),
            table=Identifier(self.events_table_name),
            channel=Identifier(self.channel_name),
        )

    @retry((InterfaceError, OperationalError), max_attempts=SAVE_ATTEMPTS, wait=SAVE_RETRY_WAIT_SECONDS)
    def insert_events(self, stored_events: Sequence[StoredEvent], **kwargs: Any) -> Sequence[int] | None:
        """Insert ``stored_events`` with one statement, so in one transaction; their notification
        ids, in order. Nothing is sent before every event is encoded, nothing is locked before the
        server has the whole statement, and no session sits idle in a transaction meanwhile."""
        if not stored_events:
            return None
        events = [
            self.construct_pg_stored_event(event.originator_id, event.originator_version, event.topic, event.state)
            for event in stored_events
        ]
        with self.datastore.get_connection() as connection, connection.cursor() as cursor:
            cursor.execute(self.sql_invoke_pg_function_insert_events, (events,), prepare=True)
            notification_ids = [row[self.pg_function_name_insert_events] for row in cursor.fetchall()]
        assert len(notification_ids) == len(stored_events), "a notification id for every event"
        return notification_ids


class LedgerPostgresFactory(PostgresFactory):
    """The library's PostgreSQL factory with the ledger's recorder and per-connection timeouts."""

    application_recorder_class = LedgerPostgresApplicationRecorder

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


def session_timeout_options(statement_timeout_ms: int, lock_timeout_ms: int) -> str:
    """libpq's ``options`` value giving a session these timeouts (0 would mean none)."""
    assert statement_timeout_ms > 0 and lock_timeout_ms > 0, "every database call has a timeout"
    return f"-c statement_timeout={statement_timeout_ms} -c lock_timeout={lock_timeout_ms}"


def _milliseconds(value: str | None, key: str) -> int:
    if value is None or not value.isdigit() or int(value) <= 0:
        msg = f"{key} must be a positive whole number of milliseconds, not {value!r}"
        raise OSError(msg)
    return int(value)
