"""The arrears area's pages (issue 13) on both backends: the dashboard, the aging table, the
collection rates, the arrears flags (a run through the form, the second person's approval, a
withdrawal), the households marked vulnerable, and dunning (a run, the outbox, a message, a
requeue, a delivery pass); in Chinese and English; who is offered what, and the server's refusal
of what a role may not do even when the form is crafted; CSRF refusals.

Three households are invoiced their 2025-2026 prepayment on 10 Dec 2025, due that day (the
API tests' tariff, 21.6 元/m²): WZ-0001 and WZ-0002 in 碧桂园 buildings 1 and 2, YS-0001 in
阅水秦韵, 98.50 m² each, 2127.60 元 each. The flag and dunning runs are on 20 Jan 2026, 41 days later.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from datetime import datetime
from typing import Any

import pytest
from freezegun import freeze_time

from application.authorization import Role
from infrastructure.settings import Settings
from tests.e2e.conftest import LedgerApi
from tests.e2e.test_api_arrears import POLICY, RUN_DAY
from tests.e2e.test_api_payments import pay, tariff
from tests.e2e.web.conftest import WebClient, WebLogin
from tests.receivers import WebhookReceiver, webhook_receiver

SECRET = "web-webhook-secret-0123456789abcdef"
CONTACT = {"channel": "webhook", "address": "13800138000", "language": "zh"}
_FLAG_LINK = re.compile(r'href="/ui/arrears/flags/([0-9a-f-]{36})"')
_MESSAGE_LINK = re.compile(r'href="/ui/dunning/messages/([0-9a-f-]{36})"')


@pytest.fixture
def receiver() -> Iterator[WebhookReceiver]:
    with webhook_receiver() as running:
        yield running


@pytest.fixture
def backend_settings(backend_settings: Settings, receiver: WebhookReceiver) -> Settings:
    """The store's settings, delivering reminders to a loopback receiver: two attempts, 60 s apart."""
    return backend_settings.model_copy(
        update={
            "notification_webhook_url": receiver.url,
            "notification_webhook_secret": SECRET,
            "notification_max_attempts": 2,
            "notification_backoff_seconds": 60,
            "notification_timeout_seconds": 5.0,
        }
    )


@pytest.fixture
def invoiced(api: LedgerApi, frozen_now: datetime) -> LedgerApi:
    """Three households in two communities, the tariff published and the prepayment invoiced."""
    assert api.register_household("WZ-0001").status_code == 201
    assert api.register_household("WZ-0002", building="2").status_code == 201
    assert api.register_household("YS-0001", community="阅水秦韵").status_code == 201
    assert api.client.post("/tariffs", json=tariff(), headers=api.tokens.headers(Role.ADMIN)).status_code == 201
    run = api.client.post("/billing/runs", json={"kind": "prepayment", "season": "2025-2026"}, headers=api.clerk())
    assert run.status_code == 202, run.text
    return api


def chart_options(html: str) -> list[dict[str, Any]]:
    """The ECharts options of a page's charts (the data-chart attributes, unescaped)."""
    found = re.findall(r'data-chart="([^"]*)"', html)
    return [json.loads(text.replace("&#34;", '"').replace("&quot;", '"').replace("&amp;", "&")) for text in found]


def post(client: WebClient, url: str, data: dict[str, Any] | None = None) -> Any:
    """Post a form as its page would (with the CSRF token), without following the redirect."""
    return client.post_form(url, data, follow_redirects=False)


def run_flags_form(client: WebClient, **changes: str) -> Any:
    form = {**POLICY, "minimum_days_past_due": str(POLICY["minimum_days_past_due"]), "community": "", "reason": ""}
    return post(client, "/ui/arrears/flags/run", {**form, **changes})


# -- the dashboard ----------------------------------------------------------------------------------


def test_the_dashboard_shows_the_season_at_a_glance(invoiced: LedgerApi, web_login: WebLogin) -> None:
    assert pay(invoiced, "127.60", "R-0001").status_code == 201
    clerk = web_login(Role.CLERK)
    page = clerk.get("/ui/")
    assert page.status_code == 200
    html = page.text
    assert "2025-2026 供暖季" in html
    assert "计费进度（预收）" in html and "100.0 %" in html and "已开预收账单 3 / 3 户，已结算 0 户" in html
    # 127.60 of 6382.80 collected: 2.0 %; 6255.20 still open, due on the 10th, 0 days past due.
    assert "收缴率" in html and "2.0 %" in html and "已收 127.60 元 / 应收 6,382.80 元" in html
    assert "6,255.20 元" in html and "3 户有未结清费用，逾期 90 天以上 0.00 元" in html
    for link in ('href="/ui/arrears"', 'href="/ui/arrears/flags?status=raised"', 'href="/ui/disputes?open=true"'):
        assert link in html
    assert 'href="/ui/dunning?status=dead"' in html  # clerks read the outbox
    aging, rates, progress = chart_options(html)
    assert aging["series"][0]["data"] == [0.0, 6255.2, 0.0, 0.0, 0.0, 0.0]
    assert aging["xAxis"]["data"][0] == "未到期"
    assert rates["xAxis"]["data"] == ["碧桂园", "阅水秦韵"] and rates["series"][0]["data"] == [3.0, 0.0]
    assert [series["data"] for series in progress["series"]] == [[2, 1], [2, 1], [0, 0]]

    english = clerk.get("/ui/?lang=en").text
    assert "Billing progress (prepayment)" in english and "3 of 3 households invoiced, 0 settled" in english
    assert "127.60 元 collected of 6,382.80 元" in english
    auditor = web_login(Role.AUDITOR).get("/ui/").text
    assert "逾期欠费" in auditor and 'href="/ui/dunning?status=dead"' not in auditor  # the outbox is personal


# -- aging and collection rates ----------------------------------------------------------------------


def test_the_aging_table_by_community_and_building(invoiced: LedgerApi, web_login: WebLogin) -> None:
    auditor = web_login(Role.AUDITOR)
    whole = auditor.get("/ui/arrears", params={"as_of": "2026-01-20"}).text
    assert "欠费账龄" in whole and "2026年1月20日：3 户有未结清的费用。" in whole
    assert whole.count('href="/ui/households/') == 3
    assert "31–90 天" in whole and "6,382.80 元" in whole  # the totals row

    building = auditor.get(
        "/ui/arrears",
        params={"community": "碧桂园", "building": "2", "as_of": "2026-01-20"},
        headers={"HX-Request": "true"},
    )
    assert building.status_code == 200
    assert building.text.lstrip().startswith('<div id="results">')  # htmx gets the results only
    assert 'href="/ui/households/WZ-0002"' in building.text and "WZ-0001" not in building.text
    english = auditor.get("/ui/arrears", params={"as_of": "2026-01-20", "lang": "en"}).text
    assert "Arrears aging" in english and "31–90 days" in english and "Not yet due" in english
    assert auditor.get("/ui/arrears", params={"as_of": "not a day"}).status_code == 422


def test_the_collection_rates_per_community_and_building(invoiced: LedgerApi, web_login: WebLogin) -> None:
    assert pay(invoiced, "1063.80", "R-0001").status_code == 201
    regulator = web_login(Role.REGULATOR)
    html = regulator.get("/ui/arrears/collection-rates").text
    # 1063.80 of 6382.80: 16.67 % in the city; 1063.80 of 4255.20 in 碧桂园: 25.00 %.
    assert "16.67 %" in html and "25.00 %" in html and "50.00 %" in html
    assert 'href="/ui/arrears?community=%E7%A2%A7%E6%A1%82%E5%9B%AD&amp;building=1"' in html
    one = regulator.get("/ui/arrears/collection-rates", params={"community": "阅水秦韵", "season": "2025-2026"}).text
    assert "0.00 %" in one and "25.00 %" not in one
    assert (
        "The 2024-2025 season has no charging bills yet."
        in regulator.get("/ui/arrears/collection-rates", params={"season": "2024-2025", "lang": "en"}).text
    )
    assert regulator.get("/ui/arrears/collection-rates", params={"season": "2025"}).status_code == 422


# -- arrears flags ------------------------------------------------------------------------------------


def test_a_clerk_runs_the_policy_and_a_second_person_approves(invoiced: LedgerApi, web_login: WebLogin) -> None:
    with freeze_time(RUN_DAY, real_asyncio=True):
        clerk = web_login(Role.CLERK)
        form = clerk.get("/ui/arrears/flags").text
        assert '<label for="run-minimum_amount_yuan">逾期金额不低于（元）' in form
        assert 'value="1000.00"' in form and 'value="11-15"' in form  # the API's example policy

        run = run_flags_form(clerk, community="碧桂园", reason="一月欠费复核")
        assert run.status_code == 200, run.text
        assert "2026年1月20日（2025-2026 供暖季）：标记 2 户，未标记 0 户。" in run.text
        flag_id = _FLAG_LINK.findall(run.text)[0]
        listed = clerk.get("/ui/arrears/flags").text
        assert "待批准" in listed and listed.count('href="/ui/arrears/flags/') == 2
        assert ">复核<" in listed

        # The one who raised it may not approve it: refused beside the form, nothing recorded.
        own = post(clerk, f"/ui/arrears/flags/{flag_id}/approval", {"reason": ""})
        assert own.status_code == 403
        assert "second person" in post(clerk, f"/ui/arrears/flags/{flag_id}/approval?lang=en", {}).text
        assert "待批准" in clerk.get(f"/ui/arrears/flags/{flag_id}?lang=zh").text

        second = web_login(Role.CLERK, username="clerk-2")
        approved = post(second, f"/ui/arrears/flags/{flag_id}/approval", {"reason": "已电话核实"})
        assert approved.status_code == 303
        page = second.get(approved.headers["location"]).text
        assert "已批准。" in page and "批准人" in page and "clerk-2" in page and "已电话核实" in page
        assert invoiced.get(f"/arrears/flags/{flag_id}").json()["status"] == "approved"
        counts = second.get("/ui/arrears/flags?status=approved").text
        assert counts.count('href="/ui/arrears/flags/') == 1

        refused = post(second, f"/ui/arrears/flags/{flag_id}/withdrawal", {"kind": "paid", "reason": ""})
        assert refused.status_code == 422 and 'aria-invalid="true"' in refused.text
        withdrawn = post(second, f"/ui/arrears/flags/{flag_id}/withdrawal", {"kind": "paid", "reason": "当场缴清"})
        assert withdrawn.status_code == 303
        history = second.get(withdrawn.headers["location"]).text
        assert "已撤销。" in history and "已缴费" in history and "当场缴清" in history
        assert (
            post(second, f"/ui/arrears/flags/{flag_id}/withdrawal", {"kind": "paid", "reason": "x"}).status_code == 409
        )


def test_a_policy_the_api_refuses_is_shown_beside_its_fields(invoiced: LedgerApi, web_login: WebLogin) -> None:
    clerk = web_login(Role.CLERK, language="en")
    refused = run_flags_form(clerk, window_start="03-15", window_end="11-15")
    assert refused.status_code == 422
    assert "Nothing was done" in refused.text and "<details" in refused.text and " open>" in refused.text
    missing = run_flags_form(clerk, minimum_amount_yuan="")
    assert missing.status_code == 422 and 'id="run-minimum_amount_yuan-error"' in missing.text
    assert invoiced.get("/arrears/flags").json()["items"] == []


def test_read_only_roles_see_flags_but_are_offered_and_allowed_no_action(
    invoiced: LedgerApi, web_login: WebLogin
) -> None:
    with freeze_time(RUN_DAY, real_asyncio=True):
        run = invoiced.client.post("/arrears/flags/run", json=POLICY, headers=invoiced.clerk())
        flag_id = run.json()["outcomes"][0]["flag_id"]
        for role in (Role.AUDITOR, Role.REGULATOR, Role.CUSTOMER_SERVICE):
            reader = web_login(role)
            listed = reader.get("/ui/arrears/flags").text
            assert "WZ-0001" in listed and "/ui/arrears/flags/run" not in listed and ">详情<" in listed
            page = reader.get(f"/ui/arrears/flags/{flag_id}").text
            assert "标记记录" in page and "/approval" not in page and "/withdrawal" not in page
            assert run_flags_form(reader).status_code == 403
            assert post(reader, f"/ui/arrears/flags/{flag_id}/approval", {}).status_code == 403
            withdrawal = {"kind": "mistake", "reason": "x"}
            assert post(reader, f"/ui/arrears/flags/{flag_id}/withdrawal", withdrawal).status_code == 403
        assert invoiced.get(f"/arrears/flags/{flag_id}").json()["status"] == "raised"


def test_every_arrears_form_needs_the_csrf_token(invoiced: LedgerApi, web_login: WebLogin) -> None:
    clerk = web_login(Role.CLERK)
    posts: list[tuple[str, dict[str, Any]]] = [
        ("/ui/arrears/flags/run", {**POLICY}),
        ("/ui/arrears/vulnerable", {"account_number": "WZ-0001", "reason": "独居"}),
        ("/ui/dunning/runs", {}),
        ("/ui/dunning/delivery", {}),
    ]
    for path, form in posts:
        refused = clerk.post(path, data=form)
        assert refused.status_code == 403, path
        assert "未执行任何操作" in refused.text or "CSRF" in refused.text or "安全" in refused.text
    assert invoiced.get("/arrears/vulnerable-households").json()["total"] == 0
    assert invoiced.get("/notifications").json()["items"] == []


# -- households marked vulnerable -------------------------------------------------------------------


def test_customer_service_marks_and_clears_a_vulnerable_household(invoiced: LedgerApi, web_login: WebLogin) -> None:
    desk = web_login(Role.CUSTOMER_SERVICE)
    page = desk.get("/ui/arrears/vulnerable").text
    assert "没有困难户。" in page and '<label for="mark-account_number">户号' in page
    marked = post(desk, "/ui/arrears/vulnerable", {"account_number": "WZ-0002", "reason": "独居老人，82 岁"})
    assert marked.status_code == 303
    listed = desk.get(marked.headers["location"]).text
    assert "WZ-0002 已标记为困难户。" in listed and "共 1 户困难户。" in listed
    again = post(desk, "/ui/arrears/vulnerable", {"account_number": "WZ-0002", "reason": "again"})
    assert again.status_code == 409 and "WZ-0002 已标记为困难户。" in again.text
    unknown = post(desk, "/ui/arrears/vulnerable", {"account_number": "NOPE-1", "reason": "x"})
    assert unknown.status_code == 404
    blank = post(desk, "/ui/arrears/vulnerable", {"account_number": "", "reason": ""})
    assert blank.status_code == 422 and 'id="mark-account_number-error"' in blank.text

    with freeze_time(RUN_DAY, real_asyncio=True):
        run = invoiced.client.post("/arrears/flags/run", json=POLICY, headers=invoiced.clerk()).json()
        assert [o["account_number"] for o in run["outcomes"] if not o["flagged"]] == ["WZ-0002"]

    cleared = post(desk, "/ui/arrears/vulnerable/WZ-0002/clearance", {"reason": "已搬离"})
    assert cleared.status_code == 303
    assert "WZ-0002 已取消困难户标记。" in desk.get(cleared.headers["location"]).text
    assert invoiced.get("/arrears/vulnerable-households").json()["total"] == 0
    assert post(desk, "/ui/arrears/vulnerable/WZ-0002/clearance", {"reason": "x"}).status_code == 409

    auditor = web_login(Role.AUDITOR)
    assert "/ui/arrears/vulnerable" not in auditor.get("/ui/arrears").text  # not offered
    assert auditor.get("/ui/arrears/vulnerable").status_code == 403
    assert post(auditor, "/ui/arrears/vulnerable", {"account_number": "WZ-0001", "reason": "x"}).status_code == 403
    english = desk.get("/ui/arrears/vulnerable?lang=en").text
    assert "Vulnerable households" in english and "Mark a household vulnerable" in english


# -- dunning ----------------------------------------------------------------------------------------


def test_a_clerk_runs_dunning_and_follows_the_reminder_to_the_gateway(
    invoiced: LedgerApi, web_login: WebLogin, receiver: WebhookReceiver
) -> None:
    api = invoiced
    for account in ("WZ-0001", "YS-0001"):
        assert api.client.put(f"/households/{account}/contact", json=CONTACT, headers=api.clerk()).status_code == 200
    receiver.answer_next(503)  # the first reminder's gateway fails now, and once more later: dead
    with freeze_time(RUN_DAY, real_asyncio=True) as clock:
        clerk = web_login(Role.CLERK)
        page = clerk.get("/ui/dunning").text
        assert 'value="15, 45, 90"' in page and 'value="50.00"' in page and "没有这类消息。" in page
        run = post(clerk, "/ui/dunning/runs", {"community": "", "stages_days": "", "minimum_amount_yuan": ""})
        assert run.status_code == 200, run.text
        assert "2026年1月20日：写入提醒 2 条，未提醒 1 户。" in run.text and "没有联系方式" in run.text
        assert "逾期 15 天阶段" in run.text

        outbox = clerk.get("/ui/dunning").text
        assert "13800138000" in outbox and "缴费提醒" in outbox and "HTTP 503" in outbox
        assert '"badge status-pending">待发送<' in outbox and '"badge status-delivered">已送达<' in outbox
        receiver.answer_next(502)
        clock.tick(61)
        delivered = post(clerk, "/ui/dunning/delivery")
        assert delivered.status_code == 303
        after = clerk.get(delivered.headers["location"]).text
        assert "本次发送：送达 0 条，稍后重试 0 条，失败 1 条。" in after
        dead_list = clerk.get("/ui/dunning?status=dead").text
        [dead_id] = _MESSAGE_LINK.findall(dead_list)
        message = clerk.get(f"/ui/dunning/messages/{dead_id}").text
        assert "投递失败" in message and "HTTP 503" in message and "重新排队" in message

        blank = post(clerk, f"/ui/dunning/messages/{dead_id}/requeue", {"reason": ""})
        assert blank.status_code == 422
        requeued = post(clerk, f"/ui/dunning/messages/{dead_id}/requeue", {"reason": "网关已恢复"})
        assert requeued.status_code == 303
        detail = clerk.get(requeued.headers["location"]).text
        assert "已重新排队，随后发送。" in detail and "web-clerk: 网关已恢复" in detail
        assert api.get(f"/notifications/{dead_id}").json()["status"] == "delivered"
        twice = post(clerk, f"/ui/dunning/messages/{dead_id}/requeue", {"reason": "again"})
        assert twice.status_code == 409
        assert len(receiver.received) == 4

        english = clerk.get(f"/ui/dunning/messages/{dead_id}?lang=en").text
        assert "Delivery attempts" in english and "Requeued" in english and "Failed for good" in english


def test_dunning_is_offered_to_whom_may_run_it_and_the_outbox_to_whom_may_read_it(
    invoiced: LedgerApi, web_login: WebLogin
) -> None:
    with freeze_time(RUN_DAY, real_asyncio=True):
        auditor = web_login(Role.AUDITOR)
        page = auditor.get("/ui/dunning").text
        assert "个人信息" in page and "/ui/dunning/runs" not in page and "/ui/dunning/delivery" not in page
        assert post(auditor, "/ui/dunning/runs", {}).status_code == 403
        assert post(auditor, "/ui/dunning/delivery").status_code == 403

        desk = web_login(Role.CUSTOMER_SERVICE)
        outbox = desk.get("/ui/dunning").text
        assert "发件箱" in outbox and "个人信息" not in outbox and "/ui/dunning/runs" not in outbox
        assert post(desk, "/ui/dunning/runs", {}).status_code == 403

        clerk = web_login(Role.CLERK, language="en")
        refused = post(clerk, "/ui/dunning/runs", {"stages_days": "45, 15"})
        assert refused.status_code == 422 and "Nothing was done" in refused.text
        assert post(clerk, "/ui/dunning/runs", {"stages_days": "15, x"}).status_code == 422
        assert invoiced.get("/notifications").json()["items"] == []
