"""M-Bus uploads: frames as hex text (JSON) and the outcome of every frame and reading.

The request's shape is checked here (at most 1,000 frames, text of bounded length); everything
about a frame itself (hex digits, framing, checksum, decoding, medium, meter) is judged per
frame, so one bad frame never costs the others (docs/mbus.md).
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field

from api.schemas.common import OptionalReason, RequestModel
from infrastructure.mbus.frame import MAXIMUM_FRAME_BYTES, MAXIMUM_FRAME_HEX_DIGITS

MAXIMUM_FRAMES = 1000
# Characters of one frame's text: its hex digits (at most 600, checked per frame) with room for
# the spaces and line breaks between them.
MAXIMUM_FRAME_TEXT_LENGTH = 4 * MAXIMUM_FRAME_HEX_DIGITS
# A raw upload holds at most 1,000 frames of at most 300 bytes.
MAXIMUM_UPLOAD_BYTES = MAXIMUM_FRAMES * MAXIMUM_FRAME_BYTES

FrameText = Annotated[
    str,
    Field(
        max_length=MAXIMUM_FRAME_TEXT_LENGTH,
        description="One long frame as hex digits (at most 600), spaces and line breaks allowed",
    ),
]

EXAMPLE_FRAME = (
    "68 3B 3B 68 08 01 72 78 56 34 12 2D 2C 01 04 01 00 00 00 04 06 39 30 00 00 04 14 10 27 00 00 "
    "02 5A 8F 02 02 5E AD 01 04 6D 00 00 2A 3C 01 FD 17 00 02 3B 2C 01 02 2B 64 00 04 26 2C 01 00 00 E9 16"
)


def _params(params: dict[str, Any]) -> dict[str, Any]:
    return {name: value if isinstance(value, int | str) else str(value) for name, value in params.items()}


class MbusFrameBatch(RequestModel):
    """Up to 1,000 M-Bus long frames (RSP_UD, CI 0x72), each as hex text.

    Sending the same frames again is safe: readings already recorded come back as duplicates.
    """

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "frames": [EXAMPLE_FRAME],
                    "batch_id": "5f0c6c1e-9a7b-4b8e-8a53-0d7e2f6b1a90",
                    "reason": "concentrator upload",
                }
            ]
        }
    )

    frames: list[FrameText] = Field(max_length=MAXIMUM_FRAMES)
    batch_id: UUID | None = Field(
        default=None, description="Your id for the batch, for safe retries; one is made if absent"
    )
    reason: OptionalReason = None


class MbusReadingOutcome(BaseModel):
    """One reading a frame yielded: the current one (storage number 0) or a billing-date value."""

    storage_number: int = Field(description="0: the current reading; above 0: a stored (billing-date) value")
    meter_serial: str
    measured_at: datetime
    status: str = Field(description="accepted | duplicate | rejected")
    reason: str | None = Field(default=None, description="The reading rule a rejected reading broke")
    message: str | None = Field(default=None, description="The reason explained, in the caller's language")
    params: dict[str, Any] = Field(default_factory=dict)
    faulty: bool = Field(description="A sensor-fault value: recorded, but the intervals it bounds are not billed")


class MbusFrameOutcome(BaseModel):
    """What became of one frame.

    ``status`` is the outcome of the frame's current reading (accepted, duplicate, rejected), or
    ``rejected`` for a frame that gave no reading (damaged, not a heat meter, …), or
    ``quarantined`` for a frame of a meter the ledger does not know.
    """

    index: int = Field(description="Position of the frame in the request, from 0")
    status: str = Field(description="accepted | duplicate | rejected | quarantined")
    reason: str | None = Field(default=None, description="e.g. bad_checksum, unknown_medium, unknown_meter")
    message: str | None = Field(default=None, description="The reason explained, in the caller's language")
    params: dict[str, Any] = Field(default_factory=dict, description="Values the message was built from")
    identification: str | None = Field(default=None, description="The meter's M-Bus identification number")
    manufacturer: str | None = Field(default=None, description="The manufacturer code from the frame (KAM, SEN, …)")
    meter_serial: str | None = Field(default=None, description="The ledger's serial: the identification's 8 digits")
    quarantine_id: UUID | None = Field(default=None, description="Where the frame is kept, if it was quarantined")
    readings: list[MbusReadingOutcome] = Field(default_factory=list)


class MbusReceipt(BaseModel):
    """The batch's id, the counts of frames by status, and every frame's outcome in the order sent."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "batch_id": "5f0c6c1e-9a7b-4b8e-8a53-0d7e2f6b1a90",
                    "received": 2,
                    "accepted": 1,
                    "duplicates": 0,
                    "rejected": 1,
                    "quarantined": 0,
                    "readings": 1,
                    "outcomes": [
                        {
                            "index": 0,
                            "status": "accepted",
                            "params": {},
                            "identification": "12345678",
                            "manufacturer": "KAM",
                            "meter_serial": "12345678",
                            "readings": [
                                {
                                    "storage_number": 0,
                                    "meter_serial": "12345678",
                                    "measured_at": "2025-12-09T16:00:00Z",
                                    "status": "accepted",
                                    "params": {},
                                    "faulty": False,
                                }
                            ],
                        },
                        {
                            "index": 1,
                            "status": "rejected",
                            "reason": "bad_checksum",
                            "message": "校验和错误：帧中为 E8，按内容计算应为 E9。",
                            "params": {"checksum": "E8", "computed": "E9"},
                            "readings": [],
                        },
                    ],
                }
            ]
        }
    )

    batch_id: UUID
    received: int = Field(description="Frames received")
    accepted: int
    duplicates: int
    rejected: int
    quarantined: int
    readings: int = Field(description="Readings the frames yielded and the ledger judged")
    outcomes: list[MbusFrameOutcome]


def reading_outcome(
    storage_number: int,
    meter_serial: str,
    measured_at: datetime,
    status: str,
    reason: str | None,
    message: str | None,
    params: dict[str, Any],
    faulty: bool,
) -> MbusReadingOutcome:
    return MbusReadingOutcome(
        storage_number=storage_number,
        meter_serial=meter_serial,
        measured_at=measured_at,
        status=status,
        reason=reason,
        message=message,
        params=_params({name: value for name, value in params.items() if name != "reason"}),
        faulty=faulty,
    )


def frame_params(params: dict[str, Any]) -> dict[str, Any]:
    """A frame's params as JSON values."""
    return _params(params)
