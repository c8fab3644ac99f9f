"""A room controller's history (issue 14), on each backend: its installation, a forced close
requested and approved by a second person, and a report, in order with who, why and when, said in
either language; narrowed by event type; problems for an unknown device and a device's token."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

from freezegun import freeze_time

from application.authorization import Principal, Role
from domain.valve import DeviceReport
from infrastructure.container import Container
from tests.e2e.conftest import LedgerApi, assert_problem
from tests.e2e.test_api_valves import MOMENT, command, installed  # noqa: F401


def test_a_controllers_history_in_order_in_either_language(installed: LedgerApi, container: Container) -> None:  # noqa: F811
    api = installed
    with freeze_time(MOMENT, real_asyncio=True):
        command_id = command(api, "force_close", {}).json()["command_id"]
        path = f"/valves/RC-1/commands/{command_id}/approval"
        approval = api.client.post(path, json={"reason": "checked"}, headers=api.tokens.headers(Role.ADMIN))
        assert approval.status_code == 200, approval.text
        report = DeviceReport(
            "R-1",
            MOMENT - timedelta(minutes=5),
            room_temperature_c=Decimal("19.5"),
            valve_gear=2,
            valve_state="partial",
        )
        container.room_controllers.record_report("RC-1", report, "mqtt", Principal("gateway:gw-1", Role.DEVICE))
        chinese = api.get("/valves/RC-1/history").json()
        english = api.client.get("/valves/RC-1/history", headers=api.tokens.headers(Role.AUDITOR, "en")).json()
        only = api.get("/valves/RC-1/history", event_type="CommandRequested").json()
    assert (chinese["kind"], chinese["key"]) == ("valve", "RC-1")
    assert [item["event_type"] for item in chinese["items"]] == [
        "Installed",
        "CommandRequested",
        "CommandApproved",
        "ReportRecorded",
    ]
    requested = chinese["items"][1]
    assert (requested["actor"], requested["reason"], requested["details"]["command_id"]) == (
        "e2e-clerk",
        "complaint",
        command_id,
    )
    assert requested["summary"].startswith(f"申请指令 {command_id}：强制关阀") and "（人工）" in requested["summary"]
    assert chinese["items"][2]["actor"] != "e2e-clerk"  # approved by another person
    assert english["items"][1]["summary"] == (
        f"Command {command_id} requested: force close — (by a person) at 2025-11-20 16:00"
    )
    reported = english["items"][3]
    assert reported["happened_at"].startswith("2025-11-20T07:55")
    assert "room 19.5 °C" in reported["summary"] and "valve partly open at gear 2" in reported["summary"]
    assert [item["event_type"] for item in only["items"]] == ["CommandRequested"]


def test_history_problems(installed: LedgerApi) -> None:  # noqa: F811
    api = installed
    with freeze_time(MOMENT, real_asyncio=True):
        assert_problem(api.get("/valves/RC-9/history"), 404, "not_found")
        assert_problem(api.get("/valves/RC-1/history", role=Role.DEVICE), 403, "permission_denied")
        unknown_type = api.get("/valves/RC-1/history", event_type="ReadingRecorded")
        assert_problem(unknown_type, 422, "invalid_input")
