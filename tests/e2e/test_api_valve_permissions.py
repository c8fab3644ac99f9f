"""Who may command a valve, and how often (issue 14), on each backend: every role without
``command_valves`` (auditor, regulator, customer service, device) gets 403 on a request and on an
approval, and nothing changes; the rate limit per device answers 429 with Retry-After (the seconds
until the hour's oldest request ages out), in the caller's language, and the same request then
succeeds."""

from __future__ import annotations

from datetime import timedelta

import pytest
from freezegun import freeze_time

from application.authorization import Role
from infrastructure.container import Container
from tests.e2e.conftest import LedgerApi, assert_problem
from tests.e2e.test_api_valves import MOMENT, command, installed  # noqa: F401

REFUSED_ROLES = [Role.AUDITOR, Role.REGULATOR, Role.CUSTOMER_SERVICE, Role.DEVICE]


@pytest.mark.parametrize("role", REFUSED_ROLES)
def test_a_role_that_may_not_command_gets_403_on_request_and_approval(
    installed: LedgerApi,  # noqa: F811
    role: Role,
) -> None:
    api = installed
    with freeze_time(MOMENT, real_asyncio=True):
        requested = command(api, "force_close", {})
        assert requested.status_code == 201, requested.text
        command_id = requested.json()["command_id"]
        for kind, params in (("force_open", {}), ("force_gear", {"gear": 2}), ("set_room_temperature", {})):
            assert_problem(command(api, kind, params, role), 403, "permission_denied")
        path = f"/valves/RC-1/commands/{command_id}/approval"
        refused = api.client.post(path, json={"reason": "ok"}, headers=api.tokens.headers(role, "en"))
        assert_problem(refused, 403, "permission_denied")
        [still] = api.get("/valves/RC-1/commands").json()["items"]
        assert (still["command_id"], still["state"], still["approved_by"]) == (command_id, "requested", None)


def test_the_rate_limit_is_a_429_with_retry_after(installed: LedgerApi, container: Container) -> None:  # noqa: F811
    api = installed
    container.settings.valve_commands_per_hour = 2
    with freeze_time(MOMENT, real_asyncio=True):
        assert command(api, "set_upload_period", {"minutes": 30}).status_code == 201
    with freeze_time(MOMENT + timedelta(minutes=5), real_asyncio=True):
        assert command(api, "set_upload_period", {"minutes": 60}).status_code == 201
    with freeze_time(MOMENT + timedelta(minutes=10), real_asyncio=True):
        limited = command(api, "unlock", {})
        chinese = assert_problem(limited, 429, "rate_limited")
        assert limited.headers["Retry-After"] == "3000"  # the request at MOMENT leaves the hour in 50 minutes
        assert chinese["params"]["retry_after_seconds"] == 3000 and chinese["params"]["device_id"] == "RC-1"
        assert "3000 秒" in chinese["detail"] and chinese["title"] == "请求过于频繁"
        english = assert_problem(command(api, "unlock", {}, language="en"), 429, "rate_limited")
        assert "try again in 3000 seconds" in english["detail"] and english["title"] == "Too many requests"
        assert len(api.get("/valves/RC-1/commands").json()["items"]) == 2  # nothing recorded
    with freeze_time(MOMENT + timedelta(hours=1, seconds=1), real_asyncio=True):
        assert command(api, "unlock", {}).status_code == 201
