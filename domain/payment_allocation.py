"""Which charges a household's payments settle, computed from the whole history each time.

Charges are the bills that charge money (the prepayment, a settlement supplement) and refund
payouts; credits are payments and the settlement's refunds (credit notes). Going through the
history in order: a credit settles the bill its payer named first, then the oldest open charges
(by due date); what is left stays as credit and settles the next charges when they come (the
next season's prepayment). A reversed payment is simply not in the history. Nothing is ever
allocated beyond a credit or beyond a charge, and money is conserved:
allocated + unallocated credit = credits, allocated + open = charges.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from uuid import UUID

ZERO = Decimal("0.00")


@dataclass(frozen=True)
class Charge:
    """Money a household owes: a bill's positive amount, or a refund paid out to it."""

    charge_id: UUID
    issued_on: date
    due_on: date
    amount_yuan: Decimal  # > 0


@dataclass(frozen=True)
class Credit:
    """Money in the household's favour: a payment, or a settlement's refund (a negative bill)."""

    credit_id: UUID
    received_on: date
    sequence: int  # the order within a day (the event order)
    amount_yuan: Decimal  # > 0
    named_charge_id: UUID | None = None  # the bill the payer named, settled first


@dataclass(frozen=True)
class AllocationLine:
    """Part of a credit settling part of a charge."""

    credit_id: UUID
    charge_id: UUID
    amount_yuan: Decimal


@dataclass
class AccountPosition:
    """The outcome: every allocation, what each charge still owes, and the credit left over."""

    allocations: list[AllocationLine] = field(default_factory=list)
    open_yuan: dict[UUID, Decimal] = field(default_factory=dict)
    unallocated_yuan: dict[UUID, Decimal] = field(default_factory=dict)

    @property
    def open_total_yuan(self) -> Decimal:
        return sum(self.open_yuan.values(), ZERO)

    @property
    def credit_total_yuan(self) -> Decimal:
        return sum(self.unallocated_yuan.values(), ZERO)


def allocate(charges: Sequence[Charge], credits: Sequence[Credit]) -> AccountPosition:
    """Allocate credits to charges in the order things happened (see the module docstring).

    On the same day, charges come before credits, so a payment made on the day a bill is issued
    settles it."""
    position = AccountPosition()
    due_dates = {charge.charge_id: (charge.due_on, charge.issued_on, str(charge.charge_id)) for charge in charges}
    # Same-day charges come in due order (then by id), so the input order never matters.
    timeline: list[tuple[date, int, tuple[date, date, str] | tuple[int, str], Charge | Credit]] = [
        (charge.issued_on, 0, due_dates[charge.charge_id], charge) for charge in charges
    ]
    timeline += [(credit.received_on, 1, (credit.sequence, str(credit.credit_id)), credit) for credit in credits]
    for _, _, _, item in sorted(timeline, key=lambda entry: (entry[0], entry[1], entry[2])):
        if isinstance(item, Charge):
            _charge_arrives(position, item, due_dates)
        else:
            _credit_arrives(position, item, due_dates)
    _assert_conserved(position, charges, credits)
    return position


def _charge_arrives(position: AccountPosition, charge: Charge, due_dates: dict[UUID, tuple[date, date, str]]) -> None:
    position.open_yuan[charge.charge_id] = charge.amount_yuan
    for credit_id in list(position.unallocated_yuan):  # the oldest credit first (insertion order)
        _settle(position, credit_id, charge.charge_id)
        if charge.charge_id not in position.open_yuan:  # settled in full
            break


def _credit_arrives(position: AccountPosition, credit: Credit, due_dates: dict[UUID, tuple[date, date, str]]) -> None:
    position.unallocated_yuan[credit.credit_id] = credit.amount_yuan
    named = credit.named_charge_id
    if named is not None and named in position.open_yuan:
        _settle(position, credit.credit_id, named)
    for charge_id in sorted(position.open_yuan, key=lambda key: due_dates[key]):
        if credit.credit_id not in position.unallocated_yuan:  # used up
            break
        _settle(position, credit.credit_id, charge_id)


def _settle(position: AccountPosition, credit_id: UUID, charge_id: UUID) -> None:
    """Move as much as both allow from the credit to the charge; drop what is used up."""
    amount = min(position.unallocated_yuan[credit_id], position.open_yuan[charge_id])
    if amount <= 0:
        return
    position.allocations.append(AllocationLine(credit_id, charge_id, amount))
    position.unallocated_yuan[credit_id] -= amount
    position.open_yuan[charge_id] -= amount
    if position.unallocated_yuan[credit_id] == 0:
        del position.unallocated_yuan[credit_id]
    if position.open_yuan[charge_id] == 0:
        del position.open_yuan[charge_id]


def _assert_conserved(position: AccountPosition, charges: Sequence[Charge], credits: Sequence[Credit]) -> None:
    allocated = sum((line.amount_yuan for line in position.allocations), ZERO)
    charged = sum((charge.amount_yuan for charge in charges), ZERO)
    credited = sum((credit.amount_yuan for credit in credits), ZERO)
    assert allocated + position.open_total_yuan == charged, "allocations and open charges make up the charges"
    assert allocated + position.credit_total_yuan == credited, "allocations and credit left make up the credits"
