"""The catch-up's look-ups by household plan by index on PostgreSQL even where the statistics would
have the whole table scanned (a table analysed empty, then filled), and only inside their block."""

from __future__ import annotations

from collections.abc import Iterator
from uuid import UUID

import pytest
from sqlalchemy import Engine, delete, insert, text

from projections.id_lists import among
from projections.plans import index_scans_preferred
from projections.tables import payment_allocations
from tests.conftest import migrated_postgres_engine

HOUSEHOLDS = [UUID(int=number + 1) for number in range(2_000)]


@pytest.fixture
def engine() -> Iterator[Engine]:
    with migrated_postgres_engine() as built:
        yield built


def _plan(connection: object, statement: object) -> str:
    compiled = statement.compile(connection)  # type: ignore[attr-defined]
    rows = connection.exec_driver_sql(f"EXPLAIN {compiled}", compiled.params)  # type: ignore[attr-defined]
    return "\n".join(row[0] for row in rows)


def test_the_allocations_of_a_chunk_are_deleted_by_index_after_the_table_was_analysed_empty(engine: Engine) -> None:
    with engine.begin() as connection:
        connection.exec_driver_sql("ANALYZE payment_allocations")  # the statistics of an empty table
        rows = [
            dict(
                household_id=household_id,
                sequence=sequence,
                credit_id=UUID(int=sequence + 10),
                credit_kind="payment",
                charge_id=UUID(int=sequence + 20),
                charge_kind="bill",
                amount_yuan=1,
            )
            for household_id in HOUSEHOLDS
            for sequence in range(3)
        ]
        connection.execute(insert(payment_allocations), rows)
        chunk = HOUSEHOLDS[:50]
        statement = delete(payment_allocations).where(among(connection, payment_allocations.c.household_id, chunk))
        planned_plainly = _plan(connection, statement)
        with index_scans_preferred(connection):
            planned = _plan(connection, statement)
            assert connection.execute(text("SHOW enable_seqscan")).scalar_one() == "off"
        assert connection.execute(text("SHOW enable_seqscan")).scalar_one() == "on"
    # Planned plainly (PostgreSQL 15 here) the delete scans every row: the case this guards against.
    assert "Seq Scan" not in planned and "payment_allocations_pkey" in planned, (planned, planned_plainly)
    with engine.connect() as connection:
        assert connection.execute(text("SHOW enable_seqscan")).scalar_one() == "on"
