"""The summaries' batch upkeep (issue 17): what a reading batch's flush writes into them.

``apply_day_changes`` and ``apply_added_days`` sum a batch's daily rows in Python with keys of
UUID ints, and on PostgreSQL write them by one upsert over binary arrays (``unnest_rows``), on
SQLite by an executemany. For any drawn sequence of batches (daily rows of every kind, quality and
household, across month ends, removed and added again, buckets emptied to zero rows):

1. ``added_rows`` sums day rows to the rows ``buckets_of`` (the summing the settlement's reads use)
   gives, bucket for bucket;
2. on each backend, the three summaries kept up batch by batch equal the summaries written afresh
   from the daily rows left (``summarise_daily``, ``summarise_evidence``), row for row.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from typing import Any
from uuid import UUID

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy import Connection, Engine, StaticPool, and_, bindparam, create_engine, delete, insert, select

from projections.analytics_summary import (
    apply_day_changes,
    household_heat_months,
    place_heat_days,
    summarise_daily,
)
from projections.evidence_months import (
    added_rows,
    apply_added_days,
    buckets_of,
    household_evidence_months,
    keys_of,
    summarise_evidence,
)
from projections.tables import ENERGY_SCALE, daily_consumption, metadata
from tests.conftest import migrated_postgres_engine
from tests.integration.test_bulk_insert import scaled

SUMMARIES = (household_heat_months, place_heat_days, household_evidence_months)
COLUMNS = tuple(daily_consumption.c.keys())
HOUSEHOLDS = [UUID(int=0), UUID(int=1), UUID(int=2**127), UUID("5b7c2f9e-1d2a-4c3b-9e8f-0a1b2c3d4e5f")]
METERS = [UUID(int=2), UUID(int=2**128 - 1), UUID("0f1e2d3c-4b5a-4968-8776-655443322110")]
KINDS = ["household", "household", "building", "substation"]
QUALITIES = ["measured", "estimated", "faulty"]
PLACES = [("Riverside", "B1"), ("Riverside", "B2"), ("河畔小区", "3号楼")]
FIRST_DAY = date(2026, 1, 29)  # days across two month ends


@st.composite
def day_rows(draw: st.DrawFn) -> tuple[Any, ...]:
    """A daily row in ``daily_consumption``'s column order."""
    day = FIRST_DAY + timedelta(days=draw(st.integers(0, 33)))
    start = datetime(day.year, day.month, day.day, tzinfo=UTC) - timedelta(hours=draw(st.integers(0, 47)))
    community, building = draw(st.sampled_from(PLACES))
    values = {
        "meter_id": draw(st.sampled_from(METERS)),
        "interval_start_at": start,
        "day": day,
        "energy_gj": draw(scaled(ENERGY_SCALE)),
        "volume_m3": None,
        "household_id": draw(st.none() | st.sampled_from(HOUSEHOLDS)),
        "meter_kind": draw(st.sampled_from(KINDS)),
        "quality": draw(st.sampled_from(QUALITIES)),
        "community": community,
        "building": building,
    }
    return tuple(values[name] for name in COLUMNS)


def primary_key(row: tuple[Any, ...]) -> tuple[Any, ...]:
    return row[:3]  # meter, interval start, day


@given(st.lists(day_rows(), max_size=40))
def test_added_rows_sum_day_rows_as_buckets_of_does(rows: list[tuple[Any, ...]]) -> None:
    summed = added_rows(rows)
    expected = {
        (household_id.int, meter_id.int, month): tuple(bucket.values((household_id, meter_id, month)).values())
        for (household_id, meter_id, month), bucket in buckets_of(rows).items()
    }
    assert {key: tuple(row) for key, row in summed.items()} == expected


Batch = tuple[list[tuple[Any, ...]], list[tuple[Any, ...]]]  # (removed, added)


@st.composite
def batch_plans(draw: st.DrawFn) -> list[Batch]:
    """Batches of a flush: some present rows removed (all of them, at times), absent rows added
    (rows removed before among them), no two present rows with one key."""
    pool = draw(st.lists(day_rows(), max_size=30, unique_by=primary_key))
    present: list[tuple[Any, ...]] = []
    batches: list[Batch] = []
    for _ in range(draw(st.integers(1, 4))):
        removed: list[tuple[Any, ...]] = []
        if len(present) > 0 and draw(st.booleans()):
            removed = draw(st.just(present) | st.lists(st.sampled_from(present), unique=True))
        kept = [row for row in present if row not in removed]
        absent = [row for row in pool if row not in kept]
        added = draw(st.lists(st.sampled_from(absent), unique=True)) if absent else []
        batches.append((removed, added))
        present = kept + added
    return batches


@pytest.fixture(scope="module", params=["sqlite", "postgres"])
def engine(request: pytest.FixtureRequest) -> Iterator[Engine]:
    """An empty store's read models on one connection, once per backend."""
    if request.param == "postgres":
        with migrated_postgres_engine() as built:
            yield built
        return
    built = create_engine("sqlite://", poolclass=StaticPool)
    metadata.create_all(built)
    yield built
    built.dispose()


def flush(connection: Connection, removed: list[tuple[Any, ...]], added: list[tuple[Any, ...]]) -> None:
    """What ``ReadingBatchWriter.flush`` does with a batch's daily rows: stale rows out, new rows
    in, then the summaries brought up to both."""
    table = daily_consumption.c
    if removed:
        connection.execute(
            delete(daily_consumption).where(and_(*(table[name] == bindparam(f"key_{name}") for name in COLUMNS[:3]))),
            [{f"key_{name}": value for name, value in zip(COLUMNS[:3], row, strict=False)} for row in removed],
        )
    if added:
        connection.execute(insert(daily_consumption), [dict(zip(COLUMNS, row, strict=True)) for row in added])
    apply_day_changes(connection, added, removed)
    apply_added_days(connection, added, keys_of(removed))


def summary_rows(connection: Connection) -> dict[str, list[tuple[Any, ...]]]:
    return {
        table.name: sorted((tuple(row) for row in connection.execute(select(table))), key=repr) for table in SUMMARIES
    }


@given(plan=batch_plans())
@settings(max_examples=40)
def test_the_summaries_kept_batch_by_batch_equal_them_written_afresh(engine: Engine, plan: list[Batch]) -> None:
    with engine.connect() as connection:
        transaction = connection.begin()
        try:
            for table in (*SUMMARIES, daily_consumption):
                connection.execute(delete(table))
            for removed, added in plan:
                flush(connection, removed, added)
            kept = summary_rows(connection)
            summarise_daily(connection)
            summarise_evidence(connection)
            assert kept == summary_rows(connection)
        finally:
            transaction.rollback()
