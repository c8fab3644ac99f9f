"""The meters pages (issue 13) on both backends: the search, a meter's page (facts, chart, readings),
a reading corrected and withdrawn through its forms, verifications recorded and judged, the
lifecycle (commission, fit, swap, detach, decommission) and decisions about heat far beyond the
permissible error, in Chinese and English; who is offered what, the server's refusal of what a
role may not do even when the form is crafted, CSRF refusals, and refused forms that change nothing.

The household WZ-0001 (碧桂园 1号楼) has meter HM-1, read at Beijing midnight from 1 to 5 December
2025 (100.000 → 101.600 GJ, 0.4 GJ a day); HM-2 waits in the store, commissioned.
"""

from __future__ import annotations

import re
from datetime import date
from decimal import Decimal
from typing import Any
from urllib.parse import quote

import pytest

from application.authorization import Role
from tests.e2e.conftest import LedgerApi, cumulative, days_from
from tests.e2e.test_api_heat_decisions import JUMP_START, after_season, jumped
from tests.e2e.web.conftest import WebClient, WebLogin

__all__ = ["after_season", "jumped"]  # the fixtures, imported for these tests

DAYS = days_from(date(2025, 12, 1), 5)
ENERGY = cumulative(Decimal("100.000"), [Decimal("0.400")] * 4)
VOLUME = cumulative(Decimal("500.000"), [Decimal("2.400")] * 4)
# The last reading (5 December, Beijing midnight) as the ledger stores it, and as a link asks for it.
LAST_AT = "2025-12-04T16:00:00+00:00"
LAST_LINK = f"/ui/meters/HM-1/reading?at={quote(LAST_AT, safe='')}"
METER_ACTIONS = ("attachment", "detachment", "replacement", "decommissioning", "heat-decision")


@pytest.fixture
def metered(api: LedgerApi, frozen_now: object) -> LedgerApi:
    api.household_with_meter("WZ-0001", "HM-1")
    api.daily_readings("HM-1", DAYS, ENERGY, volume_m3=VOLUME)
    assert api.commission_meter("HM-2").status_code == 201
    return api


def readings_of(api: LedgerApi, serial: str) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = api.get(f"/meters/{serial}/readings").json()["items"]
    return items


def post(client: WebClient, path: str, **fields: str) -> Any:
    return client.post_form(path, fields, follow_redirects=False)


def redirected_to(response: Any, path: str) -> None:
    assert response.status_code == 303, response.text
    assert response.headers["location"].startswith(path), response.headers["location"]


# -- the search -------------------------------------------------------------------------------------


def test_meters_are_found_by_a_part_of_their_serial_in_both_languages(metered: LedgerApi, web_login: WebLogin) -> None:
    clerk = web_login(Role.CLERK)

    page = clerk.get("/ui/meters?search=hm-")
    english = clerk.get("/ui/meters?search=hm-1&lang=en")

    assert page.status_code == 200
    assert '<a href="/ui/meters/HM-1">HM-1</a>' in page.text and '<a href="/ui/meters/HM-2">HM-2</a>' in page.text
    assert "共 2 块表" in page.text and "户用热表" in page.text and "未装户" in page.text
    assert '<a href="/ui/households/WZ-0001">WZ-0001</a>' in page.text
    assert "101.600 GJ" in page.text  # HM-1's newest register
    assert "1 meters" in english.text and "Household meter" in english.text and "HM-2" not in english.text
    assert '<label for="find-search">按表号查找</label>' in page.text


def test_the_search_as_you_type_answers_the_results_only(metered: LedgerApi, web_login: WebLogin) -> None:
    clerk = web_login(Role.CLERK)

    block = clerk.get("/ui/meters?search=HM-2&state=unattached", headers={"HX-Request": "true", "HX-Target": "results"})

    assert block.status_code == 200
    assert block.text.lstrip().startswith('<div id="results">') and "<html" not in block.text
    assert "HM-2" in block.text and "/ui/meters/HM-1" not in block.text


def test_a_search_the_schema_refuses_says_why_beside_its_field(metered: LedgerApi, web_login: WebLogin) -> None:
    clerk = web_login(Role.CLERK)

    page = clerk.get("/ui/meters?kind=gas")

    assert page.status_code == 422
    assert 'id="find-kind-error"' in page.text and "查询条件有误" in page.text
    assert "/ui/meters/HM-1" not in page.text


# -- a meter's page ---------------------------------------------------------------------------------


def test_a_meters_page_shows_its_facts_heat_and_readings(metered: LedgerApi, web_login: WebLogin) -> None:
    auditor = web_login(Role.AUDITOR)

    page = auditor.get("/ui/meters/HM-1")
    english = auditor.get("/ui/meters/HM-1?lang=en")

    assert page.status_code == 200
    assert "热表 HM-1" in page.text and "Kamstrup MULTICAL 403" in page.text and "2 级" in page.text
    assert "流量传感器装在回水管" in page.text and "碧桂园 1号楼" in page.text
    assert '<a href="/ui/households/WZ-0001">WZ-0001</a>' in page.text
    assert "共 5 条读数" in page.text and "M-Bus 抄读" in page.text
    assert 'class="chart"' in page.text and "data-chart=" in page.text
    assert "共 1.600 GJ，4 天有计量" in page.text  # four intervals of 0.4 GJ, 1 to 5 December
    assert "Meter HM-1" in english.text and "5 readings, newest first." in english.text
    assert 'href="/ui/audit/history?kind=meter&amp;key=HM-1"' in page.text


def test_an_unknown_meter_is_a_page_saying_so(metered: LedgerApi, web_login: WebLogin) -> None:
    page = web_login(Role.CLERK).get("/ui/meters/NOPE-9")

    assert page.status_code == 404
    assert page.headers["content-type"].startswith("text/html")
    assert "NOPE-9" in page.text


def test_a_chart_draws_the_days_and_the_register(metered: LedgerApi, web_login: WebLogin) -> None:
    page = web_login(Role.CLERK).get("/ui/meters/HM-1")

    option = re.search(r'data-chart="([^"]+)"', page.text)
    assert option is not None
    text = option.group(1).replace("&#34;", '"').replace("&quot;", '"')
    assert '"type":"bar"' in text and '"type":"line"' in text
    assert "[1764604800000,0.4]" in text  # 2 December's heat at its Beijing midnight (UTC 1 Dec 16:00)
    assert "[1764864000000,101.6]" in text  # the register's newest reading


# -- one reading: corrected, withdrawn ------------------------------------------------------------------


def test_a_clerk_corrects_a_reading_and_the_meter_shows_the_corrected_value(
    metered: LedgerApi, web_login: WebLogin
) -> None:
    clerk = web_login(Role.CLERK)
    meter = clerk.get("/ui/meters/HM-1")
    assert f'href="{LAST_LINK}"' in meter.text.replace("&amp;", "&")

    form = clerk.get(LAST_LINK)
    assert form.status_code == 200
    assert 'value="2025-12-05T00:00:00"' in form.text  # the reading's time in Beijing, prefilled
    assert 'name="corrected_energy_gj" type="text" value="101.6"' in form.text  # exact, without trailing zeros

    corrected = post(
        clerk,
        "/ui/meters/HM-1/reading/correction",
        measured_at=LAST_AT,
        corrected_measured_at="2025-12-05T00:00:00",
        corrected_energy_gj="101.500",
        corrected_volume_m3="509.600",
        corrected_source="manual",
        reason="digits misread on the display",
    )

    redirected_to(corrected, "/ui/meters/HM-1?done=correction")
    newest = readings_of(metered, "HM-1")[0]
    assert (Decimal(newest["energy_gj"]), newest["source"]) == (Decimal("101.5"), "manual")
    page = clerk.get("/ui/meters/HM-1?done=correction")
    assert "读数已更正" in page.text and "101.500 GJ" in page.text and "人工录入" in page.text
    withdrawn = clerk.get("/ui/meters/HM-1/corrections")
    assert "共 1 条" in withdrawn.text and "digits misread on the display" in withdrawn.text
    assert '<td class="number">101.6</td>' in withdrawn.text and clerk.username in withdrawn.text


def test_a_correction_breaking_a_reading_rule_is_refused_and_changes_nothing(
    metered: LedgerApi, web_login: WebLogin
) -> None:
    clerk = web_login(Role.CLERK, language="en")

    refused = post(
        clerk,
        "/ui/meters/HM-1/reading/correction",
        measured_at=LAST_AT,
        corrected_measured_at="2025-12-05T00:00:00",
        corrected_energy_gj="99.000",  # below the 4 December reading
        corrected_source="manual",
        reason="typo",
    )
    blank = post(clerk, "/ui/meters/HM-1/reading/correction", measured_at=LAST_AT, corrected_energy_gj="", reason="")

    assert refused.status_code == 422
    assert "went backwards" in refused.text and 'value="99.000"' in refused.text
    assert blank.status_code == 422
    assert 'id="correct-corrected_energy_gj-error"' in blank.text and 'id="correct-reason-error"' in blank.text
    assert [Decimal(item["energy_gj"]) for item in readings_of(metered, "HM-1")] == list(reversed(ENERGY))


def test_a_clerk_withdraws_a_reading_and_it_leaves_the_readings(metered: LedgerApi, web_login: WebLogin) -> None:
    clerk = web_login(Role.CUSTOMER_SERVICE)

    withdrawn = post(
        clerk, "/ui/meters/HM-1/reading/void", measured_at=LAST_AT, reason="read from the neighbour's meter"
    )

    redirected_to(withdrawn, "/ui/meters/HM-1?done=void")
    assert len(readings_of(metered, "HM-1")) == 4
    assert "共 4 条读数" in clerk.get("/ui/meters/HM-1").text
    assert "read from the neighbour" in clerk.get("/ui/meters/HM-1/corrections").text
    assert clerk.get(LAST_LINK).status_code == 404  # gone from the readings


# -- verifications ------------------------------------------------------------------------------------


def test_a_verification_is_judged_point_by_point_against_the_class(metered: LedgerApi, web_login: WebLogin) -> None:
    clerk = web_login(Role.CLERK)
    form = clerk.get("/ui/meters/HM-1/verifications")
    assert (
        '<label class="visually-hidden" for="verify-points_1_flow_rate_m3_h">第 1 点流量 q (m³/h)</label>' in form.text
    )

    recorded = post(
        clerk,
        "/ui/meters/HM-1/verifications",
        verified_on="2025-12-08",
        certificate="JD-2025-12-0042",
        points_1_flow_rate_m3_h="2.5",
        points_1_temperature_difference_k="40",
        points_1_measured_error_percent="-1.2",
        points_2_flow_rate_m3_h="0.025",
        points_2_temperature_difference_k="3",
        points_2_measured_error_percent="9.9",
        reason="sent in after a dispute",
    )

    redirected_to(recorded, "/ui/meters/HM-1/verifications?done=verification")
    page = clerk.get("/ui/meters/HM-1/verifications?done=verification")
    assert "检定已记录" in page.text and "JD-2025-12-0042" in page.text
    assert "检定不合格" in page.text and "合格" in page.text and "超差" in page.text
    verified = metered.get("/meters/HM-1").json()
    assert (verified["last_verified_on"], verified["last_verification_passed"]) == ("2025-12-08", False)
    assert "检定不合格" in clerk.get("/ui/meters/HM-1").text


def test_a_half_filled_test_point_is_refused_beside_its_field(metered: LedgerApi, web_login: WebLogin) -> None:
    clerk = web_login(Role.CLERK)

    refused = post(
        clerk, "/ui/meters/HM-1/verifications", verified_on="2025-12-08", points_2_flow_rate_m3_h="2.5", reason="x"
    )

    assert refused.status_code == 422
    assert 'id="verify-points_1_temperature_difference_k-error"' in refused.text
    assert 'value="2.5"' in refused.text
    assert metered.get("/meters/HM-1/verifications").json()["total"] == 0


# -- the lifecycle --------------------------------------------------------------------------------------


def test_a_meter_commissioned_fitted_and_swapped_through_the_forms(metered: LedgerApi, web_login: WebLogin) -> None:
    clerk = web_login(Role.CLERK)
    commissioned = post(
        clerk,
        "/ui/meters",
        serial="HM-3",
        maker="Landis+Gyr",
        model="T550",
        accuracy_class="2",
        flow_sensor_side="return",
        kind="household",
        commissioned_at="2025-12-06T09:00:00",
        community="",
        building="",
        permanent_flow_m3_h="1.5",
        reason="",
    )
    redirected_to(commissioned, "/ui/meters/HM-3?done=commissioning")
    page = clerk.get("/ui/meters/HM-3?done=commissioning")
    assert "热表已投入使用" in page.text and "未装户" in page.text and "Landis+Gyr T550" in page.text
    assert 'action="/ui/meters/HM-3/attachment"' in page.text
    assert 'action="/ui/meters/HM-3/replacement"' not in page.text  # it serves no household

    assert metered.register_household("WZ-0002", flat="102").status_code == 201
    fitted = post(clerk, "/ui/meters/HM-3/attachment", account_number="WZ-0002", attached_at="2025-12-06T10:00:00")
    redirected_to(fitted, "/ui/meters/HM-3?done=attachment")
    assert metered.get("/meters/HM-3").json()["household_account_number"] == "WZ-0002"

    swapped = post(
        clerk,
        "/ui/meters/HM-1/replacement",
        new_serial="HM-2",
        swapped_at="2025-12-06T15:00:00",
        final_reading_energy_gj="101.900",
        final_reading_volume_m3="511.400",
        initial_reading_energy_gj="0.000",
        initial_reading_volume_m3="0.000",
        reason="display failed; replaced under warranty",
    )
    redirected_to(swapped, "/ui/meters/HM-1?done=replacement")
    old, new = metered.get("/meters/HM-1").json(), metered.get("/meters/HM-2").json()
    assert (old["household_account_number"], new["household_account_number"]) == (None, "WZ-0001")
    assert Decimal(readings_of(metered, "HM-1")[0]["energy_gj"]) == Decimal("101.9")
    page = clerk.get("/ui/meters/HM-1")
    assert 'action="/ui/meters/HM-1/decommissioning"' in page.text
    assert 'action="/ui/meters/HM-1/replacement"' not in page.text

    ended = post(clerk, "/ui/meters/HM-1/decommissioning", decommissioned_at="2025-12-07T09:00:00", reason="scrapped")
    redirected_to(ended, "/ui/meters/HM-1?done=decommissioning")
    page = clerk.get("/ui/meters/HM-1")
    assert "已停用" in page.text and 'id="actions"' not in page.text


def test_a_swap_refused_by_the_ledger_says_why_and_records_nothing(metered: LedgerApi, web_login: WebLogin) -> None:
    clerk = web_login(Role.CLERK, language="en")

    refused = post(
        clerk,
        "/ui/meters/HM-1/replacement",
        new_serial="HM-9",
        swapped_at="2025-12-06T15:00:00",
        final_reading_energy_gj="101.900",
        initial_reading_energy_gj="0",
        reason="display failed",
    )
    missing = post(clerk, "/ui/meters/HM-1/replacement", new_serial="HM-2", swapped_at="", reason="")

    assert refused.status_code == 404 and "HM-9" in refused.text
    assert '<details class="action" open>' in refused.text and 'value="HM-9"' in refused.text
    assert missing.status_code == 422
    assert 'id="swap-swapped_at-error"' in missing.text and 'id="swap-final_reading_energy_gj-error"' in missing.text
    assert metered.get("/meters/HM-1").json()["household_account_number"] == "WZ-0001"
    assert len(readings_of(metered, "HM-1")) == 5


def test_a_detached_meter_may_be_decommissioned_and_then_reads_no_more(metered: LedgerApi, web_login: WebLogin) -> None:
    clerk = web_login(Role.CLERK)
    early = post(clerk, "/ui/meters/HM-1/decommissioning", decommissioned_at="2025-12-07T09:00:00", reason="x")
    assert early.status_code == 409  # it still serves WZ-0001: detach first

    redirected_to(
        post(clerk, "/ui/meters/HM-1/detachment", detached_at="2025-12-06T09:00:00", reason="sent for verification"),
        "/ui/meters/HM-1?done=detachment",
    )
    redirected_to(
        post(clerk, "/ui/meters/HM-1/decommissioning", decommissioned_at="2025-12-07T09:00:00", reason="failed"),
        "/ui/meters/HM-1?done=decommissioning",
    )

    assert metered.get("/meters/HM-1").json()["decommissioned_at"] == "2025-12-07T01:00:00Z"
    assert "已停用" in clerk.get("/ui/meters?state=decommissioned").text


# -- heat far beyond the permissible error -------------------------------------------------------------


def test_a_clerk_decides_about_heat_far_beyond_the_permissible_error(jumped: LedgerApi, web_login: WebLogin) -> None:
    clerk = web_login(Role.CLERK)
    page = clerk.get("/ui/meters/M-1")
    assert "热量远超允许误差的区间" in page.text and "待决定" in page.text
    assert "3,731.380 %" in page.text  # the deviation, beside the permissible ± 4.1 %
    assert 'action="/ui/meters/M-1/heat-decision"' in page.text

    decided = post(clerk, "/ui/meters/M-1/heat-decision", interval_start=JUMP_START, decision="estimate", reason="")
    assert decided.status_code == 422 and 'id="decision-1-reason-error"' in decided.text
    decided = post(
        clerk,
        "/ui/meters/M-1/heat-decision",
        interval_start=JUMP_START,
        decision="estimate",
        reason="calculator suspect",
    )

    redirected_to(decided, "/ui/meters/M-1?done=heat_decision")
    page = clerk.get("/ui/meters/M-1?lang=en")
    assert (
        "Bill an estimate" in page.text and "calculator suspect" in page.text and "estimated at 1.000 GJ" in page.text
    )
    listed = jumped.get("/households/A-1/implausible-intervals", season="2025-2026").json()["items"]
    assert [item["decision"] for item in listed] == ["estimate"]
    assert 'action="/ui/meters/M-1/heat-decision"' not in web_login(Role.AUDITOR).get("/ui/meters/M-1").text


# -- who may do what -------------------------------------------------------------------------------------


@pytest.mark.parametrize("role", [Role.AUDITOR, Role.REGULATOR])
def test_read_only_roles_are_offered_no_action_and_refused_when_they_post(
    metered: LedgerApi, web_login: WebLogin, role: Role
) -> None:
    reader = web_login(role)

    meter, reading = reader.get("/ui/meters/HM-1"), reader.get(LAST_LINK)
    search, verifications = reader.get("/ui/meters"), reader.get("/ui/meters/HM-1/verifications")

    assert meter.status_code == reading.status_code == 200
    assert 'method="post"' not in meter.text.replace('action="/ui/logout"', "").split("</header>", 1)[1]
    assert 'action="/ui/meters/HM-1/reading/correction"' not in reading.text
    assert 'method="post" action="/ui/meters"' not in search.text and "?commission=" not in search.text
    assert 'action="/ui/meters/HM-1/verifications"' not in verifications.text
    for action in METER_ACTIONS:
        assert post(reader, f"/ui/meters/HM-1/{action}", reason="crafted").status_code == 403
    for path in ("/ui/meters/HM-1/reading/correction", "/ui/meters/HM-1/reading/void", "/ui/meters/HM-1/verifications"):
        assert post(reader, path, measured_at=LAST_AT, reason="crafted").status_code == 403
    assert post(reader, "/ui/meters", serial="HM-X").status_code == 403
    assert len(readings_of(metered, "HM-1")) == 5
    assert metered.get("/meters/HM-X").status_code == 404


def test_a_form_without_the_csrf_token_is_refused(metered: LedgerApi, web_login: WebLogin) -> None:
    clerk = web_login(Role.CLERK)

    refused = clerk.post("/ui/meters/HM-1/reading/void", data={"measured_at": LAST_AT, "reason": "no token"})
    forged = clerk.post(
        "/ui/meters/HM-1/reading/void", data={"measured_at": LAST_AT, "reason": "x", "csrf_token": "forged"}
    )

    assert refused.status_code == forged.status_code == 403
    assert len(readings_of(metered, "HM-1")) == 5
