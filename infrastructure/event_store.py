"""The eventsourcing library's environment for the chosen backend."""

from __future__ import annotations

from infrastructure.settings import Backend, Settings


def event_store_environment(settings: Settings) -> dict[str, str]:
    """Persistence settings for ``HeatLedger``: SQLite file or PostgreSQL, plus the aggregate cache.

    The cache does not fast-forward: a stale cached meter makes its save fail on the version
    check, and the ledger then evicts it and retries, so no read is spent per aggregate per get.
    """
    environment = {
        "AGGREGATE_CACHE_MAXSIZE": str(settings.aggregate_cache_size),
        "AGGREGATE_CACHE_FASTFORWARD": "n",
    }
    if settings.backend is Backend.SQLITE:
        settings.data_dir.mkdir(parents=True, exist_ok=True)
        environment |= {
            "PERSISTENCE_MODULE": "eventsourcing.sqlite",
            "SQLITE_DBNAME": str(settings.sqlite_path),
            "SQLITE_LOCK_TIMEOUT": "30",
        }
    else:
        environment |= {
            "PERSISTENCE_MODULE": "eventsourcing.postgres",
            "POSTGRES_DBNAME": settings.postgres_dbname,
            "POSTGRES_HOST": settings.postgres_host,
            "POSTGRES_PORT": str(settings.postgres_port),
            "POSTGRES_USER": settings.postgres_user,
            "POSTGRES_PASSWORD": settings.postgres_password,
            "POSTGRES_SCHEMA": settings.postgres_schema,
        }
    return environment
