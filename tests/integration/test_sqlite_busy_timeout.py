"""On SQLite a save waits for another writer's lock only as long as the busy timeout (issue 18)."""

from __future__ import annotations

import sqlite3
import time
from pathlib import Path

from eventsourcing.persistence import OperationalError

from application.ledger import HeatLedger
from infrastructure.database import is_database_timeout
from infrastructure.event_store import event_store_environment
from tests.conftest import sqlite_settings
from tests.integration.test_large_saves_postgres import register
from tests.watchdog import in_thread_with_watchdog


def test_a_save_blocked_by_another_writer_is_refused_after_the_busy_timeout(tmp_path: Path) -> None:
    settings = sqlite_settings(tmp_path).model_copy(update={"sqlite_busy_timeout_seconds": 1})
    ledger = HeatLedger(env=event_store_environment(settings))
    try:
        register(ledger, "WZ-0001")
        holder = sqlite3.connect(settings.sqlite_path, isolation_level=None)
        holder.execute("BEGIN IMMEDIATE")  # another writer's write lock
        started = time.monotonic()
        error = in_thread_with_watchdog(lambda: register(ledger, "WZ-0002"), 15.0, holder.rollback)
        waited = time.monotonic() - started
        holder.rollback()
        holder.close()
        assert isinstance(error, OperationalError) and is_database_timeout(error), error
        assert 1.0 <= waited < 10.0
        register(ledger, "WZ-0002")  # the lock gone, the same save goes through
        assert len(list(ledger.recorder.select_notifications(start=1, limit=10))) == 2
    finally:
        ledger.close()
