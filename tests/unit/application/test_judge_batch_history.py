"""``judge_batch`` asks for a meter's history only when a reading needs it (issue 17), and judges
exactly as when every item was handed its meter's history up front."""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal
from unittest.mock import patch
from uuid import UUID

from hypothesis import given
from hypothesis import strategies as st

from application.ingestion import ItemOutcome, ReadingItem, judge_batch
from domain.errors import ReadingRejectedError
from domain.meter import Meter
from domain.readings import ReadingHistory, RememberedReading, readings_around
from tests.strategies import COMMISSIONED_AT, RECEIVED_LATER, item, new_meter

BATCH = UUID(int=17)


class _ListedHistory:
    """The readings a test says the store holds (the meter's own, as they were recorded)."""

    def __init__(self, readings: list[RememberedReading]) -> None:
        self.readings = readings

    def readings_around(self, measured_at: datetime) -> list[RememberedReading] | None:
        return readings_around(self.readings, measured_at)


def _day(day: int, energy: int) -> ReadingItem:
    return item("M-1", COMMISSIONED_AT + timedelta(days=day), Decimal(100 + energy))


def test_new_readings_never_ask_for_a_history() -> None:
    meter = new_meter(serial="M-1")
    asked: list[Meter] = []

    def history_for(meter: Meter) -> ReadingHistory:
        asked.append(meter)
        return _ListedHistory([])

    outcomes, changed = judge_batch(
        [_day(day, day) for day in range(1, 6)],
        {"M-1": meter}.get,
        RECEIVED_LATER,
        BATCH,
        "device",
        "test",
        history_for,
    )
    assert [outcome.status for outcome in outcomes] == ["accepted"] * 5
    assert changed == [meter] and asked == []


def _eager_outcomes(meter: Meter, items: list[ReadingItem], history: ReadingHistory) -> list[str]:
    """Each reading judged with the history handed over before it is judged (as before)."""
    outcomes = []
    for reading in items:
        try:
            outcomes.append(str(meter.record_reading(reading.values, RECEIVED_LATER, BATCH, "device", "test", history)))
        except ReadingRejectedError as error:
            outcomes.append(error.reason)
    return outcomes


def _statuses(outcomes: list[ItemOutcome]) -> list[str]:
    return [outcome.reason or str(outcome.status) for outcome in outcomes]


@given(
    days=st.lists(st.integers(min_value=1, max_value=30), min_size=1, max_size=12),
    energies=st.lists(st.integers(min_value=0, max_value=60), min_size=12, max_size=12),
)
def test_a_history_asked_for_late_judges_as_one_handed_over(days: list[int], energies: list[int]) -> None:
    """Readings in any order with a window of three, so late ones are judged against the history
    (the meter's readings as recorded, listed): the same outcomes and events as with the history
    handed to every reading, and the history asked for only when a reading lies beyond the window."""
    items = [_day(day, energy) for day, energy in zip(days, energies, strict=False)]
    with patch("domain.meter.READING_WINDOW_SIZE", 3):
        lazy, eager = new_meter(serial="M-1"), new_meter(serial="M-1")
        lazy_history, eager_history = _ListedHistory([]), _ListedHistory([])
        asked = []

        def history_for(meter: Meter) -> ReadingHistory:
            asked.append(meter.id)
            return lazy_history

        beyond = 0
        for reading in items:  # one batch an item, so the listed history can follow the meter
            beyond += lazy._beyond_window(reading.values.measured_at)
            outcomes, _ = judge_batch(
                [reading], {"M-1": lazy}.get, RECEIVED_LATER, BATCH, "device", "test", history_for
            )
            lazy_history.readings = _recorded(lazy)
            eager_outcomes = _eager_outcomes(eager, [reading], eager_history)
            eager_history.readings = _recorded(eager)
            assert _statuses(outcomes) == eager_outcomes
            assert len(asked) == beyond  # asked once for each reading older than the window
    # After the commissioning (its correlation id is drawn per meter): the same events.
    assert [event.__dict__ | {"timestamp": None} for event in lazy.collect_events()[1:]] == [
        event.__dict__ | {"timestamp": None} for event in eager.collect_events()[1:]
    ]


def _recorded(meter: Meter) -> list[RememberedReading]:
    """Every reading the meter's events recorded and did not void, by moment."""
    kept: dict[datetime, RememberedReading] = {}
    for event in meter.pending_events:
        if isinstance(event, Meter.ReadingRecorded):
            kept[event.measured_at] = event.remembered()
        elif isinstance(event, Meter.ReadingVoided):
            kept.pop(event.measured_at, None)
    return list(kept.values())
