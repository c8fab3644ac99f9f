"""A bill replayed from the events it was computed from, and recomputed from everything known now:
what customer service settles a dispute with, and what an auditor checks the ledger by."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends

from api.auth import Reader
from api.dependencies import ContainerDependency
from api.problems import problem_responses
from api.routers import resource_router
from api.routers.bills import BillIdPath
from api.schemas.bill_replays import BillRecomputeOutput, BillReplayOutput
from infrastructure.bill_replay import BillReplays

router = resource_router("", "bills")


def get_bill_replays(container: ContainerDependency) -> BillReplays:
    """Replays over the container's event store and read models (nothing is stored)."""
    return BillReplays(container.ledger, container.engine)


Replays = Annotated[BillReplays, Depends(get_bill_replays)]


@router.get(
    "/bills/{bill_id}/replay",
    operation_id="replay_bill",
    response_model=BillReplayOutput,
    responses=problem_responses(401, 403, 404, 422),
)
def replay_bill(bill_id: BillIdPath, reader: Reader, replays: Replays) -> BillReplayOutput:
    """The bill recomputed through the same billing code from exactly the events the ledger knew
    when it issued it (the read models' position its inputs were read at, recorded on the bill).
    `matches` is true when every line equals the issued one to the fen; false is a defect of the
    ledger, logged as one, with the lines that differ."""
    return BillReplayOutput.from_outcome(replays.replay(bill_id))


@router.get(
    "/bills/{bill_id}/recompute",
    operation_id="recompute_bill",
    response_model=BillRecomputeOutput,
    responses=problem_responses(401, 403, 404, 422),
)
def recompute_bill(bill_id: BillIdPath, reader: Reader, replays: Replays) -> BillRecomputeOutput:
    """The same bill from everything the ledger knows now, as if issued on its day: the difference
    from the issued bill, the lines that differ and, in the order they were recorded, each later
    command (a reading corrected or voided, an estimate, a meter swap, an area correction, a
    suspension, an owner change, a season decree) that moved it, with its events and amount."""
    return BillRecomputeOutput.from_outcome(replays.recompute(bill_id))
