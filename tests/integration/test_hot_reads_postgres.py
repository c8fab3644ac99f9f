"""The hot reads' own PostgreSQL pool (api/hot_reads.py, infrastructure/database.py, issue 17):
read-only autocommit sessions whose statements psycopg prepares, which the read models' engine
(rolling back every connection it takes back) never let happen; closed with the read models'
engine. The answers themselves are held to the routes by tests/e2e/test_api_hot_reads.py."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI
from psycopg._queries import MAX_CACHED_STATEMENT_LENGTH
from sqlalchemy import Engine, create_engine, event, text
from sqlalchemy.exc import InternalError
from sqlalchemy.pool import QueuePool

from api.app import create_app
from api.hot_reads import HOT_READS, HotReads, hot_read_of, hot_read_threads, read_on, threadpool_engine
from application.authorization import Principal, Role
from domain.errors import NotFoundError
from infrastructure.container import Container, bootstrap
from infrastructure.database import HOT_READ_POOL_SIZE
from projections.billing_queries import _bills_of_household_statements, _heads_with_count
from projections.payment_queries import _ACCOUNT_OF_HOUSEHOLD
from projections.queries import _HOUSEHOLD_BY_DAY_OF_ACCOUNT, _HOUSEHOLD_WITH_TOTAL_AND_METERS
from tests.conftest import postgres_settings, sqlite_settings
from tests.services import fresh_postgres_database

CLERK = Principal("clerk", Role.CLERK)
TODAY = date(2025, 12, 1)
# psycopg's default prepare_threshold: a statement used this many times on a connection is
# prepared on its next use.
PREPARE_THRESHOLD = 5


@pytest.fixture
def postgres_container() -> Iterator[Container]:
    with fresh_postgres_database() as database:
        built = bootstrap(postgres_settings(database))
        yield built
        built.close()


def prepared_statements(engine: Engine) -> list[str]:
    """The statements prepared on the session ``engine`` lends next (one read at a time takes the
    same pooled connection back each time)."""
    with engine.connect() as connection:
        return list(connection.execute(text("SELECT statement FROM pg_prepared_statements")).scalars())


def read_missing_household(engine: Engine, times: int) -> None:
    """``times`` household reads of an account nobody has: each runs its look-up and fails."""
    for _ in range(times):
        with pytest.raises(NotFoundError):
            read_on(engine, HOT_READS[""].answer, "NO-SUCH-1", CLERK, TODAY)


def test_the_hot_reads_statements_get_prepared_on_their_own_pool(postgres_container: Container) -> None:
    engine = threadpool_engine(postgres_container)
    assert engine is not postgres_container.engine and engine is threadpool_engine(postgres_container)
    read_missing_household(engine, PREPARE_THRESHOLD)
    assert not any("households" in statement for statement in prepared_statements(engine))
    read_missing_household(engine, 1)
    assert any("households.account_number = $" in statement for statement in prepared_statements(engine))


def test_the_read_models_engine_never_prepares_the_same_read(postgres_container: Container) -> None:
    """Why the hot reads have a pool of their own: the pool's ROLLBACK on return makes psycopg
    forget what it prepared (if this starts failing, psycopg or SQLAlchemy changed, and the note
    in create_hot_read_engine with it)."""
    engine = postgres_container.engine
    read_missing_household(engine, PREPARE_THRESHOLD * 2)
    assert prepared_statements(engine) == []


def test_the_hot_reads_sessions_cannot_write(postgres_container: Container) -> None:
    with (
        threadpool_engine(postgres_container).connect() as connection,
        pytest.raises(InternalError, match="read-only transaction"),
    ):
        connection.execute(text("DELETE FROM households"))


def test_the_hot_reads_pool_is_bounded_and_closed_with_the_read_models_engine(postgres_container: Container) -> None:
    engine = threadpool_engine(postgres_container)
    pool = engine.pool
    assert isinstance(pool, QueuePool) and pool.size() == HOT_READ_POOL_SIZE and pool._max_overflow == 0
    read_missing_household(engine, 1)
    assert pool.checkedin() == 1
    postgres_container.engine.dispose()
    assert pool.checkedin() == 0


def test_the_hot_reads_run_in_as_many_threads_as_the_pool_has_connections(postgres_container: Container) -> None:
    """50 reads at once take at most HOT_READ_POOL_SIZE threads, none of them anyio's, so no
    thread ever waits for a connection; the threads end with the read models' engine."""
    engine = threadpool_engine(postgres_container)
    threads = hot_read_threads(engine)
    assert threads is not None and threads._max_workers == HOT_READ_POOL_SIZE
    app = create_app(postgres_container)
    token = postgres_container.tokens.create("clerk", Role.CLERK).secret
    reading_threads: set[str] = set()
    event.listen(engine, "before_cursor_execute", lambda *_: reading_threads.add(threading.current_thread().name))

    async def many_reads() -> list[Any]:
        hot = HotReads(app)
        return await asyncio.gather(*(fast_path(hot, app, "/households/NO-SUCH-1", token) for _ in range(50)))

    assert asyncio.run(many_reads()) == [None] * 50  # no such household: the app would answer
    assert reading_threads and all(name.startswith("hot-read") for name in reading_threads)
    assert len(reading_threads) <= HOT_READ_POOL_SIZE
    postgres_container.engine.dispose()
    assert threads._shutdown


async def fast_path(hot: HotReads, app: FastAPI, path: str, token: str) -> Any:
    """What the fast path answers a plain GET of ``path`` (None: it leaves the request to the app)."""
    scope = {
        "type": "http",
        "method": "GET",
        "path": path,
        "query_string": b"",
        "root_path": "",
        "headers": [(b"authorization", f"Bearer {token}".encode())],
        "app": app,
    }
    found = hot_read_of(path)
    assert found is not None, path
    return await hot._answer(scope, *found)


def test_on_sqlite_reads_in_the_threadpool_use_the_read_models_engine(tmp_path: Path) -> None:
    container = bootstrap(sqlite_settings(tmp_path))
    try:
        assert threadpool_engine(container) is container.engine
    finally:
        container.close()


def test_the_hot_reads_statements_are_short_enough_for_psycopgs_cache() -> None:
    """psycopg converts the placeholders of a query longer than this again on every execution
    (the account statement at 4,212 characters: a tenth of its read's CPU, py-spy)."""
    dialect = create_engine("postgresql+psycopg://").dialect
    bill_pages = [_bills_of_household_statements(season, day)[0] for season in (False, True) for day in (False, True)]
    statements = [
        _ACCOUNT_OF_HOUSEHOLD,
        _HOUSEHOLD_WITH_TOTAL_AND_METERS,
        _HOUSEHOLD_BY_DAY_OF_ACCOUNT,
        *(_heads_with_count(page) for page in bill_pages),
    ]
    for statement in statements:
        assert len(str(statement.compile(dialect=dialect))) <= MAX_CACHED_STATEMENT_LENGTH
