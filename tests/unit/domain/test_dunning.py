"""The dunning policy: which reminder stage a household is due, and which figures are refused."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from domain.dunning import DunningFacts, DunningPolicy, ReminderSkip, reminder_due, reminder_key
from domain.errors import InvalidInputError

POLICY = DunningPolicy.of([15, 45, 90], Decimal("50.00"))
DUE_ON = date(2026, 11, 30)


def facts(amount: str = "100.00", days: int = 20, disputes: int = 0) -> tuple[DunningFacts, date]:
    return DunningFacts(Decimal(amount), DUE_ON, disputes), DUE_ON + timedelta(days=days)


@pytest.mark.parametrize(
    ("days", "stage"),
    [(0, None), (14, None), (15, 15), (44, 15), (45, 45), (89, 45), (90, 90), (400, 90)],
)
def test_the_latest_stage_reached_is_due(days: int, stage: int | None) -> None:
    decision = reminder_due(POLICY, *facts(days=days))
    assert decision.stage_days == stage
    assert decision.skip == (ReminderSkip.NOT_DUE_YET if stage is None else None)


def test_a_small_debt_gets_no_reminder() -> None:
    assert reminder_due(POLICY, *facts(amount="49.99", days=100)).skip is ReminderSkip.BELOW_MINIMUM_AMOUNT
    assert reminder_due(POLICY, *facts(amount="50.00", days=100)).stage_days == 90


def test_an_open_dispute_stops_every_reminder() -> None:
    decision = reminder_due(POLICY, *facts(days=100, disputes=1))
    assert decision == type(decision)(None, ReminderSkip.OPEN_DISPUTE)


def test_stage_numbers_and_the_final_notice() -> None:
    assert [POLICY.stage_number(days) for days in (15, 45, 90)] == [1, 2, 3]
    assert [POLICY.is_final(days) for days in (15, 45, 90)] == [False, False, True]


def test_a_reminder_is_named_by_household_charge_and_stage() -> None:
    assert reminder_key("BGY-1-1-101", DUE_ON, 45) == "reminder:BGY-1-1-101:2026-11-30:45"
    assert reminder_key("BGY-1-1-101", DUE_ON, 45) != reminder_key("BGY-1-1-101", DUE_ON, 90)
    assert reminder_key("BGY-1-1-101", DUE_ON, 45) != reminder_key("BGY-1-1-101", DUE_ON + timedelta(1), 45)


@pytest.mark.parametrize(
    ("stages", "amount", "message_key"),
    [
        ([], "50", "dunning_stage_count"),
        ([1, 2, 3, 4, 5, 6, 7], "50", "dunning_stage_count"),
        ([0, 15], "50", "dunning_stage_out_of_range"),
        ([15, 3651], "50", "dunning_stage_out_of_range"),
        ([45, 15], "50", "dunning_stages_not_ascending"),
        ([15, 15], "50", "dunning_stages_not_ascending"),
        ([15], "0", None),
        ([15], "10.001", None),
    ],
)
def test_bad_policies_are_refused(stages: list[int], amount: str, message_key: str | None) -> None:
    with pytest.raises(InvalidInputError) as refused:
        DunningPolicy.of(stages, Decimal(amount))
    if message_key is not None:
        assert refused.value.message_key == message_key


@given(
    stages=st.lists(st.integers(1, 3650), min_size=1, max_size=6, unique=True).map(sorted),
    days=st.integers(0, 5000),
)
def test_the_stage_due_is_the_greatest_stage_not_after_the_days(stages: list[int], days: int) -> None:
    policy = DunningPolicy.of(stages, Decimal("1.00"))
    stage = policy.stage_reached(days)
    if stage is None:
        assert all(days < each for each in stages)
    else:
        assert stage <= days
        assert all(each <= stage or each > days for each in stages)
    # Later days never fall back to an earlier stage.
    later = policy.stage_reached(days + 1)
    assert (stage or 0) <= (later or 0)
