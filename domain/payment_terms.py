"""When a charge falls due (the start of its arrears age)."""

from __future__ import annotations

from datetime import date, timedelta

from domain.billing import BillKind

# A settlement supplement is due this many days after the bill is issued.
SETTLEMENT_TERM_DAYS = 30


def due_on(kind: BillKind, issued_on: date, first_day: date) -> date:
    """The day a bill's charge falls due: the prepayment on the season's first day (or on its
    issue day when it is issued later), a settlement supplement 30 days after its issue."""
    if BillKind(kind) is BillKind.PREPAYMENT:
        return max(issued_on, first_day)
    return issued_on + timedelta(days=SETTLEMENT_TERM_DAYS)
