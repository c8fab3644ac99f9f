"""Dunning: which reminder a household in arrears is due on a day.

A policy names reminder stages by the days the oldest open charge has been past due (by default
15, 45 and 90) and the least amount worth a reminder. On a day, a household is due the *latest*
stage its oldest charge has reached: a run missed for a month sends the 45-day reminder, not the
15-day one as well. A reminder is named by the household, the due day of the charge it is about and
the stage, so it is sent once, however often the run is repeated; when that charge is paid and a
younger one becomes the oldest, its stages start again.

Hold only what is disputed: a household's open disputes hold their disputed amount (never more
than is past due, ``domain.dispute_hold``); a reminder is due when what is past due beyond it
reaches the policy's amount, and it asks for that undisputed amount. The age is still that of the
oldest open charge. A household marked vulnerable gets reminders: a reminder informs, it restricts
nothing (that is the arrears policy's).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from enum import StrEnum
from itertools import pairwise

from domain.dispute_hold import DisputeHold
from domain.errors import InvalidInputError
from domain.money import payment_amount

# A ladder of more reminders than this is a typing error, not a policy.
MAXIMUM_STAGES = 6
MAXIMUM_STAGE_DAYS = 3650


class ReminderSkip(StrEnum):
    """Why a household with charges past due gets no reminder now (also message keys)."""

    BELOW_MINIMUM_AMOUNT = "dunning_below_minimum_amount"
    NOT_DUE_YET = "dunning_not_due_yet"
    OPEN_DISPUTE = "dunning_open_dispute"
    NO_CONTACT = "dunning_no_contact"
    ALREADY_SENT = "dunning_already_sent"


@dataclass(frozen=True)
class DunningPolicy:
    """Reminder stages (days past due, ascending) and the least amount past due worth a reminder.
    Build it with ``DunningPolicy.of`` so the figures are checked."""

    stages_days: tuple[int, ...]
    minimum_amount_yuan: Decimal

    @classmethod
    def of(cls, stages_days: list[int] | tuple[int, ...], minimum_amount_yuan: Decimal) -> DunningPolicy:
        """A policy checked: 1 to 6 stages, strictly ascending, each 1 to 3650 days; a positive
        amount to the 分."""
        stages = tuple(stages_days)
        if not 1 <= len(stages) <= MAXIMUM_STAGES:
            raise InvalidInputError(
                f"a dunning policy has 1 to {MAXIMUM_STAGES} reminder stages",
                message_key="dunning_stage_count",
                field="stages_days",
                limit=str(MAXIMUM_STAGES),
            )
        for days in stages:
            if not 1 <= days <= MAXIMUM_STAGE_DAYS:
                raise InvalidInputError(
                    f"a reminder stage lies between 1 and {MAXIMUM_STAGE_DAYS} days past due",
                    message_key="dunning_stage_out_of_range",
                    field="stages_days",
                    value=str(days),
                    limit=str(MAXIMUM_STAGE_DAYS),
                )
        if any(later <= earlier for earlier, later in pairwise(stages)):
            raise InvalidInputError(
                "reminder stages must be strictly ascending",
                message_key="dunning_stages_not_ascending",
                field="stages_days",
                value=",".join(str(days) for days in stages),
            )
        return cls(stages, payment_amount(minimum_amount_yuan, field="minimum_amount_yuan"))

    def stage_reached(self, days_past_due: int) -> int | None:
        """The latest stage (its days) reached after ``days_past_due`` days, or None."""
        reached = [days for days in self.stages_days if days <= days_past_due]
        return reached[-1] if reached else None

    def stage_number(self, stage_days: int) -> int:
        """1 for the first reminder, 2 for the second, ..."""
        return self.stages_days.index(stage_days) + 1

    def is_final(self, stage_days: int) -> bool:
        """Whether this is the policy's last reminder (its wording is the sternest)."""
        return stage_days == self.stages_days[-1]


@dataclass(frozen=True)
class DunningFacts:
    """What the policy looks at for one household on a day.

    ``disputed_yuan``: what its open disputes dispute in all; None when one has no amount (an old
    dispute flag, which holds everything past due)."""

    past_due_yuan: Decimal
    oldest_due_on: date
    open_disputes: int
    disputed_yuan: Decimal | None = None

    def days_past_due(self, today: date) -> int:
        return max((today - self.oldest_due_on).days, 0)

    @property
    def hold(self) -> DisputeHold:
        return DisputeHold(self.open_disputes, self.disputed_yuan)

    @property
    def held_yuan(self) -> Decimal:
        """What the open disputes hold of the past-due amount."""
        return self.hold.held_yuan(self.past_due_yuan)

    @property
    def undisputed_past_due_yuan(self) -> Decimal:
        """What is past due beyond what the disputes hold: what a reminder asks for."""
        return self.hold.undisputed_yuan(self.past_due_yuan)


@dataclass(frozen=True)
class ReminderDecision:
    """The stage due today (its days) or why none is."""

    stage_days: int | None
    skip: ReminderSkip | None


def reminder_due(policy: DunningPolicy, facts: DunningFacts, today: date) -> ReminderDecision:
    """The reminder stage a household is due today, or the first rule that stops it. What is past
    due beyond the disputed amount must reach the policy's amount; when the disputes are what keeps
    it below, the skip says so (``OPEN_DISPUTE``)."""
    if facts.undisputed_past_due_yuan < policy.minimum_amount_yuan:
        skip = ReminderSkip.OPEN_DISPUTE if facts.held_yuan > 0 else ReminderSkip.BELOW_MINIMUM_AMOUNT
        return ReminderDecision(None, skip)
    stage = policy.stage_reached(facts.days_past_due(today))
    if stage is None:
        return ReminderDecision(None, ReminderSkip.NOT_DUE_YET)
    return ReminderDecision(stage, None)


def reminder_key(account_number: str, oldest_due_on: date, stage_days: int) -> str:
    """The name of a reminder: one per household, charge (by its due day) and stage, ever."""
    return f"reminder:{account_number}:{oldest_due_on.isoformat()}:{stage_days}"
