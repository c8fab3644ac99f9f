"""Consumption per day or month: of a household, and of a building or community with its
building meters beside the sum of its household meters, so a clerk sees the network loss."""

from __future__ import annotations

import calendar
from collections.abc import Iterable
from datetime import date
from decimal import ROUND_HALF_UP, Decimal

from pydantic import BaseModel, ConfigDict, Field

from api.schemas.common import AreaText, EnergyText, PercentText, VolumeText
from projections.household_search import AreaPeriod
from projections.queries import ZERO_ENERGY_GJ, ZERO_VOLUME_M3, Granularity, PeriodConsumption

PERCENT_QUANTUM = Decimal("0.01")


class ConsumptionPeriod(BaseModel):
    """Energy and volume of one business day, or one calendar month, within the range asked for."""

    period: str = Field(examples=["2025-12-01", "2025-12"])
    first_day: date
    last_day: date
    energy_gj: EnergyText
    volume_m3: VolumeText | None = Field(description="None when no meter reports a volume register")


class HouseholdConsumption(BaseModel):
    """A household's metered consumption. Periods without any metered interval are left out."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "account_number": "WZ-0001",
                    "granularity": "month",
                    "from_day": "2025-11-01",
                    "to_day": "2025-12-10",
                    "periods": [
                        {
                            "period": "2025-11",
                            "first_day": "2025-11-01",
                            "last_day": "2025-11-30",
                            "energy_gj": "11.250000",
                            "volume_m3": "67.400000",
                        }
                    ],
                    "energy_gj": "11.250000",
                    "volume_m3": "67.400000",
                }
            ]
        }
    )

    account_number: str
    granularity: Granularity
    from_day: date
    to_day: date
    periods: list[ConsumptionPeriod]
    energy_gj: EnergyText = Field(description="Sum of the periods")
    volume_m3: VolumeText | None = Field(description="None when no meter reports a volume register")


class MeterConsumption(BaseModel):
    """A meter's metered consumption, whichever household it served. Periods without any metered
    interval are left out."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "serial": "60110601",
                    "granularity": "day",
                    "from_day": "2025-12-01",
                    "to_day": "2025-12-02",
                    "periods": [
                        {
                            "period": "2025-12-01",
                            "first_day": "2025-12-01",
                            "last_day": "2025-12-01",
                            "energy_gj": "0.412000",
                            "volume_m3": "2.480000",
                        }
                    ],
                    "energy_gj": "0.412000",
                    "volume_m3": "2.480000",
                }
            ]
        }
    )

    serial: str
    granularity: Granularity
    from_day: date
    to_day: date
    periods: list[ConsumptionPeriod]
    energy_gj: EnergyText = Field(description="Sum of the periods")
    volume_m3: VolumeText | None = Field(description="None when no meter reports a volume register")


class PlaceConsumptionPeriod(BaseModel):
    """One period of a building or community: household meters and building meters side by side."""

    period: str
    first_day: date
    last_day: date
    households_energy_gj: EnergyText
    households_volume_m3: VolumeText | None
    building_meters_energy_gj: EnergyText
    building_meters_volume_m3: VolumeText | None


class PlaceTotals(BaseModel):
    """Sums over the range, and what the building meters measured beyond the households."""

    households_energy_gj: EnergyText
    households_volume_m3: VolumeText | None
    building_meters_energy_gj: EnergyText
    building_meters_volume_m3: VolumeText | None
    difference_energy_gj: EnergyText = Field(description="building meters − households: loss in the building network")
    difference_percent: PercentText | None = Field(
        description="difference ÷ building meters × 100, rounded half up to 0.01; null without building-meter energy"
    )


class PlaceConsumption(BaseModel):
    """Consumption of a building (or every building of a community). Periods where neither
    household nor building meters measured anything are left out."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "community": "碧桂园",
                    "building": "1",
                    "granularity": "day",
                    "from_day": "2025-12-01",
                    "to_day": "2025-12-01",
                    "periods": [
                        {
                            "period": "2025-12-01",
                            "first_day": "2025-12-01",
                            "last_day": "2025-12-01",
                            "households_energy_gj": "9.800000",
                            "households_volume_m3": "58.200000",
                            "building_meters_energy_gj": "10.270000",
                            "building_meters_volume_m3": "61.000000",
                        }
                    ],
                    "totals": {
                        "households_energy_gj": "9.800000",
                        "households_volume_m3": "58.200000",
                        "building_meters_energy_gj": "10.270000",
                        "building_meters_volume_m3": "61.000000",
                        "difference_energy_gj": "0.470000",
                        "difference_percent": "4.58",
                    },
                }
            ]
        }
    )

    community: str
    building: str | None = Field(description="null for a whole community")
    granularity: Granularity
    from_day: date
    to_day: date
    periods: list[PlaceConsumptionPeriod]
    totals: PlaceTotals


def period_bounds(first_day: date, granularity: Granularity, from_day: date, to_day: date) -> tuple[str, date, date]:
    """A period's label and its days, clipped to the range asked for."""
    if Granularity(granularity) is Granularity.DAY:
        return first_day.isoformat(), first_day, first_day
    month_end = first_day.replace(day=calendar.monthrange(first_day.year, first_day.month)[1])
    return first_day.strftime("%Y-%m"), max(first_day, from_day), min(month_end, to_day)


def total_volume(volumes: Iterable[Decimal | None]) -> Decimal | None:
    """The sum of the known volumes; None when none is known (unknown is not zero)."""
    known = [volume for volume in volumes if volume is not None]
    return sum(known, ZERO_VOLUME_M3) if known else None


def household_periods(
    periods: list[PeriodConsumption], granularity: Granularity, from_day: date, to_day: date
) -> list[ConsumptionPeriod]:
    """Response periods of a household from the query's periods."""
    output = []
    for period in periods:
        label, first, last = period_bounds(period.first_day, granularity, from_day, to_day)
        output.append(
            ConsumptionPeriod(
                period=label, first_day=first, last_day=last, energy_gj=period.energy_gj, volume_m3=period.volume_m3
            )
        )
    return output


def place_periods(
    household_meters: list[PeriodConsumption],
    building_meters: list[PeriodConsumption],
    granularity: Granularity,
    from_day: date,
    to_day: date,
) -> list[PlaceConsumptionPeriod]:
    """Household-meter and building-meter periods merged by period, oldest first."""
    by_household = {period.first_day: period for period in household_meters}
    by_building = {period.first_day: period for period in building_meters}
    output = []
    for first_day in sorted(by_household.keys() | by_building.keys()):
        label, first, last = period_bounds(first_day, granularity, from_day, to_day)
        households, buildings = by_household.get(first_day), by_building.get(first_day)
        output.append(
            PlaceConsumptionPeriod(
                period=label,
                first_day=first,
                last_day=last,
                households_energy_gj=households.energy_gj if households else ZERO_ENERGY_GJ,
                households_volume_m3=households.volume_m3 if households else None,
                building_meters_energy_gj=buildings.energy_gj if buildings else ZERO_ENERGY_GJ,
                building_meters_volume_m3=buildings.volume_m3 if buildings else None,
            )
        )
    return output


def place_totals(periods: list[PlaceConsumptionPeriod]) -> PlaceTotals:
    """Sums of the periods and the building-network difference."""
    households_energy = sum((period.households_energy_gj for period in periods), ZERO_ENERGY_GJ)
    building_energy = sum((period.building_meters_energy_gj for period in periods), ZERO_ENERGY_GJ)
    difference = building_energy - households_energy
    percent = None
    if building_energy > 0:
        percent = (difference / building_energy * 100).quantize(PERCENT_QUANTUM, rounding=ROUND_HALF_UP)
    return PlaceTotals(
        households_energy_gj=households_energy,
        households_volume_m3=total_volume(period.households_volume_m3 for period in periods),
        building_meters_energy_gj=building_energy,
        building_meters_volume_m3=total_volume(period.building_meters_volume_m3 for period in periods),
        difference_energy_gj=difference,
        difference_percent=percent,
    )


class ComparedPeriod(BaseModel):
    """One day or month of a household beside its building, per m² of connected area."""

    period: str
    first_day: date
    last_day: date
    energy_gj: EnergyText | None = Field(description="The household's metered heat; null when it had none")
    energy_per_connected_area_gj_per_m2: EnergyText | None = Field(
        description="The household's heat ÷ its connected area, rounded half up to 0.000001; null without heat"
    )
    building_energy_per_connected_area_gj_per_m2: EnergyText = Field(
        description="The heat of the building's metered households ÷ their connected area, rounded half up "
        "to 0.000001 (the monthly statement's building average)"
    )
    building_metered_households: int = Field(description="How many of the building's households were metered")


class HouseholdComparison(BaseModel):
    """A household's heat per m² beside its building's average, per day or month. Periods in which
    no household of the building was metered are left out."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "account_number": "WZ-0001",
                    "community": "碧桂园",
                    "building": "1",
                    "connected_area_m2": "98.50",
                    "granularity": "month",
                    "from_day": "2025-11-01",
                    "to_day": "2025-12-10",
                    "periods": [
                        {
                            "period": "2025-11",
                            "first_day": "2025-11-01",
                            "last_day": "2025-11-30",
                            "energy_gj": "5.120000",
                            "energy_per_connected_area_gj_per_m2": "0.051980",
                            "building_energy_per_connected_area_gj_per_m2": "0.047310",
                            "building_metered_households": 24,
                        }
                    ],
                }
            ]
        }
    )

    account_number: str
    community: str
    building: str
    connected_area_m2: AreaText
    granularity: Granularity
    from_day: date
    to_day: date
    periods: list[ComparedPeriod]


PER_AREA_QUANTUM = Decimal("0.000001")


def per_area(energy_gj: Decimal, area_m2: Decimal) -> Decimal:
    """Heat per m², rounded half up to 1 kJ/m²."""
    assert area_m2 > 0, "a metered flat has a positive area"
    return (energy_gj / area_m2).quantize(PER_AREA_QUANTUM, rounding=ROUND_HALF_UP)


def compared_periods(
    household: list[PeriodConsumption],
    area_m2: Decimal,
    building: list[AreaPeriod],
    granularity: Granularity,
    from_day: date,
    to_day: date,
) -> list[ComparedPeriod]:
    """The building's periods, each with the household's own heat beside it (if it had any)."""
    own = {period.first_day: period.energy_gj for period in household}
    output = []
    for period in building:
        label, first, last = period_bounds(period.first_day, granularity, from_day, to_day)
        energy = own.get(period.first_day)
        output.append(
            ComparedPeriod(
                period=label,
                first_day=first,
                last_day=last,
                energy_gj=energy,
                energy_per_connected_area_gj_per_m2=per_area(energy, area_m2) if energy is not None else None,
                building_energy_per_connected_area_gj_per_m2=per_area(period.energy_gj, period.area_m2),
                building_metered_households=period.households,
            )
        )
    return output
