"""A billing run selects the next chunk's billing periods ahead, in its reader thread (issue 17). A
selection gone stale before the chunk is billed (another writer changed a period meanwhile) is
caught by the save's version check, and the chunk is billed again from a fresh load: the bills are
the same, each issued once."""

from __future__ import annotations

from decimal import Decimal as D

import pytest

from application import billing_runs as billing_run_module
from application.billing_runs import _RunJob
from domain.billing import BillKind
from infrastructure.container import Container
from tests.integration.test_billing_runs import SEASON, billed, run  # noqa: F401 (a fixture)


def test_periods_selected_ahead_are_used(billed: Container, monkeypatch: pytest.MonkeyPatch) -> None:  # noqa: F811
    monkeypatch.setattr(billing_run_module, "CHUNK_SIZE", 1)  # two chunks of one household
    run(billed, BillKind.PREPAYMENT)
    selections: list[int] = []
    select = billed.billing_runs.stored_events_of
    assert select is not None, "the container wires the bulk selection"

    def counting(period_ids):  # type: ignore[no-untyped-def]
        selections.append(len(period_ids))
        return select(period_ids)

    monkeypatch.setattr(billed.billing_runs, "stored_events_of", counting)
    settlement = run(billed, BillKind.SETTLEMENT)
    assert (settlement.bills_issued, settlement.credited_yuan) == (2, D("-35.02") + D("-697.91"))
    assert selections == [1, 1], "one selection a chunk, made ahead"


def test_a_stale_selection_is_billed_again_from_a_fresh_load(
    billed: Container,  # noqa: F811
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(billing_run_module, "CHUNK_SIZE", 1)
    run(billed, BillKind.PREPAYMENT)
    # Stale in the worst way: the selection made ahead finds none of the periods the prepayment
    # opened, so the chunk opens a new one, whose save collides with the stored period.
    monkeypatch.setattr(_RunJob, "_period_events", lambda self, households: [])
    attempts: list[bool] = []
    bill_each = _RunJob._bill_each

    def counting(self: _RunJob, *arguments, **keywords):  # type: ignore[no-untyped-def]
        attempts.append(arguments[-1] is not None)  # from the reads made ahead?
        return bill_each(self, *arguments, **keywords)

    monkeypatch.setattr(_RunJob, "_bill_each", counting)
    settlement = run(billed, BillKind.SETTLEMENT)
    assert settlement.exceptions == []
    # Each chunk: a first attempt from the stale selection, refused at its save, then a fresh one.
    assert attempts == [True, False, True, False] or attempts == [True, False, False]
    assert (settlement.bills_issued, settlement.credited_yuan) == (2, D("-35.02") + D("-697.91"))
    for account in ("A-1", "A-2"):
        period = billed.billing.period(account, SEASON)
        assert len(period.issued(BillKind.SETTLEMENT)) == 1
        assert len(period.issued(BillKind.PREPAYMENT)) == 1
