"""JSON payloads of the room controllers' topics (docs/valves.md, "Topics and payloads").

Numbers are read as exact decimals (``parse_float=Decimal``) and written as strings, as
everywhere in the ledger: a temperature of ``20.1`` stays 20.1, never 20.099999. Downlink
payloads are the ledger's own and strict; uplink payloads come from device firmware, so a field
this schema does not know is ignored (a newer firmware may add one) while a known field of the
wrong type or out of range refuses the whole message (it is quarantined, never half-recorded).
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from decimal import Decimal
from enum import StrEnum
from typing import Annotated, Any, TypeVar
from uuid import UUID

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, ValidationError, field_serializer

# Device text is stored and shown: printable, no control characters.
PRINTABLE = r"^[^\x00-\x1f\x7f]*$"
MAXIMUM_REPORT_ID_LENGTH = 64
MAXIMUM_CODE_LENGTH = 32
# A message larger than this is not a controller's; it is refused before it is parsed.
MAXIMUM_PAYLOAD_BYTES = 8192

# The ledger's command ids (a UUID's text today); a device echoes the id it was given.
CommandId = Annotated[str, Field(min_length=1, max_length=64, pattern=PRINTABLE)]
Temperature = Annotated[Decimal, Field(ge=Decimal(-50), le=Decimal(100), decimal_places=3)]
ModelType = TypeVar("ModelType", bound=BaseModel)

Percent = Annotated[Decimal, Field(ge=0, le=100, decimal_places=2)]


class ValveState(StrEnum):
    """What the valve is doing, as the controller reports it."""

    OPEN = "open"
    CLOSED = "closed"
    PARTIAL = "partial"


class AckResult(StrEnum):
    ACCEPTED = "accepted"
    REFUSED = "refused"


class PayloadError(ValueError):
    """A message that is not JSON, too large, or not of its topic's schema."""


def encode(payload: BaseModel) -> bytes:
    """The payload as compact UTF-8 JSON, decimals as strings."""
    return json.dumps(payload.model_dump(mode="python"), default=_json_default, separators=(",", ":")).encode()


def _json_default(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.astimezone(UTC).isoformat().replace("+00:00", "Z")
    if isinstance(value, UUID):
        return str(value)
    if isinstance(value, Decimal):
        return str(value)
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a number JSON allows")


# One decoder for every message: ``json.loads`` with options builds a new decoder (and its
# scanner) per call, a third of the cost of reading a report.
_DECODER = json.JSONDecoder(parse_float=Decimal, parse_constant=_refuse_constant)


def _decode_json(raw: bytes) -> Any:
    if len(raw) > MAXIMUM_PAYLOAD_BYTES:
        raise PayloadError(f"a payload of {len(raw)} bytes is larger than {MAXIMUM_PAYLOAD_BYTES}")
    try:
        # The text as ``json.loads`` reads bytes: UTF-8, or UTF-16/32 when the bytes say so.
        return _DECODER.decode(raw.decode(json.detect_encoding(raw), "surrogatepass"))
    except (ValueError, UnicodeDecodeError) as error:
        raise PayloadError(f"not valid JSON: {error}") from None


def _validate(model: type[ModelType], raw: bytes) -> ModelType:
    data = _decode_json(raw)
    try:
        return model.model_validate(data)
    except ValidationError as error:
        problems = error.errors(include_url=False)
        summary = "; ".join(f"{'.'.join(map(str, item['loc']))}: {item['msg']}" for item in problems[:5])
        raise PayloadError(f"not a valid {model.__name__} ({len(problems)} problem(s)): {summary}") from None


class CommandMessage(BaseModel):
    """Down, on ``.../commands``: one command for the device. ``command_id`` is the same on every
    attempt, so a device that receives a command twice acts once and acknowledges again."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    command_id: CommandId
    kind: str = Field(min_length=1, max_length=32, description="a command kind, e.g. force_gear (docs/valves.md)")
    params: dict[str, int | Decimal | str] = Field(default_factory=dict, description="the kind's parameters")
    issued_at: AwareDatetime = Field(description="when the ledger sent this attempt (UTC)")
    attempt: int = Field(ge=1, le=100, description="1 for the first sending, 2 for the first retry, ...")

    @field_serializer("params")
    def _params(self, params: dict[str, int | Decimal | str]) -> dict[str, int | str]:
        return {name: str(value) if isinstance(value, Decimal) else value for name, value in params.items()}

    @classmethod
    def decode(cls, raw: bytes) -> CommandMessage:
        return _validate(cls, raw)


class AckMessage(BaseModel):
    """Up, on ``.../acks``: the device accepted the command, or refused it with its code."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    command_id: CommandId
    result: AckResult
    code: str | None = Field(
        default=None, min_length=1, max_length=MAXIMUM_CODE_LENGTH, pattern=PRINTABLE, description="why it refused"
    )

    @classmethod
    def decode(cls, raw: bytes) -> AckMessage:
        return _validate(cls, raw)


class ReportMessage(BaseModel):
    """Up, on ``.../reports``: what the controller measured and how it is set. Only ``report_id``
    and ``measured_at`` are required; a report sent twice (same ``report_id``) is recorded once."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    report_id: str = Field(min_length=1, max_length=MAXIMUM_REPORT_ID_LENGTH, pattern=PRINTABLE)
    measured_at: AwareDatetime
    room_temperature_c: Temperature | None = None
    humidity_percent: Percent | None = None
    set_temperature_c: Temperature | None = None
    valve_gear: int | None = Field(default=None, ge=0, le=100)
    valve_state: ValveState | None = None
    valve_open_hours_total: Decimal | None = Field(default=None, ge=0, le=Decimal(1_000_000), decimal_places=3)
    flow_m3_h: Decimal | None = Field(default=None, ge=0, le=Decimal(10_000), decimal_places=6)
    signal_dbm: int | None = Field(default=None, ge=-150, le=0)
    battery_percent: Percent | None = None
    # How the controller is set, so that a report confirms a command that changed the setting.
    upload_period_minutes: int | None = Field(default=None, ge=1, le=24 * 60)
    lower_limit_c: Temperature | None = None
    upper_limit_c: Temperature | None = None
    temperature_locked: bool | None = None

    @classmethod
    def decode(cls, raw: bytes) -> ReportMessage:
        return _validate(cls, raw)
