"""Consumption read models per household, building and community, and the heat balance, on each backend.

A small network, readings in UTC (local midnight in Shanghai is 16:00 UTC):

| meter | household, place    | readings                               | GJ  | per local day                  |
|-------|---------------------|----------------------------------------|-----|--------------------------------|
| M-1   | WZ-1, 碧桂园 / 1     | 1 Nov 12:00 10.000 → 20:00 10.800      | 0.8 | 4 h + 4 h: 1 Nov 0.4, 2 Nov 0.4|
| M-2   | WZ-2, 碧桂园 / 1     | 1 Nov 02:00 5.000 → 06:00 5.600        | 0.6 | 1 Nov 0.6                      |
| M-3   | WZ-3, 碧桂园 / 2     | 1 Nov 16:00 1.000 → 2 Nov 16:00 2.200  | 1.2 | 2 Nov 1.2 (one whole day)      |
| M-4   | WZ-4, 阅水秦韵 / 7   | 1 Nov 10:00 3.000 → 2 Nov 10:00 3.900  | 0.9 | 6 h + 18 h: 0.225 and 0.675    |
| M-5   | WZ-5, 碧桂园 / 2     | 30 Nov 12:00 1.000 → 20:00 1.800       | 0.8 | 30 Nov 0.4, 1 Dec 0.4          |
| B-1   | building, 碧桂园 / 1 | 1 Nov 00:00 100.0 → 2 Nov 00:00 101.5  | 1.5 | 16 h + 8 h: 1.0 and 0.5        |
"""

from datetime import date, datetime
from decimal import Decimal

import pytest
from sqlalchemy import select

from application.authorization import SYSTEM
from domain import ids
from domain.values import MeterKind
from infrastructure.container import Container
from projections.queries import ConsumptionTotal, Granularity, LedgerQueries, PeriodConsumption
from projections.tables import meter_readings
from tests.strategies import SEASON_START, UTC, commission_meter, hours_after, household_with_meter, item

D = Decimal
NOV_1, NOV_2, NOV_30, DEC_1 = date(2025, 11, 1), date(2025, 11, 2), date(2025, 11, 30), date(2025, 12, 1)
SEASON = (date(2025, 11, 1), date(2026, 3, 31))
DAY, MONTH = Granularity.DAY, Granularity.MONTH
HOUSEHOLD, BUILDING = MeterKind.HOUSEHOLD, MeterKind.BUILDING
NOV_30_NOON = datetime(2025, 11, 30, 12, tzinfo=UTC)


def period(first_day: date, energy_gj: str, volume_m3: str | None = None) -> PeriodConsumption:
    """A period's sums; the volume is None where no meter in it reports a volume register (not zero flow)."""
    return PeriodConsumption(first_day, D(energy_gj), None if volume_m3 is None else D(volume_m3))


@pytest.fixture
def network(container: Container) -> LedgerQueries:
    ledger = container.ledger
    for number, (community, building) in enumerate(
        [("碧桂园", "1"), ("碧桂园", "1"), ("碧桂园", "2"), ("阅水秦韵", "7"), ("碧桂园", "2")], start=1
    ):
        household_with_meter(ledger, f"WZ-{number}", f"M-{number}", community=community, building=building)
    commission_meter(ledger, "B-1", kind=BUILDING, community="碧桂园", building="1")
    readings = [
        ("M-1", hours_after(SEASON_START, 12), "10.000", "1.0"),
        ("M-1", hours_after(SEASON_START, 20), "10.800", "1.8"),
        ("M-2", hours_after(SEASON_START, 2), "5.000", None),
        ("M-2", hours_after(SEASON_START, 6), "5.600", None),
        ("M-3", hours_after(SEASON_START, 16), "1.000", None),
        ("M-3", hours_after(SEASON_START, 40), "2.200", None),
        ("M-4", hours_after(SEASON_START, 10), "3.000", None),
        ("M-4", hours_after(SEASON_START, 34), "3.900", None),
        ("M-5", NOV_30_NOON, "1.000", None),
        ("M-5", hours_after(NOV_30_NOON, 8), "1.800", None),
        ("B-1", SEASON_START, "100.000", None),
        ("B-1", hours_after(SEASON_START, 24), "101.500", None),
    ]
    items = [item(serial, moment, energy, volume_m3=volume) for serial, moment, energy, volume in readings]
    assert ledger.record_readings(SYSTEM, items).accepted == len(readings)
    return LedgerQueries(container.engine)


def test_a_households_consumption_per_day(network: LedgerQueries) -> None:
    # M-1 also moved 0.8 m³ (1.0 → 1.8): 0.4 m³ a day, like its energy.
    assert network.household_consumption(ids.household_id("WZ-1"), *SEASON, DAY) == [
        period(NOV_1, "0.4", "0.4"),
        period(NOV_2, "0.4", "0.4"),
    ]
    assert network.household_consumption(ids.household_id("WZ-4"), *SEASON, DAY) == [
        period(NOV_1, "0.225"),
        period(NOV_2, "0.675"),
    ]


def test_a_households_consumption_per_month_follows_the_local_calendar(network: LedgerQueries) -> None:
    # M-5: 20:00 on 30 Nov to 04:00 on 1 Dec local, although both readings are on 30 Nov in UTC.
    assert network.household_consumption(ids.household_id("WZ-5"), *SEASON, MONTH) == [
        period(NOV_1, "0.4"),
        period(DEC_1, "0.4"),
    ]


def test_a_households_total_counts_only_the_days_asked_for(network: LedgerQueries) -> None:
    wz_1 = ids.household_id("WZ-1")
    assert network.household_total(wz_1, *SEASON) == ConsumptionTotal(D("0.8"), D("0.8"))
    assert network.household_total(wz_1, NOV_2, NOV_2) == ConsumptionTotal(D("0.4"), D("0.4"))
    assert network.household_total(wz_1, DEC_1, DEC_1) == ConsumptionTotal(D(0), D(0))


def test_a_buildings_household_meters_per_day(network: LedgerQueries) -> None:
    # 碧桂园 / 1: 1 Nov 0.4 (M-1) + 0.6 (M-2) = 1.0; 2 Nov 0.4 (M-1).
    assert network.place_consumption("碧桂园", "1", HOUSEHOLD, *SEASON, DAY) == [
        period(NOV_1, "1.0", "0.4"),
        period(NOV_2, "0.4", "0.4"),
    ]


def test_a_community_per_day_and_per_month(network: LedgerQueries) -> None:
    # 碧桂园: 1 Nov 0.4 + 0.6 = 1.0; 2 Nov 0.4 + 1.2 = 1.6; 30 Nov 0.4; 1 Dec 0.4 (M-5).
    assert network.place_consumption("碧桂园", None, HOUSEHOLD, *SEASON, DAY) == [
        period(NOV_1, "1.0", "0.4"),
        period(NOV_2, "1.6", "0.4"),
        period(NOV_30, "0.4"),
        period(DEC_1, "0.4"),
    ]
    # November 1.0 + 1.6 + 0.4 = 3.0; December 0.4.
    assert network.place_consumption("碧桂园", None, HOUSEHOLD, *SEASON, MONTH) == [
        period(NOV_1, "3.0", "0.8"),
        period(DEC_1, "0.4"),
    ]
    assert network.place_consumption("阅水秦韵", None, HOUSEHOLD, *SEASON, MONTH) == [period(NOV_1, "0.9")]


def test_the_heat_balance_of_a_building(network: LedgerQueries) -> None:
    # Building meter 1.0 + 0.5 = 1.5 GJ against households 0.8 + 0.6 = 1.4 GJ: 0.1 GJ lost in the building.
    building = network.place_consumption("碧桂园", "1", BUILDING, *SEASON, MONTH)
    households = network.place_consumption("碧桂园", "1", HOUSEHOLD, *SEASON, MONTH)
    assert (building, households) == ([period(NOV_1, "1.5")], [period(NOV_1, "1.4", "0.8")])
    assert building[0].energy_gj - households[0].energy_gj == D("0.1")


def test_a_meter_removed_from_its_household_adds_nothing_to_the_building(
    network: LedgerQueries, container: Container
) -> None:
    # M-2 is detached at 06:00 and keeps reading: 5.600 → 5.900 belongs to nobody.
    container.ledger.detach_meter(SYSTEM, "M-2", hours_after(SEASON_START, 6), "meter removed")
    container.ledger.record_readings(SYSTEM, [item("M-2", hours_after(SEASON_START, 7), "5.900")])
    assert network.place_consumption("碧桂园", "1", HOUSEHOLD, *SEASON, DAY) == [
        period(NOV_1, "1.0", "0.4"),
        period(NOV_2, "0.4", "0.4"),
    ]
    assert network.household_total(ids.household_id("WZ-2"), *SEASON) == ConsumptionTotal(D("0.6"), D(0))


def test_an_empty_range_has_no_periods(network: LedgerQueries) -> None:
    assert network.place_consumption("碧桂园", None, HOUSEHOLD, date(2026, 1, 1), date(2026, 1, 31), DAY) == []


def test_the_largest_values_the_domain_accepts_fit_the_read_models(container: Container) -> None:
    # Registers below 10⁹ with 9 decimals and instants below 10⁹ with 3 decimals are stored exactly
    # as 64-bit integers; a value that did not fit would stop the projection for good.
    commission_meter(container.ledger, "S-1", kind=MeterKind.SUBSTATION_PRIMARY, community="碧桂园", building="站1")
    largest = {
        "volume_m3": "999999999.999999999",
        "operating_hours": "999999999.999",
        "flow_temperature_c": "249.999",
        "return_temperature_c": "-50",
        "flow_rate_m3_h": "-999999999.999",
        "power_kw": "999999999.999",
    }
    first = item("S-1", SEASON_START, "999999000.000000001", volume_m3="999999000", operating_hours="999999000")
    last = item("S-1", hours_after(SEASON_START, 10), "999999999.999999999", **largest)
    assert container.ledger.record_readings(SYSTEM, [first, last]).accepted == 2
    assert container.runner.position() == container.runner.max_notification_id()
    columns = meter_readings.c
    query = select(
        columns.energy_gj,
        columns.volume_m3,
        columns.operating_hours,
        columns.flow_temperature_c,
        columns.return_temperature_c,
        columns.flow_rate_m3_h,
        columns.power_kw,
    ).order_by(columns.measured_at.desc())
    with container.engine.connect() as connection:
        newest = tuple(connection.execute(query).first() or ())
    assert newest == (
        D("999999999.999999999"),
        D("999999999.999999999"),
        D("999999999.999"),
        D("249.999"),
        D("-50"),
        D("-999999999.999"),
        D("999999999.999"),
    )
    # 999999999.999999999 − 999999000.000000001 = 999.999999998 GJ in 10 h (a substation may do 5000).
    queries = LedgerQueries(container.engine)
    assert queries.place_consumption("碧桂园", "站1", MeterKind.SUBSTATION_PRIMARY, *SEASON, MONTH) == [
        period(NOV_1, "999.999999998", "999.999999999"),
    ]
