"""Disputes (客服): open a household's dispute about a bill, a reading or a payment, record its
investigation step by step, resolve it (a credit or debit note against the original billing
period, a second person's approval above the threshold, or a rejection), or record its withdrawal;
list and read disputes, also on the household.

Writes need `manage_disputes` (customer service, clerks, admins); the second person's decision on
a proposed note needs `approve_refunds` (clerks, admins) and is never the proposer's (403).
"""

from __future__ import annotations

from typing import Annotated, Any
from uuid import UUID, uuid4

from fastapi import Depends, Query, Response

from api.auth import Caller, Reader
from api.dependencies import BusinessToday, ContainerDependency, Queries
from api.problems import problem_responses
from api.routers import resource_router
from api.routers.households import AccountNumberPath, require_household
from api.schemas.common import NAME_MAX_LENGTH
from api.schemas.disputes import (
    ApprovalInput,
    DisputeDetail,
    DisputeInput,
    DisputeOpenedOutput,
    DisputeOutput,
    DisputePage,
    DisputeStepOutput,
    EstimateReplacedStep,
    HouseholdDisputes,
    HouseholdNoteStep,
    ReadingCorrectedStep,
    RecomputeStep,
    ResolutionInput,
    ResolutionOutput,
    SiteVisitStep,
    StepInput,
    StepReceipt,
    VerificationRequestedStep,
    VerificationResultStep,
    WithdrawalInput,
)
from api.schemas.lifecycle import JudgedPointOutput
from application.disputes import ResolutionReport, SubjectRequest
from domain.dispute import DisputeCategory, DisputeClaim, DisputeState
from domain.errors import NotFoundError
from domain.verification import TestPoint
from projections.dispute_queries import MAXIMUM_AGE_DAYS, DisputeFilter, DisputeQueries, DisputeRecord
from projections.queries import MAXIMUM_PAGE_SIZE

router = resource_router("", "disputes")

MAXIMUM_OFFSET = 1_000_000
PageLimit = Annotated[int, Query(ge=1, le=MAXIMUM_PAGE_SIZE, description="Disputes per page, at most 1000")]
PageOffset = Annotated[int, Query(ge=0, le=MAXIMUM_OFFSET, description="Disputes to skip")]
AgeQuery = Annotated[int | None, Query(ge=0, le=MAXIMUM_AGE_DAYS)]


def get_dispute_queries(container: ContainerDependency) -> DisputeQueries:
    """Reads of the dispute read models."""
    return DisputeQueries(container.engine)


DisputeReads = Annotated[DisputeQueries, Depends(get_dispute_queries)]


def dispute_output(record: DisputeRecord, today: Any) -> DisputeOutput:
    """A dispute's row as the API shows it, with its age counted to ``today``."""
    return DisputeOutput.model_validate({**vars(record), "age_days": record.age_days(today)})


def require_dispute(reads: DisputeQueries, dispute_id: UUID) -> DisputeRecord:
    """The dispute's record, or a 404 problem."""
    record = reads.dispute(dispute_id)
    if record is None:
        raise NotFoundError(f"no dispute {dispute_id}", kind="dispute", key=str(dispute_id))
    return record


@router.post(
    "/disputes",
    status_code=201,
    operation_id="open_dispute",
    response_model=DisputeOpenedOutput,
    responses={**problem_responses(401, 403, 404, 409, 422), 200: {"description": "Opened already (a retry)"}},
)
def open_dispute(
    dispute: DisputeInput, caller: Caller, container: ContainerDependency, response: Response
) -> DisputeOpenedOutput:
    """Open a household's dispute (客服工单) about a bill, a reading or a payment: its category,
    the household's words, the amount it disputes (元; 0 only for poor heating), the channel.

    While it is open the disputed amount is held back from dunning and arrears flags; what is past
    due beyond it still counts. A bill, payment or meter that is not the household's is a 422; an
    unknown household, bill or payment a 404. With `reference`, a retry answers 200 with the same
    dispute; the same reference for another claim is a 409."""
    correlation_id = uuid4()
    subject = SubjectRequest(
        dispute.subject.kind,
        dispute.subject.bill_id,
        dispute.subject.meter_serial,
        dispute.subject.measured_at,
        dispute.subject.payment_id,
        dispute.subject.payment_reference,
        dispute.subject.season_code,
    )
    claim = DisputeClaim(dispute.category, dispute.description, dispute.disputed_amount_yuan, dispute.channel)
    opened = container.disputes.open(
        caller, dispute.account_number, subject, claim, dispute.reference, dispute.reason or "", correlation_id
    )
    if not opened.created:
        response.status_code = 200
    return DisputeOpenedOutput(
        dispute_id=opened.dispute_id, reference=opened.reference, created=opened.created, correlation_id=correlation_id
    )


@router.get(
    "/disputes",
    operation_id="list_disputes",
    response_model=DisputePage,
    responses=problem_responses(401, 403, 422),
)
def list_disputes(
    _reader: Reader,
    reads: DisputeReads,
    today: BusinessToday,
    state: Annotated[DisputeState | None, Query(description="One state")] = None,
    open_only: Annotated[bool, Query(alias="open", description="Only disputes not yet closed")] = False,
    category: Annotated[DisputeCategory | None, Query(description="One category")] = None,
    community: Annotated[str | None, Query(max_length=NAME_MAX_LENGTH, description="One community")] = None,
    min_days_open: AgeQuery = None,
    max_days_open: AgeQuery = None,
    limit: PageLimit = 100,
    offset: PageOffset = 0,
) -> DisputePage:
    """Disputes by state, category, community and age (days open: to the closing day, or to
    today while open), the oldest opened first."""
    selection = DisputeFilter(
        state=state.value if state else None,
        open_only=open_only,
        category=category.value if category else None,
        community=community,
        minimum_age_days=min_days_open,
        maximum_age_days=max_days_open,
    )
    page = reads.disputes(selection, today, limit, offset)
    return DisputePage(
        items=[dispute_output(record, today) for record in page.items], total=page.total, limit=limit, offset=offset
    )


@router.get(
    "/disputes/{dispute_id:uuid}",
    operation_id="get_dispute",
    response_model=DisputeDetail,
    responses=problem_responses(401, 403, 404, 422),
)
def get_dispute(dispute_id: UUID, _reader: Reader, reads: DisputeReads, today: BusinessToday) -> DisputeDetail:
    """A dispute with every step in order: when each was recorded, who, why, and what it found."""
    record = require_dispute(reads, dispute_id)
    steps = [DisputeStepOutput.model_validate(step) for step in reads.steps(dispute_id)]
    return DisputeDetail.model_validate({**dispute_output(record, today).model_dump(), "steps": steps})


@router.post(
    "/disputes/{dispute_id:uuid}/steps",
    status_code=201,
    operation_id="record_dispute_step",
    response_model=StepReceipt,
    responses=problem_responses(401, 403, 404, 409, 422),
)
def record_dispute_step(
    dispute_id: UUID, step: StepInput, caller: Caller, container: ContainerDependency
) -> StepReceipt:
    """Record an investigation step (`kind`): `verification_requested`, `verification_result`
    (recorded now with `points`, or the meter's recorded one linked), `site_visit`,
    `reading_corrected` (linked by the correction's correlation id), `estimate_replaced`,
    `recompute` (the bill recomputed from everything known now, its difference and lines kept),
    `household_note`. The first step is the dispute's first response. A closed dispute, or one
    whose resolution awaits approval, is a 409; a link to nothing is a 404."""
    correlation_id = uuid4()
    details = _record(step, dispute_id, caller, container, correlation_id)
    dispute = container.disputes.dispute(dispute_id)
    return StepReceipt(
        dispute_id=dispute_id, kind=step.kind, state=dispute.state, correlation_id=correlation_id, details=details
    )


def _record(step: Any, dispute_id: UUID, caller: Any, container: Any, correlation_id: UUID) -> dict[str, Any]:
    """Run the step's use case; what it found, for the receipt."""
    disputes = container.disputes
    reason = step.reason or ""
    if isinstance(step, VerificationRequestedStep):
        disputes.request_verification(caller, dispute_id, step.meter_serial, reason, correlation_id)
    elif isinstance(step, VerificationResultStep):
        points = None
        if step.points is not None:
            points = [
                TestPoint(point.flow_rate_m3_h, point.temperature_difference_k, point.measured_error_percent)
                for point in step.points
            ]
        result = disputes.record_verification_result(
            caller, dispute_id, step.meter_serial, step.verified_on, step.certificate, points, reason, correlation_id
        )
        worst = JudgedPointOutput.from_point(result.worst_point).model_dump(mode="json")
        return {"passed": result.passed, "meter_version": result.meter_version, "worst_point": worst}
    elif isinstance(step, SiteVisitStep):
        disputes.record_site_visit(
            caller, dispute_id, step.visited_on, step.findings, step.visited_by, reason, correlation_id
        )
    elif isinstance(step, ReadingCorrectedStep):
        disputes.link_reading_correction(
            caller,
            dispute_id,
            step.meter_serial,
            step.measured_at,
            step.correction_correlation_id,
            reason,
            correlation_id,
        )
    elif isinstance(step, EstimateReplacedStep):
        replaced_by = disputes.link_estimate_replacement(
            caller,
            dispute_id,
            step.meter_serial,
            step.measured_at,
            step.replacement_correlation_id,
            reason,
            correlation_id,
        )
        return {"replacement_correlation_id": str(replaced_by)}
    elif isinstance(step, RecomputeStep):
        snapshot = disputes.attach_recompute(caller, dispute_id, step.bill_id, reason, correlation_id)
        return {
            "bill_number": snapshot.bill_number,
            "issued_amount_yuan": str(snapshot.issued_amount_yuan),
            "recomputed_amount_yuan": str(snapshot.recomputed_amount_yuan),
            "difference_yuan": str(snapshot.difference_yuan),
            "lines_differing": len(snapshot.changes),
        }
    else:
        assert isinstance(step, HouseholdNoteStep), f"an unknown step kind: {step!r}"
        disputes.inform_household(caller, dispute_id, step.message, step.channel, reason, correlation_id)
    return {}


@router.post(
    "/disputes/{dispute_id:uuid}/resolution",
    operation_id="resolve_dispute",
    response_model=ResolutionOutput,
    responses=problem_responses(401, 403, 404, 409, 422),
)
def resolve_dispute(
    dispute_id: UUID, resolution: ResolutionInput, caller: Caller, container: ContainerDependency
) -> ResolutionOutput:
    """Resolve the dispute: `upheld` books a note of the attached recompute's difference (less what
    earlier disputes booked against the same bill) against the recomputed bill's own billing
    period; `partly` books `amount_yuan` (same sign as the difference, no larger); `rejected` books
    nothing. A note above the approval threshold is proposed instead (`awaiting_approval`) and
    booked once a second person approves. Upholding without a recompute is a 409 (except a payment
    not credited or poor heating, which book nothing); a closed dispute is a 409."""
    correlation_id = uuid4()
    report = container.disputes.resolve(
        caller, dispute_id, resolution.outcome, resolution.reason, resolution.amount_yuan, correlation_id
    )
    return _resolution_output(report, correlation_id)


@router.post(
    "/disputes/{dispute_id:uuid}/resolution/approval",
    operation_id="decide_dispute_resolution",
    response_model=ResolutionOutput,
    responses=problem_responses(401, 403, 404, 409, 422),
)
def decide_dispute_resolution(
    dispute_id: UUID, approval: ApprovalInput, caller: Caller, container: ContainerDependency
) -> ResolutionOutput:
    """The second person's decision on a proposed note (`approve_refunds`, never the proposer:
    403): `approve` books it against the original period; `refuse` books nothing and the dispute
    is investigated again (a reason is required). No proposal awaiting is a 409."""
    correlation_id = uuid4()
    disputes = container.disputes
    if approval.decision == "approve":
        report = disputes.approve(caller, dispute_id, approval.reason or "approved", correlation_id)
    else:
        report = disputes.refuse(caller, dispute_id, approval.reason or "", correlation_id)
    return _resolution_output(report, correlation_id)


@router.post(
    "/disputes/{dispute_id:uuid}/withdrawal",
    operation_id="withdraw_dispute",
    response_model=ResolutionOutput,
    responses=problem_responses(401, 403, 404, 409, 422),
)
def withdraw_dispute(
    dispute_id: UUID, withdrawal: WithdrawalInput, caller: Caller, container: ContainerDependency
) -> ResolutionOutput:
    """The household withdraws its dispute: nothing is booked and its amount is released. A closed
    dispute is a 409."""
    correlation_id = uuid4()
    report = container.disputes.withdraw(caller, dispute_id, withdrawal.reason, correlation_id)
    return _resolution_output(report, correlation_id)


@router.get(
    "/households/{account_number}/disputes",
    tags=["households"],
    operation_id="list_household_disputes",
    response_model=HouseholdDisputes,
    responses=problem_responses(401, 403, 404, 422),
)
def list_household_disputes(
    account_number: AccountNumberPath,
    _reader: Reader,
    queries: Queries,
    reads: DisputeReads,
    today: BusinessToday,
    open_only: Annotated[bool, Query(alias="open", description="Only disputes not yet closed")] = False,
    limit: PageLimit = 100,
    offset: PageOffset = 0,
) -> HouseholdDisputes:
    """The household's disputes, the oldest opened first, and what its open ones dispute in all
    (`disputed_yuan` null: an old dispute flag without an amount is open and holds everything)."""
    household = require_household(queries, account_number)
    page = reads.disputes(DisputeFilter(open_only=open_only, household_id=household.household_id), today, limit, offset)
    hold = reads.hold_of(household.household_id)
    return HouseholdDisputes(
        account_number=account_number,
        open_disputes=hold.open_disputes,
        disputed_yuan=hold.disputed_yuan,
        items=[dispute_output(record, today) for record in page.items],
        total=page.total,
        limit=limit,
        offset=offset,
    )


def _resolution_output(report: ResolutionReport, correlation_id: UUID) -> ResolutionOutput:
    return ResolutionOutput(
        dispute_id=report.dispute_id,
        state=DisputeState(report.state),
        note_amount_yuan=report.note_amount_yuan,
        note_bill_id=report.note_bill_id,
        note_number=report.note_number,
        awaiting_approval=report.awaiting_approval,
        correlation_id=correlation_id,
    )
