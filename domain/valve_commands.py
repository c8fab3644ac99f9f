"""Room-controller commands (domain.md §4): their kinds and parameters, their states, the record of
one command and the retry policy of its delivery.

A command goes through ``requested → approved (where the policy demands it; always for a forced
close) → dispatched (attempt n) → acknowledged | refused | timed_out → confirmed``, or is
``superseded`` by a newer command of its group while it is still queued (not yet acknowledged).
The states are ranked so that no command ever goes back (``STATE_RANK``).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal, InvalidOperation
from enum import StrEnum
from typing import Any

from domain.errors import InvalidInputError

# The device accepts an upload period between one minute and one day.
MINIMUM_UPLOAD_PERIOD_MINUTES = 1
MAXIMUM_UPLOAD_PERIOD_MINUTES = 1440
# What a room controller's panel lets a household set (and what the platform may command).
MINIMUM_SETTABLE_TEMPERATURE_C = Decimal(5)
MAXIMUM_SETTABLE_TEMPERATURE_C = Decimal(35)
# Temperatures are commanded to a tenth of a degree, as the panel shows them.
TEMPERATURE_STEP_C = Decimal("0.1")
# A gear valve has at most this many gears (each a different opening).
MAXIMUM_GEARS = 100


class CommandKind(StrEnum):
    """Every command of the source's control panel."""

    SET_UPLOAD_PERIOD = "set_upload_period"
    SET_TEMPERATURE_LIMITS = "set_temperature_limits"
    FORCE_GEAR = "force_gear"
    FORCE_OPEN = "force_open"
    FORCE_CLOSE = "force_close"
    SET_ROOM_TEMPERATURE = "set_room_temperature"
    LOCK_TEMPERATURE = "lock_temperature"
    UNLOCK = "unlock"

    @property
    def group(self) -> str:
        """Commands of one group replace each other: a newer one supersedes a queued older one.
        The valve's position (a gear, open, closed) is one group, the panel's lock another; every
        other kind is its own group."""
        return _GROUPS.get(self, self.value)


_GROUPS = {
    CommandKind.FORCE_GEAR: "valve_position",
    CommandKind.FORCE_OPEN: "valve_position",
    CommandKind.FORCE_CLOSE: "valve_position",
    CommandKind.LOCK_TEMPERATURE: "temperature_lock",
    CommandKind.UNLOCK: "temperature_lock",
}


class CommandState(StrEnum):
    """Where a command stands."""

    REQUESTED = "requested"
    APPROVED = "approved"
    DISPATCHED = "dispatched"
    ACKNOWLEDGED = "acknowledged"
    REFUSED = "refused"
    TIMED_OUT = "timed_out"
    SUPERSEDED = "superseded"
    CONFIRMED = "confirmed"


# A command only ever moves to a state of a higher rank (dispatched again keeps its rank).
STATE_RANK = {
    CommandState.REQUESTED: 0,
    CommandState.APPROVED: 1,
    CommandState.DISPATCHED: 2,
    CommandState.ACKNOWLEDGED: 3,
    CommandState.REFUSED: 4,
    CommandState.TIMED_OUT: 4,
    CommandState.SUPERSEDED: 4,
    CommandState.CONFIRMED: 4,
}
# States after which nothing happens to a command any more.
FINAL_STATES = frozenset(
    {CommandState.REFUSED, CommandState.TIMED_OUT, CommandState.SUPERSEDED, CommandState.CONFIRMED}
)
# States of a command still waiting for the device: a newer one of its group supersedes it.
QUEUED_STATES = frozenset({CommandState.REQUESTED, CommandState.APPROVED, CommandState.DISPATCHED})


class CommandPolicy(StrEnum):
    """The policy a command follows: a person's command, or the arrears restriction and its lifting."""

    MANUAL = "manual"
    ARREARS_RESTRICTION = "arrears_restriction"
    ARREARS_LIFT = "arrears_lift"


@dataclass(frozen=True)
class RetryPolicy:
    """How often a command is sent before it times out: ``maximum_attempts`` sends, each waiting
    ``acknowledgement_timeout_seconds`` for the device's acknowledgement."""

    maximum_attempts: int = 3
    acknowledgement_timeout_seconds: int = 60

    def __post_init__(self) -> None:
        assert 1 <= self.maximum_attempts <= 20, "between 1 and 20 attempts"
        assert 1 <= self.acknowledgement_timeout_seconds <= 86_400, "an acknowledgement timeout up to a day"

    @property
    def acknowledgement_timeout(self) -> timedelta:
        return timedelta(seconds=self.acknowledgement_timeout_seconds)


@dataclass(frozen=True)
class ValveCommand:
    """One command as the controller holds it. ``queue_number`` orders the commands of a device
    (given when the command may be sent: at its request, or at its approval when it needs one)."""

    command_id: str
    kind: str
    params: dict[str, Any]
    policy: str
    needs_approval: bool
    state: str
    requested_at: datetime
    requested_by: str
    reason: str
    correlation_id: str
    queue_number: int | None = None
    approved_by: str | None = None
    attempts: int = 0
    last_dispatched_at: datetime | None = None
    acknowledged_at: datetime | None = None
    refusal_code: str | None = None
    finished_at: datetime | None = None
    superseded_by: str | None = None
    confirmed_by_report: str | None = None

    @property
    def command_kind(self) -> CommandKind:
        return CommandKind(self.kind)

    @property
    def command_state(self) -> CommandState:
        return CommandState(self.state)

    @property
    def queued(self) -> bool:
        """Ready to be sent or sent and not yet acknowledged (waits in the device's queue)."""
        return self.queue_number is not None and self.command_state in QUEUED_STATES

    def retry_due(self, now: datetime, policy: RetryPolicy) -> bool:
        """Whether the command is to be sent (again) now: never sent, or its last send went
        unacknowledged for the timeout and attempts remain."""
        if self.last_dispatched_at is None:
            return True
        waited = now - self.last_dispatched_at >= policy.acknowledgement_timeout
        return waited and self.attempts < policy.maximum_attempts

    def timed_out_at(self, now: datetime, policy: RetryPolicy) -> bool:
        """Whether the last attempt went unacknowledged for the timeout."""
        if self.command_state is not CommandState.DISPATCHED or self.last_dispatched_at is None:
            return False
        waited = now - self.last_dispatched_at >= policy.acknowledgement_timeout
        return waited and self.attempts >= policy.maximum_attempts


def command_params(kind: CommandKind, params: Mapping[str, Any], gears: int) -> dict[str, Any]:
    """The parameters of a command checked and normalised (integers, temperatures to 0.1 °C);
    InvalidInputError names the field that is missing, unknown or out of range."""
    expected = _PARAMETERS[kind]
    unknown = sorted(set(params) - set(expected))
    if unknown:
        raise InvalidInputError(
            f"{kind.value} takes no parameter {unknown[0]}",
            message_key="valve_command_parameter_unknown",
            field=unknown[0],
            kind=kind.value,
        )
    checked = {name: _checked(name, params.get(name), gears) for name in expected}
    if kind is CommandKind.SET_TEMPERATURE_LIMITS and checked["lower_c"] >= checked["upper_c"]:
        raise InvalidInputError(
            "the lower temperature limit must lie below the upper one",
            message_key="valve_temperature_limits_reversed",
            field="lower_c",
            lower_c=str(checked["lower_c"]),
            upper_c=str(checked["upper_c"]),
        )
    return checked


def parameter_names(kind: CommandKind | str) -> tuple[str, ...]:
    """The parameters a command of ``kind`` takes, in the order a form asks for them."""
    return _PARAMETERS[CommandKind(kind)]


_PARAMETERS: dict[CommandKind, tuple[str, ...]] = {
    CommandKind.SET_UPLOAD_PERIOD: ("minutes",),
    CommandKind.SET_TEMPERATURE_LIMITS: ("lower_c", "upper_c"),
    CommandKind.FORCE_GEAR: ("gear",),
    CommandKind.FORCE_OPEN: (),
    CommandKind.FORCE_CLOSE: (),
    CommandKind.SET_ROOM_TEMPERATURE: ("temperature_c",),
    CommandKind.LOCK_TEMPERATURE: (),
    CommandKind.UNLOCK: (),
}


def _checked(name: str, value: Any, gears: int) -> Any:
    if value is None:
        raise InvalidInputError(
            f"the parameter {name} is required", message_key="valve_command_parameter_missing", field=name
        )
    if name == "minutes":
        return _integer(name, value, MINIMUM_UPLOAD_PERIOD_MINUTES, MAXIMUM_UPLOAD_PERIOD_MINUTES)
    if name == "gear":
        return _integer(name, value, 1, gears)
    return _temperature(name, value)


def _integer(name: str, value: Any, lowest: int, highest: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int | str):
        _out_of_range(name, value, lowest, highest)
    try:
        number = int(value)
    except ValueError:
        _out_of_range(name, value, lowest, highest)
    if not lowest <= number <= highest:
        _out_of_range(name, value, lowest, highest)
    return number


def _temperature(name: str, value: Any) -> Decimal:
    if isinstance(value, bool | float):
        value = str(value)  # a JSON number arrives as float: its shortest text is what was typed
    try:
        temperature = Decimal(value)
    except (InvalidOperation, TypeError, ValueError):
        _out_of_range(name, value, MINIMUM_SETTABLE_TEMPERATURE_C, MAXIMUM_SETTABLE_TEMPERATURE_C)
    if not temperature.is_finite():  # NaN and infinities compare with nothing
        _out_of_range(name, value, MINIMUM_SETTABLE_TEMPERATURE_C, MAXIMUM_SETTABLE_TEMPERATURE_C)
    in_range = MINIMUM_SETTABLE_TEMPERATURE_C <= temperature <= MAXIMUM_SETTABLE_TEMPERATURE_C
    if not in_range or temperature != temperature.quantize(TEMPERATURE_STEP_C):
        _out_of_range(name, value, MINIMUM_SETTABLE_TEMPERATURE_C, MAXIMUM_SETTABLE_TEMPERATURE_C)
    return temperature.quantize(TEMPERATURE_STEP_C)


def _out_of_range(name: str, value: Any, lowest: object, highest: object) -> Any:
    raise InvalidInputError(
        f"{name} must lie between {lowest} and {highest}",
        message_key="valve_command_parameter_out_of_range",
        field=name,
        value=str(value),
        lowest=str(lowest),
        highest=str(highest),
    )
