"""The eventsourcing library's environment for the chosen backend."""

from __future__ import annotations

import math

from infrastructure.postgres_event_store import (
    LOCK_TIMEOUT_MS,
    SERVER_CONNECT_TIMEOUT_S,
    STATEMENT_TIMEOUT_MS,
    LedgerPostgresFactory,
    UnchainedPostgresFactory,
)
from infrastructure.settings import Backend, Settings
from infrastructure.sqlite_event_store import LedgerSQLiteFactory


def _topic(factory: type) -> str:
    # The library takes a factory class as well as a module here (module:qualname).
    return f"{factory.__module__}:{factory.__qualname__}"


POSTGRES_PERSISTENCE = _topic(LedgerPostgresFactory)
SQLITE_PERSISTENCE = _topic(LedgerSQLiteFactory)


def event_store_environment(settings: Settings, *, event_chain: bool = True) -> dict[str, str]:
    """Persistence settings for ``HeatLedger``: SQLite file or PostgreSQL, plus the aggregate cache.

    One process alone: the cache does not fast-forward: a stale cached meter makes its save fail on
    the version check, and the ledger then evicts it and retries, so no read is spent per aggregate
    per get. Several server processes over one store (``aggregate_cache_fastforward``): it does, or
    one process would read a season or tariff that another changed as it was when first cached.
    Every backend waits for the database only so long (docs/operations.md, "Database timeouts").
    Every event is hashed into the tamper-evident chain (docs/audit.md); ``event_chain=False`` is
    for the benchmark's baseline only: events saved so are reported by ``heatledger audit verify``.
    """
    environment = {
        "AGGREGATE_CACHE_MAXSIZE": str(settings.aggregate_cache_size),
        "AGGREGATE_CACHE_FASTFORWARD": "y" if settings.aggregate_cache_fastforward else "n",
    }
    if settings.backend is Backend.SQLITE:
        settings.data_dir.mkdir(parents=True, exist_ok=True)
        environment |= {
            "PERSISTENCE_MODULE": SQLITE_PERSISTENCE if event_chain else "eventsourcing.sqlite",
            "SQLITE_DBNAME": str(settings.sqlite_path),
            "SQLITE_LOCK_TIMEOUT": str(settings.sqlite_busy_timeout_seconds),
        }
    else:
        environment |= {
            # The library's factory and recorder, inserting without psycopg's pipeline mode,
            # which can hang on a large save (infrastructure/postgres_event_store.py).
            "PERSISTENCE_MODULE": POSTGRES_PERSISTENCE if event_chain else _topic(UnchainedPostgresFactory),
            "POSTGRES_DBNAME": settings.postgres_dbname,
            "POSTGRES_HOST": settings.postgres_host,
            "POSTGRES_PORT": str(settings.postgres_port),
            "POSTGRES_USER": settings.postgres_user,
            "POSTGRES_PASSWORD": settings.postgres_password,
            "POSTGRES_SCHEMA": settings.postgres_schema,
            STATEMENT_TIMEOUT_MS: str(settings.statement_timeout_ms),
            LOCK_TIMEOUT_MS: str(settings.lock_timeout_ms),
            # Opening a connection, and waiting for a pooled one (the library's name), are bounded
            # too: while the server is down a request is answered 503 within these (issue 16).
            SERVER_CONNECT_TIMEOUT_S: str(settings.database_connect_timeout_seconds),
            "POSTGRES_CONNECT_TIMEOUT": str(math.ceil(settings.database_pool_timeout_seconds)),
            # A pooled connection is checked as it is taken, so the connections a database
            # restart cut are replaced rather than handed to a request that would fail on them.
            "POSTGRES_PRE_PING": "y",
        }
    return environment
