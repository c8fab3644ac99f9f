"""The community analytics pages (issue 15), on both backends: a small city built through the API
(two communities behind a shared substation, billed and settled), read by a regulator and an
auditor in Chinese and English; the season's settings recorded by an administrator through the
page's form (refused values beside their field, 403 for other roles and without the CSRF token);
the exports downloaded with the page's session.
"""

from __future__ import annotations

from decimal import Decimal

import pytest

from application.authorization import Role
from tests.e2e.conftest import LedgerApi
from tests.e2e.test_api_reports import END, SEASON, START, admin_post, after_season, community
from tests.e2e.web.conftest import WebLogin

__all__ = ["after_season"]  # the fixture, imported for these tests

PAGES = ("/ui/reports", "/ui/reports/heat-loss", "/ui/reports/position-fairness", "/ui/reports/collection")


@pytest.fixture
def city(api: LedgerApi, after_season: None) -> None:
    """碧桂园 (3 households, 100.3875 GJ) and 阅水秦韵 (2, 60 GJ) behind 站1, whose meter measured
    176.3875 GJ (16 GJ lost, 9.1 %); the tariff, the prepayment and the settlement."""
    community(api, "碧桂园", "BGY", "300.00", "250.00", [Decimal(30), Decimal("40.3875"), Decimal(30)])
    community(api, "阅水秦韵", "YSQY", "200.00", "180.00", [Decimal(30), Decimal(30)])
    assert api.commission_meter("S-1", community="碧桂园", building="站1", kind="substation_primary").status_code == 201
    readings = [
        {"meter_serial": "S-1", "measured_at": START, "energy_gj": "1000", "source": "mbus"},
        {"meter_serial": "S-1", "measured_at": END, "energy_gj": "1176.3875", "source": "mbus"},
    ]
    assert api.submit(readings).status_code == 200
    tariff = {
        "customer_class": "residential",
        "scope": "*",
        "area_price_yuan_per_m2": "14.71",
        "base_share_percent": "30",
        "energy_price_yuan_per_gj": "44.63",
        "policy": "both_ways",
        "effective_from": "2025-11-01",
        "document_number": "吴价发〔2025〕12号",
        "approved_on": "2025-09-15",
        "reason": "price bureau approval",
    }
    assert admin_post(api, "/tariffs", tariff).status_code == 201
    for kind in ("prepayment", "settlement"):
        response = api.client.post(
            "/billing/runs", json={"kind": kind, "season": SEASON}, headers=api.tokens.headers(Role.CLERK)
        )
        assert api.get(response.headers["Location"]).json()["status"] == "done"
    station = {
        "name": "站1",
        "effective_on": "2025-10-01",
        "heat_source": "一号热源",
        "meter_serial": "S-1",
        "feeds": [{"community": "碧桂园"}, {"community": "阅水秦韵"}],
        "reason": "network map",
    }
    assert api.client.post("/reports/substations", json=station, headers=api.clerk()).status_code == 201


def setting_form(name: str, value: str, heat_source: str = "") -> dict[str, str]:
    return {
        "season": SEASON,
        "setting": name,
        "value": value,
        "heat_source": heat_source,
        "effective_on": "2025-11-01",
        "reason": "board figures",
    }


def test_a_regulator_reads_every_report_in_chinese_and_english_and_may_not_set(city: None, web_login: WebLogin) -> None:
    regulator = web_login(Role.REGULATOR)
    places = regulator.get(f"/ui/reports?season={SEASON}")
    assert places.status_code == 200, places.text
    assert 'href="/ui/reports"' in places.text and "单耗与收益" in places.text
    # 100.3875 GJ over 300 m² connected: 0.335 GJ/m²; one of three households pays more.
    assert "碧桂园" in places.text and "0.335" in places.text and "data-chart" in places.text
    assert "无平均单耗或购热价格" in places.text  # no settings yet: no revenue figures, never a cost of 0
    assert 'action="/ui/reports/settings' not in places.text
    loss = regulator.get(f"/ui/reports/heat-loss?season={SEASON}")
    assert loss.status_code == 200 and "站1" in loss.text and "9.1 %" in loss.text and "badge-warning" not in loss.text
    fairness = regulator.get(f"/ui/reports/position-fairness?season={SEASON}&community=碧桂园")
    assert fairness.status_code == 200 and "bottom/west_end" in fairness.text and "建议系数" in fairness.text
    collection = regulator.get(f"/ui/reports/collection?season={SEASON}")
    assert collection.status_code == 200 and "2024-2025" in collection.text and "收缴率" in collection.text

    english = web_login(Role.AUDITOR, language="en")
    for path in PAGES:
        page = english.get(f"{path}?season={SEASON}")
        assert page.status_code == 200, page.text
        assert 'action="/ui/reports/settings' not in page.text
    assert "Unit consumption and saving" in english.get(f"/ui/reports?season={SEASON}&grouping=building").text
    assert "Network heat loss" in english.get(f"/ui/reports/heat-loss?season={SEASON}").text
    for reader in (regulator, english):
        crafted = reader.post_form("/ui/reports/settings", setting_form("loss_threshold_percent", "5"))
        assert crafted.status_code == 403
    assert regulator.get("/ui/reports?season=2025").status_code == 422


def test_an_administrator_records_the_settings_and_reads_the_revenue(city: None, web_login: WebLogin) -> None:
    admin = web_login(Role.ADMIN)
    page = admin.get(f"/ui/reports?season={SEASON}")
    assert 'action="/ui/reports/settings' in page.text

    refused = admin.post_form("/ui/reports/settings", setting_form("average_unit_consumption_gj_per_m2", "0"))
    assert refused.status_code == 422 and 'aria-invalid="true"' in refused.text
    assert "本季尚无设置" in refused.text  # nothing was recorded
    no_token = admin.post("/ui/reports/settings", data=setting_form("loss_threshold_percent", "5"))
    assert no_token.status_code == 403

    for form in (
        setting_form("average_unit_consumption_gj_per_m2", "0.4"),
        setting_form("purchase_price_yuan_per_gj", "21", "*"),
        setting_form("loss_threshold_percent", "5"),
    ):
        done = admin.post_form("/ui/reports/settings", form, follow_redirects=False)
        assert done.status_code == 303, done.text
    page = admin.get(f"/ui/reports?season={SEASON}&done=setting")
    assert "设置已记录" in page.text and "web-admin" in page.text and "board figures" in page.text
    # 碧桂园 bought 100.3875 GJ at 21 元/GJ: 2,108.14 元; by area 0.4 × 300 = 120 GJ: 2,520.00 元.
    assert "2,108.14" in page.text and "2,520.00" in page.text
    assert "无平均单耗或购热价格" not in page.text
    loss = admin.get(f"/ui/reports/heat-loss?season={SEASON}&name=站1")
    assert "badge-warning" in loss.text and "超阈值的日子" in loss.text  # 9.1 % above the 5 % threshold


def test_the_exports_download_with_the_pages_session(city: None, web_login: WebLogin) -> None:
    auditor = web_login(Role.AUDITOR)
    csv = auditor.get(f"/ui/reports/places/{SEASON}/export?format=csv&grouping=building")
    assert csv.status_code == 200 and csv.headers["content-type"].startswith("text/csv")
    assert "碧桂园" in csv.content.decode("utf-8-sig")
    xlsx = auditor.get(f"/ui/reports/heat-loss/{SEASON}/export?format=xlsx")
    assert xlsx.status_code == 200 and xlsx.content[:2] == b"PK"
    assert auditor.get(f"/ui/reports/nothing/{SEASON}/export").status_code == 422
