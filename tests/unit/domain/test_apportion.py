"""Exact-sum apportioning by the largest-remainder rule (domain.md §2: never lose or create a unit)."""

from decimal import Decimal
from fractions import Fraction

import pytest
from hypothesis import given
from hypothesis import strategies as st

from domain.apportion import apportion, quantum_of

D = Decimal


def test_parts_sum_exactly_and_the_leftover_unit_goes_to_the_earliest_tie() -> None:
    # 10 / 3 = 3.33… each: floors 3 + 3 + 3 = 9, one unit left; equal remainders → the first part.
    assert apportion(D(10), [D(1), D(1), D(1)]) == [D(4), D(3), D(3)]


def test_money_is_shared_in_fen_when_the_total_is_written_in_fen() -> None:
    # 100.00 元 / 3 = 33.333…: 10000 fen → 3333 + 3333 + 3333 = 9999, the first part takes the last fen.
    assert apportion(D("100.00"), [D(1), D(1), D(1)]) == [D("33.34"), D("33.33"), D("33.33")]


def test_the_largest_remainder_wins_over_an_earlier_part() -> None:
    # 7 by 2:1:1 → 3.5, 1.75, 1.75; floors 3 + 1 + 1 = 5, two units left; remainders .5 < .75 = .75
    # so the second and third parts get them, not the first.
    assert apportion(D(7), [D(2), D(1), D(1)]) == [D(3), D(2), D(2)]


def test_a_larger_remainder_decides_between_two_parts() -> None:
    # 1.00 by 1:2 → 33.33… and 66.66… fen; floors 33 + 66 = 99; remainder .67 beats .33.
    assert apportion(D("1.00"), [D(1), D(2)]) == [D("0.33"), D("0.67")]


def test_exact_shares_need_no_leftover() -> None:
    # 100 by 0.2 : 0.3 : 0.5 → exactly 20, 30, 50.
    assert apportion(D(100), [D("0.2"), D("0.3"), D("0.5")]) == [D(20), D(30), D(50)]


def test_all_zero_weights_share_equally() -> None:
    # Nothing to weigh by: 10 / 3 as with equal weights → 4, 3, 3.
    assert apportion(D(10), [D(0), D(0), D(0)]) == [D(4), D(3), D(3)]


def test_a_zero_weight_gets_nothing_even_when_units_are_left_over() -> None:
    # 3 by 0:1:1 → 0, 1.5, 1.5; floors 0 + 1 + 1 = 2; the unit goes to the first tied remainder (.5).
    assert apportion(D(3), [D(0), D(1), D(1)]) == [D(0), D(2), D(1)]


def test_a_negative_total_is_the_negation_of_the_positive_share() -> None:
    # -10 by 1:1:1 → -(4, 3, 3): the sum is still exactly -10.
    assert apportion(D(-10), [D(1), D(1), D(1)]) == [D(-4), D(-3), D(-3)]


def test_a_zero_total_gives_zero_parts() -> None:
    assert apportion(D("0.00"), [D(1), D(2)]) == [D(0), D(0)]


def test_an_explicit_quantum_coarser_than_the_total_is_used() -> None:
    # 1.0 in whole units would need a fraction; 1.0 in 0.5 steps: 2 units by 1:1 → 0.5 + 0.5.
    assert apportion(D("1.0"), [D(1), D(1)], D("0.5")) == [D("0.5"), D("0.5")]


def test_a_total_that_is_not_a_whole_number_of_quanta_is_refused() -> None:
    # 1.005 元 is not a whole number of fen.
    with pytest.raises(ValueError, match="not a whole multiple"):
        apportion(D("1.005"), [D(1), D(1)], D("0.01"))


@pytest.mark.parametrize("quantum", [D(0), D(-1), D("NaN")])
def test_a_quantum_that_is_not_positive_is_refused(quantum: Decimal) -> None:
    with pytest.raises(ValueError, match="quantum must be positive"):
        apportion(D(10), [D(1), D(1), D(1)], quantum)


def test_negative_weights_are_refused() -> None:
    with pytest.raises(ValueError, match="weights must not be negative"):
        apportion(D(10), [D(2), D(-1)])


def test_no_weights_are_refused() -> None:
    with pytest.raises(ValueError, match="at least one weight"):
        apportion(D(10), [])


@pytest.mark.parametrize(
    ("amount", "quantum"),
    [(D("1.234"), D("0.001")), (D("12"), D(1)), (D("12.50"), D("0.01")), (D("1E+2"), D(1))],
)
def test_the_quantum_of_an_amount_is_its_finest_written_unit_but_never_coarser_than_one(
    amount: Decimal, quantum: Decimal
) -> None:
    assert quantum_of(amount) == quantum


QUANTA = [D(1), D("0.01"), D("0.001"), D("0.000001"), D("0.000000001")]


@given(
    units=st.integers(-(10**15), 10**15),
    quantum=st.sampled_from(QUANTA),
    weights=st.lists(st.decimals(min_value=0, max_value=10**6, places=3), min_size=1, max_size=30),
)
def test_parts_sum_to_the_total_and_each_is_within_one_quantum_of_its_exact_share(
    units: int, quantum: Decimal, weights: list[Decimal]
) -> None:
    total = units * quantum
    parts = apportion(total, weights, quantum)
    assert sum(parts, D(0)) == total
    weight_sum = sum(weights, D(0))
    for part, weight in zip(parts, weights, strict=True):
        exact = Fraction(total) * (Fraction(weight) / Fraction(weight_sum) if weight_sum else Fraction(1, len(weights)))
        assert abs(Fraction(part) - exact) < Fraction(quantum)
        assert (part / quantum) == (part / quantum).to_integral_value()
