"""``among`` selects and deletes the rows ``IN`` does, on both backends (``= ANY`` of one array on
PostgreSQL), with a statement text that does not change with the number of ids."""

from __future__ import annotations

from decimal import Decimal
from uuid import UUID

from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy import delete, insert, select

from infrastructure.container import Container
from projections.id_lists import among
from projections.tables import balances

STORED = [UUID(int=number) for number in (0, 1, 2**64, 2**127, 2**128 - 1)]
ASKED = st.lists(st.sampled_from(STORED) | st.uuids(), max_size=12)  # duplicates, unknown ids, none at all


def _balance(household_id: UUID) -> dict[str, object]:
    zero = Decimal(0)
    place = {"account_number": str(household_id.int % 997), "community": "碧桂园", "building": "1"}
    return dict(household_id=household_id, charged_yuan=zero, paid_yuan=zero, balance_yuan=zero, **place)


@settings(max_examples=30)
@given(asked=ASKED)
def test_among_selects_and_deletes_what_in_does(container: Container, asked: list[UUID]) -> None:
    column = balances.c.household_id
    with container.engine.begin() as connection:
        connection.execute(delete(balances))
        connection.execute(insert(balances), [_balance(household_id) for household_id in STORED])
        by_in = set(connection.scalars(select(column).where(column.in_(asked))))
        by_among = set(connection.scalars(select(column).where(among(connection, column, asked))))
        assert by_among == by_in == set(asked) & set(STORED)
        connection.execute(delete(balances).where(among(connection, column, asked)))
        assert set(connection.scalars(select(column))) == set(STORED) - set(asked)
        connection.execute(delete(balances))


def test_the_statement_is_the_same_for_any_number_of_ids(container: Container) -> None:
    column = balances.c.household_id
    with container.engine.connect() as connection:
        texts = {
            str(select(column).where(among(connection, column, STORED[:count])).compile(connection))
            for count in (1, 3, 5)
        }
    (text,) = texts  # one text; on SQLite its IN list is expanded at execution
    assert ("= ANY (" in text) == (container.engine.dialect.name == "postgresql"), text
    assert ("POSTCOMPILE" in text) == (container.engine.dialect.name == "sqlite"), text
