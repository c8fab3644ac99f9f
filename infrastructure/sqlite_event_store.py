"""The event store on SQLite: the eventsourcing library's factory and recorder, with the hash chain.

The recorder inserts the events with one ``executemany`` (the library runs one INSERT each, to read
each rowid back: the rowids, which are the notification ids, are worked out instead, see
``_consecutive_rowids``), then reads the chain's head and inserts the events' chain records with one
``executemany``, all in the library's one transaction: a save is stored with its chain records or
not at all. SQLite lets one writer in at a time, and the head is read after the first INSERT took
the write lock, so two saves never link to the same head. infrastructure/audit_chain.py defines
the hashes; docs/audit.md, "Tamper evidence", the design.

``event_store_environment`` names ``LedgerSQLiteFactory`` as ``PERSISTENCE_MODULE``;
the library's own module (no chain) is the benchmark's baseline only.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from datetime import datetime
from typing import Any
from uuid import UUID

from eventsourcing.persistence import Notification, PersistenceError, StoredEvent
from eventsourcing.sqlite import SQLiteApplicationRecorder, SQLiteCursor, SQLiteDatastore, SQLiteFactory

from infrastructure.audit_chain import GENESIS_HASH, ChainRecord, Checkpoint, chain_records
from infrastructure.notification_reads import MAXIMUM_REMEMBERED_IDS, notification_conditions

logger = logging.getLogger(__name__)

# Existing events are sealed this many at a time (one transaction for all of them).
SEAL_PAGE_SIZE = 5000


class ChainedSQLiteApplicationRecorder(SQLiteApplicationRecorder):
    """The library's SQLite application recorder, writing a chain record with every event."""

    def __init__(self, datastore: SQLiteDatastore, events_table_name: str = "stored_events") -> None:
        # Named before the library builds its CREATE statements, which this class extends.
        self.chain_table_name = f"{events_table_name}_chain"
        self.checkpoint_table_name = f"{events_table_name}_checkpoints"
        super().__init__(datastore, events_table_name)
        self._originators: dict[str, UUID | str] = {}
        self._insert_chain_statement = f"INSERT INTO {self.chain_table_name} VALUES (?,?,?,?,?)"
        self._select_head_statement = (
            f"SELECT record_hash FROM {self.chain_table_name} ORDER BY notification_id DESC LIMIT 1"
        )
        # After a save's INSERTs: its last rowid, the table's largest, and the chain's head.
        self._select_inserted_statement = (
            f"SELECT last_insert_rowid(), (SELECT MAX(rowid) FROM {events_table_name}), ({self._select_head_statement})"
        )

    def construct_create_table_statements(self) -> list[str]:
        statements = super().construct_create_table_statements()
        statements.append(
            f"CREATE TABLE IF NOT EXISTS {self.chain_table_name} ("
            "notification_id INTEGER PRIMARY KEY, "
            "originator_id TEXT NOT NULL, "
            "originator_version INTEGER NOT NULL, "
            "record_hash BLOB NOT NULL, "
            "previous_hash BLOB NOT NULL)"
        )
        statements.append(
            f"CREATE TABLE IF NOT EXISTS {self.checkpoint_table_name} ("
            "position INTEGER PRIMARY KEY, "
            "record_hash BLOB NOT NULL, "
            "recorded_at TEXT NOT NULL)"
        )
        return statements

    def create_table(self) -> None:
        """The library's tables, the chain's two, and the seal of a store written before the chain."""
        super().create_table()
        self._seal_unchained_store()

    # -- reading ------------------------------------------------------------------------------

    def select_notifications(
        self,
        start: int | None,
        limit: int,
        stop: int | None = None,
        topics: Sequence[str] = (),
        *,
        inclusive_of_start: bool = True,
    ) -> list[Notification]:
        """The library's read (the same rows as the same ``Notification`` objects), fetched as plain
        tuples (the library's connections make a ``sqlite3.Row`` of each) with each originator id
        parsed once per text rather than once per event (a catch-up meets the same meters batch
        after batch; issue 17)."""
        conditions, parameters = notification_conditions(
            start, stop, topics, inclusive_of_start, position="rowid", placeholder="?"
        )
        where = f"WHERE {' AND '.join(conditions)} " if conditions else ""
        statement = (
            f"SELECT rowid, originator_id, originator_version, topic, state FROM {self.events_table_name} "
            f"{where}ORDER BY rowid LIMIT ?"
        )
        with self.datastore.transaction(commit=False) as cursor:
            sqlite_cursor = cursor.sqlite_cursor
            sqlite_cursor.row_factory = None
            sqlite_cursor.execute(statement, [*parameters, limit])
            rows = sqlite_cursor.fetchall()
        originator = self._originator_of
        return [
            Notification(originator(text), originator_version, topic, state, rowid)
            for rowid, text, originator_version, topic, state in rows
        ]

    def _originator_of(self, stored: str) -> UUID | str:
        """``convert_originator_id`` of a stored id, remembered (bounded) for the next events."""
        found = self._originators.get(stored)
        if found is None:
            if len(self._originators) >= MAXIMUM_REMEMBERED_IDS:
                self._originators.clear()
            found = self._originators[stored] = self.convert_originator_id(stored)
        return found

    # -- writing ------------------------------------------------------------------------------

    def _insert_events(self, c: SQLiteCursor, stored_events: Sequence[StoredEvent], **kwargs: Any) -> Sequence[int]:
        if not stored_events:
            return []
        # One ``executemany`` for the events (the library runs one INSERT each, to read each
        # rowid back): the rowids are worked out instead. The first INSERT took SQLite's write
        # lock (one writer at a time), and SQLite gives a row without a rowid the table's largest
        # rowid plus one, so the events get the rowids up to the last one inserted, in order;
        # the table's largest rowid being that last one proves it (see ``_consecutive_rowids``).
        c.executemany(
            self.insert_events_statement,
            [
                (
                    event.originator_id.hex if isinstance(event.originator_id, UUID) else event.originator_id,
                    event.originator_version,
                    event.topic,
                    event.state,
                )
                for event in stored_events
            ],
        )
        # This transaction holds the write lock now, so the chain's head is final.
        c.execute(self._select_inserted_statement)
        last_rowid, largest_rowid, head = c.fetchone()
        notification_ids = _consecutive_rowids(last_rowid, largest_rowid, len(stored_events))
        previous_hash = bytes(head) if head is not None else GENESIS_HASH
        events = (
            (notification_id, event.originator_id, event.originator_version, event.topic, event.state)
            for notification_id, event in zip(notification_ids, stored_events, strict=True)
        )
        c.executemany(self._insert_chain_statement, chain_records(previous_hash, events))
        return notification_ids

    # -- sealing a store written before the chain ---------------------------------------------

    def _seal_unchained_store(self) -> None:
        """Chain every stored event when none is chained yet and no checkpoint was ever taken;
        a chain that merely lags (or a store with checkpoints and no chain) is left as it is,
        for ``heatledger audit verify`` to report: it is never repaired silently."""
        if self._chain_keeps_up():
            return
        connection = self.datastore.get_connection(commit=True)
        with connection as conn:
            cursor = conn.cursor()
            # IMMEDIATE takes the write lock now: no save slips in between the reads and the seal.
            cursor.execute("BEGIN IMMEDIATE")
            try:
                sealed = self._seal(cursor)
            except BaseException:
                conn.rollback()
                raise
            conn.commit()
        if sealed:
            logger.warning("sealed the event store: %d events written before the hash chain are now chained", sealed)

    def _chain_keeps_up(self) -> bool:
        """The check every start makes without any lock: the events' head read first, then the
        chain's, so a save committed in between can only make the chain look further ahead."""
        event_head = self.max_notification_id() or 0
        return event_head == 0 or self.max_chain_position() >= event_head

    def _seal(self, cursor: Any) -> int:
        event_head = _scalar(cursor, f"SELECT MAX(rowid) FROM {self.events_table_name}")
        chain_head = _scalar(cursor, f"SELECT MAX(notification_id) FROM {self.chain_table_name}")
        checkpoints = _scalar(cursor, f"SELECT COUNT(*) FROM {self.checkpoint_table_name}")
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
        for _ in range(event_head // SEAL_PAGE_SIZE + 2):
            cursor.execute(
                f"SELECT rowid, * FROM {self.events_table_name} WHERE rowid > ? ORDER BY rowid LIMIT ?",
                (after, SEAL_PAGE_SIZE),
            )
            page = [self._row_fields(row) for row in cursor.fetchall()]
            if not page:
                break
            records = chain_records(previous_hash, page)
            cursor.executemany(self._insert_chain_statement, records)
            previous_hash, after, sealed = records[-1].record_hash, page[-1][0], sealed + len(page)
        logger.info("sealing %d events took %.1f s", sealed, time.monotonic() - started)
        return sealed

    def _row_fields(self, row: Any) -> tuple[int, UUID | str, int, str, bytes]:
        originator_id = self.convert_originator_id(row["originator_id"])
        return row["rowid"], originator_id, row["originator_version"], row["topic"], bytes(row["state"])

    # -- reading the chain --------------------------------------------------------------------

    def max_chain_position(self) -> int:
        """The notification id of the last chain record (0: none)."""
        with self.datastore.transaction(commit=False) as c:
            return int(_scalar(c, f"SELECT MAX(notification_id) FROM {self.chain_table_name}") or 0)

    def select_chain(self, after: int, stop: int, limit: int) -> list[ChainRecord]:
        """Chain records with ``after`` < notification id ≤ ``stop``, ascending, at most ``limit``."""
        with self.datastore.transaction(commit=False) as c:
            c.execute(
                f"SELECT * FROM {self.chain_table_name} WHERE notification_id > ? AND notification_id <= ? "
                "ORDER BY notification_id LIMIT ?",
                (after, stop, limit),
            )
            return [_record(row) for row in c.fetchall()]

    def chain_positions_of(self, originator_id: str, originator_version: int) -> list[int]:
        """Where the chain records this aggregate version (a scan: only asked about a problem)."""
        with self.datastore.transaction(commit=False) as c:
            c.execute(
                f"SELECT notification_id FROM {self.chain_table_name} "
                "WHERE originator_id = ? AND originator_version = ? ORDER BY notification_id",
                (originator_id, originator_version),
            )
            return [int(row[0]) for row in c.fetchall()]

    def select_checkpoints(self) -> list[Checkpoint]:
        with self.datastore.transaction(commit=False) as c:
            c.execute(f"SELECT * FROM {self.checkpoint_table_name} ORDER BY position")
            return [
                Checkpoint(row["position"], bytes(row["record_hash"]), datetime.fromisoformat(row["recorded_at"]))
                for row in c.fetchall()
            ]

    def insert_checkpoint(self, checkpoint: Checkpoint) -> bool:
        with self.datastore.transaction(commit=True) as c:
            c.execute(
                f"INSERT OR IGNORE INTO {self.checkpoint_table_name} VALUES (?,?,?)",
                (checkpoint.position, checkpoint.record_hash, checkpoint.recorded_at.isoformat()),
            )
            return bool(_scalar(c, "SELECT changes()"))


def _consecutive_rowids(last_rowid: int, largest_rowid: int, count: int) -> list[int]:
    """The rowids of the ``count`` rows one ``executemany`` just inserted, ``last_rowid`` the last.

    SQLite numbers a new row the table's largest rowid plus one while that is below 2**63 - 1;
    after that it picks unused rowids at random. When the last row inserted holds the largest
    rowid, it was numbered the first way, so every row before it in the same statement was too
    (a random pick would have left the largest at 2**63 - 1): the rows are consecutive.
    """
    if last_rowid != largest_rowid:
        # Only once a table has used the largest rowid: notification ids would no longer ascend.
        raise PersistenceError(f"the events table's rowids are exhausted (largest {largest_rowid})")
    return list(range(last_rowid - count + 1, last_rowid + 1))


def _record(row: Any) -> ChainRecord:
    return ChainRecord(
        row["notification_id"],
        row["originator_id"],
        row["originator_version"],
        bytes(row["record_hash"]),
        bytes(row["previous_hash"]),
    )


def _scalar(cursor: Any, statement: str) -> Any:
    cursor.execute(statement)
    row = cursor.fetchone()
    return row[0] if row else None


class LedgerSQLiteFactory(SQLiteFactory):
    """The library's SQLite factory with the chained application recorder."""

    application_recorder_class = ChainedSQLiteApplicationRecorder
