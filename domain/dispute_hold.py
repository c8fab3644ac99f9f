"""Hold only what is disputed: how much of a household's past-due amount its open disputes hold
back from dunning and arrears flags.

A dispute holds its disputed amount, never more than what is past due; what is past due beyond
the held amount still counts (reminders, flags). A dispute recorded before disputes carried an
amount (a ``Household.DisputeOpened`` event of class version 1, the old "dispute flag") has no
amount: it holds everything past due, as it did when it was recorded, until it is closed.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

ZERO_YUAN = Decimal("0.00")


@dataclass(frozen=True)
class DisputeHold:
    """A household's open disputes as dunning and the arrears policy see them.

    ``disputed_yuan``: the sum of the open disputes' amounts, or None when an open dispute has no
    amount (an old flag: it holds everything past due). ``open_disputes`` counts every open one."""

    open_disputes: int = 0
    disputed_yuan: Decimal | None = ZERO_YUAN

    def held_yuan(self, past_due_yuan: Decimal) -> Decimal:
        """What the disputes hold of ``past_due_yuan``: never more than either."""
        past_due = max(past_due_yuan, ZERO_YUAN)
        if self.open_disputes <= 0:
            return ZERO_YUAN
        if self.disputed_yuan is None:
            return past_due
        return min(max(self.disputed_yuan, ZERO_YUAN), past_due)

    def undisputed_yuan(self, past_due_yuan: Decimal) -> Decimal:
        """What is past due beyond the held amount (never below 0): what reminders and flags count."""
        return max(past_due_yuan, ZERO_YUAN) - self.held_yuan(past_due_yuan)


NO_DISPUTES = DisputeHold()
