"""Heat-meter physics: the heat coefficient k and the plausibility of a metered interval.

E = ∫ k(θ_f, θ_r)·(θ_f − θ_r) dV with k = (h_f − h_r) / (v·(θ_f − θ_r)), water properties from
IAPWS-IF97 at 1.6 MPa (EN 1434, OIML R75, GB/T 32224). ``v`` is the specific volume at the
temperature of the pipe the flow sensor sits in.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from functools import lru_cache

from domain.values import AccuracyClass, FlowSensorSide

NOMINAL_PRESSURE_MPA = 1.6
KELVIN_OFFSET = 273.15
TEMPERATURE_RESOLUTION_C = Decimal("0.01")
# Smallest temperature difference for which the meter is specified (Δθ_min, EN 1434: 3, 5 or 10 K).
DEFAULT_MINIMUM_TEMPERATURE_DIFFERENCE_K = Decimal(3)
# Permanent flow rate q_p of a typical household meter (DN20), used when a meter declares none.
DEFAULT_PERMANENT_FLOW_M3_H = Decimal("2.5")
MAXIMUM_FLOW_SENSOR_ERROR_PERCENT = Decimal(5)
# Constants of the checks, made once (a Decimal from text costs more than the arithmetic with it).
_HALF, _HUNDREDTH, _MICRO = Decimal("0.5"), Decimal("0.01"), Decimal("0.000001")

_FLOW_SENSOR_ERROR = {
    # class: (constant part %, coefficient of q_p/q %)
    AccuracyClass.CLASS_1: (Decimal(1), Decimal("0.01")),
    AccuracyClass.CLASS_2: (Decimal(2), Decimal("0.02")),
    AccuracyClass.CLASS_3: (Decimal(3), Decimal("0.05")),
}


@lru_cache(maxsize=32768)
def _water_at(temperature_c: Decimal) -> tuple[float, float]:
    """Specific enthalpy (kJ/kg) and specific volume (m³/kg) of water at 1.6 MPa.

    Cached per temperature (0.01 °C steps, so at most a few tens of thousands of entries): an
    IAPWS-IF97 evaluation costs about 0.2 ms, and a burst of readings repeats temperatures.
    iapws is imported here, on the first evaluation: it brings scipy and numpy, about a seventh of
    every command's start-up, and most commands (a billing run, a report) never meter an interval.
    """
    from iapws import IAPWS97

    water = IAPWS97(T=float(temperature_c) + KELVIN_OFFSET, P=NOMINAL_PRESSURE_MPA)
    return float(water.h), float(water.v)


@lru_cache(maxsize=65536)
def _coefficient(flow_c: Decimal, return_c: Decimal, side: FlowSensorSide) -> Decimal:
    """k of two temperatures rounded to 0.01 °C. Cached per pair and side as well as per
    temperature: turning the floats into a rounded Decimal cost more than the two look-ups, and a
    city's readings repeat pairs (a Decimal and an equal one of another exponent give the same k)."""
    flow_enthalpy, flow_volume = _water_at(flow_c)
    return_enthalpy, return_volume = _water_at(return_c)
    specific_volume = flow_volume if side is FlowSensorSide.FLOW else return_volume
    kilojoule_per_m3_k = (flow_enthalpy - return_enthalpy) / (specific_volume * float(flow_c - return_c))
    return Decimal(repr(kilojoule_per_m3_k / 1000)).quantize(Decimal("0.000001"))


@lru_cache(maxsize=65536)
def heat_coefficient_mj_per_m3_k(flow_c: Decimal, return_c: Decimal, side: FlowSensorSide) -> Decimal:
    """k in MJ/(m³·K), to 6 decimals, for supply and return temperatures in °C.

    Temperatures are rounded to 0.01 °C (finer than any meter reports) so results can be cached;
    the answer is cached per pair as given too (equal values of other exponents round alike), as
    rounding them cost more than the rest. Temperatures k is not defined for raise ValueError
    each time (an exception is not cached).
    """
    flow_rounded = flow_c.quantize(TEMPERATURE_RESOLUTION_C)
    return_rounded = return_c.quantize(TEMPERATURE_RESOLUTION_C)
    if flow_rounded <= return_rounded:
        raise ValueError("the flow temperature must exceed the return temperature")
    if not (Decimal(0) < return_rounded and flow_rounded < Decimal(200)):
        raise ValueError("temperatures must lie between 0 °C and 200 °C")
    return _coefficient(flow_rounded, return_rounded, FlowSensorSide(side))


def maximum_permissible_error_percent(
    accuracy_class: AccuracyClass,
    flow_rate_m3_h: Decimal,
    temperature_difference_k: Decimal,
    permanent_flow_m3_h: Decimal = DEFAULT_PERMANENT_FLOW_M3_H,
    minimum_temperature_difference_k: Decimal = DEFAULT_MINIMUM_TEMPERATURE_DIFFERENCE_K,
) -> Decimal:
    """The complete meter's MPE in percent: flow sensor + calculator + temperature pair (EN 1434)."""
    if flow_rate_m3_h <= 0 or temperature_difference_k <= 0:
        raise ValueError("flow rate and temperature difference must be positive")
    # Looked up by value first (a member and its text hash alike); anything else is made a member,
    # which raises ValueError for a class that does not exist.
    constant, coefficient = _FLOW_SENSOR_ERROR.get(accuracy_class) or _FLOW_SENSOR_ERROR[AccuracyClass(accuracy_class)]
    flow_sensor = min(constant + coefficient * permanent_flow_m3_h / flow_rate_m3_h, MAXIMUM_FLOW_SENSOR_ERROR_PERCENT)
    calculator = _HALF + minimum_temperature_difference_k / temperature_difference_k
    temperature_pair = _HALF + 3 * minimum_temperature_difference_k / temperature_difference_k
    return flow_sensor + calculator + temperature_pair


@dataclass(frozen=True)
class PlausibilityCheck:
    """The k·Δθ·ΔV check of one interval: what the meter said, what physics expects, and whether
    they agree within the meter's maximum permissible error."""

    expected_energy_gj: Decimal
    deviation_percent: Decimal
    permissible_error_percent: Decimal

    @property
    def plausible(self) -> bool:
        return abs(self.deviation_percent) <= self.permissible_error_percent


def check_interval(
    energy_increase_gj: Decimal,
    volume_increase_m3: Decimal,
    hours: Decimal,
    mean_flow_c: Decimal,
    mean_return_c: Decimal,
    side: FlowSensorSide,
    accuracy_class: AccuracyClass,
    permanent_flow_m3_h: Decimal = DEFAULT_PERMANENT_FLOW_M3_H,
) -> PlausibilityCheck | None:
    """Compare an interval's energy increase with k·Δθ·ΔV from its mean temperatures.

    Returns None when the interval cannot be checked (no flow, no temperature difference).
    The mean temperatures are those the caller has (typically the two readings' instant values),
    so the check is a screen for gross faults, not a verification.
    """
    temperature_difference_k = mean_flow_c - mean_return_c
    if volume_increase_m3 <= 0 or hours <= 0 or temperature_difference_k <= 0:
        return None
    k = heat_coefficient_mj_per_m3_k(mean_flow_c, mean_return_c, side)
    expected_gj = (k * temperature_difference_k * volume_increase_m3 / 1000).quantize(_MICRO)
    if expected_gj == 0:
        return None
    deviation = ((energy_increase_gj - expected_gj) / expected_gj * 100).quantize(_HUNDREDTH)
    permissible = maximum_permissible_error_percent(
        accuracy_class, volume_increase_m3 / hours, temperature_difference_k, permanent_flow_m3_h
    ).quantize(_HUNDREDTH)
    return PlausibilityCheck(expected_gj, deviation, permissible)
