"""The valves API (issue 14) on each backend: install a controller, request a command, a second
person approves a forced close, the lists by device, household and state; RFC 9457 problems for
bad parameters, unknown devices, the requester's own approval and roles that may not command."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from freezegun import freeze_time

from application.authorization import Principal, Role
from infrastructure.container import Container
from tests.e2e.conftest import LedgerApi, assert_problem

# Outside the default cold-weather window (12-15/02-15).
MOMENT = datetime(2025, 11, 20, 8, 0, tzinfo=UTC)


@pytest.fixture
def installed(api: LedgerApi) -> LedgerApi:
    with freeze_time(MOMENT, real_asyncio=True):
        assert api.register_household("WZ-0001").status_code == 201
        body = {"device_id": "RC-1", "account_number": "WZ-0001", "gears": 5, "reason": "new controller"}
        response = api.client.post("/valves", json=body, headers=api.clerk())
        assert response.status_code == 201, response.text
        assert response.json()["queue"] == [] and response.json()["installed_by"] == "e2e-clerk"
    return api


def command(api: LedgerApi, kind: str, params: dict[str, Any], role: Role = Role.CLERK, language: str = "zh") -> Any:
    body = {"kind": kind, "params": params, "reason": "complaint"}
    return api.client.post("/valves/RC-1/commands", json=body, headers=api.tokens.headers(role, language))


def test_a_command_is_requested_and_listed(installed: LedgerApi) -> None:
    api = installed
    with freeze_time(MOMENT, real_asyncio=True):
        response = command(api, "set_room_temperature", {"temperature_c": 20.5})
        assert response.status_code == 201, response.text
        receipt = response.json()
        assert (receipt["state"], receipt["needs_approval"]) == ("requested", False)
        detail = api.get("/valves/RC-1").json()
        assert [item["command_id"] for item in detail["queue"]] == [receipt["command_id"]]
        [listed] = api.get("/valves/RC-1/commands").json()["items"]
        assert (listed["kind"], listed["params"], listed["requested_by"]) == (
            "set_room_temperature",
            {"temperature_c": "20.5"},
            "e2e-clerk",
        )
        assert [row["device_id"] for row in api.get("/households/WZ-0001/valves").json()["items"]] == ["RC-1"]
        assert (
            api.get("/valve-commands", query={"state": "requested"}).json()["items"][0]["command_id"]
            == (receipt["command_id"])
        )
        assert api.get("/valve-commands", query={"state": "confirmed"}).json()["items"] == []


def test_a_forced_close_is_approved_by_a_second_person(installed: LedgerApi) -> None:
    api = installed
    with freeze_time(MOMENT, real_asyncio=True):
        receipt = command(api, "force_close", {}).json()
        assert (receipt["state"], receipt["needs_approval"]) == ("requested", True)
        path = f"/valves/RC-1/commands/{receipt['command_id']}/approval"
        waiting = api.get("/valve-commands", query={"awaiting_approval": "true"}).json()["items"]
        assert [item["command_id"] for item in waiting] == [receipt["command_id"]]
        own = api.client.post(path, json={}, headers=api.clerk("en"))
        assert "second person" in assert_problem(own, 403, "permission_denied")["detail"]
        approved = api.client.post(path, json={"reason": "checked"}, headers=api.tokens.headers(Role.ADMIN))
        assert approved.status_code == 200, approved.text
        assert approved.json()["state"] == "approved"
        again = api.client.post(path, json={}, headers=api.tokens.headers(Role.ADMIN))
        assert_problem(again, 409, "conflict")


@pytest.mark.parametrize("role", [Role.AUDITOR, Role.REGULATOR, Role.CUSTOMER_SERVICE, Role.DEVICE])
def test_a_role_that_may_not_command_gets_403(installed: LedgerApi, role: Role) -> None:
    with freeze_time(MOMENT, real_asyncio=True):
        assert_problem(command(installed, "force_open", {}, role), 403, "permission_denied")
        assert installed.get("/valves/RC-1/commands").json()["items"] == []


def test_bad_commands_are_problems_in_the_callers_language(installed: LedgerApi) -> None:
    api = installed
    with freeze_time(MOMENT, real_asyncio=True):
        gear = assert_problem(command(api, "force_gear", {"gear": 9}), 422, "invalid_input")
        assert "gear" in gear["detail"] and "之间" in gear["detail"]
        english = assert_problem(command(api, "force_open", {"gear": 1}, language="en"), 422, "invalid_input")
        assert english["detail"] == "The command force_open takes no parameter gear."
        assert_problem(command(api, "open_sesame", {}), 422, "validation_failed")
        unknown = api.client.post(
            "/valves/RC-9/commands", json={"kind": "unlock", "params": {}, "reason": "x"}, headers=api.clerk()
        )
        assert_problem(unknown, 404, "not_found")
        assert_problem(api.get("/valves/RC-9"), 404, "not_found")
        assert_problem(api.get("/households/WZ-9999/valves"), 404, "not_found")
        twice = api.client.post(
            "/valves", json={"device_id": "RC-1", "account_number": "WZ-0001", "gears": 5}, headers=api.clerk()
        )
        assert_problem(twice, 409, "conflict")


def test_a_guardrail_is_a_409_naming_it(installed: LedgerApi, container: Container) -> None:
    api = installed
    with freeze_time(MOMENT, real_asyncio=True):
        container.arrears.mark_vulnerable(Principal("clerk", Role.CLERK), "WZ-0001", "elderly")
        refused = assert_problem(command(api, "force_close", {}, language="en"), 409, "conflict")
        assert "vulnerable" in refused["detail"]


def test_the_arrears_reconciliation_runs_on_demand(installed: LedgerApi) -> None:
    api = installed
    with freeze_time(MOMENT, real_asyncio=True):
        path = "/valve-commands/arrears-reconciliation"
        response = api.client.post(path, headers=api.clerk())
        assert response.status_code == 200, response.text
        assert response.json() == {"withdrawn_flags": [], "restricted": [], "lifted": [], "deferred": {}}
        assert_problem(api.client.post(path, headers=api.tokens.headers(Role.AUDITOR)), 403, "permission_denied")
