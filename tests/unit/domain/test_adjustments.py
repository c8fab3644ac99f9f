"""Credit and debit notes against a billing period: booked once, justified, never zero."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from domain.adjustments import AdjustmentNote, AdjustmentSource
from domain.billing import BillKind
from domain.errors import InvalidInputError
from domain.settlement import BillLine
from tests.unit.domain.test_billing_period import context, open_period

D = Decimal


def note(amount: str, reference: str = "D-1") -> AdjustmentNote:
    justification = (BillLine("energy_part", D("43.90"), {"measured_gj": "31.2"}),)
    return AdjustmentNote(AdjustmentSource.DISPUTE, reference, "2025-2026-S-WZ-0001-season", D(amount), justification)


def test_a_credit_note_is_a_negative_bill_with_its_justification() -> None:
    period = open_period()
    bill = period.book_adjustment(note("-43.90"), period.days[1], context())
    assert bill is not None
    assert (bill.kind, bill.amount_yuan, bill.basis) == (BillKind.ADJUSTMENT, D("-43.90"), "credit")
    codes = [line.code for line in bill.lines]
    assert codes == ["adjustment_source", "energy_part", "adjustment_amount"]
    assert bill.lines[0].figures["adjusted_bill"] == "2025-2026-S-WZ-0001-season"
    assert bill.lines[0].figures["tariff_version"] == str(period.facts.tariff_version)
    assert "-A-" in bill.number


def test_the_same_note_is_booked_once_and_another_source_again() -> None:
    period = open_period()
    assert period.book_adjustment(note("12.00"), period.days[1], context()) is not None
    assert period.book_adjustment(note("12.00"), period.days[1], context()) is None
    assert period.book_adjustment(note("5.00", "D-2"), period.days[1], context()) is not None
    assert [bill.amount_yuan for bill in period.issued(BillKind.ADJUSTMENT)] == [D("12.00"), D("5.00")]


@pytest.mark.parametrize(("amount", "key"), [("0", "adjustment_amount_zero"), ("1.005", "adjustment_amount_invalid")])
def test_a_note_of_nothing_or_of_a_fraction_of_a_fen_is_refused(amount: str, key: str) -> None:
    period = open_period()
    with pytest.raises(InvalidInputError) as refused:
        period.book_adjustment(note(amount), period.days[1], context())
    assert refused.value.message_key == key
    assert period.issued(BillKind.ADJUSTMENT) == []


@given(st.decimals(min_value=D("-99999.99"), max_value=D("99999.99"), places=2).filter(lambda value: value != 0))
def test_a_note_charges_exactly_its_amount_and_says_which_way(amount: Decimal) -> None:
    period = open_period()
    bill = period.book_adjustment(note(str(amount)), period.days[1], context())
    assert bill is not None and bill.amount_yuan == amount
    assert bill.basis == ("debit" if amount > 0 else "credit")
    assert bill.lines[-1].amount_yuan == amount
