"""Properties of a meter over random valid histories arriving in random order (no store involved)."""

from decimal import Decimal
from itertools import pairwise
from typing import Any

from hypothesis import given

from domain.meter import Meter, RecordingOutcome
from tests.strategies import ReadingPlan, new_meter, reading_plans, record


def played(plan: ReadingPlan) -> tuple[Meter, list[RecordingOutcome]]:
    meter = new_meter(energy_register_width_gj=plan.width_gj)
    outcomes = [record(meter, plan.reading_values(number)) for number in range(len(plan.arrivals))]
    return meter, outcomes


def current_intervals(events: list[Any]) -> dict[Any, Any]:
    intervals: dict[Any, Any] = {}
    for event in events:
        if isinstance(event, Meter.ReadingRecorded):
            if event.replaced_interval_start is not None:
                del intervals[event.replaced_interval_start]
            intervals |= {interval.start: interval for interval in event.intervals}
    return intervals


@given(plan=reading_plans(allow_switch=False))
def test_every_reading_of_a_valid_history_is_taken_once_whatever_the_order(plan: ReadingPlan) -> None:
    meter, outcomes = played(plan)
    assert outcomes.count(RecordingOutcome.ACCEPTED) == meter.readings_count == plan.distinct_readings
    assert outcomes.count(RecordingOutcome.DUPLICATE) == len(plan.arrivals) - plan.distinct_readings
    assert [reading.measured_at for reading in meter.window] == [reading.measured_at for reading in plan.readings]


@given(plan=reading_plans(allow_switch=False))
def test_unwrapped_registers_rise_by_the_true_consumption(plan: ReadingPlan) -> None:
    meter, _ = played(plan)
    base = meter.window[0].energy_unwrapped_gj - plan.readings[0].cumulative_gj
    assert [reading.energy_unwrapped_gj - base for reading in meter.window] == [r.cumulative_gj for r in plan.readings]


@given(plan=reading_plans(allow_switch=False))
def test_the_current_intervals_chain_the_readings_and_sum_to_the_difference(plan: ReadingPlan) -> None:
    meter, _ = played(plan)
    intervals = current_intervals(list(meter.collect_events()))
    chain = sorted(intervals.values(), key=lambda interval: interval.start)
    times = [reading.measured_at for reading in plan.readings]
    assert [(interval.start, interval.end) for interval in chain] == list(pairwise(times))
    assert sum((interval.energy_gj for interval in chain), Decimal(0)) == plan.energy_difference_gj
    assert sum((interval.volume_m3 for interval in chain), Decimal(0)) == plan.volume_difference_m3
    assert all(interval.energy_gj >= 0 for interval in chain)


@given(plan=reading_plans(allow_switch=False))
def test_replaying_the_events_rebuilds_the_same_meter(plan: ReadingPlan) -> None:
    meter, _ = played(plan)
    replayed: Any = None
    for event in meter.collect_events():
        replayed = event.mutate(replayed)
    assert {name: value for name, value in vars(replayed).items() if name != "_pending_events"} == {
        name: value for name, value in vars(meter).items() if name != "_pending_events"
    }
