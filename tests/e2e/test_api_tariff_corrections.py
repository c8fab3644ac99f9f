"""Tariff corrections over HTTP, on both backends: an administrator proposes the correction the
price bureau made after the season, previews it (202, a job), a second administrator approves it,
the run books the note (202, a job), the note is explained with its source and document, the
tariff's history shows the correction, and running again books nothing more.

The household (tests/e2e/test_api_billing.py): 98.50 m², 30.2 GJ over the season, city tariff
21.6 元/m², base 30 %, 43.9 元/GJ, refund only: metered 638.28 + 1325.78 = 1964.06 against the
area fee 2127.60. At 40 元/GJ the energy part is 30.2 × 40 = 1208.00: 117.78 less, a credit note.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from application.authorization import Role
from infrastructure.container import Container
from tests.e2e.conftest import LedgerApi, assert_problem
from tests.e2e.test_api_billing import Clock, after_season, finished_run, metered_household, publish

__all__ = ["after_season"]  # the fixture, imported for these tests

D = Decimal
DOCUMENT = "许发改价格〔2026〕12号"
CORRECTION = {
    "customer_class": "residential",
    "scope": "*",
    "version": 1,
    "document_number": DOCUMENT,
    "approved_on": "2026-04-05",
    "seasons": ["2025-2026"],
    "reason": "物价局核减 2025-2026 采暖季计量热价",
    "energy_price_yuan_per_gj": "40.00",
}


def settled_season(api: LedgerApi) -> None:
    assert publish(api).status_code == 201
    metered_household(api, "BGY-1", "M-1")
    for kind in ("prepayment", "settlement"):
        assert finished_run(api, kind)["status"] == "done"


def second_admin(container: Container) -> dict[str, str]:
    return {"Authorization": f"Bearer {container.tokens.create('e2e-admin-2', Role.ADMIN).secret}"}


def post(
    api: LedgerApi,
    path: str,
    body: dict[str, Any] | None = None,
    role: Role = Role.ADMIN,
    headers: dict[str, str] | None = None,
) -> Any:
    return api.client.post(path, json=body, headers=headers or api.tokens.headers(role))


def balance(api: LedgerApi) -> Decimal:
    return D(api.get("/households/BGY-1/balance").json()["balance_yuan"])


def test_a_correction_is_proposed_previewed_approved_by_another_and_booked_once(
    api: LedgerApi, after_season: Clock, container: Container
) -> None:
    settled_season(api)
    before = balance(api)

    proposed = post(api, "/tariff-corrections", CORRECTION)
    assert proposed.status_code == 201, proposed.text
    location = proposed.headers["Location"]
    correction = proposed.json()
    assert (correction["state"], correction["corrected"], correction["proposed_by"]) == (
        "proposed",
        {"energy_price_yuan_per_gj": "40.00"},
        "e2e-admin",
    )
    assert post(api, "/tariff-corrections", CORRECTION).status_code == 200  # a retry finds it

    preview = post(api, f"{location}/preview")
    assert preview.status_code == 202, preview.text
    job = api.get(preview.headers["Location"]).json()
    assert (job["kind"], job["status"]) == ("preview", "done"), job
    totals = job["preview"]["totals"]
    assert (totals["households"], totals["notes"], totals["credit_yuan"], totals["net_yuan"]) == (
        1,
        1,
        "-117.78",
        "-117.78",
    )
    (scenario_id,) = job["preview"]["scenario_ids"]
    scenario = api.get(f"/scenarios/{scenario_id}", role=Role.REGULATOR).json()
    assert scenario["summary"]["columns"][1]["totals"]["change_yuan"] == "-117.78"
    planned = api.get(f"{location}/notes").json()["items"]
    assert [(item["account_number"], item["amount_yuan"], item["booked"]) for item in planned] == [
        ("BGY-1", "-117.78", False)
    ]

    own = assert_problem(post(api, f"{location}/approval", {"reason": "mine"}), 403, "permission_denied")
    assert own["params"]["requested_by"] == "e2e-admin"
    early = assert_problem(post(api, f"{location}/run"), 409, "conflict")
    assert early["params"]["state"] == "previewed"
    approved = post(
        api, f"{location}/approval", {"reason": "checked against the document"}, headers=second_admin(container)
    )
    assert approved.status_code == 200, approved.text
    assert (approved.json()["state"], approved.json()["approved_by"]) == ("approved", "e2e-admin-2")

    run = post(api, f"{location}/run", {"reason": "book the notes"})
    assert run.status_code == 202, run.text
    done = api.get(run.headers["Location"]).json()
    assert (done["status"], done["run"]["notes_booked"], done["run"]["completed"]) == ("done", 1, True)
    assert balance(api) == before - D("117.78")

    (note,) = api.get(f"{location}/notes", booked="true").json()["items"]
    explained = api.get(f"/bills/{note['bill_id']}/explain", language="zh").json()
    sentences = " ".join(line["sentence"] for line in explained["lines"])
    assert "热价更正" in sentences and DOCUMENT in sentences
    assert "-117.78" in explained["heading"]
    history = api.get("/tariffs/residential/*/history", role=Role.AUDITOR).json()["items"]
    assert [entry["event_type"] for entry in history] == ["Opened", "VersionPublished", "VersionCorrected"]
    assert DOCUMENT in history[-1]["summary"]
    version = api.get("/tariffs/residential/*").json()
    assert version["items"][0]["terms"]["energy_price_yuan_per_gj"] == "43.90"  # as published

    listed = api.get("/tariff-corrections", role=Role.REGULATOR, state="completed").json()["items"]
    assert [(item["correction_id"], item["booked"]["net_yuan"]) for item in listed] == [
        (correction["correction_id"], "-117.78")
    ]
    again = api.get(post(api, f"{location}/run").headers["Location"]).json()
    assert (again["run"]["notes_booked"], again["run"]["already_booked"]) == (0, 1)
    assert balance(api) == before - D("117.78")


def test_only_administrators_correct_tariffs_and_bad_proposals_say_why(api: LedgerApi, after_season: Clock) -> None:
    settled_season(api)
    assert_problem(post(api, "/tariff-corrections", CORRECTION, role=Role.CLERK), 403, "permission_denied")
    assert_problem(post(api, "/tariff-corrections", CORRECTION, role=Role.REGULATOR), 403, "permission_denied")
    unchanged = {**CORRECTION, "energy_price_yuan_per_gj": "43.9"}
    nothing = assert_problem(
        api.client.post("/tariff-corrections", json=unchanged, headers=api.tokens.headers(Role.ADMIN, language="en")),
        422,
        "invalid_input",
    )
    assert "leaves version 1's price in season 2025-2026 as it is" in nothing["detail"]
    current = {**CORRECTION, "seasons": ["2026-2027"]}
    assert_problem(post(api, "/tariff-corrections", current), 422, "invalid_input")
    missing = {**CORRECTION, "version": 2}
    assert_problem(post(api, "/tariff-corrections", missing), 404, "not_found")
    unknown = assert_problem(api.get("/tariff-corrections/00000000-0000-0000-0000-000000000000"), 404, "not_found")
    assert "热价更正" in unknown["detail"]
