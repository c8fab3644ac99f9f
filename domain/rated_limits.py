"""Rated limits of a meter model (EN 1434 marks them on the meter) and the readings beyond them.

A meter is specified for a permanent flow q_p (it may run at it for ever), a maximum flow q_s (for
short periods: at most an hour a day), a temperature range θ_min…θ_max and a smallest temperature
difference Δθ_min. A reading or interval beyond them is recorded and flagged with the rule it
breaks (never refused: the heat may well have flowed, and a refused reading would be lost).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from decimal import Decimal
from enum import StrEnum
from functools import lru_cache

from domain.errors import InvalidInputError
from domain.heat_physics import (
    DEFAULT_MINIMUM_TEMPERATURE_DIFFERENCE_K,
    DEFAULT_PERMANENT_FLOW_M3_H,
    heat_coefficient_mj_per_m3_k,
    maximum_permissible_error_percent,
)
from domain.values import AccuracyClass, FlowSensorSide, MeterKind

# q_s = 2·q_p unless the meter says otherwise (EN 1434's usual ratio: DN20 q_p 2.5 → q_s 5.0).
MAXIMUM_TO_PERMANENT_FLOW = Decimal(2)
# A flat's meter (DN15/DN20 compact meter): θ 2…90 °C. Building and substation meters sit in hotter
# pipes (a primary network runs up to 130 °C and more): their ranges default wider.
DEFAULT_TEMPERATURE_RANGE_C = {
    MeterKind.HOUSEHOLD: (Decimal(2), Decimal(90)),
    MeterKind.BUILDING: (Decimal(2), Decimal(130)),
    MeterKind.SUBSTATION_PRIMARY: (Decimal(2), Decimal(180)),
}
# Building and substation meters come in many sizes: their flow is checked only against a declared q_s.
FLOW_CHECKED_BY_DEFAULT = {MeterKind.HOUSEHOLD}
# EN 1434 allows q_s for short periods: one hour in every day (or part of a day) of an interval.
MAXIMUM_FLOW_HOURS_PER_DAY = Decimal(1)
# Δθ_min is 3, 5 or 10 K (EN 1434); bounds on what a clerk may declare.
ALLOWED_MINIMUM_TEMPERATURE_DIFFERENCES_K = (Decimal(1), Decimal(3), Decimal(5), Decimal(10))
LOWEST_TEMPERATURE_C, HIGHEST_TEMPERATURE_C = Decimal(0), Decimal(200)
HIGHEST_FLOW_M3_H = Decimal(100_000)
JOULES_PER_KILOWATT_HOUR_IN_MJ = Decimal("3.6")  # 1 kWh = 3.6 MJ: MJ/h ÷ 3.6 = kW
_THOUSANDTH = Decimal("0.001")  # the power's places, made once


class LimitRule(StrEnum):
    """The rated limit a reading or interval breaks (docs/metering-rules.md, "Rated limits")."""

    TEMPERATURE_OUT_OF_RANGE = "temperature_out_of_range"
    FLOW_ABOVE_MAXIMUM = "flow_above_maximum"
    FLOW_ABOVE_PERMANENT = "flow_above_permanent"
    RETURN_ABOVE_FLOW = "return_above_flow"
    TEMPERATURE_DIFFERENCE_BELOW_MINIMUM = "temperature_difference_below_minimum"
    POWER_INCONSISTENT = "power_inconsistent"


@dataclass(frozen=True)
class RatedLimits:
    """What a meter model is specified for: q_p and q_s in m³/h (q_s None: flow unchecked),
    θ_min and θ_max in °C, Δθ_min in K."""

    permanent_flow_m3_h: Decimal
    maximum_flow_m3_h: Decimal | None
    minimum_temperature_c: Decimal
    maximum_temperature_c: Decimal
    minimum_temperature_difference_k: Decimal

    @classmethod
    def declared(
        cls,
        kind: MeterKind,
        permanent_flow_m3_h: Decimal | None = None,
        maximum_flow_m3_h: Decimal | None = None,
        minimum_temperature_c: Decimal | None = None,
        maximum_temperature_c: Decimal | None = None,
        minimum_temperature_difference_k: Decimal | None = None,
    ) -> RatedLimits:
        """The limits a clerk declares at commissioning, each one not given taken from the
        defaults of the meter's kind; InvalidInputError for limits no meter has."""
        permanent = _positive_flow(permanent_flow_m3_h, DEFAULT_PERMANENT_FLOW_M3_H, "permanent_flow_m3_h")
        maximum = maximum_flow_m3_h
        if maximum is None and MeterKind(kind) in FLOW_CHECKED_BY_DEFAULT:
            maximum = permanent * MAXIMUM_TO_PERMANENT_FLOW
        if maximum is not None:
            maximum = _positive_flow(maximum, maximum, "maximum_flow_m3_h")
            if maximum < permanent:
                raise _invalid("q_s must be at least q_p", "maximum_flow_m3_h")
        lowest, highest = DEFAULT_TEMPERATURE_RANGE_C[MeterKind(kind)]
        lowest = _temperature(minimum_temperature_c, lowest, "minimum_temperature_c")
        highest = _temperature(maximum_temperature_c, highest, "maximum_temperature_c")
        if lowest >= highest:
            raise _invalid("θ_min must lie below θ_max", "maximum_temperature_c")
        difference = minimum_temperature_difference_k or DEFAULT_MINIMUM_TEMPERATURE_DIFFERENCE_K
        if difference not in ALLOWED_MINIMUM_TEMPERATURE_DIFFERENCES_K:
            raise _invalid("Δθ_min is 1, 3, 5 or 10 K", "minimum_temperature_difference_k")
        return cls(permanent, maximum, lowest, highest, difference)


@lru_cache(maxsize=1024)
def shared_limits(
    permanent_flow_m3_h: Decimal,
    maximum_flow_m3_h: Decimal | None,
    minimum_temperature_c: Decimal,
    maximum_temperature_c: Decimal,
    minimum_temperature_difference_k: Decimal,
) -> RatedLimits:
    """``RatedLimits`` of these values, one object per distinct set (a city's meters come in a few
    models, and a meter asks for its limits for every reading and interval). Limits of equal values
    written with other exponents (2.5 and 2.50) may share one object: every rule only compares and
    computes with them, so its verdicts are the same."""
    return RatedLimits(
        permanent_flow_m3_h,
        maximum_flow_m3_h,
        minimum_temperature_c,
        maximum_temperature_c,
        minimum_temperature_difference_k,
    )


def _invalid(message: str, field: str) -> InvalidInputError:
    return InvalidInputError(message, message_key="rated_limit_invalid", field=field)


def _positive_flow(value: Decimal | None, default: Decimal, field: str) -> Decimal:
    flow = default if value is None else value
    if not flow.is_finite() or not Decimal(0) < flow <= HIGHEST_FLOW_M3_H:
        raise _invalid(f"{field} must lie in 0…{HIGHEST_FLOW_M3_H} m³/h", field)
    return flow


def _temperature(value: Decimal | None, default: Decimal, field: str) -> Decimal:
    temperature = default if value is None else value
    if not temperature.is_finite() or not LOWEST_TEMPERATURE_C <= temperature <= HIGHEST_TEMPERATURE_C:
        raise _invalid(f"{field} must lie in {LOWEST_TEMPERATURE_C}…{HIGHEST_TEMPERATURE_C} °C", field)
    return temperature


@dataclass(frozen=True)
class InstantValues:
    """What a reading showed at its moment (None where the frame lacks it)."""

    flow_temperature_c: Decimal | None
    return_temperature_c: Decimal | None
    flow_rate_m3_h: Decimal | None = None
    power_kw: Decimal | None = None


def reading_breaches(
    instant: InstantValues, limits: RatedLimits, side: FlowSensorSide, accuracy_class: AccuracyClass
) -> list[LimitRule]:
    """The rated limits one reading's instant values break, in the order of ``LimitRule``."""
    broken = []
    temperatures = [t for t in (instant.flow_temperature_c, instant.return_temperature_c) if t is not None]
    if any(not limits.minimum_temperature_c <= t <= limits.maximum_temperature_c for t in temperatures):
        broken.append(LimitRule.TEMPERATURE_OUT_OF_RANGE)
    flow = instant.flow_rate_m3_h
    if flow is not None and limits.maximum_flow_m3_h is not None and flow > limits.maximum_flow_m3_h:
        broken.append(LimitRule.FLOW_ABOVE_MAXIMUM)
    if power_inconsistent(instant, limits, side, accuracy_class):
        broken.append(LimitRule.POWER_INCONSISTENT)
    return broken


def expected_power_kw(flow_rate_m3_h: Decimal, flow_c: Decimal, return_c: Decimal, side: FlowSensorSide) -> Decimal:
    """P = q·k·Δθ: m³/h × MJ/(m³·K) × K = MJ/h, ÷ 3.6 = kW (to 0.001 kW)."""
    k = heat_coefficient_mj_per_m3_k(flow_c, return_c, side)
    return (flow_rate_m3_h * k * (flow_c - return_c) / JOULES_PER_KILOWATT_HOUR_IN_MJ).quantize(_THOUSANDTH)


def power_inconsistent(
    instant: InstantValues, limits: RatedLimits, side: FlowSensorSide, accuracy_class: AccuracyClass
) -> bool:
    """Whether the frame's power differs from q·k·Δθ of its own flow and temperatures by more
    than the complete meter's MPE at that q and Δθ. Unchecked without all four values, without
    flow or a positive Δθ, or outside the range k is defined on."""
    return _power_inconsistent(
        instant.flow_rate_m3_h,
        instant.power_kw,
        instant.flow_temperature_c,
        instant.return_temperature_c,
        limits,
        side,
        accuracy_class,
    )


def _power_inconsistent(
    flow: Decimal | None,
    power: Decimal | None,
    flow_c: Decimal | None,
    return_c: Decimal | None,
    limits: RatedLimits,
    side: FlowSensorSide,
    accuracy_class: AccuracyClass,
) -> bool:
    if flow is None or power is None or flow_c is None or return_c is None or flow <= 0 or flow_c <= return_c:
        return False
    try:
        expected = expected_power_kw(flow, flow_c, return_c, side)
    except ValueError:
        return False
    if expected == 0:
        return power != 0
    permissible = maximum_permissible_error_percent(
        accuracy_class, flow, flow_c - return_c, limits.permanent_flow_m3_h, limits.minimum_temperature_difference_k
    )
    return abs(power - expected) / expected * 100 > permissible


def joined_reading_breaches(
    flow_c: Decimal | None,
    return_c: Decimal | None,
    flow_rate_m3_h: Decimal | None,
    power_kw: Decimal | None,
    limits: RatedLimits,
    side: FlowSensorSide,
    accuracy_class: AccuracyClass,
) -> str:
    """``joined(reading_breaches(InstantValues(flow_c, return_c, flow_rate_m3_h, power_kw), …))``:
    the same rules in the same order, written for the one reading each recorded reading is, without
    the value object, the lists and the join (a property test holds the two equal)."""
    lowest, highest = limits.minimum_temperature_c, limits.maximum_temperature_c
    broken = ""
    if (flow_c is not None and not lowest <= flow_c <= highest) or (
        return_c is not None and not lowest <= return_c <= highest
    ):
        broken = _TEMPERATURE_OUT_OF_RANGE
    maximum = limits.maximum_flow_m3_h
    if flow_rate_m3_h is not None and maximum is not None and flow_rate_m3_h > maximum:
        broken = _with(broken, _FLOW_ABOVE_MAXIMUM)
    if _power_inconsistent(flow_rate_m3_h, power_kw, flow_c, return_c, limits, side, accuracy_class):
        broken = _with(broken, _POWER_INCONSISTENT)
    return broken


@dataclass(frozen=True)
class IntervalFigures:
    """An interval as the limits see it: its energy and volume increase over ``hours``, and the
    instant temperatures of the readings at both ends."""

    energy_gj: Decimal
    volume_m3: Decimal | None
    hours: Decimal
    start: InstantValues
    end: InstantValues


def interval_breaches(figures: IntervalFigures, limits: RatedLimits) -> list[LimitRule]:
    """The rated limits an interval breaks, in the order of ``LimitRule``."""
    broken = []
    broken.extend(_flow_breaches(figures, limits))
    if figures.energy_gj > 0:
        ends = (figures.start, figures.end)
        differences = [
            end.flow_temperature_c - end.return_temperature_c
            for end in ends
            if end.flow_temperature_c is not None and end.return_temperature_c is not None
        ]
        if any(difference < 0 for difference in differences):
            broken.append(LimitRule.RETURN_ABOVE_FLOW)
        elif differences and all(difference < limits.minimum_temperature_difference_k for difference in differences):
            broken.append(LimitRule.TEMPERATURE_DIFFERENCE_BELOW_MINIMUM)
    return broken


def permitted_volume_m3(hours: Decimal, limits: RatedLimits) -> Decimal | None:
    """The most a meter may pass within its rating in ``hours``: q_p all along plus q_s − q_p for
    one hour in every day or part of a day (None when q_s is not known)."""
    if limits.maximum_flow_m3_h is None:
        return None
    days = max(math.ceil(hours / 24), 1)
    hours_at_maximum = min(hours, MAXIMUM_FLOW_HOURS_PER_DAY * days)
    return (
        limits.permanent_flow_m3_h * hours + (limits.maximum_flow_m3_h - limits.permanent_flow_m3_h) * hours_at_maximum
    )


def _flow_breaches(figures: IntervalFigures, limits: RatedLimits) -> list[LimitRule]:
    permitted = permitted_volume_m3(figures.hours, limits)
    if figures.volume_m3 is None or permitted is None or figures.hours <= 0:
        return []
    if limits.maximum_flow_m3_h is not None and figures.volume_m3 > limits.maximum_flow_m3_h * figures.hours:
        return [LimitRule.FLOW_ABOVE_MAXIMUM]  # faster on average than the meter can run at all
    if figures.volume_m3 > permitted:
        return [LimitRule.FLOW_ABOVE_PERMANENT]
    return []


def joined(rules: list[LimitRule]) -> str:
    """Rules as stored on events and rows: their names joined by commas ("" for none)."""
    return ",".join(rule.value for rule in rules)


def joined_interval_breaches(
    energy_gj: Decimal,
    volume_m3: Decimal | None,
    hours: Decimal,
    start_flow_c: Decimal | None,
    start_return_c: Decimal | None,
    end_flow_c: Decimal | None,
    end_return_c: Decimal | None,
    limits: RatedLimits,
) -> str:
    """``joined(interval_breaches(IntervalFigures(…), limits))`` of an interval's figures and its
    ends' temperatures: the same rules in the same order, without the three value objects, the
    lists and the join, for the interval or two each recorded reading makes (a property test
    holds the two equal)."""
    broken = ""
    maximum = limits.maximum_flow_m3_h
    if volume_m3 is not None and maximum is not None and hours > 0:
        if volume_m3 > maximum * hours:
            broken = _FLOW_ABOVE_MAXIMUM  # faster on average than the meter can run at all
        else:
            permitted = permitted_volume_m3(hours, limits)
            if permitted is not None and volume_m3 > permitted:
                broken = _FLOW_ABOVE_PERMANENT
    if energy_gj > 0:
        minimum = limits.minimum_temperature_difference_k
        start = None if start_flow_c is None or start_return_c is None else start_flow_c - start_return_c
        end = None if end_flow_c is None or end_return_c is None else end_flow_c - end_return_c
        if (start is not None and start < 0) or (end is not None and end < 0):
            broken = _with(broken, _RETURN_ABOVE_FLOW)
        elif (start is not None or end is not None) and (
            (start is None or start < minimum) and (end is None or end < minimum)
        ):
            broken = _with(broken, _TEMPERATURE_DIFFERENCE_BELOW_MINIMUM)
    return broken


def _with(broken: str, rule: str) -> str:
    return f"{broken},{rule}" if broken else rule


# The rules' stored names, as ``joined`` writes them.
_TEMPERATURE_OUT_OF_RANGE = LimitRule.TEMPERATURE_OUT_OF_RANGE.value
_FLOW_ABOVE_MAXIMUM = LimitRule.FLOW_ABOVE_MAXIMUM.value
_FLOW_ABOVE_PERMANENT = LimitRule.FLOW_ABOVE_PERMANENT.value
_RETURN_ABOVE_FLOW = LimitRule.RETURN_ABOVE_FLOW.value
_TEMPERATURE_DIFFERENCE_BELOW_MINIMUM = LimitRule.TEMPERATURE_DIFFERENCE_BELOW_MINIMUM.value
_POWER_INCONSISTENT = LimitRule.POWER_INCONSISTENT.value
