"""Which charges a household's payments settle (domain.payment_allocation), with the figures
written out: a 2025-2026 prepayment of 2000.00 元 issued 20 Oct and due 1 Nov 2025, a settlement
supplement of 300.00 元 issued 1 Apr and due 1 May 2026, and the next season's prepayment."""

from __future__ import annotations

from collections import defaultdict
from datetime import date, timedelta
from decimal import Decimal
from itertools import permutations
from random import Random
from uuid import UUID, uuid5

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from domain.payment_allocation import AccountPosition, Charge, Credit, allocate

D = Decimal
NAMES = UUID("00000000-0000-0000-0000-000000000000")


def key(name: str) -> UUID:
    """A readable, stable id for a charge or a credit of these tests."""
    return uuid5(NAMES, name)


PREPAYMENT = Charge(key("prepayment 2025"), date(2025, 10, 20), date(2025, 11, 1), D("2000.00"))
SUPPLEMENT = Charge(key("supplement 2025"), date(2026, 4, 1), date(2026, 5, 1), D("300.00"))
NEXT_PREPAYMENT = Charge(key("prepayment 2026"), date(2026, 10, 20), date(2026, 11, 1), D("2000.00"))


def payment(name: str, received_on: date, amount: str, sequence: int = 0, named: Charge | None = None) -> Credit:
    return Credit(key(name), received_on, sequence, D(amount), named.charge_id if named else None)


def lines(position: AccountPosition) -> list[tuple[UUID, UUID, Decimal]]:
    return [(line.credit_id, line.charge_id, line.amount_yuan) for line in position.allocations]


# -- hand-computed positions -------------------------------------------------------------------


def test_a_payment_settles_the_oldest_charge_first() -> None:
    # 2100.00 on 10 Apr: the prepayment (due 1 Nov) takes 2000.00, the supplement (due 1 May) 100.00.
    paid = payment("counter R-1", date(2026, 4, 10), "2100.00")
    position = allocate([PREPAYMENT, SUPPLEMENT], [paid])
    assert lines(position) == [
        (paid.credit_id, PREPAYMENT.charge_id, D("2000.00")),
        (paid.credit_id, SUPPLEMENT.charge_id, D("100.00")),
    ]
    assert position.open_yuan == {SUPPLEMENT.charge_id: D("200.00")}  # 300.00 − 100.00
    assert position.unallocated_yuan == {}
    assert (position.open_total_yuan, position.credit_total_yuan) == (D("200.00"), D("0.00"))


def test_a_payment_naming_the_supplement_settles_it_first() -> None:
    # 300.00 naming the supplement: all of it goes there although the prepayment is older.
    paid = payment("online O-1", date(2026, 4, 10), "300.00", named=SUPPLEMENT)
    position = allocate([PREPAYMENT, SUPPLEMENT], [paid])
    assert lines(position) == [(paid.credit_id, SUPPLEMENT.charge_id, D("300.00"))]
    assert position.open_yuan == {PREPAYMENT.charge_id: D("2000.00")}
    assert position.open_total_yuan == D("2000.00")


def test_what_is_left_after_the_named_charge_goes_to_the_oldest() -> None:
    # 500.00 naming the supplement: 300.00 to it, the other 200.00 to the prepayment (2000 − 200 = 1800).
    paid = payment("online O-1", date(2026, 4, 10), "500.00", named=SUPPLEMENT)
    position = allocate([PREPAYMENT, SUPPLEMENT], [paid])
    assert lines(position) == [
        (paid.credit_id, SUPPLEMENT.charge_id, D("300.00")),
        (paid.credit_id, PREPAYMENT.charge_id, D("200.00")),
    ]
    assert position.open_yuan == {PREPAYMENT.charge_id: D("1800.00")}


@pytest.mark.parametrize("named", ["no such bill", "settled already"])
def test_a_named_charge_that_is_not_open_is_passed_over(named: str) -> None:
    # A first payment settles the prepayment; a second one names it again (or names nothing that
    # exists) and so settles the supplement, the oldest open charge: 300.00 − 120.00 = 180.00 open.
    first = payment("counter R-1", date(2025, 10, 25), "2000.00", named=PREPAYMENT)
    target = PREPAYMENT.charge_id if named == "settled already" else key("no such bill")
    second = Credit(key("counter R-2"), date(2026, 4, 10), 0, D("120.00"), target)
    position = allocate([PREPAYMENT, SUPPLEMENT], [first, second])
    assert lines(position)[-1] == (second.credit_id, SUPPLEMENT.charge_id, D("120.00"))
    assert position.open_yuan == {SUPPLEMENT.charge_id: D("180.00")}


def test_an_overpayment_stays_as_credit_and_settles_the_next_seasons_prepayment() -> None:
    # 2500.00 on 10 Apr settles 2000.00 + 300.00 and leaves 200.00 of credit; the next prepayment
    # (2000.00, issued 20 Oct 2026) takes that 200.00 when it arrives and still owes 1800.00.
    paid = payment("counter R-1", date(2026, 4, 10), "2500.00")
    before = allocate([PREPAYMENT, SUPPLEMENT], [paid])
    assert (before.open_total_yuan, before.credit_total_yuan) == (D("0.00"), D("200.00"))
    assert before.unallocated_yuan == {paid.credit_id: D("200.00")}

    after = allocate([PREPAYMENT, SUPPLEMENT, NEXT_PREPAYMENT], [paid])
    assert lines(after)[-1] == (paid.credit_id, NEXT_PREPAYMENT.charge_id, D("200.00"))
    assert after.open_yuan == {NEXT_PREPAYMENT.charge_id: D("1800.00")}
    assert (after.open_total_yuan, after.credit_total_yuan) == (D("1800.00"), D("0.00"))


def test_the_oldest_credit_settles_a_new_charge_first() -> None:
    # 2400.00 on 10 Apr leaves 100.00 (2400 − 2000 − 300); 150.00 on 20 Apr finds nothing open and
    # stays whole. A 120.00 charge in October takes the older 100.00 first, then 20.00 of the 150.00.
    older = payment("counter R-1", date(2026, 4, 10), "2400.00")
    newer = payment("counter R-2", date(2026, 4, 20), "150.00")
    fee = Charge(key("refund paid out"), date(2026, 10, 5), date(2026, 10, 5), D("120.00"))
    position = allocate([PREPAYMENT, SUPPLEMENT, fee], [newer, older])  # listed newest first
    assert lines(position)[-2:] == [
        (older.credit_id, fee.charge_id, D("100.00")),
        (newer.credit_id, fee.charge_id, D("20.00")),
    ]
    assert position.unallocated_yuan == {newer.credit_id: D("130.00")}  # 150.00 − 20.00
    assert (position.open_total_yuan, position.credit_total_yuan) == (D("0.00"), D("130.00"))


def test_payments_on_one_day_are_taken_in_their_sequence() -> None:
    # Two payments on 10 Apr, 1500.00 (sequence 2) and 800.00 (sequence 1): the 800.00 came first,
    # so it settles 800.00 of the prepayment; the 1500.00 then settles 1200.00 and 300.00.
    first = payment("counter R-1", date(2026, 4, 10), "800.00", sequence=1)
    second = payment("counter R-2", date(2026, 4, 10), "1500.00", sequence=2)
    position = allocate([PREPAYMENT, SUPPLEMENT], [second, first])
    assert lines(position) == [
        (first.credit_id, PREPAYMENT.charge_id, D("800.00")),
        (second.credit_id, PREPAYMENT.charge_id, D("1200.00")),
        (second.credit_id, SUPPLEMENT.charge_id, D("300.00")),
    ]
    assert (position.open_total_yuan, position.credit_total_yuan) == (D("0.00"), D("0.00"))


def test_a_settlement_refund_as_a_credit_settles_open_charges() -> None:
    # The prepayment was paid; the settlement refunds 195.00 (a credit note) on 1 Apr, which waits as
    # credit and settles 195.00 of the next prepayment: 2000.00 − 195.00 = 1805.00 open.
    paid = payment("counter R-1", date(2025, 10, 25), "2000.00")
    refund = Credit(key("credit note 2025"), date(2026, 4, 1), 0, D("195.00"))
    settled = allocate([PREPAYMENT], [paid, refund])
    assert (settled.open_total_yuan, settled.credit_total_yuan) == (D("0.00"), D("195.00"))
    position = allocate([PREPAYMENT, NEXT_PREPAYMENT], [paid, refund])
    assert lines(position)[-1] == (refund.credit_id, NEXT_PREPAYMENT.charge_id, D("195.00"))
    assert position.open_yuan == {NEXT_PREPAYMENT.charge_id: D("1805.00")}


def test_a_settlement_refund_settles_an_unpaid_prepayment() -> None:
    # Nothing paid: the 195.00 credit note of 1 Apr settles part of the open prepayment (1805.00 open).
    refund = Credit(key("credit note 2025"), date(2026, 4, 1), 0, D("195.00"))
    position = allocate([PREPAYMENT], [refund])
    assert position.open_yuan == {PREPAYMENT.charge_id: D("1805.00")}
    assert position.unallocated_yuan == {}


def test_a_payment_on_the_day_a_bill_is_issued_settles_it() -> None:
    # The supplement is issued on 1 Apr and paid, naming it, the same day: the charge comes first,
    # so it is open when the payment arrives and the payment settles it, not the older prepayment.
    paid = payment("online O-1", date(2026, 4, 1), "300.00", named=SUPPLEMENT)
    position = allocate([PREPAYMENT, SUPPLEMENT], [paid])
    assert lines(position) == [(paid.credit_id, SUPPLEMENT.charge_id, D("300.00"))]
    assert position.open_yuan == {PREPAYMENT.charge_id: D("2000.00")}


def test_a_payment_on_the_day_of_the_only_bill_settles_it_in_full() -> None:
    paid = payment("counter R-1", PREPAYMENT.issued_on, "2000.00")
    position = allocate([PREPAYMENT], [paid])
    assert lines(position) == [(paid.credit_id, PREPAYMENT.charge_id, D("2000.00"))]
    assert (position.open_yuan, position.unallocated_yuan) == ({}, {})


def test_nothing_charged_nor_paid_is_an_empty_position() -> None:
    position = allocate([], [])
    assert position == AccountPosition()
    assert (position.open_total_yuan, position.credit_total_yuan) == (D("0.00"), D("0.00"))


def test_a_payment_before_any_bill_waits_as_credit() -> None:
    # 2160.00 paid on 1 Oct, before the 2000.00 prepayment is issued on 20 Oct: 160.00 stays as credit.
    paid = payment("counter R-1", date(2025, 10, 1), "2160.00")
    position = allocate([PREPAYMENT], [paid])
    assert lines(position) == [(paid.credit_id, PREPAYMENT.charge_id, D("2000.00"))]
    assert position.unallocated_yuan == {paid.credit_id: D("160.00")}
    assert position.open_yuan == {}


def test_the_order_of_the_input_lists_does_not_matter() -> None:
    # Three charges issued on different days, three credits (two on one day, in sequence).
    charges = [PREPAYMENT, SUPPLEMENT, NEXT_PREPAYMENT]
    credits = [
        payment("counter R-1", date(2025, 10, 25), "1500.00"),
        payment("online O-1", date(2026, 4, 10), "700.00", sequence=1, named=SUPPLEMENT),
        payment("counter R-2", date(2026, 4, 10), "400.00", sequence=2),
    ]
    expected = allocate(charges, credits)
    # 1500.00 → prepayment (500.00 open); 700.00 → supplement 300.00, prepayment 400.00 (100.00 open);
    # 400.00 → prepayment 100.00, 300.00 left, which the next prepayment takes: 1700.00 open.
    assert expected.open_yuan == {NEXT_PREPAYMENT.charge_id: D("1700.00")}
    for charge_order in permutations(charges):
        for credit_order in permutations(credits):
            assert allocate(list(charge_order), list(credit_order)) == expected


def test_charges_issued_on_one_day_take_leftover_credit_in_due_order_whatever_the_input_order() -> None:
    # 150.00 paid on 30 Sep; on 1 Oct two charges of 100.00 each are issued, due 1 Nov and 1 Dec.
    # The one due first is settled in full, the other owes 50.00, however the charges are listed.
    sooner = Charge(key("due 1 Nov"), date(2025, 10, 1), date(2025, 11, 1), D("100.00"))
    later = Charge(key("due 1 Dec"), date(2025, 10, 1), date(2025, 12, 1), D("100.00"))
    paid = payment("counter R-1", date(2025, 9, 30), "150.00")
    assert allocate([sooner, later], [paid]).open_yuan == {later.charge_id: D("50.00")}
    assert allocate([later, sooner], [paid]).open_yuan == {later.charge_id: D("50.00")}


# -- properties --------------------------------------------------------------------------------

FIRST_DAY = date(2025, 10, 1)
SEASON_DAYS = 240  # 1 Oct 2025 – 28 May 2026: prepayments, the season, its settlement
amounts = st.decimals(min_value=D("0.01"), max_value=D("5000.00"), places=2, allow_nan=False, allow_infinity=False)
days = st.integers(min_value=0, max_value=SEASON_DAYS - 1).map(lambda offset: FIRST_DAY + timedelta(days=offset))


@st.composite
def histories(draw: st.DrawFn) -> tuple[list[Charge], list[Credit]]:
    charges = []
    for index in range(draw(st.integers(min_value=0, max_value=6))):
        issued_on = draw(days)
        due_on = issued_on + timedelta(days=draw(st.integers(min_value=0, max_value=45)))
        charges.append(Charge(key(f"charge {index}"), issued_on, due_on, draw(amounts)))
    # A payer names an existing bill, a bill that does not exist, or nothing.
    nameable = [charge.charge_id for charge in charges] + [key("no such bill")]
    credits = []
    for index in range(draw(st.integers(min_value=0, max_value=6))):
        named = draw(st.none() | st.sampled_from(nameable))
        credits.append(Credit(key(f"credit {index}"), draw(days), index, draw(amounts), named))
    return charges, credits


def allocated_per(position: AccountPosition, attribute: str) -> dict[UUID, Decimal]:
    totals: dict[UUID, Decimal] = defaultdict(lambda: D(0))
    for line in position.allocations:
        totals[getattr(line, attribute)] += line.amount_yuan
    return totals


@settings(max_examples=200)
@given(histories())
def test_nothing_is_allocated_beyond_a_credit_or_a_charge(history: tuple[list[Charge], list[Credit]]) -> None:
    charges, credits = history
    position = allocate(charges, credits)
    per_credit = allocated_per(position, "credit_id")
    per_charge = allocated_per(position, "charge_id")
    assert set(per_credit) <= {credit.credit_id for credit in credits}
    assert set(per_charge) <= {charge.charge_id for charge in charges}  # never the bill that does not exist
    for credit in credits:
        assert per_credit[credit.credit_id] <= credit.amount_yuan
        # What a credit gave plus what it has left is the credit.
        assert per_credit[credit.credit_id] + position.unallocated_yuan.get(credit.credit_id, D(0)) == (
            credit.amount_yuan
        )
    for charge in charges:
        assert per_charge[charge.charge_id] <= charge.amount_yuan
        assert per_charge[charge.charge_id] + position.open_yuan.get(charge.charge_id, D(0)) == charge.amount_yuan


@settings(max_examples=200)
@given(histories())
def test_money_is_conserved_and_no_figure_is_negative(history: tuple[list[Charge], list[Credit]]) -> None:
    charges, credits = history
    position = allocate(charges, credits)
    charged = sum((charge.amount_yuan for charge in charges), D(0))
    credited = sum((credit.amount_yuan for credit in credits), D(0))
    allocated = sum((line.amount_yuan for line in position.allocations), D(0))
    assert allocated + position.open_total_yuan == charged
    assert allocated + position.credit_total_yuan == credited
    assert all(line.amount_yuan > 0 for line in position.allocations)
    assert all(amount >= 0 for amount in position.open_yuan.values())
    assert all(amount >= 0 for amount in position.unallocated_yuan.values())
    # The household's balance is what it owes less the credit it has.
    assert charged - credited == position.open_total_yuan - position.credit_total_yuan


@settings(max_examples=200)
@given(histories(), st.data())
def test_removing_a_credit_never_reduces_what_is_open(
    history: tuple[list[Charge], list[Credit]], data: st.DataObject
) -> None:
    charges, credits = history
    if not credits:
        return
    reversed_index = data.draw(st.integers(min_value=0, max_value=len(credits) - 1))
    position = allocate(charges, credits)
    # A reversed payment is simply not in the history.
    without = allocate(charges, credits[:reversed_index] + credits[reversed_index + 1 :])
    assert without.open_total_yuan >= position.open_total_yuan
    assert without.open_total_yuan - position.open_total_yuan <= credits[reversed_index].amount_yuan


@settings(max_examples=200)
@given(histories(), st.randoms(use_true_random=False))
def test_shuffling_the_inputs_gives_the_same_position(
    history: tuple[list[Charge], list[Credit]], random: Random
) -> None:
    charges, credits = history
    expected = allocate(charges, credits)
    shuffled_charges, shuffled_credits = charges[:], credits[:]
    random.shuffle(shuffled_charges)
    random.shuffle(shuffled_credits)
    assert allocate(shuffled_charges, shuffled_credits) == expected
