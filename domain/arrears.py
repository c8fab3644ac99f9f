"""The arrears policy: which households may be flagged for valve restriction, and the flags.

A household is flaggable when, on ``today``, what it owes past due beyond what its open disputes
hold reaches the policy's amount (hold only what is disputed: ``domain.dispute_hold``), its oldest
open charge is past due for at least the policy's days, it is not marked vulnerable, and ``today``
lies inside the policy's window of the season (e.g. 15 Nov to 15 Mar: no restriction in the first
cold days of the season or at its very end). ``flag_reasons`` gives the rules a household fails, so
a clerk sees why it was not flagged; ``arrears_open_dispute`` when the disputes are what keeps the
undisputed amount below the policy's.

An ``ArrearsFlag`` is raised by one person and becomes an action only when a second person
approves it (never the one who raised it). It can be withdrawn (the household paid, opened a
dispute, or it was a mistake), and a withdrawn flag is raised again, as a new event on the same
flag, when the household falls into arrears once more in the same season: the second person is
then anyone but the one who raised it again. Acting on an approved flag (the valve command) is not
part of it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from enum import StrEnum
from typing import Any
from uuid import UUID

from eventsourcing.domain import Aggregate, event

from domain import ids
from domain.dispute_hold import DisputeHold
from domain.errors import ConflictError, InvalidInputError, PermissionDeniedError
from domain.money import payment_amount
from domain.season import Season, current_or_last_season
from domain.values import CommandContext

# The months of the default season (1 Nov to 31 Mar), in season order.
SEASON_MONTHS = (11, 12, 1, 2, 3)
# A policy asking for more days past due than this is a typing error.
MAXIMUM_DAYS_PAST_DUE = 3650


class IneligibilityReason(StrEnum):
    """Why a household may not be flagged (also the message keys of the reasons)."""

    NOTHING_PAST_DUE = "arrears_nothing_past_due"
    BELOW_MINIMUM_AMOUNT = "arrears_below_minimum_amount"
    NOT_LONG_ENOUGH_PAST_DUE = "arrears_not_long_enough_past_due"
    OPEN_DISPUTE = "arrears_open_dispute"
    VULNERABLE = "arrears_vulnerable"
    OUTSIDE_WINDOW = "arrears_outside_window"


@dataclass(frozen=True, order=True)
class MonthDay:
    """A day of the year without the year: ``11-15`` is 15 November."""

    month: int
    day: int

    @classmethod
    def parse(cls, text: str, field: str) -> MonthDay:
        """``MM-DD`` into a month-day; a day that no year has (02-30) is refused."""
        month, _, day = text.strip().partition("-")
        try:
            parsed = cls(int(month), int(day))
            date(2000, parsed.month, parsed.day)  # a leap year: every real month-day exists in it
        except ValueError:
            raise InvalidInputError(
                "a window day looks like 11-15 (month-day)",
                message_key="arrears_window_day_invalid",
                field=field,
                value=text,
            ) from None
        return parsed

    def text(self) -> str:
        return f"{self.month:02d}-{self.day:02d}"

    def season_rank(self) -> tuple[int, int]:
        """Where the day falls in the season's order (November first)."""
        return (SEASON_MONTHS.index(self.month), self.day)

    def in_season_of(self, today: date) -> date:
        """This month-day in the season ``today`` belongs to (29 Feb falls back to 28 Feb)."""
        season = current_or_last_season(today)
        year = season.first_day.year if self.month >= SEASON_MONTHS[0] else season.last_day.year
        day = self.day
        if (self.month, day) == (2, 29) and not _is_leap(year):
            day = 28
        return date(year, self.month, day)


def _is_leap(year: int) -> bool:
    return year % 4 == 0 and (year % 100 != 0 or year % 400 == 0)


@dataclass(frozen=True)
class ArrearsPolicy:
    """The figures that decide whether a household is flagged. Use ``ArrearsPolicy.of`` to check them."""

    minimum_amount_yuan: Decimal
    minimum_days_past_due: int
    window_start: MonthDay
    window_end: MonthDay

    @classmethod
    def of(
        cls, minimum_amount_yuan: Decimal, minimum_days_past_due: int, window_start: str, window_end: str
    ) -> ArrearsPolicy:
        """A policy checked: a positive amount to the 分, a day count from 1, and a window of
        month-days inside the season (1 Nov – 31 Mar) whose start is not after its end."""
        amount = payment_amount(minimum_amount_yuan, field="minimum_amount_yuan")
        if not 1 <= minimum_days_past_due <= MAXIMUM_DAYS_PAST_DUE:
            raise InvalidInputError(
                f"the days past due must lie between 1 and {MAXIMUM_DAYS_PAST_DUE}",
                message_key="arrears_days_out_of_range",
                field="minimum_days_past_due",
                value=str(minimum_days_past_due),
                limit=str(MAXIMUM_DAYS_PAST_DUE),
            )
        start = MonthDay.parse(window_start, "window_start")
        end = MonthDay.parse(window_end, "window_end")
        for name, day in (("window_start", start), ("window_end", end)):
            if day.month not in SEASON_MONTHS:
                raise InvalidInputError(
                    "the window must lie inside the heating season (1 Nov to 31 Mar)",
                    message_key="arrears_window_outside_season",
                    field=name,
                    value=day.text(),
                )
        if start.season_rank() > end.season_rank():
            raise InvalidInputError(
                "the window's start lies after its end in the season",
                message_key="arrears_window_reversed",
                field="window_end",
                start=start.text(),
                end=end.text(),
            )
        return cls(amount, minimum_days_past_due, start, end)

    def window_contains(self, today: date) -> bool:
        """Whether ``today`` lies inside the window (both ends included) of its season."""
        return self.window_start.in_season_of(today) <= today <= self.window_end.in_season_of(today)


@dataclass(frozen=True)
class ArrearsFacts:
    """What the policy looks at for one household on a day.

    ``past_due_yuan``: its open charges due on or before the day; ``oldest_due_on``: the due day of
    the oldest of them (None when nothing is past due); ``disputed_yuan``: what its open disputes
    dispute in all, None when one has no amount (an old dispute flag: it holds everything)."""

    past_due_yuan: Decimal
    oldest_due_on: date | None
    vulnerable: bool
    open_disputes: int
    # The days of the season in force in the household's community (a decree may shorten the
    # window's reach or extend it); None: the policy's window alone decides.
    season: Season | None = None
    disputed_yuan: Decimal | None = None

    def days_past_due(self, today: date) -> int:
        return 0 if self.oldest_due_on is None else (today - self.oldest_due_on).days

    @property
    def held_yuan(self) -> Decimal:
        """What the open disputes hold of the past-due amount (never more than either)."""
        return DisputeHold(self.open_disputes, self.disputed_yuan).held_yuan(self.past_due_yuan)

    @property
    def undisputed_past_due_yuan(self) -> Decimal:
        """What is past due beyond what the disputes hold: what the policy counts."""
        return DisputeHold(self.open_disputes, self.disputed_yuan).undisputed_yuan(self.past_due_yuan)


def flag_reasons(policy: ArrearsPolicy, facts: ArrearsFacts, today: date) -> list[IneligibilityReason]:
    """Every rule the household fails on ``today`` (empty: it may be flagged). The amount rule
    counts what is past due beyond what open disputes hold: ``BELOW_MINIMUM_AMOUNT`` when the whole
    past-due amount is below the policy's, ``OPEN_DISPUTE`` when the disputes hold enough of it to
    leave less than the policy's amount undisputed."""
    reasons: list[IneligibilityReason] = []
    if facts.oldest_due_on is None or facts.past_due_yuan <= 0:
        reasons.append(IneligibilityReason.NOTHING_PAST_DUE)
    else:
        if facts.past_due_yuan < policy.minimum_amount_yuan:
            reasons.append(IneligibilityReason.BELOW_MINIMUM_AMOUNT)
        if facts.days_past_due(today) < policy.minimum_days_past_due:
            reasons.append(IneligibilityReason.NOT_LONG_ENOUGH_PAST_DUE)
        if facts.held_yuan > 0 and facts.undisputed_past_due_yuan < policy.minimum_amount_yuan:
            reasons.append(IneligibilityReason.OPEN_DISPUTE)
    if facts.vulnerable:
        reasons.append(IneligibilityReason.VULNERABLE)
    if not policy.window_contains(today) or (facts.season is not None and not facts.season.contains(today)):
        reasons.append(IneligibilityReason.OUTSIDE_WINDOW)
    return reasons


def eligible(policy: ArrearsPolicy, facts: ArrearsFacts, today: date) -> bool:
    """Whether the household may be flagged on ``today``."""
    return not flag_reasons(policy, facts, today)


class FlagStatus(StrEnum):
    """Where an arrears flag stands."""

    RAISED = "raised"
    APPROVED = "approved"
    WITHDRAWN = "withdrawn"


class WithdrawalKind(StrEnum):
    """Why a flag was withdrawn."""

    PAID = "paid"
    DISPUTE_OPENED = "dispute_opened"
    VULNERABLE = "vulnerable"
    MISTAKE = "mistake"


@dataclass(frozen=True)
class FlagSubject:
    """The household a flag is raised for and what it owes."""

    household_id: UUID
    account_number: str
    community: str
    building: str
    amount_yuan: Decimal
    days_past_due: int


def _require_eligible(account_number: str, policy: ArrearsPolicy, facts: ArrearsFacts, today: date) -> None:
    """InvalidInputError naming every rule the household fails on ``today``."""
    reasons = flag_reasons(policy, facts, today)
    if reasons:
        raise InvalidInputError(
            "the household is not eligible for an arrears flag",
            message_key="arrears_not_eligible",
            account_number=account_number,
            reasons=", ".join(reasons),
        )


def _context_fields(context: CommandContext) -> dict[str, Any]:
    return {"actor": context.actor, "reason": context.reason, "correlation_id": context.correlation_id}


class ArrearsFlag(Aggregate):
    """A household flagged for valve restriction in a season: raised, then approved by a second
    person or withdrawn; a withdrawn flag may be raised again in its season (``times_raised``)."""

    class Raised(Aggregate.Created):
        household_id: UUID
        account_number: str
        community: str
        building: str
        season_code: str
        amount_yuan: Decimal
        days_past_due: int
        minimum_amount_yuan: Decimal
        minimum_days_past_due: int
        window_start: str
        window_end: str
        raised_on: date
        actor: str
        reason: str
        correlation_id: UUID

    class RaisedAgain(Aggregate.Event):
        """A withdrawn flag raised again in its season, with the facts and policy of this run."""

        amount_yuan: Decimal
        days_past_due: int
        minimum_amount_yuan: Decimal
        minimum_days_past_due: int
        window_start: str
        window_end: str
        raised_on: date
        actor: str
        reason: str
        correlation_id: UUID

    class Approved(Aggregate.Event):
        approved_on: date
        actor: str
        reason: str
        correlation_id: UUID

    class Withdrawn(Aggregate.Event):
        kind: str
        withdrawn_on: date
        actor: str
        reason: str
        correlation_id: UUID

    @staticmethod
    def create_id(account_number: str, season_code: str) -> UUID:
        return ids.arrears_flag_id(account_number, season_code)

    @event(Raised)
    def __init__(
        self,
        household_id: UUID,
        account_number: str,
        community: str,
        building: str,
        season_code: str,
        amount_yuan: Decimal,
        days_past_due: int,
        minimum_amount_yuan: Decimal,
        minimum_days_past_due: int,
        window_start: str,
        window_end: str,
        raised_on: date,
        actor: str,
        reason: str,
        correlation_id: UUID,
    ) -> None:
        self.household_id = household_id
        self.account_number = account_number
        self.community = community
        self.season_code = season_code
        self.amount_yuan = amount_yuan
        self.minimum_amount_yuan = minimum_amount_yuan
        self.days_past_due = days_past_due
        self.raised_on = raised_on
        self.raised_by = actor
        self.status = FlagStatus.RAISED
        self.approved_by: str | None = None
        self.withdrawal_kind: str | None = None
        self.times_raised = 1

    @classmethod
    def raise_flag(
        cls, subject: FlagSubject, policy: ArrearsPolicy, facts: ArrearsFacts, today: date, context: CommandContext
    ) -> ArrearsFlag:
        """Flag a household the policy finds eligible today; InvalidInputError names the rules it fails."""
        _require_eligible(subject.account_number, policy, facts, today)
        return cls(
            household_id=subject.household_id,
            account_number=subject.account_number,
            community=subject.community,
            building=subject.building,
            season_code=current_or_last_season(today).code,
            amount_yuan=facts.undisputed_past_due_yuan,
            days_past_due=facts.days_past_due(today),
            minimum_amount_yuan=policy.minimum_amount_yuan,
            minimum_days_past_due=policy.minimum_days_past_due,
            window_start=policy.window_start.text(),
            window_end=policy.window_end.text(),
            raised_on=today,
            **_context_fields(context),
        )

    def raise_again(self, policy: ArrearsPolicy, facts: ArrearsFacts, today: date, context: CommandContext) -> None:
        """Raise a withdrawn flag again: the household is in arrears once more in the flag's season.

        Only a withdrawn flag (ConflictError otherwise), only in its own season, only when the
        policy finds the household eligible today (InvalidInputError names the rules it fails).
        The approval is cleared; the new raiser is the one who may not approve it."""
        self._require(FlagStatus.WITHDRAWN)
        season_code = current_or_last_season(today).code
        if season_code != self.season_code:
            raise ConflictError(
                f"the arrears flag is of the season {self.season_code}, not {season_code}",
                message_key="arrears_flag_other_season",
                season_code=self.season_code,
            )
        _require_eligible(self.account_number, policy, facts, today)
        self._raised_again(
            amount_yuan=facts.undisputed_past_due_yuan,
            days_past_due=facts.days_past_due(today),
            minimum_amount_yuan=policy.minimum_amount_yuan,
            minimum_days_past_due=policy.minimum_days_past_due,
            window_start=policy.window_start.text(),
            window_end=policy.window_end.text(),
            raised_on=today,
            **_context_fields(context),
        )

    @event(RaisedAgain)
    def _raised_again(
        self,
        amount_yuan: Decimal,
        days_past_due: int,
        minimum_amount_yuan: Decimal,
        minimum_days_past_due: int,
        window_start: str,
        window_end: str,
        raised_on: date,
        actor: str,
        reason: str,
        correlation_id: UUID,
    ) -> None:
        self.amount_yuan = amount_yuan
        self.minimum_amount_yuan = minimum_amount_yuan
        self.days_past_due = days_past_due
        self.raised_on = raised_on
        self.raised_by = actor
        self.status = FlagStatus.RAISED
        self.approved_by = None
        self.withdrawal_kind = None
        self.times_raised += 1

    def approve(self, today: date, context: CommandContext) -> None:
        """A second person approves: never the one who raised the flag."""
        self._require(FlagStatus.RAISED)
        if context.actor == self.raised_by:
            raise PermissionDeniedError(
                "an arrears flag is approved by a second person, not by the one who raised it",
                message_key="second_person_required",
                requested_by=self.raised_by,
            )
        self._approved(today, **_context_fields(context))

    @event(Approved)
    def _approved(self, approved_on: date, actor: str, reason: str, correlation_id: UUID) -> None:
        self.status = FlagStatus.APPROVED
        self.approved_by = actor

    def withdraw(self, kind: WithdrawalKind, today: date, context: CommandContext) -> None:
        """Take the flag back (paid, a dispute opened, found vulnerable, a mistake), with why."""
        if self.status is FlagStatus.WITHDRAWN:
            raise ConflictError(
                "the arrears flag is withdrawn already",
                message_key="arrears_flag_status_conflict",
                status=self.status.value,
            )
        self._withdrawn(WithdrawalKind(kind).value, today, **_context_fields(context))

    @event(Withdrawn)
    def _withdrawn(self, kind: str, withdrawn_on: date, actor: str, reason: str, correlation_id: UUID) -> None:
        self.status = FlagStatus.WITHDRAWN
        self.withdrawal_kind = kind

    def _require(self, status: FlagStatus) -> None:
        if self.status is not status:
            raise ConflictError(
                f"the arrears flag is {self.status.value}, not {status.value}",
                message_key="arrears_flag_status_conflict",
                status=self.status.value,
            )
