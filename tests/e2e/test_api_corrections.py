"""Voiding and correcting readings over HTTP: the readings and consumption follow, the history
keeps the originals, a correction that breaks a rule changes nothing, roles and bad input."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from decimal import Decimal
from itertools import pairwise
from typing import Any

import pytest

from application.authorization import Role, is_read_only
from tests.e2e.conftest import LedgerApi, assert_problem, days_from, shanghai_midnight

SERIAL, ACCOUNT = "HM-1", "WZ-0001"
# Readings at Shanghai midnight from 1 to 5 December: four whole business days, 1 to 4 December.
DAYS = days_from(date(2025, 12, 1), 5)
ENERGY = [Decimal(text) for text in ("10.000", "10.400", "11.000", "11.500", "11.900")]
VOLUME = [energy * 6 for energy in ENERGY]
# The reading of 3 December (index 2) is the one withdrawn or corrected.
THIRD = 2
THIRD_AT = shanghai_midnight(DAYS[THIRD])


def utc(day: date) -> str:
    """Shanghai midnight of ``day`` as the API returns it (16:00 UTC the day before)."""
    return (datetime.combine(day, datetime.min.time()) - timedelta(hours=8)).strftime("%Y-%m-%dT%H:%M:%SZ")


def post(api: LedgerApi, path: str, body: dict[str, Any], role: Role = Role.CLERK, language: str | None = None) -> Any:
    return api.client.post(path, json=body, headers=api.tokens.headers(role, language))


def void(
    api: LedgerApi, measured_at: str, reason: str = "read from the neighbour's meter", language: str | None = None
) -> Any:
    body = {"measured_at": measured_at, "reason": reason}
    return post(api, f"/meters/{SERIAL}/reading-voids", body, language=language)


def correct(
    api: LedgerApi, energy_gj: Decimal, volume_m3: Decimal | None = None, at: str = THIRD_AT, **changes: Any
) -> Any:
    corrected = {"measured_at": at, "energy_gj": str(energy_gj)}
    if volume_m3 is not None:
        corrected["volume_m3"] = str(volume_m3)
    body = {"measured_at": THIRD_AT, "corrected": corrected, "reason": "digits transposed when keyed in", **changes}
    return post(api, f"/meters/{SERIAL}/reading-corrections", body)


@pytest.fixture
def metered(api: LedgerApi, frozen_now: object) -> LedgerApi:
    api.household_with_meter(ACCOUNT, SERIAL)
    api.daily_readings(SERIAL, DAYS, ENERGY, volume_m3=VOLUME)
    return api


def readings(api: LedgerApi) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = api.get(f"/meters/{SERIAL}/readings").json()["items"]
    return items


def days(api: LedgerApi) -> dict[str, Decimal]:
    consumption = api.get(f"/households/{ACCOUNT}/consumption", query={"from": "2025-12-01", "to": "2025-12-10"})
    assert consumption.status_code == 200, consumption.text
    return {period["period"]: Decimal(period["energy_gj"]) for period in consumption.json()["periods"]}


def corrections(api: LedgerApi, role: Role = Role.CLERK, **params: Any) -> dict[str, Any]:
    response = api.get(f"/meters/{SERIAL}/corrections", role=role, **params)
    assert response.status_code == 200, response.text
    page: dict[str, Any] = response.json()
    return page


def increments(energies: list[Decimal]) -> list[Decimal]:
    return [later - earlier for earlier, later in pairwise(energies)]


# -- voids --------------------------------------------------------------------------------------


def test_a_voided_reading_leaves_one_interval_between_its_neighbours(metered: LedgerApi) -> None:
    before = days(metered)

    response = void(metered, THIRD_AT)

    assert response.status_code == 200
    listed = readings(metered)
    assert [reading["measured_at"] for reading in listed] == [utc(day) for day in reversed(DAYS) if day != DAYS[THIRD]]
    merged = next(reading["interval"] for reading in listed if reading["measured_at"] == utc(DAYS[THIRD + 1]))
    assert merged["start_at"] == utc(DAYS[THIRD - 1])
    assert Decimal(merged["energy_gj"]) == ENERGY[THIRD + 1] - ENERGY[THIRD - 1]
    assert Decimal(merged["volume_m3"]) == VOLUME[THIRD + 1] - VOLUME[THIRD - 1]
    # The merged interval spans two whole days: each takes half of it.
    half = (ENERGY[THIRD + 1] - ENERGY[THIRD - 1]) / 2
    daily = increments(ENERGY)
    assert days(metered) == {
        "2025-12-01": daily[0],
        "2025-12-02": half,
        "2025-12-03": half,
        "2025-12-04": daily[3],
    }
    assert sum(days(metered).values()) == sum(before.values()) == ENERGY[-1] - ENERGY[0]
    meter = metered.get(f"/meters/{SERIAL}").json()
    assert (meter["readings_count"], meter["last_reading"]["measured_at"]) == (len(DAYS) - 1, utc(DAYS[-1]))


def test_the_history_keeps_a_voided_readings_original(metered: LedgerApi) -> None:
    correlation_id = void(metered, THIRD_AT).json()["correlation_id"]

    history = corrections(metered, role=Role.AUDITOR)

    assert history["total"] == 1
    entry = history["items"][0]
    assert {name: entry[name] for name in entry if name != "voided_at"} == {
        "measured_at": utc(DAYS[THIRD]),
        "original_energy_gj": "11.000000",
        "original_volume_m3": "66.000000",
        "original_source": "mbus",
        "original_recorded_by": "e2e-device",
        "voided_by": "e2e-clerk",
        "reason": "read from the neighbour's meter",
        "correlation_id": correlation_id,
    }
    assert entry["voided_at"].endswith("Z")


def test_voiding_the_newest_and_the_oldest_reading_shortens_the_history(metered: LedgerApi) -> None:
    assert void(metered, shanghai_midnight(DAYS[-1])).status_code == 200
    assert void(metered, shanghai_midnight(DAYS[0])).status_code == 200

    daily = increments(ENERGY)
    assert days(metered) == {"2025-12-02": daily[1], "2025-12-03": daily[2]}
    meter = metered.get(f"/meters/{SERIAL}").json()
    assert meter["readings_count"] == len(DAYS) - 2
    assert (meter["last_reading"]["measured_at"], Decimal(meter["last_reading"]["energy_gj"])) == (
        utc(DAYS[-2]),
        ENERGY[-2],
    )
    oldest = readings(metered)[-1]
    assert (oldest["measured_at"], oldest["interval"]) == (utc(DAYS[1]), None)
    history = corrections(metered)
    assert [entry["measured_at"] for entry in history["items"]] == [utc(DAYS[0]), utc(DAYS[-1])]


def test_a_voided_time_is_free_for_a_new_reading(metered: LedgerApi) -> None:
    void(metered, THIRD_AT)

    resent = {
        "meter_serial": SERIAL,
        "measured_at": THIRD_AT,
        "energy_gj": "10.700",
        "volume_m3": "64.2",
        "source": "manual",
    }
    receipt = metered.submit([resent], role=Role.CLERK).json()

    assert receipt["accepted"] == 1
    assert days(metered)["2025-12-02"] == Decimal("10.700") - ENERGY[THIRD - 1]


def test_a_reading_older_than_the_window_is_not_voided_here(api: LedgerApi, frozen_now: object) -> None:
    api.household_with_meter(ACCOUNT, SERIAL)
    first = datetime.fromisoformat("2025-12-01T00:00:00+08:00")
    hourly = [
        {
            "meter_serial": SERIAL,
            "measured_at": (first + timedelta(hours=hour)).isoformat(),
            "energy_gj": str(Decimal("0.1") * hour),
            "source": "mbus",
        }
        for hour in range(101)  # one more than a meter remembers
    ]
    assert api.submit(hourly).json()["accepted"] == len(hourly)

    forgotten = void(api, hourly[0]["measured_at"], language="en")
    edge = void(api, hourly[1]["measured_at"])

    assert assert_problem(forgotten, 409, "conflict")["detail"] == (
        "The reading is older than the last 100 readings the meter keeps; it cannot be withdrawn."
    )
    assert assert_problem(edge, 409, "conflict")["detail"] == "该读数早于该表保留的最近 100 条读数，无法撤销。"
    assert api.get(f"/meters/{SERIAL}").json()["readings_count"] == len(hourly)


# -- corrections --------------------------------------------------------------------------------


def test_a_corrected_reading_replaces_the_original_in_readings_and_consumption(metered: LedgerApi) -> None:
    corrected_energy, corrected_volume = Decimal("10.800"), Decimal("64.800")

    response = correct(metered, corrected_energy, corrected_volume)

    assert response.status_code == 200, response.text
    correlation_id = response.json()["correlation_id"]
    listed = {reading["measured_at"]: reading for reading in readings(metered)}
    assert len(listed) == len(DAYS)
    third, fourth = listed[utc(DAYS[THIRD])], listed[utc(DAYS[THIRD + 1])]
    assert (Decimal(third["energy_gj"]), Decimal(third["volume_m3"]), third["source"]) == (
        corrected_energy,
        corrected_volume,
        "manual",
    )
    assert (third["recorded_by"], third["batch_id"]) == ("e2e-clerk", correlation_id)
    assert Decimal(third["interval"]["energy_gj"]) == corrected_energy - ENERGY[THIRD - 1]
    assert (fourth["interval"]["start_at"], Decimal(fourth["interval"]["energy_gj"])) == (
        utc(DAYS[THIRD]),
        ENERGY[THIRD + 1] - corrected_energy,
    )
    daily = increments(ENERGY)
    assert days(metered) == {
        "2025-12-01": daily[0],
        "2025-12-02": corrected_energy - ENERGY[THIRD - 1],
        "2025-12-03": ENERGY[THIRD + 1] - corrected_energy,
        "2025-12-04": daily[3],
    }
    entry = corrections(metered)["items"][0]
    assert (entry["original_energy_gj"], entry["original_source"], entry["correlation_id"]) == (
        "11.000000",
        "mbus",
        correlation_id,
    )
    assert metered.get(f"/meters/{SERIAL}").json()["readings_count"] == len(DAYS)


def test_a_reading_corrected_twice_keeps_both_originals_newest_first(metered: LedgerApi) -> None:
    assert correct(metered, Decimal("10.800"), Decimal("64.800")).status_code == 200
    assert correct(metered, Decimal("10.900"), Decimal("65.400")).status_code == 200

    history = corrections(metered)
    first_page = corrections(metered, limit=1)
    second_page = corrections(metered, limit=1, offset=1)

    assert [(entry["original_energy_gj"], entry["original_recorded_by"]) for entry in history["items"]] == [
        ("10.800000", "e2e-clerk"),
        ("11.000000", "e2e-device"),
    ]
    assert [entry["original_volume_m3"] for entry in history["items"]] == ["64.800000", "66.000000"]
    assert (first_page["total"], len(first_page["items"]), second_page["items"]) == (2, 1, history["items"][1:])
    assert days(metered)["2025-12-03"] == ENERGY[THIRD + 1] - Decimal("10.900")


def test_a_reading_keyed_at_the_wrong_time_is_moved(metered: LedgerApi) -> None:
    # The reading of 3 December belongs at 06:00: 10.400 → 11.000 then spans 30 hours (24 of
    # them on 2 December), and 11.000 → 11.500 the remaining 18 hours of 3 December.
    moved_at = "2025-12-03T06:00:00+08:00"

    assert correct(metered, ENERGY[THIRD], VOLUME[THIRD], at=moved_at).status_code == 200

    assert [reading["measured_at"] for reading in readings(metered)][1:4] == [
        utc(DAYS[THIRD + 1]),
        "2025-12-02T22:00:00Z",
        utc(DAYS[THIRD - 1]),
    ]
    earlier = ENERGY[THIRD] - ENERGY[THIRD - 1]
    assert days(metered)["2025-12-02"] == earlier * 24 / 30
    assert days(metered)["2025-12-03"] == earlier * 6 / 30 + ENERGY[THIRD + 1] - ENERGY[THIRD]


@pytest.mark.parametrize(
    ("energy_gj", "at", "reason"),
    [
        ("11.600", THIRD_AT, "inconsistent_with_next"),
        ("10.300", THIRD_AT, "register_backwards"),
        ("11.000", "2025-12-11T00:00:00+08:00", "future_timestamp"),
    ],
)
def test_a_correction_breaking_a_rule_changes_nothing(metered: LedgerApi, energy_gj: str, at: str, reason: str) -> None:
    before = (readings(metered), days(metered), metered.get(f"/meters/{SERIAL}").json())

    problem = assert_problem(correct(metered, Decimal(energy_gj), at=at), 422, "reading_rejected")

    assert problem["params"]["reason"] == reason
    assert (readings(metered), days(metered), metered.get(f"/meters/{SERIAL}").json()) == before
    assert corrections(metered)["total"] == 0


# -- what is not found, not allowed, not well formed --------------------------------------------


def test_withdrawing_a_reading_that_does_not_exist_is_not_found(metered: LedgerApi) -> None:
    not_a_reading = "2025-12-03T01:00:00+08:00"

    voided = assert_problem(void(metered, not_a_reading, language="en"), 404, "not_found")
    corrected = assert_problem(correct(metered, ENERGY[THIRD], measured_at=not_a_reading), 404, "not_found")
    no_meter = post(metered, "/meters/NOPE/reading-voids", {"measured_at": THIRD_AT, "reason": "x"})

    assert voided["params"]["kind"] == corrected["params"]["kind"] == "reading"
    assert voided["detail"].startswith("The meter has no reading at 2025-12-02")
    assert assert_problem(no_meter, 404, "not_found")["params"] == {"kind": "meter", "key": "NOPE"}
    assert_problem(metered.get("/meters/NOPE/corrections"), 404, "not_found")
    assert len(readings(metered)) == len(DAYS)


def test_withdrawals_need_a_reason_and_times_with_a_zone(metered: LedgerApi) -> None:
    path = f"/meters/{SERIAL}/reading-voids"
    no_reason = post(metered, path, {"measured_at": THIRD_AT})
    blank_reason = void(metered, THIRD_AT, reason="   ")
    naive = void(metered, "2025-12-03T00:00:00")
    naive_correction = correct(metered, ENERGY[THIRD], at="2025-12-03T00:00:00")
    unknown_field = correct(metered, ENERGY[THIRD], note="keyed by Wang")

    assert [(e["field"], e["code"]) for e in assert_problem(no_reason, 422, "validation_failed")["errors"]] == [
        ("reason", "missing")
    ]
    assert assert_problem(blank_reason, 422, "invalid_input")["errors"][0] == {
        "field": "reason",
        "location": "body",
        "code": "reason_required",
        "message": "此项变更必须填写原因。",
    }
    assert assert_problem(naive, 422, "validation_failed")["errors"][0]["code"] == "timezone_aware"
    assert assert_problem(naive_correction, 422, "validation_failed")["errors"][0]["field"] == "corrected.measured_at"
    assert assert_problem(unknown_field, 422, "validation_failed")["errors"][0]["code"] == "extra_forbidden"
    assert len(readings(metered)) == len(DAYS)
    assert corrections(metered)["total"] == 0


@pytest.mark.parametrize("role", [Role.AUDITOR, Role.REGULATOR, Role.DEVICE])
def test_only_roles_that_manage_meters_withdraw_readings(metered: LedgerApi, role: Role) -> None:
    body = {"measured_at": THIRD_AT, "reason": "wrong flat"}
    correction = {**body, "corrected": {"measured_at": THIRD_AT, "energy_gj": "10.800"}}

    for path, payload in (
        (f"/meters/{SERIAL}/reading-voids", body),
        (f"/meters/{SERIAL}/reading-corrections", correction),
    ):
        problem = assert_problem(post(metered, path, payload, role=role), 403, "permission_denied")
        # A read-only role is refused at the door, for the method (api/read_only.py).
        refused = {"method": "POST"} if is_read_only(role) else {"permission": "manage_meters"}
        assert problem["params"] == {"role": role.value, **refused}

    assert len(readings(metered)) == len(DAYS)
    history = metered.get(f"/meters/{SERIAL}/corrections", role=role)
    if role is Role.DEVICE:
        assert_problem(history, 403, "permission_denied")
    else:
        assert history.json()["total"] == 0


def test_customer_service_may_withdraw_a_reading(metered: LedgerApi) -> None:
    response = post(
        metered, f"/meters/{SERIAL}/reading-voids", {"measured_at": THIRD_AT, "reason": "x"}, Role.CUSTOMER_SERVICE
    )

    assert response.status_code == 200
    assert corrections(metered)["items"][0]["voided_by"] == "e2e-customer_service"
