"""The reading rules of a meter: what is recorded, what is a duplicate, and what is rejected why."""

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from domain.errors import ReadingRejectedError
from domain.meter import FUTURE_TOLERANCE, Meter, RecordingOutcome
from domain.readings import ReadingValues
from domain.values import MeterKind, ReadingSource
from tests.strategies import COMMISSIONED_AT, SEASON_START, hours_after, new_meter, record, values

D = Decimal
T = SEASON_START  # 2025-11-01 00:00 UTC


def rejection(meter: Meter, reading: ReadingValues, received_at: datetime | None = None) -> ReadingRejectedError:
    """Record a reading that must be rejected; check that the meter did not change."""
    before = (list(meter.window), meter.readings_count, meter.verified_since, len(meter.pending_events))
    with pytest.raises(ReadingRejectedError) as raised:
        if received_at is None:
            record(meter, reading)
        else:
            record(meter, reading, received_at)
    assert (list(meter.window), meter.readings_count, meter.verified_since, len(meter.pending_events)) == before
    return raised.value


def last_event(meter: Meter) -> Any:
    event = meter.pending_events[-1]
    assert isinstance(event, Meter.ReadingRecorded)
    return event


# -- accepted readings ------------------------------------------------------------------------


def test_a_first_reading_is_recorded_without_an_interval() -> None:
    meter = new_meter()
    assert record(meter, values(T, "100.000")) is RecordingOutcome.ACCEPTED
    event = last_event(meter)
    assert (event.energy_gj, event.energy_unwrapped_gj, event.intervals) == (D("100.000"), D("100.000"), [])
    assert (event.replaced_interval_start, event.replaced_interval_end) == (None, None)
    assert meter.readings_count == 1
    assert meter.latest_reading is not None and meter.latest_reading.measured_at == T


def test_a_next_reading_records_the_interval_since_the_previous_one() -> None:
    meter = new_meter()
    record(meter, values(T, "100.000"))
    record(meter, values(hours_after(T, 24), "100.450", volume_m3="12.5"))
    (interval,) = last_event(meter).intervals
    # 100.450 − 100.000 = 0.450 GJ; no volume at the first reading, so no interval volume.
    assert (interval.start, interval.end) == (T, hours_after(T, 24))
    assert (interval.energy_gj, interval.volume_m3) == (D("0.450"), None)
    assert meter.readings_count == 2


def test_the_event_carries_every_reported_value_and_who_sent_it() -> None:
    meter = new_meter()
    reading = values(
        T,
        "1.5",
        volume_m3="10",
        operating_hours="100",
        flow_temperature_c="70.5",
        return_temperature_c="40.25",
        flow_rate_m3_h="0.12",
        power_kw="3.4",
        error_flags=4,
        source=ReadingSource.NBIOT,
    )
    record(meter, reading)
    event, fault = meter.pending_events[-2:]
    assert isinstance(event, Meter.ReadingRecorded) and isinstance(fault, Meter.FaultReported)
    assert (fault.error_flags, fault.previous_error_flags, fault.measured_at) == (4, 0, T)
    assert (event.volume_m3, event.operating_hours, event.flow_temperature_c, event.return_temperature_c) == (
        D(10),
        D(100),
        D("70.5"),
        D("40.25"),
    )
    assert (event.flow_rate_m3_h, event.power_kw, event.error_flags, event.source) == (D("0.12"), D("3.4"), 4, "nbiot")
    assert (event.actor, event.reason, event.fingerprint) == ("device-7", "upload", reading.fingerprint())


# -- duplicates and conflicts ------------------------------------------------------------------


def test_the_same_reading_twice_is_a_duplicate_and_records_nothing() -> None:
    meter = new_meter()
    record(meter, values(T, "1.50", volume_m3="2.0"))
    assert record(meter, values(T, "1.50", volume_m3="2.0")) is RecordingOutcome.DUPLICATE
    assert (meter.readings_count, len(meter.pending_events)) == (1, 2)


def test_trailing_zeros_do_not_make_a_reading_different() -> None:
    # 1.50 GJ and 1.5 GJ are the same register value.
    meter = new_meter()
    record(meter, values(T, "1.50"))
    assert record(meter, values(T, "1.5")) is RecordingOutcome.DUPLICATE


def test_the_same_instant_written_in_shanghai_time_is_a_duplicate() -> None:
    # 08:00 +08:00 is 00:00 UTC.
    meter = new_meter()
    record(meter, values(T, "1.5"))
    shanghai = datetime(2025, 11, 1, 8, tzinfo=ZoneInfo("Asia/Shanghai"))
    assert record(meter, values(shanghai, "1.5")) is RecordingOutcome.DUPLICATE


def test_the_same_reading_from_another_channel_is_a_duplicate() -> None:
    meter = new_meter()
    record(meter, values(T, "1.5", source=ReadingSource.MBUS))
    assert record(meter, values(T, "1.5", source=ReadingSource.MANUAL)) is RecordingOutcome.DUPLICATE


@pytest.mark.parametrize(
    "other",
    [{"energy_gj": "1.6"}, {"energy_gj": "1.5", "return_temperature_c": "41"}, {"energy_gj": "1.5", "error_flags": 1}],
)
def test_a_different_reading_for_the_same_time_is_a_conflict(other: dict[str, Any]) -> None:
    meter = new_meter()
    record(meter, values(T, "1.5", return_temperature_c="40"))
    fields = {"return_temperature_c": "40"} | other
    error = rejection(meter, values(T, fields.pop("energy_gj"), **fields))
    assert error.reason == "conflicting_reading"
    assert error.params["measured_at"] == T.isoformat()


# -- registers going backwards and rollovers ---------------------------------------------------


def test_an_energy_register_going_backwards_is_rejected() -> None:
    meter = new_meter()
    record(meter, values(T, "100.000"))
    error = rejection(meter, values(hours_after(T, 24), "99.999"))
    assert error.reason == "register_backwards"
    assert error.params == {
        "reason": "register_backwards",
        "register": "energy",
        "previous": "100.000",
        "current": "99.999",
    }


def test_a_volume_register_going_backwards_is_rejected() -> None:
    meter = new_meter()
    record(meter, values(T, "100", volume_m3="50"))
    error = rejection(meter, values(hours_after(T, 24), "101", volume_m3="49"))
    assert (error.reason, error.params["register"]) == ("register_backwards", "volume")


def test_operating_hours_going_backwards_are_rejected() -> None:
    meter = new_meter()
    record(meter, values(T, "100", operating_hours="500"))
    error = rejection(meter, values(hours_after(T, 24), "101", operating_hours="499"))
    assert (error.reason, error.params["register"]) == ("register_backwards", "operating_hours")


def test_a_rollover_at_the_declared_width_is_accepted_and_its_energy_counted_across_the_wrap() -> None:
    # Width 1000 GJ: 999.800 → 0.300 is 1000 − 999.800 + 0.300 = 0.500 GJ, unwrapped 1000.300.
    meter = new_meter(energy_register_width_gj=D(1000))
    record(meter, values(T, "999.800"))
    assert record(meter, values(hours_after(T, 24), "0.300")) is RecordingOutcome.ACCEPTED
    event = last_event(meter)
    assert event.energy_unwrapped_gj == D("1000.300")
    assert [interval.energy_gj for interval in event.intervals] == [D("0.500")]


def test_a_volume_rollover_at_its_width_is_accepted() -> None:
    # Width 100000 m³: 99999.5 → 0.7 is 0.5 + 0.7 = 1.2 m³.
    meter = new_meter(volume_register_width_m3=D(100000))
    record(meter, values(T, "1", volume_m3="99999.5"))
    record(meter, values(hours_after(T, 24), "2", volume_m3="0.7"))
    assert [interval.volume_m3 for interval in last_event(meter).intervals] == [D("1.2")]


def test_a_drop_far_from_the_top_is_not_a_rollover() -> None:
    # Width 1000: 500 → 3 would be 1000 − 500 + 3 = 503 GJ, more than the 10 % margin of 100 GJ.
    meter = new_meter(energy_register_width_gj=D(1000))
    record(meter, values(T, "500"))
    assert rejection(meter, values(hours_after(T, 24), "3")).reason == "register_backwards"


def test_the_rollover_margin_is_a_tenth_of_the_width() -> None:
    # Width 1000, building meter (20 GJ/h, so 24 h may add 480 GJ): 950 → 49.999 is 99.999 GJ (< 100): a wrap;
    # 950 → 50 would be exactly 100 GJ: not below the margin, so backwards.
    building = {"kind": MeterKind.BUILDING, "community": "碧桂园", "building": "3", "energy_register_width_gj": D(1000)}
    meter = new_meter(**building)
    record(meter, values(T, "950"))
    assert rejection(meter, values(hours_after(T, 24), "50")).reason == "register_backwards"
    assert record(meter, values(hours_after(T, 24), "49.999")) is RecordingOutcome.ACCEPTED
    assert last_event(meter).energy_unwrapped_gj == D("1049.999")


def test_without_a_declared_width_a_drop_near_the_top_is_backwards() -> None:
    meter = new_meter()
    record(meter, values(T, "999.800"))
    assert rejection(meter, values(hours_after(T, 24), "0.300")).reason == "register_backwards"


@pytest.mark.parametrize("register", ["1000", "1500"])
def test_a_register_at_or_above_its_declared_width_is_invalid(register: str) -> None:
    # A 1000 GJ register shows 0 … 999.999…; 1500 followed by 3 would otherwise look like a −497 GJ "rollover".
    meter = new_meter(energy_register_width_gj=D(1000))
    error = rejection(meter, values(T, register))
    assert (error.reason, error.params["register"]) == ("invalid_register", "energy")


def test_a_volume_at_or_above_its_declared_width_is_invalid() -> None:
    meter = new_meter(volume_register_width_m3=D(100000))
    error = rejection(meter, values(T, "1", volume_m3="100000"))
    assert (error.reason, error.params["register"]) == ("invalid_register", "volume")


# -- time rules --------------------------------------------------------------------------------


def test_a_reading_more_than_five_minutes_ahead_of_the_ledger_clock_is_rejected() -> None:
    received = datetime(2025, 11, 1, 12, tzinfo=UTC)
    meter = new_meter()
    error = rejection(meter, values(received + FUTURE_TOLERANCE + timedelta(seconds=1), "1"), received)
    assert error.reason == "future_timestamp"
    assert error.params["received_at"] == received.isoformat()


def test_a_reading_exactly_five_minutes_ahead_is_within_the_clock_drift_tolerance() -> None:
    received = datetime(2025, 11, 1, 12, tzinfo=UTC)
    meter = new_meter()
    assert record(meter, values(received + timedelta(minutes=5), "1"), received) is RecordingOutcome.ACCEPTED


def test_a_reading_from_before_commissioning_is_rejected() -> None:
    meter = new_meter()
    assert rejection(meter, values(COMMISSIONED_AT - timedelta(seconds=1), "1")).reason == "before_commissioning"
    assert record(meter, values(COMMISSIONED_AT, "1")) is RecordingOutcome.ACCEPTED


def test_a_naive_timestamp_is_rejected() -> None:
    assert rejection(new_meter(), values(datetime(2025, 11, 1, 8), "1")).reason == "naive_timestamp"


# -- invalid values ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("energy_gj", "-0.001"),
        ("energy_gj", "NaN"),
        ("energy_gj", "sNaN"),
        ("energy_gj", "Infinity"),
        ("energy_gj", "1.0000000001"),  # 10 decimals: finer than 1 J
        ("energy_gj", "1000000000000"),  # 10^12: beyond a 12-digit register
        ("volume_m3", "-1"),
        ("volume_m3", "0.0000000001"),
        ("operating_hours", "-1"),
    ],
)
def test_an_invalid_register_value_is_rejected(field: str, value: str) -> None:
    fields: dict[str, Any] = {"energy_gj": "1"} | {field: value}
    error = rejection(new_meter(), values(T, fields.pop("energy_gj"), **fields))
    assert error.reason == "invalid_register"
    assert error.params["register"] == {"energy_gj": "energy", "volume_m3": "volume"}.get(field, field)


def test_nine_decimals_and_the_largest_register_value_are_valid() -> None:
    meter = new_meter(kind=MeterKind.SUBSTATION_PRIMARY, community="碧桂园", building="站1")
    assert record(meter, values(T, "999999999.999999999")) is RecordingOutcome.ACCEPTED


@pytest.mark.parametrize(("field", "value"), [("flow_temperature_c", "250.01"), ("return_temperature_c", "-50.01")])
def test_a_temperature_outside_minus_50_to_250_is_rejected(field: str, value: str) -> None:
    error = rejection(new_meter(), values(T, "1", **{field: value}))
    assert (error.reason, error.params["field"]) == ("invalid_temperature", field)


@pytest.mark.parametrize(
    ("field", "value", "reason"),
    [
        ("energy_gj", "1000000000", "invalid_register"),  # 10⁹ GJ: the read models hold 10⁹ × 10⁹ units at most
        ("operating_hours", "1.0001", "invalid_register"),  # hours to 3 decimals
        ("flow_temperature_c", "70.0001", "invalid_temperature"),  # temperatures to 3 decimals
        ("return_temperature_c", "250", "invalid_temperature"),  # the upper bound is exclusive
        ("flow_rate_m3_h", "0.0001", "invalid_instant"),
        ("flow_rate_m3_h", "Infinity", "invalid_instant"),
        ("power_kw", "NaN", "invalid_instant"),
        ("power_kw", "-1000000000.001", "invalid_instant"),
    ],
)
def test_a_value_the_read_models_could_not_hold_is_rejected(field: str, value: str, reason: str) -> None:
    # Such a reading, once recorded, would stop the projection for good: every catch-up would fail on it.
    fields: dict[str, Any] = {"energy_gj": "1"} | {field: value}
    assert rejection(new_meter(), values(T, fields.pop("energy_gj"), **fields)).reason == reason


def test_the_largest_instant_values_are_valid() -> None:
    largest = {
        "operating_hours": "999999999.999",
        "flow_temperature_c": "249.999",
        "return_temperature_c": "-50",
        "flow_rate_m3_h": "-999999999.999",
        "power_kw": "999999999.999",
    }
    assert record(new_meter(), values(T, "1", **largest)) is RecordingOutcome.ACCEPTED


# -- implausible increases -----------------------------------------------------------------------


def test_a_household_meter_may_register_half_a_gigajoule_per_hour() -> None:
    # Within 30 min the limit is 0.5 GJ/h × max(0.5 h, 1 h) = 0.5 GJ: exactly 0.5 passes.
    meter = new_meter()
    record(meter, values(T, "10"))
    assert record(meter, values(hours_after(T, 0.5), "10.5")) is RecordingOutcome.ACCEPTED


def test_more_than_a_household_meter_can_register_is_rejected() -> None:
    # 10 h × 0.5 GJ/h = 5 GJ: 5.001 GJ is implausible.
    meter = new_meter()
    record(meter, values(T, "10"))
    error = rejection(meter, values(hours_after(T, 10), "15.001"))
    assert (error.reason, error.params["increase_gj"]) == ("implausible_increase", "5.001")


def test_a_building_meter_may_register_more_than_a_flat() -> None:
    # Building meters: 20 GJ/h, so 10 h may add up to 200 GJ.
    meter = new_meter(kind=MeterKind.BUILDING, community="碧桂园", building="3")
    record(meter, values(T, "10"))
    assert record(meter, values(hours_after(T, 10), "210")) is RecordingOutcome.ACCEPTED
    assert rejection(meter, values(hours_after(T, 20), "410.001")).reason == "implausible_increase"


def test_a_reading_without_volume_in_between_does_not_hide_a_volume_going_backwards() -> None:
    meter = new_meter()
    record(meter, values(T, "1", volume_m3="10"))
    record(meter, values(hours_after(T, 24), "2"))  # this reading reports no volume register
    error = rejection(meter, values(hours_after(T, 48), "3", volume_m3="9"))
    assert (error.reason, error.params["register"]) == ("register_backwards", "volume")


def test_a_late_reading_is_checked_against_the_next_reading_that_has_operating_hours() -> None:
    meter = new_meter()
    record(meter, values(T, "1", operating_hours="100"))
    record(meter, values(hours_after(T, 24), "2"))
    record(meter, values(hours_after(T, 48), "3", operating_hours="148"))
    error = rejection(meter, values(hours_after(T, 12), "1.5", operating_hours="150"))
    assert (error.reason, error.params["register"]) == ("inconsistent_with_next", "operating_hours")


# -- faults ----------------------------------------------------------------------------------------


def test_error_flags_are_reported_once_and_cleared_when_they_go() -> None:
    meter = new_meter()
    record(meter, values(T, "1", error_flags=4))
    record(meter, values(hours_after(T, 24), "2", error_flags=4))
    record(meter, values(hours_after(T, 48), "3"))
    kinds = [type(event).__name__ for event in meter.pending_events[1:]]
    assert kinds == ["ReadingRecorded", "FaultReported", "ReadingRecorded", "ReadingRecorded", "FaultCleared"]
    assert meter.error_flags == 0


def test_a_late_reading_does_not_change_the_fault_state() -> None:
    meter = new_meter()
    record(meter, values(T, "1"))
    record(meter, values(hours_after(T, 48), "3"))
    record(meter, values(hours_after(T, 24), "2", error_flags=8))
    assert meter.error_flags == 0
    assert not any(isinstance(event, Meter.FaultReported) for event in meter.pending_events)


def test_intervals_bounded_by_a_faulty_reading_are_not_billable_and_not_checked() -> None:
    meter = new_meter()
    measured = dict(volume_m3="10", flow_temperature_c="70", return_temperature_c="40")
    record(meter, values(T, "1", **measured))
    record(
        meter,
        values(
            hours_after(T, 24), "1.5", faulty=True, volume_m3="13", flow_temperature_c="243", return_temperature_c="40"
        ),
    )
    record(meter, values(hours_after(T, 48), "2", volume_m3="16", flow_temperature_c="70", return_temperature_c="40"))
    intervals = [
        interval
        for event in meter.pending_events
        if isinstance(event, Meter.ReadingRecorded)
        for interval in event.intervals
    ]
    assert [(interval.quality, interval.billable, interval.plausible) for interval in intervals] == [
        ("faulty", False, None),
        ("faulty", False, None),
    ]
