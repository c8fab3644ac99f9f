"""The valve pages (issue 14) on both backends: the overview (a household's controllers, commands
awaiting approval, the under-heated list), device health, a controller's page with its latest
report, its days and its commands, in Chinese and English; a command requested and approved by a
second person, each visible on the next page; refusals (a parameter, the schema, the rate limit)
said beside the form with nothing recorded; the forms hidden from roles that may not command and
refused (403) when posted anyway, and without the CSRF token.

WZ-0001 (碧桂园 3号楼 501) has the controller RC-1, which reported 17.5 °C 30 hours before the
tests' 10 December 2025 noon and 17.0 °C an hour before it: under-heated for 30 hours.
"""

from __future__ import annotations

import re
from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest

from application.authorization import Principal, Role
from domain.valve import DeviceReport
from infrastructure.container import Container
from tests.e2e.conftest import NOW, LedgerApi
from tests.e2e.web.conftest import WebLogin

GATEWAY = Principal("gateway:web-test", Role.DEVICE)
FORCE_CLOSE = {"kind": "force_close", "reason": "heating stopped at the household's request"}


@pytest.fixture
def valved(api: LedgerApi, container: Container, frozen_now: object) -> LedgerApi:
    assert api.register_household("WZ-0001", building="3", flat="501").status_code == 201
    body = {"device_id": "RC-1", "account_number": "WZ-0001", "gears": 5}
    assert api.client.post("/valves", json=body, headers=api.clerk()).status_code == 201
    for number, (hours_before, temperature, total) in enumerate(((30, "17.5", "100"), (1, "17.0", "110"))):
        report = DeviceReport(
            f"R-{number}",
            NOW - timedelta(hours=hours_before),
            room_temperature_c=Decimal(temperature),
            valve_gear=2,
            valve_state="partial",
            valve_open_hours_total=Decimal(total),
            signal_dbm=-85,
            battery_percent=77,
        )
        assert container.room_controllers.record_report("RC-1", report, "mqtt", GATEWAY)
    container.catch_up()
    return api


def commands(api: LedgerApi) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = api.get("/valves/RC-1/commands").json()["items"]
    return items


def test_the_overview_lists_a_households_controllers_and_the_under_heated(
    valved: LedgerApi, web_login: WebLogin
) -> None:
    service = web_login(Role.CUSTOMER_SERVICE)

    page = service.get("/ui/valves")
    found = service.get("/ui/valves?account=WZ-0001")
    english = service.get("/ui/valves?lang=en")

    assert page.status_code == 200
    assert "室温控制器与阀门" in page.text and "室温不达标住户" in page.text
    assert (
        '<a href="/ui/valves/devices/RC-1">RC-1</a>' in page.text and '<a href="/ui/households/WZ-0001">' in page.text
    )
    assert "30" in _cell_after(page.text, "RC-1")  # hours below 18 °C
    assert 'href="/ui/valves"' in service.get("/ui/").text  # in the navigation
    assert "WZ-0001 的室温控制器" in found.text and '<a href="/ui/valves/devices/RC-1">RC-1</a>' in found.text
    assert "Under-heated households" in english.text and "Commands awaiting approval" in english.text


def _cell_after(html: str, device_id: str) -> str:
    """The hours-below cell of the under-heated row of ``device_id``."""
    found = re.search(rf'>{device_id}</a></td>\s*<td>[^<]*</td>\s*<td class="number">([^<]*)</td>', html)
    assert found is not None, html
    return found.group(1)


def test_device_health_and_a_controllers_page(valved: LedgerApi, web_login: WebLogin) -> None:
    auditor = web_login(Role.AUDITOR)

    health = auditor.get("/ui/valves/health")
    page = auditor.get("/ui/valves/devices/RC-1")
    english = auditor.get("/ui/valves/devices/RC-1?lang=en")
    unknown = auditor.get("/ui/valves/devices/RC-9")

    assert health.status_code == 200 and "设备状态" in health.text
    assert '<a href="/ui/valves/devices/RC-1">RC-1</a>' in health.text and '<td class="number">77</td>' in health.text
    assert page.status_code == 200
    assert "室温控制器 RC-1" in page.text and "17.0 °C" in page.text and "部分开启" in page.text
    assert "12月9日" in page.text and "6.2" in page.text  # the days table
    assert "申请阀门指令" not in page.text  # an auditor may not command: the form is not offered
    assert "Room controller RC-1" in english.text and "Latest report" in english.text
    assert unknown.status_code == 404


def test_a_command_is_requested_and_approved_by_a_second_person(valved: LedgerApi, web_login: WebLogin) -> None:
    li = web_login(Role.CLERK, username="clerk-li")
    wang = web_login(Role.CLERK, username="clerk-wang")

    requested = li.post_form("/ui/valves/devices/RC-1/commands", FORCE_CLOSE, follow_redirects=False)
    assert requested.status_code == 303 and requested.headers["location"] == "/ui/valves/devices/RC-1?done=requested"
    [command] = commands(valved)
    assert (command["kind"], command["state"], command["requested_by"]) == ("force_close", "requested", "clerk-li")
    own_page = li.get("/ui/valves/devices/RC-1?done=requested")
    assert "指令已申请" in own_page.text and "须由另一人审批" in own_page.text
    assert f"/commands/{command['command_id']}/approval" not in own_page.text  # not offered to the requester
    assert "待审批的指令" in li.get("/ui/valves").text and "强制关阀" in li.get("/ui/valves").text

    path = f"/ui/valves/devices/RC-1/commands/{command['command_id']}/approval"
    assert path in wang.get("/ui/valves/devices/RC-1").text
    own = li.post_form(path, {"reason": "mine"})
    assert own.status_code == 403 and commands(valved)[0]["approved_by"] is None  # crafted: refused
    approved = wang.post_form(path, {"reason": "checked with the household"}, follow_redirects=False)
    assert approved.status_code == 303 and approved.headers["location"] == "/ui/valves/devices/RC-1?done=approved"
    assert (commands(valved)[0]["state"], commands(valved)[0]["approved_by"]) == ("approved", "clerk-wang")
    after = wang.get("/ui/valves/devices/RC-1?done=approved")
    assert "指令已审批" in after.text and "已审批" in after.text and "clerk-wang" in after.text


def test_refusals_are_said_beside_the_form_and_record_nothing(
    valved: LedgerApi, container: Container, web_login: WebLogin
) -> None:
    clerk = web_login(Role.CLERK, language="en")

    gear = clerk.post_form("/ui/valves/devices/RC-1/commands", {"kind": "force_gear", "gear": "9", "reason": "too hot"})
    text = clerk.post_form(
        "/ui/valves/devices/RC-1/commands", {"kind": "force_gear", "gear": "two", "reason": "too hot"}
    )
    missing = clerk.post_form("/ui/valves/devices/RC-1/commands", {"kind": "set_room_temperature", "reason": "asked"})

    assert gear.status_code == 422 and 'id="request-gear-error"' in gear.text and "gear" in gear.text
    assert text.status_code == 422 and 'id="request-gear-error"' in text.text
    assert missing.status_code == 422 and 'id="request-temperature_c-error"' in missing.text
    assert commands(valved) == []

    container.settings.valve_commands_per_hour = 1
    first = clerk.post_form(
        "/ui/valves/devices/RC-1/commands", {"kind": "unlock", "reason": "asked"}, follow_redirects=False
    )
    assert first.status_code == 303
    limited = clerk.post_form("/ui/valves/devices/RC-1/commands", {"kind": "lock_temperature", "reason": "asked"})
    assert limited.status_code == 429 and "try again in 3600 seconds" in limited.text
    assert 'value="lock_temperature" selected' in limited.text  # the form keeps what was typed
    assert len(commands(valved)) == 1


@pytest.mark.parametrize("role", [Role.AUDITOR, Role.REGULATOR, Role.CUSTOMER_SERVICE])
def test_roles_that_may_not_command_are_not_offered_and_refused(
    valved: LedgerApi, web_login: WebLogin, role: Role
) -> None:
    client = web_login(role)

    assert "申请阀门指令" not in client.get("/ui/valves/devices/RC-1").text
    assert client.post_form("/ui/valves/devices/RC-1/commands", FORCE_CLOSE).status_code == 403
    assert commands(valved) == []


def test_a_post_without_the_csrf_token_is_refused(valved: LedgerApi, web_login: WebLogin) -> None:
    clerk = web_login(Role.CLERK)

    refused = clerk.post("/ui/valves/devices/RC-1/commands", data=FORCE_CLOSE)

    assert refused.status_code == 403 and commands(valved) == []
