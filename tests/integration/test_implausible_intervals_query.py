"""The settlement's implausible-interval read finds exactly the rows of the query it replaced.

Issue 17 turned the read around: from a chunk's implausible intervals (a partial index) to their
day rows, instead of from every day row to its interval. The old statement is kept here as the
oracle; drawn read-model rows (intervals plausible, implausible or unchecked, meters moved between
households, building meters' rows, days inside and outside the window, decisions) must give the
same rows through both, on both backends.
"""

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any
from uuid import UUID

from hypothesis import event, given, settings
from hypothesis import strategies as st
from sqlalchemy import Connection, and_, delete, insert, select

from domain.implausible_heat import HeatDecision, ImplausibleInterval
from domain.values import MeterKind
from infrastructure.container import Container
from projections.implausible_heat_queries import (
    _COLUMNS,
    _DECISION_MATCHES,
    _implausible_interval,
    implausible_intervals,
)
from projections.tables import daily_consumption, implausible_heat_decisions, meter_intervals, meters
from tests.strategies import meters_row

HOUSEHOLDS = [UUID(int=number) for number in range(1, 5)]
METERS = [UUID(int=100 + number) for number in range(1, 5)]
FIRST_DAY = date(2025, 11, 3)
LAST_DAY = date(2025, 11, 8)
SEASON_START = datetime(2025, 11, 1, tzinfo=UTC)


def old_statement(chunk: list[UUID], first_day: date, last_day: date) -> Any:
    """The statement before issue 17's pass, word for word."""
    dc = daily_consumption.c
    on_days = (
        select(dc.meter_id, dc.interval_start_at)
        .where(
            dc.household_id.in_(chunk),
            dc.meter_kind == MeterKind.HOUSEHOLD.value,
            dc.day.between(first_day, last_day),
        )
        .distinct()
        .subquery("on_days")
    )
    return (
        select(*_COLUMNS)
        .select_from(on_days)
        .join(
            meter_intervals,
            and_(
                meter_intervals.c.meter_id == on_days.c.meter_id,
                meter_intervals.c.start_at == on_days.c.interval_start_at,
            ),
        )
        .join(meters, meters.c.meter_id == meter_intervals.c.meter_id)
        .outerjoin(implausible_heat_decisions, _DECISION_MATCHES)
        .where(meter_intervals.c.plausible.is_(False), meter_intervals.c.household_id.in_(chunk))
        .order_by(meter_intervals.c.household_id, meter_intervals.c.start_at, meters.c.serial)
    )


@st.composite
def read_models(draw: st.DrawFn) -> dict[str, list[dict[str, Any]]]:
    """Intervals of up to four meters over ten days, their day rows and some decisions."""
    intervals: list[dict[str, Any]] = []
    days: list[dict[str, Any]] = []
    decisions: list[dict[str, Any]] = []
    for meter_id in METERS:
        offsets = draw(st.lists(st.integers(0, 9), min_size=0, max_size=6, unique=True))
        for offset in sorted(offsets):
            start = SEASON_START + timedelta(days=offset)
            end = start + timedelta(days=draw(st.integers(1, 2)))
            household_id = draw(st.sampled_from([*HOUSEHOLDS, None]))
            plausible = draw(st.sampled_from([False, False, True, None]))
            intervals.append(
                {
                    "meter_id": meter_id,
                    "start_at": start,
                    "end_at": end,
                    "energy_gj": Decimal("38.5"),
                    "household_id": household_id,
                    "expected_energy_gj": Decimal("1.2"),
                    "deviation_percent": Decimal("3100"),
                    "permissible_error_percent": Decimal("5"),
                    "plausible": plausible,
                    "quality": "measured",
                }
            )
            # The day rows may name another household than the interval (a row re-pointed after a
            # move) or be a building meter's.
            for day in range((end - start).days):
                if draw(st.booleans()):
                    days.append(
                        {
                            "meter_id": meter_id,
                            "interval_start_at": start,
                            "day": (start + timedelta(days=day)).date(),
                            "energy_gj": Decimal("19.25"),
                            "household_id": draw(st.sampled_from([household_id, household_id, *HOUSEHOLDS])),
                            "meter_kind": draw(st.sampled_from([MeterKind.HOUSEHOLD.value, MeterKind.BUILDING.value])),
                            "quality": "measured",
                            "community": "c",
                            "building": "b",
                        }
                    )
            if draw(st.booleans()):
                decisions.append(
                    {
                        "meter_id": meter_id,
                        "interval_start_at": start,
                        "interval_end_at": draw(st.sampled_from([end, end + timedelta(hours=1)])),
                        "decision": HeatDecision.BILL_AS_MEASURED.value,
                        "estimated_energy_gj": None,
                        "method": "none",
                        "decided_at": SEASON_START,
                        "actor": "clerk",
                        "reason": "checked on site",
                        "correlation_id": UUID(int=7),
                    }
                )
    return {"intervals": intervals, "days": days, "decisions": decisions}


def _fill(connection: Connection, rows: dict[str, list[dict[str, Any]]]) -> None:
    for table in (meter_intervals, daily_consumption, implausible_heat_decisions):
        connection.execute(delete(table))
    for table, name in (
        (meter_intervals, "intervals"),
        (daily_consumption, "days"),
        (implausible_heat_decisions, "decisions"),
    ):
        if rows[name]:
            connection.execute(insert(table), rows[name])


def _with_meters(connection: Connection) -> None:
    if connection.execute(select(meters.c.meter_id)).first() is None:
        connection.execute(
            insert(meters), [meters_row(meter_id, number, SEASON_START) for number, meter_id in enumerate(METERS)]
        )


@given(rows=read_models(), chunk=st.lists(st.sampled_from(HOUSEHOLDS), min_size=1, max_size=4, unique=True))
@settings(max_examples=40)
def test_the_read_finds_the_rows_the_old_statement_found(
    container: Container, rows: dict[str, list[dict[str, Any]]], chunk: list[UUID]
) -> None:
    with container.engine.begin() as connection:
        _with_meters(connection)
        _fill(connection, rows)
        old_rows = connection.execute(old_statement(chunk, FIRST_DAY, LAST_DAY)).all()
    expected: dict[UUID, list[ImplausibleInterval]] = {}
    for row in old_rows:
        interval = _implausible_interval(row)
        if interval.evidence.far_beyond:
            expected.setdefault(row.household_id, []).append(interval)
    found = implausible_intervals(container.engine, chunk, FIRST_DAY, LAST_DAY)
    assert found == {household_id: tuple(intervals) for household_id, intervals in expected.items()}
    # Not vacuous: drawn stores do hold far-beyond intervals the chunk finds.
    event(f"found {sum(len(intervals) for intervals in found.values())}")
