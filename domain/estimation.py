"""Estimating the heat of days a meter did not report (CJJ/T 223 practice: a comparable period or
comparable flats, marked as an estimate and replaced when a real reading comes).

The ledger holds no weather data. The building's own consumption stands in for the degree-days:
on a cold day every flat in the building takes more heat, so the building's measured heat that
day, against its mean over a reference period, scales the silent meter's mean over the same
period. Two methods, in order:

1. **own history scaled by the building** — the meter's mean daily energy over its last measured
   reference days × (the building's measured energy that day ÷ the building's mean daily energy
   over the same reference days). Without building figures for a day the ratio is 1.
2. **building per m² × area × position** — for a meter without history: the building's measured
   energy per heated m² that day × the flat's heated area × (its position coefficient ÷ the mean
   coefficient of the flats that reported).

Every estimate is rounded half up to 0.001 GJ (the resolution of a household meter's register).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import ROUND_HALF_UP, Decimal
from enum import StrEnum

ESTIMATE_RESOLUTION_GJ = Decimal("0.001")
# How many measured days before the gap make the meter's and the building's reference.
REFERENCE_DAYS = 14
# A gap longer than this is not estimated: such a meter needs a visit, not a formula.
MAXIMUM_ESTIMATED_DAYS = 62


class EstimationMethod(StrEnum):
    OWN_HISTORY = "own_history_scaled_by_building"
    BUILDING_AREA = "building_per_m2_by_position"


@dataclass(frozen=True)
class DayEstimate:
    """One estimated day: its energy and the method that gave it."""

    day: date
    energy_gj: Decimal
    method: EstimationMethod


def _rounded(value: Decimal) -> Decimal:
    return max(value, Decimal(0)).quantize(ESTIMATE_RESOLUTION_GJ, rounding=ROUND_HALF_UP)


def _mean(values: list[Decimal]) -> Decimal | None:
    return sum(values, Decimal(0)) / len(values) if values else None


def estimate_from_own_history(
    days: list[date],
    own_reference_gj: list[Decimal],
    building_reference_gj: list[Decimal],
    building_on_day_gj: dict[date, Decimal],
) -> list[DayEstimate]:
    """Method 1: the meter's mean over its reference days, scaled each day by the building."""
    own_mean = _mean(own_reference_gj)
    if own_mean is None:
        raise ValueError("the meter has no reference days")
    building_mean = _mean(building_reference_gj)
    estimates = []
    for day in days:
        ratio = Decimal(1)
        if building_mean and day in building_on_day_gj:
            ratio = building_on_day_gj[day] / building_mean
        estimates.append(DayEstimate(day, _rounded(own_mean * ratio), EstimationMethod.OWN_HISTORY))
    return estimates


def estimate_from_building_area(
    days: list[date],
    building_per_m2_on_day_gj: dict[date, Decimal],
    heated_area_m2: Decimal,
    position_coefficient: Decimal,
    mean_coefficient: Decimal,
) -> list[DayEstimate]:
    """Method 2: the building's energy per m² that day × area × relative position coefficient.

    Days without building figures are left out (nothing to estimate from)."""
    if heated_area_m2 <= 0 or mean_coefficient <= 0:
        raise ValueError("area and mean coefficient must be positive")
    weight = heated_area_m2 * position_coefficient / mean_coefficient
    return [
        DayEstimate(day, _rounded(building_per_m2_on_day_gj[day] * weight), EstimationMethod.BUILDING_AREA)
        for day in days
        if day in building_per_m2_on_day_gj
    ]
