"""Metered intervals: their k·Δθ·ΔV plausibility fields and the household they are charged to."""

from decimal import Decimal
from typing import Any

from domain import ids
from domain.heat_physics import heat_coefficient_mj_per_m3_k
from domain.meter import Meter
from domain.readings import MeteredInterval
from domain.values import AccuracyClass, FlowSensorSide
from tests.strategies import COMMISSIONED_AT, SEASON_START, context, hours_after, new_meter, record, values

D = Decimal
T = SEASON_START
HOUSEHOLD_A, HOUSEHOLD_B = ids.household_id("A"), ids.household_id("B")


def interval_after(meter: Meter, hours: float, energy_gj: str, **fields: Any) -> MeteredInterval:
    record(meter, values(hours_after(T, hours), energy_gj, **fields))
    event = meter.pending_events[-1]
    assert isinstance(event, Meter.ReadingRecorded)
    return event.intervals[0]


def warm(flow: str = "70", return_: str = "30", **fields: Any) -> dict[str, Any]:
    return {"flow_temperature_c": flow, "return_temperature_c": return_} | fields


# -- plausibility ------------------------------------------------------------------------------

# 1 m³ in 10 h at 70/30 °C, return side, class 2 (q_p 2.5): expected 4.162135 × 40 × 1 / 1000 = 0.166485 GJ;
# MPE (2 + 0.02 × 2.5/0.1) + (0.5 + 3/40) + (0.5 + 9/40) = 2.5 + 0.575 + 0.725 = 3.80 %.


def test_an_interval_that_matches_physics_is_plausible() -> None:
    meter = new_meter()
    record(meter, values(T, "10.000000", **warm(volume_m3="100")))
    interval = interval_after(meter, 10, "10.166485", **warm(volume_m3="101"))
    assert (interval.energy_gj, interval.volume_m3) == (D("0.166485"), D(1))
    assert (interval.expected_energy_gj, interval.deviation_percent, interval.permissible_error_percent) == (
        D("0.166485"),
        D("0.00"),
        D("3.80"),
    )
    assert interval.plausible is True


def test_an_interval_ten_percent_over_physics_is_recorded_but_implausible() -> None:
    # (0.183134 − 0.166485) / 0.166485 = 10.00 % > 3.80 %.
    meter = new_meter()
    record(meter, values(T, "10.000000", **warm(volume_m3="100")))
    interval = interval_after(meter, 10, "10.183134", **warm(volume_m3="101"))
    assert (interval.deviation_percent, interval.plausible) == (D("10.00"), False)
    assert meter.readings_count == 2


def test_the_check_uses_the_mean_of_the_two_readings_temperatures() -> None:
    # (72 + 68) / 2 = 70 and (28 + 32) / 2 = 30: the same expectation as a steady 70/30.
    meter = new_meter()
    record(meter, values(T, "10.000000", **warm("72", "28", volume_m3="100")))
    interval = interval_after(meter, 10, "10.166485", **warm("68", "32", volume_m3="101"))
    assert interval.expected_energy_gj == D("0.166485")


def test_the_check_uses_the_side_and_class_the_meter_was_commissioned_with() -> None:
    # Flow side: k = 4.087442 → 4.087442 × 40 / 1000 = 0.163498 GJ. Class 1: (1 + 0.01 × 25) + 0.575 + 0.725 = 2.55 %.
    meter = new_meter(side=FlowSensorSide.FLOW, accuracy_class=AccuracyClass.CLASS_1)
    record(meter, values(T, "10.000000", **warm(volume_m3="100")))
    interval = interval_after(meter, 10, "10.163498", **warm(volume_m3="101"))
    k = heat_coefficient_mj_per_m3_k(D(70), D(30), FlowSensorSide.FLOW)
    assert interval.expected_energy_gj == (k * 40 / 1000).quantize(D("0.000001")) == D("0.163498")
    assert (interval.deviation_percent, interval.permissible_error_percent) == (D("0.00"), D("2.55"))


def test_an_interval_without_temperatures_is_not_checked() -> None:
    meter = new_meter()
    record(meter, values(T, "10", volume_m3="100"))
    interval = interval_after(meter, 10, "10.2", volume_m3="101", flow_temperature_c="70")
    assert (interval.expected_energy_gj, interval.deviation_percent, interval.permissible_error_percent) == (None,) * 3
    assert interval.plausible is None


def test_an_interval_without_volume_is_not_checked() -> None:
    meter = new_meter()
    record(meter, values(T, "10", **warm()))
    interval = interval_after(meter, 10, "10.2", **warm())
    assert (interval.volume_m3, interval.plausible) == (None, None)


def test_an_interval_without_flow_is_not_checked() -> None:
    meter = new_meter()
    record(meter, values(T, "10", **warm(volume_m3="100")))
    assert interval_after(meter, 10, "10", **warm(volume_m3="100")).plausible is None


def test_temperatures_outside_the_range_of_k_leave_the_interval_unchecked_instead_of_failing() -> None:
    # Return at 0 °C is a valid reading, but k needs 0 °C < θ_r: the reading is kept, unchecked.
    meter = new_meter()
    record(meter, values(T, "10", **warm("20", "0", volume_m3="100")))
    interval = interval_after(meter, 10, "10.05", **warm("20", "0", volume_m3="101"))
    assert (interval.energy_gj, interval.plausible) == (D("0.05"), None)


# -- the household an interval is charged to ----------------------------------------------------


def test_an_unattached_meter_charges_nobody() -> None:
    meter = new_meter()
    record(meter, values(T, "10"))
    assert interval_after(meter, 24, "11").household_id is None


def test_intervals_follow_the_household_at_their_start() -> None:
    # Attached to A from commissioning, moved to B at 24 h with a reading at the move.
    meter = new_meter()
    meter.attach_to(HOUSEHOLD_A, COMMISSIONED_AT, context())
    record(meter, values(T, "10"))
    assert interval_after(meter, 12, "10.5").household_id == HOUSEHOLD_A
    meter.detach(hours_after(T, 24), context())
    meter.attach_to(HOUSEHOLD_B, hours_after(T, 24), context())
    # 12 h → 24 h began while A had the meter: A's heat, although it ends on B's first moment.
    assert interval_after(meter, 24, "11").household_id == HOUSEHOLD_A
    assert interval_after(meter, 36, "11.5").household_id == HOUSEHOLD_B


def test_a_meter_read_before_its_first_attachment_charges_the_household_it_ends_with() -> None:
    meter = new_meter()
    record(meter, values(T, "10"))
    meter.attach_to(HOUSEHOLD_A, hours_after(T, 2), context())
    assert interval_after(meter, 24, "11").household_id == HOUSEHOLD_A


def test_a_late_reading_is_charged_by_the_attachment_history_not_the_current_household() -> None:
    meter = new_meter()
    meter.attach_to(HOUSEHOLD_A, COMMISSIONED_AT, context())
    record(meter, values(T, "10"))
    record(meter, values(hours_after(T, 48), "12"))
    meter.detach(hours_after(T, 30), context())
    meter.attach_to(HOUSEHOLD_B, hours_after(T, 30), context())
    record(meter, values(hours_after(T, 20), "11"))
    event = meter.pending_events[-1]
    assert isinstance(event, Meter.ReadingRecorded)
    # Both intervals began while A had the meter (20 h → 48 h spans the move at 30 h, for which no
    # reading was taken: it stays with the household it began with).
    assert [interval.household_id for interval in event.intervals] == [HOUSEHOLD_A, HOUSEHOLD_A]


def test_a_detached_meter_charges_nobody_until_attached_again() -> None:
    meter = new_meter()
    meter.attach_to(HOUSEHOLD_A, COMMISSIONED_AT, context())
    record(meter, values(T, "10"))
    meter.detach(hours_after(T, 1), context())
    # 0 h → 24 h began while A had the meter; the next interval begins detached.
    assert interval_after(meter, 24, "11").household_id == HOUSEHOLD_A
    assert interval_after(meter, 48, "12").household_id is None
