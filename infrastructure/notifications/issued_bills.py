"""The issued bills a notice pass reads, from the billing read model ``bills``: a selection page by
page (keyset by bill number, which is unique), then the bills of a page that get a notice, with
their lines, in one query.

The wiring of the pass (``bill_notices_for``) lives here too: the notices are built on demand from
the container's parts, like the dispatcher, so the composition root does not grow for them.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import TYPE_CHECKING, Any
from uuid import UUID

from sqlalchemy import ColumnElement, Engine, select

from application.bill_notices import BillNotices, BillSelection
from application.reminder_messages import ReminderSender
from domain.billing import BillKind
from projections.billing_queries import BillLineRecord
from projections.tables import bills

if TYPE_CHECKING:
    from infrastructure.container import Container

MAXIMUM_PAGE = 1000


@dataclass(frozen=True)
class IssuedBillRow:
    """An issued bill as a page of the selection lists it."""

    bill_id: UUID
    account_number: str
    kind: str
    number: str
    amount_yuan: Decimal


@dataclass(frozen=True)
class NoticeBillRow:
    """An issued bill with the lines its notice summarises."""

    bill_id: UUID
    account_number: str
    community: str
    season_code: str
    kind: str
    label: str
    number: str
    issued_on: date
    first_day: date
    last_day: date
    amount_yuan: Decimal
    basis: str
    lines: tuple[BillLineRecord, ...]


class SqlIssuedBills:
    """The ``bills`` read model as a notice pass reads it."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def issued_bills(self, selection: BillSelection, after_number: str | None, limit: int) -> Sequence[IssuedBillRow]:
        """Up to ``limit`` bills of the selection, by bill number, after ``after_number``."""
        assert 1 <= limit <= MAXIMUM_PAGE, f"a page holds 1 to {MAXIMUM_PAGE} bills"
        conditions = _conditions(selection)
        if after_number is not None:
            conditions.append(bills.c.number > after_number)
        query = (
            select(bills.c.bill_id, bills.c.account_number, bills.c.kind, bills.c.number, bills.c.amount_yuan)
            .where(*conditions)
            .order_by(bills.c.number)
            .limit(limit)
        )
        with self.engine.connect() as connection:
            return [IssuedBillRow(*row) for row in connection.execute(query)]

    def bills(self, bill_ids: Sequence[UUID]) -> dict[UUID, NoticeBillRow]:
        """These bills with their lines, by id (one query; a page's worth at most)."""
        assert len(bill_ids) <= MAXIMUM_PAGE, f"at most {MAXIMUM_PAGE} bills at once"
        columns = [column for column in bills.c if column.name in NoticeBillRow.__dataclass_fields__]
        query = select(*columns).where(bills.c.bill_id.in_(list(bill_ids)))
        with self.engine.connect() as connection:
            found = [_notice_bill(row) for row in connection.execute(query).mappings()]
        return {bill.bill_id: bill for bill in found}


def _conditions(selection: BillSelection) -> list[ColumnElement[bool]]:
    # Credit and debit notes reach the household with their dispute's or correction's own letter.
    conditions: list[ColumnElement[bool]] = [
        bills.c.season_code == selection.season_code,
        bills.c.kind != BillKind.ADJUSTMENT.value,
    ]
    if selection.kind is not None:
        conditions.append(bills.c.kind == selection.kind.value)
    if selection.month is not None:
        conditions.append(bills.c.label == selection.month)
    if selection.community is not None:
        conditions.append(bills.c.community == selection.community)
    return conditions


def _notice_bill(row: Any) -> NoticeBillRow:
    """A bill row with its lines (JSON as ``BillLine.to_record`` wrote it) read back."""
    lines = tuple(
        BillLineRecord(
            code=str(line["code"]),
            amount_yuan=None if line.get("amount_yuan") is None else Decimal(str(line["amount_yuan"])),
            figures={str(key): str(value) for key, value in (line.get("figures") or {}).items()},
        )
        for line in json.loads(row["lines"])
    )
    return NoticeBillRow(**{**row, "lines": lines})


def bill_notices_for(container: Container) -> BillNotices:
    """The notice passes of the container's store, outbox and contact book, signed as its settings say."""
    sender = ReminderSender(container.settings.utility_name, container.settings.utility_service_phone)
    return BillNotices(SqlIssuedBills(container.engine), container.contacts, container.outbox, sender)
