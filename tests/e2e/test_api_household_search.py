"""Finding households over HTTP (words, address parts, phone) and a household's heat per m² beside
its building's average, on both backends."""

from __future__ import annotations

from datetime import date
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

import pytest

from application.authorization import Role
from tests.e2e.conftest import LedgerApi, assert_problem, cumulative, days_from

# Four flats in two communities; the address parts differ one at a time.
FLATS = [
    ("WZ-0101", "碧桂园", "3", "2", 5, "501"),
    ("WZ-0102", "碧桂园", "3", "2", 5, "502"),
    ("WZ-0103", "碧桂园", "3", "1", 6, "601"),
    ("WZ-0201", "碧桂园", "13", "2", 5, "501"),
    ("CHW-0001", "长河湾", "3", "2", 5, "501"),
]


def _register(
    api: LedgerApi,
    account_number: str,
    community: str,
    building: str,
    entrance: str,
    floor: int,
    flat: str,
    connected_area_m2: str = "98.50",
) -> None:
    body = {
        "account_number": account_number,
        "address": {"community": community, "building": building, "entrance": entrance, "floor": floor, "flat": flat},
        "connected_area_m2": connected_area_m2,
        "heated_area_m2": connected_area_m2,
        "customer_class": "residential",
        "position": {"vertical": "middle", "horizontal": "middle"},
        "registered_on": "2025-10-01",
    }
    response = api.client.post("/households", json=body, headers=api.clerk())
    assert response.status_code == 201, response.text


@pytest.fixture
def registered(api: LedgerApi) -> LedgerApi:
    for flat in FLATS:
        _register(api, *flat)
    return api


def _found(api: LedgerApi, role: Role = Role.CLERK, **params: Any) -> list[str]:
    response = api.get("/households", role=role, **params)
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["total"] == len(body["items"])
    return [item["account_number"] for item in body["items"]]


def test_words_narrow_the_households_one_part_at_a_time(registered: LedgerApi) -> None:
    api = registered
    assert _found(api, search="0101") == ["WZ-0101"]
    assert _found(api, search="wz-01") == ["WZ-0101", "WZ-0102", "WZ-0103"]  # case does not matter
    assert _found(api, search="长河") == ["CHW-0001"]
    assert _found(api, search="碧桂园 3号楼") == ["WZ-0101", "WZ-0102", "WZ-0103"]
    assert _found(api, search="碧桂园 3号楼 2单元") == ["WZ-0101", "WZ-0102"]
    assert _found(api, search="碧桂园3号楼2单元5层501室") == ["WZ-0101"]
    assert _found(api, search="3栋 6层") == ["WZ-0103"]
    # A bare number is a whole building or flat, never part of one: "3" is not building 13.
    assert _found(api, search="碧桂园 3") == ["WZ-0101", "WZ-0102", "WZ-0103"]
    assert _found(api, search="501") == ["CHW-0001", "WZ-0101", "WZ-0201"]
    assert _found(api, search="nobody") == []


def test_structured_filters_and_words_hold_together(registered: LedgerApi) -> None:
    api = registered
    assert _found(api, community="碧桂园", building="3", entrance="2", floor=5) == ["WZ-0101", "WZ-0102"]
    assert _found(api, community="碧桂园", search="501") == ["WZ-0101", "WZ-0201"]
    assert _found(api, floor=6) == ["WZ-0103"]


def test_wildcards_in_words_are_taken_literally(registered: LedgerApi) -> None:
    assert _found(registered, search="%") == []
    assert _found(registered, search="WZ_01") == []


def test_a_floor_beyond_any_column_is_no_floor_and_no_error(registered: LedgerApi) -> None:
    assert _found(registered, search="99999999999999999999层") == []
    assert_problem(registered.get("/households", floor=2**31), 422, "validation_failed")


def test_households_are_found_by_their_contacts_phone_for_roles_that_manage_them(registered: LedgerApi) -> None:
    api = registered
    for account_number, address in (("WZ-0102", "13800138000"), ("CHW-0001", "+8613912345678")):
        response = api.client.put(
            f"/households/{account_number}/contact",
            json={"channel": "webhook", "address": address},
            headers=api.clerk(),
        )
        assert response.status_code == 200, response.text

    assert _found(api, phone="8000") == ["WZ-0102"]
    assert _found(api, phone="138 0013 8000") == ["WZ-0102"]
    assert _found(api, phone="139-1234") == ["CHW-0001"]
    assert _found(api, phone="8000", search="长河湾") == []
    assert _found(api, role=Role.CUSTOMER_SERVICE, phone="5678") == ["CHW-0001"]
    assert _found(api, phone="0000") == []
    # Contacts are personal data: a regulator or an auditor may list households, not search phones.
    assert _found(api, role=Role.REGULATOR, search="长河湾") == ["CHW-0001"]
    for role in (Role.REGULATOR, Role.AUDITOR):
        assert_problem(api.get("/households", role=role, phone="5678"), 403, "permission_denied")
    assert_problem(api.get("/households", phone="123"), 422, "validation_failed")
    assert_problem(api.get("/households", search="x" * 101), 422, "validation_failed")


def test_households_are_found_by_the_holders_name_in_their_contact(registered: LedgerApi) -> None:
    api = registered
    for account_number, holder in (("WZ-0101", "王芳"), ("WZ-0102", "王 建国"), ("CHW-0001", "Li Ming")):
        body = {"channel": "webhook", "address": "13800138000", "holder_name": f"  {holder} "}
        response = api.client.put(f"/households/{account_number}/contact", json=body, headers=api.clerk())
        assert response.status_code == 200, response.text
        assert response.json()["holder_name"] == holder
    assert api.get("/households/WZ-0101/contact").json()["holder_name"] == "王芳"

    assert _found(api, holder="王") == ["WZ-0101", "WZ-0102"]
    assert _found(api, holder="王建国") == ["WZ-0102"]  # spaces inside a name do not matter
    assert _found(api, holder="li ming") == ["CHW-0001"]
    assert _found(api, holder="王", search="0102") == ["WZ-0102"]
    assert _found(api, holder="王", phone="9999") == []
    for role in (Role.REGULATOR, Role.AUDITOR):
        assert_problem(api.get("/households", role=role, holder="王"), 403, "permission_denied")
    assert_problem(api.get("/households", holder="x" * 129), 422, "validation_failed")

    # Erasing the contact erases the name: the household is no longer found by it.
    assert api.client.delete("/households/WZ-0101/contact", headers=api.clerk()).status_code == 204
    assert _found(api, holder="王芳") == []
    long_name = {"channel": "webhook", "address": "13800138000", "holder_name": "名" * 129}
    response = api.client.put("/households/WZ-0102/contact", json=long_name, headers=api.clerk())
    assert_problem(response, 422, "validation_failed")


def test_the_total_counts_every_match_across_pages(registered: LedgerApi) -> None:
    first = registered.get("/households", search="碧桂园", limit=2).json()
    last = registered.get("/households", search="碧桂园", limit=2, offset=2).json()
    assert first["total"] == last["total"] == 4
    assert [item["account_number"] for item in first["items"] + last["items"]] == [
        "WZ-0101",
        "WZ-0102",
        "WZ-0103",
        "WZ-0201",
    ]


# -- a household beside its building -------------------------------------------------------------

# Readings at midnight from 28 November to 3 December: three days in November, two in December.
READING_DAYS = days_from(date(2025, 11, 28), 6)
# (account, serial, connected area, heat per day) in building 碧桂园 3; WZ-0103 is unmetered and
# WZ-0102's meter is silent on the two December days.
METERED = [
    ("WZ-0101", "HM-0101", Decimal("100.00"), [Decimal(x) for x in ("0.500", "0.400", "0.600", "0.500", "0.500")]),
    ("WZ-0102", "HM-0102", Decimal("50.00"), [Decimal(x) for x in ("0.100", "0.200", "0.300")]),
]
QUANTUM = Decimal("0.000001")


@pytest.fixture
def compared(api: LedgerApi, frozen_now: object) -> LedgerApi:
    for account_number, serial, area, daily in METERED:
        _register(api, account_number, "碧桂园", "3", "2", 5, serial[-3:], str(area))
        assert api.commission_meter(serial, community="碧桂园", building="3").status_code == 201
        assert api.attach_meter(account_number, serial).status_code == 200
        api.daily_readings(serial, READING_DAYS[: len(daily) + 1], cumulative(Decimal("10.000"), daily))
    _register(api, "WZ-0103", "碧桂园", "3", "1", 6, "601", "80.00")
    _register(api, "WZ-0201", "碧桂园", "13", "2", 5, "501")  # another building: never counted
    assert api.commission_meter("HM-0201", community="碧桂园", building="13").status_code == 201
    assert api.attach_meter("WZ-0201", "HM-0201").status_code == 200
    api.daily_readings("HM-0201", READING_DAYS, cumulative(Decimal("1.000"), [Decimal("9.000")] * 5))
    return api


def _per_m2(energy: Decimal, area: Decimal) -> str:
    return f"{(energy / area).quantize(QUANTUM, rounding=ROUND_HALF_UP):.6f}"


def test_a_households_days_beside_its_buildings_average_per_m2(compared: LedgerApi) -> None:
    query = {"from": "2025-11-28", "to": "2025-12-02"}
    body = compared.get("/households/WZ-0102/consumption/comparison", query=query).json()

    assert (body["account_number"], body["community"], body["building"]) == ("WZ-0102", "碧桂园", "3")
    assert body["connected_area_m2"] == "50.00"
    periods = body["periods"]
    assert [period["period"] for period in periods] == [day.isoformat() for day in READING_DAYS[:5]]
    (_, _, area_1, daily_1), (_, _, area_2, daily_2) = METERED
    for index, period in enumerate(periods[:3]):
        assert period["energy_gj"] == f"{daily_2[index]:.6f}"
        assert period["energy_per_connected_area_gj_per_m2"] == _per_m2(daily_2[index], area_2)
        building = _per_m2(daily_1[index] + daily_2[index], area_1 + area_2)
        assert period["building_energy_per_connected_area_gj_per_m2"] == building
        assert period["building_metered_households"] == 2
    for index, period in enumerate(periods[3:], start=3):
        # WZ-0102 was silent: it shows nothing, and its area leaves the building's average.
        assert period["energy_gj"] is None and period["energy_per_connected_area_gj_per_m2"] is None
        assert period["building_energy_per_connected_area_gj_per_m2"] == _per_m2(daily_1[index], area_1)
        assert period["building_metered_households"] == 1


def test_months_sum_their_days_for_the_household_and_the_building(compared: LedgerApi) -> None:
    query = {"from": "2025-11-01", "to": "2025-12-10", "granularity": "month"}
    body = compared.get("/households/WZ-0101/consumption/comparison", query=query).json()

    (_, _, area_1, daily_1), (_, _, area_2, daily_2) = METERED
    november, december = body["periods"]
    assert (november["period"], november["first_day"], november["last_day"]) == ("2025-11", "2025-11-01", "2025-11-30")
    assert (december["period"], december["first_day"], december["last_day"]) == ("2025-12", "2025-12-01", "2025-12-10")
    assert november["energy_per_connected_area_gj_per_m2"] == _per_m2(sum(daily_1[:3], Decimal(0)), area_1)
    assert november["building_energy_per_connected_area_gj_per_m2"] == _per_m2(
        sum(daily_1[:3] + daily_2, Decimal(0)), area_1 + area_2
    )
    assert november["building_metered_households"] == 2
    assert december["building_energy_per_connected_area_gj_per_m2"] == _per_m2(sum(daily_1[3:], Decimal(0)), area_1)
    assert december["building_metered_households"] == 1


def test_an_unmetered_household_sees_its_building_alone(compared: LedgerApi) -> None:
    body = compared.get("/households/WZ-0103/consumption/comparison", query={"granularity": "month"}).json()
    assert [period["energy_gj"] for period in body["periods"]] == [None, None]
    assert all(period["building_metered_households"] >= 1 for period in body["periods"])


def test_comparison_problems(compared: LedgerApi) -> None:
    assert_problem(compared.get("/households/NOPE/consumption/comparison"), 404, "not_found")
    reversed_range = {"from": "2025-12-02", "to": "2025-12-01"}
    response = compared.get("/households/WZ-0101/consumption/comparison", query=reversed_range)
    assert assert_problem(response, 422, "invalid_input")["errors"][0]["code"] == "range_reversed"
    response = compared.client.get("/households/WZ-0101/consumption/comparison")
    assert_problem(response, 401, "unauthenticated")
