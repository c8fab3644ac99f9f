"""A bill recomputed for a dispute: ``BillReplays.recompute`` kept as a snapshot the dispute can
store (the amounts, the lines that differ, the commands that moved it).

A recompute the billing run refuses, or whose starting point does not replay the issued bill
(a defect of the ledger, logged by the replay), cannot justify a note: both are refused here.
"""

from __future__ import annotations

from uuid import UUID

from sqlalchemy import Engine

from application.ledger import HeatLedger
from domain.dispute import LineChange, RecomputeSnapshot
from domain.errors import ConflictError, InvalidInputError, NotFoundError
from infrastructure.bill_replay import BillReplays
from projections.billing_queries import BillingQueries


class DisputeRecomputes:
    """Recomputes of issued bills as dispute snapshots (read-only)."""

    def __init__(self, ledger: HeatLedger, engine: Engine) -> None:
        self.replays = BillReplays(ledger, engine)
        self.bills = BillingQueries(engine)

    def __call__(self, bill_id: UUID) -> RecomputeSnapshot:
        """The bill recomputed from everything known now, as a snapshot."""
        record = self.bills.bill(bill_id)
        if record is None:
            raise NotFoundError(f"no bill {bill_id}", kind="bill", key=str(bill_id))
        outcome = self.replays.recompute(bill_id)
        if outcome.recomputed.amount_yuan is None:
            raise InvalidInputError(
                "the billing run does not issue this bill from what is known now",
                message_key="dispute_recompute_refused",
                bill_number=outcome.number,
                refusal=outcome.recomputed.refusal or "",
            )
        if not outcome.replay_matches:
            raise ConflictError(
                "the bill does not replay from its own inputs: its recompute cannot justify a note",
                message_key="dispute_recompute_unreliable",
                bill_number=outcome.number,
            )
        correlation_ids = tuple(dict.fromkeys(cid for cause in outcome.causes for cid in cause.correlation_ids))
        return RecomputeSnapshot(
            bill_id=outcome.bill_id,
            bill_number=outcome.number,
            bill_kind=outcome.kind,
            season_code=record.season_code,
            account_number=record.account_number,
            issued_amount_yuan=outcome.issued_amount_yuan,
            recomputed_amount_yuan=outcome.recomputed.amount_yuan,
            changes=tuple(LineChange(change.index, change.issued, change.recomputed) for change in outcome.differences),
            cause_correlation_ids=correlation_ids,
        )
