"""M-Bus frames from concentrators and room controllers: POST /readings/mbus (docs/mbus.md)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any
from uuid import UUID

from fastapi import Depends, Query, Request, Response
from fastapi.exceptions import RequestValidationError
from pydantic import ValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException

from api.auth import Caller
from api.dependencies import Intake, PreferredLanguage
from api.messages import Language, render
from api.problems import Problem, RequestRuleError, problem_responses
from api.routers import resource_router
from api.schemas.common import REASON_MAX_LENGTH
from api.schemas.mbus import (
    MAXIMUM_FRAMES,
    MAXIMUM_UPLOAD_BYTES,
    MbusFrameBatch,
    MbusFrameOutcome,
    MbusReceipt,
    frame_params,
    reading_outcome,
)
from application.authorization import Permission, Principal
from application.ingestion import ItemStatus
from infrastructure.mbus.frame import split_frames
from infrastructure.mbus.service import FrameOutcome, FrameStatus, MbusIngestion, MbusReport

router = resource_router("/readings", "readings")

JSON_MEDIA_TYPE = "application/json"
OCTET_STREAM_MEDIA_TYPE = "application/octet-stream"


def authorize_submitter(caller: Caller) -> Principal:
    """The caller, if its role may submit readings (devices may); 403 otherwise. Checked before
    the body is read, so a caller without the right learns nothing from its frames."""
    caller.require(Permission.SUBMIT_READINGS)
    return caller


Submitter = Annotated[Principal, Depends(authorize_submitter)]


@dataclass(frozen=True)
class FrameUpload:
    """The frames of a request, as hex text (JSON) or raw bytes (octet-stream), and its options."""

    frames: list[str] | list[bytes]
    batch_id: UUID | None
    reason: str | None


async def read_frame_upload(
    request: Request,
    batch_id: Annotated[
        UUID | None, Query(description="For application/octet-stream: your id for the batch, for safe retries")
    ] = None,
    reason: Annotated[
        str | None,
        Query(min_length=1, max_length=REASON_MAX_LENGTH, description="For application/octet-stream: why"),
    ] = None,
) -> FrameUpload:
    """The frames of the request body, by its Content-Type."""
    media_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    body = await request.body()
    if media_type == OCTET_STREAM_MEDIA_TYPE:
        if len(body) > MAXIMUM_UPLOAD_BYTES:
            raise RequestRuleError(
                "mbus.upload_too_large",
                f"a raw upload holds at most {MAXIMUM_UPLOAD_BYTES} bytes",
                location="body",
                limit=MAXIMUM_UPLOAD_BYTES,
                size=len(body),
            )
        pieces = split_frames(body)
        if len(pieces) > MAXIMUM_FRAMES:
            raise RequestRuleError(
                "mbus.too_many_frames",
                f"a request holds at most {MAXIMUM_FRAMES} frames",
                location="body",
                limit=MAXIMUM_FRAMES,
                size=len(pieces),
            )
        return FrameUpload(pieces, batch_id, reason)
    if media_type == JSON_MEDIA_TYPE or media_type.endswith("+json"):
        try:
            batch = MbusFrameBatch.model_validate_json(body)
        except ValidationError as error:
            raise RequestValidationError(error.errors(include_url=False)) from None
        return FrameUpload(batch.frames, batch.batch_id or batch_id, batch.reason or reason)
    raise StarletteHTTPException(
        415, detail=f"Send frames as {JSON_MEDIA_TYPE} (hex text) or {OCTET_STREAM_MEDIA_TYPE} (raw bytes)."
    )


Upload = Annotated[FrameUpload, Depends(read_frame_upload)]

_REQUEST_BODY: dict[str, Any] = {
    "required": True,
    "content": {
        JSON_MEDIA_TYPE: {"schema": MbusFrameBatch.model_json_schema()},
        OCTET_STREAM_MEDIA_TYPE: {
            "schema": {
                "type": "string",
                "format": "binary",
                "description": "Long frames one after the other, as a concentrator reads them off the bus",
            }
        },
    },
}


@router.post(
    "/mbus",
    operation_id="submit_mbus_frames",
    response_model=MbusReceipt,
    responses={
        **problem_responses(401, 403, 409, 422),
        415: {"model": Problem, "description": "Neither JSON nor application/octet-stream (`http_error`)"},
    },
    openapi_extra={"requestBody": _REQUEST_BODY},
)
def submit_mbus_frames(
    caller: Submitter, upload: Upload, intake: Intake, language: PreferredLanguage, response: Response
) -> MbusReceipt:
    """Submit up to 1,000 M-Bus long frames (RSP_UD, CI 0x72) of heat meters.

    As JSON, `{"frames": ["68 …", …]}` with each frame as hex text; or as
    `application/octet-stream`, the raw frames one after the other (`batch_id` and `reason`
    then go in the query). Each frame is judged on its own: **rejected** with a `reason`
    (`not_hex`, `frame_truncated`, `length_mismatch`, `bad_checksum`, `unknown_vif`,
    `unknown_medium`, `side_mismatch`, `no_energy`, …), **quarantined** when no meter has its
    identification number as serial (`unknown_meter`), or turned into readings: the current one
    and any billing-date values, judged by the reading rules like any batch and saved together.
    A frame's status is its current reading's (`accepted`, `duplicate`, `rejected`). The answer
    is 200 whatever the frames' outcomes.
    """
    report = MbusIngestion(intake).ingest(caller, upload.frames, upload.reason, upload.batch_id)
    response.headers["Content-Language"] = language.value
    response.headers["Vary"] = "Accept-Language"
    return receipt(report, language)


def receipt(report: MbusReport, language: Language) -> MbusReceipt:
    """The answer to an upload, with every message in ``language``."""
    return MbusReceipt(
        batch_id=report.batch_id,
        received=len(report.frames),
        accepted=report.count(FrameStatus.ACCEPTED),
        duplicates=report.count(FrameStatus.DUPLICATE),
        rejected=report.count(FrameStatus.REJECTED),
        quarantined=report.count(FrameStatus.QUARANTINED),
        readings=sum(len(frame.readings) for frame in report.frames),
        outcomes=[_frame_outcome(frame, language) for frame in report.frames],
    )


def _frame_outcome(frame: FrameOutcome, language: Language) -> MbusFrameOutcome:
    message = None
    if frame.status in (FrameStatus.REJECTED, FrameStatus.QUARANTINED) and frame.reason is not None:
        message = _render(frame.message_key, frame.reason, frame.params, frame.meter_serial, frame.message, language)
    readings = [
        reading_outcome(
            storage_number=reading.storage_number,
            meter_serial=reading.outcome.meter_serial,
            measured_at=reading.outcome.measured_at,
            status=reading.outcome.status.value,
            reason=reading.outcome.reason,
            message=_render(
                reading.outcome.message_key,
                reading.outcome.reason,
                reading.outcome.params,
                reading.outcome.meter_serial,
                reading.outcome.message,
                language,
            )
            if reading.outcome.status is ItemStatus.REJECTED and reading.outcome.reason is not None
            else None,
            params=reading.outcome.params,
            faulty=reading.faulty,
        )
        for reading in frame.readings
    ]
    return MbusFrameOutcome(
        index=frame.index,
        status=frame.status.value,
        reason=frame.reason,
        message=message,
        params=frame_params({name: value for name, value in frame.params.items() if name != "reason"}),
        identification=frame.identification,
        manufacturer=frame.manufacturer,
        meter_serial=frame.meter_serial,
        quarantine_id=frame.quarantine_id,
        readings=readings,
    )


def _render(
    message_key: str | None,
    reason: str,
    params: dict[str, Any],
    meter_serial: str | None,
    fallback: str | None,
    language: Language,
) -> str:
    values = {"meter_serial": meter_serial, **params} if meter_serial else dict(params)
    keys = [key for key in (message_key, f"mbus.{reason}", reason) if key]
    return render(keys, values, language, fallback or reason)
