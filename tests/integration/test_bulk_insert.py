"""RowsInserter writes exactly what SQLAlchemy's own executemany INSERT writes, on both backends.

The reading projection writes its rows with it, so every stored value must be the same: the rows
are written both ways and read back as the database holds them (no result processing).
"""

from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal
from typing import Any
from uuid import UUID

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy import Connection, Table, delete, insert
from sqlalchemy.exc import IntegrityError

from infrastructure.container import Container
from projections.bulk_insert import ConvertedValues, RowsInserter
from projections.tables import daily_consumption, meter_intervals, meter_readings

METER_IDS = [UUID(int=number) for number in (1, 2**100, 2**128 - 1)]
# Text as PostgreSQL stores it (no NUL, no lone surrogates).
TEXT = st.text(st.characters(exclude_categories=("Cs",), exclude_characters="\x00"), max_size=20)
ZONES = [UTC, timezone(timedelta(hours=8)), timezone(timedelta(hours=-5, minutes=-30))]


@st.composite
def aware_datetimes(draw: st.DrawFn) -> datetime:
    moment = draw(st.datetimes(min_value=datetime(2000, 1, 2), max_value=datetime(2099, 12, 30)))
    return moment.replace(tzinfo=UTC).astimezone(draw(st.sampled_from(ZONES)))


def scaled(places: int) -> st.SearchStrategy[Decimal]:
    """Decimals with at most ``places`` decimals, written with varying exponents (1.5 and 1.50)."""
    return st.builds(
        lambda units, shown: Decimal(units).scaleb(-shown), st.integers(-(10**9), 10**9), st.integers(0, places)
    )


def optional(strategy: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    return st.none() | strategy


@st.composite
def reading_rows(draw: st.DrawFn) -> list[tuple[Any, ...]]:
    starts = draw(st.lists(aware_datetimes(), min_size=1, max_size=12, unique_by=lambda moment: moment.timestamp()))
    recorded = draw(aware_datetimes())  # one recording moment shared by several rows, as in a batch
    return [
        (
            draw(st.sampled_from(METER_IDS)),
            start,
            draw(scaled(9)),
            draw(optional(scaled(6))),
            draw(optional(scaled(3))),
            draw(optional(scaled(3))),
            draw(optional(scaled(3))),
            draw(optional(scaled(3))),
            draw(optional(scaled(3))),
            draw(st.integers(0, 2**16)),
            draw(st.sampled_from(["manual", "mbus", "estimate"])),
            draw(st.booleans()),
            draw(st.uuids()),
            draw(st.sampled_from([recorded, draw(aware_datetimes())])),
            draw(TEXT),
            draw(optional(scaled(9))),
            draw(optional(scaled(6))),
            draw(optional(TEXT)),
            draw(optional(st.sampled_from(["flow", "flow,temperature"]))),
        )
        for start in starts
    ]


def _with_unique_keys(rows: list[tuple[Any, ...]], key_width: int) -> list[tuple[Any, ...]]:
    unique: dict[tuple[Any, ...], tuple[Any, ...]] = {}
    for row in rows:
        unique.setdefault(tuple(str(value) for value in row[:key_width]), row)
    return list(unique.values())


def stored_rows(connection: Connection, table: Table) -> list[str]:
    """The table's rows as the database holds them, in a stable order."""
    return sorted(repr(tuple(row)) for row in connection.exec_driver_sql(f"SELECT * FROM {table.name}"))


def written_both_ways(connection: Connection, table: Table, rows: list[tuple[Any, ...]]) -> tuple[list[str], list[str]]:
    names = [column.key for column in table.columns]
    connection.execute(delete(table))
    connection.execute(insert(table), [dict(zip(names, row, strict=True)) for row in rows])
    by_sqlalchemy = stored_rows(connection, table)
    connection.execute(delete(table))
    RowsInserter(table).insert(connection, rows, ConvertedValues())
    by_inserter = stored_rows(connection, table)
    connection.execute(delete(table))
    return by_sqlalchemy, by_inserter


@settings(max_examples=20)
@given(rows=reading_rows())
def test_readings_intervals_and_days_are_stored_as_sqlalchemy_stores_them(
    container: Container, rows: list[tuple[Any, ...]]
) -> None:
    readings = _with_unique_keys(rows, 2)
    intervals = [
        (
            meter,
            start,
            start + timedelta(hours=1),
            energy,
            volume,
            row[12],
            row[5],
            None,
            row[7],
            row[11],
            "measured",
            row[18],
        )
        for row in readings
        for meter, start, energy, volume in [row[:4]]
    ]
    days = [
        (meter, start, start.date(), energy, volume, row[12], "household", "estimated", "碧桂园", "1")
        for row in readings
        for meter, start, energy, volume in [row[:4]]
    ]
    with container.engine.begin() as connection:
        for table, table_rows in ((meter_readings, readings), (meter_intervals, intervals), (daily_consumption, days)):
            by_sqlalchemy, by_inserter = written_both_ways(connection, table, table_rows)
            assert by_inserter == by_sqlalchemy
            assert len(by_inserter) == len(table_rows)


def test_a_row_that_exists_already_is_an_integrity_error(container: Container) -> None:
    # The projection runner tells a racing worker by IntegrityError: it must stay SQLAlchemy's.
    moment = datetime(2025, 11, 1, tzinfo=UTC)
    row = (
        METER_IDS[0],
        moment,
        moment + timedelta(hours=1),
        Decimal("0.5"),
        None,
        None,
        None,
        None,
        None,
        None,
        "measured",
        None,
    )
    with pytest.raises(IntegrityError), container.engine.begin() as connection:
        RowsInserter(meter_intervals).insert(connection, [row, row])


def test_a_value_finer_than_its_column_is_refused(container: Container) -> None:
    moment = datetime(2025, 11, 1, tzinfo=UTC)
    too_fine = Decimal("0.0000000001")  # energy is kept in nano-GJ
    row = (
        METER_IDS[0],
        moment,
        moment + timedelta(hours=1),
        too_fine,
        None,
        None,
        None,
        None,
        None,
        None,
        "measured",
        None,
    )
    with pytest.raises(ValueError, match="more than 9 decimals"), container.engine.begin() as connection:
        RowsInserter(meter_intervals).insert(connection, [row])


def test_a_naive_datetime_is_refused(container: Container) -> None:
    moment = datetime(2025, 11, 1)
    row = (
        METER_IDS[0],
        moment,
        moment + timedelta(hours=1),
        Decimal(1),
        None,
        None,
        None,
        None,
        None,
        None,
        "measured",
        None,
    )
    with pytest.raises(ValueError, match="timezone-aware"), container.engine.begin() as connection:
        RowsInserter(meter_intervals).insert(connection, [row])
