"""GET /meters: meters found by a part of their serial number, their place, kind and state, a page
at a time (the meters page's search, issue 13)."""

from __future__ import annotations

from typing import Any

import pytest

from application.authorization import Role
from tests.e2e.conftest import LedgerApi, assert_problem


def serials(response: Any) -> list[str]:
    assert response.status_code == 200, response.text
    return [item["serial"] for item in response.json()["items"]]


@pytest.fixture
def fitted(api: LedgerApi, frozen_now: object) -> LedgerApi:
    """KM-1001 serves WZ-0001 in 碧桂园; KM-1002 waits in the store; BM-0001 is 碧桂园 building 1's
    building meter; KM-2001 was detached and decommissioned."""
    api.household_with_meter("WZ-0001", "KM-1001")
    assert api.commission_meter("KM-1002").status_code == 201
    assert api.commission_meter("BM-0001", kind="building", community="碧桂园", building="1").status_code == 201
    api.household_with_meter("WZ-0002", "KM-2001", community="阅水秦韵", flat="102")
    detached = {"detached_at": "2025-11-01T09:00:00+08:00", "reason": "sent for verification"}
    assert api.client.post("/meters/KM-2001/detachments", json=detached, headers=api.clerk()).status_code == 200
    ended = {"decommissioned_at": "2025-11-02T09:00:00+08:00", "reason": "failed verification"}
    assert api.client.post("/meters/KM-2001/decommissioning", json=ended, headers=api.clerk()).status_code == 200
    return api


def test_meters_are_listed_by_serial_with_where_they_sit(fitted: LedgerApi) -> None:
    response = fitted.get("/meters")

    assert serials(response) == ["BM-0001", "KM-1001", "KM-1002", "KM-2001"]
    body = response.json()
    assert (body["total"], body["limit"], body["offset"]) == (4, 50, 0)
    fitted_meter = body["items"][1]
    assert (fitted_meter["household_account_number"], fitted_meter["community"]) == ("WZ-0001", "碧桂园")
    assert body["items"][3]["decommissioned_at"] == "2025-11-02T01:00:00Z"


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ({"search": "km-10"}, ["KM-1001", "KM-1002"]),  # a part of the serial, in any case
        ({"search": "001"}, ["BM-0001", "KM-1001", "KM-2001"]),
        ({"search": "%"}, []),  # a wildcard is a character like any other
        ({"search": "  "}, ["BM-0001", "KM-1001", "KM-1002", "KM-2001"]),
        ({"community": "碧桂园"}, ["BM-0001", "KM-1001"]),
        ({"community": "碧桂园", "building": "1", "kind": "building"}, ["BM-0001"]),
        ({"kind": "household"}, ["KM-1001", "KM-1002", "KM-2001"]),
        ({"state": "in_service"}, ["BM-0001", "KM-1001", "KM-1002"]),
        ({"state": "unattached", "kind": "household"}, ["KM-1002"]),
        ({"state": "decommissioned"}, ["KM-2001"]),
    ],
)
def test_meters_are_found_by_serial_place_kind_and_state(
    fitted: LedgerApi, query: dict[str, str], expected: list[str]
) -> None:
    response = fitted.get("/meters", **query)

    assert serials(response) == expected
    assert response.json()["total"] == len(expected)


def test_meters_come_a_page_at_a_time(fitted: LedgerApi) -> None:
    first, second = fitted.get("/meters", limit=3), fitted.get("/meters", limit=3, offset=3)

    assert serials(first) + serials(second) == ["BM-0001", "KM-1001", "KM-1002", "KM-2001"]
    assert first.json()["total"] == second.json()["total"] == 4


@pytest.mark.parametrize(
    "query",
    [{"kind": "gas"}, {"state": "broken"}, {"limit": "0"}, {"limit": "501"}, {"offset": "-1"}, {"search": "x" * 65}],
)
def test_a_search_the_schema_refuses_is_a_problem(api: LedgerApi, query: dict[str, str]) -> None:
    assert_problem(api.get("/meters", **query), 422, "validation_failed")


@pytest.mark.parametrize("role", [Role.AUDITOR, Role.REGULATOR, Role.CUSTOMER_SERVICE])
def test_every_reading_role_may_search_meters_and_a_device_may_not(fitted: LedgerApi, role: Role) -> None:
    assert serials(fitted.get("/meters", role=role, search="KM-1001")) == ["KM-1001"]
    assert_problem(fitted.get("/meters", role=Role.DEVICE), 403, "permission_denied")
    assert_problem(fitted.client.get("/meters"), 401, "unauthenticated")
