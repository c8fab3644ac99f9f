"""The SQLAlchemy engine of the read models, and their migrations."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from pathlib import Path
from typing import Any

import psycopg
import psycopg_pool
import sqlalchemy.exc
from eventsourcing.persistence import ConnectionUnavailableError
from sqlalchemy import Connection, Engine, create_engine, event

from infrastructure.migration_head import is_at_head
from infrastructure.postgres_event_store import session_timeout_options, take_schema_set_up_lock
from infrastructure.settings import Backend, Settings

PROJECT_ROOT = Path(__file__).resolve().parents[1]


def create_database_engine(settings: Settings) -> Engine:
    """An engine on the database that holds the events, so read models live beside them.

    No call waits forever: PostgreSQL sessions get the statement and lock timeouts of the
    settings, SQLite connections a busy timeout, opening a PostgreSQL connection gives up after
    ``database_connect_timeout_seconds`` and taking a pooled connection after
    ``database_pool_timeout_seconds`` (docs/operations.md, "Database timeouts").
    """
    if settings.backend is Backend.SQLITE:
        settings.data_dir.mkdir(parents=True, exist_ok=True)
        engine = create_engine(
            settings.database_url,
            connect_args={"timeout": settings.sqlite_busy_timeout_seconds, "check_same_thread": False},
            pool_timeout=settings.database_pool_timeout_seconds,
        )
        event.listen(engine, "connect", _sqlite_tuning(settings.sqlite_busy_timeout_seconds))
        return engine
    options = session_timeout_options(settings.statement_timeout_ms, settings.lock_timeout_ms)
    return create_engine(
        settings.database_url,
        connect_args={"options": options, "connect_timeout": settings.database_connect_timeout_seconds},
        pool_pre_ping=True,
        pool_size=5,
        max_overflow=10,
        pool_timeout=settings.database_pool_timeout_seconds,
    )


# The hot reads' own connections to PostgreSQL in each process (api/hot_reads.py, issue 17): as
# many as the reads that can usefully run at once on two cores beside the server's own backends;
# a read beyond them waits for one in its thread (up to the pool timeout, then the app answers).
HOT_READ_POOL_SIZE = 8


def create_hot_read_engine(settings: Settings) -> Engine:
    """An engine for the API's hot reads on PostgreSQL: read-only sessions in autocommit, pooled
    without a ping, so a read is its statements alone and each statement gets prepared.

    Through the read models' engine a read of 2–6 statements also paid a ping (``SELECT 1``), a
    ``BEGIN`` and the pool's ``ROLLBACK`` on return: three round trips more. And psycopg forgets
    every prepared statement of a connection when it sees a ``ROLLBACK`` (its prepare manager
    clears on it), so on that engine, which rolls back each connection it takes back, no
    statement was ever prepared: PostgreSQL parsed and planned every one of them each time.
    In autocommit nothing is rolled back, and psycopg prepares a statement on its sixth use on
    the connection (after ``prepare_threshold``, 5). The answers are the same: at READ COMMITTED each
    statement of a transaction took its own snapshot anyway. ``default_transaction_read_only``
    makes the sessions refuse any write; the statement and lock timeouts are the read models'.
    A connection the server dropped fails its read, which the app then answers (with its ping).
    """
    assert settings.backend is Backend.POSTGRES, "on SQLite the hot reads have their own loop connection"
    options = session_timeout_options(settings.statement_timeout_ms, settings.lock_timeout_ms)
    return create_engine(
        settings.database_url,
        connect_args={
            "options": f"{options} -c default_transaction_read_only=on",
            "connect_timeout": settings.database_connect_timeout_seconds,
        },
        isolation_level="AUTOCOMMIT",
        pool_size=HOT_READ_POOL_SIZE,
        max_overflow=0,
        pool_timeout=settings.database_pool_timeout_seconds,
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


def is_database_unavailable(error: BaseException) -> bool:
    """Whether ``error`` (or what caused it) means the database could not be reached: a refused or
    lost connection, or no pooled connection in time (while the server is down none comes back).

    Like a timeout it left nothing written; unlike one, it says the ledger is down, not busy.
    A statement or lock timeout is a busy database (``is_database_timeout``), not this.
    """
    for cause in _causes(error):
        if isinstance(cause, _BUSY_TYPES):
            return False
        if isinstance(cause, _UNAVAILABLE_TYPES) or _is_lost_connection(cause):
            return True
    return False


def _is_lost_connection(error: BaseException) -> bool:
    # psycopg's own errors for a connection refused, dropped or closed carry no SQLSTATE; the
    # server's connection exceptions are class 08.
    if isinstance(error, psycopg.OperationalError | psycopg.InterfaceError):
        return error.sqlstate is None or error.sqlstate.startswith("08")
    return False


def _causes(error: BaseException) -> list[BaseException]:
    """``error`` and what caused it, outermost first (SQLAlchemy's ``orig``, then ``__cause__``)."""
    chain: list[BaseException] = []
    current: BaseException | None = error
    while current is not None and all(current is not seen for seen in chain):
        chain.append(current)
        current = getattr(current, "orig", None) or current.__cause__ or current.__context__
    return chain


def _is_sqlite_busy(error: BaseException) -> bool:
    return isinstance(error, sqlite3.OperationalError) and "locked" in str(error)


_TIMEOUT_TYPES = (
    psycopg.errors.QueryCanceled,  # statement_timeout
    psycopg.errors.LockNotAvailable,  # lock_timeout
    psycopg_pool.PoolTimeout,
    ConnectionUnavailableError,  # the eventsourcing library's pool
    sqlalchemy.exc.TimeoutError,  # SQLAlchemy's pool
)
# A busy server: it answered, and cancelled the statement.
_BUSY_TYPES = (psycopg.errors.QueryCanceled, psycopg.errors.LockNotAvailable)
# No server to talk to. psycopg raises its OperationalError itself (no SQLSTATE) when it cannot
# connect or the connection is lost; PostgreSQL shutting down sends admin_shutdown (57P01) or
# cannot_connect_now (57P03) while it starts. Pool timeouts are counted here too: with the server
# down, the pools wait for connections that never come.
_UNAVAILABLE_TYPES = (
    psycopg.errors.AdminShutdown,
    psycopg.errors.CannotConnectNow,
    psycopg.errors.CrashShutdown,
    psycopg_pool.PoolTimeout,
    ConnectionUnavailableError,
    sqlalchemy.exc.TimeoutError,
)


def migrate(engine: Engine) -> None:
    """Bring the read-model and token tables to the newest migration (alembic, imported only when
    there is one to run: infrastructure/migration_head.py).

    On PostgreSQL the migrations run under the schema set-up lock (``SCHEMA_SET_UP_LOCK_KEY``):
    processes opening a new store together take turns, and those that waited find it migrated."""
    if is_at_head(engine):
        return
    with engine.begin() as connection:
        if connection.dialect.name == "postgresql":
            take_schema_set_up_lock(lambda statement: connection.exec_driver_sql(statement).scalar())
            if is_at_head(engine):
                return  # another process migrated it while this one waited
        _upgrade_to_head(connection)


def _upgrade_to_head(connection: Connection) -> None:
    """alembic's ``upgrade head`` on ``connection``, in its transaction."""
    from alembic.config import Config

    from alembic import command

    config = Config(str(PROJECT_ROOT / "alembic.ini"))
    config.set_main_option("script_location", str(PROJECT_ROOT / "alembic"))
    config.attributes["connection"] = connection
    command.upgrade(config, "head")
