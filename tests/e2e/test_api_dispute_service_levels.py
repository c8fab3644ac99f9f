"""Disputes' service levels over HTTP, on both backends, with the clock under freezegun.

SL-1 disputes a payment at 23:30 on 31 January (Beijing time), is answered 10 hours later and
upheld 3 days later; SL-2 disputes its heating at 00:30 on 1 February (still 31 January in UTC)
and hears nothing. On 20 February at 12:00, with the default targets (24 h, 15 days), SL-2's
dispute is 443.5 hours overdue for its first response and 107.5 hours for its resolution.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from fastapi import FastAPI
from freezegun import freeze_time

from application.authorization import Role
from domain.dispute import DisputeCategory
from infrastructure.settings import DisputeTargetSetting
from tests.e2e.conftest import LedgerApi, assert_problem

BEIJING = ZoneInfo("Asia/Shanghai")
NOW = datetime(2026, 2, 20, 12, 0, tzinfo=BEIJING)
PERIOD = {"from": "2026-01-01", "to": "2026-02-28"}


def dispute(account: str, reference: str, category: str) -> dict[str, Any]:
    return {
        "account_number": account,
        "subject": {"kind": "payment", "payment_reference": f"R-{reference}", "season_code": "2025-2026"},
        "category": category,
        "description": "as the household told it",
        "disputed_amount_yuan": "10.00",
        "channel": "phone",
        "reference": reference,
    }


def post(api: LedgerApi, path: str, body: dict[str, Any]) -> dict[str, Any]:
    response = api.client.post(path, json=body, headers=api.tokens.headers(Role.CUSTOMER_SERVICE))
    assert response.status_code in (200, 201), response.text
    answer: dict[str, Any] = response.json()
    return answer


@pytest.fixture
def timeline(app: FastAPI, api: LedgerApi) -> Iterator[dict[str, str]]:
    with freeze_time(datetime(2026, 1, 2, 9, tzinfo=BEIJING), real_asyncio=True) as clock:
        for account in ("SL-1", "SL-2"):
            assert api.register_household(account).status_code == 201
        clock.move_to(datetime(2026, 1, 31, 23, 30, tzinfo=BEIJING))
        paid = post(api, "/disputes", dispute("SL-1", "KF-1", "payment_not_credited"))["dispute_id"]
        clock.move_to(datetime(2026, 2, 1, 0, 30, tzinfo=BEIJING))
        cold = post(api, "/disputes", dispute("SL-2", "KF-2", "poor_heating"))["dispute_id"]
        clock.move_to(datetime(2026, 2, 1, 9, 30, tzinfo=BEIJING))
        post(api, f"/disputes/{paid}/steps", {"kind": "household_note", "message": "查询中", "channel": "phone"})
        clock.move_to(datetime(2026, 2, 3, 23, 30, tzinfo=BEIJING))
        post(api, f"/disputes/{paid}/resolution", {"outcome": "upheld", "reason": "the transfer was credited"})
        clock.move_to(NOW)
        yield {"paid": paid, "cold": cold}


def test_the_overdue_lists(api: LedgerApi, timeline: dict[str, str]) -> None:
    response = api.get("/disputes/overdue", role=Role.AUDITOR, kind="first_response")
    assert response.status_code == 200, response.text
    page = response.json()
    assert (page["kind"], page["total"], page["as_of"]) == ("first_response", 1, "2026-02-20T04:00:00Z")
    [item] = page["items"]
    assert (item["dispute_id"], item["reference"], item["category"], item["state"]) == (
        timeline["cold"],
        "KF-2",
        "poor_heating",
        "open",
    )
    assert (item["due_at"], item["overdue_hours"], item["target_hours"]) == ("2026-02-01T16:30:00Z", "443.50", 24)
    resolution = api.get("/disputes/overdue", kind="resolution").json()
    assert [(item["reference"], item["overdue_hours"]) for item in resolution["items"]] == [("KF-2", "107.50")]
    assert api.get("/disputes/overdue", kind="resolution", category="area_wrong").json()["total"] == 0
    assert api.get("/disputes/overdue", kind="resolution", community="碧桂园", limit=1).json()["total"] == 1
    assert_problem(api.get("/disputes/overdue", kind="whenever"), 422, "validation_failed")
    assert_problem(api.get("/disputes/overdue"), 422, "validation_failed")


def test_the_figures_by_month_and_category(api: LedgerApi, timeline: dict[str, str]) -> None:
    response = api.get("/disputes/service-levels", role=Role.REGULATOR, query=PERIOD)
    assert response.status_code == 200, response.text
    report = response.json()
    assert (report["first_day"], report["last_day"], report["as_of"]) == (
        "2026-01-01",
        "2026-02-28",
        "2026-02-20T04:00:00Z",
    )
    assert {target["category"]: target["first_response_hours"] for target in report["targets"]}["poor_heating"] == 24
    # 31 January 23:30 is January's, 1 February 00:30 February's, though both are 31 January in UTC.
    assert [(row["month"], row["opened"], row["resolved"]) for row in report["by_month"]] == [
        ("2026-01", 1, 1),
        ("2026-02", 1, 0),
    ]
    assert [(row["month"], row["category"]) for row in report["by_month_and_category"]] == [
        ("2026-01", "payment_not_credited"),
        ("2026-02", "poor_heating"),
    ]
    total = report["total"]
    assert (total["opened"], total["resolved"], total["still_open"]) == (2, 1, 1)
    assert total["first_response"] == {
        "measured": 1,
        "median_hours": "10.00",
        "p90_hours": "10.00",
        "met": 1,
        "missed": 1,
        "pending": 0,
        "within_target_percent": "50.0",
    }
    assert (total["resolution"]["median_days"], total["resolution"]["within_target_percent"]) == ("3.00", "50.0")
    cold = next(row for row in report["by_category"] if row["category"] == "poor_heating")
    assert (cold["first_response"]["median_hours"], cold["first_response"]["within_target_percent"]) == (None, "0.0")


def test_targets_of_a_category_and_problems(app: FastAPI, api: LedgerApi, timeline: dict[str, str]) -> None:
    app.state.container.settings.dispute_targets_by_category = {
        DisputeCategory.POOR_HEATING: DisputeTargetSetting(first_response_hours=4, resolution_days=30)
    }
    resolution = api.get("/disputes/overdue", kind="resolution").json()
    assert resolution["total"] == 0  # 30 days for poor heating: not yet overdue
    first = api.get("/disputes/overdue", kind="first_response").json()
    assert (first["items"][0]["target_hours"], first["items"][0]["overdue_hours"]) == (4, "463.50")

    reversed_period = api.client.get(
        "/disputes/service-levels",
        params={"from": "2026-03-01", "to": "2026-02-01"},
        headers=api.tokens.headers(Role.CLERK, "en"),
    )
    assert assert_problem(reversed_period, 422, "invalid_input")["detail"] == (
        "The period ends (2026-02-01) before it starts (2026-03-01)."
    )
    too_long = api.client.get(
        "/disputes/service-levels", params={"from": "2024-01-01", "to": "2026-02-01"}, headers=api.clerk("zh")
    )
    assert assert_problem(too_long, 422, "invalid_input")["detail"] == "一次统计最多覆盖 732 天。"
    assert_problem(api.get("/disputes/service-levels", query={"from": "2026-01-01"}), 422, "validation_failed")
    anonymous = api.client.get("/disputes/service-levels", params=PERIOD)
    assert anonymous.status_code == 401
