"""Hands on the event store's tables, around the ledger: what someone with database access could do.

The tamper-evidence tests (integration and CLI) edit stored events and chain records with plain
SQL on either backend through ``RawStore``, then check that verification names what was done.
"""

from __future__ import annotations

import re
import sqlite3
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from infrastructure.audit_chain import GENESIS_HASH, chain_records
from infrastructure.settings import Backend, Settings
from tests.services import POSTGRES_HOST, POSTGRES_PORT, POSTGRES_USER


class RawStore:
    """The events table, its chain and checkpoints, edited directly (one connection per call)."""

    def __init__(self, settings: Settings, recorder: Any) -> None:
        self.settings = settings
        self.events = recorder.events_table_name
        self.chain = recorder.chain_table_name
        self.checkpoints = recorder.checkpoint_table_name
        self.is_sqlite = settings.backend is Backend.SQLITE
        self.id_column = "rowid" if self.is_sqlite else "notification_id"

    @contextmanager
    def _cursor(self) -> Iterator[Any]:
        if self.is_sqlite:
            connection: Any = sqlite3.connect(self.settings.sqlite_path, timeout=30)
        else:
            import psycopg

            connection = psycopg.connect(
                host=POSTGRES_HOST, port=POSTGRES_PORT, user=POSTGRES_USER, dbname=self.settings.postgres_dbname
            )
        try:
            cursor = connection.cursor()
            yield cursor
            connection.commit()
        finally:
            connection.close()

    def _sql(self, statement: str) -> str:
        """``statement`` with ``?`` placeholders and ``{id}`` for the notification id column."""
        statement = statement.replace("{id}", self.id_column)
        return statement if self.is_sqlite else statement.replace("?", "%s")

    def execute(self, statement: str, *parameters: Any) -> list[tuple[Any, ...]]:
        with self._cursor() as cursor:
            cursor.execute(self._sql(statement), parameters)
            return list(cursor.fetchall()) if cursor.description else []

    # -- reading ------------------------------------------------------------------------------

    def positions(self) -> list[int]:
        return [row[0] for row in self.execute(f"SELECT {{id}} FROM {self.events} ORDER BY {{id}}")]

    def chain_positions(self) -> list[int]:
        return [row[0] for row in self.execute(f"SELECT notification_id FROM {self.chain} ORDER BY notification_id")]

    def identity(self, position: int) -> tuple[str, int]:
        """The aggregate id (canonical text) and version stored at ``position``."""
        originator_id, version = self.execute(
            f"SELECT originator_id, originator_version FROM {self.events} WHERE {{id}} = ?", position
        )[0]
        return str(uuid.UUID(str(originator_id))), version

    def state(self, position: int) -> bytes:
        return bytes(self.execute(f"SELECT state FROM {self.events} WHERE {{id}} = ?", position)[0][0])

    # -- tampering ----------------------------------------------------------------------------

    def set_state(self, position: int, state: bytes) -> None:
        self.execute(f"UPDATE {self.events} SET state = ? WHERE {{id}} = ?", state, position)

    def change_one_byte(self, position: int) -> None:
        """Change one digit of the event's state into another: still valid JSON, one byte apart."""
        state = self.state(position)
        digit = re.search(rb"[0-8]", state)
        assert digit is not None, "a state with a digit to change"
        changed = bytearray(state)
        changed[digit.start()] += 1
        self.set_state(position, bytes(changed))

    def delete_event(self, position: int) -> None:
        self.execute(f"DELETE FROM {self.events} WHERE {{id}} = ?", position)

    def delete_chain_record(self, position: int) -> None:
        self.execute(f"DELETE FROM {self.chain} WHERE notification_id = ?", position)

    def delete_checkpoints(self) -> None:
        self.execute(f"DELETE FROM {self.checkpoints}")

    def swap_positions(self, first: int, second: int) -> None:
        """Exchange the notification ids of two events: each now stands where the other did."""
        parking = -1
        with self._cursor() as cursor:
            for old, new in ((first, parking), (second, first), (parking, second)):
                cursor.execute(self._sql(f"UPDATE {self.events} SET {{id}} = ? WHERE {{id}} = ?"), (new, old))

    def swap_contents(self, first: int, second: int) -> None:
        """Exchange the topics and states of two events (each keeps its aggregate and version)."""
        rows = {
            position: self.execute(f"SELECT topic, state FROM {self.events} WHERE {{id}} = ?", position)[0]
            for position in (first, second)
        }
        for position, other in ((first, second), (second, first)):
            topic, state = rows[other]
            self.execute(f"UPDATE {self.events} SET topic = ?, state = ? WHERE {{id}} = ?", topic, state, position)

    def insert_forged_event(self, like: int) -> uuid.UUID:
        """A new event for a new aggregate, copied from the one at ``like``: it takes the next position."""
        topic, state = self.execute(f"SELECT topic, state FROM {self.events} WHERE {{id}} = ?", like)[0]
        forged_id = uuid.uuid4()
        stored_id: Any = forged_id.hex if self.is_sqlite else forged_id
        self.execute(
            f"INSERT INTO {self.events} (originator_id, originator_version, topic, state) VALUES (?, ?, ?, ?)",
            stored_id,
            1,
            topic,
            bytes(state),
        )
        return forged_id

    def rechain(self) -> None:
        """Recompute every chain record from the events as they now are: what someone who knows the
        scheme does to hide an edit (only checkpoints kept elsewhere reveal it)."""
        rows = self.execute(
            f"SELECT {{id}}, originator_id, originator_version, topic, state FROM {self.events} ORDER BY {{id}}"
        )
        events = [(row[0], uuid.UUID(str(row[1])), row[2], row[3], bytes(row[4])) for row in rows]
        with self._cursor() as cursor:
            cursor.execute(f"DELETE FROM {self.chain}")
            for record in chain_records(GENESIS_HASH, events):
                cursor.execute(self._sql(f"INSERT INTO {self.chain} VALUES (?, ?, ?, ?, ?)"), tuple(record))

    def next_position(self) -> int:
        """The notification id the next saved event will get."""
        if self.is_sqlite:
            return int(self.execute(f"SELECT coalesce(max(rowid), 0) + 1 FROM {self.events}")[0][0])
        sequence = self.execute("SELECT pg_get_serial_sequence(?, 'notification_id')", self.events)[0][0]
        last_value, is_called = self.execute(f"SELECT last_value, is_called FROM {sequence}")[0]
        return int(last_value) + 1 if is_called else int(last_value)

    def plant_chain_record(self, position: int) -> None:
        """A chain record at ``position`` before any event is there (it makes the next save collide)."""
        self.execute(
            f"INSERT INTO {self.chain} VALUES (?, ?, ?, ?, ?)", position, str(uuid.uuid4()), 1, bytes(32), bytes(32)
        )
