"""A request whose save waits too long for the database is refused with a 503 problem (issue 18)."""

from __future__ import annotations

import time
from collections.abc import Iterator

import psycopg
import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from infrastructure.container import bootstrap
from tests.conftest import postgres_settings
from tests.e2e.conftest import LedgerApi, Tokens
from tests.services import POSTGRES_HOST, POSTGRES_PORT, POSTGRES_USER, fresh_postgres_database
from tests.watchdog import in_thread_with_watchdog

pytestmark = pytest.mark.postgres

LOCK_TIMEOUT_SECONDS = 1.0


class EnglishClerk(LedgerApi):
    """The same requests, asking for English."""

    def clerk(self, language: str | None = None) -> dict[str, str]:
        return super().clerk(language or "en")


@pytest.fixture
def busy_api() -> Iterator[tuple[LedgerApi, str]]:
    """The API on PostgreSQL with a one-second lock timeout; and the database's name."""
    with fresh_postgres_database() as database:
        settings = postgres_settings(database).model_copy(
            update={"database_lock_timeout_seconds": LOCK_TIMEOUT_SECONDS}
        )
        container = bootstrap(settings)
        with TestClient(create_app(container)) as client:
            yield LedgerApi(client, Tokens(container)), database
        container.close()


def test_a_save_blocked_by_another_writer_is_refused_with_503_and_nothing_written(
    busy_api: tuple[LedgerApi, str],
) -> None:
    api, database = busy_api
    assert api.register_household("WZ-0001").status_code == 201
    conninfo = f"host={POSTGRES_HOST} port={POSTGRES_PORT} user={POSTGRES_USER} dbname={database}"
    with psycopg.connect(conninfo) as holder:
        holder.execute("LOCK TABLE heatledger_events IN EXCLUSIVE MODE")
        started = time.monotonic()
        chinese = in_thread_with_watchdog(lambda: api.register_household("WZ-0002"), 10.0, holder.rollback)
        waited = time.monotonic() - started
        in_english = EnglishClerk(api.client, api.tokens)
        english = in_thread_with_watchdog(lambda: in_english.register_household("WZ-0003"), 10.0, holder.rollback)
        holder.rollback()
    assert chinese.status_code == 503, chinese.text
    assert chinese.headers["content-type"] == "application/problem+json"
    assert chinese.headers["retry-after"] == "30"
    body = chinese.json()
    assert body["code"] == "database_busy"
    assert body["title"] == "数据库繁忙"
    assert body["detail"] == "数据库繁忙，本次操作已取消，未写入任何内容。请在 30 秒后重试。"
    assert english.status_code == 503
    assert english.json()["detail"].startswith(
        "The database is busy: the operation was cancelled and nothing was written."
    )
    # The lock timeout twice (the store tries a timed-out save once more), not forever.
    assert 2 * LOCK_TIMEOUT_SECONDS <= waited < 2 * LOCK_TIMEOUT_SECONDS + 5
    # Nothing half-written: the refused households do not exist; once the lock is gone they can be registered.
    assert api.client.get("/households/WZ-0002", headers=api.clerk()).status_code == 404
    assert api.register_household("WZ-0002").status_code == 201
