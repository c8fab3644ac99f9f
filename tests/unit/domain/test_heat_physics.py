"""The heat coefficient k (IAPWS-IF97 at 1.6 MPa) and the maximum permissible errors of EN 1434."""

from decimal import Decimal

import pytest

from domain.heat_physics import check_interval, heat_coefficient_mj_per_m3_k, maximum_permissible_error_percent
from domain.values import AccuracyClass, FlowSensorSide

D = Decimal
FLOW, RETURN = FlowSensorSide.FLOW, FlowSensorSide.RETURN
CLASS_1, CLASS_2, CLASS_3 = AccuracyClass.CLASS_1, AccuracyClass.CLASS_2, AccuracyClass.CLASS_3


# -- k ----------------------------------------------------------------------------------------


def test_k_at_the_check_point_with_the_flow_sensor_in_the_flow_pipe() -> None:
    # domain.md §3: θ_f 70 °C, θ_r 30 °C → 4.087442 MJ/(m³·K) (EN 1434 / OIML R75 tables).
    assert heat_coefficient_mj_per_m3_k(D(70), D(30), FLOW) == D("4.087442")


def test_k_at_the_check_point_with_the_flow_sensor_in_the_return_pipe() -> None:
    # domain.md §3: the same temperatures → 4.162135 MJ/(m³·K) when the volume is measured in the return.
    assert heat_coefficient_mj_per_m3_k(D(70), D(30), RETURN) == D("4.162135")


@pytest.mark.parametrize("side", [FLOW, RETURN])
def test_k_decreases_as_the_water_gets_hotter(side: FlowSensorSide) -> None:
    # The same 20 K difference at rising temperatures: hotter water is lighter, so a m³ carries less heat.
    ladder = [heat_coefficient_mj_per_m3_k(D(flow), D(flow - 20), side) for flow in (50, 70, 90, 110)]
    assert ladder == sorted(ladder, reverse=True)
    assert len(set(ladder)) == len(ladder)


def test_the_return_side_k_exceeds_the_flow_side_k_by_about_one_percent_at_70_50() -> None:
    # Return water is cooler and denser (smaller specific volume), so k is larger: about 1 % (domain.md §3).
    flow_side = heat_coefficient_mj_per_m3_k(D(70), D(50), FLOW)
    return_side = heat_coefficient_mj_per_m3_k(D(70), D(50), RETURN)
    assert D("1.005") < return_side / flow_side < D("1.015")


def test_temperatures_are_taken_to_a_hundredth_of_a_degree() -> None:
    # 70.004 °C rounds to 70.00 °C, so k equals the check point's.
    assert heat_coefficient_mj_per_m3_k(D("70.004"), D(30), FLOW) == D("4.087442")


@pytest.mark.parametrize(("flow_c", "return_c"), [(D(30), D(70)), (D(50), D(50)), (D("70.001"), D("70.004"))])
def test_k_needs_the_flow_warmer_than_the_return(flow_c: Decimal, return_c: Decimal) -> None:
    with pytest.raises(ValueError, match="must exceed"):
        heat_coefficient_mj_per_m3_k(flow_c, return_c, FLOW)


@pytest.mark.parametrize(("flow_c", "return_c"), [(D(20), D(0)), (D(200), D(150))])
def test_k_is_only_defined_between_0_and_200_degrees(flow_c: Decimal, return_c: Decimal) -> None:
    with pytest.raises(ValueError, match="between 0 °C and 200 °C"):
        heat_coefficient_mj_per_m3_k(flow_c, return_c, FLOW)


# -- maximum permissible error ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("accuracy_class", "expected"),
    [
        # q_p/q = 2.5/2.5 = 1, Δθ 20 K, Δθ_min 3 K. Calculator 0.5 + 3/20 = 0.65; pair 0.5 + 3·3/20 = 0.95.
        (CLASS_1, D("2.61")),  # flow sensor 1 + 0.01·1 = 1.01; 1.01 + 0.65 + 0.95
        (CLASS_2, D("3.62")),  # flow sensor 2 + 0.02·1 = 2.02; 2.02 + 0.65 + 0.95
        (CLASS_3, D("4.65")),  # flow sensor 3 + 0.05·1 = 3.05; 3.05 + 0.65 + 0.95
    ],
)
def test_the_complete_meter_error_is_the_sum_of_its_three_parts(
    accuracy_class: AccuracyClass, expected: Decimal
) -> None:
    assert maximum_permissible_error_percent(accuracy_class, D("2.5"), D(20)) == expected


def test_the_error_grows_at_low_flow_and_small_temperature_difference() -> None:
    # class 2, q = 0.25 → q_p/q = 10: 2 + 0.02·10 = 2.2; Δθ 10: 0.5 + 3/10 = 0.8 and 0.5 + 9/10 = 1.4 → 4.4.
    assert maximum_permissible_error_percent(CLASS_2, D("0.25"), D(10)) == D("4.4")


def test_the_flow_sensor_part_is_capped_at_five_percent() -> None:
    # class 3, q = 0.05 → q_p/q = 50: 3 + 0.05·50 = 5.5, capped at 5. Δθ 30: 0.5 + 0.1 and 0.5 + 0.3 → 5 + 0.6 + 0.8.
    assert maximum_permissible_error_percent(CLASS_3, D("0.05"), D(30)) == D("6.4")


def test_the_cap_does_not_touch_a_flow_part_below_it() -> None:
    # class 2, q = 0.025 → q_p/q = 100: 2 + 0.02·100 = 4 (< 5). Δθ 30: 0.6 + 0.8 → 5.4.
    assert maximum_permissible_error_percent(CLASS_2, D("0.025"), D(30)) == D("5.4")


def test_a_larger_minimum_temperature_difference_widens_the_error() -> None:
    # Δθ_min 5 K, Δθ 20 K: calculator 0.5 + 5/20 = 0.75, pair 0.5 + 15/20 = 1.25; class 2 at q_p: 2.02 → 4.02.
    assert maximum_permissible_error_percent(CLASS_2, D("2.5"), D(20), minimum_temperature_difference_k=D(5)) == D(
        "4.02"
    )


def test_a_meter_with_a_larger_permanent_flow_is_judged_at_its_own_ratio() -> None:
    # q_p 6 m³/h at q 0.6: ratio 10 → class 1: 1 + 0.1 = 1.1; Δθ 20: 0.65 + 0.95 → 2.7.
    assert maximum_permissible_error_percent(CLASS_1, D("0.6"), D(20), permanent_flow_m3_h=D(6)) == D("2.7")


@pytest.mark.parametrize(("flow", "difference"), [(D(0), D(20)), (D(1), D(0)), (D(-1), D(20))])
def test_the_error_needs_positive_flow_and_temperature_difference(flow: Decimal, difference: Decimal) -> None:
    with pytest.raises(ValueError, match="must be positive"):
        maximum_permissible_error_percent(CLASS_2, flow, difference)


# -- the plausibility check of an interval ---------------------------------------------------

# 1 m³ in 10 h at 70/30 °C on the return side, class 2: q = 0.1 m³/h → q_p/q = 25.
# MPE = (2 + 0.02·25) + (0.5 + 3/40) + (0.5 + 9/40) = 2.5 + 0.575 + 0.725 = 3.80 %.
K_RETURN_70_30 = D("4.162135")
# expected = k·Δθ·V = 4.162135 × 40 × 1 / 1000 = 0.1664854 GJ → 0.166485 to 1 kJ.
EXPECTED_GJ = D("0.166485")


def test_an_interval_matching_k_times_delta_theta_times_volume_is_plausible() -> None:
    k = heat_coefficient_mj_per_m3_k(D(70), D(30), RETURN)
    assert k == K_RETURN_70_30
    check = check_interval(EXPECTED_GJ, D(1), D(10), D(70), D(30), RETURN, CLASS_2)
    assert check is not None
    assert check.expected_energy_gj == (k * 40 * 1 / 1000).quantize(D("0.000001")) == EXPECTED_GJ
    assert (check.deviation_percent, check.permissible_error_percent, check.plausible) == (D("0.00"), D("3.80"), True)


def test_the_flow_side_expects_less_energy_for_the_same_volume() -> None:
    # 4.087442 × 40 × 1 / 1000 = 0.16349768 → 0.163498 GJ.
    check = check_interval(D("0.163498"), D(1), D(10), D(70), D(30), FLOW, CLASS_2)
    assert check is not None
    assert (check.expected_energy_gj, check.deviation_percent) == (D("0.163498"), D("0.00"))


def test_ten_percent_over_k_is_implausible() -> None:
    # (0.183134 − 0.166485) / 0.166485 = 10.0003 % → 10.00 % > 3.80 %.
    check = check_interval(D("0.183134"), D(1), D(10), D(70), D(30), RETURN, CLASS_2)
    assert check is not None
    assert (check.deviation_percent, check.plausible) == (D("10.00"), False)


@pytest.mark.parametrize(
    ("energy_gj", "deviation", "plausible"),
    [
        ("0.172811", "3.80", True),  # +0.006326 / 0.166485 = 3.7998 % → 3.80 %: on the limit
        ("0.172830", "3.81", False),  # +0.006345 / 0.166485 = 3.8112 % → 3.81 %: just over
        ("0.160160", "-3.80", True),  # −0.006325 / 0.166485 = −3.7991 % → −3.80 %: under-registering, on the limit
        ("0.160140", "-3.81", False),  # −0.006345 / 0.166485 = −3.8112 % → −3.81 %
    ],
)
def test_the_permissible_error_is_a_limit_on_both_sides(energy_gj: str, deviation: str, plausible: bool) -> None:
    check = check_interval(D(energy_gj), D(1), D(10), D(70), D(30), RETURN, CLASS_2)
    assert check is not None
    assert (check.deviation_percent, check.plausible) == (D(deviation), plausible)


@pytest.mark.parametrize(
    ("volume", "hours", "flow_c", "return_c"),
    [
        (D(0), D(10), D(70), D(30)),  # no flow
        (D(1), D(0), D(70), D(30)),  # no time
        (D(1), D(10), D(30), D(30)),  # no temperature difference
        (D(1), D(10), D(30), D(40)),  # return warmer than flow
    ],
)
def test_an_interval_without_flow_time_or_temperature_difference_cannot_be_checked(
    volume: Decimal, hours: Decimal, flow_c: Decimal, return_c: Decimal
) -> None:
    assert check_interval(D("0.1"), volume, hours, flow_c, return_c, RETURN, CLASS_2) is None
