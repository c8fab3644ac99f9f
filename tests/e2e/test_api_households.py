"""Households over HTTP: registration, reading back, lists, corrections, suspension, bad input."""

from __future__ import annotations

from decimal import Decimal

from application.authorization import Role
from tests.e2e.conftest import LedgerApi, assert_problem


def test_a_registered_household_is_read_back_at_its_location(api: LedgerApi) -> None:
    response = api.register_household("WZ-0001", community="碧桂园", building="3", flat="601", heated_area_m2="85.50")

    assert response.status_code == 201
    assert response.json()["account_number"] == "WZ-0001"
    household = api.get(response.headers["Location"]).json()
    assert household["account_number"] == "WZ-0001"
    assert household["address"] == {"community": "碧桂园", "building": "3", "entrance": "1", "floor": 1, "flat": "601"}
    assert household["connected_area_m2"] == "98.50"
    assert household["heated_area_m2"] == "85.50"
    assert household["position"] == {"vertical": "bottom", "horizontal": "west_end"}
    assert household["heating_suspended"] is False
    assert household["meters"] == []
    assert Decimal(household["season"]["energy_gj"]) == 0


def test_a_second_registration_under_the_same_account_number_is_a_conflict(api: LedgerApi) -> None:
    assert api.register_household("WZ-0001").status_code == 201

    problem = assert_problem(api.register_household("WZ-0001", flat="102"), 409, "conflict")

    assert problem["params"] == {"kind": "household", "key": "WZ-0001"}
    assert "WZ-0001" in problem["detail"]
    assert api.get("/households/WZ-0001").json()["address"]["flat"] == "101"


def test_a_negative_area_is_refused_with_the_offending_field(api: LedgerApi) -> None:
    problem = assert_problem(api.register_household("WZ-0001", connected_area_m2="-98.50"), 422, "invalid_input")

    assert [error["field"] for error in problem["errors"]] == ["connected_area_m2"]
    assert problem["errors"][0]["location"] == "body"
    assert problem["params"]["value"] == "-98.50"
    assert_problem(api.get("/households/WZ-0001"), 404, "not_found")


def test_a_heated_area_above_the_connected_area_is_refused(api: LedgerApi) -> None:
    response = api.register_household("WZ-0001", connected_area_m2="80.00", heated_area_m2="80.01")

    problem = assert_problem(response, 422, "invalid_input")
    assert problem["errors"][0]["field"] == "heated_area_m2"
    assert "实际供热面积不能大于入网面积" in problem["detail"]


def test_malformed_json_is_a_validation_problem(api: LedgerApi) -> None:
    headers = {**api.clerk(), "Content-Type": "application/json"}

    response = api.client.post("/households", content=b'{"account_number": "WZ-1",', headers=headers)

    problem = assert_problem(response, 422, "validation_failed")
    assert [error["code"] for error in problem["errors"]] == ["json_invalid"]
    assert "JSON" in problem["errors"][0]["message"]


def test_values_of_the_wrong_type_are_listed_per_field(api: LedgerApi) -> None:
    response = api.register_household(
        "WZ-0001", connected_area_m2="lots", customer_class="palace", address={"community": "碧桂园"}, extra="x"
    )

    problem = assert_problem(response, 422, "validation_failed")
    found = {(error["field"], error["code"]) for error in problem["errors"]}
    assert {
        ("connected_area_m2", "decimal_parsing"),
        ("customer_class", "enum"),
        ("address.building", "missing"),
        ("address.flat", "missing"),
        ("extra", "extra_forbidden"),
    } <= found
    assert problem["params"]["count"] == len(problem["errors"])


def test_households_are_listed_by_place_a_page_at_a_time(api: LedgerApi) -> None:
    for account_number, building in [("WZ-03", "1"), ("WZ-01", "1"), ("WZ-02", "2"), ("WZ-04", "1")]:
        assert api.register_household(account_number, building=building).status_code == 201
    assert api.register_household("CHW-01", community="长河湾").status_code == 201

    first = api.get("/households", community="碧桂园", building="1", limit=2).json()
    second = api.get("/households", community="碧桂园", building="1", limit=2, offset=2).json()
    everyone = api.get("/households").json()

    assert [item["account_number"] for item in first["items"]] == ["WZ-01", "WZ-03"]
    assert [item["account_number"] for item in second["items"]] == ["WZ-04"]
    assert first["total"] == second["total"] == 3
    assert everyone["total"] == 5
    assert_problem(api.get("/households", limit=0), 422, "validation_failed")


def test_an_unknown_household_in_the_path_is_not_found(api: LedgerApi) -> None:
    change = {"effective_on": "2025-12-01", "reason": "empty flat"}

    for response in (
        api.get("/households/NOPE"),
        api.get("/households/NOPE/consumption"),
        api.client.post("/households/NOPE/suspensions", json=change, headers=api.clerk()),
        api.attach_meter("NOPE", "HM-1"),
    ):
        problem = assert_problem(response, 404, "not_found")
        assert problem["params"]["kind"] == "household"


def test_an_area_correction_changes_the_areas_from_then_on(api: LedgerApi) -> None:
    assert api.register_household("WZ-0001").status_code == 201
    correction = {
        "connected_area_m2": "99.10",
        "heated_area_m2": "88.20",
        "effective_on": "2025-12-01",
        "reason": "survey",
    }

    response = api.client.post("/households/WZ-0001/area-corrections", json=correction, headers=api.clerk())

    assert response.status_code == 200
    assert "correlation_id" in response.json()
    household = api.get("/households/WZ-0001").json()
    assert (household["connected_area_m2"], household["heated_area_m2"]) == ("99.10", "88.20")
    again = api.client.post("/households/WZ-0001/area-corrections", json=correction, headers=api.clerk())
    assert_problem(again, 409, "conflict")


def test_a_correction_needs_a_reason(api: LedgerApi) -> None:
    assert api.register_household("WZ-0001").status_code == 201
    correction = {"connected_area_m2": "99.10", "heated_area_m2": "88.20", "effective_on": "2025-12-01"}

    problem = assert_problem(
        api.client.post("/households/WZ-0001/area-corrections", json=correction, headers=api.clerk()),
        422,
        "validation_failed",
    )
    assert [(error["field"], error["code"]) for error in problem["errors"]] == [("reason", "missing")]

    blank = api.client.post(
        "/households/WZ-0001/area-corrections", json={**correction, "reason": "  "}, headers=api.clerk()
    )
    assert assert_problem(blank, 422, "invalid_input")["errors"][0]["field"] == "reason"


def test_heating_is_suspended_and_resumed(api: LedgerApi) -> None:
    assert api.register_household("WZ-0001").status_code == 201
    suspend = {"effective_on": "2025-12-01", "reason": "flat empty this winter"}
    path = "/households/WZ-0001"

    assert api.client.post(f"{path}/suspensions", json=suspend, headers=api.clerk()).status_code == 200
    suspended = api.get(path).json()
    assert (suspended["heating_suspended"], suspended["suspended_since"]) == (True, "2025-12-01")
    assert_problem(api.client.post(f"{path}/suspensions", json=suspend, headers=api.clerk()), 409, "conflict")

    early = {"effective_on": "2025-11-30", "reason": "back home"}
    assert_problem(api.client.post(f"{path}/resumptions", json=early, headers=api.clerk()), 422, "invalid_input")
    resume = {"effective_on": "2025-12-20", "reason": "back home"}
    assert api.client.post(f"{path}/resumptions", json=resume, headers=api.clerk()).status_code == 200
    resumed = api.get(path).json()
    assert (resumed["heating_suspended"], resumed["suspended_since"]) == (False, None)


def test_messages_are_chinese_by_default_and_english_on_request(api: LedgerApi) -> None:
    assert api.register_household("WZ-0001").status_code == 201
    suspend = {"effective_on": "2025-12-01", "reason": "empty"}
    path = "/households/WZ-0001/resumptions"

    chinese = assert_problem(api.client.post(path, json=suspend, headers=api.clerk()), 409, "conflict")
    english = assert_problem(
        api.client.post(path, json=suspend, headers=api.clerk("en-GB,en;q=0.9,zh;q=0.5")), 409, "conflict"
    )
    preferring_chinese = api.client.post(path, json=suspend, headers=api.clerk("zh-CN,zh;q=0.9,en;q=0.8"))

    assert chinese["title"] == "与已有记录冲突"
    assert chinese["detail"] == "户 WZ-0001 没有报停。"
    assert english["title"] == "Conflict"
    assert english["detail"] == "Heating of household WZ-0001 is not suspended."
    assert preferring_chinese.json()["detail"] == chinese["detail"]
    assert preferring_chinese.headers["Content-Language"] == "zh"


def test_a_clerk_and_customer_service_may_register_but_a_regulator_may_not(api: LedgerApi) -> None:
    for index, role in enumerate((Role.CLERK, Role.CUSTOMER_SERVICE, Role.REGULATOR)):
        body = {
            "account_number": f"WZ-{index}",
            "address": {"community": "碧桂园", "building": "1", "floor": 1, "flat": f"10{index}"},
            "connected_area_m2": "90",
            "heated_area_m2": "90",
            "customer_class": "non_residential",
            "position": {"vertical": "top", "horizontal": "east_end"},
            "registered_on": "2025-10-01",
        }
        response = api.client.post("/households", json=body, headers=api.tokens.headers(role))
        assert response.status_code == (403 if role is Role.REGULATOR else 201), role
