"""The billing pages (issue 13) on both backends: tariffs, heating seasons and billing runs, made
through the pages' own forms and read back on the next page, in Chinese and English; actions not
offered to the roles that may not take them and refused (403) when posted anyway; CSRF refusals;
refused forms that say why and write nothing; a run's progress polled until it is finished."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import date, datetime
from typing import Any

import pytest
from fastapi import FastAPI
from freezegun import freeze_time
from freezegun.api import FrozenDateTimeFactory

from api.routers.billing import run_billing_in_background
from application.authorization import SYSTEM, Role
from application.billing_runs import RunRequest
from domain.billing import BillKind
from domain.season import Season
from infrastructure.container import Container
from tests.e2e.conftest import LedgerApi
from tests.e2e.web.conftest import WebClient, WebLogin

AFTER_SEASON = datetime.fromisoformat("2026-04-10T12:00:00+08:00")
BEFORE_SEASON_END = datetime.fromisoformat("2026-03-20T12:00:00+08:00")
PUBLISH_LINK = "/ui/tariffs/new"
RUN_FORM = 'action="/ui/billing-runs"'
DECLARE_FORM = 'method="post" action="/ui/seasons"'
POLLING = 'hx-trigger="every 2s"'


def tariff_form(**changes: str) -> dict[str, str]:
    """The publication form as a browser posts it (blank fields included)."""
    return {
        "customer_class": "residential",
        "scope": "*",
        "area_price_yuan_per_m2": "21.6",
        "base_share_percent": "30",
        "energy_price_yuan_per_gj": "43.9",
        "policy": "refund_only",
        "cap_percent": "",
        "suspension_share_percent": "20",
        "position_correction": "none",
        "minimum_charge_yuan": "0",
        "rounding_mode": "half_up",
        "rounding_quantum_yuan": "0.01",
        "billed_area": "connected",
        "broken_meter_share_percent": "10",
        "broken_meter_method": "area",
        "effective_from": "2025-11-01",
        "effective_until": "",
        "document_number": "吴价发〔2025〕12号",
        "approved_on": "2025-09-15",
        "reason": "物价局批复",
        **changes,
    }


def season_form(**changes: str) -> dict[str, str]:
    return {
        "scope": "*",
        "season": "2025-2026",
        "first_day": "2025-11-15",
        "last_day": "2026-03-15",
        "decree_number": "宁政办发〔2025〕88号",
        "reason": "全市供暖期",
        **changes,
    }


def run_form(**changes: str) -> dict[str, str]:
    return {"kind": "prepayment", "season": "2025-2026", "month": "", "community": "", "reason": "", **changes}


def text_of(html: str) -> str:
    """A page's text without its tags and with its white space collapsed (what a person reads)."""
    return " ".join(re.sub(r"<[^>]+>", " ", html).split())


@pytest.fixture
def after_season(app: FastAPI) -> Iterator[FrozenDateTimeFactory]:
    """The clock stopped ten days after the 2025-2026 season (the app is built first)."""
    with freeze_time(AFTER_SEASON, real_asyncio=True) as clock:
        yield clock


def publish(client: WebClient, **changes: str) -> Any:
    return client.post_form("/ui/tariffs/new", tariff_form(**changes), follow_redirects=False)


# -- tariffs ------------------------------------------------------------------------------------


def test_an_administrator_publishes_a_tariff_and_reads_it_in_both_languages(web_login: WebLogin) -> None:
    admin = web_login(Role.ADMIN)
    assert PUBLISH_LINK in admin.get("/ui/tariffs").text
    form = admin.get("/ui/tariffs/new")
    assert form.status_code == 200
    assert '<label for="area_price_yuan_per_m2">面积热价（元/m²·采暖季）' in form.text

    response = publish(admin)
    assert response.status_code == 303, response.text
    assert response.headers["location"] == "/ui/tariffs/residential/%2A?published=1"
    page = text_of(admin.get(response.headers["location"]).text)
    assert "第 1 版已发布。" in page
    assert "居民热价 · 全市" in page
    assert "21.6 元/m²" in page and "43.9 元/GJ" in page and "多退少不补" in page
    assert "吴价发〔2025〕12号" in page and "物价局批复" in page
    assert "顶层 / 西边户 1.518" in page  # the standard position coefficients, named

    listed = text_of(admin.get("/ui/tariffs").text)
    assert "居民 全市 1" in listed and "吴价发〔2025〕12号" in listed
    english = text_of(admin.get("/ui/tariffs/residential/%2A?lang=en").text)
    assert "Residential tariff · the whole city" in english
    assert "Refund only (多退少不补)" in english and "Version 1" in english

    prefilled = admin.get("/ui/tariffs/new?customer_class=residential&scope=*").text
    assert 'name="area_price_yuan_per_m2" type="text" value="21.60"' in prefilled
    assert '<option value="refund_only" selected>' in prefilled
    assert publish(admin, effective_from="2026-11-01", area_price_yuan_per_m2="22.8").status_code == 303
    versions = text_of(admin.get("/ui/tariffs/residential/%2A?lang=zh").text)  # English was remembered
    assert versions.index("第 2 版") < versions.index("第 1 版")  # the newest first


def test_tariffs_are_searched_as_you_type(web_login: WebLogin) -> None:
    admin = web_login(Role.ADMIN)
    publish(admin)
    publish(admin, scope="碧桂园", document_number="碧价〔2025〕3号")

    found = admin.get("/ui/tariffs", params={"q": "碧价"}, headers={"HX-Request": "true"})
    assert found.status_code == 200
    assert "<html" not in found.text and 'id="tariff-table"' in found.text
    assert "碧桂园" in found.text and "吴价发" not in found.text
    assert "没有与“无此文件”相符的热价。" in text_of(admin.get("/ui/tariffs", params={"q": "无此文件"}).text)


def test_a_refused_tariff_says_why_beside_the_field_and_publishes_nothing(web_login: WebLogin) -> None:
    admin = web_login(Role.ADMIN, language="en")
    negative = publish(admin, energy_price_yuan_per_gj="-43.9")
    assert negative.status_code == 422
    assert '<p class="field-error" id="energy_price_yuan_per_gj-error">The energy price must not be negative.' in (
        negative.text
    )
    assert 'value="-43.9"' in negative.text  # what the clerk typed stays in the form
    missing = publish(admin, approved_on="")
    assert missing.status_code == 422
    assert 'id="approved_on-error">This value is required.' in missing.text
    assert "No tariff has been published yet." in admin.get("/ui/tariffs").text

    assert publish(admin).status_code == 303
    overlapping = publish(admin, effective_from="2025-10-01")
    assert overlapping.status_code == 409
    assert 'role="alert"' in overlapping.text
    assert "Version 2" not in admin.get("/ui/tariffs/residential/%2A?lang=en").text


@pytest.mark.parametrize("role", [Role.CLERK, Role.AUDITOR, Role.REGULATOR])
def test_only_administrators_are_offered_publishing_and_others_are_refused(web_login: WebLogin, role: Role) -> None:
    client = web_login(role)
    assert PUBLISH_LINK not in client.get("/ui/tariffs").text
    assert client.get("/ui/tariffs/new").status_code == 403
    refused = publish(client)
    assert refused.status_code == 403
    assert "无权" in text_of(refused.text) or "permission" in refused.text.lower()
    assert "尚未发布任何热价。" in client.get("/ui/tariffs").text


def test_a_post_without_the_csrf_token_is_refused(web_login: WebLogin) -> None:
    admin = web_login(Role.ADMIN)
    forged = admin.post("/ui/tariffs/new", data=tariff_form(), follow_redirects=False)
    assert forged.status_code == 403
    wrong = admin.post("/ui/tariffs/new", data={**tariff_form(), "csrf_token": "forged"}, follow_redirects=False)
    assert wrong.status_code == 403
    assert admin.post("/ui/seasons", data=season_form()).status_code == 403
    assert admin.post("/ui/billing-runs", data=run_form()).status_code == 403
    assert "尚未发布任何热价。" in admin.get("/ui/tariffs").text
    assert "尚无计费批次。" in admin.get("/ui/billing-runs").text


def test_an_unknown_tariff_is_a_404_page(web_login: WebLogin) -> None:
    client = web_login(Role.AUDITOR)
    missing = client.get("/ui/tariffs/residential/无此小区")
    assert missing.status_code == 404 and "<html" in missing.text
    assert client.get("/ui/tariffs/no_class/%2A").status_code == 422


# -- seasons ------------------------------------------------------------------------------------


def test_an_administrator_declares_and_extends_a_season(web_login: WebLogin, api: LedgerApi) -> None:
    assert api.register_household("WZ-0001").status_code == 201
    admin = web_login(Role.ADMIN)
    empty = text_of(admin.get("/ui/seasons?season=2025-2026").text)
    assert "2025-2026 采暖季尚无供暖期文件" in empty

    declared = admin.post_form("/ui/seasons", season_form(), follow_redirects=False)
    assert declared.status_code == 303, declared.text
    assert declared.headers["location"] == "/ui/seasons/%2A/2025-2026?saved=declared"
    record = text_of(admin.get(declared.headers["location"]).text)
    assert "供暖期已公布。" in record and "共 121 天" in record and "宁政办发〔2025〕88号" in record

    extension = {"first_day": "2025-11-15", "last_day": "2026-03-31", "decree_number": "宁政办发〔2026〕5号"}
    extended = admin.post_form("/ui/seasons/%2A/2025-2026/extension", {**extension, "reason": "寒潮"})
    assert extended.status_code == 200 and extended.url.path == "/ui/seasons/*/2025-2026"
    after = text_of(extended.text)
    assert "供暖期已延长。" in after and "共 137 天" in after and "延长 " in after and "寒潮" in after

    listed = text_of(admin.get("/ui/seasons?season=2025-2026&community=碧桂园").text)
    assert "全市 2025年11月15日 2026年3月31日 137" in listed
    assert "碧桂园：2025年11月15日 至 2026年3月31日，共 137 天，依据全市的文件" in listed
    english = text_of(admin.get("/ui/seasons?season=2026-2027&community=碧桂园&lang=en").text)
    assert "by the default season" in english


def test_season_forms_refuse_what_the_api_refuses(web_login: WebLogin) -> None:
    admin = web_login(Role.ADMIN)
    assert admin.post_form("/ui/seasons", season_form(), follow_redirects=False).status_code == 303
    again = admin.post_form("/ui/seasons", season_form())
    assert again.status_code == 409 and 'role="alert"' in again.text
    blank = admin.post_form("/ui/seasons", season_form(scope="碧桂园", decree_number=""))
    assert blank.status_code == 422 and 'id="decree_number-error">必须填写。' in blank.text
    shorter = {"first_day": "2025-11-20", "last_day": "2026-03-15", "decree_number": "X", "reason": "r"}
    refused = admin.post_form("/ui/seasons/%2A/2025-2026/extension", shorter)
    assert refused.status_code == 409 and "不能缩短" in refused.text
    assert admin.get("/ui/seasons/碧桂园/2025-2026").status_code == 404


@pytest.mark.parametrize("role", [Role.CLERK, Role.REGULATOR])
def test_only_administrators_are_offered_season_decrees(web_login: WebLogin, container: Container, role: Role) -> None:
    season = Season.from_code("2025-2026")
    container.seasons.declare(
        SYSTEM, "*", season.code, season.first_day, season.last_day, "宁政办发〔2025〕88号", "decree"
    )
    client = web_login(role)
    assert DECLARE_FORM not in client.get("/ui/seasons?season=2025-2026").text
    assert "/extension" not in client.get("/ui/seasons/%2A/2025-2026").text
    assert client.post_form("/ui/seasons", season_form(season="2026-2027")).status_code == 403
    extension = {"first_day": "2025-11-01", "last_day": "2026-04-10", "decree_number": "X", "reason": "r"}
    assert client.post_form("/ui/seasons/%2A/2025-2026/extension", extension).status_code == 403
    assert "共 151 天" in text_of(client.get("/ui/seasons/%2A/2025-2026").text)


# -- billing runs -------------------------------------------------------------------------------


def billed_community(web_login: WebLogin, api: LedgerApi, households: int = 3) -> WebClient:
    """An administrator's tariff for the city and ``households`` flats in 碧桂园 1; a clerk's client."""
    assert publish(web_login(Role.ADMIN)).status_code == 303
    for number in range(households):
        assert api.register_household(f"WZ-000{number}", flat=f"10{number}").status_code == 201
    return web_login(Role.CLERK)


def test_a_clerk_starts_a_run_and_reads_its_result(
    web_login: WebLogin, api: LedgerApi, after_season: FrozenDateTimeFactory
) -> None:
    clerk = billed_community(web_login, api)
    runs = clerk.get("/ui/billing-runs").text
    assert RUN_FORM in runs and '<option value="碧桂园">' in runs and 'value="2025-2026"' in runs

    started = clerk.post_form("/ui/billing-runs", run_form(community="碧桂园", reason="预交"), follow_redirects=False)
    assert started.status_code == 303, started.text
    run_path = started.headers["location"]
    page = clerk.get(run_path).text  # the inline job ran once the answer was sent
    assert POLLING not in page
    shown = text_of(page)
    assert "预交（面积热费） · 2025-2026 采暖季" in shown and "已完成" in shown
    assert "已处理 3 / 3 户" in shown and "本次出账 3" in shown
    assert "应收合计 6,382.80 元" in shown  # 98.50 m² × 21.6 元/m² × 3
    assert "按面积 3" in shown and "碧桂园" in shown and "预交" in shown

    listed = text_of(clerk.get("/ui/billing-runs").text)
    assert "预交（面积热费） 2025-2026 碧桂园 已完成 3 / 3 3 web-clerk" in listed
    english = text_of(clerk.get(f"{run_path}?lang=en").text)
    assert "Prepayment (area fee) · season 2025-2026" in english and "6,382.80 元" in english

    after_season.tick(60)
    clerk.post_form("/ui/billing-runs", run_form(community="碧桂园"))
    again = text_of(clerk.get("/ui/billing-runs?lang=zh").text)
    assert again.index("已完成 3 / 3 0") < again.index("已完成 3 / 3 3")  # newest first: nothing issued twice


def test_a_run_is_watched_until_it_finishes(
    web_login: WebLogin, api: LedgerApi, container: Container, after_season: FrozenDateTimeFactory
) -> None:
    clerk = billed_community(web_login, api, households=2)
    season = container.billing_runs.season_in_force("2025-2026", "碧桂园")
    run_id = container.run_store.submit(SYSTEM, RunRequest(BillKind.PREPAYMENT, season, None, "碧桂园"), "queued")

    waiting = clerk.get(f"/ui/billing-runs/{run_id}")
    assert POLLING in waiting.text and f'hx-get="/ui/billing-runs/{run_id}/progress"' in waiting.text
    assert "排队中" in text_of(waiting.text)
    fragment = clerk.get(f"/ui/billing-runs/{run_id}/progress", headers={"HX-Request": "true"})
    assert fragment.status_code == 200
    assert "<html" not in fragment.text and POLLING in fragment.text and 'value="0"' in fragment.text

    run_billing_in_background(container, run_id)
    finished = clerk.get(f"/ui/billing-runs/{run_id}/progress", headers={"HX-Request": "true"})
    assert POLLING not in finished.text  # htmx stops asking
    assert 'value="100"' in finished.text and "本次出账 2" in text_of(finished.text)


def test_a_refused_run_says_why_and_records_nothing(
    web_login: WebLogin, api: LedgerApi, after_season: FrozenDateTimeFactory
) -> None:
    clerk = billed_community(web_login, api, households=1)
    after_season.move_to(BEFORE_SEASON_END)
    early = clerk.post_form("/ui/billing-runs", run_form(kind="settlement"))
    assert early.status_code == 422
    assert 'id="season-error"' in early.text
    no_month = clerk.post_form("/ui/billing-runs", run_form(kind="statement"))
    assert no_month.status_code == 422 and 'id="month-error"' in no_month.text
    wrong = clerk.post_form("/ui/billing-runs", run_form(kind="adjustment"))
    assert wrong.status_code == 422
    assert "尚无计费批次。" in clerk.get("/ui/billing-runs").text


def test_a_run_shows_the_households_it_could_not_bill(
    web_login: WebLogin, api: LedgerApi, container: Container, after_season: FrozenDateTimeFactory
) -> None:
    clerk = billed_community(web_login, api, households=2)
    container.ledger.deregister_household(SYSTEM, "WZ-0000", date(2026, 2, 1), "拆网")
    clerk.post_form("/ui/billing-runs", run_form())
    after_season.tick(60)
    started = clerk.post_form("/ui/billing-runs", run_form(kind="statement", month="2026-02"), follow_redirects=False)
    page = clerk.get(started.headers["location"])
    shown = text_of(page.text)
    assert "未能出账的热用户" in shown and "WZ-0000" in shown
    assert '<a href="/ui/households/WZ-0000">' in page.text


def test_a_failed_run_says_why(web_login: WebLogin, api: LedgerApi, after_season: FrozenDateTimeFactory) -> None:
    assert api.register_household("WZ-0001").status_code == 201
    clerk = web_login(Role.CLERK, language="en")
    started = clerk.post_form("/ui/billing-runs", run_form(), follow_redirects=False)
    failed = text_of(clerk.get(started.headers["location"]).text)
    assert "Failed" in failed and "Billing run failed" in failed and "WZ-0001" in failed


@pytest.mark.parametrize("role", [Role.AUDITOR, Role.REGULATOR, Role.CUSTOMER_SERVICE])
def test_only_clerks_and_administrators_are_offered_runs(
    web_login: WebLogin, api: LedgerApi, role: Role, after_season: FrozenDateTimeFactory
) -> None:
    billed_community(web_login, api, households=1)
    client = web_login(role)
    assert RUN_FORM not in client.get("/ui/billing-runs").text
    assert client.post_form("/ui/billing-runs", run_form()).status_code == 403
    assert "尚无计费批次。" in client.get("/ui/billing-runs").text
    assert client.get("/ui/billing-runs/00000000-0000-0000-0000-000000000000").status_code == 404
