"""Heat far beyond a meter's permissible error over HTTP, on both backends: the settlement run lists
the household with the evidence, a clerk decides (POST /meters/{serial}/heat-decisions), and the
settlement bill's explanation says what was done.

The household: 碧桂园 building 1, 98.50 m², meter M-1 read at every midnight of the season at 0.2 GJ,
2.4 m³ and 70/50 °C (plausible), except 11–14 January: the interval 10 → 15 January recorded 38 GJ
where its 12 m³ give 0.99181 GJ (+3731.38 % against a permissible 4.10 %). Tariff as in
test_api_billing (21.6 元/m², base 30 %, 43.9 元/GJ, 多退少不补): area fee 2127.60, base 638.28.
Replaced by its estimate (1.000 GJ: five days at the meter's own 0.2 GJ) the season has 30.2 GJ:
energy 1325.78, due 1964.06, settlement −163.54.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date
from decimal import Decimal
from typing import Any

import pytest
from fastapi import FastAPI
from freezegun import freeze_time
from freezegun.api import FrozenDateTimeFactory

from application.authorization import Role
from tests.e2e.conftest import LedgerApi, assert_problem, days_from
from tests.e2e.test_api_billing import AFTER_SEASON, SEASON, SEASON_DAYS, bills, explain, finished_run, of_kind, publish

D = Decimal
JUMP_START = "2026-01-10T00:00:00+08:00"
PLAUSIBLE_START = "2026-01-05T00:00:00+08:00"
JUMP_DAY, AFTER_JUMP_DAY = 70, 75  # season days of 10 and 15 January


@pytest.fixture
def after_season(app: FastAPI) -> Iterator[FrozenDateTimeFactory]:
    with freeze_time(AFTER_SEASON, real_asyncio=True) as clock:
        yield clock  # type: ignore[misc]


@pytest.fixture
def jumped(api: LedgerApi, after_season: FrozenDateTimeFactory) -> LedgerApi:
    """The household with its 38 GJ interval, the tariff, and the prepayment invoiced."""
    api.household_with_meter("A-1", "M-1")
    days = [day for day in range(SEASON_DAYS + 1) if not JUMP_DAY < day < AFTER_JUMP_DAY]
    energy = [D(100) + D("0.2") * day + (D(38) - D("0.2") * 5 if day >= AFTER_JUMP_DAY else 0) for day in days]
    api.daily_readings(
        "M-1",
        [days_from(date(2025, 11, 1), SEASON_DAYS + 1)[day] for day in days],
        energy,
        volume_m3=[D(1000) + D("2.4") * day for day in days],
        flow_temperature_c=[D(70)] * len(days),
        return_temperature_c=[D(50)] * len(days),
    )
    assert publish(api).status_code == 201
    finished_run(api, "prepayment")
    return api


def decide(api: LedgerApi, decision: str, start: str = JUMP_START, role: Role = Role.CLERK, **body: Any) -> Any:
    request = {"interval_start": start, "decision": decision, "reason": "checked on site", **body}
    return api.client.post("/meters/M-1/heat-decisions", json=request, headers=api.tokens.headers(role, "en"))


def said(explanation: dict[str, Any]) -> str:
    return " ".join(line["sentence"] for line in explanation["lines"])


def test_the_run_lists_the_evidence_and_the_bill_says_the_interval_was_estimated(jumped: LedgerApi) -> None:
    held = finished_run(jumped, "settlement")["summary"]
    (exception,) = held["exceptions"]
    assert (exception["account_number"], exception["message_key"]) == ("A-1", "implausible_heat")
    assert exception["params"]["interval_end"] == "2026-01-15T00:00:00+08:00"
    assert (exception["params"]["recorded_gj"], exception["params"]["expected_gj"]) == ("38.000", "0.99181")
    waiting = jumped.get("/households/A-1/implausible-intervals", season=SEASON).json()["items"]
    assert [(item["evidence"]["deviation_percent"], item["decision"]) for item in waiting] == [("3731.38", None)]

    response = decide(jumped, "estimate")
    assert response.status_code == 201, response.text
    decided = response.json()
    assert (decided["decision"], D(decided["estimated_energy_gj"]), decided["recorded"]) == ("estimate", D(1), True)
    assert D(decided["evidence"]["recorded_energy_gj"]) == 38
    again = decide(jumped, "estimate", reason="clicked twice")
    assert (again.status_code, again.json()["recorded"]) == (200, False)

    settled = finished_run(jumped, "settlement")["summary"]
    assert settled["exceptions"] == [] and settled["bills_issued"] == 1
    (bill,) = of_kind(bills(jumped, "A-1"), "settlement")
    assert D(bill["amount_yuan"]) == D("-163.54")
    sentences = said(explain(jumped, bill["bill_id"], "en"))
    assert "replaced by an estimate of 1.000 GJ" in sentences and "checked on site" in sentences
    assert "改按估算热量 1.000 GJ" in said(explain(jumped, bill["bill_id"]))


def test_a_hold_keeps_the_household_an_exception(jumped: LedgerApi) -> None:
    assert decide(jumped, "hold", reason="verification ordered").status_code == 201
    (exception,) = finished_run(jumped, "settlement")["summary"]["exceptions"]
    assert exception["message_key"] == "held_pending_verification"
    assert exception["params"]["decision_reason"] == "verification ordered"


def test_bad_decisions_are_refused_with_problems(jumped: LedgerApi) -> None:
    assert_problem(decide(jumped, "maybe"), 422, "validation_failed")
    assert_problem(decide(jumped, "hold", reason=""), 422, "validation_failed")
    assert_problem(decide(jumped, "hold", start="2026-01-10T00:00:00"), 422, "validation_failed")  # no zone
    plausible = assert_problem(decide(jumped, "bill_as_measured", start=PLAUSIBLE_START), 422, "invalid_input")
    assert "needs no decision" in plausible["detail"]
    assert_problem(decide(jumped, "hold", start="2026-01-12T00:00:00+08:00"), 404, "not_found")
    missing_meter = jumped.client.post(
        "/meters/M-404/heat-decisions",
        json={"interval_start": JUMP_START, "decision": "hold", "reason": "x"},
        headers=jumped.clerk(),
    )
    assert_problem(missing_meter, 404, "not_found")
    assert_problem(decide(jumped, "hold", role=Role.CUSTOMER_SERVICE), 403, "permission_denied")
    assert_problem(decide(jumped, "hold", role=Role.AUDITOR), 403, "permission_denied")
    assert jumped.get("/households/A-1/implausible-intervals", season=SEASON).json()["items"][0]["decision"] is None
