"""Queued reading uploads: a burst of up to 100,000 readings, recorded by a job; its status,
progress, counts and rejected items."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field

from api.schemas.common import OptionalReason, RequestModel
from api.schemas.readings import ReadingInput
from infrastructure.uploads import MAXIMUM_UPLOAD_SIZE, Upload, UploadRejection


class ReadingUpload(RequestModel):
    """Up to 100,000 readings in the format of `POST /readings/batches`, recorded by a job.

    Sending the same ``upload_id`` with the same readings again is safe: it answers with the
    upload as it stands, and continues a failed one.
    """

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "upload_id": "3b241101-e2bb-4255-8caf-4136c566a962",
                    "reason": "concentrator 碧桂园-1 monthly catch-up",
                    "readings": [
                        {
                            "meter_serial": "KM-100234",
                            "measured_at": "2025-12-01T00:00:00+08:00",
                            "energy_gj": "12.345000",
                            "volume_m3": "74.120",
                            "flow_temperature_c": "68.5",
                            "return_temperature_c": "41.2",
                            "source": "mbus",
                        },
                        {
                            "meter_serial": "KM-100234",
                            "measured_at": "2025-12-02T00:00:00+08:00",
                            "energy_gj": "12.745000",
                            "source": "mbus",
                        },
                    ],
                }
            ]
        }
    )

    readings: list[ReadingInput] = Field(min_length=1, max_length=MAXIMUM_UPLOAD_SIZE)
    upload_id: UUID | None = Field(
        default=None, description="Your id for the upload, for safe retries; one is made if absent"
    )
    reason: OptionalReason = None


class UploadProgress(BaseModel):
    """How far the job has come: readings judged and chunks (of 2,000 readings) recorded."""

    processed: int = Field(description="Readings judged so far")
    total: int = Field(description="Readings in the upload")
    chunks_done: int
    chunks_total: int


class UploadCounts(BaseModel):
    """What became of the readings judged so far."""

    accepted: int
    duplicates: int = Field(description="Already recorded (for example by an earlier upload of the same data)")
    rejected: int


class UploadError(BaseModel):
    """Why the last run stopped, in the caller's language."""

    code: str = Field(description="Stable code, e.g. upload_failed or batch_contended")
    message: str


class UploadRejectionOutput(BaseModel):
    """A reading of the upload the ledger refused."""

    index: int = Field(description="Position of the reading in the upload, from 0")
    meter_serial: str
    measured_at: datetime | None
    reason: str = Field(description="The rule it broke, e.g. register_backwards or unknown_meter")
    message: str = Field(description="The reason explained, in the caller's language")
    params: dict[str, Any] = Field(description="Values the message was built from")

    @classmethod
    def from_rejection(cls, rejection: UploadRejection, message: str) -> UploadRejectionOutput:
        return cls(
            index=rejection.item_index,
            meter_serial=rejection.meter_serial,
            measured_at=rejection.measured_at,
            reason=rejection.reason,
            message=message,
            params={
                name: value if isinstance(value, int | str) else str(value)
                for name, value in rejection.params.items()
                if name != "reason"
            },
        )


class UploadRejectionPage(BaseModel):
    """The upload's rejected readings in the order sent; ``total`` is ``counts.rejected``."""

    items: list[UploadRejectionOutput]
    total: int
    limit: int
    offset: int


class UploadReceipt(BaseModel):
    """An upload taken on: follow it at the Location given (`GET /readings/uploads/{upload_id}`)."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "upload_id": "3b241101-e2bb-4255-8caf-4136c566a962",
                    "status": "queued",
                    "total": 10000,
                    "chunks_total": 5,
                }
            ]
        }
    )

    upload_id: UUID
    status: str = Field(description="queued | running | done | failed")
    total: int = Field(description="Readings in the upload")
    chunks_total: int

    @classmethod
    def from_upload(cls, upload: Upload) -> UploadReceipt:
        return cls(
            upload_id=upload.upload_id,
            status=upload.status.value,
            total=upload.total_items,
            chunks_total=upload.total_chunks,
        )


class UploadStatusOutput(BaseModel):
    """An upload: where it stands, how far it came, what became of its readings."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "upload_id": "3b241101-e2bb-4255-8caf-4136c566a962",
                    "status": "done",
                    "reason": "concentrator 碧桂园-1 monthly catch-up",
                    "submitted_by": "concentrator-碧桂园-1",
                    "submitted_at": "2025-12-10T04:00:00Z",
                    "started_at": "2025-12-10T04:00:01Z",
                    "finished_at": "2025-12-10T04:00:09Z",
                    "attempt": 1,
                    "progress": {"processed": 10000, "total": 10000, "chunks_done": 5, "chunks_total": 5},
                    "counts": {"accepted": 9998, "duplicates": 0, "rejected": 2},
                    "error": None,
                    "rejected_items": {
                        "items": [
                            {
                                "index": 4711,
                                "meter_serial": "KM-999999",
                                "measured_at": "2025-12-01T16:00:00Z",
                                "reason": "unknown_meter",
                                "message": "No meter has the serial number KM-999999.",
                                "params": {"meter_serial": "KM-999999"},
                            }
                        ],
                        "total": 2,
                        "limit": 1,
                        "offset": 0,
                    },
                }
            ]
        }
    )

    upload_id: UUID
    status: str = Field(description="queued | running | done | failed")
    reason: str
    submitted_by: str
    submitted_at: datetime
    started_at: datetime | None = Field(description="When the latest run began")
    finished_at: datetime | None
    attempt: int = Field(description="Runs asked for: 1, and one more for each resubmission of a failed upload")
    progress: UploadProgress
    counts: UploadCounts
    error: UploadError | None = Field(description="Why the last run stopped (status failed)")
    rejected_items: UploadRejectionPage

    @classmethod
    def from_upload(
        cls, upload: Upload, error: UploadError | None, rejected_items: UploadRejectionPage
    ) -> UploadStatusOutput:
        return cls(
            upload_id=upload.upload_id,
            status=upload.status.value,
            reason=upload.reason,
            submitted_by=upload.actor,
            submitted_at=upload.submitted_at,
            started_at=upload.started_at,
            finished_at=upload.finished_at,
            attempt=upload.attempt,
            progress=UploadProgress(
                processed=upload.processed,
                total=upload.total_items,
                chunks_done=upload.chunks_done,
                chunks_total=upload.total_chunks,
            ),
            counts=UploadCounts(accepted=upload.accepted, duplicates=upload.duplicates, rejected=upload.rejected),
            error=error,
            rejected_items=rejected_items,
        )
