"""Reading uploads: bursts of up to 100,000 readings, taken on at once and recorded by a job.

On the embedded default (``HEATLEDGER_JOB_QUEUE=inline``) the job runs in this process, in a
background thread after the 202 is sent; with ``arq`` it is enqueued on Redis for
``heatledger worker``. Either way the job is ``infrastructure.uploads.process_reading_upload``.
"""

from __future__ import annotations

import logging
from typing import Annotated, Any
from uuid import UUID, uuid4

from fastapi import BackgroundTasks, Path, Query, Response
from pydantic import TypeAdapter

from api.auth import Caller
from api.dependencies import ContainerDependency, PreferredLanguage, Uploads
from api.messages import Language, render
from api.problems import problem_responses
from api.routers import resource_router
from api.routers.monitoring import describe_rejection, say_language
from api.schemas.readings import ReadingInput
from api.schemas.uploads import (
    ReadingUpload,
    UploadError,
    UploadReceipt,
    UploadRejectionOutput,
    UploadRejectionPage,
    UploadStatusOutput,
)
from application.authorization import Permission, Principal
from domain.errors import NotFoundError
from infrastructure.container import Container
from infrastructure.settings import JobQueueKind
from infrastructure.uploads import DEFAULT_REASON, PROCESS_READING_UPLOAD, Upload, UploadStatus, UploadStore

router = resource_router("/readings/uploads", "readings")
logger = logging.getLogger("heatledger.api.uploads")

MAXIMUM_REJECTIONS_PAGE = 1000
MAXIMUM_OFFSET = 10_000_000

UploadIdPath = Annotated[UUID, Path(description="The upload's id, from the answer to `POST /readings/uploads`")]
_READINGS = TypeAdapter(list[ReadingInput])


def upload_location(upload_id: UUID) -> str:
    """The URL path of an upload."""
    return f"/readings/uploads/{upload_id}"


@router.post(
    "",
    status_code=202,
    operation_id="submit_reading_upload",
    response_model=UploadReceipt,
    responses=problem_responses(401, 403, 409, 422),
)
def submit_reading_upload(
    upload: ReadingUpload,
    caller: Caller,
    container: ContainerDependency,
    uploads: Uploads,
    background: BackgroundTasks,
    response: Response,
) -> UploadReceipt:
    """Take on up to 100,000 readings (a concentrator's burst, a month's import) as a job.

    Answers 202 at once with the upload's id and its address in `Location`; follow its status,
    progress, counts and rejected readings there. The job records the readings in chunks of
    2,000, each judged and saved like a `POST /readings/batches` (the accepted readings of a
    chunk are saved together, or none are). Readings already recorded count as duplicates, so
    uploading the same data twice records nothing twice.

    Sending the same `upload_id` and readings again answers with the upload as it stands; if it
    failed, a new run continues with the chunks not yet recorded. The same `upload_id` with other
    readings is a 409. A value of the wrong type fails the whole request with a 422, as for batches.
    """
    caller.require(Permission.SUBMIT_READINGS)
    upload_id = upload.upload_id or uuid4()
    items = _READINGS.dump_python(upload.readings, mode="json", exclude_none=True)
    submission = uploads.submit(upload_id, items, caller.name, caller.role.value, upload.reason or DEFAULT_REASON)
    if submission.start_run:
        _start_run(container, uploads, submission.upload, background)
    else:
        _enqueue_again(container, submission.upload)
    response.headers["Location"] = upload_location(upload_id)
    return UploadReceipt.from_upload(submission.upload)


@router.get(
    "/{upload_id}",
    operation_id="get_reading_upload",
    response_model=UploadStatusOutput,
    responses=problem_responses(401, 403, 404, 422),
)
def get_reading_upload(
    upload_id: UploadIdPath,
    caller: Caller,
    uploads: Uploads,
    language: PreferredLanguage,
    response: Response,
    limit: Annotated[
        int, Query(ge=1, le=MAXIMUM_REJECTIONS_PAGE, description="Rejected readings shown, at most 1000")
    ] = 100,
    offset: Annotated[int, Query(ge=0, le=MAXIMUM_OFFSET, description="Rejected readings to skip")] = 0,
) -> UploadStatusOutput:
    """An upload: `status` (queued, running, done, failed), `progress` (readings judged of the
    total, chunks recorded), `counts` (accepted, duplicates, rejected), the `error` that stopped
    a failed run, and a page of the rejected readings (`limit`, `offset`) with their messages in
    the caller's language.

    Roles that read the ledger see every upload; a device sees the uploads it submitted.
    """
    found = _visible_upload(uploads, upload_id, caller)
    rejections = uploads.rejections(upload_id, limit, offset)
    items = [
        UploadRejectionOutput.from_rejection(
            rejection,
            describe_rejection(
                rejection.reason,
                rejection.message_key,
                rejection.params,
                rejection.meter_serial,
                rejection.message,
                language,
            ),
        )
        for rejection in rejections
    ]
    page = UploadRejectionPage(items=items, total=found.rejected, limit=limit, offset=offset)
    say_language(response, language)
    return UploadStatusOutput.from_upload(found, _error_of(found, language), page)


def run_upload_in_background(container: Container, upload_id: UUID) -> None:
    """Run an upload's job in this process (the inline job queue); a failure is logged, and the
    upload's status says why it stopped."""
    try:
        container.jobs.enqueue(PROCESS_READING_UPLOAD, upload_id=str(upload_id))
    except Exception:
        logger.exception("the reading upload %s stopped; GET /readings/uploads/%s says why", upload_id, upload_id)


def _start_run(container: Container, uploads: UploadStore, upload: Upload, background: BackgroundTasks) -> None:
    if JobQueueKind(container.settings.job_queue) is JobQueueKind.INLINE:
        background.add_task(run_upload_in_background, container, upload.upload_id)
        return
    try:
        # The job id names the attempt: arq queues it once, however often it is enqueued.
        container.jobs.enqueue(PROCESS_READING_UPLOAD, upload_id=str(upload.upload_id), _job_id=upload.job_id)
    except Exception as error:
        uploads.fail(upload.upload_id, error)  # submitting it again retries
        raise


def _enqueue_again(container: Container, upload: Upload) -> None:
    """Sent again while queued or running: make sure the queue holds it (Redis may have lost its
    data since). The job id names the attempt, so a job still queued or running is not queued
    twice; an enqueue that fails is logged, and the worker's recovery pass enqueues it later."""
    unfinished = upload.status in (UploadStatus.QUEUED, UploadStatus.RUNNING)
    if JobQueueKind(container.settings.job_queue) is JobQueueKind.INLINE or not unfinished:
        return
    try:
        container.jobs.enqueue(PROCESS_READING_UPLOAD, upload_id=str(upload.upload_id), _job_id=upload.job_id)
    except Exception:
        logger.exception(
            "the reading upload %s could not be enqueued again; the worker's recovery will", upload.upload_id
        )


def _visible_upload(uploads: UploadStore, upload_id: UUID, caller: Principal) -> Upload:
    upload = uploads.get(upload_id)
    if not caller.may(Permission.READ_LEDGER):
        caller.require(Permission.SUBMIT_READINGS)
        if upload is not None and upload.actor != caller.name:
            upload = None  # a device sees its own uploads only, and learns nothing of others'
    if upload is None:
        raise NotFoundError(f"no upload {upload_id}", kind="upload", key=str(upload_id))
    return upload


def _error_of(upload: Upload, language: Language) -> UploadError | None:
    if upload.error_key is None:
        return None
    params: dict[str, Any] = upload.error_params
    keys = [upload.error_key, str(params.get("code", "")), "upload_failed"]
    return UploadError(code=upload.error_key, message=render(keys, params, language, "The upload stopped."))
