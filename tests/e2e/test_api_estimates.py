"""Estimates over HTTP: a clerk runs the estimator; the estimated share shows; bad input is a problem."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any

from application.authorization import Role
from tests.e2e.conftest import LedgerApi, assert_problem, days_from

MEASURED_DAYS = days_from(date(2025, 11, 20), 15)  # 20 Nov … 4 Dec: 14 measured days for both flats
LATER_DAYS = days_from(date(2025, 12, 5), 6)  # 5 … 10 Dec: only the neighbour reports


def registers(start: str, count: int, offset: int = 0) -> list[Decimal]:
    return [Decimal(start) + Decimal("0.5") * (offset + index) for index in range(count)]


def run_estimator(api: LedgerApi, role: Role = Role.CLERK) -> Any:
    return api.client.post("/estimates/runs", headers=api.tokens.headers(role))


def test_a_silent_meter_is_estimated_and_its_share_reported(api: LedgerApi, frozen_now: object) -> None:
    api.household_with_meter("WZ-0001", "HM-1")
    api.household_with_meter("WZ-0002", "HM-2", flat="302")
    api.daily_readings("HM-1", MEASURED_DAYS, registers("10", 15))
    api.daily_readings("HM-2", MEASURED_DAYS + LATER_DAYS, registers("20", 21))

    run = run_estimator(api).json()
    share = api.get("/households/WZ-0001/estimated-share").json()

    # Silent since 4 Dec 00:00; on 10 Dec the days 4 … 9 Dec are missing: six estimated readings.
    assert (run["meters_silent"], run["readings_estimated"], run["readings_accepted"]) == (1, 6, 6)
    # Its own 0.5 GJ a day × (the neighbour's 0.5 ÷ its reference 0.5) = 0.5 GJ for each missing day.
    assert Decimal(share["estimated_energy_gj"]) == Decimal("3.0")
    assert Decimal(share["energy_gj"]) == Decimal("0.5") * 14 + Decimal("3.0")
    assert (share["season"], share["estimated_percent"]) == ("2025-2026", "30.00")
    assert run_estimator(api).json()["readings_accepted"] == 0  # a second run adds nothing


def test_only_meter_managers_run_the_estimator(api: LedgerApi) -> None:
    assert_problem(run_estimator(api, Role.AUDITOR), 403, "permission_denied")
    assert_problem(run_estimator(api, Role.DEVICE), 403, "permission_denied")


def test_a_bad_season_code_and_an_unknown_household_are_problems(api: LedgerApi) -> None:
    api.household_with_meter("WZ-0001", "HM-1")
    assert_problem(api.get("/households/WZ-0001/estimated-share", season="2025"), 422, "invalid_input")
    assert_problem(api.get("/households/NOPE/estimated-share"), 404, "not_found")
