"""Reads the counter works from, over HTTP on both backends: one payment with what it settles (a
receipt), the day's payments behind the journal's totals, and refund payouts awaiting a second
person.

WZ-0001 is invoiced 2127.60 元 for the 2025-2026 season on 10 December 2025 (the frozen day).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from typing import Any

from freezegun import freeze_time

from application.authorization import Role
from infrastructure.container import Container
from tests.e2e.conftest import NOW, LedgerApi, assert_problem
from tests.e2e.test_api_payments import invoiced, pay

__all__ = ["invoiced"]  # the fixture, used by name


@contextmanager
def minutes_later(minutes: int) -> Iterator[None]:
    """The clock a few minutes after NOW: payments are received, and allocated, in that order."""
    with freeze_time(NOW + timedelta(minutes=minutes), real_asyncio=True):
        yield


def test_a_payment_shows_what_it_settles_and_what_is_left_as_credit(invoiced: LedgerApi) -> None:
    api = invoiced
    first = pay(api, "1000", "R-0001").json()["payment_id"]
    with minutes_later(5):
        second = pay(api, "1500", "R-0002", channel="card").json()["payment_id"]
    receipt = api.get(f"/payments/{second}").json()
    # 1000.00 settled part of the 2127.60 bill; 1127.60 of the 1500.00 settles the rest, 372.40 is credit.
    assert (receipt["reference"], receipt["channel"], receipt["actor"]) == ("R-0002", "card", "e2e-clerk")
    assert [(line["charge_kind"], line["amount_yuan"]) for line in receipt["allocations"]] == [("bill", "1127.60")]
    assert receipt["allocations"][0]["bill_number"]
    assert receipt["credit_yuan"] == "372.40"
    # Reversing the first payment re-allocates: the second now settles 1500.00 of the bill.
    reversal = {"kind": "error", "reason": "recorded twice"}
    assert api.client.post(f"/payments/{first}/reversal", json=reversal, headers=api.clerk()).status_code == 201
    moved = api.get(f"/payments/{second}").json()
    assert ([line["amount_yuan"] for line in moved["allocations"]], moved["credit_yuan"]) == (["1500.00"], "0.00")
    reversed_ = api.get(f"/payments/{first}").json()
    assert (reversed_["reversal_kind"], reversed_["allocations"], reversed_["credit_yuan"]) == ("error", [], "0.00")


def test_an_unknown_payment_or_refund_is_a_404_and_a_bad_id_a_422(invoiced: LedgerApi) -> None:
    unknown = "00000000-0000-0000-0000-000000000001"
    assert_problem(invoiced.get(f"/payments/{unknown}"), 404, "not_found")
    assert_problem(invoiced.get(f"/refunds/{unknown}"), 404, "not_found")
    assert_problem(invoiced.get("/refunds", status="lost"), 422, "validation_failed")
    # /payments/journal and /payments/orders stay what they are: never read as a payment's id.
    assert invoiced.get("/payments/journal").status_code == 200
    assert invoiced.get("/payments/orders").status_code == 200


def test_the_days_payments_are_the_lines_behind_the_journals_totals(invoiced: LedgerApi, container: Container) -> None:
    api = invoiced
    other_clerk = {"Authorization": f"Bearer {container.tokens.create('clerk-zhao', Role.CLERK).secret}"}
    for minutes, (amount, receipt, extra) in enumerate(
        [("300", "R-0001", {}), ("200", "R-0002", {"channel": "card"}), ("100", "R-0003", {"headers": other_clerk})]
    ):
        with minutes_later(minutes):
            assert pay(api, amount, receipt, **extra).status_code == 201
    day: dict[str, Any] = api.get("/payments", day="2025-12-10").json()
    assert (day["day"], day["total"]) == ("2025-12-10", 3)
    assert [item["reference"] for item in day["items"]] == ["R-0001", "R-0002", "R-0003"]
    mine = api.get("/payments", day="2025-12-10", clerk="e2e-clerk", channel="cash").json()
    assert [item["amount_yuan"] for item in mine["items"]] == ["300.00"]
    paged = api.get("/payments", day="2025-12-10", limit="2", offset="2").json()
    assert (paged["total"], [item["reference"] for item in paged["items"]]) == (3, ["R-0003"])
    assert api.get("/payments", day="2025-12-09").json()["items"] == []
    # Readers read them; the date must be a date.
    assert api.get("/payments", role=Role.AUDITOR).status_code == 200
    assert_problem(api.get("/payments", day="10.12.2025"), 422, "validation_failed")


def test_refunds_are_listed_by_status_until_a_second_person_decides(invoiced: LedgerApi, container: Container) -> None:
    api = invoiced
    pay(api, "2500", "R-0005")  # 372.40 of credit
    request = {"request_number": "RF-1", "amount_yuan": "300", "reason": "moving away"}
    refund_id = api.client.post("/households/WZ-0001/refunds", json=request, headers=api.clerk()).json()["refund_id"]
    waiting = api.get("/refunds", status="requested").json()
    assert waiting["total"] == 1
    assert {key: waiting["items"][0][key] for key in ("request_number", "amount_yuan", "requested_by")} == {
        "request_number": "RF-1",
        "amount_yuan": "300.00",
        "requested_by": "e2e-clerk",
    }
    second_clerk = {"Authorization": f"Bearer {container.tokens.create('clerk-zhao', Role.CLERK).secret}"}
    assert api.client.post(f"/refunds/{refund_id}/approval", json={}, headers=second_clerk).status_code == 200
    assert api.get("/refunds", status="requested").json()["total"] == 0
    approved = api.get(f"/refunds/{refund_id}").json()
    assert (approved["status"], approved["approved_by"], approved["paid_on"]) == ("approved", "clerk-zhao", None)
    payout = {"bank_reference": "BK-77"}
    assert api.client.post(f"/refunds/{refund_id}/payout", json=payout, headers=api.clerk()).status_code == 200
    paid = api.get("/refunds", account_number="WZ-0001", role=Role.AUDITOR).json()["items"]
    assert [(item["status"], item["paid_on"], item["reference"]) for item in paid] == [("paid", "2025-12-10", "BK-77")]
    assert api.get("/refunds", account_number="WZ-0002").json()["total"] == 0
