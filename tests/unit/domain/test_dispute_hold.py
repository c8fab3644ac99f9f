"""Hold only what is disputed: open disputes hold their disputed amount, never more than is past
due; what is past due beyond it still counts for reminders and arrears flags. An old dispute flag
without an amount holds everything, as it always did."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

from hypothesis import given
from hypothesis import strategies as st

from domain.arrears import ArrearsFacts, ArrearsPolicy, IneligibilityReason, flag_reasons
from domain.dispute_hold import NO_DISPUTES, DisputeHold
from domain.dunning import DunningFacts, DunningPolicy, ReminderSkip, reminder_due

D = Decimal
TODAY = date(2026, 1, 20)
DUNNING = DunningPolicy.of([15, 45, 90], D("50.00"))
ARREARS = ArrearsPolicy.of(D("1000.00"), 30, "11-15", "03-15")

yuan = st.integers(min_value=0, max_value=10_000_000).map(lambda fen: D(fen) / 100)
past_due = st.integers(min_value=1, max_value=10_000_000).map(lambda fen: D(fen) / 100)
open_disputes = st.integers(min_value=0, max_value=5)


@given(past_due, yuan, open_disputes)
def test_the_amount_held_never_exceeds_the_disputed_nor_the_past_due_amount(
    owed: Decimal, disputed: Decimal, count: int
) -> None:
    hold = DisputeHold(count, disputed)
    held = hold.held_yuan(owed)
    assert D(0) <= held <= min(disputed, owed)
    assert hold.undisputed_yuan(owed) == owed - held >= 0
    # What is past due beyond the disputed amount still counts, to the fen.
    if count > 0:
        assert hold.undisputed_yuan(owed) == max(owed - disputed, D(0))
    else:
        assert hold.undisputed_yuan(owed) == owed


@given(past_due, st.integers(min_value=1, max_value=5))
def test_an_old_dispute_flag_without_an_amount_holds_everything(owed: Decimal, count: int) -> None:
    assert DisputeHold(count, None).held_yuan(owed) == owed
    assert DisputeHold(count, None).undisputed_yuan(owed) == 0
    assert NO_DISPUTES.held_yuan(owed) == 0


@given(past_due, yuan, open_disputes, st.integers(min_value=0, max_value=200))
def test_a_reminder_is_due_exactly_when_the_undisputed_amount_reaches_the_policy(
    owed: Decimal, disputed: Decimal, count: int, days: int
) -> None:
    facts = DunningFacts(owed, TODAY - timedelta(days=days), count, disputed)
    decision = reminder_due(DUNNING, facts, TODAY)
    undisputed = DisputeHold(count, disputed).undisputed_yuan(owed)
    if undisputed >= DUNNING.minimum_amount_yuan:
        # The dispute never stops a reminder for what lies beyond it.
        assert decision.skip in (None, ReminderSkip.NOT_DUE_YET)
        assert (decision.stage_days is not None) == (days >= DUNNING.stages_days[0])
    else:
        assert decision.stage_days is None
        held = DisputeHold(count, disputed).held_yuan(owed)
        expected = ReminderSkip.OPEN_DISPUTE if held > 0 else ReminderSkip.BELOW_MINIMUM_AMOUNT
        assert decision.skip is expected


@given(past_due, yuan, open_disputes, st.integers(min_value=0, max_value=200))
def test_a_flag_counts_exactly_the_undisputed_amount(owed: Decimal, disputed: Decimal, count: int, days: int) -> None:
    facts = ArrearsFacts(owed, TODAY - timedelta(days=days), False, count, None, disputed)
    reasons = set(flag_reasons(ARREARS, facts, TODAY))
    amount_rules = {IneligibilityReason.BELOW_MINIMUM_AMOUNT, IneligibilityReason.OPEN_DISPUTE}
    undisputed = facts.undisputed_past_due_yuan
    assert facts.held_yuan <= min(disputed, owed)
    assert (not reasons & amount_rules) == (undisputed >= ARREARS.minimum_amount_yuan)
    assert (IneligibilityReason.OPEN_DISPUTE in reasons) == (
        facts.held_yuan > 0 and undisputed < ARREARS.minimum_amount_yuan
    )
    assert (IneligibilityReason.BELOW_MINIMUM_AMOUNT in reasons) == (owed < ARREARS.minimum_amount_yuan)


def test_the_flag_is_raised_for_the_undisputed_amount() -> None:
    facts = ArrearsFacts(D("1944.00"), date(2025, 11, 1), False, 1, None, D("500.00"))
    assert flag_reasons(ARREARS, facts, TODAY) == []
    assert facts.undisputed_past_due_yuan == D("1444.00")
    held_back = ArrearsFacts(D("1944.00"), date(2025, 11, 1), False, 1, None, D("944.01"))
    assert flag_reasons(ARREARS, held_back, TODAY) == [IneligibilityReason.OPEN_DISPUTE]
