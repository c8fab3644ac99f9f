"""Request and response models of room controllers and their valve commands (issue 14)."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field

from api.schemas.common import AccountNumber, InstantText, OptionalReason, Reason, RequestModel
from domain.valve import MAXIMUM_ID_LENGTH
from domain.valve_commands import MAXIMUM_GEARS, CommandKind, CommandState

DeviceId = Annotated[
    str,
    Field(min_length=1, max_length=MAXIMUM_ID_LENGTH, pattern=r"^[^/\s]+$", examples=["RC-860012345678901"]),
]
# A command's parameters: at most a few, numbers (JSON numbers are read exactly).
CommandParams = Annotated[
    dict[Annotated[str, Field(max_length=32)], int | Decimal], Field(default_factory=dict, max_length=4)
]


class ControllerInstallation(RequestModel):
    """A room controller installed in a household's flat, its valve with ``gears`` gears."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"examples": [{"device_id": "RC-860012345678901", "account_number": "WZ-0001", "gears": 5}]},
    )

    device_id: DeviceId
    account_number: AccountNumber
    gears: Annotated[int, Field(ge=1, le=MAXIMUM_GEARS)]
    reason: OptionalReason = None


class CommandRequest(RequestModel):
    """A command to the controller, with why. Parameters by kind: ``set_upload_period`` minutes
    (1–1440); ``set_temperature_limits`` lower_c, upper_c; ``force_gear`` gear (1 to the valve's
    gears); ``set_room_temperature`` temperature_c (5–35 °C, to 0.1); the others none."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {"kind": "set_room_temperature", "params": {"temperature_c": 20.5}, "reason": "household asked"},
                {"kind": "force_close", "params": {}, "reason": "arrears flag approved, heating stopped on request"},
            ]
        },
    )

    kind: CommandKind
    params: CommandParams
    reason: Reason


class CommandApproval(RequestModel):
    """A second person's approval of a command (never its requester's)."""

    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{"reason": "checked with the clerk"}]})

    reason: OptionalReason = None


class CommandReceipt(BaseModel):
    """A command recorded: its id and where it stands."""

    command_id: str
    device_id: str
    state: CommandState
    needs_approval: bool


class CommandOutput(BaseModel):
    """A command as it stands, with who asked for it, why, and what happened to it."""

    model_config = ConfigDict(from_attributes=True)

    command_id: str
    device_id: str
    account_number: str
    kind: CommandKind
    params: dict[str, str] = Field(description="Parameter values as exact text")
    policy: str = Field(description="manual, arrears_restriction or arrears_lift")
    needs_approval: bool
    state: CommandState
    attempts: int = Field(description="How many times it was sent to the device")
    reason: str
    requested_by: str
    requested_at: datetime
    approved_by: str | None
    last_dispatched_at: datetime | None
    answered_at: datetime | None = Field(description="When it was acknowledged, refused, timed out or superseded")
    refusal_code: str | None
    superseded_by: str | None
    confirmed_by_report: str | None


class CommandList(BaseModel):
    items: list[CommandOutput]


class ControllerOutput(BaseModel):
    """A controller installed in a household."""

    model_config = ConfigDict(from_attributes=True)

    device_id: str
    account_number: str
    gears: int
    installed_at: datetime
    installed_by: str


class ControllerList(BaseModel):
    items: list[ControllerOutput]


class LastReport(BaseModel):
    """The controller's latest report (by the time it was measured)."""

    model_config = ConfigDict(from_attributes=True)

    report_id: str
    measured_at: datetime
    room_temperature_c: InstantText | None
    humidity_percent: InstantText | None
    set_temperature_c: InstantText | None
    valve_gear: int | None
    valve_state: str | None
    valve_open_hours_total: InstantText | None
    signal_dbm: int | None
    battery_percent: int | None


class QueuedCommand(BaseModel):
    """A command waiting in the device's queue, in the order it goes out."""

    command_id: str
    kind: CommandKind
    state: CommandState
    attempts: int


class ControllerDetail(ControllerOutput):
    """A controller, its queue, its commands awaiting approval and its latest report."""

    queue: list[QueuedCommand]
    awaiting_approval: list[QueuedCommand]
    last_report: LastReport | None
    last_report_source: str | None


class ArrearsReconciliation(BaseModel):
    """What one run of the arrears restrictions did: flags withdrawn as paid (their accounts),
    restriction and lift commands requested (device ids), devices left for the next run and why."""

    model_config = ConfigDict(from_attributes=True)

    withdrawn_flags: list[str]
    restricted: list[str]
    lifted: list[str]
    deferred: dict[str, str]
