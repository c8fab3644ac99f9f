"""The resolution letter over HTTP, on both backends: customer service resolves WZ-0001's dispute
(its corrected last reading gives 4.39 元 back), the letter goes to the household's e-mail contact in
English with the PDF attached, and `GET /disputes/{id}/letter` gives the same PDF (or the Chinese
one on request); sending it again writes nothing; problems for a dispute still open or unknown."""

from __future__ import annotations

import io
from typing import Any
from uuid import UUID

import pypdf

from application.authorization import Role
from tests.e2e.conftest import LedgerApi, assert_problem
from tests.e2e.test_api_billing import Clock, after_season  # noqa: F401  (after_season is a fixture)
from tests.e2e.test_api_disputes import correct_last_reading, dispute_body, service, settled, step


def pdf_text(content: bytes) -> str:
    return "\n".join(page.extract_text() for page in pypdf.PdfReader(io.BytesIO(content)).pages)


def resolved_dispute(api: LedgerApi) -> str:
    settlement = settled(api)
    correct_last_reading(api)
    contact = {"channel": "email", "address": "wang.fang@example.cn", "language": "en"}
    assert api.client.put("/households/WZ-0001/contact", json=contact, headers=api.clerk()).status_code == 200
    opened = api.client.post("/disputes", json=dispute_body(), headers=service(api))
    dispute_id: str = opened.json()["dispute_id"]
    assert step(api, dispute_id, kind="recompute", bill_id=settlement["bill_id"]).status_code == 201
    resolution = {"outcome": "upheld", "reason": "the display shows 130.1 GJ"}
    resolved = api.client.post(f"/disputes/{dispute_id}/resolution", json=resolution, headers=service(api))
    assert resolved.json()["state"] == "resolved_upheld", resolved.text
    return dispute_id


def letter(api: LedgerApi, dispute_id: str, role: Role = Role.CUSTOMER_SERVICE, language: str | None = None) -> Any:
    return api.client.get(f"/disputes/{dispute_id}/letter", headers=api.tokens.headers(role, language))


def test_the_letter_is_sent_once_and_fetched_as_the_same_pdf(api: LedgerApi, after_season: Clock) -> None:  # noqa: F811
    dispute_id = resolved_dispute(api)

    notifications = api.get("/notifications", account_number="WZ-0001").json()
    [sent] = [item for item in notifications["items"] if item["kind"] == "dispute_letter"]
    assert (sent["channel"], sent["language"], sent["amount_yuan"]) == ("email", "en", "-4.39")
    assert sent["subject"] == "[热力公司] Result of your heating bill dispute KF-0416-01"

    fetched = letter(api, dispute_id, Role.AUDITOR)
    assert fetched.status_code == 200, fetched.text
    assert fetched.headers["content-type"] == "application/pdf"
    assert fetched.headers["content-language"] == "en"  # the contact's language
    assert fetched.headers["content-disposition"] == 'inline; filename="dispute-letter-KF-0416-01-en.pdf"'
    outbox = api.client.app.state.container.outbox  # type: ignore[attr-defined]
    attached = outbox.message(UUID(sent["message_id"])).attachments
    assert attached[0].content == fetched.content
    text = pdf_text(fetched.content)
    assert "Outcome: upheld. Reason: the display shows 130.1 GJ" in text and "-4.39 yuan (credit)" in text

    chinese = letter(api, dispute_id, language="zh-CN,zh;q=0.9")
    assert (chinese.headers["content-language"], chinese.headers["vary"]) == ("zh", "Accept-Language")
    assert "争议成立" in pdf_text(chinese.content) and "贷项调整单" in pdf_text(chinese.content)

    again = api.client.post(f"/disputes/{dispute_id}/letter", headers=service(api))
    assert again.status_code == 200, again.text
    assert (again.json()["written"], again.json()["skip"]) == (False, "dispute_letter_already_written")
    assert (
        api.client.post(f"/disputes/{dispute_id}/letter", headers=api.tokens.headers(Role.AUDITOR)).status_code == 403
    )


def test_problems(api: LedgerApi, after_season: Clock) -> None:  # noqa: F811
    settled(api)
    opened = api.client.post("/disputes", json=dispute_body(), headers=service(api)).json()["dispute_id"]
    still_open = assert_problem(letter(api, opened, language="en"), 409, "conflict")
    assert still_open["detail"].startswith("The dispute KF-0416-01 is open: only a dispute resolved")
    assert letter(api, opened, language="zh").json()["detail"].startswith("争议 KF-0416-01 当前状态为 open")
    assert_problem(letter(api, "00000000-0000-4000-8000-000000000000"), 404, "not_found")
    assert_problem(letter(api, "not-a-dispute"), 404, "route_not_found")  # an id is a UUID
    assert api.client.get(f"/disputes/{opened}/letter").status_code == 401
