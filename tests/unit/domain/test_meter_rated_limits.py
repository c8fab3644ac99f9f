"""Rated limits of a meter model (q_p, q_s, θ_min…θ_max, Δθ_min): declared at commissioning,
readings and intervals beyond them recorded and flagged with the rule they break. Hand-computed."""

from decimal import Decimal
from typing import Any

import pytest

from domain.errors import InvalidInputError
from domain.meter import Meter, RecordingOutcome
from domain.rated_limits import (
    InstantValues,
    LimitRule,
    RatedLimits,
    expected_power_kw,
    permitted_volume_m3,
    power_inconsistent,
)
from domain.values import AccuracyClass, FlowSensorSide, MeterKind
from tests.strategies import COMMISSIONED_AT, SEASON_START, context, hours_after, new_meter, record, values

D = Decimal
T = SEASON_START
FLAT = RatedLimits.declared(MeterKind.HOUSEHOLD)


def last_recorded(meter: Meter) -> Any:
    event = meter.pending_events[-1]
    assert isinstance(event, Meter.ReadingRecorded)
    return event


def reading_rules(meter: Meter) -> str:
    return str(last_recorded(meter).limit_breaches)


def interval_rules(meter: Meter) -> list[str]:
    return [interval.limit_breaches for interval in last_recorded(meter).intervals]


def test_a_flats_meter_defaults_to_q_p_2_5_q_s_5_theta_2_to_90_and_delta_theta_3() -> None:
    assert RatedLimits(D("2.5"), D("5.0"), D(2), D(90), D(3)) == FLAT
    # A DN15 meter marked q_p 1.5 gets q_s 3.0; building meters are flow-checked only when q_s is declared.
    assert RatedLimits.declared(MeterKind.HOUSEHOLD, D("1.5")).maximum_flow_m3_h == D("3.0")
    building = RatedLimits.declared(MeterKind.BUILDING, D(15))
    assert (building.maximum_flow_m3_h, building.maximum_temperature_c) == (None, D(130))


def test_commissioning_keeps_the_declared_limits() -> None:
    meter = Meter.commission(
        "M-9",
        "Kamstrup",
        "MULTICAL 403",
        AccuracyClass.CLASS_2,
        FlowSensorSide.RETURN,
        MeterKind.HOUSEHOLD,
        COMMISSIONED_AT,
        context(),
        permanent_flow_m3_h=D("1.5"),
        maximum_flow_m3_h=D(3),
        maximum_temperature_c=D(105),
        minimum_temperature_difference_k=D(5),
    )
    assert meter.rated_limits == RatedLimits(D("1.5"), D(3), D(2), D(105), D(5))


@pytest.mark.parametrize(
    ("declared", "field"),
    [
        ({"maximum_flow_m3_h": D(2)}, "maximum_flow_m3_h"),  # q_s below q_p 2.5
        ({"minimum_temperature_c": D(95)}, "maximum_temperature_c"),  # θ_min above θ_max 90
        ({"maximum_temperature_c": D(250)}, "maximum_temperature_c"),
        ({"minimum_temperature_difference_k": D(4)}, "minimum_temperature_difference_k"),
    ],
)
def test_limits_no_meter_has_are_refused(declared: dict[str, Decimal], field: str) -> None:
    with pytest.raises(InvalidInputError) as raised:
        RatedLimits.declared(MeterKind.HOUSEHOLD, **declared)
    assert (raised.value.message_key, raised.value.params["field"]) == ("rated_limit_invalid", field)


def test_480_m3_in_24_hours_on_a_q_p_2_5_meter_is_recorded_and_flagged_above_q_s() -> None:
    # 480 m³ / 24 h = 20 m³/h, over q_s = 5 m³/h.
    meter = new_meter()
    record(meter, values(T, "10.000", volume_m3="100.000", flow_temperature_c="70", return_temperature_c="50"))
    outcome = record(
        meter,
        values(hours_after(T, 24), "12.000", volume_m3="580.000", flow_temperature_c="70", return_temperature_c="50"),
    )
    assert outcome is RecordingOutcome.ACCEPTED
    assert interval_rules(meter) == [LimitRule.FLOW_ABOVE_MAXIMUM]


def test_more_than_q_p_all_day_plus_an_hour_at_q_s_is_flagged_above_q_p() -> None:
    # Permitted in 24 h: 2.5 × 24 + (5 − 2.5) × 1 = 62.5 m³. 62.5 passes, 65 (2.708 m³/h on average) does not.
    assert permitted_volume_m3(D(24), FLAT) == D("62.5")
    # 48 h: 2.5 × 48 + 2.5 × 2 = 125 m³; half an hour: 2.5 × 0.5 + 2.5 × 0.5 = 2.5 m³ (q_s all along).
    assert (permitted_volume_m3(D(48), FLAT), permitted_volume_m3(D("0.5"), FLAT)) == (D("125.0"), D("2.50"))
    meter = new_meter()
    record(meter, values(T, "10", volume_m3="100", flow_temperature_c="70", return_temperature_c="50"))
    record(
        meter, values(hours_after(T, 24), "11", volume_m3="162.5", flow_temperature_c="70", return_temperature_c="50")
    )
    assert interval_rules(meter) == [""]
    record(
        meter, values(hours_after(T, 48), "12", volume_m3="227.5", flow_temperature_c="70", return_temperature_c="50")
    )
    assert interval_rules(meter) == [LimitRule.FLOW_ABOVE_PERMANENT]


def test_180_and_175_degrees_on_a_flats_meter_are_recorded_and_flagged_out_of_range() -> None:
    meter = new_meter()
    assert record(meter, values(T, "10", flow_temperature_c="180", return_temperature_c="175")) is (
        RecordingOutcome.ACCEPTED
    )
    assert reading_rules(meter) == LimitRule.TEMPERATURE_OUT_OF_RANGE
    # 90 °C is the top of the range and passes; a return of 1.5 °C lies below θ_min 2 °C.
    record(meter, values(hours_after(T, 1), "10.01", flow_temperature_c="90", return_temperature_c="60"))
    assert reading_rules(meter) == ""
    record(meter, values(hours_after(T, 2), "10.02", flow_temperature_c="40", return_temperature_c="1.5"))
    assert reading_rules(meter) == LimitRule.TEMPERATURE_OUT_OF_RANGE


def test_a_building_meter_declares_its_own_range() -> None:
    meter = new_meter(kind=MeterKind.BUILDING, community="碧桂园", building="1")
    record(meter, values(T, "10", flow_temperature_c="120", return_temperature_c="70"))
    assert reading_rules(meter) == ""  # within 2…130 °C


def test_return_hotter_than_flow_while_energy_grows_is_flagged() -> None:
    meter = new_meter()
    record(meter, values(T, "10.000", flow_temperature_c="60", return_temperature_c="45"))
    record(meter, values(hours_after(T, 1), "10.020", flow_temperature_c="50", return_temperature_c="55"))
    assert interval_rules(meter) == [LimitRule.RETURN_ABOVE_FLOW]
    # No energy in the next hour: a swapped pair that measures nothing breaks no limit.
    record(meter, values(hours_after(T, 2), "10.020", flow_temperature_c="50", return_temperature_c="55"))
    assert interval_rules(meter) == [""]


def test_energy_growing_below_the_smallest_temperature_difference_is_flagged() -> None:
    # Δθ 2 K at both ends, under Δθ_min 3 K, while 0.01 GJ was counted.
    meter = new_meter()
    record(meter, values(T, "10.00", flow_temperature_c="40", return_temperature_c="38"))
    record(meter, values(hours_after(T, 1), "10.01", flow_temperature_c="40", return_temperature_c="38"))
    assert interval_rules(meter) == [LimitRule.TEMPERATURE_DIFFERENCE_BELOW_MINIMUM]


def test_an_instant_flow_above_q_s_is_flagged() -> None:
    meter = new_meter()
    record(meter, values(T, "10", flow_rate_m3_h="5.001"))
    assert reading_rules(meter) == LimitRule.FLOW_ABOVE_MAXIMUM
    record(meter, values(hours_after(T, 1), "10.01", flow_rate_m3_h="5.000"))
    assert reading_rules(meter) == ""


def test_power_is_cross_checked_against_q_k_delta_theta_within_the_meters_mpe() -> None:
    # k(70 °C, 30 °C, return side) = 4.162135 MJ/(m³·K): 0.5 m³/h × 4.162135 × 40 K = 83.2427 MJ/h ÷ 3.6 = 23.123 kW.
    assert expected_power_kw(D("0.5"), D(70), D(30), FlowSensorSide.RETURN) == D("23.123")

    # MPE of class 2 at q 0.5, q_p 2.5, Δθ 40 K: (2 + 0.02 × 5) + (0.5 + 3/40) + (0.5 + 9/40) = 3.4 %.
    # 23.900 kW is 3.36 % off: within; 24.000 kW is 3.79 % off: flagged.
    def frame(power: str) -> InstantValues:
        return InstantValues(D(70), D(30), D("0.5"), D(power))

    assert not power_inconsistent(frame("23.900"), FLAT, FlowSensorSide.RETURN, AccuracyClass.CLASS_2)
    assert power_inconsistent(frame("24.000"), FLAT, FlowSensorSide.RETURN, AccuracyClass.CLASS_2)
    meter = new_meter()
    reading = values(T, "10", flow_temperature_c="70", return_temperature_c="30", flow_rate_m3_h="0.5", power_kw="24")
    record(meter, reading)
    assert reading_rules(meter) == LimitRule.POWER_INCONSISTENT


def test_a_reading_breaking_several_limits_names_each() -> None:
    meter = new_meter()
    record(meter, values(T, "10", flow_temperature_c="95", return_temperature_c="60", flow_rate_m3_h="6"))
    assert reading_rules(meter) == "temperature_out_of_range,flow_above_maximum"


def test_a_faulty_reading_is_a_fault_not_a_limit_breach() -> None:
    meter = new_meter()
    record(meter, values(T, "10", flow_temperature_c="243", return_temperature_c="40", faulty=True))
    assert reading_rules(meter) == ""


def test_a_meter_commissioned_before_rated_limits_gets_its_kinds_defaults() -> None:
    state = {"kind": "household", "permanent_flow_m3_h": D("1.5")}
    Meter.Commissioned.upcast_v1_v2(state)
    assert state["maximum_flow_m3_h"] == D("3.0") and state["maximum_temperature_c"] == D(90)
    recorded: dict[str, Any] = {}
    Meter.ReadingRecorded.upcast_v1_v2(recorded)
    assert recorded == {"limit_breaches": ""}
