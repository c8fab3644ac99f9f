"""Rows every money event touches: a household's balance (charged, paid) and its place, and the
JSON text of payloads kept in the read models."""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime
from decimal import Decimal
from operator import attrgetter, itemgetter
from typing import Any
from uuid import UUID

import msgspec
from sqlalchemy import Connection, insert, select, update

from projections.bulk_insert import ConvertedValues, RowsInserter
from projections.tables import (
    balances,
    households,
)

# The order of UUIDs (``UUID.__lt__`` compares their ``int``) by a key read in C: sorting a run's
# thousands of ids called ``__lt__`` in Python some 300,000 times a settlement's catch-up.
BY_UUID_ORDER = attrgetter("int")


def place_of_household(connection: Connection, household_id: UUID) -> dict[str, str]:
    row = connection.execute(
        select(households.c.account_number, households.c.community, households.c.building).where(
            households.c.household_id == household_id
        )
    ).one()
    return {"account_number": row.account_number, "community": row.community, "building": row.building}


def add_to_balance(
    connection: Connection,
    household_id: UUID,
    place: dict[str, str],
    charged_yuan: Decimal = Decimal(0),
    paid_yuan: Decimal = Decimal(0),
    last_bill_at: datetime | None = None,
) -> None:
    """Add to what the household was charged or has paid (select, then insert or update: portable,
    and safe inside the runner's transaction). ``place`` is its account number and address;
    ``last_bill_at`` is given for a bill."""
    bill_time = {} if last_bill_at is None else {"last_bill_at": last_bill_at}
    balance = connection.execute(
        select(balances.c.charged_yuan, balances.c.paid_yuan).where(balances.c.household_id == household_id)
    ).one_or_none()
    if balance is None:
        connection.execute(
            insert(balances),
            dict(
                household_id=household_id,
                charged_yuan=charged_yuan,
                paid_yuan=paid_yuan,
                balance_yuan=charged_yuan - paid_yuan,
                last_bill_at=last_bill_at,
                **place,
            ),
        )
        return
    charged = balance.charged_yuan + charged_yuan
    paid = balance.paid_yuan + paid_yuan
    connection.execute(
        update(balances)
        .where(balances.c.household_id == household_id)
        .values(charged_yuan=charged, paid_yuan=paid, balance_yuan=charged - paid, **place, **bill_time)
    )


def insert_rows(
    connection: Connection, inserter: RowsInserter, rows: Sequence[dict[str, Any]], converted: ConvertedValues
) -> None:
    """Insert ``rows`` (each a dict naming every column of the inserter's table) in one statement:
    the values go column by column to the driver (COPY on PostgreSQL), not through SQLAlchemy's
    machinery per row and value (``bulk_insert``); ``converted`` is shared by a batch's inserts."""
    if rows:
        values = itemgetter(*inserter.column_names)
        inserter.insert(connection, [values(row) for row in rows], converted)


def json_text(value: Any) -> str:
    """Event payload (dicts, lists, strings, Decimals) as JSON text, Decimals written as strings
    (their ``str``), keys sorted, without spaces between items.

    msgspec writes it in C; ``json.dumps`` called a Python ``default`` for each of a bill's dozens
    of Decimals (a tenth of a settlement's catch-up). The text parses to what ``json_text_spaced``
    wrote before (tests/unit/projections/test_json_text.py): the same keys in the same order, the
    same values; rows written before read the same."""
    return _ENCODER.encode(value).decode()


_ENCODER = msgspec.json.Encoder(order="sorted", decimal_format="string")


def json_text_spaced(value: Any) -> str:
    """The text ``json_text`` wrote until 2026-12: ``json.dumps`` with its spaces (kept to compare)."""
    return json.dumps(value, default=_decimal_as_text, ensure_ascii=False, sort_keys=True)


def _decimal_as_text(value: Any) -> str:
    if isinstance(value, Decimal):
        return str(value)
    raise TypeError(f"{type(value).__name__} has no JSON form in the read models")
