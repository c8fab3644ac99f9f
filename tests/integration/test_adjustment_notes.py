"""Credit and debit notes against a billing period reach the read models like any bill: the
household's balance, its account's allocation and the aging follow the note, on both backends.
A note is never re-derived by a replay (it is booked from a decision), and never sent as a bill
notice (its source sends its own letter)."""

from __future__ import annotations

from decimal import Decimal

import pytest

from domain import ids
from domain.adjustments import AdjustmentNote, AdjustmentSource
from domain.billing import BillKind
from domain.errors import InvalidInputError
from infrastructure.bill_replay import BillReplays
from infrastructure.container import Container
from projections.billing_queries import BillingQueries
from projections.payment_queries import PaymentQueries
from tests.integration import test_billing_runs
from tests.integration.test_billing_runs import AFTER_SEASON, SEASON, run
from tests.strategies import context

D = Decimal
billed = test_billing_runs.billed


def book(container: Container, account: str, amount: str, reference: str = "D-1") -> None:
    period = container.billing.period(account, SEASON)
    (settlement,) = period.issued(BillKind.SETTLEMENT)
    note = AdjustmentNote(AdjustmentSource.DISPUTE, reference, settlement.number, D(amount))
    assert period.book_adjustment(note, AFTER_SEASON.date(), context()) is not None
    container.ledger.save(period)
    container.catch_up()


def test_a_credit_note_lowers_the_balance_and_settles_the_oldest_charge(billed: Container) -> None:
    run(billed, BillKind.PREPAYMENT)
    run(billed, BillKind.SETTLEMENT)
    household = ids.household_id("A-1")
    before = BillingQueries(billed.engine).balance(household)
    assert before is not None
    book(billed, "A-1", "-100.00")
    after = BillingQueries(billed.engine).balance(household)
    assert after is not None and after.balance_yuan == before.balance_yuan - D("100.00")
    open_total = sum(
        (charge.open_yuan for charge in PaymentQueries(billed.engine).open_charges_of_household(household)), D(0)
    )
    assert open_total == after.balance_yuan  # the credit note settled 100.00 of the open charges


def test_a_debit_note_is_a_charge_of_its_own_that_falls_due(billed: Container) -> None:
    run(billed, BillKind.PREPAYMENT)
    run(billed, BillKind.SETTLEMENT)
    book(billed, "A-1", "25.50")
    charges = PaymentQueries(billed.engine).open_charges_of_household(ids.household_id("A-1"))
    notes = [charge for charge in charges if charge.open_yuan == D("25.50")]
    assert len(notes) == 1
    (bill,) = billed.billing.period("A-1", SEASON).issued(BillKind.ADJUSTMENT)
    replays = BillReplays(billed.ledger, billed.engine)
    with pytest.raises(InvalidInputError) as refused:
        replays.replay(bill.bill_id)
    assert refused.value.message_key == "adjustment_not_replayable"
    # The settlement it adjusts still replays to the fen.
    (settlement,) = billed.billing.period("A-1", SEASON).issued(BillKind.SETTLEMENT)
    assert replays.replay(settlement.bill_id).matches
