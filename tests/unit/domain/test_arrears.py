"""The arrears policy (hand-computed cases of each rule and of the season's window), the
ArrearsFlag aggregate (a second person approves; withdrawals), replay, and the household's
protections (marked vulnerable, disputes open)."""

from __future__ import annotations

from dataclasses import replace
from datetime import date
from decimal import Decimal
from uuid import uuid4

import pytest

from domain import ids
from domain.arrears import (
    ArrearsFacts,
    ArrearsFlag,
    ArrearsPolicy,
    FlagStatus,
    FlagSubject,
    IneligibilityReason,
    MonthDay,
    WithdrawalKind,
    eligible,
    flag_reasons,
)
from domain.errors import ConflictError, InvalidInputError, PermissionDeniedError
from domain.season import Season
from tests.strategies import context, new_household

D = Decimal
POLICY = ArrearsPolicy.of(D("1000.00"), 30, "11-15", "03-15")
TODAY = date(2026, 1, 10)
# 1944.00 due on 1 Nov 2025: 70 days past due on 10 Jan 2026.
OWING = ArrearsFacts(D("1944.00"), date(2025, 11, 1), vulnerable=False, open_disputes=0)
SUBJECT = FlagSubject(ids.household_id("WZ-1"), "WZ-1", "碧桂园", "1", D("1944.00"), 70)


def test_a_household_owing_enough_for_long_enough_in_the_window_is_eligible() -> None:
    assert OWING.days_past_due(TODAY) == 70
    assert flag_reasons(POLICY, OWING, TODAY) == []
    assert eligible(POLICY, OWING, TODAY)


@pytest.mark.parametrize(
    ("facts", "today", "expected"),
    [
        (ArrearsFacts(D("999.99"), date(2025, 11, 1), False, 0), TODAY, [IneligibilityReason.BELOW_MINIMUM_AMOUNT]),
        # due 12 Dec: 29 days on 10 Jan, one short of 30; 30 days exactly is enough (next case).
        (
            ArrearsFacts(D("1944.00"), date(2025, 12, 12), False, 0),
            TODAY,
            [IneligibilityReason.NOT_LONG_ENOUGH_PAST_DUE],
        ),
        (ArrearsFacts(D("1000.00"), date(2025, 12, 11), False, 0), TODAY, []),
        (ArrearsFacts(D("1944.00"), date(2025, 11, 1), False, 1), TODAY, [IneligibilityReason.OPEN_DISPUTE]),
        (ArrearsFacts(D("1944.00"), date(2025, 11, 1), True, 0), TODAY, [IneligibilityReason.VULNERABLE]),
        (ArrearsFacts(D(0), None, False, 0), TODAY, [IneligibilityReason.NOTHING_PAST_DUE]),
        # 16 Mar is a day after the window; 15 Mar is its last day.
        (OWING, date(2026, 3, 16), [IneligibilityReason.OUTSIDE_WINDOW]),
        (OWING, date(2026, 3, 15), []),
        (OWING, date(2025, 11, 14), [IneligibilityReason.NOT_LONG_ENOUGH_PAST_DUE, IneligibilityReason.OUTSIDE_WINDOW]),
        (
            ArrearsFacts(D("10.00"), date(2026, 1, 1), True, 2),
            date(2026, 7, 1),
            [
                IneligibilityReason.BELOW_MINIMUM_AMOUNT,
                IneligibilityReason.OPEN_DISPUTE,
                IneligibilityReason.VULNERABLE,
                IneligibilityReason.OUTSIDE_WINDOW,
            ],
        ),
    ],
    ids=[
        "amount-one-fen-short",
        "29-days",
        "30-days-and-exact-amount",
        "dispute",
        "vulnerable",
        "nothing-past-due",
        "day-after-window",
        "last-day-of-window",
        "before-window",
        "every-reason",
    ],
)
def test_each_rule_failed_is_named(facts: ArrearsFacts, today: date, expected: list[IneligibilityReason]) -> None:
    assert flag_reasons(POLICY, facts, today) == expected
    assert eligible(POLICY, facts, today) is (expected == [])


def test_a_window_within_one_calendar_year_of_the_season() -> None:
    policy = ArrearsPolicy.of(D("1.00"), 1, "01-01", "02-29")
    assert policy.window_contains(date(2026, 2, 28))  # no 29 Feb in 2026: the 28th closes the window
    assert not policy.window_contains(date(2026, 3, 1))
    assert not policy.window_contains(date(2025, 12, 31))
    assert policy.window_contains(date(2028, 2, 29))


@pytest.mark.parametrize(
    ("amount", "days", "start", "end", "message_key"),
    [
        ("0", 30, "11-15", "03-15", "amount_not_positive"),
        ("10.001", 30, "11-15", "03-15", "amount_too_precise"),
        ("100", 0, "11-15", "03-15", "arrears_days_out_of_range"),
        ("100", 30, "11-31", "03-15", "arrears_window_day_invalid"),
        ("100", 30, "Nov 15", "03-15", "arrears_window_day_invalid"),
        ("100", 30, "10-15", "03-15", "arrears_window_outside_season"),
        ("100", 30, "11-15", "04-01", "arrears_window_outside_season"),
        ("100", 30, "03-15", "11-15", "arrears_window_reversed"),
        ("100", 30, "12-02", "12-01", "arrears_window_reversed"),
    ],
)
def test_a_policy_is_checked(amount: str, days: int, start: str, end: str, message_key: str) -> None:
    with pytest.raises(InvalidInputError) as raised:
        ArrearsPolicy.of(D(amount), days, start, end)
    assert raised.value.message_key == message_key


def test_a_policy_keeps_its_figures() -> None:
    assert POLICY.minimum_amount_yuan == D("1000.00")
    assert (POLICY.window_start, POLICY.window_end) == (MonthDay(11, 15), MonthDay(3, 15))


# -- the flag -------------------------------------------------------------------------------------


def raised_flag() -> ArrearsFlag:
    return ArrearsFlag.raise_flag(SUBJECT, POLICY, OWING, TODAY, context("clerk-li"))


def test_a_flag_records_the_household_the_season_and_the_policy() -> None:
    flag = raised_flag()
    assert flag.id == ids.arrears_flag_id("WZ-1", "2025-2026")
    assert (flag.status, flag.amount_yuan, flag.days_past_due, flag.raised_by) == (
        FlagStatus.RAISED,
        D("1944.00"),
        70,
        "clerk-li",
    )
    raised = flag.collect_events()[0]
    assert isinstance(raised, ArrearsFlag.Raised)
    assert (raised.minimum_amount_yuan, raised.minimum_days_past_due) == (D("1000.00"), 30)
    assert (raised.window_start, raised.window_end, raised.season_code) == ("11-15", "03-15", "2025-2026")


def test_an_ineligible_household_is_not_flagged() -> None:
    protected = ArrearsFacts(D("1944.00"), date(2025, 11, 1), True, 0)
    with pytest.raises(InvalidInputError) as raised:
        ArrearsFlag.raise_flag(SUBJECT, POLICY, protected, TODAY, context())
    assert raised.value.message_key == "arrears_not_eligible"
    assert raised.value.params["reasons"] == "arrears_vulnerable"


def test_the_one_who_raised_a_flag_cannot_approve_it() -> None:
    flag = raised_flag()
    with pytest.raises(PermissionDeniedError) as raised:
        flag.approve(TODAY, context("clerk-li"))
    assert raised.value.message_key == "second_person_required"
    assert raised.value.params == {"requested_by": "clerk-li"}
    assert flag.status is FlagStatus.RAISED


def test_a_second_person_approves() -> None:
    flag = raised_flag()
    flag.approve(TODAY, context("clerk-wang"))
    assert (flag.status, flag.approved_by) == (FlagStatus.APPROVED, "clerk-wang")
    with pytest.raises(ConflictError):
        flag.approve(TODAY, context("admin-zhao"))


def test_a_withdrawn_flag_cannot_be_approved_nor_withdrawn_again() -> None:
    flag = raised_flag()
    flag.withdraw(WithdrawalKind.PAID, TODAY, context("clerk-wang", "paid in full at the counter"))
    assert (flag.status, flag.withdrawal_kind) == (FlagStatus.WITHDRAWN, "paid")
    with pytest.raises(ConflictError) as approving:
        flag.approve(TODAY, context("clerk-wang"))
    assert approving.value.message_key == "arrears_flag_status_conflict"
    with pytest.raises(ConflictError):
        flag.withdraw(WithdrawalKind.MISTAKE, TODAY, context("clerk-wang"))


def test_an_approved_flag_can_still_be_withdrawn() -> None:
    flag = raised_flag()
    flag.approve(TODAY, context("clerk-wang"))
    flag.withdraw(WithdrawalKind.DISPUTE_OPENED, TODAY, context("clerk-wang", "disputes the settlement"))
    assert flag.status is FlagStatus.WITHDRAWN


def test_a_flag_replays_to_the_same_state() -> None:
    flag = raised_flag()
    flag.approve(TODAY, context("clerk-wang"))
    flag.withdraw(WithdrawalKind.PAID, date(2026, 1, 12), context("clerk-wang", "paid"))
    events = flag.collect_events()
    replayed = None
    for domain_event in events:
        replayed = domain_event.mutate(replayed)
    assert isinstance(replayed, ArrearsFlag)
    assert vars(replayed) == vars(flag)


# -- raised again after a withdrawal ------------------------------------------------------------

# A week later the household owes again (its payment bounced): 2000.00, 77 days past due.
LATER = date(2026, 1, 17)
OWING_AGAIN = ArrearsFacts(D("2000.00"), date(2025, 11, 1), vulnerable=False, open_disputes=0)


def withdrawn_flag() -> ArrearsFlag:
    flag = raised_flag()
    flag.approve(TODAY, context("clerk-wang"))
    flag.withdraw(WithdrawalKind.PAID, date(2026, 1, 12), context("clerk-wang", "paid at the counter"))
    return flag


def test_a_withdrawn_flag_is_raised_again_with_the_new_facts_and_raiser() -> None:
    flag = withdrawn_flag()
    flag.raise_again(POLICY, OWING_AGAIN, LATER, context("clerk-wang", "the payment bounced"))
    assert (flag.status, flag.raised_by, flag.approved_by, flag.withdrawal_kind) == (
        FlagStatus.RAISED,
        "clerk-wang",
        None,
        None,
    )
    assert (flag.amount_yuan, flag.days_past_due, flag.raised_on, flag.times_raised) == (D("2000.00"), 77, LATER, 2)
    again = flag.collect_events()[-1]
    assert isinstance(again, ArrearsFlag.RaisedAgain)
    assert (again.minimum_amount_yuan, again.minimum_days_past_due, again.window_start, again.window_end) == (
        D("1000.00"),
        30,
        "11-15",
        "03-15",
    )
    assert (again.actor, again.reason, again.raised_on) == ("clerk-wang", "the payment bounced", LATER)


@pytest.mark.parametrize("approved", [False, True], ids=["raised", "approved"])
def test_only_a_withdrawn_flag_is_raised_again(approved: bool) -> None:
    flag = raised_flag()
    if approved:
        flag.approve(TODAY, context("clerk-wang"))
    with pytest.raises(ConflictError) as raised:
        flag.raise_again(POLICY, OWING_AGAIN, LATER, context("clerk-wang"))
    assert raised.value.message_key == "arrears_flag_status_conflict"
    assert flag.times_raised == 1


def test_a_flag_is_raised_again_only_when_eligible_and_in_its_own_season() -> None:
    flag = withdrawn_flag()
    protected = ArrearsFacts(D("2000.00"), date(2025, 11, 1), vulnerable=False, open_disputes=1)
    with pytest.raises(InvalidInputError) as not_eligible:
        flag.raise_again(POLICY, protected, LATER, context())
    assert not_eligible.value.params["reasons"] == "arrears_open_dispute"
    with pytest.raises(ConflictError) as next_season:
        flag.raise_again(POLICY, OWING_AGAIN, date(2026, 12, 1), context())
    assert next_season.value.message_key == "arrears_flag_other_season"
    assert flag.status is FlagStatus.WITHDRAWN


def test_the_second_person_is_checked_against_the_new_raiser() -> None:
    flag = withdrawn_flag()  # raised by clerk-li, approved and withdrawn by clerk-wang
    flag.raise_again(POLICY, OWING_AGAIN, LATER, context("clerk-wang"))
    with pytest.raises(PermissionDeniedError) as same_person:
        flag.approve(LATER, context("clerk-wang"))
    assert same_person.value.params == {"requested_by": "clerk-wang"}
    flag.approve(LATER, context("clerk-li"))  # the first raiser is a second person now
    assert (flag.status, flag.approved_by) == (FlagStatus.APPROVED, "clerk-li")


def test_a_flag_raised_again_replays_to_the_same_state() -> None:
    flag = withdrawn_flag()
    flag.raise_again(POLICY, OWING_AGAIN, LATER, context("clerk-wang"))
    flag.withdraw(WithdrawalKind.MISTAKE, LATER, context("clerk-li", "wrong household"))
    flag.raise_again(POLICY, OWING_AGAIN, date(2026, 1, 20), context("clerk-li"))
    replayed = None
    for domain_event in flag.collect_events():
        replayed = domain_event.mutate(replayed)
    assert isinstance(replayed, ArrearsFlag)
    assert vars(replayed) == vars(flag)
    assert replayed.times_raised == 3


# -- the household's protections ------------------------------------------------------------------


def test_a_household_is_marked_vulnerable_and_cleared() -> None:
    household = new_household()
    assert (household.vulnerable, household.open_disputes) == (False, 0)
    household.mark_vulnerable(context("service-chen", "lives alone, 82"))
    assert household.vulnerable
    with pytest.raises(ConflictError) as twice:
        household.mark_vulnerable(context())
    assert twice.value.message_key == "already_vulnerable"
    household.clear_vulnerability(context("service-chen", "moved to her son's"))
    assert not household.vulnerable
    with pytest.raises(ConflictError) as not_marked:
        household.clear_vulnerability(context())
    assert not_marked.value.message_key == "not_vulnerable"


def test_disputes_are_counted_open_and_closed_with_their_amounts() -> None:
    household = new_household()
    settlement, area = uuid4(), uuid4()
    household.open_dispute(settlement, D("300.00"), context("service-chen", "disputes the settlement of 2025-2026"))
    household.open_dispute(area, D("120.50"), context("service-chen", "disputes the area"))
    assert (household.open_disputes, household.disputed_yuan) == (2, D("420.50"))
    with pytest.raises(ConflictError) as twice:
        household.open_dispute(area, D("120.50"), context())
    assert twice.value.message_key == "dispute_open_already"
    household.close_dispute(area, context("service-chen", "area surveyed, unchanged"))
    assert (household.open_disputes, household.disputed_yuan) == (1, D("300.00"))
    household.close_dispute(settlement, context("service-chen", "settlement explained"))
    assert (household.open_disputes, household.disputed_yuan) == (0, D("0.00"))
    with pytest.raises(ConflictError) as none_open:
        household.close_dispute(settlement, context())
    assert none_open.value.message_key == "dispute_not_open_here"
    with pytest.raises(ConflictError) as no_old_flag:
        household.close_dispute(None, context())
    assert no_old_flag.value.message_key == "no_open_dispute"


def test_protections_replay() -> None:
    household = new_household()
    household.mark_vulnerable(context())
    household.open_dispute(uuid4(), D("80.00"), context())
    replayed = None
    for domain_event in household.collect_events():
        replayed = domain_event.mutate(replayed)
    assert (replayed.vulnerable, replayed.open_disputes, replayed.disputed_yuan) == (True, 1, D("80.00"))  # type: ignore[union-attr]


@pytest.mark.parametrize(
    ("today", "eligible_then"),
    [(date(2025, 11, 20), False), (date(2026, 1, 10), True), (date(2026, 3, 12), False)],
)
def test_the_window_reaches_only_the_days_of_the_season_in_force(today: date, eligible_then: bool) -> None:
    # The policy's window is 15 Nov – 15 Mar; the community heats 25 Nov – 10 Mar by decree, so a day
    # inside the window but outside the season in force is outside the window.
    season = Season(date(2025, 11, 25), date(2026, 3, 10), "某政发〔2025〕3号")
    facts = replace(OWING, season=season)
    reasons = flag_reasons(POLICY, facts, today)
    assert (IneligibilityReason.OUTSIDE_WINDOW not in reasons) is eligible_then
    # Without the season's record, the policy's window alone decides: all three days are inside it.
    assert IneligibilityReason.OUTSIDE_WINDOW not in flag_reasons(POLICY, OWING, today)
