"""Properties of the whole ledger on each backend, over random valid reading histories.

Every example plays a drawn plan (random gaps across midnights, rollovers, random order of arrival,
resent readings, a move to another household) into the same wired container under fresh names,
and checks that: (1) a fresh application without a cache replays the live aggregate and the live
consumption; (2) a rebuilt projection equals the live one; (3) daily consumption sums exactly to
the register difference between the first and last reading.
"""

from collections.abc import Iterator
from decimal import Decimal
from itertools import count
from typing import Any
from uuid import UUID

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select

from application.authorization import SYSTEM
from application.ingestion import ItemStatus
from application.ledger import HeatLedger
from domain import ids
from domain.day_split import split_across_days
from domain.meter import Meter
from domain.values import Areas
from infrastructure.container import Container
from infrastructure.event_store import event_store_environment
from infrastructure.settings import Backend
from projections.tables import daily_consumption
from tests.strategies import PlayedPlan, ReadingPlan, apply_plan, projection_rows, reading_plans

# Every example adds to one store, and PostgreSQL round trips cost more: fewer examples there.
EXAMPLES = {Backend.SQLITE: 30, Backend.POSTGRES: 20}
DailyRow = tuple[Any, ...]


@pytest.fixture
def tags() -> Iterator[str]:
    """Fresh names for every example, since the examples share one container."""
    return (f"{number:04d}" for number in count())


def examples(container: Container) -> int:
    return EXAMPLES[container.settings.backend]


def uncached_ledger(container: Container) -> HeatLedger:
    environment = event_store_environment(container.settings)
    del environment["AGGREGATE_CACHE_MAXSIZE"]
    return HeatLedger(env=environment)


def aggregate_state(meter: Meter) -> dict[str, Any]:
    """Everything the meter holds (window, counts, verified_since, attachments, version), not its pending events."""
    return {name: value for name, value in vars(meter).items() if name != "_pending_events"}


def by_interval_and_day(row: DailyRow) -> tuple[Any, Any]:
    """An interval's start and a day name one row. Not ``repr``: a day split while another test
    froze the clock is a freezegun ``FakeDate`` (``split_across_days`` remembers midnights), equal
    to the stored ``date`` but printed differently, which once sorted 11-01 after 11-02."""
    return row[0], row[1]


def daily_rows_from_events(events: list[Any]) -> list[DailyRow]:
    """Daily consumption derived again from the stored events: current intervals split across days."""
    intervals: dict[Any, Any] = {}
    for event in events:
        if isinstance(event, Meter.ReadingRecorded):
            if event.replaced_interval_start is not None:
                del intervals[event.replaced_interval_start]
            intervals |= {interval.start: interval for interval in event.intervals}
    rows = [
        (
            interval.start,
            share.day,
            share.energy_gj,
            share.volume_m3 if interval.volume_m3 is not None else None,
            interval.household_id,
        )
        for interval in intervals.values()
        for share in split_across_days(
            interval.start, interval.end, interval.energy_gj, interval.volume_m3 or Decimal(0)
        )
    ]
    return sorted(rows, key=by_interval_and_day)


def projected_daily_rows(container: Container, meter_id: UUID) -> list[DailyRow]:
    columns = daily_consumption.c
    query = select(columns.interval_start_at, columns.day, columns.energy_gj, columns.volume_m3, columns.household_id)
    with container.engine.connect() as connection:
        rows = connection.execute(query.where(columns.meter_id == meter_id))
        return sorted((tuple(row) for row in rows), key=by_interval_and_day)


def assert_every_reading_taken_once(plan: ReadingPlan, played: PlayedPlan) -> None:
    outcomes = [status for status, _ in played.outcomes]
    assert ItemStatus.REJECTED not in outcomes, played.outcomes
    assert outcomes.count(ItemStatus.ACCEPTED) == plan.distinct_readings
    assert outcomes.count(ItemStatus.DUPLICATE) == len(plan.arrivals) - plan.distinct_readings


def test_a_replay_without_cache_gives_the_live_aggregate_and_consumption(
    container: Container, tags: Iterator[str]
) -> None:
    @settings(max_examples=examples(container))
    @given(plan=reading_plans())
    def replay_matches_live(plan: ReadingPlan) -> None:
        played = apply_plan(container.ledger, plan, next(tags))
        assert_every_reading_taken_once(plan, played)
        live = container.ledger.meter(played.serial)
        replayer = uncached_ledger(container)
        try:
            replayed = replayer.meter(played.serial)
            events = list(replayer.events.get(ids.meter_id(played.serial)))
        finally:
            replayer.close()
        assert aggregate_state(replayed) == aggregate_state(live)
        assert replayed.readings_count == plan.distinct_readings
        assert [reading.measured_at for reading in replayed.window] == [r.measured_at for r in plan.readings]
        assert projected_daily_rows(container, ids.meter_id(played.serial)) == daily_rows_from_events(events)

    replay_matches_live()


def test_daily_consumption_sums_to_the_register_difference(container: Container, tags: Iterator[str]) -> None:
    @settings(max_examples=examples(container))
    @given(plan=reading_plans())
    def consumption_adds_up(plan: ReadingPlan) -> None:
        played = apply_plan(container.ledger, plan, next(tags))
        assert_every_reading_taken_once(plan, played)
        meter = container.ledger.meter(played.serial)
        # The unwrapped registers carry the true difference across any rollover.
        unwrapped = meter.window[-1].energy_unwrapped_gj - meter.window[0].energy_unwrapped_gj
        assert unwrapped == plan.energy_difference_gj
        assert consumption(container, "meter_id", ids.meter_id(played.serial)) == (
            plan.energy_difference_gj,
            plan.volume_difference_m3,
        )
        first, second = ids.household_id(played.first_account), ids.household_id(played.second_account)
        cumulative = [reading.cumulative_gj for reading in plan.readings]
        # Intervals are charged to the household holding the meter when they begin; the move happens
        # at reading k, so the first household has readings 0 … k and the second k … n−1.
        moved_at = plan.switch_index if plan.switch_index is not None else len(cumulative) - 1
        assert consumption(container, "household_id", first)[0] == cumulative[moved_at] - cumulative[0]
        assert consumption(container, "household_id", second)[0] == cumulative[-1] - cumulative[moved_at]

    consumption_adds_up()


def consumption(container: Container, column: str, key: UUID) -> tuple[Decimal, Decimal]:
    columns = daily_consumption.c
    query = select(func.coalesce(func.sum(columns.energy_gj), 0), func.coalesce(func.sum(columns.volume_m3), 0))
    query = query.where(columns[column] == key)
    with container.engine.connect() as connection:
        energy, volume = connection.execute(query).one()
    return Decimal(energy), Decimal(volume)


def test_a_rebuilt_projection_equals_the_live_one(container: Container, tags: Iterator[str]) -> None:
    @settings(max_examples=examples(container) // 2)
    @given(plan=reading_plans(max_readings=12), correct_area=st.booleans(), suspend=st.booleans())
    def rebuild_matches_live(plan: ReadingPlan, correct_area: bool, suspend: bool) -> None:
        played = apply_plan(container.ledger, plan, next(tags))
        first_day, last_day = plan.readings[0].measured_at.date(), plan.readings[-1].measured_at.date()
        if correct_area:
            areas = Areas(Decimal("91.25"), Decimal("80.50"))
            container.ledger.correct_area(SYSTEM, played.first_account, areas, first_day, "survey")
        if suspend:
            container.ledger.suspend_heating(SYSTEM, played.second_account, last_day, "away")
        live = projection_rows(container.engine)
        assert container.runner.rebuild() == container.runner.max_notification_id()
        assert projection_rows(container.engine) == live

    rebuild_matches_live()
