"""Meters over HTTP: commissioning, attaching to a household, detaching, bad input."""

from __future__ import annotations

from tests.e2e.conftest import ATTACHED_AT, LedgerApi, assert_problem


def test_a_commissioned_meter_is_read_back_at_its_location(api: LedgerApi) -> None:
    response = api.commission_meter("KM-100234", permanent_flow_m3_h="1.5", energy_register_width_gj="1000000")

    assert response.status_code == 201
    meter = api.get(response.headers["Location"]).json()
    assert meter["serial"] == "KM-100234"
    assert (meter["maker"], meter["accuracy_class"], meter["flow_sensor_side"]) == ("Kamstrup", "2", "return")
    assert meter["kind"] == "household"
    assert meter["commissioned_at"] == "2025-10-15T01:00:00Z"
    assert (meter["household_account_number"], meter["community"], meter["last_reading"]) == (None, None, None)


def test_a_serial_is_commissioned_once(api: LedgerApi) -> None:
    assert api.commission_meter("KM-1").status_code == 201

    problem = assert_problem(api.commission_meter("KM-1", maker="Landis+Gyr"), 409, "conflict")

    assert problem["params"] == {"kind": "meter", "key": "KM-1"}
    assert api.get("/meters/KM-1").json()["maker"] == "Kamstrup"


def test_a_building_meter_names_its_building(api: LedgerApi) -> None:
    problem = assert_problem(api.commission_meter("BM-1", kind="building"), 422, "invalid_input")
    assert problem["errors"][0]["field"] == "building"

    assert api.commission_meter("BM-1", kind="building", community="碧桂园", building="1").status_code == 201
    meter = api.get("/meters/BM-1").json()
    assert (meter["kind"], meter["community"], meter["building"]) == ("building", "碧桂园", "1")


def test_a_time_without_zone_is_refused(api: LedgerApi) -> None:
    problem = assert_problem(
        api.commission_meter("KM-1", commissioned_at="2025-10-15T09:00:00"), 422, "validation_failed"
    )

    assert [(error["field"], error["code"]) for error in problem["errors"]] == [("commissioned_at", "timezone_aware")]


def test_an_attached_meter_serves_its_household_until_detached(api: LedgerApi) -> None:
    api.household_with_meter("WZ-0001", "KM-1", building="5")

    meter = api.get("/meters/KM-1").json()
    household = api.get("/households/WZ-0001").json()
    assert (meter["household_account_number"], meter["community"], meter["building"]) == ("WZ-0001", "碧桂园", "5")
    assert [attached["serial"] for attached in household["meters"]] == ["KM-1"]

    detachment = {"detached_at": "2025-12-01T10:00:00+08:00", "reason": "sent for verification"}
    assert api.client.post("/meters/KM-1/detachments", json=detachment, headers=api.clerk()).status_code == 200

    assert api.get("/meters/KM-1").json()["household_account_number"] is None
    assert api.get("/households/WZ-0001").json()["meters"] == []
    again = api.client.post("/meters/KM-1/detachments", json=detachment, headers=api.clerk())
    assert_problem(again, 409, "conflict")


def test_a_meter_serves_one_household_at_a_time(api: LedgerApi) -> None:
    api.household_with_meter("WZ-0001", "KM-1")
    assert api.register_household("WZ-0002", flat="102").status_code == 201

    problem = assert_problem(api.attach_meter("WZ-0002", "KM-1"), 409, "conflict")

    assert problem["detail"] == "热表 KM-1 已经安装在某一户，请先拆除。"
    assert api.get("/households/WZ-0002").json()["meters"] == []


def test_a_building_meter_cannot_serve_a_household(api: LedgerApi) -> None:
    assert api.register_household("WZ-0001").status_code == 201
    assert api.commission_meter("BM-1", kind="building", community="碧桂园", building="1").status_code == 201

    assert_problem(api.attach_meter("WZ-0001", "BM-1"), 409, "conflict")


def test_an_unknown_meter_in_the_path_is_not_found(api: LedgerApi) -> None:
    assert api.register_household("WZ-0001").status_code == 201
    detachment = {"detached_at": "2025-12-01T10:00:00+08:00", "reason": "verification"}

    for response in (
        api.get("/meters/NOPE"),
        api.get("/meters/NOPE/readings"),
        api.client.post("/meters/NOPE/detachments", json=detachment, headers=api.clerk()),
        api.client.post(
            "/households/WZ-0001/meters", json={"serial": "NOPE", "attached_at": ATTACHED_AT}, headers=api.clerk()
        ),
    ):
        problem = assert_problem(response, 404, "not_found")
        assert problem["params"] == {"kind": "meter", "key": "NOPE"}
        assert problem["detail"] == "没有表号为 NOPE 的热表。"
