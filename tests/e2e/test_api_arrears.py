"""The arrears policy over HTTP, on both backends: a flag run, the second person's approval (the
one who raised the flag gets a 403), the list of flags, a policy with a bad window (422), and the
protections of a household (marked vulnerable, disputes).

WZ-0001 (98.50 m²) is invoiced 2127.60 元 on 10 Dec 2025, due that day; the run is on
20 Jan 2026, 41 days later.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import uuid4

import pytest
from freezegun import freeze_time

from application.authorization import Role
from tests.e2e.conftest import LedgerApi, assert_problem
from tests.e2e.test_api_payments import tariff

RUN_DAY = "2026-01-20T12:00:00+08:00"
POLICY = {"minimum_amount_yuan": "1000.00", "minimum_days_past_due": 30, "window_start": "11-15", "window_end": "03-15"}


@pytest.fixture
def invoiced(api: LedgerApi, frozen_now: datetime) -> LedgerApi:
    """WZ-0001 registered, the tariff published and the season's prepayment invoiced."""
    assert api.register_household("WZ-0001").status_code == 201
    assert api.client.post("/tariffs", json=tariff(), headers=api.tokens.headers(Role.ADMIN)).status_code == 201
    run = api.client.post("/billing/runs", json={"kind": "prepayment", "season": "2025-2026"}, headers=api.clerk())
    assert run.status_code == 202, run.text
    return api


def run_flags(api: LedgerApi, **changes: Any) -> Any:
    return api.client.post("/arrears/flags/run", json={**POLICY, **changes}, headers=api.clerk())


def test_a_flag_is_raised_and_approved_by_a_second_person(invoiced: LedgerApi) -> None:
    api = invoiced
    with freeze_time(RUN_DAY, real_asyncio=True):
        run = run_flags(api)
        assert run.status_code == 200, run.text
        summary = run.json()
        assert (summary["season_code"], summary["today"], summary["flagged"], summary["skipped"]) == (
            "2025-2026",
            "2026-01-20",
            1,
            0,
        )
        [outcome] = summary["outcomes"]
        assert (outcome["account_number"], outcome["amount_yuan"], outcome["days_past_due"]) == (
            "WZ-0001",
            "2127.60",
            41,
        )
        flag_id = outcome["flag_id"]

        same_clerk = api.client.post(f"/arrears/flags/{flag_id}/approval", json={}, headers=api.clerk("en"))
        problem = assert_problem(same_clerk, 403, "permission_denied")
        assert "second person" in problem["detail"]
        approved = api.client.post(
            f"/arrears/flags/{flag_id}/approval", json={"reason": "checked"}, headers=api.tokens.headers(Role.ADMIN)
        )
        assert approved.status_code == 200, approved.text
        assert approved.json() == {"flag_id": flag_id, "status": "approved", "account_number": "WZ-0001"}

        listed = api.get("/arrears/flags", query={"status": "approved"}).json()["items"]
        assert [(item["account_number"], item["raised_by"], item["approved_by"]) for item in listed] == [
            ("WZ-0001", "e2e-clerk", "e2e-admin")
        ]
        assert api.get("/arrears/flags", query={"status": "raised"}).json()["items"] == []
        assert run_flags(api).json()["outcomes"][0]["reasons"] == ["arrears_already_flagged"]

        withdrawn = api.client.post(
            f"/arrears/flags/{flag_id}/withdrawal", json={"kind": "paid", "reason": "paid"}, headers=api.clerk()
        )
        assert withdrawn.json()["status"] == "withdrawn"
        again = api.client.post(
            f"/arrears/flags/{flag_id}/withdrawal", json={"kind": "paid", "reason": "paid"}, headers=api.clerk()
        )
        assert_problem(again, 409, "conflict")


def test_a_withdrawn_flag_is_raised_again_and_shows_its_history(invoiced: LedgerApi) -> None:
    api = invoiced
    admin = api.tokens.headers(Role.ADMIN)
    with freeze_time(RUN_DAY, real_asyncio=True):
        flag_id = run_flags(api).json()["outcomes"][0]["flag_id"]
        withdrawal = {"kind": "paid", "reason": "promised to pay by Friday"}
        assert api.client.post(f"/arrears/flags/{flag_id}/withdrawal", json=withdrawal, headers=api.clerk()).is_success

        rerun = api.client.post("/arrears/flags/run", json={**POLICY, "reason": "not paid"}, headers=admin).json()
        [outcome] = rerun["outcomes"]
        assert (outcome["flag_id"], outcome["flagged"], outcome["raised_again"]) == (flag_id, True, True)

        [listed] = api.get("/arrears/flags", query={"status": "raised"}).json()["items"]
        assert (listed["raised_by"], listed["withdrawn_by"], listed["times_raised"]) == ("e2e-admin", None, 2)
        flag = api.get(f"/arrears/flags/{flag_id}", Role.AUDITOR).json()
        assert (flag["status"], flag["raised_by"], flag["times_raised"], flag["raised_on"]) == (
            "raised",
            "e2e-admin",
            2,
            "2026-01-20",
        )
        assert [(entry["action"], entry["actor"]) for entry in flag["history"]] == [
            ("raised", "e2e-clerk"),
            ("withdrawn", "e2e-clerk"),
            ("raised_again", "e2e-admin"),
        ]
        assert flag["history"][2]["reason"] == "not paid" and flag["history"][2]["amount_yuan"] == "2127.60"

        # The new raiser may not approve; the clerk who raised it first may.
        assert_problem(
            api.client.post(f"/arrears/flags/{flag_id}/approval", json={}, headers=admin), 403, "permission_denied"
        )
        approved = api.client.post(f"/arrears/flags/{flag_id}/approval", json={}, headers=api.clerk())
        assert approved.json()["status"] == "approved"
        assert_problem(api.get(f"/arrears/flags/{uuid4()}"), 404, "not_found")


def test_a_policy_with_a_reversed_window_is_a_422(invoiced: LedgerApi) -> None:
    problem = assert_problem(run_flags(invoiced, window_start="03-15", window_end="11-15"), 422, "invalid_input")
    assert problem["detail"]
    assert_problem(run_flags(invoiced, window_start="04-01"), 422, "invalid_input")


def test_customer_service_may_not_run_flags_but_manages_protections(invoiced: LedgerApi) -> None:
    api = invoiced
    service = api.tokens.headers(Role.CUSTOMER_SERVICE)
    denied = api.client.post("/arrears/flags/run", json=POLICY, headers=service)
    assert_problem(denied, 403, "permission_denied")
    reason = {"reason": "lives alone, 82"}
    assert api.client.post("/households/WZ-0001/vulnerability", json=reason, headers=service).status_code == 201
    assert_problem(api.client.post("/households/WZ-0001/vulnerability", json=reason, headers=service), 409, "conflict")
    [bill] = api.client.get("/households/WZ-0001/bills", headers=service).json()["items"]
    dispute = {
        "account_number": "WZ-0001",
        "subject": {"kind": "bill", "bill_id": bill["bill_id"]},
        "category": "area_wrong",
        "description": "the heated area is smaller",
        "disputed_amount_yuan": "2127.60",
        "channel": "counter",
    }
    opened = api.client.post("/disputes", json=dispute, headers=service)
    assert opened.status_code == 201, opened.text
    with freeze_time(RUN_DAY, real_asyncio=True):
        [outcome] = run_flags(api).json()["outcomes"]
    assert outcome["reasons"] == ["arrears_open_dispute", "arrears_vulnerable"]
    withdrawal = {"reason": "the household agrees with the area"}
    dispute_path = f"/disputes/{opened.json()['dispute_id']}"
    assert api.client.post(f"{dispute_path}/withdrawal", json=withdrawal, headers=service).status_code == 200
    # Only an old dispute flag (without an amount) is closed here; none is open.
    assert_problem(api.client.post("/households/WZ-0001/disputes/close", json=reason, headers=service), 409, "conflict")
    cleared = api.client.post("/households/WZ-0001/vulnerability/clearance", json=reason, headers=service)
    assert cleared.status_code == 201
    assert_problem(api.client.get("/households/WZ-9999/disputes", headers=service), 404, "not_found")
