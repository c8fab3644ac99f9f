"""Estimating the heat of days a meter did not report (CJJ/T 223 practice: a comparable period or
comparable flats, marked as an estimate and replaced when a real reading comes).

Heat demand follows the weather: a day's heating degree-days scale the silent meter's own mean.
Where the ledger has no outdoor temperatures, the building's own consumption stands in for them:
on a cold day every flat in the building takes more heat. Two methods, in order:

1. **own history scaled by degree-days** — the meter's mean daily energy over its last measured
   reference days × (the day's heating degree-days ÷ their mean over the same reference days),
   degree-days being max(0, 18 °C − the day's mean outdoor temperature). When the weather of the
   reference days or of the day is not known, **the building** stands in: its measured energy
   that day ÷ its mean over the reference days. Without either figure the ratio is 1.
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
DEGREE_DAY_BASE_C = Decimal(18)
# How many measured days before the gap make the meter's and the building's reference.
REFERENCE_DAYS = 14
# A gap longer than this is not estimated: such a meter needs a visit, not a formula.
MAXIMUM_ESTIMATED_DAYS = 62


class EstimationMethod(StrEnum):
    OWN_HISTORY_DEGREE_DAYS = "own_history_scaled_by_degree_days"
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


def degree_days(mean_outdoor_c: Decimal) -> Decimal:
    """Heating degree-days of a day with this mean outdoor temperature (base 18 °C)."""
    return max(DEGREE_DAY_BASE_C - mean_outdoor_c, Decimal(0))


def estimate_from_own_history(
    days: list[date],
    own_reference_gj: list[Decimal],
    reference_scale: list[Decimal],
    scale_on_day: dict[date, Decimal],
    method: EstimationMethod = EstimationMethod.OWN_HISTORY,
) -> list[DayEstimate]:
    """Method 1: the meter's mean over its reference days, scaled each day by a measure of the
    day's heat demand against its mean over the reference days: the degree-days when the
    weather is known, else the building's measured heat. A day without a figure has ratio 1."""
    own_mean = _mean(own_reference_gj)
    if own_mean is None:
        raise ValueError("the meter has no reference days")
    scale_mean = _mean(reference_scale)
    estimates = []
    for day in days:
        ratio = Decimal(1)
        if scale_mean and day in scale_on_day:
            ratio = scale_on_day[day] / scale_mean
        estimates.append(DayEstimate(day, _rounded(own_mean * ratio), method))
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
