"""Heating seasons over HTTP: declared by an administrator, extended by decree, the season in force
per community, read by every staff role, refused with problems in Chinese and English."""

from __future__ import annotations

from typing import Any

from application.authorization import Role
from tests.e2e.conftest import LedgerApi, assert_problem

CITY = {
    "scope": "*",
    "season": "2025-2026",
    "first_day": "2025-11-15",
    "last_day": "2026-03-15",
    "decree_number": "宁政办发〔2025〕88号",
    "reason": "the city's decree",
}


def declare(api: LedgerApi, role: Role = Role.ADMIN, language: str | None = None, **changes: Any) -> Any:
    return api.client.post("/seasons", json=CITY | changes, headers=api.tokens.headers(role, language))


def test_a_season_is_declared_extended_and_in_force(api: LedgerApi) -> None:
    created = declare(api)
    assert created.status_code == 201, created.text
    assert created.headers["Location"] == "/seasons/%2A/2025-2026"
    assert (created.json()["days"], created.json()["decree_number"]) == (121, "宁政办发〔2025〕88号")
    extension = {
        "first_day": "2025-11-15",
        "last_day": "2026-03-31",
        "decree_number": "宁政办发〔2026〕5号",
        "reason": "寒潮",
    }
    extended = api.client.post(
        "/seasons/%2A/2025-2026/extension", json=extension, headers=api.tokens.headers(Role.ADMIN)
    )
    assert extended.status_code == 200, extended.text
    assert [decree["kind"] for decree in extended.json()["decrees"]] == ["declared", "extended"]
    in_force = api.get("/seasons/in-force/碧桂园/2025-2026", role=Role.AUDITOR).json()
    assert (in_force["last_day"], in_force["days"], in_force["source"]) == ("2026-03-31", 137, "city")
    other = api.get("/seasons/in-force/碧桂园/2026-2027", role=Role.REGULATOR).json()
    assert (other["first_day"], other["source"], other["decree_number"]) == ("2026-11-01", "default", "")
    listed = api.get("/seasons", season="2025-2026").json()["items"]
    assert [(item["scope"], item["last_day"]) for item in listed] == [("*", "2026-03-31")]


def test_refusals_are_problems(api: LedgerApi) -> None:
    assert_problem(declare(api, role=Role.CLERK), 403, "permission_denied")
    assert declare(api).status_code == 201
    again = assert_problem(declare(api, language="en"), 409, "conflict")
    assert "extension" in again["detail"]
    shorter = {"first_day": "2025-11-20", "last_day": "2026-03-15", "decree_number": "X", "reason": "r"}
    response = api.client.post("/seasons/%2A/2025-2026/extension", json=shorter, headers=api.tokens.headers(Role.ADMIN))
    assert "不能缩短" in assert_problem(response, 409, "conflict")["detail"]
    assert_problem(declare(api, scope="碧桂园", last_day="2027-03-15"), 422, "invalid_input")
    wrong_code = assert_problem(declare(api, scope="碧桂园", season="2026-2030"), 422, "invalid_input")
    assert wrong_code["errors"][0]["code"] == "season_invalid"
    assert_problem(api.get("/seasons/碧桂园/2025-2026"), 404, "not_found")
