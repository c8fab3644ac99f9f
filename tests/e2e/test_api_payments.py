"""Counter payments, reversals, refunds and the payment reports over HTTP, on both backends.

A household of 98.50 m² is invoiced 98.50 × 21.6 = 2127.60 元 for the 2025-2026 season (the
prepayment run on 10 December 2025, the tests' frozen day).
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

import pytest

from application.authorization import Role
from infrastructure.container import Container
from tests.e2e.conftest import LedgerApi, Tokens, assert_problem

PREPAYMENT = Decimal("2127.60")


def tariff() -> dict[str, Any]:
    return {
        "customer_class": "residential",
        "scope": "*",
        "area_price_yuan_per_m2": "21.6",
        "base_share_percent": "30",
        "energy_price_yuan_per_gj": "43.9",
        "policy": "refund_only",
        "effective_from": "2025-10-01",
        "document_number": "吴价发〔2025〕12号",
        "approved_on": "2025-09-15",
    }


@pytest.fixture
def invoiced(api: LedgerApi, frozen_now: datetime) -> LedgerApi:
    """WZ-0001 registered, the tariff published and the season's prepayment invoiced."""
    assert api.register_household("WZ-0001").status_code == 201
    assert api.client.post("/tariffs", json=tariff(), headers=api.tokens.headers(Role.ADMIN)).status_code == 201
    run = api.client.post("/billing/runs", json={"kind": "prepayment", "season": "2025-2026"}, headers=api.clerk())
    assert run.status_code == 202, run.text
    assert api.get(run.headers["Location"]).json()["summary"]["bills_issued"] == 1
    return api


def pay(api: LedgerApi, amount: str, receipt: str, headers: dict[str, str] | None = None, **extra: Any) -> Any:
    body = {"amount_yuan": amount, "channel": "cash", "receipt_number": receipt, **extra}
    return api.client.post("/households/WZ-0001/payments", json=body, headers=headers or api.clerk())


def account(api: LedgerApi) -> dict[str, Any]:
    response = api.get("/households/WZ-0001/account")
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def test_a_counter_payment_is_booked_once_and_settles_the_prepayment(invoiced: LedgerApi) -> None:
    api = invoiced
    first = pay(api, "1000", "R-0001")
    assert first.status_code == 201, first.text
    assert (first.json()["recorded"], first.json()["amount_yuan"]) == (True, "1000.00")
    again = pay(api, "1000.00", "R-0001")  # the clerk pressed twice
    assert again.status_code == 200 and again.json()["recorded"] is False
    assert again.json()["payment_id"] == first.json()["payment_id"]
    assert_problem(pay(api, "999", "R-0001"), 409, "conflict")  # the same receipt, another amount

    state = account(api)
    assert [(line["charge_kind"], line["amount_yuan"]) for line in state["allocations"]] == [("bill", "1000.00")]
    assert [charge["open_yuan"] for charge in state["open_charges"]] == [str(PREPAYMENT - 1000)]  # 1127.60
    # An overpayment: 2000 more settles the 1127.60 still open and leaves 872.40 of credit.
    assert pay(api, "2000", "R-0002").status_code == 201
    state = account(api)
    assert state["open_charges"] == [] and state["credit_yuan"] == "872.40"
    payments = api.get("/households/WZ-0001/payments").json()
    assert (payments["total"], [item["reference"] for item in payments["items"]]) == (2, ["R-0002", "R-0001"])


@pytest.mark.parametrize(
    ("amount", "extra", "key"),
    [
        ("0", {}, "amount_not_positive"),
        ("-5", {}, "amount_not_positive"),
        ("12.345", {}, "amount_too_precise"),
        ("10", {"currency": "USD"}, "currency_unsupported"),
        ("1000000.01", {}, "amount_too_large"),
    ],
)
def test_a_bad_amount_is_refused_and_nothing_is_booked(
    invoiced: LedgerApi, amount: str, extra: dict[str, str], key: str
) -> None:
    problem = assert_problem(pay(invoiced, amount, "R-BAD", **extra), 422, "invalid_input")
    assert problem["errors"][0]["code"] == key
    assert invoiced.get("/households/WZ-0001/payments").json()["total"] == 0


def test_a_reversal_reopens_what_the_payment_settled(invoiced: LedgerApi) -> None:
    api = invoiced
    payment_id = pay(api, "500", "R-0003", channel="bank_transfer").json()["payment_id"]
    reversal = {"kind": "bounced", "reason": "the transfer came back"}
    assert api.client.post(f"/payments/{payment_id}/reversal", json=reversal, headers=api.clerk()).status_code == 201
    assert_problem(
        api.client.post(f"/payments/{payment_id}/reversal", json=reversal, headers=api.clerk()), 409, "conflict"
    )
    assert account(api)["allocations"] == []
    balance = api.get("/households/WZ-0001/balance/2025-12-10").json()
    # Charged 2127.60, paid 500.00, reversed 500.00: 2127.60 owed.
    assert (balance["paid_yuan"], balance["reversed_yuan"], balance["balance_yuan"]) == ("500.00", "500.00", "2127.60")
    journal = api.get("/payments/journal", day="2025-12-10").json()["items"]
    assert [(row["channel"], row["actor"], row["payments"], row["net_yuan"]) for row in journal] == [
        ("bank_transfer", "e2e-clerk", 1, "0.00")
    ]


def test_arrears_aging_and_collection_rate(invoiced: LedgerApi) -> None:
    api = invoiced
    assert pay(api, "127.60", "R-0004").status_code == 201
    # Invoiced on 10 December, after the season began, the prepayment falls due that day: on the
    # 10th the 2000.00 still open is 0 days past due, on 1 February 53 days.
    aging = api.get("/arrears/aging", as_of="2025-12-10").json()
    assert aging["totals"]["days_0_30_yuan"] == "2000.00" and aging["totals"]["households"] == 1
    later = api.get("/arrears/aging", as_of="2026-02-01").json()["items"]
    assert [(row["account_number"], row["days_31_90_yuan"], row["total_yuan"]) for row in later] == [
        ("WZ-0001", "2000.00", "2000.00")
    ]
    rates = api.get("/collection-rates", season="2025-2026").json()["items"]
    # 127.60 of 2127.60 collected: 6.00 %.
    assert [(row["building"], row["collected_yuan"], row["rate_percent"]) for row in rates] == [("1", "127.60", "6.00")]


def test_a_refund_is_paid_out_only_after_a_second_persons_approval(
    invoiced: LedgerApi, container: Container, tokens: Tokens
) -> None:
    api = invoiced
    assert pay(api, "2500", "R-0005").status_code == 201  # 372.40 of credit
    too_much = {"request_number": "RF-1", "amount_yuan": "400", "reason": "moving away"}
    problem = assert_problem(
        api.client.post("/households/WZ-0001/refunds", json=too_much, headers=api.clerk()), 422, "invalid_input"
    )
    assert problem["errors"][0]["code"] == "refund_exceeds_credit"
    request = {"request_number": "RF-1", "amount_yuan": "372.40", "reason": "moving away"}
    created = api.client.post("/households/WZ-0001/refunds", json=request, headers=api.clerk())
    assert created.status_code == 201 and created.json()["status"] == "requested"
    refund_id = created.json()["refund_id"]
    # The credit is spoken for by RF-1 until it is paid out or rejected: a second request is refused.
    second = {"request_number": "RF-2", "amount_yuan": "1", "reason": "again"}
    refused = api.client.post("/households/WZ-0001/refunds", json=second, headers=api.clerk())
    assert assert_problem(refused, 422, "invalid_input")["errors"][0]["code"] == "refund_exceeds_credit"
    payout = {"bank_reference": "BK-77"}
    assert_problem(api.client.post(f"/refunds/{refund_id}/payout", json=payout, headers=api.clerk()), 409, "conflict")
    same_person = api.client.post(f"/refunds/{refund_id}/approval", json={}, headers=api.clerk())
    assert assert_problem(same_person, 403, "permission_denied")["code"] == "permission_denied"
    second_clerk = {"Authorization": f"Bearer {container.tokens.create('clerk-zhao', Role.CLERK).secret}"}
    approved = api.client.post(f"/refunds/{refund_id}/approval", json={"reason": "checked"}, headers=second_clerk)
    assert approved.status_code == 200 and approved.json()["status"] == "approved"
    paid = api.client.post(f"/refunds/{refund_id}/payout", json=payout, headers=api.clerk())
    assert paid.status_code == 200 and paid.json()["status"] == "paid"
    state = account(api)
    assert state["credit_yuan"] == "0.00" and state["open_charges"] == []
    # Charged 2127.60 + the payout 372.40, paid 2500.00: nothing owed either way.
    assert api.get("/households/WZ-0001/balance/2025-12-10").json()["balance_yuan"] == "0.00"


def test_auditors_read_payments_but_do_not_take_them(invoiced: LedgerApi, tokens: Tokens) -> None:
    assert_problem(pay(invoiced, "10", "R-AUD", headers=tokens.headers(Role.AUDITOR)), 403, "permission_denied")
    assert invoiced.get("/households/WZ-0001/payments", role=Role.AUDITOR).status_code == 200
