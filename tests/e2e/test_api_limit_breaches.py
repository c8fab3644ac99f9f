"""Rated limits over HTTP on each backend: declared at commissioning, readings beyond them accepted
and listed by GET /monitoring/limit-breaches with the rule each breaks (hand-computed)."""

from __future__ import annotations

from datetime import date
from typing import Any

from tests.e2e.conftest import LedgerApi, assert_problem, shanghai_midnight


def reading(serial: str, day: date, energy_gj: str, **values: str) -> dict[str, Any]:
    moment = shanghai_midnight(day)
    return {"meter_serial": serial, "measured_at": moment, "energy_gj": energy_gj, "source": "mbus", **values}


def test_readings_beyond_the_rated_limits_are_accepted_and_listed_with_the_rule(api: LedgerApi) -> None:
    api.household_with_meter("WZ-0001", "HM-1")  # a flat's meter with the defaults: q_p 2.5, q_s 5, 2…90 °C
    warm = {"flow_temperature_c": "70", "return_temperature_c": "50"}
    batch = [
        reading("HM-1", date(2025, 12, 1), "10.000", volume_m3="100.000", **warm),
        # 480 m³ in 24 h: 20 m³/h on average, over q_s 5 m³/h.
        reading("HM-1", date(2025, 12, 2), "12.000", volume_m3="580.000", **warm),
        # 180/175 °C on a flat's meter: over θ_max 90 °C (and 5 m³ in a day is fine).
        reading(
            "HM-1",
            date(2025, 12, 3),
            "12.010",
            volume_m3="585.000",
            flow_temperature_c="180",
            return_temperature_c="175",
        ),
    ]
    receipt = api.submit(batch).json()
    assert receipt["accepted"] == 3

    page = api.get("/monitoring/limit-breaches").json()

    assert page["total"] == 2
    newest, older = page["items"]
    assert (newest["scope"], newest["rules"]) == ("reading", ["temperature_out_of_range"])
    assert (newest["flow_temperature_c"], newest["return_temperature_c"]) == ("180.000", "175.000")
    assert (newest["maximum_temperature_c"], newest["household_account_number"]) == ("90.000", "WZ-0001")
    assert (older["scope"], older["rules"]) == ("interval", ["flow_above_maximum"])
    assert (older["volume_m3"], older["mean_flow_m3_h"], older["maximum_flow_m3_h"]) == (
        "480.000000",
        "20.000",
        "5.000",
    )
    only_december_3 = api.get("/monitoring/limit-breaches", query={"from": "2025-12-03"}).json()
    assert [item["scope"] for item in only_december_3["items"]] == ["reading"]


def test_declared_limits_replace_the_defaults(api: LedgerApi) -> None:
    assert api.register_household("WZ-0002").status_code == 201
    declared = {"permanent_flow_m3_h": "10", "maximum_flow_m3_h": "20", "maximum_temperature_c": "130"}
    assert api.commission_meter("HM-2", **declared).status_code == 201
    assert api.attach_meter("WZ-0002", "HM-2").status_code == 200
    warm = {"flow_temperature_c": "120", "return_temperature_c": "90"}
    batch = [
        reading("HM-2", date(2025, 12, 1), "10.000", volume_m3="100.000", **warm),
        reading("HM-2", date(2025, 12, 2), "12.000", volume_m3="580.000", **warm),  # 20 m³/h: at q_s, 120 °C in range
    ]
    assert api.submit(batch).json()["accepted"] == 2
    # Permitted in 24 h: 10 × 24 + (20 − 10) × 1 = 250 m³; 480 m³ is more: above q_p, not above q_s.
    rules = [item["rules"] for item in api.get("/monitoring/limit-breaches").json()["items"]]
    assert rules == [["flow_above_permanent"]]


def test_limits_no_meter_has_are_refused(api: LedgerApi) -> None:
    response = api.commission_meter("HM-3", permanent_flow_m3_h="2.5", maximum_flow_m3_h="1.5")
    problem = assert_problem(response, 422, "invalid_input")
    assert problem["params"]["field"] == "maximum_flow_m3_h"
