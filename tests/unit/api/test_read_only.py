"""The read-only guard's reading of the Authorization header: the token ``HTTPBearer`` would read."""

from __future__ import annotations

import pytest
from fastapi import APIRouter, FastAPI

from api.auth import MAXIMUM_TOKEN_LENGTH
from api.read_only import bearer_secret, declared_permission, lets_through, requires_permission
from application.authorization import Permission, Principal, Role


@pytest.mark.parametrize(
    ("authorization", "secret"),
    [
        ("Bearer hl_abc", "hl_abc"),
        ("bearer hl_abc", "hl_abc"),
        ("BEARER   hl_abc  ", "hl_abc"),
        ("Bearer " + "x" * MAXIMUM_TOKEN_LENGTH, "x" * MAXIMUM_TOKEN_LENGTH),
    ],
)
def test_a_bearer_token_is_read_as_fastapi_reads_it(authorization: str, secret: str) -> None:
    assert bearer_secret(authorization) == secret


@pytest.mark.parametrize(
    "authorization",
    [None, "", "Bearer", "Bearer ", "Basic dXNlcjpwYXNz", "hl_abc", "Bearer " + "x" * (MAXIMUM_TOKEN_LENGTH + 1)],
)
def test_anything_else_is_no_token_and_left_to_the_route(authorization: str | None) -> None:
    assert bearer_secret(authorization) is None


# -- the one open door: a route declaring an analysis permission the read-only role holds ---------


def _scope(app: FastAPI, method: str, path: str) -> dict[str, object]:
    return {"type": "http", "method": method, "path": path, "app": app}


def _door_app() -> FastAPI:
    """Routes in an included router (as the app's are): one declaring run_scenarios, one declaring
    read_ledger (a reading permission, not an analysis one), one declaring nothing."""
    app, router = FastAPI(), APIRouter(prefix="/things")
    router.post("/scenarios", openapi_extra=requires_permission(Permission.RUN_SCENARIOS))(lambda: None)
    router.post("/searches", openapi_extra=requires_permission(Permission.READ_LEDGER))(lambda: None)
    router.post("/commands")(lambda: None)
    app.include_router(router)
    return app


def test_a_read_only_role_is_let_through_only_where_the_route_declares_an_analysis_permission_it_holds() -> None:
    app = _door_app()
    regulator, auditor = Principal("bureau", Role.REGULATOR), Principal("audit", Role.AUDITOR)

    assert declared_permission(_scope(app, "POST", "/things/scenarios")) is Permission.RUN_SCENARIOS
    assert lets_through(regulator, _scope(app, "POST", "/things/scenarios"))
    assert not lets_through(auditor, _scope(app, "POST", "/things/scenarios"))
    # Reading is not booking nothing by a command: a POST declaring read_ledger stays shut.
    assert not lets_through(regulator, _scope(app, "POST", "/things/searches"))
    assert not lets_through(regulator, _scope(app, "POST", "/things/commands"))
    assert declared_permission(_scope(app, "DELETE", "/things/scenarios")) is None  # another method
    assert declared_permission(_scope(app, "POST", "/elsewhere")) is None
