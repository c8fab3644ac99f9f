"""Many households' balances changed at once: each row read once and written afresh.

``add_to_balance`` (balance_rows) reads a household's row and updates or inserts it: two
statements a money event, each a server round trip on PostgreSQL. ``rewrite_balances`` takes what a
run of events adds to each household's balance, reads the rows it replaces in one SELECT per chunk,
deletes them and inserts every new row in one ``RowsInserter`` statement (COPY on PostgreSQL): the
payments' writer and ``BillBatchWriter`` (a run of bills' charges) both call it. A sum is a sum: the rows are those
``add_to_balance`` leaves after the same events one at a time.

On PostgreSQL the changes go in one ``INSERT … ON CONFLICT DO UPDATE`` per chunk instead, the
sums made by the server (``upsert_balances``): the read and the delete of the existing rows were
planned as scans of the whole balances table once the run's few thousand households were a few
per cent of it (73 and 60 ms a batch at 100,000 households), so a catch-up's balance writes grew
with the square of the city; the upsert finds each row by the primary key. Amounts are scaled
integers on both sides, so the server's sums are exact and equal the Decimal sums.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any
from uuid import UUID

from sqlalchemy import Connection, delete, select

from projections.balance_rows import BY_UUID_ORDER, insert_rows
from projections.bulk_insert import ConvertedValues, RowsInserter
from projections.id_lists import among
from projections.tables import balances

# Bounds one statement's list of ids (SQLite allows 32,766 parameters); a runner batch is smaller.
LOOKUP_CHUNK = 5_000


@dataclass
class BalanceChange:
    """What a run of events adds to one household's balance; ``place`` (account number, community,
    building) and ``last_bill_at`` are the run's last (``last_bill_at`` None: the row's stays)."""

    place: dict[str, str]
    charged_yuan: Decimal = Decimal(0)
    paid_yuan: Decimal = Decimal(0)
    last_bill_at: datetime | None = None


def rewrite_balances(connection: Connection, changes: dict[UUID, BalanceChange], converted: ConvertedValues) -> None:
    """Add each change to its household's balance (a household without a row starts from nothing)."""
    if connection.dialect.name == "postgresql":
        upsert_balances(connection, changes)
        return
    read_and_replace_balances(connection, changes, converted)


def read_and_replace_balances(
    connection: Connection, changes: dict[UUID, BalanceChange], converted: ConvertedValues
) -> None:
    """``rewrite_balances`` on any database: the rows read, deleted, and inserted anew."""
    ordered = sorted(changes, key=BY_UUID_ORDER)
    existing: dict[UUID, Any] = {}
    for start in range(0, len(ordered), LOOKUP_CHUNK):
        chunk = ordered[start : start + LOOKUP_CHUNK]
        statement = select(
            balances.c.household_id, balances.c.charged_yuan, balances.c.paid_yuan, balances.c.last_bill_at
        ).where(among(connection, balances.c.household_id, chunk))
        existing |= {row.household_id: row for row in connection.execute(statement)}
    rows = [_new_row(household_id, existing.get(household_id), changes[household_id]) for household_id in ordered]
    replaced = sorted(existing, key=BY_UUID_ORDER)
    for start in range(0, len(replaced), LOOKUP_CHUNK):
        chunk = replaced[start : start + LOOKUP_CHUNK]
        connection.execute(delete(balances).where(among(connection, balances.c.household_id, chunk)))
    insert_rows(connection, _BALANCES, rows, converted)


def _new_row(household_id: UUID, before: Any, change: BalanceChange) -> dict[str, Any]:
    charged, paid, last_bill_at = (
        (Decimal(0), Decimal(0), None)
        if before is None
        else (before.charged_yuan, before.paid_yuan, before.last_bill_at)
    )
    charged += change.charged_yuan
    paid += change.paid_yuan
    return dict(
        household_id=household_id,
        charged_yuan=charged,
        paid_yuan=paid,
        balance_yuan=charged - paid,
        last_bill_at=change.last_bill_at if change.last_bill_at is not None else last_bill_at,
        **change.place,
    )


_BALANCES = RowsInserter(balances)

# The columns' values go as one array each; the server adds the amounts to the existing row's.
_UPSERT = """
INSERT INTO balances AS old
    (household_id, account_number, community, building, charged_yuan, paid_yuan, balance_yuan, last_bill_at)
SELECT * FROM unnest(
    %s::uuid[], %s::varchar[], %s::varchar[], %s::varchar[], %s::bigint[], %s::bigint[], %s::bigint[],
    %s::timestamptz[]
)
ON CONFLICT (household_id) DO UPDATE SET
    account_number = excluded.account_number,
    community = excluded.community,
    building = excluded.building,
    charged_yuan = old.charged_yuan + excluded.charged_yuan,
    paid_yuan = old.paid_yuan + excluded.paid_yuan,
    balance_yuan = (old.charged_yuan + excluded.charged_yuan) - (old.paid_yuan + excluded.paid_yuan),
    last_bill_at = coalesce(excluded.last_bill_at, old.last_bill_at)
"""


def upsert_balances(connection: Connection, changes: dict[UUID, BalanceChange]) -> None:
    """``rewrite_balances`` on PostgreSQL: one upsert per chunk of households, in key order (two
    workers' upserts lock rows in the same order)."""
    ordered = sorted(changes, key=BY_UUID_ORDER)
    dialect = connection.dialect
    money = balances.c.charged_yuan.type.bind_processor(dialect)
    moment = balances.c.last_bill_at.type.bind_processor(dialect)
    assert money is not None and moment is not None, "scaled amounts and UTC moments"
    for start in range(0, len(ordered), LOOKUP_CHUNK):
        chunk = [changes[household_id] for household_id in ordered[start : start + LOOKUP_CHUNK]]
        charged = [money(change.charged_yuan) for change in chunk]
        paid = [money(change.paid_yuan) for change in chunk]
        columns = (
            ordered[start : start + LOOKUP_CHUNK],
            [change.place["account_number"] for change in chunk],
            [change.place["community"] for change in chunk],
            [change.place["building"] for change in chunk],
            charged,
            paid,
            [money(change.charged_yuan - change.paid_yuan) for change in chunk],
            [moment(change.last_bill_at) for change in chunk],
        )
        connection.exec_driver_sql(_UPSERT, columns)
