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

from sqlalchemy import ColumnElement, Label, Select, case, func, literal_column, select, type_coerce, union_all

from projections.allocation_rows import PAYMENT_CREDIT, SETTLEMENT_CREDIT
from projections.tables import MONEY_SCALE, bills, payment_allocations
from projections.types import ScaledDecimal

NO_YUAN = Decimal(0)
MONEY = ScaledDecimal(MONEY_SCALE)


def season_charges_settled(
    conditions: Sequence[ColumnElement[bool]], place: Sequence[ColumnElement[Any]]
) -> Select[Any]:
    """Per ``place`` (columns of ``bills``, e.g. community and building), over the bills that meet
    ``conditions`` (at least their season): ``households`` with such a bill, ``charged_yuan`` (the
    bills that charge money; a credit note charges nothing), and how much of it payments
    (``paid_yuan``) and credit notes (``from_credit_notes_yuan``) have settled. Sums over nothing
    are NULL.

    The bills and the allocation lines settling them are two plain selects put one after the other
    (UNION ALL) and summed once: each is a scan or a join on a key, and a bill with several
    allocation lines is still charged once."""
    allocations = payment_allocations.c
    place_names = [column.name for column in place]
    charged = case((bills.c.amount_yuan > NO_YUAN, bills.c.amount_yuan), else_=0)
    charges = select(
        *place, bills.c.household_id, charged.label("charged_yuan"), _no_money("paid_yuan"), _no_money("noted_yuan")
    ).where(*conditions)

    def settled_by(kind: str, name: str) -> Label[Any]:
        return type_coerce(case((allocations.credit_kind == kind, allocations.amount_yuan), else_=0), MONEY).label(name)

    settlements = (
        select(
            *place,
            bills.c.household_id,
            _no_money("charged_yuan"),
            settled_by(PAYMENT_CREDIT, "paid_yuan"),
            settled_by(SETTLEMENT_CREDIT, "noted_yuan"),
        )
        .join(bills, bills.c.bill_id == allocations.charge_id)
        .where(*conditions)
    )
    lines = union_all(charges, settlements).subquery("season_lines")
    grouping = [lines.c[name] for name in place_names]
    return (
        select(
            *grouping,
            func.count(lines.c.household_id.distinct()).label("households"),
            func.sum(lines.c.charged_yuan).label("charged_yuan"),
            func.sum(lines.c.paid_yuan).label("paid_yuan"),
            func.sum(lines.c.noted_yuan).label("from_credit_notes_yuan"),
        )
        .group_by(*grouping)
        .order_by(*grouping)
    )


def _no_money(name: str) -> Label[Any]:
    """Zero 元 as a column of the union (typed, so that its sums read back as 元)."""
    return type_coerce(literal_column("0"), MONEY).label(name)
