"""The room telemetry API (issue 14) on each backend: a household's room temperature and valve-open
hours per business day, device health, the under-heated list for customer service; RFC 9457
problems for an unknown household, a reversed range, a device's token and no token.

One controller in WZ-0001 reports three times (Asia/Shanghai 18, 19 and 20 November 2025, 16:00,
15:00 the last), always below 18 °C, its valve-open counter at 100, 110 and 125 hours; the ledger's
clock stands at 20 November 16:00, 48 hours after the first report.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from freezegun import freeze_time

from application.authorization import Principal, Role
from domain.valve import DeviceReport
from infrastructure.container import Container
from tests.e2e.conftest import LedgerApi, assert_problem

MOMENT = datetime(2025, 11, 20, 8, 0, tzinfo=UTC)
GATEWAY = Principal("gateway:test", Role.DEVICE)
D = Decimal


@pytest.fixture
def reporting(api: LedgerApi, container: Container) -> LedgerApi:
    with freeze_time(MOMENT, real_asyncio=True):
        assert api.register_household("WZ-0001", building="3", flat="501").status_code == 201
        assert api.register_household("WZ-0002").status_code == 201
        body = {"device_id": "RC-1", "account_number": "WZ-0001", "gears": 5}
        assert api.client.post("/valves", json=body, headers=api.clerk()).status_code == 201
        for number, (hours_before, temperature, total) in enumerate(
            ((48, "17.0", 100), (24, "16.5", 110), (1, "17.2", 125))
        ):
            report = DeviceReport(
                report_id=f"R-{number}",
                measured_at=MOMENT - timedelta(hours=hours_before),
                room_temperature_c=D(temperature),
                valve_gear=3,
                valve_state="partial",
                valve_open_hours_total=D(total),
                signal_dbm=-81,
                battery_percent=96,
            )
            assert container.room_controllers.record_report("RC-1", report, "mqtt", GATEWAY)
        container.catch_up()
    return api


def test_room_temperatures_per_business_day(reporting: LedgerApi) -> None:
    with freeze_time(MOMENT, real_asyncio=True):
        body = reporting.get("/households/WZ-0001/room-temperatures").json()
    assert (body["first_day"], body["last_day"], D(body["under_heated_below_c"])) == ("2025-11-01", "2025-11-20", 18)
    assert [(d["day"], d["samples"], D(d["minimum_c"]), D(d["mean_c"]), D(d["maximum_c"])) for d in body["days"]] == [
        ("2025-11-18", 1, D("17.0"), D("17.0"), D("17.0")),
        ("2025-11-19", 1, D("16.5"), D("16.5"), D("16.5")),
        ("2025-11-20", 1, D("17.2"), D("17.2"), D("17.2")),
    ]
    with freeze_time(MOMENT, real_asyncio=True):
        one_day = reporting.get(
            "/households/WZ-0001/room-temperatures", query={"from": "2025-11-19", "to": "2025-11-19"}
        )
        assert [d["day"] for d in one_day.json()["days"]] == ["2025-11-19"]
        assert reporting.get("/households/WZ-0002/room-temperatures").json()["days"] == []


def test_valve_open_hours_per_business_day_sum_to_the_counters_growth(reporting: LedgerApi) -> None:
    with freeze_time(MOMENT, real_asyncio=True):
        body = reporting.get("/households/WZ-0001/valve-open-hours").json()
    days = {d["day"]: D(d["open_hours"]) for d in body["days"]}
    assert list(days) == ["2025-11-18", "2025-11-19", "2025-11-20"]
    assert D(body["total_open_hours"]) == sum(days.values())
    assert abs(D(body["total_open_hours"]) - 25) < D("0.01")  # 125 − 100, shared across the days
    assert days["2025-11-18"] < days["2025-11-19"]  # 8 of the first 24 hours fell on the 18th


def test_device_health_and_the_under_heated_list(reporting: LedgerApi) -> None:
    with freeze_time(MOMENT, real_asyncio=True):
        [health] = reporting.get("/room-telemetry/device-health").json()["items"]
        listed = reporting.get("/room-telemetry/under-heated", role=Role.CUSTOMER_SERVICE).json()
        longer = reporting.get("/room-telemetry/under-heated", minimum_hours=49).json()
        other = reporting.get("/room-telemetry/device-health", account_number="WZ-0002").json()
    assert (health["device_id"], health["account_number"], health["reports"]) == ("RC-1", "WZ-0001", 3)
    assert (health["battery_percent"], health["signal_dbm"], health["valve_state"]) == (96, -81, "partial")
    assert D(health["room_temperature_c"]) == D("17.2")
    assert datetime.fromisoformat(health["below_minimum_since"]) == MOMENT - timedelta(hours=48)
    assert (listed["minimum_hours"], D(listed["below_c"])) == (24, 18)
    [flat] = listed["items"]
    assert (flat["account_number"], flat["building"], flat["flat"], flat["device_id"]) == (
        "WZ-0001",
        "3",
        "501",
        "RC-1",
    )
    assert D(flat["hours_below"]) == 48
    assert longer["items"] == [] and other["items"] == []


def test_problems(reporting: LedgerApi) -> None:
    client, tokens = reporting.client, reporting.tokens
    with freeze_time(MOMENT, real_asyncio=True):
        assert_problem(reporting.get("/households/WZ-9999/room-temperatures"), 404, "not_found")
        reversed_range = {"from": "2025-11-20", "to": "2025-11-01"}
        problem = assert_problem(
            reporting.get("/households/WZ-0001/valve-open-hours", query=reversed_range), 422, "invalid_input"
        )
        assert problem["errors"][0]["code"] == "range_reversed"
        english = client.get(
            "/households/WZ-0001/valve-open-hours", params=reversed_range, headers=tokens.headers(Role.CLERK, "en")
        )
        assert assert_problem(english, 422, "invalid_input")["detail"] != problem["detail"]
        assert_problem(reporting.get("/room-telemetry/under-heated", role=Role.DEVICE), 403, "permission_denied")
        assert_problem(client.get("/room-telemetry/device-health"), 401, "unauthenticated")
        assert_problem(reporting.get("/room-telemetry/under-heated", minimum_hours=0), 422, "validation_failed")
