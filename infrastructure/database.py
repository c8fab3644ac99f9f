"""The SQLAlchemy engine of the read models, and their migrations."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from alembic.config import Config
from sqlalchemy import Engine, create_engine, event

from alembic import command
from infrastructure.settings import Backend, Settings

PROJECT_ROOT = Path(__file__).resolve().parents[1]


def create_database_engine(settings: Settings) -> Engine:
    """An engine on the database that holds the events, so read models live beside them."""
    if settings.backend is Backend.SQLITE:
        settings.data_dir.mkdir(parents=True, exist_ok=True)
        engine = create_engine(settings.database_url, connect_args={"timeout": 30, "check_same_thread": False})
        event.listen(engine, "connect", _tune_sqlite)
        return engine
    return create_engine(settings.database_url, pool_pre_ping=True, pool_size=5, max_overflow=10)


def _tune_sqlite(dbapi_connection: Any, _record: Any) -> None:
    # WAL lets the event store's connection write while read models are read; the busy timeout
    # makes a writer wait for the other library's lock instead of failing at once.
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.close()


def migrate(engine: Engine) -> None:
    """Bring the read-model and token tables to the newest migration."""
    config = Config(str(PROJECT_ROOT / "alembic.ini"))
    config.set_main_option("script_location", str(PROJECT_ROOT / "alembic"))
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, "head")
