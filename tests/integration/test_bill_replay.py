"""Bills replayed from exactly the events they were computed from, and recomputed from everything
known now with the causes of each difference, on SQLite and PostgreSQL.

The replay runs the same billing run over a point-in-time view of the ledger; these tests compare
its lines with the issued ones, never the stored amounts with themselves.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal

from application.authorization import SYSTEM
from domain.billing import BillKind
from domain.values import Areas
from infrastructure.bill_replay import BillReplays
from infrastructure.container import Container
from tests.integration import test_billing_runs
from tests.integration.test_billing_runs import SEASON, midnight, run
from tests.strategies import item

D = Decimal
# The billing runs' two metered households in building 1, the tariff, the clock after the season.
billed = test_billing_runs.billed


def replays(container: Container) -> BillReplays:
    return BillReplays(container.ledger, container.engine)


def correct_last_reading(container: Container, last: datetime) -> None:
    """The season's last register read 2 GJ too low: corrected after the bills were issued."""
    corrected = item("M-1", last, D(100) + D("0.2") * 151 + 2).values
    container.ledger.correct_reading(SYSTEM, "M-1", last, corrected, "register misread")


def bill_of(container: Container, account: str, kind: BillKind):  # type: ignore[no-untyped-def]
    (bill,) = container.billing.period(account, SEASON).issued(kind)
    return bill


def test_every_kind_of_bill_replays_to_the_fen(billed: Container) -> None:
    run(billed, BillKind.PREPAYMENT)
    run(billed, BillKind.STATEMENT, "2025-12")
    run(billed, BillKind.SETTLEMENT)
    for account in ("A-1", "A-2"):
        for kind in (BillKind.PREPAYMENT, BillKind.STATEMENT, BillKind.SETTLEMENT):
            issued = bill_of(billed, account, kind)
            outcome = replays(billed).replay(issued.bill_id)
            assert outcome.replayed.refusal is None
            assert outcome.replayed.lines == issued.lines, (account, kind, outcome.differences)
            assert outcome.matches and outcome.differences == []
            assert outcome.inputs_position > 0 and outcome.events_used > 0


def test_a_bill_records_the_position_its_inputs_were_read_at(billed: Container) -> None:
    before = billed.runner.position()
    run(billed, BillKind.SETTLEMENT)
    settlement = bill_of(billed, "A-1", BillKind.SETTLEMENT)
    assert settlement.inputs_position == before


def test_a_replay_ignores_what_was_recorded_after_the_bill(billed: Container) -> None:
    run(billed, BillKind.PREPAYMENT)
    run(billed, BillKind.SETTLEMENT)
    issued = bill_of(billed, "A-1", BillKind.SETTLEMENT)
    # A late correction of the last reading: 2 GJ more at the season's end.
    last = midnight(SEASON.last_day + timedelta(days=1))
    correct_last_reading(billed, last)
    billed.catch_up()
    assert replays(billed).replay(issued.bill_id).matches


def test_a_recompute_lists_the_correction_that_moved_the_bill_and_by_how_much(billed: Container) -> None:
    run(billed, BillKind.PREPAYMENT)
    run(billed, BillKind.SETTLEMENT)
    issued = bill_of(billed, "A-1", BillKind.SETTLEMENT)
    last = midnight(SEASON.last_day + timedelta(days=1))
    correct_last_reading(billed, last)
    billed.ledger.correct_area(SYSTEM, "A-2", Areas(D(80), D(80)), SEASON.first_day, "survey")  # another household
    billed.catch_up()
    outcome = replays(billed).recompute(issued.bill_id)
    assert outcome.replay_matches
    # 2 GJ × 43.9 元/GJ = 87.80 元 more.
    assert outcome.difference_yuan == D("87.80")
    (cause,) = outcome.causes
    assert cause.amount_yuan == D("87.80")
    assert {event.reason for event in cause.events} == {"register misread"}
    assert outcome.recomputed.amount_yuan == issued.amount_yuan + D("87.80")


def test_a_recompute_of_an_untouched_bill_has_no_causes(billed: Container) -> None:
    run(billed, BillKind.PREPAYMENT)
    issued = bill_of(billed, "A-1", BillKind.PREPAYMENT)
    outcome = replays(billed).recompute(issued.bill_id)
    assert outcome.causes == () and outcome.difference_yuan == 0
    assert outcome.recomputed.lines == issued.lines
