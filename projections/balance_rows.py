"""Rows every money event touches: a household's balance (charged, paid) and its place, and the
JSON text of payloads kept in the read models."""

from __future__ import annotations

import json
from datetime import datetime
from decimal import Decimal
from typing import Any
from uuid import UUID

from sqlalchemy import Connection, insert, select, update

from projections.tables import (
    balances,
    households,
)


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


def json_text(value: Any) -> str:
    """Event payload (dicts, lists, strings, Decimals) as JSON text, Decimals written as strings."""
    return json.dumps(value, default=_decimal_as_text, ensure_ascii=False, sort_keys=True)


def _decimal_as_text(value: Any) -> str:
    if isinstance(value, Decimal):
        return str(value)
    raise TypeError(f"{type(value).__name__} has no JSON form in the read models")
