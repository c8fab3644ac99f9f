"""Bill notices: the clerk's pass that writes the notice of every issued bill without one to the
notification outbox (a billing run does the same for its own bills when it ends).

Roles as for dunning: clerks and administrators run a pass (``send_reminders``). Delivery starts
after the response, as after a dunning run.
"""

from __future__ import annotations

from fastapi import BackgroundTasks

from api.auth import Caller
from api.dependencies import ContainerDependency
from api.problems import problem_responses
from api.routers import resource_router
from api.routers.billing import season_of
from api.routers.dunning import start_delivery
from api.schemas.bill_notices import BillNoticeOutcomeOutput, BillNoticeRun, BillNoticeRunOutput
from application.bill_notices import DEFAULT_REASON, BillSelection
from infrastructure.notifications.issued_bills import bill_notices_for

router = resource_router("", "dunning")


@router.post(
    "/notifications/bills",
    operation_id="send_bill_notices",
    response_model=BillNoticeRunOutput,
    responses=problem_responses(401, 403, 422),
)
def send_bill_notices(
    run: BillNoticeRun, caller: Caller, container: ContainerDependency, background: BackgroundTasks
) -> BillNoticeRunOutput:
    """Write a notice for every issued bill of the season (of one kind, month, community when
    given) that has none yet to the outbox, in its household's language, through the channel its
    contact chose: once per bill, however often this runs. Bills of households without a contact
    are listed as skipped. Delivery starts after the response."""
    season = season_of(run.season)
    selection = BillSelection(season.code, run.kind, run.month, run.community)
    summary = bill_notices_for(container).notify(caller, selection, run.reason or DEFAULT_REASON)
    if summary.written:
        start_delivery(container, background)
    return BillNoticeRunOutput(
        season=selection.season_code,
        kind=selection.kind.value if selection.kind else None,
        month=selection.month,
        community=selection.community,
        bills=summary.bills,
        written=[BillNoticeOutcomeOutput.model_validate(outcome) for outcome in summary.written],
        already_written=summary.already_written,
        skipped=[BillNoticeOutcomeOutput.model_validate(outcome) for outcome in summary.skipped],
    )
