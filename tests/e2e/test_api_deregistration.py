"""销户/拆网 over HTTP: POST /households/{account}/deregistration, who may, the refusals in Chinese
and English, and the household read back with its deregistration day. Today is 2025-12-10."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import pytest

from application.authorization import Role
from tests.e2e.conftest import LedgerApi, assert_problem

PATH = "/households/WZ-0001"
LEAVING = {"effective_on": "2026-04-01", "reason": "拆网: building demolished"}


def deregister(api: LedgerApi, body: dict[str, Any], role: Role = Role.CLERK, language: str | None = None) -> Any:
    return api.client.post(f"{PATH}/deregistration", json=body, headers=api.tokens.headers(role, language))


def test_a_clerk_deregisters_and_the_household_shows_the_day(api: LedgerApi, frozen_now: datetime) -> None:
    assert api.register_household("WZ-0001").status_code == 201
    assert api.get(PATH).json()["deregistered_on"] is None

    response = deregister(api, LEAVING)

    assert response.status_code == 200, response.text
    assert set(response.json()) == {"correlation_id"}
    household = api.get(PATH).json()
    assert household["deregistered_on"] == "2026-04-01"
    listed = api.get("/households").json()["items"]
    assert [item["deregistered_on"] for item in listed] == ["2026-04-01"]


@pytest.mark.parametrize("role", [Role.AUDITOR, Role.REGULATOR, Role.DEVICE])
def test_roles_without_manage_households_are_refused(api: LedgerApi, frozen_now: datetime, role: Role) -> None:
    assert api.register_household("WZ-0001").status_code == 201
    assert_problem(deregister(api, LEAVING, role), 403, "permission_denied")
    assert api.get(PATH).json()["deregistered_on"] is None


def test_a_second_deregistration_is_a_409_in_chinese_and_english(api: LedgerApi, frozen_now: datetime) -> None:
    assert api.register_household("WZ-0001").status_code == 201
    assert deregister(api, LEAVING).status_code == 200

    chinese = assert_problem(deregister(api, LEAVING), 409, "conflict")
    english = assert_problem(deregister(api, LEAVING, language="en"), 409, "conflict")

    assert chinese["detail"] == "户 WZ-0001 已于 2026-04-01 销户。"
    assert english["detail"] == "Household WZ-0001 is deregistered already (from 2026-04-01)."


def test_supply_changes_after_it_are_409_and_reading_still_works(api: LedgerApi, frozen_now: datetime) -> None:
    assert api.register_household("WZ-0001").status_code == 201
    assert api.commission_meter("HM-1").status_code == 201
    assert deregister(api, LEAVING).status_code == 200
    suspend = {"effective_on": "2026-04-02", "reason": "away"}

    for response in (
        api.client.post(f"{PATH}/suspensions", json=suspend, headers=api.clerk("en")),
        api.attach_meter("WZ-0001", "HM-1"),
    ):
        problem = assert_problem(response, 409, "conflict")
        assert problem["params"] == {"account_number": "WZ-0001", "deregistered_on": "2026-04-01"}
    english = api.client.post(f"{PATH}/suspensions", json=suspend, headers=api.clerk("en")).json()
    assert english["detail"] == ("Household WZ-0001 left the network on 2026-04-01; its supply cannot change any more.")
    assert api.get(PATH).status_code == 200
    assert api.get(f"{PATH}/consumption", query={"from": "2025-11-01", "to": "2025-11-30"}).status_code == 200


def test_a_deregistration_on_the_registration_day_is_a_422_naming_the_earliest(
    api: LedgerApi, frozen_now: datetime
) -> None:
    assert api.register_household("WZ-0001").status_code == 201  # registered on 2025-10-01
    early = {"effective_on": "2025-10-01", "reason": "typing error"}

    chinese = assert_problem(deregister(api, early), 422, "invalid_input")
    english = assert_problem(deregister(api, early, language="en"), 422, "invalid_input")

    assert chinese["params"]["earliest"] == "2025-10-02"
    assert "2025-10-02" in chinese["detail"] and "销户日期 2025-10-01 过早" in chinese["detail"]
    assert english["detail"].startswith("The deregistration on 2025-10-01 is too early")


@pytest.mark.parametrize(("effective_on", "latest"), [("2026-12-12", "2026-12-11"), ("9999-12-31", "2026-12-11")])
def test_a_date_more_than_a_year_ahead_is_a_422(
    api: LedgerApi, frozen_now: datetime, effective_on: str, latest: str
) -> None:
    assert api.register_household("WZ-0001").status_code == 201
    body = {"effective_on": effective_on, "reason": "typing error"}

    problem = assert_problem(deregister(api, body, language="en"), 422, "invalid_input")

    assert problem["params"]["latest"] == latest
    assert problem["detail"] == (
        f"The deregistration date {effective_on} lies more than a year after today; the latest is {latest}."
    )
    assert deregister(api, {"effective_on": latest, "reason": "leaving"}).status_code == 200


@pytest.mark.parametrize(
    "body",
    [
        {"effective_on": "2026-04-01"},
        {"effective_on": "2026-04-01", "reason": "   "},
        {"reason": "leaving"},
        {"effective_on": "1 April 2026", "reason": "leaving"},
    ],
)
def test_a_missing_reason_or_date_is_a_422(api: LedgerApi, frozen_now: datetime, body: dict[str, str]) -> None:
    assert api.register_household("WZ-0001").status_code == 201
    response = deregister(api, body)
    assert response.status_code == 422, response.text
    assert api.get(PATH).json()["deregistered_on"] is None


def test_an_unknown_household_is_a_404(api: LedgerApi, frozen_now: datetime) -> None:
    problem = assert_problem(
        api.client.post("/households/NOPE/deregistration", json=LEAVING, headers=api.clerk()), 404, "not_found"
    )
    assert problem["params"]["kind"] == "household"
