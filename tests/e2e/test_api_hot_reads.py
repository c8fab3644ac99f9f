"""The household's four hot reads answered before routing (api/hot_reads.py, issue 17), held to the
routes on both backends: the same bytes and headers for every role that may read; every request
it cannot answer 200 left to the app, which answers it as it would without the fast path; the
paths it takes exactly those the router gives the four routes; the routes' parameters and
dependencies as the fast path knows them.

WZ-0001 (98.50 m²) has a meter with ten days of readings, the season's prepayment of 2127.60 元
and a payment of 1000 元, so each read has something to say.
"""

from __future__ import annotations

import asyncio
import contextlib
import sqlite3
import threading
import time
from collections.abc import Iterator, MutableMapping
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI, routing
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import create_engine, event, text
from sqlalchemy.exc import OperationalError
from sqlalchemy.pool import StaticPool

from api.app import create_app
from api.as_known import household_consumption_reads, household_reads
from api.auth import authenticate, authorize_reader, bearer_scheme
from api.dependencies import get_business_today, get_container, get_ledger, get_queries
from api.hot_reads import HOT_READS, LOOP_BUSY_TIMEOUT_MS, HotReads, hot_read_of, is_sqlite_file, read_only_engine
from api.routers.consumption import household_consumption_range
from api.schemas.common import KEY_MAX_LENGTH
from application.authorization import Permission, Principal, Role
from infrastructure.container import Container
from tests.e2e.conftest import LedgerApi, TestClient, Tokens, cumulative, days_from
from tests.e2e.test_api_payments import invoiced, pay

__all__ = ["invoiced"]  # the fixture, used by name

ACCOUNT = "WZ-0001"
READ_PATHS = [f"/households/{ACCOUNT}", *(f"/households/{ACCOUNT}{suffix}" for suffix in HOT_READS if suffix)]
READERS = [role for role in Role if Principal("role", role).may(Permission.READ_LEDGER)]

Answer = tuple[int, list[tuple[bytes, bytes]], bytes]


@pytest.fixture
def season(invoiced: LedgerApi) -> LedgerApi:
    """WZ-0001 with a meter read daily from 1 November, its prepayment and a payment of 1000 元."""
    api = invoiced
    assert api.commission_meter("HOT-1").status_code == 201
    assert api.attach_meter(ACCOUNT, "HOT-1").status_code == 200
    days = days_from(date(2025, 11, 1), 10)
    api.daily_readings("HOT-1", days, cumulative(Decimal("100.000"), [Decimal("0.412")] * 9))
    assert pay(api, "1000", "R-HOT-1").status_code == 201
    return api


def without_hot_reads(app: FastAPI) -> FastAPI:
    """``app`` with the fast path taken out: every request routed as before it existed."""
    app.user_middleware = [entry for entry in app.user_middleware if entry.cls is not HotReads]  # type: ignore[comparison-overlap]
    app.middleware_stack = None
    return app


@pytest.fixture
def routed(container: Container) -> Iterator[TestClient]:
    """A client of the same container's app without the fast path (named before ``season`` by
    the tests: an app is built before freezegun replaces ``date``, see ``frozen_now``)."""
    with TestClient(without_hot_reads(create_app(container))) as client:
        yield client


def http_scope(
    app: FastAPI, path: str, headers: dict[str, str], method: str = "GET", query: str = ""
) -> dict[str, Any]:
    return {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": method,
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": query.encode(),
        "root_path": "",
        "headers": [(name.lower().encode(), value.encode()) for name, value in headers.items()],
        "client": ("127.0.0.1", 50000),
        "server": ("testserver", 80),
        "app": app,
    }


def fast_path_answer(
    app: FastAPI,
    path: str,
    headers: dict[str, str],
    *,
    hot: HotReads | None = None,
    method: str = "GET",
    query: str = "",
) -> Answer | None:
    """What the fast path alone answers, or None when it hands the request on to the app (to a
    stand-in that answers nothing, so what is sent is the fast path's own)."""
    handed_on: list[str] = []
    sent: list[dict[str, Any]] = []

    async def app_behind(scope: Any, receive: Any, send: Any) -> None:
        handed_on.append(scope["path"])

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: MutableMapping[str, Any]) -> None:
        sent.append(dict(message))

    middleware = hot or HotReads(app_behind)
    middleware.app = app_behind
    asyncio.run(middleware(http_scope(app, path, headers, method, query), receive, send))
    if handed_on:
        assert sent == [], "a request handed on to the app is answered by the app alone"
        return None
    start, body = sent
    assert start["type"] == "http.response.start" and body["type"] == "http.response.body"
    return start["status"], list(start["headers"]), body["body"]


def answer_of(response: Any) -> Answer:
    headers = [(name.encode(), value.encode()) for name, value in response.headers.multi_items()]
    return response.status_code, headers, response.content


@pytest.mark.parametrize("role", READERS, ids=[role.value for role in READERS])
def test_the_fast_path_answers_each_read_with_the_routes_bytes(
    routed: TestClient, season: LedgerApi, app: FastAPI, role: Role
) -> None:
    headers = season.tokens.headers(role)
    for path in READ_PATHS:
        before = routed.get(path, headers=headers)
        assert before.status_code == 200, before.text
        fast = fast_path_answer(app, path, headers)
        assert fast is not None, f"the fast path left {path} to the app"
        # The fast path's own answer as the app sends it: status, headers (content-length and
        # content-type, in that order) and body, byte for byte; and the same through the whole app.
        assert (fast[0], [(name.decode(), value.decode()) for name, value in fast[1]], fast[2]) == (
            before.status_code,
            list(before.headers.multi_items()),
            before.content,
        )
        assert answer_of(season.client.get(path, headers=headers)) == answer_of(before)
    assert season.get(f"/households/{ACCOUNT}/consumption").json()["energy_gj"] == "3.708000"
    assert season.get(f"/households/{ACCOUNT}/account").json()["open_charges"][0]["open_yuan"] == "1127.60"


def test_what_the_fast_path_cannot_answer_200_the_app_answers_as_before(
    routed: TestClient, season: LedgerApi, container: Container, app: FastAPI
) -> None:
    revoked = container.tokens.create("revoked clerk", Role.CLERK)
    clerk = season.tokens.headers(Role.CLERK)
    bills = f"/households/{ACCOUNT}/bills"
    requests: list[tuple[str, dict[str, str], dict[str, str]]] = [
        (bills, {}, {}),  # no token: 401
        (bills, {"Authorization": "Bearer hl_unknown"}, {}),  # unknown: 401
        (bills, {"Authorization": f"Basic {season.tokens.secret(Role.CLERK)}"}, {}),  # not a bearer: 401
        (bills, {"Authorization": f"Bearer {revoked.secret}"}, {}),  # revoked (below): 401
        (bills, season.tokens.headers(Role.DEVICE), {}),  # a device may not read: 403
        ("/households/WZ-9999/account", clerk, {}),  # no such household: 404
        ("/households/" + "9" * (KEY_MAX_LENGTH + 1), clerk, {}),  # too long an account number: 422
        (bills, clerk, {"query": "limit=0"}),  # a query string is the route's to validate: 422
        (bills, clerk, {"query": "limit=1"}),  # and to answer (200)
        (bills + "/", clerk, {}),  # not the route's path
        (bills, clerk, {"method": "POST"}),  # 405
        (bills, clerk | {"Content-Length": "2"}, {}),  # a body the app reads
    ]
    assert routed.get(bills, headers={"Authorization": f"Bearer {revoked.secret}"}).status_code == 200
    container.tokens.revoke(revoked.token_id)
    for path, headers, request in requests:
        answered_fast = fast_path_answer(
            app, path, headers, method=request.get("method", "GET"), query=request.get("query", "")
        )
        assert answered_fast is None, (path, headers, request)
        query = request.get("query", "")
        url = f"{path}?{query}" if query else path
        method = request.get("method", "GET")
        expected = answer_of(
            routed.request(method, url, headers=headers, content=b"{}" if "Content-Length" in headers else None)
        )
        answered = answer_of(
            season.client.request(method, url, headers=headers, content=b"{}" if "Content-Length" in headers else None)
        )
        assert answered == expected, (path, headers, request)
        assert expected[0] in (200, 401, 403, 404, 405, 413, 422), (path, expected)


ROUTE_DEPENDENCIES: dict[str, tuple[set[str], set[str], set[Any]]] = {
    "get_household": ({"account_number"}, set(), {get_ledger, get_business_today, get_queries}),
    "get_household_consumption": (
        {"account_number"},
        {"known_at", "granularity", "from", "to"},
        {get_ledger, get_business_today, household_consumption_range, household_consumption_reads},
    ),
    "list_household_bills": (
        {"account_number"},
        {"known_at", "season", "as_of", "limit", "offset"},
        {household_reads},
    ),
    "get_household_account": ({"account_number"}, {"known_at"}, {household_reads}),
}
CALLER: set[Any] = {get_container, bearer_scheme, authenticate, authorize_reader}


def test_the_routes_take_the_parameters_and_dependencies_the_fast_path_stands_for(sqlite_container: Container) -> None:
    """The fast path answers a request without query parameters by calling the routes' answer
    functions with their defaults, after the routes' caller dependencies. A parameter or dependency
    added to one of the four routes fails here: api/hot_reads.py must then learn it too."""
    found = {}
    for context in routing.iter_route_contexts(create_app(sqlite_container).routes):
        route = getattr(context, "original_route", None)
        if isinstance(route, routing.APIRoute) and route.name in ROUTE_DEPENDENCIES:
            found[route.name] = _parameters_and_dependencies(context.dependant)
            assert route.methods == {"GET"}
    assert found == {name: (path, query, CALLER | calls) for name, (path, query, calls) in ROUTE_DEPENDENCIES.items()}
    assert {read.route_name for read in HOT_READS.values()} == set(ROUTE_DEPENDENCIES)


def _parameters_and_dependencies(dependant: Any) -> tuple[set[str], set[str], set[Any]]:
    path, query, calls = set(), set(), set()
    others: list[Any] = []
    pending = [dependant]
    while pending:
        current = pending.pop()
        path |= {parameter.alias for parameter in current.path_params}
        query |= {parameter.alias for parameter in current.query_params}
        others += [*current.header_params, *current.cookie_params, *current.body_params]
        calls |= {child.call for child in current.dependencies}
        pending += current.dependencies
    assert others == [], "the four reads take no header, cookie or body parameter"
    return path, query, calls


# Account numbers: words of route paths under /households (what an earlier route might take for
# its own), and any text of up to just over the length limit, slashes and escapes included.
_ACCOUNTS = st.one_of(
    st.sampled_from(["payments", "refunds", "meters", "balance", "search", "bills", "account", "", "%2F", "WZ-0001"]),
    st.text(alphabet=st.characters(codec="utf-8", exclude_characters="\x00"), max_size=KEY_MAX_LENGTH + 2),
)
_SUFFIXES = st.sampled_from(["", "/", "/bills", "/account", "/consumption", "/payments", "/bills/", "/x/bills", "//"])


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(account=_ACCOUNTS, suffix=_SUFFIXES)
def test_the_fast_path_takes_a_path_exactly_when_the_router_gives_it_one_of_the_four_routes(
    sqlite_app: FastAPI, account: str, suffix: str
) -> None:
    path = f"/households/{account}{suffix}"
    routed = _route_of(sqlite_app, path)
    taken = hot_read_of(path)
    if taken is None:
        names = {read.route_name for read in HOT_READS.values()}
        assert routed is None or routed[0] not in names or len(routed[1]) > KEY_MAX_LENGTH, (path, routed)
    else:
        assert routed == (taken[0].route_name, taken[1]), path


@pytest.fixture(scope="module")
def sqlite_app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[FastAPI]:
    from infrastructure.container import bootstrap
    from tests.conftest import sqlite_settings

    container = bootstrap(sqlite_settings(tmp_path_factory.mktemp("routes")))
    yield create_app(container)
    container.close()


def _route_of(app: FastAPI, path: str) -> tuple[str, str] | None:
    """The route the app's router picks for ``GET path`` and its account number, if any: the
    router is run on the request (without a token it stops at the route's first dependency)."""
    scope = http_scope(app, path, {})

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: MutableMapping[str, Any]) -> None:
        pass

    # It raises (the 401, the 404, or for want of the middleware around it): the route is picked by then.
    with contextlib.suppress(Exception):
        asyncio.run(app.router(scope, receive, send))
    route = scope.get("route")
    if not isinstance(route, routing.APIRoute):
        return None
    return route.name, scope.get("path_params", {}).get("account_number", "")


def test_the_loop_reads_on_a_connection_that_cannot_write(sqlite_container: Container) -> None:
    reader = read_only_engine(sqlite_container.engine)
    with reader.connect() as connection:
        assert connection.execute(text("SELECT count(*) FROM households")).scalar() == 0
        with pytest.raises(OperationalError, match="readonly"):
            connection.execute(text("DELETE FROM households"))
    reader.dispose()


def test_reads_stay_in_the_threadpool_but_on_a_sqlite_file() -> None:
    assert is_sqlite_file(create_engine("sqlite:////tmp/ledger/heatledger.sqlite"))
    assert not is_sqlite_file(create_engine("sqlite://"))
    assert not is_sqlite_file(create_engine("sqlite:///:memory:"))
    assert not is_sqlite_file(create_engine("sqlite:///file:views?mode=memory&uri=true", poolclass=StaticPool))
    assert not is_sqlite_file(create_engine("postgresql+psycopg://heat@localhost/ledger"))


def test_a_read_on_the_loop_gives_up_on_a_locked_file_at_once(tmp_path: Path) -> None:
    """The event loop never waits long for a lock: a read on it that finds the file locked fails
    after LOOP_BUSY_TIMEOUT_MS (the fast path then hands the request to the app, which waits for
    the lock in a thread). A WAL file's readers are never locked out by its writer, so the lock
    is made on a file in the rollback journal mode, where a writer's exclusive lock keeps them out."""
    database = tmp_path / "locked.sqlite"
    locker = sqlite3.connect(database, isolation_level=None)
    locker.execute("CREATE TABLE households (account_number TEXT)")
    reader = read_only_engine(create_engine(f"sqlite:///{database}"))
    try:
        with reader.connect() as connection:
            assert connection.execute(text("PRAGMA busy_timeout")).scalar() == LOOP_BUSY_TIMEOUT_MS
        locker.execute("BEGIN EXCLUSIVE")
        started = time.monotonic()
        with pytest.raises(OperationalError, match="locked"), reader.connect() as connection:
            connection.execute(text("SELECT count(*) FROM households"))
        assert time.monotonic() - started < 1.0
    finally:
        locker.close()
        reader.dispose()


def test_the_loop_connection_serves_only_the_thread_whose_loop_opened_it(sqlite_container: Container) -> None:
    """A second event loop in another thread (a test's next client; a server runs one loop) reads
    in the threadpool with the store's own connections, never on the first loop's connection."""
    app = create_app(sqlite_container)
    with TestClient(app) as client:
        assert LedgerApi(client, Tokens(sqlite_container)).register_household(ACCOUNT).status_code == 201
    headers = {"Authorization": f"Bearer {sqlite_container.tokens.create('clerk', Role.CLERK).secret}"}
    hot = HotReads(app)
    answers: list[Answer | None] = []
    first = threading.Thread(target=lambda: answers.append(fast_path_answer(app, READ_PATHS[0], headers, hot=hot)))
    first.start()
    first.join()
    used_by: set[int] = set()
    event.listen(hot._loop_engine, "before_cursor_execute", lambda *_: used_by.add(threading.get_ident()))
    answers.append(fast_path_answer(app, READ_PATHS[0], headers, hot=hot))  # this thread's own loop
    assert answers[0] is not None and answers[0] == answers[1]
    assert used_by == set(), "the first loop's connection was used from another thread"


def test_a_household_with_no_bills_or_charges_reads_empty_and_an_unknown_one_is_a_404(
    routed: TestClient, api: LedgerApi, app: FastAPI
) -> None:
    """The bills and account reads ask whether the household exists only when its id found no
    row (api/routers/households.py, ``require_registered``): a household registered a moment ago
    has none, and reads empty; an account number nobody has is the 404 it always was."""
    assert api.register_household("WZ-0002").status_code == 201
    headers = api.tokens.headers(Role.CLERK)
    for path in ("/households/WZ-0002/bills", "/households/WZ-0002/account"):
        answered = answer_of(api.client.get(path, headers=headers))
        assert answered == answer_of(routed.get(path, headers=headers)) and answered[0] == 200, path
        assert fast_path_answer(app, path, headers) is not None, path
    assert api.get("/households/WZ-0002/bills").json()["total"] == 0
    assert api.get("/households/WZ-0002/account").json()["open_charges"] == []
    for path in ("/households/WZ-0003/bills", "/households/WZ-0003/account"):
        assert api.client.get(path, headers=headers).status_code == 404, path
        assert fast_path_answer(app, path, headers) is None, path
