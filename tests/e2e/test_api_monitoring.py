"""Monitoring lists over HTTP: quarantined frames and unknown meters, rejected readings, silent,
implausible and faulty meters — each with data made here, paged newest first, readable by the
roles that read the ledger and by no device."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest

from api.schemas.common import ENERGY_PLACES, PERCENT_PLACES, decimal_text
from application.authorization import SYSTEM, Role
from application.ingestion import ReadingItem
from domain.heat_physics import check_interval
from domain.readings import ReadingValues
from domain.values import AccuracyClass, FlowSensorSide, MeterKind, ReadingSource
from infrastructure.container import Container
from infrastructure.intake import Channel, quarantined_frames, rejected_readings
from projections.monitoring_queries import IntakeLogTables, MonitoringQueries
from tests.e2e.conftest import NOW, LedgerApi, assert_problem, shanghai_midnight

LISTINGS = (
    "/monitoring/quarantine",
    "/monitoring/unknown-meters",
    "/monitoring/rejected-readings",
    "/monitoring/silent-meters",
    "/monitoring/implausible-intervals",
    "/monitoring/faulty-meters",
    "/monitoring/limit-breaches",
)
FLOW_C, RETURN_C = Decimal(70), Decimal(30)


def reading(serial: str, day: date, energy_gj: str, **values: Any) -> dict[str, Any]:
    return {
        "meter_serial": serial,
        "measured_at": shanghai_midnight(day),
        "energy_gj": energy_gj,
        "source": "mbus",
        **values,
    }


def utc_midnight_of(day: date) -> str:
    """A business day's first moment as the API sends it back (UTC, ``Z``)."""
    moment = datetime.fromisoformat(shanghai_midnight(day)).astimezone(UTC)
    return moment.isoformat().replace("+00:00", "Z")


def serials(page: dict[str, Any]) -> list[str]:
    return [item["serial"] for item in page["items"]]


# -- quarantine and unknown meters ------------------------------------------------------------------


def _quarantine(container: Container, identification: str | None, manufacturer: str | None = "KAM") -> None:
    container.intake.quarantine(
        Channel.MBUS,
        "concentrator-1",
        "unknown_meter" if identification else "undecodable",
        f"no meter is known by the identification {identification}" if identification else "checksum mismatch",
        payload="68 3C 3C 68 08 01 72 …",
        identification=identification,
        manufacturer=manufacturer if identification else None,
    )


def test_quarantined_frames_are_listed_newest_first_and_grouped_by_meter(api: LedgerApi, container: Container) -> None:
    for identification in ("12345678", "87654321", "12345678", None, "12345678"):
        _quarantine(container, identification)

    page = api.get("/monitoring/quarantine").json()
    unknown = api.get("/monitoring/unknown-meters").json()

    assert page["total"] == 5
    assert [item["identification"] for item in page["items"]] == ["12345678", None, "12345678", "87654321", "12345678"]
    newest = page["items"][0]
    assert newest["channel"] == "mbus"
    assert newest["received_from"] == "concentrator-1"
    assert newest["reason"] == "unknown_meter"
    assert newest["manufacturer"] == "KAM"
    assert newest["detail"] == "no meter is known by the identification 12345678"
    assert newest["payload"] == "68 3C 3C 68 08 01 72 …"
    times = [datetime.fromisoformat(item["received_at"]) for item in page["items"]]
    assert times == sorted(times, reverse=True)
    assert page["items"][1]["reason"] == "undecodable"
    assert unknown["total"] == 2
    assert [(item["identification"], item["frames"]) for item in unknown["items"]] == [("12345678", 3), ("87654321", 1)]
    assert unknown["items"][0]["first_seen_at"] == page["items"][4]["received_at"]
    assert unknown["items"][0]["last_seen_at"] == page["items"][0]["received_at"]
    assert api.get("/monitoring/quarantine", limit=2, offset=3).json()["items"] == page["items"][3:5]
    assert api.get("/monitoring/unknown-meters", limit=1, offset=1).json()["items"] == unknown["items"][1:]


# -- rejected readings ----------------------------------------------------------------------------


@pytest.mark.usefixtures("frozen_now")
def test_rejected_readings_are_listed_with_their_reasons_in_the_callers_language(api: LedgerApi) -> None:
    api.household_with_meter("WZ-0001", "HM-1")
    first = [reading("HM-1", date(2025, 12, 1), "10.000"), reading("NOPE-1", date(2025, 12, 1), "3.000")]
    second = [reading("HM-1", date(2025, 12, 2), "9.500"), reading("NOPE-2", date(2025, 12, 2), "4.000")]
    assert api.submit(first).json()["rejected"] == 1
    assert api.submit(second).json()["rejected"] == 2
    english = api.tokens.headers(Role.AUDITOR, "en")

    page = api.client.get("/monitoring/rejected-readings", headers=english)
    chinese = api.get("/monitoring/rejected-readings").json()

    assert page.status_code == 200
    assert page.headers["content-language"] == "en"
    items = page.json()["items"]
    assert page.json()["total"] == 3
    assert [(item["meter_serial"], item["reason"]) for item in items] == [
        ("NOPE-2", "unknown_meter"),
        ("HM-1", "register_backwards"),
        ("NOPE-1", "unknown_meter"),
    ]
    backwards = items[1]
    assert backwards["message"] == "The energy register went backwards from 10.000 to 9.500."
    assert backwards["params"] == {"register": "energy", "previous": "10.000", "current": "9.500"}
    assert backwards["channel"] == "api"
    assert backwards["received_from"] == "e2e-device"
    assert backwards["item_index"] == 0
    assert backwards["measured_at"] == utc_midnight_of(date(2025, 12, 2))
    assert items[0]["item_index"] == 1
    assert items[0]["message"] == "No meter has the serial number NOPE-2."
    assert chinese["items"][0]["message"] == "没有表号为 NOPE-2 的热表。"
    assert chinese["items"][1]["message"] == "热量读数倒退：从 10.000 降到 9.500。"


@pytest.mark.usefixtures("frozen_now")
def test_rejected_readings_filter_by_meter_reason_and_channel(api: LedgerApi) -> None:
    api.household_with_meter("WZ-0001", "HM-1")
    batch = [
        reading("HM-1", date(2025, 12, 1), "10.000"),
        reading("HM-1", date(2025, 12, 2), "9.500"),
        reading("NOPE-1", date(2025, 12, 2), "3.000"),
        reading("NOPE-2", date(2025, 12, 2), "3.000"),
    ]
    assert api.submit(batch).json()["rejected"] == 3

    def listed(**filters: str) -> list[tuple[str, str]]:
        page = api.get("/monitoring/rejected-readings", query=filters).json()
        assert page["total"] == len(page["items"])
        return [(item["meter_serial"], item["reason"]) for item in page["items"]]

    assert listed(meter_serial="HM-1") == [("HM-1", "register_backwards")]
    assert listed(reason="unknown_meter") == [("NOPE-2", "unknown_meter"), ("NOPE-1", "unknown_meter")]
    assert listed(reason="unknown_meter", meter_serial="NOPE-1") == [("NOPE-1", "unknown_meter")]
    assert len(listed(channel="api")) == 3
    assert listed(channel="csv") == []
    paged = api.get("/monitoring/rejected-readings", limit=1, offset=2).json()
    assert (paged["total"], [item["meter_serial"] for item in paged["items"]]) == (3, ["HM-1"])
    assert_problem(api.get("/monitoring/rejected-readings", channel="carrier-pigeon"), 422, "validation_failed")


# -- silent meters --------------------------------------------------------------------------------


@pytest.mark.usefixtures("frozen_now")
def test_silent_meters_are_those_quiet_for_more_than_the_days_asked(api: LedgerApi) -> None:
    api.household_with_meter("WZ-0001", "HM-1")
    api.household_with_meter("WZ-0002", "HM-2")
    api.household_with_meter("WZ-0003", "HM-3", community="滨河小区")
    assert api.commission_meter("HM-4").status_code == 201  # in the store, serving no one
    assert api.commission_meter("BM-1", kind="building", community="碧桂园", building="1").status_code == 201
    api.daily_readings("HM-1", [date(2025, 12, 1)], [Decimal("10.0")])
    api.daily_readings("HM-2", [date(2025, 12, 9)], [Decimal("10.0")])
    api.daily_readings("BM-1", [date(2025, 12, 5)], [Decimal("300.0")])
    # Estimates stand in for a silent meter's readings: they do not make it heard from.
    estimates = [
        reading("HM-1", date(2025, 12, 8), "12.0", source="estimate"),
        reading("HM-3", date(2025, 12, 8), "1.0", source="estimate"),
    ]
    assert api.submit(estimates, role=Role.CLERK).json()["accepted"] == 2

    three_days = api.get("/monitoring/silent-meters").json()
    six_days = api.get("/monitoring/silent-meters", days=6).json()

    assert three_days["days"] == 3
    assert datetime.fromisoformat(three_days["as_of"]) == NOW
    assert three_days["total"] == 3
    assert serials(three_days) == ["BM-1", "HM-1", "HM-3"]
    assert [item["days_silent"] for item in three_days["items"]] == [5, 9, 56]
    building, household, never = three_days["items"]
    assert building["household_account_number"] is None
    assert (building["kind"], building["community"], building["building"]) == ("building", "碧桂园", "1")
    assert household["household_account_number"] == "WZ-0001"
    assert household["last_measured_at"] == utc_midnight_of(date(2025, 12, 1))
    assert never["last_measured_at"] is None
    assert never["community"] == "滨河小区"
    assert serials(six_days) == ["HM-1", "HM-3"]
    assert serials(api.get("/monitoring/silent-meters", days=60).json()) == []
    assert serials(api.get("/monitoring/silent-meters", community="滨河小区").json()) == ["HM-3"]
    second_page = api.get("/monitoring/silent-meters", limit=2, offset=2).json()
    assert (second_page["total"], serials(second_page)) == (3, ["HM-3"])


@pytest.mark.parametrize("days", ["0", "366", "three"])
def test_silent_meters_take_whole_days_from_1_to_365(api: LedgerApi, days: str) -> None:
    problem = assert_problem(api.get("/monitoring/silent-meters", days=days), 422, "validation_failed")
    assert [(error["field"], error["location"]) for error in problem["errors"]] == [("days", "query")]


# -- implausible intervals --------------------------------------------------------------------------


@pytest.mark.usefixtures("frozen_now")
def test_implausible_intervals_are_those_that_fail_the_heat_check(api: LedgerApi) -> None:
    api.household_with_meter("WZ-0001", "HM-1")
    api.household_with_meter("WZ-0002", "HM-2", community="滨河小区")
    volume_increase, hours = Decimal("2.403"), Decimal(24)
    check = check_interval(
        Decimal("0.5"), volume_increase, hours, FLOW_C, RETURN_C, FlowSensorSide.RETURN, AccuracyClass.CLASS_2
    )
    assert check is not None and not check.plausible
    temperatures = {"flow_temperature_c": str(FLOW_C), "return_temperature_c": str(RETURN_C)}
    honest_energy = str(Decimal("10") + check.expected_energy_gj)
    batch = [
        reading("HM-1", date(2025, 12, 1), "10.000", volume_m3="74.120", **temperatures),
        reading(
            "HM-1", date(2025, 12, 2), "10.500", volume_m3=str(Decimal("74.120") + volume_increase), **temperatures
        ),
        reading("HM-2", date(2025, 12, 1), "10", volume_m3="74.120", **temperatures),
        reading(
            "HM-2", date(2025, 12, 2), honest_energy, volume_m3=str(Decimal("74.120") + volume_increase), **temperatures
        ),
    ]
    assert api.submit(batch).json()["accepted"] == 4

    page = api.get("/monitoring/implausible-intervals").json()

    assert page["total"] == 1
    interval = page["items"][0]
    assert interval == {
        "serial": "HM-1",
        "community": "碧桂园",
        "building": "1",
        "household_account_number": "WZ-0001",
        "start_at": utc_midnight_of(date(2025, 12, 1)),
        "end_at": utc_midnight_of(date(2025, 12, 2)),
        "energy_gj": "0.500000",
        "volume_m3": "2.403000",
        "expected_energy_gj": decimal_text(check.expected_energy_gj, ENERGY_PLACES),
        "deviation_percent": decimal_text(check.deviation_percent, PERCENT_PLACES),
        "permissible_error_percent": decimal_text(check.permissible_error_percent, PERCENT_PLACES),
    }


@pytest.mark.usefixtures("frozen_now")
def test_implausible_intervals_filter_by_business_days_and_community(api: LedgerApi) -> None:
    api.household_with_meter("WZ-0001", "HM-1")
    temperatures = {"flow_temperature_c": "70", "return_temperature_c": "30"}
    days = [date(2025, 12, 1), date(2025, 12, 2), date(2025, 12, 3)]
    # Each day 2.403 m³ at 70/30 °C should carry about 0.4 GJ; the meter says 0.6 GJ.
    batch = [
        reading(
            "HM-1", day, str(Decimal("10") + Decimal("0.6") * n), volume_m3=str(Decimal("2.403") * n), **temperatures
        )
        for n, day in enumerate(days)
    ]
    assert api.submit(batch).json()["accepted"] == 3

    def ends(**filters: str) -> list[str]:
        return [item["end_at"] for item in api.get("/monitoring/implausible-intervals", query=filters).json()["items"]]

    newest_first = [utc_midnight_of(date(2025, 12, 3)), utc_midnight_of(date(2025, 12, 2))]
    assert ends() == newest_first
    assert ends(**{"from": "2025-12-02"}) == newest_first[:1]
    assert ends(**{"to": "2025-12-01"}) == newest_first[1:]
    assert ends(**{"from": "2025-12-01", "to": "2025-12-02"}) == newest_first
    assert ends(**{"from": "2025-12-03"}) == []
    assert ends(community="碧桂园") == newest_first
    assert ends(community="滨河小区") == []
    assert (
        api.get("/monitoring/implausible-intervals", limit=1, offset=1).json()["items"][0]["end_at"] == newest_first[1]
    )
    problem = assert_problem(
        api.get("/monitoring/implausible-intervals", query={"from": "2025-12-03", "to": "2025-12-01"}),
        422,
        "invalid_input",
    )
    assert problem["errors"][0]["code"] == "range_reversed"


# -- faulty meters --------------------------------------------------------------------------------


@pytest.mark.usefixtures("frozen_now")
def test_faulty_meters_report_error_flags_or_a_faulty_newest_reading(api: LedgerApi, container: Container) -> None:
    for number in (1, 2, 3, 4):
        api.household_with_meter(f"WZ-000{number}", f"HM-{number}")
    batch = [
        reading("HM-1", date(2025, 12, 1), "10.0"),
        reading("HM-1", date(2025, 12, 2), "10.4", error_flags=5),
        reading("HM-1", date(2025, 12, 3), "10.8", error_flags=5),
        reading("HM-3", date(2025, 12, 1), "10.0", error_flags=1),
        reading("HM-3", date(2025, 12, 2), "10.4"),  # the fault cleared
        reading("HM-4", date(2025, 12, 1), "10.0"),
    ]
    assert api.submit(batch).json()["accepted"] == 6
    sensor_fault = ReadingValues(
        datetime(2025, 12, 4, 16, tzinfo=UTC), Decimal("11.2"), source=ReadingSource.MBUS, faulty=True
    )
    assert container.intake.submit(SYSTEM, [ReadingItem("HM-2", sensor_fault)], Channel.MBUS).accepted == 1

    page = api.get("/monitoring/faulty-meters").json()

    assert page["total"] == 2
    assert serials(page) == ["HM-2", "HM-1"]
    sensor, flagged = page["items"]
    assert (sensor["error_flags"], sensor["error_bits"], sensor["fault_since"]) == (0, [], None)
    assert sensor["last_reading_faulty"] is True
    assert sensor["last_measured_at"] == "2025-12-04T16:00:00Z"
    assert (flagged["error_flags"], flagged["error_bits"]) == (5, [0, 2])
    assert flagged["fault_since"] == utc_midnight_of(date(2025, 12, 2))
    assert flagged["last_measured_at"] == utc_midnight_of(date(2025, 12, 3))
    assert flagged["last_reading_faulty"] is False
    assert flagged["household_account_number"] == "WZ-0001"
    assert serials(api.get("/monitoring/faulty-meters", limit=1, offset=1).json()) == ["HM-1"]
    assert serials(api.get("/monitoring/faulty-meters", community="滨河小区").json()) == []


# -- who may read them, and bounds --------------------------------------------------------------------


@pytest.mark.parametrize("path", LISTINGS)
def test_devices_may_not_read_the_monitoring_lists(api: LedgerApi, path: str) -> None:
    problem = assert_problem(api.get(path, role=Role.DEVICE), 403, "permission_denied")
    assert problem["params"] == {"role": "device", "permission": "read_ledger"}


@pytest.mark.parametrize("path", LISTINGS)
def test_every_reading_role_may_read_the_monitoring_lists(api: LedgerApi, path: str) -> None:
    for role in (Role.AUDITOR, Role.REGULATOR, Role.CUSTOMER_SERVICE, Role.ADMIN):
        page = api.get(path, role=role)
        assert page.status_code == 200, page.text
        assert (page.json()["items"], page.json()["total"]) == ([], 0)


@pytest.mark.parametrize("path", LISTINGS)
def test_a_page_holds_1_to_500_items(api: LedgerApi, path: str) -> None:
    assert api.get(path, limit=500).status_code == 200
    for bad in ({"limit": "0"}, {"limit": "501"}, {"offset": "-1"}):
        assert_problem(api.get(path, query=bad), 422, "validation_failed")


def test_the_lists_need_a_token(api: LedgerApi) -> None:
    for path in LISTINGS:
        assert_problem(api.client.get(path), 401, "unauthenticated")


def test_each_listing_is_documented_with_an_example(api: LedgerApi) -> None:
    schema = api.client.get("/openapi.json").json()
    for path in LISTINGS:
        operation = schema["paths"][path]["get"]
        assert operation["operationId"].startswith("list_")
        assert operation["tags"] == ["monitoring"]
        reference = operation["responses"]["200"]["content"]["application/json"]["schema"]["$ref"]
        model = schema["components"]["schemas"][reference.rsplit("/", 1)[-1]]
        assert model["examples"], path


def test_silent_since_is_counted_from_the_ledgers_clock(container: Container) -> None:
    # The ledger's clock is what "now" means: a clock an hour past the cut-off lists the meter.
    container.ledger.commission_meter(
        SYSTEM,
        "BM-9",
        "Kamstrup",
        "MULTICAL 603",
        AccuracyClass.CLASS_2,
        FlowSensorSide.RETURN,
        MeterKind.BUILDING,
        NOW - timedelta(days=10),
        community="碧桂园",
        building="9",
    )
    monitoring = MonitoringQueries(container.engine, IntakeLogTables(rejected_readings, quarantined_frames))
    cut_off = NOW - timedelta(days=10)
    assert monitoring.silent_meters(cut_off + timedelta(days=3, hours=1), 3).total == 1
    assert monitoring.silent_meters(cut_off + timedelta(days=3), 3).total == 0
