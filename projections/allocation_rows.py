"""The allocation read models (payment_allocations, open_charges, household_credits): recomputed for
the households whose money changed, from their whole history, by domain.payment_allocation.allocate."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from typing import Any
from uuid import UUID

from sqlalchemy import Connection, delete, select

from domain.billing import BillKind
from domain.payment import RefundStatus
from domain.payment_allocation import AccountPosition, Charge, Credit, allocate
from domain.payment_terms import due_on
from projections.balance_rows import BY_UUID_ORDER, insert_rows
from projections.bulk_insert import ConvertedValues, RowsInserter
from projections.id_lists import among
from projections.plans import index_scans_preferred
from projections.tables import (
    bills,
    household_credits,
    households,
    open_charges,
    payment_allocations,
    payments,
    refund_payouts,
)

# Households reallocated per round of selects (bounds the IN lists and the memory of one round).
REALLOCATION_CHUNK = 500
PAYMENT_CREDIT = "payment"
SETTLEMENT_CREDIT = "settlement_credit"
BILL_CHARGE = "bill"
REFUND_PAYOUT_CHARGE = "refund_payout"


@dataclass
class HouseholdMoney:
    """A household's charges and credits as the allocation takes them, with what the rows about
    them need (their kind and, for a charge, its place and season)."""

    charges: list[tuple[tuple[Any, ...], Charge]] = field(default_factory=list)
    credits: list[tuple[tuple[Any, ...], Credit]] = field(default_factory=list)
    charge_rows: dict[UUID, dict[str, Any]] = field(default_factory=dict)
    credit_kinds: dict[UUID, str] = field(default_factory=dict)

    def add_charge(self, order: tuple[Any, ...], charge: Charge, row: dict[str, Any]) -> None:
        self.charges.append((order, charge))
        self.charge_rows[charge.charge_id] = row

    def add_credit(self, order: tuple[Any, ...], credit: Credit, kind: str) -> None:
        self.credits.append((order, credit))
        self.credit_kinds[credit.credit_id] = kind

    def position(self) -> AccountPosition:
        """Allocate in a stable order: charges by issue day, time and id; credits by day, time and id
        (their ``sequence`` is their place in that order)."""
        charges = [charge for _, charge in sorted(self.charges, key=lambda entry: entry[0])]
        ordered = [credit for _, credit in sorted(self.credits, key=lambda entry: entry[0])]
        credits = [
            Credit(credit.credit_id, credit.received_on, sequence, credit.amount_yuan, credit.named_charge_id)
            for sequence, credit in enumerate(ordered)
        ]
        return allocate(charges, credits)


def reallocate(connection: Connection, household_ids: Iterable[UUID]) -> None:
    """Recompute the allocation of each household from its rows and replace its allocation rows,
    open charges and credit."""
    ordered = sorted(set(household_ids), key=BY_UUID_ORDER)
    with index_scans_preferred(connection):  # by household, never a scan of the whole table
        for start in range(0, len(ordered), REALLOCATION_CHUNK):
            _reallocate_chunk(connection, ordered[start : start + REALLOCATION_CHUNK])


def _reallocate_chunk(connection: Connection, chunk: list[UUID]) -> None:
    money = _money_of_households(connection, chunk)
    connection.execute(delete(payment_allocations).where(among(connection, payment_allocations.c.household_id, chunk)))
    connection.execute(delete(open_charges).where(among(connection, open_charges.c.household_id, chunk)))
    connection.execute(delete(household_credits).where(among(connection, household_credits.c.household_id, chunk)))
    allocation_rows: list[dict[str, Any]] = []
    open_rows: list[dict[str, Any]] = []
    credit_rows: list[dict[str, Any]] = []
    for household_id in chunk:
        _position_rows(household_id, money[household_id], allocation_rows, open_rows, credit_rows)
    converted = ConvertedValues()
    insert_rows(connection, _ALLOCATIONS, allocation_rows, converted)
    insert_rows(connection, _OPEN_CHARGES, open_rows, converted)
    insert_rows(connection, _CREDITS, credit_rows, converted)


# The rows of a round by one statement each (COPY on PostgreSQL): ``insert_rows``.
_ALLOCATIONS = RowsInserter(payment_allocations)
_OPEN_CHARGES = RowsInserter(open_charges)
_CREDITS = RowsInserter(household_credits)


def _position_rows(
    household_id: UUID,
    money: HouseholdMoney,
    allocation_rows: list[dict[str, Any]],
    open_rows: list[dict[str, Any]],
    credit_rows: list[dict[str, Any]],
) -> None:
    position = money.position()
    for sequence, line in enumerate(position.allocations):
        assert line.amount_yuan > 0, "an allocation moves money"
        allocation_rows.append(
            {
                "household_id": household_id,
                "sequence": sequence,
                "credit_id": line.credit_id,
                "credit_kind": money.credit_kinds[line.credit_id],
                "charge_id": line.charge_id,
                "charge_kind": money.charge_rows[line.charge_id]["charge_kind"],
                "amount_yuan": line.amount_yuan,
            }
        )
    for charge_id, open_yuan in position.open_yuan.items():
        row = money.charge_rows[charge_id]
        assert 0 < open_yuan <= row["amount_yuan"], "a charge is open for at most its amount"
        open_rows.append(
            {key: value for key, value in row.items() if key != "charge_kind"}
            | {"charge_id": charge_id, "household_id": household_id, "open_yuan": open_yuan}
        )
    credit = position.credit_total_yuan
    if credit > 0:
        credit_rows.append({"household_id": household_id, "unallocated_yuan": credit})


def _money_of_households(connection: Connection, household_ids: list[UUID]) -> dict[UUID, HouseholdMoney]:
    """Every charge and credit of the households: bills that charge or credit money, payments not
    reversed, refunds paid out."""
    money: dict[UUID, HouseholdMoney] = defaultdict(HouseholdMoney)
    bill_rows = connection.execute(
        select(
            bills.c.bill_id,
            bills.c.household_id,
            bills.c.community,
            bills.c.building,
            bills.c.season_code,
            bills.c.kind,
            bills.c.issued_on,
            bills.c.first_day,
            bills.c.amount_yuan,
            bills.c.issued_at,
        ).where(among(connection, bills.c.household_id, household_ids), bills.c.amount_yuan != Decimal(0))
    )
    for bill in bill_rows:
        _add_bill(money[bill.household_id], bill)
    payment_rows = connection.execute(
        select(
            payments.c.payment_id,
            payments.c.household_id,
            payments.c.amount_yuan,
            payments.c.received_at,
            payments.c.received_on,
            payments.c.named_bill_id,
        ).where(among(connection, payments.c.household_id, household_ids), payments.c.reversed_on.is_(None))
    )
    for payment in payment_rows:
        credit = Credit(payment.payment_id, payment.received_on, 0, payment.amount_yuan, payment.named_bill_id)
        order = (payment.received_on, payment.received_at, str(payment.payment_id))
        money[payment.household_id].add_credit(order, credit, PAYMENT_CREDIT)
    payout_rows = connection.execute(
        select(
            refund_payouts.c.refund_id,
            refund_payouts.c.household_id,
            refund_payouts.c.amount_yuan,
            refund_payouts.c.paid_on,
            households.c.community,
            households.c.building,
        )
        .join(households, households.c.household_id == refund_payouts.c.household_id)
        .where(
            among(connection, refund_payouts.c.household_id, household_ids),
            refund_payouts.c.status == RefundStatus.PAID.value,
        )
    )
    for payout in payout_rows:
        _add_payout(money[payout.household_id], payout)
    return money


def _add_bill(money: HouseholdMoney, bill: Any) -> None:
    amount = Decimal(bill.amount_yuan)
    moment: datetime = bill.issued_at
    if amount < 0:  # a settlement's credit note
        credit = Credit(bill.bill_id, bill.issued_on, 0, -amount)
        money.add_credit((bill.issued_on, moment, str(bill.bill_id)), credit, SETTLEMENT_CREDIT)
        return
    due: date = due_on(BillKind(bill.kind), bill.issued_on, bill.first_day)
    charge = Charge(bill.bill_id, bill.issued_on, due, amount)
    row = {
        "charge_kind": BILL_CHARGE,
        "community": bill.community,
        "building": bill.building,
        "season_code": bill.season_code,
        "kind": bill.kind,
        "issued_on": bill.issued_on,
        "due_on": due,
        "amount_yuan": amount,
    }
    # Bills before refunds paid out on the same day; then by issue time and id.
    money.add_charge((bill.issued_on, 0, moment.isoformat(), str(bill.bill_id)), charge, row)


def _add_payout(money: HouseholdMoney, payout: Any) -> None:
    paid_on: date = payout.paid_on
    charge = Charge(payout.refund_id, paid_on, paid_on, Decimal(payout.amount_yuan))
    row = {
        "charge_kind": REFUND_PAYOUT_CHARGE,
        "community": payout.community,
        "building": payout.building,
        "season_code": None,
        "kind": REFUND_PAYOUT_CHARGE,
        "issued_on": paid_on,
        "due_on": paid_on,
        "amount_yuan": Decimal(payout.amount_yuan),
    }
    money.add_charge((paid_on, 1, "", str(payout.refund_id)), charge, row)
