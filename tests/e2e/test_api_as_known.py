"""`known_at` and `as_of` over HTTP, on both backends: a household's balance, balance on a day,
account, payments, consumption and bills, one bill, and a community's arrears aging, as the
ledger knew them at a moment; the headers that say so; the refusals.

The story (recorded under freezegun at each moment, Asia/Shanghai): WZ-1 (98.50 m², meter KM-1)
is charged its 2127.60 元 prepayment on 25 October and pays 1000 元 on 20 January; its readings
of 1 November to 1 February (0.2 GJ a day) are recorded on 2 February. On 20 February the ledger
learns that the register on 1 February read 1 GJ too low (a correction) and that the payment
bounced (a reversal). The questions are asked on 25 February.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, datetime
from decimal import Decimal
from typing import Any

import pytest
from fastapi import FastAPI
from freezegun import freeze_time

from application.authorization import Role
from tests.e2e.conftest import LedgerApi, assert_problem, cumulative, days_from
from tests.e2e.test_api_billing import publish

ACCOUNT, SERIAL, COMMUNITY = "WZ-1", "KM-1", "碧桂园"
FEBRUARY_15 = "2026-02-15T12:00:00+08:00"
FEBRUARY_15_UTC = "2026-02-15T04:00:00+00:00"
ASKED_AT = datetime.fromisoformat("2026-02-25T10:00:00+08:00")
PREPAYMENT_YUAN = Decimal("2127.60")


def at(text: str) -> datetime:
    return datetime.fromisoformat(f"{text}+08:00")


@pytest.fixture
def told_in_february(app: FastAPI, api: LedgerApi) -> Iterator[LedgerApi]:
    """The story above, the clock left standing on 25 February."""
    with freeze_time(at("2025-10-21T10:00:00"), real_asyncio=True) as clock:
        api.household_with_meter(ACCOUNT, SERIAL)
        assert publish(api, effective_from="2025-10-01").status_code == 201
        clock.move_to(at("2025-10-25T10:00:00"))
        run = api.client.post("/billing/runs", json={"kind": "prepayment", "season": "2025-2026"}, headers=api.clerk())
        assert run.status_code == 202, run.text
        clock.move_to(at("2026-01-20T10:00:00"))
        body = {"amount_yuan": "1000", "channel": "bank_transfer", "receipt_number": "R-1"}
        paid = api.client.post(f"/households/{ACCOUNT}/payments", json=body, headers=api.clerk())
        assert paid.status_code == 201, paid.text
        clock.move_to(at("2026-02-02T09:00:00"))
        days = days_from(date(2025, 11, 1), 93)
        api.daily_readings(SERIAL, days, cumulative(Decimal(100), [Decimal("0.2")] * 92))
        clock.move_to(at("2026-02-20T10:00:00"))
        read = "2026-02-01T00:00:00+08:00"
        correction = {
            "measured_at": read,
            "corrected": {"measured_at": read, "energy_gj": "119.4"},
            "reason": "misread",
        }
        corrected = api.client.post(f"/meters/{SERIAL}/reading-corrections", json=correction, headers=api.clerk())
        assert corrected.status_code == 200, corrected.text
        reversal = {"kind": "bounced", "reason": "the transfer came back"}
        reversed_ = api.client.post(
            f"/payments/{paid.json()['payment_id']}/reversal", json=reversal, headers=api.clerk()
        )
        assert reversed_.status_code == 201, reversed_.text
        clock.move_to(ASKED_AT)
        yield api


def known(api: LedgerApi, path: str, known_at: str | None = FEBRUARY_15, role: Role = Role.CLERK, **params: Any) -> Any:
    """GET ``path`` as known at ``known_at`` (None: now); the answer must be a 200."""
    query = {**params, **({"known_at": known_at} if known_at is not None else {})}
    response = api.get(path, role=role, query=query)
    assert response.status_code == 200, response.text
    return response


def january_energy(api: LedgerApi, known_at: str | None) -> Decimal:
    query = {"from": "2026-01-01", "to": "2026-01-31", "granularity": "month"}
    return Decimal(known(api, f"/households/{ACCOUNT}/consumption", known_at, Role.CLERK, **query).json()["energy_gj"])


def test_an_answer_as_known_says_its_moment_and_position(told_in_february: LedgerApi) -> None:
    api = told_in_february
    response = known(api, f"/households/{ACCOUNT}/balance", role=Role.AUDITOR)
    assert response.headers["X-Known-At"] == FEBRUARY_15_UTC
    assert int(response.headers["X-Known-Position"]) > 0
    now = known(api, f"/households/{ACCOUNT}/balance", None)
    assert "X-Known-At" not in now.headers and "X-Known-Position" not in now.headers


def test_the_balance_as_known_on_15_february_ignores_the_reversal_of_20_february(told_in_february: LedgerApi) -> None:
    api = told_in_february
    then = known(api, f"/households/{ACCOUNT}/balance").json()
    assert (Decimal(then["charged_yuan"]), Decimal(then["paid_yuan"])) == (PREPAYMENT_YUAN, Decimal(1000))
    assert Decimal(then["balance_yuan"]) == PREPAYMENT_YUAN - 1000
    now = known(api, f"/households/{ACCOUNT}/balance", None).json()
    assert Decimal(now["balance_yuan"]) == PREPAYMENT_YUAN  # the bounced payment is owed again
    on_the_day = known(api, f"/households/{ACCOUNT}/balance/2026-02-28").json()
    assert (Decimal(on_the_day["reversed_yuan"]), Decimal(on_the_day["balance_yuan"])) == (
        Decimal(0),
        PREPAYMENT_YUAN - 1000,
    )
    assert Decimal(known(api, f"/households/{ACCOUNT}/balance/2026-02-28", None).json()["reversed_yuan"]) == 1000


def test_the_account_and_the_payments_as_known(told_in_february: LedgerApi) -> None:
    api = told_in_february
    then = known(api, f"/households/{ACCOUNT}/account").json()
    assert [Decimal(charge["open_yuan"]) for charge in then["open_charges"]] == [PREPAYMENT_YUAN - 1000]
    now = known(api, f"/households/{ACCOUNT}/account", None).json()
    assert [Decimal(charge["open_yuan"]) for charge in now["open_charges"]] == [PREPAYMENT_YUAN]
    (payment,) = known(api, f"/households/{ACCOUNT}/payments").json()["items"]
    assert payment["reversed_on"] is None
    (payment,) = known(api, f"/households/{ACCOUNT}/payments", None).json()["items"]
    assert payment["reversed_on"] == "2026-02-20"


def test_january_as_known_on_15_february_ignores_the_correction_of_20_february(told_in_february: LedgerApi) -> None:
    api = told_in_february
    assert january_energy(api, FEBRUARY_15) == Decimal("6.2")  # 31 days × 0.2 GJ, as read
    assert january_energy(api, None) == Decimal("7.2")
    # The default range is the season to date of the moment asked about.
    response = known(api, f"/households/{ACCOUNT}/consumption", FEBRUARY_15)
    assert (response.json()["from_day"], response.json()["to_day"]) == ("2025-11-01", "2026-02-15")


def test_bills_as_known_and_as_of(told_in_february: LedgerApi) -> None:
    api = told_in_february
    (bill,) = known(api, f"/households/{ACCOUNT}/bills", None).json()["items"]
    assert bill["issued_on"] == "2025-10-25"
    assert known(api, f"/households/{ACCOUNT}/bills", "2025-10-25T09:59:59+08:00").json()["total"] == 0
    assert known(api, f"/households/{ACCOUNT}/bills", FEBRUARY_15).json()["items"] == [bill]
    assert known(api, f"/households/{ACCOUNT}/bills", None, as_of="2025-10-24").json()["total"] == 0
    assert known(api, f"/households/{ACCOUNT}/bills", None, as_of="2025-10-25").json()["total"] == 1


def test_a_bill_as_known_before_its_issue_is_not_found(told_in_february: LedgerApi) -> None:
    api = told_in_february
    (bill,) = known(api, f"/households/{ACCOUNT}/bills", None).json()["items"]
    path = f"/bills/{bill['bill_id']}"
    assert_problem(api.get(path, query={"known_at": "2025-10-25T09:59:59+08:00"}), 404, "not_found")
    issued = known(api, path, "2025-10-25T10:00:00+08:00")
    assert issued.json() == known(api, path, None).json()
    assert issued.headers["X-Known-At"] == "2025-10-25T02:00:00+00:00"


def test_the_aging_as_known_needs_a_community(told_in_february: LedgerApi) -> None:
    api = told_in_february
    problem = assert_problem(api.get("/arrears/aging", query={"known_at": FEBRUARY_15}), 422, "invalid_input")
    assert problem["errors"][0]["code"] == "known_at_needs_community"
    assert problem["errors"][0]["field"] == "community"
    then = known(api, "/arrears/aging", community=COMMUNITY).json()
    assert then["as_of"] == "2026-02-15"  # the day of known_at
    assert Decimal(then["totals"]["total_yuan"]) == PREPAYMENT_YUAN - 1000
    now = known(api, "/arrears/aging", None, community=COMMUNITY, as_of="2026-02-15").json()
    assert Decimal(now["totals"]["total_yuan"]) == PREPAYMENT_YUAN


def test_before_the_household_was_registered_it_is_not_found(told_in_february: LedgerApi) -> None:
    api = told_in_february
    before = {"known_at": "2025-10-21T09:59:59+08:00"}
    for path in ("balance", "balance/2026-01-31", "account", "payments", "consumption", "bills"):
        assert_problem(api.get(f"/households/{ACCOUNT}/{path}", query=before), 404, "not_found")


def test_a_moment_ahead_is_now(told_in_february: LedgerApi) -> None:
    api = told_in_february
    ahead = known(api, f"/households/{ACCOUNT}/balance", "2030-01-01T00:00:00Z")
    assert datetime.fromisoformat(ahead.headers["X-Known-At"]) == ASKED_AT
    assert ahead.json() == known(api, f"/households/{ACCOUNT}/balance", None).json()


@pytest.mark.parametrize(
    ("value", "code"),
    [
        ("2026-02-15T12:00:00", "timezone_aware"),
        ("yesterday", "datetime_parsing"),
        ("86400", "datetime_parsing"),
        ("0001-01-01T00:00:00+08:00", "datetime_out_of_range"),
    ],
)
def test_a_known_at_without_a_zone_or_beyond_the_calendar_is_refused(api: LedgerApi, value: str, code: str) -> None:
    problem = assert_problem(
        api.get(f"/households/{ACCOUNT}/balance", query={"known_at": value}), 422, "validation_failed"
    )
    assert (problem["errors"][0]["field"], problem["errors"][0]["code"]) == ("known_at", code)
