"""The ledger's save collects events as the library's does (issue 17): same events, same order,
same aggregates, whatever mix of aggregates and events it is given; and its loads rebuild a meter
as the library's projector does."""

from __future__ import annotations

from typing import Any

from eventsourcing.application import ProcessingEvent, project_aggregate
from hypothesis import given, settings
from hypothesis import strategies as st

from application.ledger import _CollectedEvents, project_events
from domain import ids
from domain.meter import Meter
from tests.strategies import (
    COMMISSIONED_AT,
    RECEIVED_LATER,
    ReadingPlan,
    apply_plan,
    memory_ledger,
    new_meter,
    reading_plans,
    values,
)


def _pending(meter_count: int, readings: list[int]) -> list[Meter]:
    """Meters with their commissioning and a few readings pending each."""
    meters = [new_meter(serial=f"M-{number}") for number in range(meter_count)]
    for number, meter in enumerate(meters):
        for day in range(readings[number % len(readings)]):
            reading = values(COMMISSIONED_AT.replace(day=2 + day), f"{100 + day}")
            meter.record_reading(reading, RECEIVED_LATER, meter.id, "device", "test")
    return meters


def _collected(
    processing_event: ProcessingEvent[Any], objs: list[Any]
) -> tuple[list[Any], dict[Any, Any], dict[str, Any]]:
    processing_event.collect_events(*objs, marker="kept")
    return processing_event.events, processing_event.aggregates, processing_event.saved_kwargs


@given(
    meter_count=st.integers(min_value=0, max_value=4),
    readings=st.lists(st.integers(min_value=0, max_value=3), min_size=1, max_size=4),
    loose=st.lists(st.integers(min_value=0, max_value=8), max_size=4),
    gaps=st.lists(st.integers(min_value=0, max_value=6), max_size=3),
)
def test_collected_as_the_library_collects(
    meter_count: int, readings: list[int], loose: list[int], gaps: list[int]
) -> None:
    ours_meters = _pending(meter_count, readings)
    library_meters = _pending(meter_count, readings)
    # Some of the events handed over loose (as events, not in an aggregate), some Nones, in places.
    spare = _pending(1, [3])[0]
    loose_events = list(spare.collect_events())
    ours_objs: list[Any] = list(ours_meters)
    library_objs: list[Any] = list(library_meters)
    for position in loose:
        chosen = loose_events[position % len(loose_events)]
        ours_objs.insert(position % (len(ours_objs) + 1), chosen)
        library_objs.insert(position % (len(library_objs) + 1), chosen)
    for position in gaps:
        ours_objs.insert(position % (len(ours_objs) + 1), None)
        library_objs.insert(position % (len(library_objs) + 1), None)
    ours_events, ours_aggregates, ours_kwargs = _collected(_CollectedEvents(), ours_objs)
    library_events, library_aggregates, library_kwargs = _collected(ProcessingEvent(), library_objs)
    assert [_fields(event) for event in ours_events] == [_fields(event) for event in library_events]
    assert list(ours_aggregates) == list(library_aggregates)
    assert ours_kwargs == library_kwargs == {"marker": "kept"}
    assert all(not meter._pending_events for meter in ours_meters)


def _fields(event: Any) -> tuple[type, dict[str, Any]]:
    state = dict(event.__dict__)
    state.pop("timestamp")
    state.pop("correlation_id", None)  # each side's meters were commissioned in a context of their own
    return type(event), state


@settings(max_examples=40, deadline=None)
@given(plan=reading_plans(max_readings=12))
def test_a_meter_rebuilt_without_the_protocol_check_is_the_librarys(plan: ReadingPlan) -> None:
    """``project_events`` (the ledger's loads and snapshots) rebuilds what ``project_aggregate`` does."""
    ledger = memory_ledger()
    played = apply_plan(ledger, plan, "P")
    meter_id = ids.meter_id(played.serial)
    ours = project_events(None, ledger.events.get(meter_id))
    library = project_aggregate(None, ledger.events.get(meter_id))
    assert isinstance(ours, Meter) and isinstance(library, Meter)
    assert ours.__dict__ == library.__dict__
    ledger.evict_ids([meter_id])
    assert ledger.meter(played.serial).__dict__ == library.__dict__  # loaded through _load
