"""The monitoring pages (issue 13) on both backends: the overview counting each list, the lists
(silent, faulty, implausible, beyond rated limits, rejected, quarantined, unknown meters) with their
filters and links to the meter and the household, in Chinese and English; refused filters said
beside their field; the gap estimation run offered to the roles that may run it, refused to the
others and without the CSRF token.

WZ-0001 (碧桂园) has HM-1, read at Beijing midnight on 1 and 2 December 2025 and then silent until
the tests' 10 December; a device sent HM-1 a register going backwards and a reading of NOPE-1; a
concentrator's frame of the unknown meter 12345678 is quarantined.
"""

from __future__ import annotations

import re
from datetime import date
from typing import Any

import pytest

from application.authorization import Role
from infrastructure.container import Container
from infrastructure.intake import Channel
from tests.e2e.conftest import LedgerApi, shanghai_midnight
from tests.e2e.web.conftest import WebLogin

LISTS = ("silent", "faulty", "implausible", "limit-breaches", "rejected", "quarantine", "unknown-meters")


def reading(serial: str, day: date, energy_gj: str) -> dict[str, Any]:
    return {"meter_serial": serial, "measured_at": shanghai_midnight(day), "energy_gj": energy_gj, "source": "mbus"}


@pytest.fixture
def watched(api: LedgerApi, container: Container, frozen_now: object) -> LedgerApi:
    api.household_with_meter("WZ-0001", "HM-1")
    assert api.submit([reading("HM-1", date(2025, 12, 1), "10.000")]).json()["accepted"] == 1
    assert api.submit([reading("HM-1", date(2025, 12, 2), "10.400")]).json()["accepted"] == 1
    refused = api.submit([reading("HM-1", date(2025, 12, 3), "9.500"), reading("NOPE-1", date(2025, 12, 3), "3.000")])
    assert refused.json()["rejected"] == 2
    container.intake.quarantine(
        Channel.MBUS,
        "concentrator-1",
        "unknown_meter",
        "no meter is known by the identification 12345678",
        payload="68 3C 3C 68 08 01 72 78 56 34 12",
        identification="12345678",
        manufacturer="KAM",
    )
    return api


def test_the_overview_counts_each_list_and_links_to_it(watched: LedgerApi, web_login: WebLogin) -> None:
    page = web_login(Role.AUDITOR).get("/ui/monitoring")

    assert page.status_code == 200
    assert "数据监控" in page.text and "静默表" in page.text and "隔离数据帧" in page.text
    for key in LISTS:
        assert f'href="/ui/monitoring/{key}"' in page.text
    counts = {
        key: _count_of(page.text, key) for key in ("silent", "rejected", "quarantine", "unknown-meters", "faulty")
    }
    assert counts == {"silent": "1", "rejected": "2", "quarantine": "1", "unknown-meters": "1", "faulty": "0"}


def _count_of(html: str, key: str) -> str:
    """The count on the overview's tile of the list ``key``."""
    found = re.search(rf'<a href="/ui/monitoring/{key}">\s*<span class="monitoring-count">([^<]+)</span>', html)
    assert found is not None, key
    return found.group(1)


def test_silent_meters_link_to_the_meter_and_the_household(watched: LedgerApi, web_login: WebLogin) -> None:
    clerk = web_login(Role.CLERK)

    page = clerk.get("/ui/monitoring/silent")
    longer = clerk.get("/ui/monitoring/silent?days=30")
    english = clerk.get("/ui/monitoring/silent?lang=en")

    assert page.status_code == 200
    assert '<a href="/ui/meters/HM-1">HM-1</a>' in page.text and '<a href="/ui/households/WZ-0001">' in page.text
    assert "共 1 条" in page.text and '<td class="number">8</td>' in page.text  # 2 → 10 December
    assert "共 0 条" in longer.text and "没有静默的表" in longer.text
    assert "Silent meters" in english.text and "Days silent" in english.text


def test_a_filter_the_list_refuses_is_said_beside_its_field(watched: LedgerApi, web_login: WebLogin) -> None:
    clerk = web_login(Role.CLERK, language="en")

    days = clerk.get("/ui/monitoring/silent?days=400")
    reversed_range = clerk.get("/ui/monitoring/implausible?from=2025-12-09&to=2025-12-01")
    channel = clerk.get("/ui/monitoring/rejected?channel=pigeon")

    assert days.status_code == 422 and 'id="filter-days-error"' in days.text and "HM-1</a>" not in days.text
    assert reversed_range.status_code == 422 and 'id="filter-from-error"' in reversed_range.text
    assert "The start date 2025-12-09 lies after the end date 2025-12-01." in reversed_range.text
    assert channel.status_code == 422 and 'id="filter-channel-error"' in channel.text


def test_rejected_readings_say_the_rule_in_the_users_language(watched: LedgerApi, web_login: WebLogin) -> None:
    clerk = web_login(Role.CLERK)

    chinese = clerk.get("/ui/monitoring/rejected")
    only_hm = clerk.get("/ui/monitoring/rejected?meter_serial=HM-1&channel=api")
    english = clerk.get("/ui/monitoring/rejected?lang=en")  # and English from here on (the cookie)

    assert "热量读数倒退：从 10.400 降到 9.500。" in chinese.text and "没有表号为 NOPE-1 的热表。" in chinese.text
    assert "The energy register went backwards from 10.400 to 9.500." in english.text
    assert '<a href="/ui/meters/HM-1">HM-1</a>' in chinese.text and 'href="/ui/meters/NOPE-1"' not in chinese.text
    assert "共 1 条" in only_hm.text and "NOPE-1" not in only_hm.text


def test_an_unknown_meter_is_offered_for_commissioning_to_those_who_may(
    watched: LedgerApi, web_login: WebLogin
) -> None:
    clerk, auditor = web_login(Role.CLERK), web_login(Role.AUDITOR)

    unknown = clerk.get("/ui/monitoring/unknown-meters")
    quarantine = clerk.get("/ui/monitoring/quarantine")
    form = clerk.get("/ui/meters?commission=12345678")

    assert "12345678" in unknown.text and 'href="/ui/meters?commission=12345678#commission"' in unknown.text
    assert "表号未登记" in quarantine.text and "68 3C 3C 68" in quarantine.text and "concentrator-1" in quarantine.text
    assert (
        '<details class="action" open>' in form.text
        and 'id="commission-serial" name="serial" type="text" value="12345678"' in form.text
    )
    assert "?commission=" not in auditor.get("/ui/monitoring/unknown-meters").text


def test_every_list_renders_for_a_reader_in_both_languages(watched: LedgerApi, web_login: WebLogin) -> None:
    regulator = web_login(Role.REGULATOR)

    for key in LISTS:
        for query in ("", "?lang=en"):
            page = regulator.get(f"/ui/monitoring/{key}{query}")
            assert page.status_code == 200, (key, query, page.text[-500:])


def test_the_estimation_runs_for_a_clerk_and_is_refused_to_read_only_roles(
    watched: LedgerApi, web_login: WebLogin
) -> None:
    clerk, auditor = web_login(Role.CLERK), web_login(Role.AUDITOR)
    assert 'action="/ui/monitoring/estimates"' in clerk.get("/ui/monitoring").text
    assert 'action="/ui/monitoring/estimates"' not in auditor.get("/ui/monitoring").text

    assert auditor.post_form("/ui/monitoring/estimates").status_code == 403
    assert clerk.post("/ui/monitoring/estimates", data={}).status_code == 403  # no CSRF token
    assert watched.get("/meters/HM-1/readings").json()["total"] == 2

    done = clerk.post_form("/ui/monitoring/estimates")

    assert done.status_code == 200
    assert "估算完成：静默表 1 块" in done.text
    readings = watched.get("/meters/HM-1/readings").json()
    assert readings["total"] > 2 and readings["items"][0]["source"] == "estimate"
    assert "估算" in clerk.get("/ui/meters/HM-1").text
