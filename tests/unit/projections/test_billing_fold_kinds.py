"""Every event the ledger projection handles is either folded for replays or named as changing
nothing a billing run reads: a new handler cannot be left out of the billing fold unnoticed."""

from __future__ import annotations

from domain.meter import Meter
from projections.billing_fold import FOLDED_ELSEWHERE, BillingFold
from projections.ledger_projection import LedgerProjection


def test_every_event_class_the_projection_handles_is_folded_or_named_as_not_read_by_billing() -> None:
    # Readings are applied by the projection's batch writer rather than through a handler.
    handled = set(LedgerProjection()._handlers) | {Meter.ReadingRecorded}
    folded = BillingFold.folded_kinds()
    assert folded <= handled, "the fold applies only what the projection applies"
    assert not folded & FOLDED_ELSEWHERE, "an event is either folded or not read by billing, not both"
    left_out = {kind.__qualname__ for kind in handled - folded - FOLDED_ELSEWHERE}
    assert left_out == set(), "decide for each: fold it (projections/billing_fold.py) or name it in FOLDED_ELSEWHERE"
