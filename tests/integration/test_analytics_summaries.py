"""The analytics heat summaries (issue 15) on each backend, over random valid reading histories.

Every example plays a drawn reading plan (random gaps across midnights, arrivals out of order and
resent, so later readings replace intervals already projected), then maybe withdraws a reading and
maybe records late paperwork (the meter moved to another household at a past reading, so its
intervals are charged again and their days move to the other household and building). Then:

1. the summaries the projection kept up equal the summaries computed afresh from every daily row
   (``summarise_daily``), row for row;
2. a rebuilt projection gives the same summaries;
3. the reports' reads over them (heat per household and price period, for a drawn season and price
   periods starting on any day; heat per place and day) equal sums of the daily rows.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import date, timedelta
from decimal import Decimal
from itertools import count
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy import Engine, select

from application.authorization import SYSTEM
from domain import ids
from domain.season import Season
from infrastructure.container import Container
from infrastructure.settings import Backend
from projections.analytics_queries import SqlAnalyticsReads, _months_and_days
from projections.analytics_summary import (
    ANALYTICS_SUMMARY_TABLES,
    fees_of_bill,
    settlement_bill_fees,
    summarise_daily,
)
from projections.tables import bills, daily_consumption
from tests.strategies import ReadingPlan, apply_plan, commission_meter, reading_plans

EXAMPLES = {Backend.SQLITE: 16, Backend.POSTGRES: 10}
ZERO = Decimal(0)


@pytest.fixture
def tags() -> Iterator[str]:
    return (f"S{number:04d}" for number in count())


def summary_rows(engine: Engine) -> dict[str, list[tuple[Any, ...]]]:
    with engine.connect() as connection:
        return {
            table.name: sorted((tuple(row) for row in connection.execute(select(table))), key=repr)
            for table in ANALYTICS_SUMMARY_TABLES
        }


def summarised_afresh(engine: Engine) -> dict[str, list[tuple[Any, ...]]]:
    """The summaries ``summarise_daily`` writes from the daily rows (rolled back after reading)."""
    with engine.connect() as connection:
        transaction = connection.begin()
        try:
            summarise_daily(connection)
            return {
                table.name: sorted((tuple(row) for row in connection.execute(select(table))), key=repr)
                for table in ANALYTICS_SUMMARY_TABLES
            }
        finally:
            transaction.rollback()


@st.composite
def seasons_and_starts(draw: st.DrawFn) -> tuple[Season, list[date]]:
    """A season of a few weeks around the plans' readings (1 November on), and price periods
    starting on any day, inside the season or not."""
    first = date(2025, 10, 20) + timedelta(days=draw(st.integers(0, 30)))
    last = first + timedelta(days=draw(st.integers(0, 75)))
    starts = draw(st.lists(st.integers(0, 80).map(lambda offset: first + timedelta(days=offset)), max_size=3))
    return Season(first, last), [first, *starts]


def daily_heat(engine: Engine, household_id: Any) -> dict[date, Decimal]:
    columns = daily_consumption.c
    statement = select(columns.day, columns.energy_gj).where(
        columns.household_id == household_id, columns.meter_kind == "household"
    )
    days: dict[date, Decimal] = {}
    with engine.connect() as connection:
        for day, energy in connection.execute(statement):
            days[day] = days.get(day, ZERO) + energy
    return days


def expected_by_period(days: dict[date, Decimal], season: Season, starts: list[date]) -> tuple[Decimal, ...]:
    ordered = sorted(set(starts))
    parts = [ZERO] * len(ordered)
    for day, energy in days.items():
        if season.contains(day):
            parts[sum(1 for start in ordered[1:] if start <= day)] += energy
    return tuple(parts)


def late_paperwork(container: Container, plan: ReadingPlan, serial: str, second_account: str, index: int) -> None:
    """The meter moved to the second household at a past reading, recorded after the readings."""
    moved_at = plan.readings[index].measured_at
    container.ledger.detach_meter(SYSTEM, serial, moved_at, reason="moved to the flat next door")
    container.ledger.attach_meter(SYSTEM, second_account, serial, moved_at, reason="moved to the flat next door")


def test_the_summaries_kept_up_equal_the_daily_rows_summed_and_a_rebuild(
    container: Container, tags: Iterator[str]
) -> None:
    @settings(max_examples=EXAMPLES[container.settings.backend], deadline=None)
    @given(
        plan=reading_plans(max_readings=10, allow_switch=False),
        void=st.booleans(),
        move=st.booleans(),
        pick=st.integers(0, 1000),
        season_and_starts=seasons_and_starts(),
    )
    def kept_up(plan: ReadingPlan, void: bool, move: bool, pick: int, season_and_starts: Any) -> None:
        played = apply_plan(container.ledger, plan, next(tags))
        middle = 1 + pick % max(1, len(plan.readings) - 2)
        if void and len(plan.readings) >= 3:
            measured_at = plan.readings[middle].measured_at
            container.ledger.void_reading(SYSTEM, played.serial, measured_at, "misread")
        if move:
            late_paperwork(container, plan, played.serial, played.second_account, pick % len(plan.readings))
        container.catch_up()

        live = summary_rows(container.engine)
        assert live == summarised_afresh(container.engine)
        season, starts = season_and_starts
        reads = SqlAnalyticsReads(container.engine)
        found = {row.household_id: row.energy_by_period_gj for row in reads.household_seasons(season, starts)}
        for account in (played.first_account, played.second_account):
            household_id = ids.household_id(account)
            expected = expected_by_period(daily_heat(container.engine, household_id), season, starts)
            if household_id in found:
                assert found[household_id] == expected
            else:  # not supplied in the season: registered after it
                assert not any(expected)
        by_place: dict[tuple[Any, ...], Decimal] = {}
        for row in reads.place_days(season):
            key = (row.day, row.meter_kind, row.community, row.building, row.meter_id)
            by_place[key] = by_place.get(key, ZERO) + row.energy_gj
        assert by_place == place_days_summed(container.engine, season)

    kept_up()
    live = summary_rows(container.engine)
    assert container.runner.rebuild() == container.runner.max_notification_id()
    assert summary_rows(container.engine) == live


def place_days_summed(engine: Engine, season: Season) -> dict[tuple[Any, ...], Decimal]:
    """Heat per day and place from the daily rows: household meters per building, others per meter."""
    columns = daily_consumption.c
    statement = select(
        columns.day, columns.meter_kind, columns.community, columns.building, columns.meter_id, columns.energy_gj
    ).where(columns.day.between(season.first_day, season.last_day))
    sums: dict[tuple[Any, ...], Decimal] = {}
    with engine.connect() as connection:
        for day, kind, community, building, meter_id, energy in connection.execute(statement):
            key = (day, kind, community, building, None if kind == "household" else meter_id)
            sums[key] = sums.get(key, ZERO) + energy
    return sums


@given(season_and_starts=seasons_and_starts())
def test_a_season_is_whole_months_within_one_price_period_and_the_days_left_over(
    season_and_starts: tuple[Season, list[date]],
) -> None:
    season, starts = season_and_starts
    ordered = sorted(set(starts))
    months, ranges = _months_and_days(season, ordered)
    covered: list[date] = []
    for month in months:
        assert month.day == 1
        following = date(month.year + month.month // 12, month.month % 12 + 1, 1)
        month_days = [month + timedelta(days=offset) for offset in range((following - month).days)]
        periods = {sum(1 for start in ordered[1:] if start <= day) for day in month_days}
        assert len(periods) == 1, "a whole month read from the summary lies within one price period"
        covered += month_days
    for first, last in ranges:
        assert first <= last
        covered += [first + timedelta(days=offset) for offset in range((last - first).days + 1)]
    every_day = [season.first_day + timedelta(days=offset) for offset in range(season.days)]
    assert sorted(covered) == every_day, "each day of the season exactly once"


def test_each_settlement_bill_has_its_fees_written_beside_it_and_a_rebuild_writes_the_same(
    container: Container,
) -> None:
    """Billing runs (prepayment, settlement) through the application: every settlement bill, and
    only those, has a fees row equal to its lines' fees; a rebuild writes the same rows."""
    from tests.integration.test_analytics_read_models import AFTER_SEASON, Flat, VerticalPosition, build_community

    container.ledger.clock = lambda: AFTER_SEASON
    flats = [
        Flat(1, Decimal(90), Decimal(80), Decimal(30), 3, VerticalPosition.MIDDLE),
        Flat(2, Decimal(70), Decimal(70), Decimal(0), 1, VerticalPosition.TOP),
    ]
    build_community(container, "FEES-1", flats)
    with container.engine.connect() as connection:
        settlement = connection.execute(
            select(bills.c.bill_id, bills.c.household_id, bills.c.season_code, bills.c.lines).where(
                bills.c.kind == "settlement"
            )
        ).all()
        written = connection.execute(select(settlement_bill_fees)).all()
    assert len(settlement) == len(flats)
    expected = sorted(
        (bill_id, household_id, season_code, *map(str, fees_of_bill(json.loads(lines))))
        for bill_id, household_id, season_code, lines in settlement
    )
    assert sorted(tuple(row) for row in written) == expected
    container.runner.rebuild()
    with container.engine.connect() as connection:
        assert sorted(tuple(row) for row in connection.execute(select(settlement_bill_fees))) == expected


def test_a_building_meter_against_its_building_s_households_day_by_day(container: Container) -> None:
    """A building meter (0 → 60 GJ over the season) against its building's two household meters
    (30 and 25 GJ) and not the other building's: 5 GJ lost, 8.3 %; each day's delivered heat is
    that day's household rows of the building, each day's fed heat the building meter's rows."""
    from domain.values import MeterKind
    from tests.integration.test_analytics_read_models import (
        AFTER_SEASON,
        REGULATOR,
        SEASON,
        Flat,
        VerticalPosition,
        build_community,
        midnight,
    )
    from tests.strategies import item

    container.ledger.clock = lambda: AFTER_SEASON
    flats = [
        Flat(1, Decimal(90), Decimal(80), Decimal(30), 3, VerticalPosition.MIDDLE),
        Flat(1, Decimal(70), Decimal(70), Decimal(25), 1, VerticalPosition.TOP),
        Flat(2, Decimal(60), Decimal(60), Decimal(40), 2, VerticalPosition.BOTTOM),
    ]
    build_community(container, "BL-1", flats)
    commission_meter(container.ledger, "BM-BL-1", MeterKind.BUILDING, "BL-1", "1")
    ends = [midnight(SEASON.first_day), midnight(SEASON.last_day + timedelta(days=1))]
    readings = [item("BM-BL-1", ends[0], Decimal(0)), item("BM-BL-1", ends[1], Decimal(60))]
    assert container.ledger.record_readings(SYSTEM, readings).accepted == 2
    container.catch_up()

    report = container.analytics_reports.heat_loss(REGULATOR, SEASON.code, daily=True)
    [row] = [row for row in report.rows if row.kind == "building" and row.name == "BL-1 1"]
    assert (row.season.fed_energy_gj, row.season.delivered_energy_gj) == (Decimal(60), Decimal(55))
    assert (row.season.loss_gj, row.season.loss_percent) == (Decimal(5), Decimal("8.3"))
    household_days: dict[date, Decimal] = {}
    meter_days: dict[date, Decimal] = {}
    columns = daily_consumption.c
    with container.engine.connect() as connection:
        for day, energy, kind in connection.execute(
            select(columns.day, columns.energy_gj, columns.meter_kind).where(
                columns.community == "BL-1", columns.building == "1"
            )
        ):
            days = household_days if kind == "household" else meter_days
            days[day] = days.get(day, ZERO) + energy
    assert {day: (loss.fed_energy_gj, loss.delivered_energy_gj) for day, loss in row.days} == {
        day: (energy, household_days.get(day, ZERO)) for day, energy in meter_days.items()
    }
    assert len(row.days) == SEASON.days
