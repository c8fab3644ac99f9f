"""Many households' balances changed at once: each row read once and written afresh.

``add_to_balance`` (balance_rows) reads a household's row and updates or inserts it: two
statements a money event, each a server round trip on PostgreSQL. ``rewrite_balances`` takes what a
run of events adds to each household's balance, reads the rows it replaces in one SELECT per chunk,
deletes them and inserts every new row in one ``RowsInserter`` statement (COPY on PostgreSQL): the
payments' writer and ``BillBatchWriter`` (a run of bills' charges) both call it. A sum is a sum: the rows are those
``add_to_balance`` leaves after the same events one at a time.
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
