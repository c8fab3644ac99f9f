"""Disputes over HTTP, on both backends: customer service opens a dispute about a reading, links
the reading's correction, attaches the recompute of the settlement and proposes the credit note; a
clerk approves it and the note is on the household's bills and account. Lists, the household's
disputes, the account's disputed and undisputed amounts, problems in both languages, and who may
do what.

WZ-0001 (98.50 m², meter HM-1 read 0.2 GJ a day) is prepaid 2127.60 元 and settled 163.54 元 back.
Its last reading (1 Apr 00:00, 130.2 GJ) is corrected to 130.1 GJ: the settlement recomputed gives
0.1 × 43.9 = 4.39 元 more back.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

from application.authorization import Role
from tests.e2e.conftest import LedgerApi, assert_problem, shanghai_midnight
from tests.e2e.test_api_bill_replays import settled
from tests.e2e.test_api_billing import (  # noqa: F401  (after_season is a fixture)
    Clock,
    after_season,
    bills,
    of_kind,
)

LAST_READING = shanghai_midnight(date(2026, 4, 1))


def service(api: LedgerApi, language: str | None = None) -> dict[str, str]:
    return api.tokens.headers(Role.CUSTOMER_SERVICE, language)


def dispute_body(**changes: Any) -> dict[str, Any]:
    body = {
        "account_number": "WZ-0001",
        "subject": {"kind": "reading", "meter_serial": "HM-1", "measured_at": LAST_READING},
        "category": "reading_wrong",
        "description": "表上显示 130.1 GJ，账单按 130.2 GJ 结算",
        "disputed_amount_yuan": "4.39",
        "channel": "wechat",
        "reference": "KF-0416-01",
    }
    return body | changes


def correct_last_reading(api: LedgerApi) -> str:
    """The clerk corrects the last reading; the receipt's correlation id."""
    correction = {
        "measured_at": LAST_READING,
        "corrected": {"measured_at": LAST_READING, "energy_gj": "130.1", "source": "manual"},
        "reason": "read off the display",
    }
    response = api.client.post("/meters/HM-1/reading-corrections", json=correction, headers=api.clerk())
    assert response.status_code == 200, response.text
    correlation_id: str = response.json()["correlation_id"]
    return correlation_id


def step(api: LedgerApi, dispute_id: str, role: Role = Role.CUSTOMER_SERVICE, **body: Any) -> Any:
    return api.client.post(f"/disputes/{dispute_id}/steps", json=body, headers=api.tokens.headers(role))


def test_a_dispute_from_opening_to_the_approved_credit_note(api: LedgerApi, after_season: Clock) -> None:  # noqa: F811
    settlement = settled(api)
    correction = correct_last_reading(api)
    before_dispute = datetime.now(UTC).isoformat()
    after_season.tick(60)

    opened = api.client.post("/disputes", json=dispute_body(), headers=service(api))
    assert opened.status_code == 201, opened.text
    dispute_id = opened.json()["dispute_id"]
    retried = api.client.post("/disputes", json=dispute_body(), headers=service(api))
    assert (retried.status_code, retried.json()["dispute_id"], retried.json()["created"]) == (200, dispute_id, False)

    note = step(api, dispute_id, kind="household_note", message="已受理，三个工作日内答复", channel="wechat")
    assert note.status_code == 201, note.text
    assert note.json()["state"] == "investigating"
    linked = step(
        api,
        dispute_id,
        kind="reading_corrected",
        meter_serial="HM-1",
        measured_at=LAST_READING,
        correction_correlation_id=correction,
    )
    assert linked.status_code == 201, linked.text
    recompute = step(api, dispute_id, kind="recompute", bill_id=settlement["bill_id"])
    assert recompute.status_code == 201, recompute.text
    assert recompute.json()["details"]["difference_yuan"] == "-4.39"

    account = api.get("/households/WZ-0001/account").json()
    open_yuan = sum(Decimal(charge["open_yuan"]) for charge in account["open_charges"])
    assert (Decimal(account["disputed_yuan"]), Decimal(account["undisputed_yuan"])) == (
        Decimal("4.39"),
        open_yuan - Decimal("4.39"),
    )

    # As the ledger knew the account before the dispute: nothing disputed.
    known = api.get("/households/WZ-0001/account", known_at=before_dispute).json()
    assert (known["disputed_yuan"], Decimal(known["undisputed_yuan"])) == ("0.00", open_yuan)

    # A note above 1.00 元 waits for a second person.
    api.client.app.state.container.settings.dispute_second_approval_yuan = Decimal("1.00")  # type: ignore[attr-defined]
    resolution = {"outcome": "upheld", "reason": "the display shows 130.1 GJ"}
    proposed = api.client.post(f"/disputes/{dispute_id}/resolution", json=resolution, headers=service(api))
    assert proposed.status_code == 200, proposed.text
    assert (proposed.json()["state"], proposed.json()["awaiting_approval"], proposed.json()["note_amount_yuan"]) == (
        "resolution_proposed",
        True,
        "-4.39",
    )
    approval = {"decision": "approve", "reason": "checked the correction"}
    path = f"/disputes/{dispute_id}/resolution/approval"
    assert_problem(api.client.post(path, json=approval, headers=service(api)), 403, "permission_denied")
    approved = api.client.post(path, json=approval, headers=api.clerk())
    assert approved.status_code == 200, approved.text
    outcome = approved.json()
    assert (outcome["state"], outcome["note_amount_yuan"], outcome["awaiting_approval"]) == (
        "resolved_upheld",
        "-4.39",
        False,
    )

    [adjustment] = of_kind(bills(api, "WZ-0001"), "adjustment")
    assert (adjustment["bill_id"], adjustment["number"], adjustment["amount_yuan"]) == (
        outcome["note_bill_id"],
        outcome["note_number"],
        "-4.39",
    )
    account = api.get("/households/WZ-0001/account").json()
    assert (account["disputed_yuan"], Decimal(account["undisputed_yuan"])) == ("0.00", open_yuan - Decimal("4.39"))

    detail = api.get(f"/disputes/{dispute_id}", role=Role.AUDITOR).json()
    assert [item["kind"] for item in detail["steps"]] == [
        "opened",
        "household_informed",
        "reading_corrected",
        "recompute_attached",
        "resolution_proposed",
        "resolution_approved",
    ]
    assert (detail["state"], detail["approved_by"], detail["proposed_by"]) == (
        "resolved_upheld",
        "e2e-clerk",
        "e2e-customer_service",
    )
    assert detail["first_response_at"] == detail["steps"][1]["recorded_at"]
    assert detail["recompute_difference_yuan"] == "-4.39" and detail["age_days"] == 0
    withdrawn = api.client.post(f"/disputes/{dispute_id}/withdrawal", json={"reason": "late"}, headers=service(api))
    assert_problem(withdrawn, 409, "conflict")


def test_lists_by_state_category_and_household(api: LedgerApi, after_season: Clock) -> None:  # noqa: F811
    settled(api)
    first = api.client.post("/disputes", json=dispute_body(), headers=service(api)).json()["dispute_id"]
    after_season.tick(60)  # listed by when they were opened
    payment = dispute_body(
        subject={"kind": "payment", "payment_reference": "WX-20260301-9"},
        category="payment_not_credited",
        disputed_amount_yuan="100.00",
        channel="counter",
        reference="KF-0416-02",
    )
    second = api.client.post("/disputes", json=payment, headers=service(api)).json()["dispute_id"]
    withdrawal = {"reason": "found the receipt"}
    assert api.client.post(f"/disputes/{second}/withdrawal", json=withdrawal, headers=service(api)).status_code == 200

    def listed(**params: Any) -> list[str]:
        response = api.get("/disputes", role=Role.AUDITOR, **params)
        assert response.status_code == 200, response.text
        return [item["dispute_id"] for item in response.json()["items"]]

    assert listed() == [first, second]
    assert listed(open="true") == [first]
    assert listed(state="withdrawn") == [second]
    assert listed(category="reading_wrong") == [first]
    assert listed(community="碧桂园", min_days_open=0, max_days_open=0) == [first, second]
    assert listed(min_days_open=1) == []
    assert listed(limit=1, offset=1) == [second]
    mine = api.get("/households/WZ-0001/disputes", open="true").json()
    assert (mine["open_disputes"], mine["disputed_yuan"], mine["total"]) == (1, "4.39", 1)
    assert api.get("/disputes", state="nonsense").status_code == 422


def test_problems_and_permissions(api: LedgerApi, after_season: Clock) -> None:  # noqa: F811
    settled(api)
    denied = api.client.post("/disputes", json=dispute_body(), headers=api.tokens.headers(Role.AUDITOR))
    assert_problem(denied, 403, "permission_denied")
    nothing = api.client.post("/disputes", json=dispute_body(disputed_amount_yuan="0"), headers=service(api, "en"))
    problem = assert_problem(nothing, 422, "invalid_input")
    assert problem["detail"] == "Give the disputed amount: only a poor-heating dispute disputes 0 元."
    chinese = api.client.post("/disputes", json=dispute_body(disputed_amount_yuan="0"), headers=service(api))
    assert assert_problem(chinese, 422, "invalid_input")["detail"].startswith("请填写争议金额")
    other_meter = dispute_body(subject={"kind": "reading", "meter_serial": "NOPE-1", "measured_at": LAST_READING})
    assert_problem(api.client.post("/disputes", json=other_meter, headers=service(api)), 422, "invalid_input")
    unknown = dispute_body(account_number="WZ-9999")
    assert_problem(api.client.post("/disputes", json=unknown, headers=service(api)), 404, "not_found")
    assert_problem(api.get("/disputes/00000000-0000-4000-8000-000000000000"), 404, "not_found")
    # The bare dispute flag of old is no longer opened: disputes carry what they dispute.
    bare = api.client.post("/households/WZ-0001/disputes", json={"reason": "too high"}, headers=service(api))
    assert_problem(bare, 405, "method_not_allowed")

    dispute_id = api.client.post("/disputes", json=dispute_body(), headers=service(api)).json()["dispute_id"]
    assert step(api, dispute_id, kind="teleport").status_code == 422
    unknown_correction = step(
        api,
        dispute_id,
        kind="reading_corrected",
        meter_serial="HM-1",
        measured_at=LAST_READING,
        correction_correlation_id="00000000-0000-4000-8000-000000000001",
    )
    assert_problem(unknown_correction, 404, "not_found")
    upheld = {"outcome": "upheld", "reason": "looks right"}
    no_recompute = api.client.post(f"/disputes/{dispute_id}/resolution", json=upheld, headers=service(api, "en"))
    assert "Attach a recompute" in assert_problem(no_recompute, 409, "conflict")["detail"]
    rejected = api.client.post(
        f"/disputes/{dispute_id}/resolution",
        json={"outcome": "rejected", "reason": "the display showed 130.2 GJ on the photo"},
        headers=service(api),
    )
    assert rejected.status_code == 200 and rejected.json()["state"] == "rejected"
    no_proposal = api.client.post(
        f"/disputes/{dispute_id}/resolution/approval", json={"decision": "approve"}, headers=api.clerk()
    )
    assert_problem(no_proposal, 409, "conflict")
