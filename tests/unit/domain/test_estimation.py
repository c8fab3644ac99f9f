"""The estimation methods for missing days, with the arithmetic written out."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

import pytest

from domain.estimation import (
    EstimationMethod,
    degree_days,
    estimate_from_building_area,
    estimate_from_own_history,
)
from domain.position import SOURCE_COEFFICIENTS, position_coefficient
from domain.values import HorizontalPosition, Position, VerticalPosition

D = Decimal
DAYS = [date(2025, 12, 1) + timedelta(days=offset) for offset in range(3)]


def test_own_history_is_scaled_by_the_building_day_by_day() -> None:
    own = [D("0.4"), D("0.6")]  # mean 0.5 GJ/day
    building_reference = [D("10"), D("10")]  # mean 10 GJ/day
    building = {DAYS[0]: D("12"), DAYS[1]: D("8")}  # the third day has no building figure
    estimates = estimate_from_own_history(DAYS, own, building_reference, building)
    # 0.5 × 12/10 = 0.600; 0.5 × 8/10 = 0.400; no figure: ratio 1 → 0.500.
    assert [(estimate.energy_gj, estimate.method) for estimate in estimates] == [
        (D("0.600"), EstimationMethod.OWN_HISTORY),
        (D("0.400"), EstimationMethod.OWN_HISTORY),
        (D("0.500"), EstimationMethod.OWN_HISTORY),
    ]


def test_estimates_round_half_up_to_a_megajoule_and_never_go_negative() -> None:
    (estimate,) = estimate_from_own_history(DAYS[:1], [D("0.0005")], [], {})
    assert estimate.energy_gj == D("0.001")  # 0.0005 rounds half up
    (negative,) = estimate_from_own_history(DAYS[:1], [D("-1")], [], {})
    assert negative.energy_gj == D("0.000")


def test_a_meter_without_history_cannot_use_the_first_method() -> None:
    with pytest.raises(ValueError):
        estimate_from_own_history(DAYS, [], [D(1)], {})


def test_building_per_m2_is_weighted_by_area_and_relative_position() -> None:
    per_m2 = {DAYS[0]: D("0.005"), DAYS[2]: D("0.004")}
    top_corner = position_coefficient(Position(VerticalPosition.TOP, HorizontalPosition.WEST_END))
    estimates = estimate_from_building_area(DAYS, per_m2, D("90.00"), top_corner, D("1.000"))
    # 0.005 × 90 × 1.518 = 0.6831 → 0.683; 0.004 × 90 × 1.518 = 0.54648 → 0.546; day 2 has no figure.
    assert [(estimate.day, estimate.energy_gj) for estimate in estimates] == [
        (DAYS[0], D("0.683")),
        (DAYS[2], D("0.546")),
    ]


def test_the_position_table_is_the_source_s() -> None:
    assert len(SOURCE_COEFFICIENTS) == 9
    assert position_coefficient(Position(VerticalPosition.MIDDLE, HorizontalPosition.MIDDLE)) == D("0.687")
    assert position_coefficient(Position(VerticalPosition.BOTTOM, HorizontalPosition.EAST_END)) == D("1.096")


def test_degree_days_count_below_18_degrees_only() -> None:
    assert (degree_days(D(5)), degree_days(D("-9.5")), degree_days(D(20))) == (D(13), D("27.5"), D(0))


def test_own_history_by_degree_days_names_its_method() -> None:
    (estimate,) = estimate_from_own_history(
        DAYS[:1], [D("0.5")], [D(10)], {DAYS[0]: D(15)}, EstimationMethod.OWN_HISTORY_DEGREE_DAYS
    )
    # 0.5 × 15 / 10 = 0.75.
    assert (estimate.energy_gj, estimate.method) == (D("0.750"), EstimationMethod.OWN_HISTORY_DEGREE_DAYS)
