"""The casework pages (issue 13) on both backends: disputes (list, overdue, service levels,
opening one through the form, its steps, resolution, the second person's approval, the letter),
scenarios (submitted through the form, followed, read, exported) and audit (histories, a bill
replayed and recomputed, a balance as known), in Chinese and English; who is offered what, and
the server's refusal of what a role may not do even when the form is crafted; CSRF refusals.

The household is the API tests' WZ-0001 (tests/e2e/test_api_billing.py): settled 163.54 元 back
after the 2025-2026 season; its last reading corrected 0.1 GJ down gives 4.39 元 more back.
"""

from __future__ import annotations

import re
from decimal import Decimal
from typing import Any

from application.authorization import Role
from infrastructure.container import Container
from tests.e2e.conftest import LedgerApi
from tests.e2e.test_api_bill_replays import settled
from tests.e2e.test_api_billing import SEASON, Clock, after_season
from tests.e2e.test_api_disputes import correct_last_reading, dispute_body, service
from tests.e2e.web.conftest import WebClient, WebLogin

__all__ = ["after_season"]  # the fixture, imported for these tests

LAST_READING_LOCAL = "2026-04-01T00:00"  # as a datetime-local field sends it (Beijing time)
_DISPUTE_LINK = re.compile(r'href="/ui/disputes/([0-9a-f-]{36})"')


def container_of(api: LedgerApi) -> Container:
    container: Container = api.client.app.state.container  # type: ignore[attr-defined]
    return container


def opening_form(**changes: str) -> dict[str, str]:
    form = {
        "account_number": "WZ-0001",
        "subject_kind": "reading",
        "subject_meter_serial": "HM-1",
        "subject_measured_at": LAST_READING_LOCAL,
        "subject_bill_id": "",
        "subject_payment_id": "",
        "subject_payment_reference": "",
        "category": "reading_wrong",
        "description": "表上显示 130.1 GJ，账单按 130.2 GJ 结算",
        "disputed_amount_yuan": "4.39",
        "channel": "counter",
        "reference": "KF-0416-01",
        "reason": "",
    }
    return form | changes


def opened_through_the_form(client: WebClient, **changes: str) -> str:
    response = client.post_form("/ui/disputes", opening_form(**changes), follow_redirects=False)
    assert response.status_code == 303, response.text
    location: str = response.headers["location"]
    assert location.endswith("?done=opened")
    return location.split("?")[0].rsplit("/", 1)[1]


def step(client: WebClient, dispute_id: str, **fields: str) -> Any:
    return client.post_form(f"/ui/disputes/{dispute_id}/steps", fields, follow_redirects=False)


# -- disputes ------------------------------------------------------------------------------------


def test_customer_service_takes_a_dispute_from_the_form_to_the_approved_note(
    api: LedgerApi, after_season: Clock, web_login: WebLogin
) -> None:
    settlement = settled(api)
    correction = correct_last_reading(api)
    desk = web_login(Role.CUSTOMER_SERVICE)

    form = desk.get("/ui/disputes/new?account=WZ-0001")
    assert form.status_code == 200
    assert settlement["number"] in form.text and 'value="HM-1"' in form.text
    assert '<label for="open-description">用户陈述' in form.text
    dispute_id = opened_through_the_form(desk)

    page = desk.get(f"/ui/disputes/{dispute_id}?done=opened")
    assert "争议已登记。" in page.text and "KF-0416-01" in page.text and "已受理" in page.text
    assert "读数有误" in page.text and "4.39" in page.text

    assert (
        step(desk, dispute_id, kind="household_note", message="已受理，三个工作日内答复", channel="wechat").status_code
        == 303
    )
    linked = step(
        desk,
        dispute_id,
        kind="reading_corrected",
        meter_serial="HM-1",
        measured_at=LAST_READING_LOCAL,
        correction_correlation_id=correction,
        reason="",
    )
    assert linked.status_code == 303, linked.text
    assert step(desk, dispute_id, kind="recompute", bill_id=settlement["bill_id"]).status_code == 303
    page = desk.get(f"/ui/disputes/{dispute_id}")
    assert "调查中" in page.text and "告知用户" in page.text and "读数已更正" in page.text
    assert "-4.39" in page.text  # the recompute's difference

    container_of(api).settings.dispute_second_approval_yuan = Decimal("1.00")
    resolution = {"outcome": "upheld", "amount_yuan": "", "reason": "the display shows 130.1 GJ"}
    proposed = desk.post_form(f"/ui/disputes/{dispute_id}/resolution", resolution, follow_redirects=False)
    assert proposed.status_code == 303, proposed.text
    page = desk.get(f"/ui/disputes/{dispute_id}")
    assert "待复核" in page.text
    assert f'action="/ui/disputes/{dispute_id}/approval"' not in page.text  # customer service may not approve
    assert f'action="/ui/disputes/{dispute_id}/steps"' not in page.text  # nothing to record while it waits
    approval = {"decision": "approve", "reason": "checked the correction"}
    assert desk.post_form(f"/ui/disputes/{dispute_id}/approval", approval).status_code == 403

    clerk = web_login(Role.CLERK)
    page = clerk.get(f"/ui/disputes/{dispute_id}")
    assert f'action="/ui/disputes/{dispute_id}/approval"' in page.text
    approved = clerk.post_form(f"/ui/disputes/{dispute_id}/approval", approval, follow_redirects=False)
    assert approved.status_code == 303, approved.text
    page = clerk.get(approved.headers["location"])
    assert "复核意见已记录。" in page.text and "已办结（支持）" in page.text and "web-clerk" in page.text
    assert f"/ui/disputes/{dispute_id}/letter" in page.text

    letter = clerk.get(f"/ui/disputes/{dispute_id}/letter")
    assert letter.status_code == 200 and letter.headers["content-type"] == "application/pdf"
    assert letter.content.startswith(b"%PDF")
    sent = clerk.post_form(f"/ui/disputes/{dispute_id}/letter", follow_redirects=False)
    assert sent.status_code == 303 and "skip=" in sent.headers["location"]  # no contact on record
    assert "该户没有登记联系方式" in clerk.get(sent.headers["location"]).text
    # The note is on the household's bills, as the API shows them.
    kinds = [bill["kind"] for bill in api.get("/households/WZ-0001/bills").json()["items"]]
    assert "adjustment" in kinds


def test_the_lists_show_the_disputes_in_chinese_and_english_with_the_overdue_marked(
    api: LedgerApi, after_season: Clock, web_login: WebLogin
) -> None:
    settled(api)
    opened = api.client.post("/disputes", json=dispute_body(), headers=service(api))
    assert opened.status_code == 201
    after_season.tick(25 * 3600)  # past the 24 h first-response target
    auditor = web_login(Role.AUDITOR)

    listed = auditor.get("/ui/disputes?state=&category=&community=&min_days_open=&open=true")
    assert listed.status_code == 200
    assert "KF-0416-01" in listed.text and "读数有误" in listed.text and "首次响应超期" in listed.text
    assert 'class="overdue"' in listed.text
    assert "/ui/disputes/new" not in listed.text  # an auditor opens nothing
    english = auditor.get("/ui/disputes?lang=en&category=reading_wrong")
    assert "Reading wrong" in english.text and "first response overdue" in english.text
    assert "KF-0416-01" in auditor.get("/ui/disputes?account=WZ-0001&lang=zh").text
    assert auditor.get("/ui/disputes?account=NOBODY").status_code == 404
    table = auditor.get("/ui/disputes?category=area_wrong", headers={"HX-Request": "true"})
    assert "<html" not in table.text and 'id="results"' in table.text and "KF-0416-01" not in table.text

    overdue = auditor.get("/ui/disputes/overdue?kind=first_response")
    assert "KF-0416-01" in overdue.text and "超期工单" in overdue.text
    assert "KF-0416-01" not in auditor.get("/ui/disputes/overdue?kind=resolution").text
    levels = auditor.get("/ui/disputes/service-levels?from=2026-04-01&to=2026-04-30")
    assert levels.status_code == 200 and "2026-04" in levels.text and 'data-chart="' in levels.text
    assert auditor.get("/ui/disputes?state=nonsense").status_code == 422
    assert auditor.get("/ui/disputes/service-levels?from=2026-04-30&to=2026-04-01").status_code == 422

    page = auditor.get(f"/ui/disputes/{opened.json()['dispute_id']}")
    assert "表上显示 130.1 GJ" in page.text
    assert "/steps" not in page.text and "/resolution" not in page.text and "/withdrawal" not in page.text


def test_refused_forms_say_why_inline_in_the_users_language(
    api: LedgerApi, after_season: Clock, web_login: WebLogin
) -> None:
    settled(api)
    desk = web_login(Role.CUSTOMER_SERVICE)

    missing = desk.post_form("/ui/disputes", opening_form(description="", disputed_amount_yuan="abc"))
    assert missing.status_code == 422
    assert 'id="open-description-error"' in missing.text and "必须填写" in missing.text
    assert 'id="open-disputed_amount_yuan-error"' in missing.text
    assert 'value="HM-1"' in missing.text  # what was typed stays

    unknown = desk.post_form("/ui/disputes", opening_form(account_number="NOBODY"))
    assert unknown.status_code == 404 and "NOBODY" in unknown.text

    dispute_id = opened_through_the_form(desk)
    desk.cookies.set("hl_lang", "en")
    early = desk.post_form(f"/ui/disputes/{dispute_id}/resolution", {"outcome": "upheld", "reason": "looks right"})
    assert early.status_code == 409
    assert "Attach a recompute of the bill before upholding the dispute KF-0416-01." in early.text
    assert '<details class="action" open>' in early.text  # the refused form stays open
    visit = step(desk, dispute_id, kind="site_visit", visited_on="", findings="")
    assert visit.status_code == 422 and "This value is required." in visit.text


def test_what_a_role_may_not_do_is_not_offered_and_refused_when_posted(
    api: LedgerApi, after_season: Clock, web_login: WebLogin
) -> None:
    settled(api)
    desk = web_login(Role.CUSTOMER_SERVICE)
    dispute_id = opened_through_the_form(desk)

    for role in (Role.AUDITOR, Role.REGULATOR):
        reader = web_login(role)
        assert reader.get("/ui/disputes/new").status_code == 403
        crafted = reader.post_form("/ui/disputes", opening_form(reference=f"KF-{role.value[:4]}"))
        assert crafted.status_code == 403
        note = step(reader, dispute_id, kind="household_note", message="x", channel="phone")
        assert note.status_code == 403
        assert reader.post_form(f"/ui/disputes/{dispute_id}/withdrawal", {"reason": "x"}).status_code == 403
    listed = api.get("/disputes").json()
    assert listed["total"] == 1  # nothing was opened by a crafted form

    no_token = desk.post(f"/ui/disputes/{dispute_id}/withdrawal", data={"reason": "the household withdrew"})
    assert no_token.status_code == 403
    wrong = desk.post(
        f"/ui/disputes/{dispute_id}/withdrawal", data={"reason": "the household withdrew", "csrf_token": "forged"}
    )
    assert wrong.status_code == 403
    assert api.get(f"/disputes/{dispute_id}").json()["state"] == "open"
    withdrawn = desk.post_form(f"/ui/disputes/{dispute_id}/withdrawal", {"reason": "the household withdrew"})
    assert withdrawn.status_code == 200 and "争议已撤回。" in withdrawn.text and "已撤回" in withdrawn.text


# -- scenarios ------------------------------------------------------------------------------------


def scenario_form(**changes: str) -> dict[str, str]:
    form = {
        "season": SEASON,
        "title": "能量价测算",
        "community": "",
        "building": "",
        "customer_class": "",
        "as_of": "",
        "variant1_label": "能量价 50",
        "variant1_from_actual": "on",
        "variant1_energy_price_yuan_per_gj": "50",
        "variant2_label": "多退少补 50",
        "variant2_from_actual": "on",
        "variant2_energy_price_yuan_per_gj": "50",
        "variant2_policy": "both_ways",
        "variant3_label": "",
    }
    return form | changes


def test_a_regulator_runs_a_scenario_from_the_form_and_reads_and_exports_it(
    api: LedgerApi, after_season: Clock, web_login: WebLogin
) -> None:
    settled(api)
    bills_before = api.get("/households/WZ-0001/bills").json()
    regulator = web_login(Role.REGULATOR)

    assert "/ui/scenarios/new" in regulator.get("/ui/scenarios").text
    form = regulator.get("/ui/scenarios/new")
    assert f'value="{SEASON}"' in form.text and '<label for="scenario-variant1_label">方案名称' in form.text
    submitted = regulator.post_form("/ui/scenarios", scenario_form(), follow_redirects=False)
    assert submitted.status_code == 303, submitted.text
    location = submitted.headers["location"]

    page = regulator.get(location)
    assert page.status_code == 200
    assert "已完成" in page.text and "能量价测算" in page.text and "多退少补 50" in page.text
    assert "1,964.06" in page.text and "2,148.28" in page.text  # the actual and the both-ways due
    assert page.text.count('class="chart"') == 2 and "100…200" in page.text
    assert "WZ-0001" in page.text
    assert regulator.get(f"{location}/progress").headers.get("HX-Refresh") == "true"
    english = regulator.get(f"{location}?lang=en&level=building")
    assert "Revenue change" in english.text and "Actual" in english.text and "碧桂园 1" in english.text
    rows = regulator.get(f"{location}?variant=2", headers={"HX-Request": "true"})
    assert "<html" not in rows.text and rows.text.count("WZ-0001") == 1 and "2,148.28" in rows.text

    csv = regulator.get(f"{location}/export?format=csv")
    assert csv.status_code == 200 and csv.headers["content-type"].startswith("text/csv")
    assert csv.content.decode("utf-8").startswith("\ufeff户号,小区,楼号")
    xlsx = regulator.get(f"{location}/export?format=xlsx")
    assert xlsx.status_code == 200 and xlsx.content.startswith(b"PK")
    assert api.get("/households/WZ-0001/bills").json() == bills_before  # nothing booked


def test_a_scenario_form_refused_and_roles_that_may_not_submit(
    api: LedgerApi, after_season: Clock, web_login: WebLogin
) -> None:
    settled(api)
    admin = web_login(Role.ADMIN)
    not_begun = admin.post_form("/ui/scenarios", scenario_form(season="2026-2027"))
    assert not_begun.status_code == 422 and "2026-2027" in not_begun.text
    no_variant = admin.post_form("/ui/scenarios", scenario_form(variant1_label="", variant2_label=""))
    assert no_variant.status_code == 422 and 'class="field-error"' in no_variant.text
    bad_price = admin.post_form("/ui/scenarios", scenario_form(variant1_energy_price_yuan_per_gj="fifty"))
    assert bad_price.status_code == 422 and 'id="scenario-variant1_energy_price_yuan_per_gj-error"' in bad_price.text

    for role in (Role.CLERK, Role.AUDITOR, Role.CUSTOMER_SERVICE):
        reader = web_login(role)
        assert "/ui/scenarios/new" not in reader.get("/ui/scenarios").text
        assert reader.get("/ui/scenarios/new").status_code == 403
        assert reader.post_form("/ui/scenarios", scenario_form()).status_code == 403
    assert api.get("/scenarios", role=Role.AUDITOR).json()["items"] == []


# -- audit ---------------------------------------------------------------------------------------


def test_an_auditor_browses_histories_replays_a_bill_and_reads_a_balance_as_known(
    api: LedgerApi, after_season: Clock, web_login: WebLogin
) -> None:
    settlement = settled(api)
    auditor = web_login(Role.AUDITOR)
    before_correction = container_of(api).ledger.clock()

    history = auditor.get("/ui/audit/history?kind=household&key=WZ-0001")
    assert history.status_code == 200 and "Registered" in history.text and "开户" in history.text
    assert '<select id="history-event_type" name="event_type" multiple' in history.text
    narrowed = auditor.get("/ui/audit/history?kind=household&key=WZ-0001&event_type=MeterAttached")
    assert "MeterAttached" in narrowed.text and "<code>Registered</code>" not in narrowed.text
    csv = auditor.get("/ui/audit/history.csv?kind=household&key=WZ-0001")
    assert csv.status_code == 200 and csv.headers["content-type"].startswith("text/csv")
    missing = auditor.get("/ui/audit/history?kind=household&key=NOBODY&lang=en")
    assert missing.status_code == 404 and "No household has the account number NOBODY." in missing.text
    tariff = auditor.get("/ui/audit/history?kind=tariff&key=residential/*&lang=zh")
    assert tariff.status_code == 200 and "吴价发" in tariff.text

    bills = auditor.get("/ui/audit/bills?account=WZ-0001")
    assert f'href="/ui/audit/bills/{settlement["bill_id"]}"' in bills.text
    replay = auditor.get(f"/ui/audit/bills/{settlement['bill_id']}")
    assert "重放结果与原账单一致" in replay.text and "没有不同的行。" in replay.text

    after_season.tick(60)
    correct_last_reading(api)
    recomputed = auditor.get(f"/ui/audit/bills/{settlement['bill_id']}?lang=en")
    assert "What moved the bill" in recomputed.text and "-4.39" in recomputed.text
    assert "read off the display" in recomputed.text  # the correction's reason, on its event

    asked = {"account": "WZ-0001", "known_at": before_correction.isoformat(), "lang": "zh"}
    known = auditor.get("/ui/audit/known-at", params=asked)
    assert known.status_code == 200 and "现在所知" in known.text
    assert "此后没有改变余额的事件。" in known.text  # a corrected reading moves no bill by itself
    # A datetime-local field's value (Beijing time, no zone) is taken too.
    assert auditor.get("/ui/audit/known-at?account=WZ-0001&known_at=2026-04-10T12:00").status_code == 200
    wrong = auditor.get("/ui/audit/known-at?account=WZ-0001&known_at=yesterday")
    assert wrong.status_code == 422 and 'id="known-known_at-error"' in wrong.text


def test_a_regulator_sees_personal_data_masked_in_a_history(
    api: LedgerApi, after_season: Clock, web_login: WebLogin
) -> None:
    settled(api)
    regulator = web_login(Role.REGULATOR)
    history = regulator.get("/ui/audit/history?kind=household&key=WZ-0001")
    assert history.status_code == 200 and "已遮蔽" in history.text
    clerk = web_login(Role.CLERK)
    assert "已遮蔽" not in clerk.get("/ui/audit/history?kind=household&key=WZ-0001").text
