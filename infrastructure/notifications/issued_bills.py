"""The issued bills a notice pass reads, from the billing read model ``bills``: a selection page by
page (keyset by bill number, which is unique), and one bill with its lines through
``BillingQueries``.

The wiring of the pass (``bill_notices_for``) lives here too: the notices are built on demand from
the container's parts, like the dispatcher, so the composition root does not grow for them.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import TYPE_CHECKING
from uuid import UUID

from sqlalchemy import ColumnElement, Engine, select

from application.bill_notices import BillNotices, BillSelection
from application.reminder_messages import ReminderSender
from projections.billing_queries import BillingQueries, BillRecord
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


class SqlIssuedBills:
    """The ``bills`` read model as a notice pass reads it."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.queries = BillingQueries(engine)

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

    def bill(self, bill_id: UUID) -> BillRecord | None:
        """The bill with its lines, or None."""
        return self.queries.bill(bill_id)


def _conditions(selection: BillSelection) -> list[ColumnElement[bool]]:
    conditions: list[ColumnElement[bool]] = [bills.c.season_code == selection.season_code]
    if selection.kind is not None:
        conditions.append(bills.c.kind == selection.kind.value)
    if selection.month is not None:
        conditions.append(bills.c.label == selection.month)
    if selection.community is not None:
        conditions.append(bills.c.community == selection.community)
    return conditions


def bill_notices_for(container: Container) -> BillNotices:
    """The notice passes of the container's store, outbox and contact book, signed as its settings say."""
    sender = ReminderSender(container.settings.utility_name, container.settings.utility_service_phone)
    return BillNotices(SqlIssuedBills(container.engine), container.contacts, container.outbox, sender)
