"""On PostgreSQL ``rewrite_balances`` upserts (the sums made by the server); it leaves the rows the
portable read-delete-insert leaves, for any balances already there and any run of changes."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal
from typing import Any
from uuid import UUID

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy import Connection, Engine, delete, insert, select

from projections.balance_batch import BalanceChange, read_and_replace_balances, rewrite_balances
from projections.bulk_insert import ConvertedValues
from projections.tables import balances
from tests.conftest import migrated_postgres_engine

HOUSEHOLDS = [UUID(int=number) for number in (1, 2, 2**64, 2**127, 2**128 - 1)]
AMOUNTS = st.builds(lambda cents: Decimal(cents).scaleb(-2), st.integers(-(10**9), 10**9))
MOMENTS = st.datetimes(min_value=datetime(2020, 1, 1), max_value=datetime(2030, 1, 1)).map(
    lambda moment: moment.replace(tzinfo=UTC).astimezone(timezone(timedelta(hours=8)))
)
PLACES = st.fixed_dictionaries(
    {
        "account_number": st.sampled_from(["HL-000001", "HL-000002"]),
        "community": st.sampled_from(["碧桂园", "万科城"]),
        "building": st.sampled_from(["1", "12"]),
    }
)


@st.composite
def balance_rows(draw: st.DrawFn) -> list[dict[str, Any]]:
    rows = []
    for household_id in draw(st.lists(st.sampled_from(HOUSEHOLDS), unique=True)):
        charged, paid = draw(AMOUNTS), draw(AMOUNTS)
        rows.append(
            dict(
                household_id=household_id,
                charged_yuan=charged,
                paid_yuan=paid,
                balance_yuan=charged - paid,
                last_bill_at=draw(st.none() | MOMENTS),
                **draw(PLACES),
            )
        )
    return rows


CHANGES = st.dictionaries(
    st.sampled_from(HOUSEHOLDS),
    st.builds(BalanceChange, PLACES, AMOUNTS, AMOUNTS, st.none() | MOMENTS),
    min_size=1,
)


@pytest.fixture(scope="module")
def engine() -> Iterator[Engine]:
    """A migrated PostgreSQL store's read models over one connection."""
    with migrated_postgres_engine() as built:
        yield built


def _after(connection: Connection, before: list[dict[str, Any]], write: Any) -> list[tuple[Any, ...]]:
    connection.execute(delete(balances))
    if before:
        connection.execute(insert(balances), before)
    write()
    return sorted(tuple(row) for row in connection.execute(select(balances)))


@settings(max_examples=80)
@given(before=balance_rows(), changes=CHANGES)
def test_the_upsert_leaves_the_rows_the_read_delete_insert_leaves(
    engine: Engine, before: list[dict[str, Any]], changes: dict[UUID, BalanceChange]
) -> None:
    with engine.begin() as connection:
        assert connection.dialect.name == "postgresql"
        upserted = _after(connection, before, lambda: rewrite_balances(connection, changes, ConvertedValues()))
        replaced = _after(connection, before, lambda: read_and_replace_balances(connection, changes, ConvertedValues()))
        connection.execute(delete(balances))
    assert upserted == replaced
    assert {row[0] for row in upserted} == {row["household_id"] for row in before} | changes.keys()
