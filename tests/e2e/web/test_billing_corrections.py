"""The tariff correction pages (issue 13) on both backends: an administrator proposes the price
bureau's correction through the form, previews it, a second administrator approves it and books
the notes, each step read back on the correction's page (and the household's balance moved by the
note); the proposer is not offered the approval and is refused it; other roles are offered
nothing and refused everything; a running job is polled until it ends.

The season (tests/e2e/test_api_billing.py): 98.50 m², 30.2 GJ, 43.9 元/GJ, refund only. At 40 元/GJ
the energy part is 117.78 less: one credit note of −117.78 元."""

from __future__ import annotations

import re
from decimal import Decimal
from uuid import UUID

import pytest

from api.routers.tariff_corrections import JOB_NAMES
from application.authorization import SYSTEM, Role
from infrastructure.container import Container
from infrastructure.tariff_corrections import JobKind, submit_preview
from tests.e2e.conftest import LedgerApi
from tests.e2e.test_api_billing import Clock, after_season, finished_run, metered_household, publish
from tests.e2e.web.conftest import WebClient, WebLogin

__all__ = ["after_season"]  # the fixture, imported for these tests

DOCUMENT = "许发改价格〔2026〕12号"
POLLING = 'hx-trigger="every 2s"'


def correction_form(**changes: str) -> dict[str, str]:
    """The proposal form as a browser posts it (the price fields not corrected left blank)."""
    blank = dict.fromkeys(
        ("area_price_yuan_per_m2", "base_share_percent", "policy", "cap_percent", "suspension_share_percent"), ""
    )
    return {
        "customer_class": "residential",
        "scope": "*",
        "version": "1",
        "seasons": "2025-2026",
        "document_number": DOCUMENT,
        "approved_on": "2026-04-05",
        "reason": "物价局核减计量热价",
        "energy_price_yuan_per_gj": "40.00",
        **blank,
        **changes,
    }


def text_of(html: str) -> str:
    return " ".join(re.sub(r"<[^>]+>", " ", html).split())


def settled_season(api: LedgerApi) -> None:
    assert publish(api).status_code == 201
    metered_household(api, "BGY-1", "M-1")
    for kind in ("prepayment", "settlement"):
        assert finished_run(api, kind)["status"] == "done"


def balance(api: LedgerApi) -> Decimal:
    return Decimal(api.get("/households/BGY-1/balance").json()["balance_yuan"])


def propose(admin: WebClient, **changes: str) -> str:
    """Propose through the form; the correction's page address."""
    response = admin.post_form("/ui/tariff-corrections/new", correction_form(**changes), follow_redirects=False)
    assert response.status_code == 303, response.text
    location: str = response.headers["location"]
    return location


def test_a_correction_is_proposed_previewed_approved_by_another_and_booked(
    web_login: WebLogin, api: LedgerApi, after_season: Clock
) -> None:
    settled_season(api)
    before = balance(api)
    proposer = web_login(Role.ADMIN, username="admin-wang")
    assert "/ui/tariff-corrections/new?" in proposer.get("/ui/tariffs/residential/%2A").text
    prefilled = proposer.get("/ui/tariff-corrections/new?customer_class=residential&scope=*").text
    assert 'name="version" type="text" value="1"' in prefilled and 'value="2025-2026"' in prefilled

    page_path = propose(proposer)
    proposed = text_of(proposer.get(page_path).text)
    assert "已提出" in proposed and "计量热价（元/GJ）: 40.00" in proposed and DOCUMENT in proposed

    assert proposer.post_form(f"{page_path}/preview", follow_redirects=False).status_code == 303
    previewed_page = proposer.get(page_path).text
    previewed = text_of(previewed_page)
    assert "已预览，待审批" in previewed
    assert "1 张（借项 0，贷项 1）" in previewed and "贷项合计（退还） -117.78 元" in previewed
    assert "BGY-1" in previewed and "未入账" in previewed
    assert f'action="{page_path}/approval"' not in previewed_page  # not offered to the proposer
    assert "须由提出人以外的另一位管理员批准。" in previewed
    assert proposer.post_form(f"{page_path}/approval", {"reason": "mine"}).status_code == 403

    approver = web_login(Role.ADMIN, username="admin-li")
    assert f'action="{page_path}/approval"' in approver.get(page_path).text
    blank = approver.post_form(f"{page_path}/approval", {"reason": ""})
    assert blank.status_code == 422 and "必须填写。" in blank.text
    approved = approver.post_form(f"{page_path}/approval", {"reason": "与文件核对无误"})
    assert approved.status_code == 200 and "已批准" in text_of(approved.text) and "admin-li" in approved.text

    booked = approver.post_form(f"{page_path}/run")
    shown = text_of(booked.text)
    assert "已完成" in shown and "已入账 1 张调整单" in shown and "未入账" not in shown
    assert balance(api) == before - Decimal("117.78")
    listed = text_of(approver.get("/ui/tariff-corrections?state=completed").text)
    assert DOCUMENT in listed and "-117.78 元" in listed
    english = text_of(approver.get(f"{page_path}?lang=en").text)
    assert "Completed" in english and "1 notes booked" in english


def test_a_bad_proposal_says_why_and_a_refusal_needs_a_reason(
    web_login: WebLogin, api: LedgerApi, after_season: Clock
) -> None:
    settled_season(api)
    admin = web_login(Role.ADMIN)
    unchanged = admin.post_form("/ui/tariff-corrections/new", correction_form(energy_price_yuan_per_gj="43.9"))
    assert unchanged.status_code == 422 and 'role="alert"' in unchanged.text
    missing = admin.post_form("/ui/tariff-corrections/new", correction_form(version="2"))
    assert missing.status_code == 404 and 'action="/ui/tariff-corrections/new"' in missing.text
    no_seasons = admin.post_form("/ui/tariff-corrections/new", correction_form(seasons=""))
    assert no_seasons.status_code == 422 and 'id="seasons-error"' in no_seasons.text
    assert "没有热价更正。" in admin.get("/ui/tariff-corrections").text

    page_path = propose(admin)
    assert admin.post_form(f"{page_path}/refusal", {"reason": ""}).status_code == 422
    refused = admin.post_form(f"{page_path}/refusal", {"reason": "文件已撤回"})
    assert refused.status_code == 200 and "已驳回" in text_of(refused.text)
    assert f'action="{page_path}/preview"' not in refused.text


@pytest.mark.parametrize("role", [Role.CLERK, Role.AUDITOR, Role.REGULATOR])
def test_only_administrators_are_offered_corrections_and_others_are_refused(
    web_login: WebLogin, api: LedgerApi, after_season: Clock, role: Role
) -> None:
    settled_season(api)
    page_path = propose(web_login(Role.ADMIN))
    client = web_login(role)
    assert "/ui/tariff-corrections/new" not in client.get("/ui/tariff-corrections").text
    page = client.get(page_path).text
    assert "/preview" not in page and "/refusal" not in page and "/run" not in page
    assert client.get("/ui/tariff-corrections/new").status_code == 403
    assert client.post_form("/ui/tariff-corrections/new", correction_form(document_number="X")).status_code == 403
    for action in ("preview", "run"):
        assert client.post_form(f"{page_path}/{action}").status_code == 403
    for action in ("approval", "refusal"):
        assert client.post_form(f"{page_path}/{action}", {"reason": "r"}).status_code == 403
    assert "已提出" in text_of(client.get(page_path).text)
    assert client.post(f"{page_path}/refusal", data={"reason": "r"}).status_code == 403  # no CSRF token


def test_a_preview_is_watched_until_it_ends(
    web_login: WebLogin, api: LedgerApi, after_season: Clock, container: Container
) -> None:
    settled_season(api)
    admin = web_login(Role.ADMIN)
    page_path = propose(admin)
    correction_id = page_path.rsplit("/", 1)[-1]
    job_id = submit_preview(container, SYSTEM, UUID(correction_id), "queued preview")

    waiting = admin.get(page_path).text
    assert POLLING in waiting and "排队中" in text_of(waiting)
    assert f'action="{page_path}/preview"' not in waiting  # not twice at once
    fragment = admin.get(f"{page_path}/progress", headers={"HX-Request": "true"})
    assert "<html" not in fragment.text and POLLING in fragment.text

    container.jobs.enqueue(JOB_NAMES[JobKind.PREVIEW], job_id=str(job_id))
    finished = admin.get(f"{page_path}/progress", headers={"HX-Request": "true"}).text
    assert POLLING not in finished and "已预览，待审批" in text_of(finished)
