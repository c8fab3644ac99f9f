"""Retroactive tariff corrections: a price the price bureau (物价局) revised after the season,
booked as credit and debit notes against the original billing periods (docs/tariff-rules.md,
"Tariff corrections").

Propose → preview (a job: the scenario of the correction and the note each household would get)
→ approval by a second person (never the proposer) or refusal → run (a job: the approved notes,
a chunk per save; run again, it books only what is missing) → completed. Administrators, who
publish tariffs, do all of it (``manage_tariffs``); whoever reads the ledger may read it.

Previews and runs are jobs like billing runs: inline (``HEATLEDGER_JOB_QUEUE=inline``, the
default) in this process after the 202 is sent; with ``arq`` on Redis for ``heatledger worker``.
Their rows say how far they came: ``GET /tariff-corrections/{id}/jobs/{job_id}``.
"""

from __future__ import annotations

import logging
from typing import Annotated, Any
from uuid import UUID

from fastapi import BackgroundTasks, Path, Query, Response

from api.auth import Caller, Reader
from api.dependencies import ContainerDependency, PreferredLanguage
from api.messages import Language, render, title
from api.problems import PROBLEM_TYPE_BASE, problem_responses
from api.routers import resource_router
from api.schemas.billing import RunExceptionOutput, RunProblem
from api.schemas.tariff_corrections import (
    CorrectionNoteOutput,
    CorrectionNotePage,
    Decision,
    JobRequest,
    TariffCorrectionJobOutput,
    TariffCorrectionList,
    TariffCorrectionOutput,
    TariffCorrectionProposal,
)
from domain.errors import NotFoundError
from domain.tariff_correction import CorrectionState
from domain.values import CustomerClass
from infrastructure.container import Container
from infrastructure.settings import JobQueueKind
from infrastructure.tariff_corrections import (
    MAXIMUM_PAGE,
    PREVIEW_TARIFF_CORRECTION,
    RUN_TARIFF_CORRECTION,
    CorrectionJobRecord,
    JobKind,
    correction_store_of,
    submit_preview,
    submit_run,
    tariff_corrections_of,
)
from projections.tariff_corrections import MAXIMUM_LISTED, TariffCorrectionQueries

router = resource_router("/tariff-corrections", "tariff-corrections")
logger = logging.getLogger("heatledger.api.tariff_corrections")

CorrectionIdPath = Annotated[UUID, Path(description="The correction's id, from `POST /tariff-corrections`")]
JobIdPath = Annotated[UUID, Path(description="A preview's or run's id, from its 202 answer")]
JOB_NAMES = {JobKind.PREVIEW: PREVIEW_TARIFF_CORRECTION, JobKind.RUN: RUN_TARIFF_CORRECTION}


def correction_location(correction_id: UUID) -> str:
    """The URL path of a correction."""
    return f"/tariff-corrections/{correction_id}"


@router.post(
    "",
    status_code=201,
    operation_id="propose_tariff_correction",
    response_model=TariffCorrectionOutput,
    responses={
        **problem_responses(401, 403, 404, 409, 422),
        200: {"description": "Proposed before in the same terms, or proposed again"},
    },
)
def propose_tariff_correction(
    body: TariffCorrectionProposal, caller: Caller, container: ContainerDependency, response: Response
) -> TariffCorrectionOutput:
    """Propose the correction of a published tariff version (administrators): the bureau's
    document and approval day, the past seasons it reaches back to, why, and the price fields it
    corrects. The version is never edited.

    One document corrects a version once: the same proposal again answers 200 with the
    correction (a retry); other figures for the same document propose it again (200) until it is
    approved, and a 409 after. A version corrected before (a correction that ran) is corrected
    from where that one left it. A correction that changes no price is a 422."""
    corrections = tariff_corrections_of(container)
    proposed = corrections.propose(caller, body.proposal(), body.reason)
    if not proposed.created:
        response.status_code = 200
    response.headers["Location"] = correction_location(proposed.correction_id)
    return TariffCorrectionOutput.from_correction(corrections.correction(proposed.correction_id))


@router.get(
    "",
    operation_id="list_tariff_corrections",
    response_model=TariffCorrectionList,
    responses=problem_responses(401, 403, 422),
)
def list_tariff_corrections(
    reader: Reader,
    container: ContainerDependency,
    state: Annotated[CorrectionState | None, Query(description="Only corrections in this state")] = None,
    customer_class: CustomerClass | None = None,
    scope: Annotated[str | None, Query(min_length=1, max_length=128, description='A community, or "*"')] = None,
    limit: Annotated[int, Query(ge=1, le=MAXIMUM_LISTED)] = 50,
) -> TariffCorrectionList:
    """Tariff corrections, the latest proposed first, by state and tariff."""
    rows = TariffCorrectionQueries(container.engine).list(
        state, customer_class.value if customer_class else None, scope, limit
    )
    return TariffCorrectionList(items=[TariffCorrectionOutput.from_row(row) for row in rows])


@router.get(
    "/{correction_id}",
    operation_id="get_tariff_correction",
    response_model=TariffCorrectionOutput,
    responses=problem_responses(401, 403, 404, 422),
)
def get_tariff_correction(
    correction_id: CorrectionIdPath, reader: Reader, container: ContainerDependency
) -> TariffCorrectionOutput:
    """A correction: what it corrects, its state, its preview's figures and scenarios, who
    approved or refused it, the notes booked so far."""
    return TariffCorrectionOutput.from_correction(tariff_corrections_of(container).correction(correction_id))


@router.post(
    "/{correction_id}/preview",
    status_code=202,
    operation_id="preview_tariff_correction",
    response_model=TariffCorrectionJobOutput,
    responses=problem_responses(401, 403, 404, 409, 422),
)
def preview_tariff_correction(
    correction_id: CorrectionIdPath,
    caller: Caller,
    container: ContainerDependency,
    language: PreferredLanguage,
    background: BackgroundTasks,
    response: Response,
    body: JobRequest | None = None,
) -> TariffCorrectionJobOutput:
    """Preview the correction (a job): for each season, the scenario of the correction (stored, at
    `GET /scenarios/{id}`) over the households whose period was opened under the version, and the
    note each would get, per settlement bill: its settlement under the corrected terms less the same
    under the version's. Books nothing. A new preview replaces the last; none after the approval (409)."""
    job_id = submit_preview(container, caller, correction_id, _reason(body, "preview"))
    return _started(container, JobKind.PREVIEW, correction_id, job_id, language, background, response)


@router.get(
    "/{correction_id}/jobs/{job_id}",
    operation_id="get_tariff_correction_job",
    response_model=TariffCorrectionJobOutput,
    responses=problem_responses(401, 403, 404, 422),
)
def get_tariff_correction_job(
    correction_id: CorrectionIdPath,
    job_id: JobIdPath,
    reader: Reader,
    container: ContainerDependency,
    language: PreferredLanguage,
) -> TariffCorrectionJobOutput:
    """A preview or run: `status` (queued, running, done, failed), `progress`, and what it did."""
    record = correction_store_of(container).get(job_id)
    if record.correction_id != correction_id:
        raise NotFoundError(
            f"no job {job_id} of correction {correction_id}", kind="tariff_correction_job", key=str(job_id)
        )
    return job_output(record, language)


@router.post(
    "/{correction_id}/approval",
    operation_id="approve_tariff_correction",
    response_model=TariffCorrectionOutput,
    responses=problem_responses(401, 403, 404, 409, 422),
)
def approve_tariff_correction(
    correction_id: CorrectionIdPath, body: Decision, caller: Caller, container: ContainerDependency
) -> TariffCorrectionOutput:
    """Approve the latest preview, exactly as previewed (a second administrator: the proposer gets
    a 403). Only a finished preview is approved (409 otherwise)."""
    corrections = tariff_corrections_of(container)
    corrections.approve(caller, correction_id, body.reason)
    return TariffCorrectionOutput.from_correction(corrections.correction(correction_id))


@router.post(
    "/{correction_id}/refusal",
    operation_id="refuse_tariff_correction",
    response_model=TariffCorrectionOutput,
    responses=problem_responses(401, 403, 404, 409, 422),
)
def refuse_tariff_correction(
    correction_id: CorrectionIdPath, body: Decision, caller: Caller, container: ContainerDependency
) -> TariffCorrectionOutput:
    """Refuse the correction, with why, any time before its run starts (409 after). It may be
    proposed again."""
    corrections = tariff_corrections_of(container)
    corrections.refuse(caller, correction_id, body.reason)
    return TariffCorrectionOutput.from_correction(corrections.correction(correction_id))


@router.post(
    "/{correction_id}/run",
    status_code=202,
    operation_id="run_tariff_correction",
    response_model=TariffCorrectionJobOutput,
    responses=problem_responses(401, 403, 404, 409, 422),
)
def run_tariff_correction(
    correction_id: CorrectionIdPath,
    caller: Caller,
    container: ContainerDependency,
    language: PreferredLanguage,
    background: BackgroundTasks,
    response: Response,
    body: JobRequest | None = None,
) -> TariffCorrectionJobOutput:
    """Book the approved notes (a job), each against its household's original billing period,
    a chunk per save; the tariff records the correction (its history shows it). Only after the
    approval (409 before). Run again (after a failure, or a process that died), it books only
    what is missing, and nothing once the correction is completed."""
    job_id = submit_run(container, caller, correction_id, _reason(body, "run"))
    return _started(container, JobKind.RUN, correction_id, job_id, language, background, response)


@router.get(
    "/{correction_id}/notes",
    operation_id="list_tariff_correction_notes",
    response_model=CorrectionNotePage,
    responses=problem_responses(401, 403, 404, 422),
)
def list_tariff_correction_notes(
    correction_id: CorrectionIdPath,
    reader: Reader,
    container: ContainerDependency,
    booked: Annotated[bool | None, Query(description="Only the notes booked (true) or not yet (false)")] = None,
    limit: Annotated[int, Query(ge=1, le=MAXIMUM_PAGE)] = 100,
    offset: Annotated[int, Query(ge=0)] = 0,
) -> CorrectionNotePage:
    """The notes of the approved preview (before the approval: of the latest preview), by account:
    amount, the settlement bill each adjusts, the recomputed lines that differ, and each note's bill
    once booked."""
    correction = tariff_corrections_of(container).correction(correction_id)
    number = correction.approved_preview or correction.preview_number
    rows = correction_store_of(container).notes_page(correction_id, number, booked, limit, offset)
    return CorrectionNotePage(
        preview_number=number, items=[CorrectionNoteOutput.from_row(row) for row in rows], limit=limit, offset=offset
    )


# -- helpers -------------------------------------------------------------------------------------


def _reason(body: JobRequest | None, default: str) -> str:
    return body.reason.strip() if body is not None and body.reason.strip() else default


def _started(
    container: Container,
    kind: JobKind,
    correction_id: UUID,
    job_id: UUID,
    language: Language,
    background: BackgroundTasks,
    response: Response,
) -> TariffCorrectionJobOutput:
    """Queue the job (inline: after the 202 is sent) and answer with its row and address."""
    name = JOB_NAMES[kind]
    if JobQueueKind(container.settings.job_queue) is JobQueueKind.INLINE:
        background.add_task(_run_inline, container, name, job_id)
    else:
        try:
            container.jobs.enqueue(name, job_id=str(job_id), _job_id=f"{name}:{job_id}")
        except Exception as error:
            correction_store_of(container).failed(job_id, error)
            raise
    response.headers["Location"] = f"{correction_location(correction_id)}/jobs/{job_id}"
    return job_output(correction_store_of(container).get(job_id), language)


def _run_inline(container: Container, name: str, job_id: UUID) -> None:
    """Run a job in this process; a failure is logged and the job's row says why it stopped."""
    try:
        container.jobs.enqueue(name, job_id=str(job_id))
    except Exception:
        logger.exception("the tariff correction job %s stopped; its row says why", job_id)


def job_output(record: CorrectionJobRecord, language: Language) -> TariffCorrectionJobOutput:
    def exception(item: dict[str, Any]) -> RunExceptionOutput:
        params = {str(name): str(value) for name, value in item.get("params", {}).items()}
        key = str(item.get("message_key", ""))
        message = render([key], params, language, str(item.get("message", key)))
        return RunExceptionOutput(
            account_number=str(item["account_number"]), message_key=key, message=message, params=params
        )

    return TariffCorrectionJobOutput.from_record(record, exception, _problem(record, language))


def _problem(record: CorrectionJobRecord, language: Language) -> RunProblem | None:
    if record.error_key is None:
        return None
    params = dict(record.error_params)
    detail = render([record.error_key, "tariff_correction_failed"], params, language, record.error or record.error_key)
    return RunProblem(
        type=PROBLEM_TYPE_BASE + record.error_key,
        title=title("tariff_correction_failed", language),
        detail=detail,
        code=record.error_key,
        params=params,
    )
