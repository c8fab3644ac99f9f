"""Billing over HTTP: tariffs, billing runs as jobs, bills read out in words, balances, owner
changes and building allocations, on both backends.

Seasons are fixed by code (1 November to 31 March, 151 days in 2025-2026), so the tests stop the
clock after the season's end (``after_season``) and move it back only to show what is refused
before the end.

The household of most tests: 碧桂园 building 1, connected area 98.50 m² (the billed area), a meter
read at every midnight from 1 November to 1 April, 0.2 GJ a day: 30.2 GJ over the season. Under
the city's tariff (21.6 元/m², base part 30 %, 43.9 元/GJ, 多退少不补):
area fee 98.50 × 21.6 = 2127.60; base part 638.28; energy part 30.2 × 43.9 = 1325.78;
metered fee 1964.06, due 1964.06, settlement 1964.06 − 2127.60 = −163.54.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, datetime
from decimal import Decimal
from typing import Any

import pytest
from fastapi import FastAPI
from freezegun import freeze_time
from freezegun.api import FrozenDateTimeFactory, StepTickTimeFactory, TickingDateTimeFactory

from application.authorization import Role
from tests.e2e.conftest import LedgerApi, assert_problem, cumulative, days_from

AFTER_SEASON = datetime.fromisoformat("2026-04-10T12:00:00+08:00")
BEFORE_SEASON_END = datetime.fromisoformat("2026-03-20T12:00:00+08:00")
SEASON = "2025-2026"
SEASON_DAYS = 151
DAILY_GJ = Decimal("0.2")

AREA_FEE = Decimal("2127.60")
DUE = Decimal("1964.06")
SETTLEMENT = DUE - AREA_FEE

Clock = FrozenDateTimeFactory | StepTickTimeFactory | TickingDateTimeFactory


@pytest.fixture
def after_season(app: FastAPI) -> Iterator[Clock]:
    """The clock stopped ten days after the 2025-2026 season (the app is built first, as for
    ``frozen_now``); tests may move it."""
    with freeze_time(AFTER_SEASON, real_asyncio=True) as clock:
        yield clock


def tariff(**changes: Any) -> dict[str, Any]:
    """The city's residential tariff from the season's first day (Xuchang's prices, domain.md §6)."""
    return {
        "customer_class": "residential",
        "scope": "*",
        "area_price_yuan_per_m2": "21.6",
        "base_share_percent": "30",
        "energy_price_yuan_per_gj": "43.9",
        "policy": "refund_only",
        "suspension_share_percent": "20",
        "effective_from": "2025-11-01",
        "document_number": "吴价发〔2025〕12号",
        "approved_on": "2025-09-15",
        "reason": "price bureau approval",
        **changes,
    }


def publish(api: LedgerApi, role: Role = Role.ADMIN, language: str | None = None, **changes: Any) -> Any:
    return api.client.post("/tariffs", json=tariff(**changes), headers=api.tokens.headers(role, language))


def metered_household(api: LedgerApi, account_number: str, serial: str) -> None:
    """A household in 碧桂园 1 whose meter is read at every midnight of the season and the next."""
    api.household_with_meter(account_number, serial)
    days = days_from(date(2025, 11, 1), SEASON_DAYS + 1)
    api.daily_readings(serial, days, cumulative(Decimal(100), [DAILY_GJ] * SEASON_DAYS))


def run(api: LedgerApi, kind: str, role: Role = Role.CLERK, **request: Any) -> Any:
    body = {"kind": kind, "season": SEASON, **request}
    return api.client.post("/billing/runs", json=body, headers=api.tokens.headers(role))


def finished_run(api: LedgerApi, kind: str, **request: Any) -> dict[str, Any]:
    """Submit a run (202, with its address) and read it back at that address."""
    response = run(api, kind, **request)
    assert response.status_code == 202, response.text
    assert response.json()["kind"] == kind
    found = api.get(response.headers["Location"])
    assert found.status_code == 200
    body: dict[str, Any] = found.json()
    return body


def bills(api: LedgerApi, account_number: str, role: Role = Role.CLERK) -> list[dict[str, Any]]:
    response = api.get(f"/households/{account_number}/bills", role=role, season=SEASON)
    assert response.status_code == 200, response.text
    items: list[dict[str, Any]] = response.json()["items"]
    return items


def explain(api: LedgerApi, bill_id: str, language: str | None = None) -> dict[str, Any]:
    response = api.client.get(f"/bills/{bill_id}/explain", headers=api.tokens.headers(Role.CUSTOMER_SERVICE, language))
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def of_kind(items: list[dict[str, Any]], kind: str) -> list[dict[str, Any]]:
    return sorted((item for item in items if item["kind"] == kind), key=lambda item: item["first_day"])


# -- tariffs -------------------------------------------------------------------------------------


def test_an_administrator_publishes_tariff_versions_that_never_overlap(api: LedgerApi) -> None:
    response = publish(api, effective_until="2026-10-31")

    assert response.status_code == 201, response.text
    assert response.headers["Location"] == "/tariffs/residential/%2A"
    version = response.json()
    assert (version["scope"], version["version"], version["published_by"]) == ("*", 1, "e2e-admin")
    assert version["terms"]["area_price_yuan_per_m2"] == "21.60"
    assert version["terms"]["policy"] == "refund_only"
    assert version["terms"]["position_coefficients"]["top/west_end"] == "1.518"
    listed = api.get("/tariffs", role=Role.REGULATOR).json()["items"]
    assert [(item["scope"], item["version"], item["document_number"]) for item in listed] == [
        ("*", 1, "吴价发〔2025〕12号")
    ]
    assert api.get("/tariffs/residential/*").json()["items"][0]["effective_until"] == "2026-10-31"
    assert_problem(api.get("/tariffs/residential/碧桂园"), 404, "not_found")

    overlapping = assert_problem(publish(api, effective_from="2026-10-01"), 409, "conflict")
    assert overlapping["params"]["version"] == 1
    assert publish(api, effective_from="2026-11-01", area_price_yuan_per_m2="22.8").status_code == 201
    assert [item["version"] for item in api.get("/tariffs/residential/*").json()["items"]] == [1, 2]


def test_tariffs_are_published_by_administrators_with_valid_prices_only(api: LedgerApi) -> None:
    denied = assert_problem(publish(api, role=Role.CLERK), 403, "permission_denied")
    assert denied["params"]["permission"] == "manage_tariffs"

    negative = assert_problem(publish(api, language="en", energy_price_yuan_per_gj="-43.9"), 422, "invalid_input")
    assert [(error["field"], error["code"]) for error in negative["errors"]] == [
        ("energy_price_yuan_per_gj", "price_negative")
    ]
    assert negative["detail"] == "The energy price must not be negative."
    capped = assert_problem(publish(api, policy="capped"), 422, "invalid_input")
    assert capped["errors"][0]["code"] == "cap_missing"
    assert api.get("/tariffs").json()["items"] == []


# -- billing runs, bills, explanations, balances ------------------------------------------------


def test_a_season_is_prepaid_settled_explained_and_balanced(api: LedgerApi, after_season: Clock) -> None:
    assert publish(api).status_code == 201
    metered_household(api, "WZ-0001", "HM-1")

    prepayment = finished_run(api, "prepayment", community="碧桂园", reason="prepayment 2025-2026")
    assert (prepayment["status"], prepayment["progress"]) == ("done", {"done": 1, "total": 1})
    assert prepayment["summary"]["bills_issued"] == 1
    assert prepayment["summary"]["charged_yuan"] == str(AREA_FEE)
    again = finished_run(api, "prepayment", community="碧桂园")
    assert (again["summary"]["bills_issued"], again["summary"]["already_issued"]) == (0, 1)

    after_season.move_to(BEFORE_SEASON_END)
    early = assert_problem(run(api, "settlement"), 422, "invalid_input")
    assert early["errors"][0]["code"] == "season_not_ended"
    after_season.move_to(AFTER_SEASON)

    statement = finished_run(api, "statement", month="2025-12")
    assert statement["summary"]["bills_issued"] == 1
    settlement = finished_run(api, "settlement")
    assert settlement["status"] == "done"
    assert (settlement["summary"]["bills_issued"], settlement["summary"]["by_basis"]) == (1, {"metered": 1})
    assert settlement["summary"]["credited_yuan"] == str(SETTLEMENT)

    issued = bills(api, "WZ-0001", role=Role.AUDITOR)
    assert sorted(item["kind"] for item in issued) == ["prepayment", "settlement", "statement"]
    [prepaid] = of_kind(issued, "prepayment")
    [settled] = of_kind(issued, "settlement")
    assert (prepaid["amount_yuan"], prepaid["days"]) == (str(AREA_FEE), SEASON_DAYS)
    assert (settled["amount_yuan"], settled["basis"]) == (str(SETTLEMENT), "metered")
    detail = api.get(f"/bills/{settled['bill_id']}", role=Role.AUDITOR).json()
    lines = {line["code"]: line for line in detail["lines"]}
    assert lines["energy_part"]["amount_yuan"] == "1325.78"
    assert lines["due_refund_only"]["amount_yuan"] == str(DUE)
    assert Decimal(lines["energy_metered"]["figures"]["measured_gj"]) == DAILY_GJ * SEASON_DAYS

    chinese = explain(api, prepaid["bill_id"])
    assert chinese["language"] == "zh"
    assert "2127.60" in chinese["heading"] and "151 天" in chinese["heading"]
    sentences = {line["code"]: line["sentence"] for line in chinese["lines"]}
    assert sentences["area_fee"] == (
        "面积热费 = 98.50 m² × 21.6 元/m² × (151 供热天 + 0 报停天 × 20 %) / 151 天 = 2127.60 元（四舍五入到 0.01 元）"
    )
    assert "吴价发〔2025〕12号" in sentences["tariff"] and "多退少不补" in sentences["tariff"]
    english = {line["code"]: line["sentence"] for line in explain(api, settled["bill_id"], "en")["lines"]}
    assert english["energy_part"] == "Energy part = 30.200 GJ / position coefficient 1 × 43.9 元/GJ = 1325.78 元."
    assert english["settlement_amount"] == (
        "Settlement = due 1964.06 元 − prepaid 2127.60 元 = -163.54 元: "
        "163.54 元 refunded or credited to the next season."
    )
    [month] = of_kind(issued, "statement")
    monthly = {line["code"]: line["sentence"] for line in explain(api, month["bill_id"])["lines"]}
    assert monthly["month_energy"].startswith("2025-12 用热 6.200 GJ")

    balance = api.get("/households/WZ-0001/balance").json()
    assert Decimal(balance["balance_yuan"]) == AREA_FEE + SETTLEMENT == DUE
    # Of the season: the prepayment charged; the settlement's credit note settles 163.54 of it.
    communities = api.get("/balances", season=SEASON).json()["items"]
    assert [
        (item["community"], item["households"], item["charged_yuan"], item["from_credit_notes_yuan"])
        for item in communities
    ] == [("碧桂园", 1, str(AREA_FEE), str(-SETTLEMENT))]
    assert communities[0]["balance_yuan"] == str(DUE)


def test_a_season_without_a_tariff_fails_its_run_naming_the_households(api: LedgerApi, after_season: Clock) -> None:
    assert api.register_household("WZ-0001").status_code == 201
    assert api.register_household("WZ-0002", flat="102").status_code == 201

    failed = finished_run(api, "prepayment")

    assert failed["status"] == "failed"
    assert failed["summary"] is None
    error = failed["error"]
    assert (error["code"], error["type"]) == (
        "season_without_tariff",
        "https://heatledger.example/problems/season_without_tariff",
    )
    assert error["params"]["households"] == "WZ-0001, WZ-0002"
    assert "WZ-0001, WZ-0002" in error["detail"] and "没有生效的热价" in error["detail"]
    assert bills(api, "WZ-0001") == []
    assert api.get("/billing/runs").json()["items"][0]["run_id"] == failed["run_id"]


def test_an_owner_change_splits_the_settlement_in_two(api: LedgerApi, after_season: Clock) -> None:
    assert publish(api).status_code == 201
    metered_household(api, "WZ-0001", "HM-1")
    change = {"effective_on": "2026-01-01", "reason": "flat sold"}

    response = api.client.post("/households/WZ-0001/owner-changes", json=change, headers=api.clerk())

    assert response.status_code == 201, response.text
    out_of_order = {"effective_on": "2025-12-01", "reason": "typing error"}
    refused = api.client.post("/households/WZ-0001/owner-changes", json=out_of_order, headers=api.clerk())
    assert assert_problem(refused, 422, "invalid_input")["errors"][0]["code"] == "owner_change_out_of_order"
    finished_run(api, "prepayment")
    settlement = finished_run(api, "settlement")
    assert settlement["summary"]["bills_issued"] == 2
    first, second = of_kind(bills(api, "WZ-0001"), "settlement")
    assert (first["first_day"], first["last_day"], first["days"]) == ("2025-11-01", "2025-12-31", 61)
    assert (second["first_day"], second["last_day"], second["days"]) == ("2026-01-01", "2026-03-31", 90)
    # Each holder is billed for the heat of their own days (12.2 and 18.0 GJ) against their days'
    # share of the area fee and of the prepayment (2127.60 × 61/151 = 859.49, the rest 1268.11):
    # first 257.85 + 535.58 = 793.43 − 859.49; second 380.43 + 790.20 = 1170.63 − 1268.11.
    assert (first["amount_yuan"], second["amount_yuan"]) == ("-66.06", "-97.48")
    assert Decimal(first["amount_yuan"]) + Decimal(second["amount_yuan"]) == SETTLEMENT
    segment = explain(api, second["bill_id"])["lines"][2]  # after the tariff and the season
    assert segment["code"] == "owner_segment"
    assert "2026-01-01 至 2026-03-31" in segment["sentence"]


def test_a_building_allocation_shares_its_heat_exactly(api: LedgerApi, after_season: Clock) -> None:
    for account_number, flat in (("WZ-0201", "101"), ("WZ-0202", "102"), ("WZ-0203", "103")):
        assert api.register_household(account_number, building="2", flat=flat).status_code == 201
    body = {
        "season": SEASON,
        "method": "on_off_time_area",
        "building_energy_gj": "100.000",
        "flats": [
            {"account_number": account_number, "area_m2": "90.00", "open_hours": "2000"}
            for account_number in ("WZ-0201", "WZ-0202", "WZ-0203")
        ],
        "reason": "valve logs of the season",
    }

    response = api.client.post("/buildings/碧桂园/2/allocations", json=body, headers=api.clerk())

    assert response.status_code == 201, response.text
    allocation = response.json()
    assert (allocation["revision"], allocation["source"]) == (1, "given")
    shares = [Decimal(share["energy_gj"]) for share in allocation["shares"]]
    assert shares == [Decimal("33.334"), Decimal("33.333"), Decimal("33.333")]
    assert sum(shares) == Decimal(100)
    assert api.get(response.headers["Location"], role=Role.AUDITOR).json() == allocation
    assert_problem(api.client.post("/buildings/碧桂园/9/allocations", json=body, headers=api.clerk()), 404, "not_found")
    assert_problem(api.get("/buildings/碧桂园/2/allocations/2024-2025"), 404, "not_found")

    assert publish(api).status_code == 201
    finished_run(api, "prepayment")
    settlement = finished_run(api, "settlement")
    assert settlement["summary"]["by_basis"] == {"allocated": 3}
    [settled] = of_kind(bills(api, "WZ-0201"), "settlement")
    allocated = {line["code"]: line["sentence"] for line in explain(api, settled["bill_id"], "en")["lines"]}
    assert "= 33.334 GJ (allocation revision 1)" in allocated["energy_allocated"]


def test_an_auditor_reads_but_may_not_run_billing(api: LedgerApi, after_season: Clock) -> None:
    assert api.register_household("WZ-0001").status_code == 201

    denied = assert_problem(run(api, "prepayment", role=Role.AUDITOR), 403, "permission_denied")

    assert denied["params"] == {"role": "auditor", "method": "POST"}  # refused at the door: api/read_only.py
    assert api.get("/billing/runs", role=Role.AUDITOR).json()["items"] == []
    assert api.get("/households/WZ-0001/bills", role=Role.AUDITOR).json()["total"] == 0
    balance = api.get("/households/WZ-0001/balance", role=Role.AUDITOR).json()
    assert (balance["balance_yuan"], balance["last_bill_at"]) == ("0.00", None)
    assert_problem(api.get("/bills/6f1c2b8e-8d5e-5b8a-9a57-3f0d2b1c9e10", role=Role.AUDITOR), 404, "not_found")
