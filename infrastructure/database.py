"""The SQLAlchemy engine of the read models, and their migrations."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from pathlib import Path
from typing import Any

import psycopg
import psycopg_pool
import sqlalchemy.exc
from alembic.config import Config
from eventsourcing.persistence import ConnectionUnavailableError
from sqlalchemy import Engine, create_engine, event

from alembic import command
from infrastructure.postgres_event_store import session_timeout_options
from infrastructure.settings import Backend, Settings

PROJECT_ROOT = Path(__file__).resolve().parents[1]
# How long a request waits for a free pooled connection before it is refused (503).
POOL_TIMEOUT_SECONDS = 30


def create_database_engine(settings: Settings) -> Engine:
    """An engine on the database that holds the events, so read models live beside them.

    No call waits forever: PostgreSQL sessions get the statement and lock timeouts of the
    settings, SQLite connections a busy timeout, and taking a pooled connection gives up after
    ``POOL_TIMEOUT_SECONDS`` (docs/operations.md, "Database timeouts").
    """
    if settings.backend is Backend.SQLITE:
        settings.data_dir.mkdir(parents=True, exist_ok=True)
        engine = create_engine(
            settings.database_url,
            connect_args={"timeout": settings.sqlite_busy_timeout_seconds, "check_same_thread": False},
            pool_timeout=POOL_TIMEOUT_SECONDS,
        )
        event.listen(engine, "connect", _sqlite_tuning(settings.sqlite_busy_timeout_seconds))
        return engine
    options = session_timeout_options(settings.statement_timeout_ms, settings.lock_timeout_ms)
    return create_engine(
        settings.database_url,
        connect_args={"options": options},
        pool_pre_ping=True,
        pool_size=5,
        max_overflow=10,
        pool_timeout=POOL_TIMEOUT_SECONDS,
    )


def _sqlite_tuning(busy_timeout_seconds: int) -> Callable[[Any, Any], None]:
    def tune(dbapi_connection: Any, _record: Any) -> None:
        # WAL lets the event store's connection write while read models are read; the busy
        # timeout makes a writer wait for the other library's lock instead of failing at once.
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute(f"PRAGMA busy_timeout={int(busy_timeout_seconds * 1000)}")
        cursor.close()

    return tune


def is_database_timeout(error: BaseException) -> bool:
    """Whether ``error`` (or what caused it) is the database giving up waiting: a statement or
    lock timeout on PostgreSQL, a busy SQLite, or no pooled connection free in time.

    Such an error left nothing written (the transaction rolled back), so the caller may be told
    to try again later; any other database error is a fault to log.
    """
    seen: set[int] = set()
    current: BaseException | None = error
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, _TIMEOUT_TYPES) or _is_sqlite_busy(current):
            return True
        current = getattr(current, "orig", None) or current.__cause__ or current.__context__
    return False


def _is_sqlite_busy(error: BaseException) -> bool:
    return isinstance(error, sqlite3.OperationalError) and "locked" in str(error)


_TIMEOUT_TYPES = (
    psycopg.errors.QueryCanceled,  # statement_timeout
    psycopg.errors.LockNotAvailable,  # lock_timeout
    psycopg_pool.PoolTimeout,
    ConnectionUnavailableError,  # the eventsourcing library's pool
    sqlalchemy.exc.TimeoutError,  # SQLAlchemy's pool
)


def migrate(engine: Engine) -> None:
    """Bring the read-model and token tables to the newest migration."""
    config = Config(str(PROJECT_ROOT / "alembic.ini"))
    config.set_main_option("script_location", str(PROJECT_ROOT / "alembic"))
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, "head")
