"""The households pages (/ui/households) on both backends, logged in through the real form.

Data is made through the API (tests/e2e/conftest.py's LedgerApi). WZ-0001 (碧桂园 1号楼 1单元 1层
101室, 98.50 m²) is invoiced 2127.60 元 for the 2025-2026 season on 10 December 2025 (the frozen
day) by ``invoiced``; the pages are read as clerks, customer service, auditors and regulators.
"""

from __future__ import annotations

import html
import json
import re
from datetime import date
from decimal import Decimal
from typing import Any

import pytest

from application.authorization import Role
from tests.e2e.conftest import LedgerApi, cumulative, days_from
from tests.e2e.test_api_payments import invoiced, pay
from tests.e2e.web.conftest import WebClient, WebLogin

__all__ = ["invoiced"]  # the fixture, used by name

PAGE = "/ui/households/WZ-0001"
HTMX = {"HX-Request": "true"}


def text_of(response: Any) -> str:
    """The page's visible text, tags dropped and whitespace folded (assertions read like a person)."""
    without_tags = re.sub(r"<[^>]+>", " ", response.text)
    return re.sub(r"\s+", " ", html.unescape(without_tags))


def ok(response: Any) -> str:
    assert response.status_code == 200, response.text[:2000]
    return text_of(response)


@pytest.fixture
def registered(api: LedgerApi, frozen_now: object) -> LedgerApi:
    """Four flats in two communities (see tests/e2e/test_api_household_search.py for the API's search)."""
    flats = [("WZ-0101", "碧桂园", "3", "501"), ("WZ-0102", "碧桂园", "3", "502"), ("CHW-0001", "长河湾", "3", "501")]
    for account_number, community, building, flat in flats:
        assert (
            api.register_household(account_number, community=community, building=building, flat=flat).status_code == 201
        )
    return api


# -- the search -------------------------------------------------------------------------------------


def test_the_search_finds_households_by_words_in_chinese_and_in_english(
    registered: LedgerApi, web_login: WebLogin
) -> None:
    clerk = web_login(Role.CLERK)

    everyone = ok(clerk.get("/ui/households"))
    assert "热用户查询" in everyone and "户号或地址" in everyone and "共 3 户" in everyone
    found = ok(clerk.get("/ui/households", params={"search": "碧桂园 3号楼 501室"}))
    assert "共 1 户" in found and "WZ-0101" in found and "WZ-0102" not in found
    assert "碧桂园 3号楼 1单元 1层 501室" in found and "正常供热" in found and "居民" in found
    assert 'href="/ui/households/WZ-0101"' in clerk.get("/ui/households", params={"search": "0101"}).text

    english = ok(clerk.get("/ui/households", params={"search": "501", "lang": "en"}))
    assert "2 households" in english and "Find a household" in english
    assert "碧桂园, building 3, entrance 1, floor 1, flat 501" in english
    assert "共" not in english


def test_typing_asks_for_the_results_block_only(registered: LedgerApi, web_login: WebLogin) -> None:
    clerk = web_login(Role.CLERK)
    response = clerk.get("/ui/households", params={"community": "长河湾"}, headers={**HTMX, "HX-Target": "results"})
    assert response.status_code == 200
    assert response.text.lstrip().startswith('<div id="results"')
    assert "<html" not in response.text and "CHW-0001" in response.text and "WZ-0101" not in response.text


def test_search_filters_the_schema_refuses_are_said_beside_the_results(
    registered: LedgerApi, web_login: WebLogin
) -> None:
    clerk = web_login(Role.CLERK)
    refused = clerk.get("/ui/households", params={"floor": "five", "phone": "12"})
    assert refused.status_code == 422
    page = text_of(refused)
    assert "查询条件有误" in page and "楼层:" in page and "联系电话:" in page
    # While typing, the block answers 200, or htmx would leave the old results in place.
    typed = clerk.get("/ui/households", params={"phone": "12"}, headers={**HTMX, "HX-Target": "results"})
    assert typed.status_code == 200 and "联系电话" in typed.text


def test_the_phone_search_is_offered_and_allowed_only_to_roles_that_manage_households(
    registered: LedgerApi, web_login: WebLogin
) -> None:
    api = registered
    response = api.client.put(
        "/households/WZ-0102/contact", json={"channel": "webhook", "address": "13800138000"}, headers=api.clerk()
    )
    assert response.status_code == 200
    clerk, regulator = web_login(Role.CLERK), web_login(Role.REGULATOR)

    assert 'name="phone"' in clerk.get("/ui/households").text
    found = ok(clerk.get("/ui/households", params={"phone": "8000"}))
    assert "WZ-0102" in found and "WZ-0101" not in found
    assert 'name="holder"' in clerk.get("/ui/households").text
    assert 'name="phone"' not in regulator.get("/ui/households").text
    assert 'name="holder"' not in regulator.get("/ui/households").text
    assert regulator.get("/ui/households", params={"holder": "王"}).status_code == 403
    assert regulator.get("/ui/households", params={"phone": "8000"}).status_code == 403
    assert "CHW-0001" in ok(regulator.get("/ui/households", params={"search": "长河湾"}))


def test_the_search_pages_fifty_households_at_a_time(api: LedgerApi, frozen_now: object, web_login: WebLogin) -> None:
    for number in range(51):
        assert api.register_household(f"WZ-{number:04d}", flat=str(number)).status_code == 201
    clerk = web_login(Role.CLERK)
    first = clerk.get("/ui/households", params={"search": "WZ"})
    assert first.text.count('href="/ui/households/WZ-') == 50 and "第 1 / 2 页，共 51 条" in text_of(first)
    assert 'href="/ui/households?search=WZ&amp;page=2"' in first.text
    second = clerk.get("/ui/households", params={"search": "WZ", "page": "2"})
    assert second.text.count('href="/ui/households/WZ-') == 1 and "WZ-0050" in second.text


# -- a household ----------------------------------------------------------------------------------


def test_a_household_page_shows_its_facts_bill_and_balance_and_a_payment_moves_the_balance(
    invoiced: LedgerApi, web_login: WebLogin
) -> None:
    clerk = web_login(Role.CLERK)
    page = ok(clerk.get(PAGE))
    assert "热用户 WZ-0001" in page and "碧桂园 1号楼 1单元 1层 101室" in page
    assert "98.50 m²" in page and "底层 · 西边户" in page and "2025年10月1日" in page
    assert re.search(r"欠费余额 2,127.60 元", page)
    assert "预交面积热费" in page and "2025-2026" in page and "尚无缴费" in page
    assert "本户未装热表" in page

    assert pay(invoiced, "1000.00", "R-0001").status_code == 201
    after = ok(clerk.get(PAGE))
    assert re.search(r"欠费余额 1,127.60 元", after) and re.search(r"累计已缴 1,000.00 元", after)
    assert "R-0001" in after and "现金" in after

    english = ok(clerk.get(PAGE, params={"lang": "en"}))
    assert "Household WZ-0001" in english and "Balance owed 1,127.60 元" in english and "Cash" in english


def test_a_bill_is_read_out_line_by_line_for_paper(invoiced: LedgerApi, web_login: WebLogin) -> None:
    clerk = web_login(Role.CLERK)
    bill_link = re.search(r'href="(/ui/households/WZ-0001/bills/[0-9a-f-]{36})"', clerk.get(PAGE).text)
    assert bill_link is not None
    page = ok(clerk.get(bill_link.group(1)))
    assert "账单说明" in page and "面积热费 = 98.50 m² × 21.6 元/m²" in page and "2,127.60 元" in page
    english = ok(clerk.get(bill_link.group(1), params={"lang": "en"}))
    assert "The bill explained" in english and "Area fee = 98.50 m² × 21.6 元/m²" in english
    # A bill is read on its own household's page only.
    assert invoiced.register_household("WZ-0002", flat="102").status_code == 201
    other = clerk.get(bill_link.group(1).replace("WZ-0001", "WZ-0002"))
    assert other.status_code == 404 and "<html" in other.text


def test_an_unknown_household_is_a_404_page(api: LedgerApi, web_login: WebLogin) -> None:
    response = web_login(Role.CLERK).get("/ui/households/NOBODY")
    assert response.status_code == 404
    assert response.headers["content-type"].startswith("text/html") and "NOBODY" in text_of(response)


def test_heat_is_charted_beside_the_building_by_month_and_by_day(
    api: LedgerApi, frozen_now: object, web_login: WebLogin
) -> None:
    days = days_from(date(2025, 11, 28), 6)
    for account_number, serial, flat, daily in (
        ("WZ-0001", "HM-1", "101", "0.500"),
        ("WZ-0002", "HM-2", "102", "0.300"),
    ):
        api.household_with_meter(account_number, serial, flat=flat)
        api.daily_readings(serial, days, cumulative(Decimal("10"), [Decimal(daily)] * 5))
    clerk = web_login(Role.CLERK)

    page = clerk.get(PAGE)
    chart = re.search(r'data-chart="([^"]+)"', page.text)
    assert chart is not None
    option = json.loads(html.unescape(chart.group(1)))
    assert option["xAxis"]["data"] == ["2025-11", "2025-12"]
    household, building = option["series"]
    assert household["name"] == "本户（GJ/m²）" and building["name"] == "本楼平均（GJ/m²）"
    # November: 3 days × 0.5 GJ over 98.50 m²; the building: 3 × (0.5 + 0.3) GJ over 197 m².
    assert household["data"][0] == pytest.approx(1.5 / 98.5, abs=1e-6)
    assert building["data"][0] == pytest.approx(2.4 / 197, abs=1e-6)
    assert "HM-1" in page.text and "按月" in text_of(page)

    by_day = clerk.get(f"{PAGE}/consumption", params={"granularity": "day"}, headers=HTMX)
    assert by_day.status_code == 200 and "<html" not in by_day.text
    day_option = json.loads(html.unescape(re.search(r'data-chart="([^"]+)"', by_day.text).group(1)))  # type: ignore[union-attr]
    assert day_option["xAxis"]["data"] == [day.isoformat() for day in days[:5]]
    without_htmx = clerk.get(f"{PAGE}/consumption", params={"granularity": "day"}, follow_redirects=False)
    assert without_htmx.status_code == 303 and without_htmx.headers["location"].endswith("granularity=day#consumption")


# -- actions ----------------------------------------------------------------------------------------


def post(client: WebClient, action: str, **fields: str) -> Any:
    return client.post_form(f"{PAGE}/{action}", fields, follow_redirects=False)


def test_an_area_correction_from_the_form_shows_on_the_page_and_in_the_history(
    invoiced: LedgerApi, web_login: WebLogin
) -> None:
    clerk = web_login(Role.CLERK)
    done = post(
        clerk,
        "area-correction",
        connected_area_m2="96.00",
        heated_area_m2="90.00",
        effective_on="2025-12-01",
        reason="实测",
    )
    assert done.status_code == 303 and done.headers["location"] == f"{PAGE}?done=area_correction"
    page = ok(clerk.get(done.headers["location"]))
    assert "面积已更正" in page and "96.00 m²" in page
    history = ok(clerk.get(f"{PAGE}/history"))
    assert "面积更正：自 2025-12-01 起建筑面积 96.00 m²" in history and "实测" in history and "web-clerk" in history


def test_a_refused_form_says_why_beside_its_field_and_writes_nothing(invoiced: LedgerApi, web_login: WebLogin) -> None:
    clerk = web_login(Role.CLERK)
    refused = post(
        clerk,
        "area-correction",
        connected_area_m2="90.00",
        heated_area_m2="95.00",
        effective_on="2025-12-01",
        reason="实测",
    )
    assert refused.status_code == 422
    page = text_of(refused)
    assert "实际供热面积不能大于入网面积（收到的实际供热面积为 95.00 m²）" in page
    assert 'aria-invalid="true" aria-describedby="area-heated_area_m2-error"' in refused.text
    assert 'value="95.00"' in refused.text  # the form keeps what was typed
    blank = post(clerk, "area-correction", connected_area_m2="", heated_area_m2="90.00", effective_on="", reason="")
    assert blank.status_code == 422 and "表单有误" in text_of(blank)
    assert "面积更正" not in ok(clerk.get(f"{PAGE}/history")).split("开户")[1]
    assert "98.50 m²" in ok(clerk.get(PAGE))

    english = web_login(Role.CLERK, username="clerk-en", language="en")
    refused_en = post(
        english,
        "area-correction",
        connected_area_m2="90.00",
        heated_area_m2="95.00",
        effective_on="2025-12-01",
        reason="survey",
    )
    assert refused_en.status_code == 422
    assert "The heated area cannot exceed the connected area" in text_of(refused_en)


def test_suspension_and_resumption_follow_the_households_state(invoiced: LedgerApi, web_login: WebLogin) -> None:
    clerk = web_login(Role.CLERK)
    assert 'action="/ui/households/WZ-0001/suspension"' in clerk.get(PAGE).text
    assert post(clerk, "suspension", effective_on="2025-12-15", reason="空置").status_code == 303
    page = clerk.get(PAGE)
    assert "已办理报停" not in text_of(page)  # the message shows only after the redirect
    suspended = ok(clerk.get(f"{PAGE}?done=suspension"))
    assert "已办理报停" in suspended and "自 2025年12月15日 起报停" in suspended
    assert 'action="/ui/households/WZ-0001/resumption"' in page.text
    assert 'action="/ui/households/WZ-0001/suspension"' not in page.text

    twice = post(clerk, "suspension", effective_on="2025-12-16", reason="again")
    assert twice.status_code == 409 and "户 WZ-0001 已经报停。" in text_of(twice)
    too_far = post(clerk, "resumption", effective_on="2027-06-01", reason="回来了")
    assert too_far.status_code == 422
    assert post(clerk, "resumption", effective_on="2026-01-10", reason="回来了").status_code == 303
    assert "正常供热" in ok(clerk.get(PAGE))


def test_an_owner_change_is_recorded_from_its_form(invoiced: LedgerApi, web_login: WebLogin) -> None:
    service = web_login(Role.CUSTOMER_SERVICE)
    assert post(service, "owner-change", effective_on="2026-01-15", reason="房屋出售").status_code == 303
    assert "过户：自 2026-01-15 起由新户主承担热费" in ok(service.get(f"{PAGE}/history"))


def test_the_contact_is_set_found_by_phone_and_erased(invoiced: LedgerApi, web_login: WebLogin) -> None:
    clerk = web_login(Role.CLERK)
    assert "未登记联系方式" in ok(clerk.get(PAGE))
    sent = post(clerk, "contact", channel="webhook", address="13912345678", language="zh", holder_name="王芳")
    assert sent.status_code == 303
    page = ok(clerk.get(PAGE))
    assert "短信/微信：13912345678（中文）" in page and "户主：王芳" in page
    assert "WZ-0001" in ok(clerk.get("/ui/households", params={"phone": "5678"}))
    assert "WZ-0001" in ok(clerk.get("/ui/households", params={"holder": "王"}))
    assert "共 0 户" in ok(clerk.get("/ui/households", params={"holder": "李"}))
    wrong = post(clerk, "contact", channel="email", address="not-an-address", language="zh")
    assert wrong.status_code == 422 and "not-an-address" in wrong.text
    assert post(clerk, "contact/forget").status_code == 303
    assert "未登记联系方式" in ok(clerk.get(PAGE))
    assert post(clerk, "contact/forget").status_code == 404


# -- who may do what ----------------------------------------------------------------------------------


@pytest.mark.parametrize("role", [Role.REGULATOR, Role.AUDITOR])
def test_read_only_roles_see_no_action_and_are_refused_when_they_post_anyway(
    invoiced: LedgerApi, web_login: WebLogin, role: Role
) -> None:
    reader = web_login(role)
    page = reader.get(PAGE)
    assert "2,127.60 元" in text_of(page)
    for action in ("area-correction", "suspension", "owner-change", "contact"):
        assert f"{PAGE}/{action}" not in page.text
    assert "联系方式" not in text_of(page) and "受理新争议" not in text_of(page) and "去收费" not in text_of(page)

    refused = post(
        reader,
        "area-correction",
        connected_area_m2="96.00",
        heated_area_m2="90.00",
        effective_on="2025-12-01",
        reason="crafted",
    )
    assert refused.status_code == 403 and "<html" in refused.text
    assert post(reader, "contact", channel="webhook", address="13800138000").status_code == 403
    assert "98.50 m²" in ok(reader.get(PAGE))


def test_the_history_masks_personal_data_for_a_regulator(invoiced: LedgerApi, web_login: WebLogin) -> None:
    history = ok(web_login(Role.REGULATOR).get(f"{PAGE}/history"))
    assert "开户：碧桂园1号楼***单元***层***室" in history and "个人信息" in history
    assert "开户：碧桂园1号楼1单元1层101室" in ok(web_login(Role.CLERK).get(f"{PAGE}/history"))


def test_a_post_without_the_sessions_csrf_token_is_refused_and_changes_nothing(
    invoiced: LedgerApi, web_login: WebLogin
) -> None:
    clerk = web_login(Role.CLERK)
    fields = {"connected_area_m2": "96.00", "heated_area_m2": "90.00", "effective_on": "2025-12-01", "reason": "x"}
    for token in ("", "forged"):
        refused = clerk.post(f"{PAGE}/area-correction", data={**fields, "csrf_token": token}, follow_redirects=False)
        assert refused.status_code == 403
    assert "98.50 m²" in ok(clerk.get(PAGE))


def test_without_a_session_the_pages_send_to_the_login_form(invoiced: LedgerApi, web_client: Any) -> None:
    anonymous = web_client()
    response = anonymous.get(PAGE, follow_redirects=False)
    assert response.status_code == 303 and response.headers["location"] == "/ui/login?next=/ui/households/WZ-0001"
