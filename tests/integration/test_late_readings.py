"""A concentrator back after a week offline: its backlog of hourly readings arrives after the
meter's newer readings, in any order, and is taken whole on each backend (docs/metering-rules.md)."""

from collections.abc import Iterator
from decimal import Decimal
from itertools import count
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select

from application.authorization import SYSTEM
from application.ingestion import ItemStatus, ReadingItem
from application.ledger import HeatLedger
from domain import ids
from domain.meter import READING_WINDOW_SIZE
from infrastructure.container import Container, bootstrap
from infrastructure.settings import Backend, Settings
from projections.tables import daily_consumption, meter_intervals, meter_readings
from tests.strategies import SEASON_START, hours_after, household_with_meter, item

WEEK_HOURS = 7 * 24
# Readings before the week (the hour it began) and after it: more than a window, so the whole
# week lies older than every reading the meter remembers when the backlog arrives.
AFTER_THE_WEEK = range(WEEK_HOURS + 1, WEEK_HOURS + 1 + READING_WINDOW_SIZE + 20)
EXAMPLES = {Backend.SQLITE: 3, Backend.POSTGRES: 2}
Row = tuple[Any, ...]


@pytest.fixture
def tags() -> Iterator[str]:
    return (f"{number:03d}" for number in count())


@st.composite
def backlogs(draw: st.DrawFn) -> tuple[list[Decimal], list[int], list[int]]:
    """Hourly energy increments (0 … 0.3 GJ) over the week and after it, the order the week's 168
    readings arrive in, and the sizes of the batches they come in."""
    hours = AFTER_THE_WEEK.stop
    increments = [
        Decimal(step).scaleb(-3) for step in draw(st.lists(st.integers(0, 300), min_size=hours, max_size=hours))
    ]
    order = draw(st.permutations(range(1, WEEK_HOURS + 1)))
    sizes = draw(st.lists(st.integers(1, WEEK_HOURS), min_size=1, max_size=4))
    return increments, list(order), sizes


def registers(increments: list[Decimal]) -> list[Decimal]:
    """The energy register at each hour, from 1000.000 GJ."""
    total, values = Decimal(1000), []
    for increment in increments:
        total += increment
        values.append(total)
    return values


def readings(serial: str, energy: list[Decimal], hours: Iterator[int] | list[int] | range) -> list[ReadingItem]:
    return [item(serial, hours_after(SEASON_START, hour), energy[hour], volume_m3=Decimal(hour) / 4) for hour in hours]


def in_batches(items: list[ReadingItem], sizes: list[int]) -> Iterator[list[ReadingItem]]:
    start, index = 0, 0
    while start < len(items):
        size = sizes[index % len(sizes)]
        yield items[start : start + size]
        start, index = start + size, index + 1


def record(ledger: HeatLedger, batches: Iterator[list[ReadingItem]]) -> list[ItemStatus]:
    return [outcome.status for batch in batches for outcome in ledger.record_readings(SYSTEM, batch).outcomes]


def metered(container: Container, serial: str) -> tuple[list[Row], list[Row], int]:
    """The meter's intervals and daily consumption (without the meter's id) and its count of readings."""
    meter_id = ids.meter_id(serial)
    intervals, days = meter_intervals.c, daily_consumption.c
    with container.engine.connect() as connection:
        interval_rows = connection.execute(
            select(intervals.start_at, intervals.end_at, intervals.energy_gj, intervals.volume_m3)
            .where(intervals.meter_id == meter_id)
            .order_by(intervals.start_at)
        )
        day_rows = connection.execute(
            select(days.interval_start_at, days.day, days.energy_gj, days.volume_m3)
            .where(days.meter_id == meter_id)
            .order_by(days.interval_start_at, days.day)
        )
        reading_count = connection.execute(
            select(func.count()).select_from(meter_readings).where(meter_readings.c.meter_id == meter_id)
        ).scalar_one()
        return [tuple(row) for row in interval_rows], [tuple(row) for row in day_rows], reading_count


def test_a_week_of_hourly_readings_arriving_after_later_ones_is_taken_whole(
    container: Container, tags: Iterator[str]
) -> None:
    @settings(max_examples=EXAMPLES[container.settings.backend])
    @given(backlog=backlogs())
    def backlog_taken_whole(backlog: tuple[list[Decimal], list[int], list[int]]) -> None:
        increments, order, sizes = backlog
        energy, tag = registers(increments), next(tags)
        late, in_order = f"LATE-{tag}", f"ORDERED-{tag}"
        household_with_meter(container.ledger, f"WZ-L{tag}", late)
        household_with_meter(container.ledger, f"WZ-O{tag}", in_order)
        every_hour = range(AFTER_THE_WEEK.stop)
        assert set(record(container.ledger, iter([readings(in_order, energy, every_hour)]))) == {ItemStatus.ACCEPTED}

        newer = record(container.ledger, iter([readings(late, energy, [0, *AFTER_THE_WEEK])]))
        assert container.ledger.meter(late).verified_since == hours_after(SEASON_START, AFTER_THE_WEEK[20])
        week = record(container.ledger, in_batches(readings(late, energy, order), sizes))
        assert set(newer + week) == {ItemStatus.ACCEPTED}
        assert metered(container, late) == metered(container, in_order)

        version = container.ledger.meter(late).version
        resent = record(container.ledger, in_batches(readings(late, energy, reversed(order)), sizes[::-1]))
        assert set(resent) == {ItemStatus.DUPLICATE}
        assert container.ledger.meter(late).version == version
        assert metered(container, late)[2] == len(every_hour)

    backlog_taken_whole()


@pytest.fixture
def lagging_container(backend_settings: Settings) -> Iterator[Container]:
    """A container whose read models catch up only when told (as with a production worker)."""
    built = bootstrap(backend_settings.model_copy(update={"catch_up_after_command": False}))
    yield built
    built.close()


def test_a_backlog_is_judged_against_readings_the_read_models_have_not_applied_yet(
    lagging_container: Container,
) -> None:
    ledger = lagging_container.ledger
    household_with_meter(ledger, "WZ-1", "M-1")
    energy = registers([Decimal("0.1")] * AFTER_THE_WEEK.stop)
    ledger.record_readings(SYSTEM, readings("M-1", energy, [0]))
    lagging_container.catch_up()  # the read models hold the reading at 0 h only
    ledger.record_readings(SYSTEM, readings("M-1", energy, [2, 3, *AFTER_THE_WEEK]))
    # 1 h lies between 0 h (projected) and 2 h (saved, not projected; left the window).
    report = ledger.record_readings(SYSTEM, readings("M-1", energy, [1, 1]))
    assert [outcome.status for outcome in report.outcomes] == [ItemStatus.ACCEPTED, ItemStatus.DUPLICATE]
    lagging_container.catch_up()
    intervals = metered(lagging_container, "M-1")[0]
    # 1000.1 → 1000.2 → 1000.3: 0.1 GJ each side of the late reading, the 0 h → 2 h interval gone.
    assert intervals[:2] == [
        (hours_after(SEASON_START, 0), hours_after(SEASON_START, 1), Decimal("0.1"), Decimal("0.25")),
        (hours_after(SEASON_START, 1), hours_after(SEASON_START, 2), Decimal("0.1"), Decimal("0.25")),
    ]
