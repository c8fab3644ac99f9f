"""Verification of a heat meter (JJG 225 / EN 1434): measured errors at test points against the
meter class's maximum permissible error. A meter passes when every point is within its MPE."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from domain.errors import InvalidInputError
from domain.heat_physics import maximum_permissible_error_percent
from domain.values import AccuracyClass

# A verification has a handful of test points (JJG 225 uses three flow rates at a few Δθ).
MAXIMUM_TEST_POINTS = 50


@dataclass(frozen=True)
class TestPoint:
    """One point of the test bench: flow rate, temperature difference and the error measured."""

    __test__ = False  # not a pytest test class, despite the name

    flow_rate_m3_h: Decimal
    temperature_difference_k: Decimal
    measured_error_percent: Decimal


@dataclass(frozen=True)
class JudgedPoint:
    """A test point with the MPE of the meter's class there and whether the error is within it."""

    flow_rate_m3_h: Decimal
    temperature_difference_k: Decimal
    measured_error_percent: Decimal
    permissible_error_percent: Decimal
    passed: bool


def judge_points(
    points: list[TestPoint], accuracy_class: AccuracyClass, permanent_flow_m3_h: Decimal
) -> list[JudgedPoint]:
    """Judge each point against the complete meter's MPE (flow sensor + calculator + sensor pair)."""
    if not 1 <= len(points) <= MAXIMUM_TEST_POINTS:
        raise InvalidInputError(
            f"a verification has 1 to {MAXIMUM_TEST_POINTS} test points",
            message_key="verification_points",
            field="points",
            maximum=MAXIMUM_TEST_POINTS,
        )
    judged = []
    for point in points:
        if point.flow_rate_m3_h <= 0 or point.temperature_difference_k <= 0:
            raise InvalidInputError(
                "a test point needs a positive flow rate and temperature difference",
                message_key="verification_point_invalid",
                field="points",
            )
        permissible = maximum_permissible_error_percent(
            accuracy_class, point.flow_rate_m3_h, point.temperature_difference_k, permanent_flow_m3_h
        ).quantize(Decimal("0.01"))
        judged.append(
            JudgedPoint(
                point.flow_rate_m3_h,
                point.temperature_difference_k,
                point.measured_error_percent,
                permissible,
                abs(point.measured_error_percent) <= permissible,
            )
        )
    return judged
