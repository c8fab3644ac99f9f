"""Readings that arrive out of order: between two readings, before the first, and older than the
window (judged against the stored history)."""

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any
from uuid import uuid4

import pytest

from domain.day_split import MAXIMUM_INTERVAL_DAYS
from domain.errors import ReadingRejectedError
from domain.meter import READING_WINDOW_SIZE, Meter, RecordingOutcome
from domain.readings import RememberedReading, readings_around
from domain.values import MeterKind
from tests.strategies import RECEIVED_LATER, SEASON_START, hours_after, new_meter, record, values

D = Decimal
T = SEASON_START


def last_event(meter: Meter) -> Any:
    event = meter.pending_events[-1]
    assert isinstance(event, Meter.ReadingRecorded)
    return event


def reason_of_rejection(meter: Meter, energy_gj: str, hours: float, **fields: Any) -> str:
    count = meter.readings_count
    with pytest.raises(ReadingRejectedError) as raised:
        record(meter, values(hours_after(T, hours), energy_gj, **fields))
    assert meter.readings_count == count
    return raised.value.reason


def meter_with(*readings: tuple[float, str], **meter_fields: Any) -> Meter:
    """A meter with readings given as (hours after T, energy register)."""
    meter = new_meter(**meter_fields)
    for hours, energy in readings:
        record(meter, values(hours_after(T, hours), energy))
    return meter


def test_a_late_reading_between_two_readings_splits_their_interval() -> None:
    # 10.000 at 0 h and 12.000 at 48 h; 10.800 arrives for 24 h: 0.800 + 1.200 replace the 2.000 interval.
    meter = meter_with((0, "10.000"), (48, "12.000"))
    assert record(meter, values(hours_after(T, 24), "10.800")) is RecordingOutcome.ACCEPTED
    event = last_event(meter)
    assert [(i.start, i.end, i.energy_gj) for i in event.intervals] == [
        (T, hours_after(T, 24), D("0.800")),
        (hours_after(T, 24), hours_after(T, 48), D("1.200")),
    ]
    assert (event.replaced_interval_start, event.replaced_interval_end) == (T, hours_after(T, 48))
    assert event.energy_unwrapped_gj == D("10.800")
    assert [reading.measured_at for reading in meter.window] == [T, hours_after(T, 24), hours_after(T, 48)]
    assert meter.latest_reading is not None and meter.latest_reading.measured_at == hours_after(T, 48)


def test_a_late_reading_equal_to_a_neighbour_is_consistent() -> None:
    # No heat between 0 h and 24 h: 0.000 + 2.000.
    meter = meter_with((0, "10.000"), (48, "12.000"))
    record(meter, values(hours_after(T, 24), "10.000"))
    assert [interval.energy_gj for interval in last_event(meter).intervals] == [D(0), D("2.000")]


def test_a_late_reading_above_the_next_reading_is_inconsistent_with_it() -> None:
    meter = meter_with((0, "10.000"), (48, "12.000"))
    assert reason_of_rejection(meter, "12.500", 24) == "inconsistent_with_next"


def test_a_late_reading_below_the_previous_reading_went_backwards() -> None:
    meter = meter_with((0, "10.000"), (48, "12.000"))
    assert reason_of_rejection(meter, "9.000", 24) == "register_backwards"


def test_late_operating_hours_above_the_next_readings_are_inconsistent() -> None:
    meter = new_meter()
    record(meter, values(T, "10", operating_hours="100"))
    record(meter, values(hours_after(T, 48), "12", operating_hours="148"))
    assert reason_of_rejection(meter, "11", 24, operating_hours="149") == "inconsistent_with_next"
    assert record(meter, values(hours_after(T, 24), "11", operating_hours="124")) is RecordingOutcome.ACCEPTED


def test_a_late_reading_must_also_be_plausible_against_the_next_reading() -> None:
    # 10 at 0 h, 11 at 10 h. 10.0 at 9 h leaves 1.0 GJ for the last hour: over 0.5 GJ/h × 1 h.
    meter = meter_with((0, "10"), (10, "11"))
    assert reason_of_rejection(meter, "10.0", 9) == "implausible_increase"
    # 10.9 at 1 h puts 0.9 GJ in the first hour: implausible against the previous reading.
    assert reason_of_rejection(meter, "10.9", 1) == "implausible_increase"


def test_a_late_reading_on_either_side_of_a_rollover_fits() -> None:
    # Width 1000: 999.000 at 0 h, 1.000 at 48 h (unwrapped 1001.000, 2.000 GJ in all).
    before_wrap = meter_with((0, "999.000"), (48, "1.000"), energy_register_width_gj=D(1000))
    record(before_wrap, values(hours_after(T, 24), "999.900"))
    # 999.900 − 999.000 = 0.900; then 1000 − 999.900 + 1.000 = 1.100.
    assert [interval.energy_gj for interval in last_event(before_wrap).intervals] == [D("0.900"), D("1.100")]
    after_wrap = meter_with((0, "999.000"), (48, "1.000"), energy_register_width_gj=D(1000))
    record(after_wrap, values(hours_after(T, 24), "0.400"))
    # 1000 − 999.000 + 0.400 = 1.400; then 1.000 − 0.400 = 0.600; unwrapped 1000.400.
    assert [interval.energy_gj for interval in last_event(after_wrap).intervals] == [D("1.400"), D("0.600")]
    assert last_event(after_wrap).energy_unwrapped_gj == D("1000.400")


def test_a_late_reading_that_would_need_a_second_wrap_is_inconsistent_with_the_next() -> None:
    # Building meter, width 1000: 10 at 0 h, 20 at 100 h. 995 at 50 h is 985 GJ after 10, and 995 → 20 would be
    # another wrap (25 GJ): 995 + 25 = 1020 ≠ the next reading's unwrapped 20.
    meter = meter_with(
        (0, "10"),
        (100, "20"),
        kind=MeterKind.BUILDING,
        community="碧桂园",
        building="3",
        energy_register_width_gj=D(1000),
    )
    assert reason_of_rejection(meter, "995", 50) == "inconsistent_with_next"


def test_a_reading_before_the_first_one_opens_the_history_earlier() -> None:
    # 10.000 at 24 h arrived first; 9.500 at 0 h is 0.500 GJ before it (unwrapped 10.000 − 0.500).
    meter = meter_with((24, "10.000"))
    record(meter, values(T, "9.500"))
    event = last_event(meter)
    assert [(i.start, i.end, i.energy_gj) for i in event.intervals] == [(T, hours_after(T, 24), D("0.500"))]
    assert (event.replaced_interval_start, event.replaced_interval_end) == (None, None)
    assert event.energy_unwrapped_gj == D("9.500")
    assert meter.window[0].measured_at == T


def test_a_reading_before_the_first_one_above_it_is_inconsistent_with_it() -> None:
    meter = meter_with((24, "10.000"))
    assert reason_of_rejection(meter, "10.001", 0) == "inconsistent_with_next"


def test_a_reading_before_the_first_one_across_a_wrap_unwraps_below_the_first() -> None:
    # Width 1000: 0.200 at 24 h came first; 999.700 at 0 h is 1000 − 999.700 + 0.200 = 0.500 GJ earlier.
    meter = meter_with((24, "0.200"), energy_register_width_gj=D(1000))
    record(meter, values(T, "999.700"))
    event = last_event(meter)
    assert event.energy_unwrapped_gj == D("-0.300")  # 0.200 − 0.500: unwrapped values are relative
    assert [interval.energy_gj for interval in event.intervals] == [D("0.500")]


def hourly_meter(count: int) -> Meter:
    """A meter with ``count`` hourly readings at 0 h, 1 h, …, rising 0.1 GJ an hour."""
    meter = new_meter()
    for hour in range(count):
        record(meter, values(hours_after(T, hour), D("0.1") * hour))
    return meter


def test_the_window_keeps_the_last_readings_and_marks_where_verification_starts() -> None:
    meter = hourly_meter(READING_WINDOW_SIZE + 1)
    # 101 readings: the one at 0 h left the window; the window starts, and verification starts, at 1 h.
    assert len(meter.window) == READING_WINDOW_SIZE
    assert meter.readings_count == READING_WINDOW_SIZE + 1
    assert meter.window[0].measured_at == hours_after(T, 1)
    assert meter.verified_since == hours_after(T, 1)


def test_a_full_window_without_overflow_verifies_everything() -> None:
    meter = hourly_meter(READING_WINDOW_SIZE)
    assert (len(meter.window), meter.verified_since) == (READING_WINDOW_SIZE, None)


def test_a_reading_older_than_the_window_is_rejected() -> None:
    meter = hourly_meter(READING_WINDOW_SIZE + 1)
    # 0.5 h lies before the window's first reading (1 h): its neighbours are no longer known.
    assert reason_of_rejection(meter, "0.05", 0.5) == "outside_window"
    # The reading that left the window cannot be recognised as a duplicate either.
    assert reason_of_rejection(meter, "0", 0) == "outside_window"


def test_a_late_reading_inside_the_window_is_still_accepted_and_pushes_the_oldest_out() -> None:
    meter = hourly_meter(READING_WINDOW_SIZE + 1)
    # 1.5 h lies between the window's first two readings (0.1 and 0.2 GJ).
    assert record(meter, values(hours_after(T, 1.5), "0.15")) is RecordingOutcome.ACCEPTED
    assert [reading.measured_at for reading in meter.window[:2]] == [hours_after(T, 1.5), hours_after(T, 2)]
    assert meter.verified_since == hours_after(T, 1.5)


def test_the_first_reading_of_the_window_is_still_a_duplicate() -> None:
    meter = hourly_meter(READING_WINDOW_SIZE + 1)
    assert record(meter, values(hours_after(T, 1), "0.1")) is RecordingOutcome.DUPLICATE


def test_readings_arriving_in_any_order_give_the_same_window_as_in_order() -> None:
    hours = [0, 30, 6, 48, 12, 24, 36]
    in_order, shuffled = new_meter(), new_meter()
    for hour in sorted(hours):
        record(in_order, values(hours_after(T, hour), D("0.05") * hour))
    for hour in hours:
        record(shuffled, values(hours_after(T, hour), D("0.05") * hour))
    assert [(r.measured_at, r.energy_unwrapped_gj) for r in shuffled.window] == [
        (r.measured_at, r.energy_unwrapped_gj) for r in in_order.window
    ]
    assert shuffled.window[0].measured_at + timedelta(hours=48) == shuffled.window[-1].measured_at


def decade_rejection(meter: Meter, hours: float) -> str:
    with pytest.raises(ReadingRejectedError) as raised:
        record(meter, values(hours_after(T, hours), "10.5"), received_at=DECADES_LATER)
    return raised.value.reason


DECADES_LATER = datetime(2045, 1, 1, tzinfo=UTC)
LONGEST_HOURS = MAXIMUM_INTERVAL_DAYS * 24


def test_a_reading_more_than_3660_days_after_the_previous_one_is_rejected() -> None:
    # A longer interval could not be shared across days (MAXIMUM_INTERVAL_DAYS); exactly 3660 days can.
    meter = meter_with((0, "10"))
    assert decade_rejection(meter, LONGEST_HOURS + 1 / 3600) == "interval_too_long"
    accepted = record(meter, values(hours_after(T, LONGEST_HOURS), "11"), received_at=DECADES_LATER)
    assert accepted is RecordingOutcome.ACCEPTED


def test_a_reading_more_than_3660_days_before_the_next_one_is_rejected() -> None:
    meter = new_meter()
    record(meter, values(hours_after(T, LONGEST_HOURS + 1), "11"), received_at=DECADES_LATER)
    assert decade_rejection(meter, 0) == "interval_too_long"


# -- readings older than the window, judged against the stored history ------------------------


class PendingHistory:
    """The meter's own recorded readings as its history: what the store holds once they are
    projected (a unit test never saves, so every reading the meter recorded is still pending)."""

    def __init__(self, meter: Meter) -> None:
        self.meter = meter

    def readings_around(self, measured_at: datetime) -> list[RememberedReading] | None:
        recorded = [
            event.remembered() for event in self.meter.pending_events if isinstance(event, Meter.ReadingRecorded)
        ]
        return readings_around(recorded, measured_at)


class HistoryThatCannotTell:
    def readings_around(self, measured_at: datetime) -> list[RememberedReading] | None:
        return None


def meter_with_a_gap_behind_its_window(missing_hour: int) -> Meter:
    """Hourly readings 10.000 + 0.1 GJ/h from 0 h to 101 h without ``missing_hour``: 101 readings,
    the window holds the newest 100."""
    meter = new_meter()
    for hour in range(READING_WINDOW_SIZE + 2):
        if hour != missing_hour:
            record(meter, values(hours_after(T, hour), D("10") + D("0.1") * hour))
    return meter


def record_with_history(meter: Meter, hours: float, energy_gj: str) -> RecordingOutcome:
    reading = values(hours_after(T, hours), energy_gj)
    return meter.record_reading(reading, RECEIVED_LATER, uuid4(), "device-7", "upload", PendingHistory(meter))


def rejection_with_history(meter: Meter, hours: float, energy_gj: str) -> str:
    count = meter.readings_count
    with pytest.raises(ReadingRejectedError) as raised:
        record_with_history(meter, hours, energy_gj)
    assert meter.readings_count == count
    return raised.value.reason


def test_a_reading_older_than_the_window_splits_the_interval_from_the_stored_reading_before_it() -> None:
    # Readings at 0 h and 2 h … 101 h; the window starts at 2 h, 0 h is stored only.
    # 10.130 at 1 h: 10.130 − 10.000 = 0.130 after 0 h, 10.200 − 10.130 = 0.070 before 2 h.
    meter = meter_with_a_gap_behind_its_window(missing_hour=1)
    window_before = list(meter.window)
    assert meter.window[0].measured_at == hours_after(T, 2)
    assert record_with_history(meter, 1, "10.130") is RecordingOutcome.ACCEPTED
    event = last_event(meter)
    assert [(i.start, i.end, i.energy_gj) for i in event.intervals] == [
        (T, hours_after(T, 1), D("0.130")),
        (hours_after(T, 1), hours_after(T, 2), D("0.070")),
    ]
    assert (event.replaced_interval_start, event.replaced_interval_end) == (T, hours_after(T, 2))
    # The window stays the newest 100 readings; the late one is counted but not remembered.
    assert meter.window == window_before
    assert meter.readings_count == READING_WINDOW_SIZE + 2


def test_a_reading_between_two_stored_readings_splits_their_interval() -> None:
    # Readings at 0 h, 2 h, 3 h … 101 h plus 102 h: the window starts at 3 h; 0 h and 2 h are stored only.
    meter = meter_with_a_gap_behind_its_window(missing_hour=1)
    record(meter, values(hours_after(T, 102), "20.200"))
    assert meter.window[0].measured_at == hours_after(T, 3)
    assert record_with_history(meter, 1, "10.050") is RecordingOutcome.ACCEPTED
    # 10.050 − 10.000 = 0.050; 10.200 − 10.050 = 0.150.
    assert [(i.start, i.energy_gj) for i in last_event(meter).intervals] == [
        (T, D("0.050")),
        (hours_after(T, 1), D("0.150")),
    ]


def test_a_reading_before_every_stored_reading_opens_the_history_earlier() -> None:
    # 9.900 at −1 h: 0.100 GJ before the first stored reading (10.000 at 0 h).
    meter = meter_with_a_gap_behind_its_window(missing_hour=1)
    assert record_with_history(meter, -1, "9.900") is RecordingOutcome.ACCEPTED
    assert [(i.start, i.end, i.energy_gj) for i in last_event(meter).intervals] == [(hours_after(T, -1), T, D("0.100"))]
    assert last_event(meter).replaced_interval_start is None


def test_a_stored_reading_sent_again_is_a_duplicate_and_another_value_a_conflict() -> None:
    meter = meter_with_a_gap_behind_its_window(missing_hour=1)
    assert record_with_history(meter, 0, "10.000") is RecordingOutcome.DUPLICATE
    assert rejection_with_history(meter, 0, "10.001") == "conflicting_reading"
    record_with_history(meter, 1, "10.130")
    assert record_with_history(meter, 1, "10.1300") is RecordingOutcome.DUPLICATE


def test_a_reading_older_than_the_window_must_fit_between_its_stored_neighbours() -> None:
    meter = meter_with_a_gap_behind_its_window(missing_hour=1)
    assert rejection_with_history(meter, 1, "10.201") == "inconsistent_with_next"
    assert rejection_with_history(meter, 1, "9.999") == "register_backwards"
    # 9.000 at −1 h would put 1.000 GJ in the hour before 0 h: more than a flat's meter can (0.5 GJ/h).
    assert rejection_with_history(meter, -1, "9.000") == "implausible_increase"


def test_a_reading_older_than_the_window_is_refused_when_the_history_cannot_tell() -> None:
    meter = meter_with_a_gap_behind_its_window(missing_hour=1)
    with pytest.raises(ReadingRejectedError) as raised:
        meter.record_reading(
            values(hours_after(T, 1), "10.130"), RECEIVED_LATER, uuid4(), "device-7", "upload", HistoryThatCannotTell()
        )
    assert raised.value.reason == "outside_window"


def test_readings_around_picks_the_nearest_with_volume_and_hours_on_each_side() -> None:
    def remembered(hours: int, volume: str | None = None, operating_hours: str | None = None) -> RememberedReading:
        return RememberedReading(
            hours_after(T, hours),
            D(hours),
            D(hours),
            None if volume is None else D(volume),
            None if volume is None else D(volume),
            None if operating_hours is None else D(operating_hours),
            None,
            None,
            f"fingerprint-{hours}",
        )

    readings = [
        remembered(1, volume="1", operating_hours="1"),
        remembered(2, volume="2"),
        remembered(3),
        remembered(5),
        remembered(6),
        remembered(7, operating_hours="7"),
        remembered(8, volume="8"),
        remembered(9, volume="9", operating_hours="9"),
    ]
    # Before 5 h: 3 h (nearest), 2 h (volume), 1 h (hours); after: 6 h, 7 h (hours), 8 h (volume); 5 h itself.
    chosen = readings_around(reversed(readings), hours_after(T, 5))
    assert [reading.measured_at for reading in chosen] == [hours_after(T, hour) for hour in (1, 2, 3, 5, 6, 7, 8)]
