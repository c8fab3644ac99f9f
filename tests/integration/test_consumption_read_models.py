"""Consumption read models per household, building and community, and the heat balance, on each backend.

A small network on 1 November 2025, readings in UTC (local midnight is 16:00 UTC):

| meter | household, place      | readings                             | GJ  | per local day                    |
|-------|-----------------------|--------------------------------------|-----|----------------------------------|
| M-1   | WZ-1, 碧桂园 / 1       | 1 Nov 12:00 10.000 → 20:00 10.800    | 0.8 | 4 h + 4 h: 1 Nov 0.4, 2 Nov 0.4  |
| M-2   | WZ-2, 碧桂园 / 1       | 1 Nov 02:00 5.000 → 06:00 5.600      | 0.6 | 1 Nov 0.6                        |
| M-3   | WZ-3, 碧桂园 / 2       | 1 Nov 16:00 1.000 → 2 Nov 16:00 2.2  | 1.2 | 2 Nov 1.2 (one whole local day)  |
| M-4   | WZ-4, 阅水秦韵 / 7     | 1 Nov 10:00 3.000 → 2 Nov 10:00 3.9  | 0.9 | 6 h + 18 h: 0.225 and 0.675      |
| B-1   | building, 碧桂园 / 1   | 1 Nov 00:00 100.0 → 2 Nov 00:00 101.5 | 1.5 | 16 h + 8 h: 1.0 and 0.5         |
"""

from datetime import date
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import func, select

from application.authorization import SYSTEM
from domain import ids
from domain.values import MeterKind
from infrastructure.container import Container
from projections.tables import daily_consumption, meter_readings
from tests.strategies import SEASON_START, commission_meter, hours_after, household_with_meter, item

D = Decimal
NOV_1, NOV_2 = date(2025, 11, 1), date(2025, 11, 2)
C = daily_consumption.c


@pytest.fixture
def network(container: Container) -> Container:
    ledger = container.ledger
    household_with_meter(ledger, "WZ-1", "M-1", community="碧桂园", building="1")
    household_with_meter(ledger, "WZ-2", "M-2", community="碧桂园", building="1")
    household_with_meter(ledger, "WZ-3", "M-3", community="碧桂园", building="2")
    household_with_meter(ledger, "WZ-4", "M-4", community="阅水秦韵", building="7")
    commission_meter(ledger, "B-1", kind=MeterKind.BUILDING, community="碧桂园", building="1")
    report = ledger.record_readings(
        SYSTEM,
        [
            item("M-1", hours_after(SEASON_START, 12), "10.000"),
            item("M-1", hours_after(SEASON_START, 20), "10.800"),
            item("M-2", hours_after(SEASON_START, 2), "5.000"),
            item("M-2", hours_after(SEASON_START, 6), "5.600"),
            item("M-3", hours_after(SEASON_START, 16), "1.000"),
            item("M-3", hours_after(SEASON_START, 40), "2.200"),
            item("M-4", hours_after(SEASON_START, 10), "3.000"),
            item("M-4", hours_after(SEASON_START, 34), "3.900"),
            item("B-1", SEASON_START, "100.000"),
            item("B-1", hours_after(SEASON_START, 24), "101.500"),
        ],
    )
    assert report.accepted == 10
    return container


def grouped(container: Container, keys: list[Any], *where: Any) -> dict[tuple[Any, ...], Decimal]:
    query = select(*keys, func.sum(C.energy_gj)).where(*where).group_by(*keys)
    with container.engine.connect() as connection:
        return {tuple(row[:-1]): row[-1] for row in connection.execute(query)}


def test_a_households_consumption_per_day(network: Container) -> None:
    assert grouped(network, [C.day], C.household_id == ids.household_id("WZ-1")) == {
        (NOV_1,): D("0.4"), (NOV_2,): D("0.4"),
    }
    assert grouped(network, [C.day], C.household_id == ids.household_id("WZ-4")) == {
        (NOV_1,): D("0.225"), (NOV_2,): D("0.675"),
    }


def test_every_household_is_charged_its_own_meter_only(network: Container) -> None:
    # 0.8, 0.6, 1.2, 0.9 GJ; the building meter belongs to no household.
    assert grouped(network, [C.household_id], C.household_id.is_not(None)) == {
        (ids.household_id("WZ-1"),): D("0.8"),
        (ids.household_id("WZ-2"),): D("0.6"),
        (ids.household_id("WZ-3"),): D("1.2"),
        (ids.household_id("WZ-4"),): D("0.9"),
    }


def test_a_buildings_household_meters_per_day(network: Container) -> None:
    # 碧桂园 / 1: 1 Nov 0.4 (M-1) + 0.6 (M-2) = 1.0; 2 Nov 0.4 (M-1).
    household_meters = C.meter_kind == "household"
    assert grouped(network, [C.day], household_meters, C.community == "碧桂园", C.building == "1") == {
        (NOV_1,): D("1.0"), (NOV_2,): D("0.4"),
    }


def test_a_community_per_day(network: Container) -> None:
    # 碧桂园: 1 Nov 0.4 + 0.6 = 1.0; 2 Nov 0.4 + 1.2 = 1.6.  阅水秦韵: 0.225 and 0.675.
    assert grouped(network, [C.community, C.day], C.meter_kind == "household") == {
        ("碧桂园", NOV_1): D("1.0"),
        ("碧桂园", NOV_2): D("1.6"),
        ("阅水秦韵", NOV_1): D("0.225"),
        ("阅水秦韵", NOV_2): D("0.675"),
    }


def test_the_heat_balance_of_a_building(network: Container) -> None:
    # Building meter 1.0 + 0.5 = 1.5 GJ against households 0.8 + 0.6 = 1.4 GJ: 0.1 GJ lost in the building's pipes.
    by_kind = grouped(network, [C.meter_kind], C.community == "碧桂园", C.building == "1")
    assert by_kind == {("building",): D("1.5"), ("household",): D("1.4")}
    assert by_kind[("building",)] - by_kind[("household",)] == D("0.1")
    assert grouped(network, [C.day], C.meter_kind == "building") == {(NOV_1,): D("1.0"), (NOV_2,): D("0.5")}


def test_the_largest_values_the_domain_accepts_fit_the_read_models(container: Container) -> None:
    # Registers below 10⁹ with 9 decimals and instants below 10⁹ with 3 decimals are stored exactly
    # as 64-bit integers; a value that did not fit would stop the projection for good.
    commission_meter(container.ledger, "S-1", kind=MeterKind.SUBSTATION_PRIMARY, community="碧桂园", building="站1")
    largest = {
        "volume_m3": "999999999.999999999", "operating_hours": "999999999.999", "flow_temperature_c": "249.999",
        "return_temperature_c": "-50", "flow_rate_m3_h": "-999999999.999", "power_kw": "999999999.999",
    }
    first = item("S-1", SEASON_START, "999999000.000000001", volume_m3="999999000", operating_hours="999999000")
    last = item("S-1", hours_after(SEASON_START, 10), "999999999.999999999", **largest)
    assert container.ledger.record_readings(SYSTEM, [first, last]).accepted == 2
    assert container.runner.position() == container.runner.max_notification_id()
    readings = readings_of(container)
    assert readings[-1] == (
        D("999999999.999999999"), D("999999999.999999999"), D("999999999.999"), D("249.999"), D("-50"),
        D("-999999999.999"), D("999999999.999"),
    )
    # 999999999.999999999 − 999999000.000000001 = 999.999999998 GJ over 10 h (a substation may do 5000).
    assert grouped(container, [C.meter_kind]) == {("substation_primary",): D("999.999999998")}


def readings_of(container: Container) -> list[tuple[Decimal, ...]]:
    columns = meter_readings.c
    query = select(
        columns.energy_gj, columns.volume_m3, columns.operating_hours, columns.flow_temperature_c,
        columns.return_temperature_c, columns.flow_rate_m3_h, columns.power_kw,
    ).order_by(columns.measured_at)
    with container.engine.connect() as connection:
        return [tuple(row) for row in connection.execute(query)]
