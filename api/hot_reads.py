"""A household's four hot reads, answered before routing (issue 17).

``GET /households/{account}``, ``…/consumption``, ``…/bills`` and ``…/account`` are most of what
the API is asked. Through FastAPI each cost 1.0–1.4 ms of server CPU, of which the reads themselves
(SQL and building the answer) were 0.3–0.4 ms; the rest was the walk over ~200 routes to find the
route (a fifth of a read), solving the route's seven to ten dependencies, a hand-over to the
threadpool and back, and the middleware around it (bench/api_reads.py, docs/scaling.md).

``HotReads`` is an ASGI middleware that answers the plain form of these four requests itself: a GET
with no query string and no body, for a caller the routes would let read. It calls the routes' own
dependency functions for the caller (``bearer_scheme``, ``authenticate``, ``authorize_reader``) and
for today (``get_business_today``), their own answer functions (``get_household``,
``get_household_consumption``, ``list_household_bills``, ``get_household_account``) over the live
read models, and serializes the answer with the route's own response field as FastAPI does
(``serialize_response``, then a ``Response`` of ``application/json``): the same bytes, the same
headers. Anything else goes to the app untouched: another path or method, a query string (the
parameters are the app's to validate), a body, a root path, dependency overrides; and so does every
request the fast path cannot answer 200 (no token, an unknown or revoked one, a role that may not
read, no such household, a database error, anything raised): the app answers it as it always has
(401, 403, 404, 422, 503 problems in the caller's language). The fast path only answers what the
route would have answered 200, and as the route would.

Where the reads run: on PostgreSQL in threads (a server round trip can stall, and the event loop
must not), over the hot reads' own pool of read-only autocommit sessions
(``create_hot_read_engine``): no ping, ``BEGIN`` or ``ROLLBACK`` around the statements, and the
statements prepared by psycopg, which the read models' engine, rolling back every connection it
takes back, never lets happen. The threads are the hot reads' own, as many as the pool's
connections (``hot_read_threads``), not anyio's forty, so no thread waits for a connection.
(On the loop through SQLAlchemy's asyncio engine and psycopg's async connection, measured
in-process at 25 concurrent reads: 0.85–1.3 ms of CPU a read against 0.65–1.0 in threads, and
half the reads a second; not taken.) On a SQLite database file on the event loop, over one
read-only connection of this process's own (``PRAGMA query_only``), with no hand-over at all: each
read is one or two indexed statements of well under a millisecond on a WAL file, where no writer
blocks a reader, on a connection no thread shares (no wait for the pool). A read that does find the
file busy gives up after ``LOOP_BUSY_TIMEOUT_MS`` and goes to the app, which waits in a thread.
Either way every statement of a read runs on one connection, taken once for the read.

``tests/e2e/test_api_hot_reads.py`` holds the fast path to the routes: byte-identical answers for
each read, role and backend; every refusal left to the app; the paths it takes exactly those the
router gives the four routes (hypothesis); the routes' parameters and dependencies as the fast
path knows them (a dependency added to one of the routes fails that test until it is added here).
"""

from __future__ import annotations

import asyncio
import contextvars
import threading
import weakref
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass
from datetime import date
from typing import Any, cast

from fastapi import FastAPI, routing
from fastapi.routing import serialize_response
from pydantic import BaseModel
from sqlalchemy import Connection, Engine, create_engine, event
from sqlalchemy.pool import StaticPool
from starlette.concurrency import run_in_threadpool
from starlette.requests import HTTPConnection
from starlette.responses import Response
from starlette.types import ASGIApp, Receive, Scope, Send

from api.auth import authenticate, authorize_reader, bearer_scheme
from api.dependencies import get_business_today
from api.routers.bills import list_household_bills
from api.routers.consumption import day_range_of, get_household_consumption
from api.routers.households import get_household
from api.routers.payment_reports import get_household_account
from api.schemas.common import KEY_MAX_LENGTH
from application.authorization import Principal
from infrastructure.as_known import KnownReads
from infrastructure.container import Container
from infrastructure.database import HOT_READ_POOL_SIZE, create_hot_read_engine
from projections.queries import Granularity

PREFIX = "/households/"
# How long a read on the event loop waits for a locked SQLite file before the app answers the
# request instead (in a thread, with the store's own busy timeout): the loop never waits long.
LOOP_BUSY_TIMEOUT_MS = 20

Answer = Callable[[str, Principal, KnownReads, date], BaseModel]


@dataclass(frozen=True)
class HotRead:
    """One of the four reads: its route's name and the answer the route gives without parameters."""

    route_name: str
    answer: Answer


def _household(account_number: str, reader: Principal, reads: KnownReads, today: date) -> BaseModel:
    return get_household(account_number, reader, reads.queries, today)


def _consumption(account_number: str, reader: Principal, reads: KnownReads, today: date) -> BaseModel:
    # The range household_consumption_range gives without known_at, granularity, from and to.
    day_range = day_range_of(today, Granularity.DAY, None, None)
    return get_household_consumption(account_number, reader, day_range, reads)


def _bills(account_number: str, reader: Principal, reads: KnownReads, today: date) -> BaseModel:
    return list_household_bills(account_number, reader, reads)


def _account(account_number: str, reader: Principal, reads: KnownReads, today: date) -> BaseModel:
    return get_household_account(account_number, reader, reads)


# What follows the account number in the path ("" for the household itself) → the read.
HOT_READS = {
    "": HotRead("get_household", _household),
    "/consumption": HotRead("get_household_consumption", _consumption),
    "/bills": HotRead("list_household_bills", _bills),
    "/account": HotRead("get_household_account", _account),
}


def hot_read_of(path: str) -> tuple[HotRead, str] | None:
    """The read a path asks for and its account number, or None: ``/households/{account}`` and
    the three paths below it, an account number being what the router takes for one (no slash,
    not empty) of at most ``KEY_MAX_LENGTH`` characters (a longer one is the route's 422)."""
    if not path.startswith(PREFIX):
        return None
    account_number, slash, rest = path[len(PREFIX) :].partition("/")
    read = HOT_READS.get(slash + rest)
    if read is None or not account_number or len(account_number) > KEY_MAX_LENGTH:
        return None
    return read, account_number


def is_plain_get(scope: Scope) -> bool:
    """An HTTP GET with no query string, no root path and no body (nothing the app would read)."""
    if scope["type"] != "http" or scope["method"] != "GET" or scope["query_string"] or scope.get("root_path"):
        return False
    return not any(name in (b"content-length", b"transfer-encoding") for name, _ in scope["headers"])


class HotReads:
    """ASGI middleware: answer the four hot reads' plain requests without routing (see the module)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self._response_fields: dict[str, Any] = {}
        self._loop_engine: Engine | None = None
        self._loop_thread: int | None = None  # the thread of the event loop the connection serves

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        found = hot_read_of(scope["path"]) if is_plain_get(scope) else None
        response = await self._answer(scope, *found) if found is not None else None
        if response is None:
            await self.app(scope, receive, send)
            return
        await response(scope, receive, send)

    async def _answer(self, scope: Scope, read: HotRead, account_number: str) -> Response | None:
        """The route's 200 answer, or None for the app to answer the request."""
        app: FastAPI = scope["app"]
        if app.dependency_overrides:  # tests that replace a dependency get the routes as they are
            return None
        container: Container = app.state.container
        try:
            reader = await _reader(container, scope)
            today = await get_business_today(container.ledger)
            answer = await self._read(container, read.answer, account_number, reader, today)
            field = self._response_field(app, read.route_name)
            content = await serialize_response(field=field, response_content=answer, dump_json=True)
        except Exception:
            return None
        return Response(content=content, media_type="application/json")

    async def _read(
        self, container: Container, answer: Answer, account_number: str, reader: Principal, today: date
    ) -> BaseModel:
        loop_engine = self._engine_on_loop(container.engine)
        if loop_engine is None:
            engine = threadpool_engine(container)
            threads = hot_read_threads(engine)
            if threads is None:
                return await run_in_threadpool(read_on, engine, answer, account_number, reader, today)
            # The caller's context goes with the read, as run_in_threadpool takes it along.
            context = contextvars.copy_context()
            arguments = (engine, answer, account_number, reader, today)
            return await asyncio.get_running_loop().run_in_executor(threads, context.run, read_on, *arguments)
        return read_on(loop_engine, answer, account_number, reader, today)

    def _engine_on_loop(self, engine: Engine) -> Engine | None:
        """This process's read-only connection to the SQLite file ``engine`` reads; None where
        reads stay in the threadpool (PostgreSQL; a database in memory, which only the engine's
        own connections see; an event loop in another thread than the first, which must not share
        its connection: a server runs one loop, a test may start several one after the other)."""
        if self._loop_engine is None and is_sqlite_file(engine):
            self._loop_engine = read_only_engine(engine)
            self._loop_thread = threading.get_ident()
            weakref.finalize(self, self._loop_engine.dispose)
        return self._loop_engine if self._loop_thread == threading.get_ident() else None

    def _response_field(self, app: FastAPI, route_name: str) -> Any:
        if not self._response_fields:
            self._response_fields.update(response_fields(app))
        return self._response_fields[route_name]


# The hot reads' engine on PostgreSQL for each read models' engine (a process has one container;
# tests build many): made on first use, disposed with the read models' engine.
_HOT_READ_ENGINES: weakref.WeakKeyDictionary[Engine, Engine] = weakref.WeakKeyDictionary()
# The threads the reads on each hot reads' engine run in: as many as its connections. In anyio's
# threadpool (40 threads) about 25 reads at once per worker under 50 clients took turns at 8
# connections, the waiting threads woken by the pool's condition at each return, and queued to
# their thread through a queue.Queue (a Python condition): py-spy put about a quarter of a
# worker's GIL-held samples in Condition.notify. Here a read waits in the executor's queue (C)
# for a thread, and a thread never waits for a connection (issue 17).
_HOT_READ_THREADS: weakref.WeakKeyDictionary[Engine, ThreadPoolExecutor] = weakref.WeakKeyDictionary()


def threadpool_engine(container: Container) -> Engine:
    """The engine of a read in the threadpool: on PostgreSQL the hot reads' own pool (read-only,
    autocommit, prepared statements: ``create_hot_read_engine``), else the read models' engine."""
    engine = container.engine
    if engine.dialect.name != "postgresql":
        return engine
    hot = _HOT_READ_ENGINES.get(engine)
    if hot is None:
        hot = create_hot_read_engine(container.settings)
        threads = ThreadPoolExecutor(HOT_READ_POOL_SIZE, thread_name_prefix="hot-read")
        _HOT_READ_THREADS[hot] = threads
        _dispose_with(engine, hot)
        event.listen(engine, "engine_disposed", lambda _engine: threads.shutdown(wait=False))
        _HOT_READ_ENGINES[engine] = hot
    return hot


def hot_read_threads(engine: Engine) -> ThreadPoolExecutor | None:
    """The threads that run the reads on the hot reads' ``engine`` (None: anyio's threadpool)."""
    return _HOT_READ_THREADS.get(engine)


def _dispose_with(engine: Engine, follower: Engine) -> None:
    """Close ``follower``'s connections when ``engine`` is disposed (``Container.close``)."""
    event.listen(engine, "engine_disposed", lambda _engine: follower.dispose())


def read_on(engine: Engine, answer: Answer, account_number: str, reader: Principal, today: date) -> BaseModel:
    """``answer`` from the live read models of ``engine``, every statement on one connection taken
    once for the read: on PostgreSQL one pre-ping, begin and rollback per read instead of per
    statement; on the loop's SQLite connection one checkout instead of one per statement."""
    with engine.connect() as connection:
        return answer(account_number, reader, KnownReads(lent(connection)), today)


async def _reader(container: Container, scope: Scope) -> Principal:
    """The caller by the routes' own dependencies, raising as they do (401, 403)."""
    credentials = await bearer_scheme(HTTPConnection(scope))
    caller = await authenticate(container, credentials)
    return await authorize_reader(caller)


def response_fields(app: FastAPI) -> dict[str, Any]:
    """The response field of each hot read's route, found by the route's name."""
    names = {read.route_name for read in HOT_READS.values()}
    fields = {}
    for context in routing.iter_route_contexts(app.routes):
        route = getattr(context, "original_route", None)
        if isinstance(route, routing.APIRoute) and route.name in names:
            fields[route.name] = context.response_field
    assert set(fields) == names, f"routes of hot reads missing: {sorted(names - set(fields))}"
    return fields


def is_sqlite_file(engine: Engine) -> bool:
    """Whether ``engine`` reads a SQLite database file (not a database in memory)."""
    database = engine.url.database or ""
    in_memory = database in ("", ":memory:") or "mode=memory" in database or engine.url.query.get("mode") == "memory"
    return engine.dialect.name == "sqlite" and not in_memory


def read_only_engine(engine: Engine) -> Engine:
    """One read-only connection to the SQLite file ``engine`` reads, for the event loop alone
    (``StaticPool``: the one connection, never waited for)."""
    reader = create_engine(
        engine.url,
        poolclass=StaticPool,
        connect_args={"check_same_thread": False, "timeout": LOOP_BUSY_TIMEOUT_MS / 1000},
    )
    event.listen(reader, "connect", _read_only)
    return reader


class LentConnection:
    """One open connection standing in for the engine of the read models' queries, which only
    ever call ``connect()``: every statement of a read runs on it, so the read takes the
    connection once rather than once per statement (30–80 µs of SQLAlchemy's checkout and
    return a statement on the loop)."""

    def __init__(self, connection: Connection) -> None:
        self._connection = connection

    def connect(self) -> AbstractContextManager[Connection]:
        """The connection, left open when the block ends (its lender closes it)."""
        return nullcontext(self._connection)


def lent(connection: Connection) -> Engine:
    """``connection`` as the engine ``KnownReads`` hands the queries (see ``LentConnection``)."""
    return cast(Engine, LentConnection(connection))


def _read_only(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA query_only=ON")  # this connection can never write, whatever runs on it
    cursor.execute(f"PRAGMA busy_timeout={LOOP_BUSY_TIMEOUT_MS}")
    cursor.close()


def install_hot_reads(app: FastAPI) -> None:
    """Answer the hot reads' plain requests before routing (the middleware added last runs first)."""
    app.add_middleware(HotReads)
