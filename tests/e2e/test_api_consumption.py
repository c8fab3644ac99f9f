"""Consumption over HTTP: a household's season to date, and days and months of households,
buildings and communities, with sums derived from the readings the test sends."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import ROUND_HALF_UP, Decimal

import pytest

from tests.e2e.conftest import TODAY, LedgerApi, assert_problem, cumulative, days_from

# Readings at Shanghai midnight from 28 November to 3 December: five whole business days,
# three in November and two in December.
READING_DAYS = days_from(date(2025, 11, 28), 6)
INTERVAL_DAYS = READING_DAYS[:-1]
NOVEMBER, DECEMBER = slice(0, 3), slice(3, 5)
EXACT_TEXT = re.compile(r"-?\d+\.\d{6,}")


@dataclass(frozen=True)
class Meter:
    serial: str
    account_number: str | None
    community: str
    building: str
    daily_energy_gj: list[Decimal]

    @property
    def daily_volume_m3(self) -> list[Decimal]:
        return [energy * 6 for energy in self.daily_energy_gj]


def _energies(*texts: str) -> list[Decimal]:
    return [Decimal(text) for text in texts]


METERS = [
    Meter("HM-101", "WZ-101", "碧桂园", "1", _energies("0.412", "0.398", "0.405", "0.420", "0.431")),
    Meter("HM-102", "WZ-102", "碧桂园", "1", _energies("0.350", "0.362", "0.371", "0.344", "0.359")),
    Meter("BM-1", None, "碧桂园", "1", _energies("0.800", "0.790", "0.805", "0.801", "0.830")),
    Meter("HM-201", "WZ-201", "碧桂园", "2", _energies("0.300", "0.310", "0.320", "0.330", "0.340")),
    Meter("HM-901", "CHW-901", "长河湾", "1", _energies("0.500", "0.510", "0.520", "0.530", "0.540")),
]
HEATED_AREA_M2 = Decimal("90.00")


@pytest.fixture
def metered(api: LedgerApi, frozen_now: object) -> LedgerApi:
    """Two communities; building 碧桂园 1 has two flats and a building meter."""
    for meter in METERS:
        if meter.account_number is None:
            response = api.commission_meter(
                meter.serial, kind="building", community=meter.community, building=meter.building
            )
            assert response.status_code == 201
        else:
            flat = meter.serial[-3:]
            api.household_with_meter(
                meter.account_number, meter.serial, community=meter.community, building=meter.building, flat=flat
            )
        api.daily_readings(
            meter.serial,
            READING_DAYS,
            cumulative(Decimal("100.000"), meter.daily_energy_gj),
            volume_m3=cumulative(Decimal("500.000"), meter.daily_volume_m3),
        )
    return api


def _meter(serial: str) -> Meter:
    return next(meter for meter in METERS if meter.serial == serial)


def _daily_sum(meters: list[Meter], index: int) -> Decimal:
    return sum((meter.daily_energy_gj[index] for meter in meters), Decimal(0))


def _households_of(community: str, building: str | None = None) -> list[Meter]:
    return [
        meter
        for meter in METERS
        if meter.account_number and meter.community == community and building in (None, meter.building)
    ]


def _building_meters_of(community: str, building: str | None = None) -> list[Meter]:
    return [
        meter
        for meter in METERS
        if not meter.account_number and meter.community == community and building in (None, meter.building)
    ]


def _energies_of(periods: list[dict[str, str]], key: str = "energy_gj") -> list[Decimal]:
    assert all(EXACT_TEXT.fullmatch(period[key]) for period in periods), periods
    return [Decimal(period[key]) for period in periods]


def test_the_household_shows_its_season_to_date(metered: LedgerApi) -> None:
    meter = _meter("HM-101")

    household = metered.get("/households/WZ-101").json()

    season = household["season"]
    energy = sum(meter.daily_energy_gj, Decimal(0))
    assert (season["season"], season["first_day"], season["through_day"]) == (
        "2025-2026",
        "2025-11-01",
        TODAY.isoformat(),
    )
    assert Decimal(season["energy_gj"]) == energy
    assert Decimal(season["volume_m3"]) == sum(meter.daily_volume_m3, Decimal(0))
    per_area = (energy / HEATED_AREA_M2).quantize(Decimal("0.000001"), rounding=ROUND_HALF_UP)
    assert season["energy_per_heated_area_gj_per_m2"] == str(per_area)
    assert household["meters"][0]["serial"] == "HM-101"
    assert (
        Decimal(household["meters"][0]["last_reading"]["energy_gj"])
        == cumulative(Decimal("100.000"), meter.daily_energy_gj)[-1]
    )


def test_a_household_by_day_defaults_to_the_season_to_date(metered: LedgerApi) -> None:
    meter = _meter("HM-101")

    consumption = metered.get("/households/WZ-101/consumption").json()

    assert (consumption["from_day"], consumption["to_day"], consumption["granularity"]) == (
        "2025-11-01",
        TODAY.isoformat(),
        "day",
    )
    assert [period["period"] for period in consumption["periods"]] == [day.isoformat() for day in INTERVAL_DAYS]
    assert _energies_of(consumption["periods"]) == meter.daily_energy_gj
    assert [Decimal(period["volume_m3"]) for period in consumption["periods"]] == meter.daily_volume_m3
    assert Decimal(consumption["energy_gj"]) == sum(meter.daily_energy_gj, Decimal(0))


def test_a_household_by_month_sums_its_days(metered: LedgerApi) -> None:
    meter = _meter("HM-102")

    consumption = metered.get("/households/WZ-102/consumption", granularity="month").json()

    assert [(period["period"], period["first_day"], period["last_day"]) for period in consumption["periods"]] == [
        ("2025-11", "2025-11-01", "2025-11-30"),
        ("2025-12", "2025-12-01", TODAY.isoformat()),
    ]
    expected = [sum(meter.daily_energy_gj[NOVEMBER], Decimal(0)), sum(meter.daily_energy_gj[DECEMBER], Decimal(0))]
    assert _energies_of(consumption["periods"]) == expected


def test_an_explicit_range_counts_only_its_days(metered: LedgerApi) -> None:
    meter = _meter("HM-101")
    chosen = slice(1, 4)  # 29 November to 1 December

    by_day = metered.get("/households/WZ-101/consumption", query={"from": "2025-11-29", "to": "2025-12-01"}).json()
    by_month = metered.get(
        "/households/WZ-101/consumption", granularity="month", query={"from": "2025-11-29", "to": "2025-12-01"}
    ).json()

    assert _energies_of(by_day["periods"]) == meter.daily_energy_gj[chosen]
    assert [(period["first_day"], period["last_day"]) for period in by_month["periods"]] == [
        ("2025-11-29", "2025-11-30"),
        ("2025-12-01", "2025-12-01"),
    ]
    assert _energies_of(by_month["periods"]) == [
        sum(meter.daily_energy_gj[1:3], Decimal(0)),
        meter.daily_energy_gj[3],
    ]


def test_a_building_shows_its_households_beside_its_building_meter(metered: LedgerApi) -> None:
    households, building_meters = _households_of("碧桂园", "1"), _building_meters_of("碧桂园", "1")

    consumption = metered.get("/buildings/碧桂园/1/consumption").json()

    assert (consumption["community"], consumption["building"]) == ("碧桂园", "1")
    periods = consumption["periods"]
    assert _energies_of(periods, "households_energy_gj") == [_daily_sum(households, i) for i in range(5)]
    assert _energies_of(periods, "building_meters_energy_gj") == [_daily_sum(building_meters, i) for i in range(5)]
    totals = consumption["totals"]
    households_total = sum((_daily_sum(households, i) for i in range(5)), Decimal(0))
    building_total = sum((_daily_sum(building_meters, i) for i in range(5)), Decimal(0))
    assert Decimal(totals["households_energy_gj"]) == households_total
    assert Decimal(totals["building_meters_energy_gj"]) == building_total
    assert Decimal(totals["difference_energy_gj"]) == building_total - households_total
    loss_percent = ((building_total - households_total) / building_total * 100).quantize(
        Decimal("0.01"), rounding=ROUND_HALF_UP
    )
    assert totals["difference_percent"] == str(loss_percent)


def test_a_building_by_month(metered: LedgerApi) -> None:
    households = _households_of("碧桂园", "1")

    periods = metered.get("/buildings/碧桂园/1/consumption", granularity="month").json()["periods"]

    assert [period["period"] for period in periods] == ["2025-11", "2025-12"]
    assert _energies_of(periods, "households_energy_gj") == [
        sum((_daily_sum(households, i) for i in range(3)), Decimal(0)),
        sum((_daily_sum(households, i) for i in range(3, 5)), Decimal(0)),
    ]


def test_a_community_sums_all_its_buildings_and_nothing_else(metered: LedgerApi) -> None:
    households, building_meters = _households_of("碧桂园"), _building_meters_of("碧桂园")
    assert {meter.building for meter in households} == {"1", "2"}

    by_day = metered.get("/communities/碧桂园/consumption").json()
    by_month = metered.get("/communities/碧桂园/consumption", granularity="month").json()

    assert by_day["building"] is None
    assert _energies_of(by_day["periods"], "households_energy_gj") == [_daily_sum(households, i) for i in range(5)]
    assert _energies_of(by_day["periods"], "building_meters_energy_gj") == [
        _daily_sum(building_meters, i) for i in range(5)
    ]
    assert _energies_of(by_month["periods"], "households_energy_gj") == [
        sum((_daily_sum(households, i) for i in range(3)), Decimal(0)),
        sum((_daily_sum(households, i) for i in range(3, 5)), Decimal(0)),
    ]
    other = metered.get("/buildings/长河湾/1/consumption").json()
    assert Decimal(other["totals"]["households_energy_gj"]) == sum(_meter("HM-901").daily_energy_gj, Decimal(0))
    assert other["totals"]["difference_percent"] is None


def test_a_detached_meter_stops_counting_for_its_household_and_building(metered: LedgerApi) -> None:
    detachment = {"detached_at": "2025-12-03T00:00:00+08:00", "reason": "replaced"}
    assert (
        metered.client.post("/meters/HM-101/detachments", json=detachment, headers=metered.clerk()).status_code == 200
    )
    later = {"meter_serial": "HM-101", "measured_at": "2025-12-04T00:00:00+08:00", "source": "mbus"}
    last_register = cumulative(Decimal("100.000"), _meter("HM-101").daily_energy_gj)[-1]
    assert metered.submit([{**later, "energy_gj": str(last_register + Decimal("0.5"))}]).json()["accepted"] == 1

    household = metered.get("/households/WZ-101/consumption").json()
    building = metered.get("/buildings/碧桂园/1/consumption").json()

    assert Decimal(household["energy_gj"]) == sum(_meter("HM-101").daily_energy_gj, Decimal(0))
    assert Decimal(building["totals"]["households_energy_gj"]) == sum(
        (_daily_sum(_households_of("碧桂园", "1"), i) for i in range(5)), Decimal(0)
    )


def test_ranges_are_bounded(metered: LedgerApi) -> None:
    path = "/households/WZ-101/consumption"

    reversed_range = assert_problem(
        metered.get(path, query={"from": "2025-12-02", "to": "2025-12-01"}), 422, "invalid_input"
    )
    first, longest = date(2024, 11, 1), 400
    just_fits = {"from": first.isoformat(), "to": (first + timedelta(days=longest - 1)).isoformat()}
    one_more = {"from": first.isoformat(), "to": (first + timedelta(days=longest)).isoformat()}
    too_long = assert_problem(metered.get(path, query=one_more), 422, "invalid_input")
    by_month = metered.get(path, granularity="month", query=one_more)

    assert reversed_range["errors"][0]["location"] == "query"
    assert too_long["params"] == {"field": "to", "granularity": "day", "limit": longest, "days": longest + 1}
    assert too_long["detail"] == f"按日查询最多 {longest} 天，所选范围有 {longest + 1} 天。"
    assert by_month.status_code == 200
    assert metered.get(path, query=just_fits).status_code == 200
    assert_problem(metered.get(path, granularity="week"), 422, "validation_failed")


def test_an_unknown_place_is_not_found(metered: LedgerApi) -> None:
    assert_problem(metered.get("/buildings/碧桂园/99/consumption"), 404, "not_found")
    problem = assert_problem(metered.get("/communities/阅水秦韵/consumption"), 404, "not_found")
    assert problem["params"] == {"kind": "community", "key": "阅水秦韵"}


@pytest.mark.parametrize("serial", ["HM-102", "BM-1"])
def test_a_meter_by_month_sums_its_own_days(metered: LedgerApi, serial: str) -> None:
    meter = _meter(serial)

    consumption = metered.get(f"/meters/{serial}/consumption", granularity="month").json()

    assert consumption["serial"] == serial
    assert [period["period"] for period in consumption["periods"]] == ["2025-11", "2025-12"]
    assert _energies_of(consumption["periods"]) == [
        sum(meter.daily_energy_gj[NOVEMBER], Decimal(0)),
        sum(meter.daily_energy_gj[DECEMBER], Decimal(0)),
    ]
    assert Decimal(consumption["energy_gj"]) == sum(meter.daily_energy_gj, Decimal(0))


def test_an_unknown_meter_has_no_consumption(metered: LedgerApi) -> None:
    assert_problem(metered.get("/meters/NOPE/consumption"), 404, "not_found")


def test_a_meter_without_a_volume_register_shows_no_volume_not_an_error(api: LedgerApi, frozen_now: object) -> None:
    api.household_with_meter("WZ-0009", "HM-9")
    api.daily_readings("HM-9", READING_DAYS, cumulative(Decimal("1.000"), _meter("HM-101").daily_energy_gj))

    consumption = api.get("/households/WZ-0009/consumption", granularity="month")

    assert consumption.status_code == 200, consumption.text
    body = consumption.json()
    assert Decimal(body["energy_gj"]) == sum(_meter("HM-101").daily_energy_gj, Decimal(0))
    assert body["volume_m3"] is None and body["periods"][0]["volume_m3"] is None
