"""RowsInserter's binary COPY stores exactly what its text COPY and SQLAlchemy's INSERT store, on
every table the projections' writers fill (PostgreSQL: SQLite has no COPY).

Rows are drawn from each table's own column types (NULLs where a column allows them, decimals of
every scale, aware datetimes in several zones, dates, UUIDs at the edges, text and JSON text),
written three ways into the same table and read back as the database holds them.
"""

from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal
from typing import Any
from uuid import UUID

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    Connection,
    Date,
    Engine,
    Integer,
    String,
    Table,
    Text,
    UniqueConstraint,
    Uuid,
    delete,
    insert,
)
from sqlalchemy.exc import DataError

import projections
from projections.balance_rows import json_text
from projections.bulk_insert import ConvertedValues, RowsInserter
from projections.types import ScaledDecimal, UtcDateTime
from tests.conftest import migrated_postgres_engine
from tests.integration.test_bulk_insert import scaled


def _written_tables() -> list[Table]:
    """The table of every RowsInserter the projections keep at module level (every writer's)."""
    found: dict[str, Table] = {}
    for module_info in pkgutil.iter_modules(projections.__path__):
        module = importlib.import_module(f"projections.{module_info.name}")
        for value in vars(module).values():
            if isinstance(value, RowsInserter):
                found[value.table.name] = value.table
    return [found[name] for name in sorted(found)]


WRITTEN_TABLES = _written_tables()
ZONES = [UTC, timezone(timedelta(hours=8)), timezone(timedelta(hours=-5, minutes=-30))]
EDGE_UUIDS = [UUID(int=0), UUID(int=1), UUID(int=2**127), UUID(int=2**128 - 1)]
# Text as PostgreSQL stores it (no NUL, no lone surrogates), Chinese addresses included.
CHARACTERS = st.characters(exclude_categories=["Cs"], exclude_characters="\x00")
JSON_VALUES = st.recursive(
    st.none() | st.text(CHARACTERS, max_size=8) | st.decimals(allow_nan=False, allow_infinity=False, places=3),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(CHARACTERS, max_size=6), inner, max_size=3),
    max_leaves=8,
)


@st.composite
def aware_datetimes(draw: st.DrawFn) -> datetime:
    moment = draw(st.datetimes(min_value=datetime(1970, 1, 2), max_value=datetime(2099, 12, 30)))
    return moment.replace(tzinfo=UTC).astimezone(draw(st.sampled_from(ZONES)))


def _values_of(column: Column[Any]) -> st.SearchStrategy[Any]:
    """Values a row of the ledger may hold in ``column`` (by its type: every type a writer's
    table has must be known here, or the test fails)."""
    column_type = column.type
    strategy: st.SearchStrategy[Any]
    if isinstance(column_type, ScaledDecimal):
        strategy = scaled(column_type.scale)
    elif isinstance(column_type, UtcDateTime):
        strategy = aware_datetimes()
    elif isinstance(column_type, Uuid):
        strategy = st.sampled_from(EDGE_UUIDS) | st.uuids()
    elif isinstance(column_type, Date):
        strategy = st.dates(min_value=date(1970, 1, 1), max_value=date(2099, 12, 31))
    elif isinstance(column_type, Boolean):
        strategy = st.booleans()
    elif isinstance(column_type, BigInteger):
        strategy = st.integers(-(2**63), 2**63 - 1)
    elif isinstance(column_type, Integer):
        strategy = st.integers(-(2**31), 2**31 - 1)
    elif isinstance(column_type, Text) or (isinstance(column_type, String) and column_type.length is None):
        strategy = st.text(CHARACTERS, max_size=40) | JSON_VALUES.map(json_text)
    elif isinstance(column_type, String):
        strategy = st.text(CHARACTERS, max_size=min(column_type.length or 0, 24))
    else:
        raise AssertionError(f"no values drawn for {column.table.name}.{column.name} ({column_type!r})")
    return st.none() | strategy if column.nullable else strategy


@st.composite
def tables_and_rows(draw: st.DrawFn) -> tuple[Table, list[tuple[Any, ...]]]:
    table = draw(st.sampled_from(WRITTEN_TABLES))
    row = st.tuples(*(_values_of(column) for column in table.columns))
    drawn = draw(st.lists(row, min_size=1, max_size=8))
    keys = _unique_keys(table)
    seen: set[tuple[int, tuple[str, ...]]] = set()
    rows = []
    for values in drawn:  # no two rows share a key (2025-01-01 in two zones is one key: compared in UTC)
        texts = {(number, tuple(_key_text(values[index]) for index in key)) for number, key in enumerate(keys)}
        if not texts & seen:
            seen |= texts
            rows.append(values)
    return table, rows


def _unique_keys(table: Table) -> list[list[int]]:
    """The column positions of each key the table refuses to repeat (primary, unique columns,
    unique constraints and indexes)."""
    position = {column.key: index for index, column in enumerate(table.columns)}
    keys = [[position[column.key] for column in table.primary_key.columns]]
    keys += [[position[column.key]] for column in table.columns if column.unique]
    for constraint in table.constraints:
        if isinstance(constraint, UniqueConstraint):
            keys.append([position[column.key] for column in constraint.columns])
    keys += [[position[column.key] for column in index.columns] for index in table.indexes if index.unique]
    return keys


def _key_text(value: Any) -> str:
    return value.astimezone(UTC).isoformat() if isinstance(value, datetime) else str(value)


@pytest.fixture(scope="module")
def engine() -> Iterator[Engine]:
    """A migrated PostgreSQL store's read models over one connection."""
    with migrated_postgres_engine() as built:
        yield built


def _stored(connection: Connection, table: Table) -> list[str]:
    """The table's rows as the database holds them, in a stable order."""
    return sorted(repr(tuple(row)) for row in connection.exec_driver_sql(f"SELECT * FROM {table.name}"))


def _written(connection: Connection, table: Table, write: Any) -> list[str]:
    connection.execute(delete(table))
    write()
    stored = _stored(connection, table)
    connection.execute(delete(table))
    return stored


def test_every_written_table_is_copied_in_binary(engine: Engine) -> None:
    # A column type without a binary form here would send its table back to text COPY quietly.
    assert len(WRITTEN_TABLES) >= 17, "the writers' tables were found"
    with engine.connect() as connection:
        for table in WRITTEN_TABLES:
            assert RowsInserter(table)._prepared_for(connection.dialect).copy_types is not None, table.name


@settings(max_examples=150)
@given(drawn=tables_and_rows())
def test_binary_copy_stores_what_text_copy_and_insert_store(
    engine: Engine, drawn: tuple[Table, list[tuple[Any, ...]]]
) -> None:
    table, rows = drawn
    names = [column.key for column in table.columns]
    with engine.begin() as connection:
        parameters = [dict(zip(names, row, strict=True)) for row in rows]
        by_insert = _written(connection, table, lambda: connection.execute(insert(table), parameters))
        by_text = _written(connection, table, lambda: RowsInserter(table, binary_copy=False).insert(connection, rows))
        by_binary = _written(connection, table, lambda: RowsInserter(table).insert(connection, rows, ConvertedValues()))
    assert by_binary == by_text == by_insert
    assert len(by_binary) == len(rows)


@pytest.mark.parametrize("binary_copy", [True, False], ids=["binary", "text"])
def test_text_longer_than_its_column_is_refused_both_ways(engine: Engine, binary_copy: bool) -> None:
    # Binary COPY applies no cast, but the server still checks a varchar's length as it reads it.
    table = next(table for table in WRITTEN_TABLES if table.name == "household_owner_changes")
    too_long = {column.key: "x" * (_length(column) + 1) for column in table.columns if _length(column)}
    assert too_long, "a bounded text column"
    row = tuple(too_long.get(column.key, _plain_value(column)) for column in table.columns)
    with pytest.raises(DataError), engine.begin() as connection:
        RowsInserter(table, binary_copy=binary_copy).insert(connection, [row])


def _length(column: Column[Any]) -> int:
    """A text column's bound (0: none, or not text)."""
    return (column.type.length or 0) if isinstance(column.type, String) else 0


def _plain_value(column: Column[Any]) -> Any:
    column_type = column.type
    if isinstance(column_type, Uuid):
        return UUID(int=7)
    if isinstance(column_type, Date):
        return date(2025, 11, 15)
    if isinstance(column_type, UtcDateTime):
        return datetime(2025, 11, 15, tzinfo=UTC)
    if isinstance(column_type, ScaledDecimal):
        return Decimal("1.5")
    if isinstance(column_type, Boolean):
        return True
    if isinstance(column_type, Integer):
        return 1
    return "x"
