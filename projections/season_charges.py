"""A season's charges and what settled them, summed per place: the one statement behind every
read that answers per season (community balances, collection rates).

A season's figures come from its bills and from the allocation of each household's credits to
its charges (``payment_allocations``), the same rows a household's account shows. Payments
belong to no season: what they settle of a season's bills is what counts for that season. A
settlement's credit note settles charges like a payment (of its own season or a later one) and is
counted apart. Everything comes from one statement, so the figures are of one moment even while
a catch-up is writing.
"""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal
from typing import Any

from sqlalchemy import ColumnElement, Select, case, func, select

from projections.allocation_rows import PAYMENT_CREDIT, SETTLEMENT_CREDIT
from projections.tables import bills, payment_allocations

NO_YUAN = Decimal(0)


def season_charges_settled(
    conditions: Sequence[ColumnElement[bool]], place: Sequence[ColumnElement[Any]]
) -> Select[Any]:
    """Per ``place`` (e.g. community, building), over the bills that meet ``conditions`` (at least
    their season): ``households`` with such a bill, ``charged_yuan`` (the bills that charge money;
    a credit note charges nothing), and how much of it payments (``paid_yuan``) and credit notes
    (``from_credit_notes_yuan``) have settled. Sums over nothing are NULL."""
    allocations = payment_allocations.c

    def settled_by(kind: str) -> ColumnElement[Any]:
        return func.sum(case((allocations.credit_kind == kind, allocations.amount_yuan), else_=0))

    settled = (
        select(
            allocations.charge_id,
            settled_by(PAYMENT_CREDIT).label("paid_yuan"),
            settled_by(SETTLEMENT_CREDIT).label("from_credit_notes_yuan"),
        )
        .join(bills, bills.c.bill_id == allocations.charge_id)
        .where(*conditions)
        .group_by(allocations.charge_id)
        .subquery("settled")
    )
    charge = case((bills.c.amount_yuan > NO_YUAN, bills.c.amount_yuan), else_=0)
    return (
        select(
            *place,
            func.count(bills.c.household_id.distinct()).label("households"),
            func.sum(charge).label("charged_yuan"),
            func.sum(settled.c.paid_yuan).label("paid_yuan"),
            func.sum(settled.c.from_credit_notes_yuan).label("from_credit_notes_yuan"),
        )
        .select_from(bills.outerjoin(settled, settled.c.charge_id == bills.c.bill_id))
        .where(*conditions)
        .group_by(*place)
        .order_by(*place)
    )
