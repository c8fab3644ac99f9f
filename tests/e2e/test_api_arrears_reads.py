"""Reads the arrears and dashboard pages need (issue 13), over HTTP on both backends: the aging of
one building, the number of flags of each status, the households marked vulnerable (personal: only
the roles that manage households), and a season's billing progress per community.

Three households are invoiced their 2025-2026 prepayment on 10 Dec 2025, due that day: WZ-0001
(碧桂园 building 1, 2127.60 元), WZ-0002 (碧桂园 building 2) and YS-0001 (阅水秦韵 building 1).
"""

from __future__ import annotations

from datetime import datetime

import pytest
from freezegun import freeze_time

from application.authorization import Role
from tests.e2e.conftest import LedgerApi, assert_problem
from tests.e2e.test_api_arrears import POLICY, RUN_DAY
from tests.e2e.test_api_payments import tariff


@pytest.fixture
def invoiced(api: LedgerApi, frozen_now: datetime) -> LedgerApi:
    """Three households in two communities, the tariff published and the prepayment invoiced."""
    assert api.register_household("WZ-0001").status_code == 201
    assert api.register_household("WZ-0002", building="2").status_code == 201
    assert api.register_household("YS-0001", community="阅水秦韵").status_code == 201
    assert api.client.post("/tariffs", json=tariff(), headers=api.tokens.headers(Role.ADMIN)).status_code == 201
    run = api.client.post("/billing/runs", json={"kind": "prepayment", "season": "2025-2026"}, headers=api.clerk())
    assert run.status_code == 202, run.text
    return api


def test_the_aging_of_one_building(invoiced: LedgerApi) -> None:
    api = invoiced
    whole = api.get("/arrears/aging", community="碧桂园", as_of="2026-01-20").json()
    assert [row["account_number"] for row in whole["items"]] == ["WZ-0001", "WZ-0002"]
    building = api.get("/arrears/aging", community="碧桂园", building="2", as_of="2026-01-20").json()
    assert building["building"] == "2"
    assert [(row["account_number"], row["days_31_90_yuan"]) for row in building["items"]] == [("WZ-0002", "2127.60")]
    assert (building["totals"]["households"], building["totals"]["total_yuan"]) == (1, "2127.60")
    # A building alone names it in every community.
    ones = api.get("/arrears/aging", building="1", as_of="2026-01-20").json()
    assert [row["account_number"] for row in ones["items"]] == ["WZ-0001", "YS-0001"]
    assert api.get("/arrears/aging", building="9").json()["totals"]["households"] == 0
    assert_problem(api.get("/arrears/aging", building=""), 422, "validation_failed")
    assert_problem(api.get("/arrears/aging", building="x" * 65), 422, "validation_failed")


def test_the_flag_list_counts_each_status(invoiced: LedgerApi) -> None:
    api = invoiced
    with freeze_time(RUN_DAY, real_asyncio=True):
        run = api.client.post("/arrears/flags/run", json=POLICY, headers=api.clerk())
        assert run.json()["flagged"] == 3
        first = run.json()["outcomes"][0]["flag_id"]
        approved = api.client.post(f"/arrears/flags/{first}/approval", json={}, headers=api.tokens.headers(Role.ADMIN))
        assert approved.status_code == 200, approved.text
        listed = api.get("/arrears/flags", Role.AUDITOR, status="raised").json()
        assert [item["account_number"] for item in listed["items"]] == ["WZ-0001", "WZ-0002", "YS-0001"][1:]
        assert listed["counts"] == {"raised": 2, "approved": 1, "withdrawn": 0}
        community = api.get("/arrears/flags", community="阅水秦韵").json()
        assert community["counts"] == {"raised": 1, "approved": 0, "withdrawn": 0}


def test_the_households_marked_vulnerable_are_listed_for_those_who_manage_households(invoiced: LedgerApi) -> None:
    api = invoiced
    assert api.get("/arrears/vulnerable-households").json() == {"items": [], "total": 0, "limit": 100, "offset": 0}
    reason = {"reason": "独居老人，82 岁"}
    for account in ("YS-0001", "WZ-0002"):
        marked = api.client.post(f"/households/{account}/vulnerability", json=reason, headers=api.clerk())
        assert marked.status_code == 201, marked.text
    listed = api.get("/arrears/vulnerable-households", Role.CUSTOMER_SERVICE).json()
    assert [(item["account_number"], item["community"], item["building"]) for item in listed["items"]] == [
        ("WZ-0002", "碧桂园", "2"),
        ("YS-0001", "阅水秦韵", "1"),
    ]
    assert listed["total"] == 2
    second_page = api.get("/arrears/vulnerable-households", limit=1, offset=1).json()
    assert ([item["account_number"] for item in second_page["items"]], second_page["total"]) == (["YS-0001"], 2)
    one = api.get("/arrears/vulnerable-households", community="碧桂园").json()
    assert [item["account_number"] for item in one["items"]] == ["WZ-0002"]

    cleared = api.client.post("/households/WZ-0002/vulnerability/clearance", json=reason, headers=api.clerk())
    assert cleared.status_code == 201
    assert api.get("/arrears/vulnerable-households").json()["total"] == 1
    for role in (Role.AUDITOR, Role.REGULATOR):
        assert_problem(api.get("/arrears/vulnerable-households", role), 403, "permission_denied")


def test_a_seasons_billing_progress_per_community(invoiced: LedgerApi) -> None:
    api = invoiced
    progress = api.get("/billing/progress", Role.REGULATOR, season="2025-2026").json()
    assert (progress["season"], progress["first_day"], progress["last_day"]) == (
        "2025-2026",
        "2025-11-01",
        "2026-03-31",
    )
    assert (progress["households"], progress["prepaid"], progress["settled"]) == (3, 3, 0)
    assert [(item["community"], item["households"], item["prepaid"]) for item in progress["items"]] == [
        ("碧桂园", 2, 2),
        ("阅水秦韵", 1, 1),
    ]
    nothing = api.get("/billing/progress", season="2024-2025").json()
    assert (nothing["households"], nothing["items"]) == (0, [])  # registered 1 Oct 2025, after its end
    assert_problem(api.get("/billing/progress", season="2025"), 422, "validation_failed")
    assert_problem(api.get("/billing/progress"), 422, "validation_failed")
