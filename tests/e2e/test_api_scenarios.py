"""Regulator scenarios over HTTP, on both backends: a regulator submits one (202, Location), reads
its progress, summary, households and totals, exports it as CSV and XLSX; auditors and clerks may
not submit; nothing is booked.

The household (tests/e2e/test_api_billing.py): 98.50 m², 30.2 GJ over the season, city tariff
21.6 元/m², base 30 %, 43.9 元/GJ, 多退少不补: due 1964.06, settlement −163.54. At 50 元/GJ its
energy part is 30.2 × 50 = 1510.00, metered 638.28 + 1510.00 = 2148.28, still capped by the
refund-only policy at the area fee 2127.60: +163.54. Both ways (多退少补): 2148.28, +184.22.
"""

from __future__ import annotations

import io
import zipfile
from decimal import Decimal
from typing import Any

from application.authorization import Role
from tests.e2e.conftest import LedgerApi, assert_problem
from tests.e2e.test_api_billing import SEASON, Clock, after_season, finished_run, metered_household, publish

__all__ = ["after_season"]  # the fixture, imported for these tests

D = Decimal
VARIANTS = [
    {"label": "能量价 50", "energy_price_yuan_per_gj": "50"},
    {"label": "多退少补 50", "energy_price_yuan_per_gj": "50", "policy": "both_ways"},
]


def settled_season(api: LedgerApi) -> None:
    assert publish(api).status_code == 201
    metered_household(api, "BGY-1", "M-1")
    for kind in ("prepayment", "settlement"):
        assert finished_run(api, kind)["status"] == "done"


def submit(api: LedgerApi, role: Role = Role.REGULATOR, **body: Any) -> Any:
    request = {"season": SEASON, "title": "能量价测算", "variants": VARIANTS, **body}
    return api.client.post("/scenarios", json=request, headers=api.tokens.headers(role))


def test_a_regulator_submits_a_scenario_and_reads_it_back(api: LedgerApi, after_season: Clock) -> None:
    settled_season(api)
    bills_before = api.get("/households/BGY-1/bills").json()

    response = submit(api)

    assert response.status_code == 202, response.text
    location = response.headers["Location"]
    scenario = api.get(location, role=Role.REGULATOR).json()
    assert (scenario["status"], scenario["progress"]) == ("done", {"done": 1, "total": 1})
    summary = scenario["summary"]
    assert (summary["households"], summary["issued"], summary["issued_differ"]) == (1, 1, 0)
    actual, refund_only, both_ways = summary["columns"]
    assert actual["label"] == "actual" and actual["totals"]["due_yuan"] == "1964.06"
    assert refund_only["totals"]["change_yuan"] == "163.54" and refund_only["totals"]["losers"] == 1
    assert both_ways["totals"]["due_yuan"] == "2148.28" and both_ways["totals"]["change_yuan"] == "184.22"
    assert both_ways["bands_yuan"]["100…200"] == 1 and both_ways["bands_percent"]["5…10"] == 1
    # Nothing booked: the household's bills are as they were.
    assert api.get("/households/BGY-1/bills").json() == bills_before

    rows = api.get(f"{location}/households", role=Role.AUDITOR, variant="0").json()["items"]
    assert [(row["account_number"], row["due_yuan"], row["settlement_bills_yuan"]) for row in rows] == [
        ("BGY-1", "1964.06", ["-163.54"])
    ]
    assert rows[0]["actual_source"] == "issued" and rows[0]["matches_issued"] is True
    totals = api.get(f"{location}/totals", role=Role.REGULATOR, level="building").json()["items"]
    assert [(item["building"], item["label"]) for item in totals] == [
        ("1", "actual"),
        ("1", "能量价 50"),
        ("1", "多退少补 50"),
    ]
    listed = api.get("/scenarios", role=Role.REGULATOR).json()["items"]
    assert [item["scenario_id"] for item in listed] == [scenario["scenario_id"]]


def test_the_exports_have_chinese_headers_number_formats_and_a_totals_sheet(
    api: LedgerApi, after_season: Clock
) -> None:
    settled_season(api)
    location = submit(api).headers["Location"]

    exported = api.get(f"{location}/export", role=Role.REGULATOR, format="csv")
    assert exported.status_code == 200 and exported.headers["content-type"].startswith("text/csv")
    lines = exported.content.decode("utf-8").splitlines()
    assert lines[0].startswith("\ufeff户号,小区,楼号,用户类别,计费面积(m²),用热量(GJ)")
    assert "多退少补 50 增减(元)" in lines[0]
    # …, the variant's area fee, metered fee, due, settlement (2148.28 − 2127.60), change in 元 and %.
    assert lines[1].startswith("BGY-1,碧桂园,1,居民,98.50,30.200,已出账,2127.60,1964.06,1964.06,-163.54,")
    assert lines[1].endswith(",2127.60,2148.28,2148.28,20.68,184.22,9.38")

    workbook = api.get(f"{location}/export", role=Role.REGULATOR, format="xlsx")
    assert workbook.status_code == 200
    with zipfile.ZipFile(io.BytesIO(workbook.content)) as archive:
        names = archive.namelist()
        book = archive.read("xl/workbook.xml").decode("utf-8")
        styles = archive.read("xl/styles.xml").decode("utf-8")
        strings = archive.read("xl/sharedStrings.xml").decode("utf-8") if "xl/sharedStrings.xml" in names else ""
        sheets = "".join(archive.read(name).decode("utf-8") for name in names if name.startswith("xl/worksheets/"))
    for sheet in ("户明细", "汇总", "小区", "楼栋", "用户类别", "分布"):
        assert f'name="{sheet}"' in book
    assert "#,##0.00" in styles and "0.000" in styles and "%" in styles
    assert "户号" in strings + sheets and "收入增减(元)" in strings + sheets
    assert "2148.28" in sheets  # the variant's due, a number cell


def test_who_may_submit_and_what_is_refused(api: LedgerApi, after_season: Clock) -> None:
    settled_season(api)
    auditor = submit(api, Role.AUDITOR)
    assert assert_problem(auditor, 403, "permission_denied")["params"] == {"role": "auditor", "method": "POST"}
    clerk = submit(api, Role.CLERK)
    assert assert_problem(clerk, 403, "permission_denied")["params"] == {"role": "clerk", "permission": "run_scenarios"}
    assert submit(api, Role.ADMIN).status_code == 202

    not_begun = submit(api, season="2026-2027")
    assert assert_problem(not_begun, 422, "invalid_input")["params"]["season"] == "2026-2027"
    unknown_field = submit(api, variants=[{"label": "x", "billed_area": "heated"}])
    assert_problem(unknown_field, 422, "validation_failed")
    incomplete = submit(api, variants=[{"label": "x", "from_actual": False, "energy_price_yuan_per_gj": "50"}])
    problem = assert_problem(incomplete, 422, "invalid_input")
    assert problem["params"]["field"] == "area_price_yuan_per_m2"
    repeated = submit(api, variants=[{"label": "x"}, {"label": "x"}])
    assert_problem(repeated, 422, "invalid_input")
    assert_problem(api.get("/scenarios/6f1c2b8e-8d5e-5b8a-9a57-3f0d2b1c9e10", role=Role.REGULATOR), 404, "not_found")
