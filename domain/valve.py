"""The room controller (室温控制器, domain.md §4) of one flat and its valve: the commands the
platform sends it and the reports it sends back.

One ``RoomController`` per device, its id the uuid5 of the device id, tied to a household by its
account number. Every command is a series of events in the controller's stream (requested,
approved, superseded, dispatched, acknowledged, refused, timed out, confirmed: see
``domain.valve_commands``), each with who did it, why, the policy it follows and its correlation id.
Commands to one device are sent in order: only the head of its queue is sent, and the next one
waits until the device answered (or the head timed out, or was superseded).

Reports are ``ReportRecorded`` events. A report delivered twice (QoS 1 redelivers, the NB-IoT
platform pushes again) is recorded once: the controller remembers the ids of its latest
``REMEMBERED_REPORT_IDS`` reports. A report that shows what an acknowledged command asked for
confirms it (the valve closed, the gear reached, the set temperature taken); commands whose effect
no report shows (upload period, limits, lock) are confirmed by the next report after their
acknowledgement, the device's proof that it lives on with them.

The aggregate's state stays bounded: open commands, the latest ``REMEMBERED_FINISHED_COMMANDS``
finished ones, the latest request times (for the rate limit) and report ids.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from decimal import Decimal
from enum import StrEnum
from typing import Any
from uuid import UUID, uuid5

from eventsourcing.domain import Aggregate, event

from domain import ids
from domain.errors import ConflictError, InvalidInputError, NotFoundError, PermissionDeniedError
from domain.values import CommandContext
from domain.valve_commands import (
    MAXIMUM_GEARS,
    STATE_RANK,
    CommandKind,
    CommandPolicy,
    CommandState,
    RetryPolicy,
    ValveCommand,
    command_params,
)

# Report ids remembered for recording a report once; a redelivery comes within seconds or
# minutes, and 500 reports are days of a controller's uploads.
REMEMBERED_REPORT_IDS = 500
# Finished commands kept in the state (the whole history is in the stream).
REMEMBERED_FINISHED_COMMANDS = 20
# Request times kept for the rate limit: no limit counts more requests than this in its window.
REMEMBERED_REQUEST_TIMES = 100
# The longest id a device may give its report or a command.
MAXIMUM_ID_LENGTH = 64
# A device's clock may run ahead of the ledger's by this much; a report further ahead is refused.
ALLOWED_CLOCK_SKEW = timedelta(minutes=10)


class ValveState(StrEnum):
    """The valve as the controller reports it."""

    OPEN = "open"
    CLOSED = "closed"
    PARTIAL = "partial"


class ReportSource(StrEnum):
    """How a report reached the ledger."""

    MQTT = "mqtt"
    NBIOT = "nbiot"


@dataclass(frozen=True)
class DeviceReport:
    """One upload of a room controller. Only ``report_id`` (the device's message id) and
    ``measured_at`` are required; every other field is what this upload carried."""

    report_id: str
    measured_at: datetime
    room_temperature_c: Decimal | None = None
    humidity_percent: Decimal | None = None
    set_temperature_c: Decimal | None = None
    valve_gear: int | None = None
    valve_state: str | None = None
    valve_open_hours_total: Decimal | None = None
    signal_dbm: int | None = None
    battery_percent: int | None = None

    def check(self, gears: int, now: datetime) -> None:
        """InvalidInputError naming the first field out of range."""
        _require(0 < len(self.report_id) <= MAXIMUM_ID_LENGTH, "report_id", self.report_id)
        _require(self.measured_at.tzinfo is not None, "measured_at", self.measured_at)
        _require(self.measured_at <= now + ALLOWED_CLOCK_SKEW, "measured_at", self.measured_at)
        _within("room_temperature_c", self.room_temperature_c, -40, 60)
        _within("humidity_percent", self.humidity_percent, 0, 100)
        _within("set_temperature_c", self.set_temperature_c, 0, 60)
        _within("valve_gear", self.valve_gear, 0, gears)
        _within("valve_open_hours_total", self.valve_open_hours_total, 0, 10_000_000)
        _within("signal_dbm", self.signal_dbm, -200, 0)
        _within("battery_percent", self.battery_percent, 0, 100)
        if self.valve_state is not None:
            _require(self.valve_state in set(ValveState), "valve_state", self.valve_state)


def _within(name: str, value: Decimal | int | None, lowest: int, highest: int) -> None:
    if value is not None:
        finite = not isinstance(value, Decimal) or value.is_finite()
        _require(finite and lowest <= value <= highest, name, value)


def _require(condition: bool, name: str, value: object) -> None:
    if not condition:
        raise InvalidInputError(
            f"the report's {name} is out of range: {value}",
            message_key="valve_report_field_invalid",
            field=name,
            value=str(value),
        )


def _context_fields(context: CommandContext) -> dict[str, Any]:
    return {"actor": context.actor, "reason": context.reason, "correlation_id": context.correlation_id}


def room_controller_id(device_id: str) -> UUID:
    """The id of the controller with this device id."""
    return uuid5(ids.LEDGER_NAMESPACE, f"room-controller:{device_id}")


class RoomController(Aggregate):
    """A flat's room controller and valve: its commands and its reports."""

    class Installed(Aggregate.Created):
        device_id: str
        account_number: str
        household_id: UUID
        gears: int
        installed_at: datetime
        actor: str
        reason: str
        correlation_id: UUID

    class CommandRequested(Aggregate.Event):
        command_id: str
        kind: str
        params: dict[str, Any]
        policy: str
        needs_approval: bool
        requested_at: datetime
        actor: str
        reason: str
        correlation_id: UUID

    class CommandApproved(Aggregate.Event):
        command_id: str
        approved_at: datetime
        actor: str
        reason: str
        correlation_id: UUID

    class CommandSuperseded(Aggregate.Event):
        command_id: str
        superseded_by: str
        superseded_at: datetime
        actor: str
        reason: str
        correlation_id: UUID

    class CommandDispatched(Aggregate.Event):
        command_id: str
        attempt: int
        dispatched_at: datetime
        actor: str
        reason: str
        correlation_id: UUID

    class CommandAcknowledged(Aggregate.Event):
        command_id: str
        acknowledged_at: datetime
        actor: str
        reason: str
        correlation_id: UUID

    class CommandRefused(Aggregate.Event):
        command_id: str
        code: str
        refused_at: datetime
        actor: str
        reason: str
        correlation_id: UUID

    class CommandTimedOut(Aggregate.Event):
        command_id: str
        attempts: int
        timed_out_at: datetime
        actor: str
        reason: str
        correlation_id: UUID

    class CommandConfirmed(Aggregate.Event):
        command_id: str
        report_id: str
        confirmed_at: datetime
        actor: str
        reason: str
        correlation_id: UUID

    class ReportRecorded(Aggregate.Event):
        report_id: str
        measured_at: datetime
        room_temperature_c: Decimal | None
        humidity_percent: Decimal | None
        set_temperature_c: Decimal | None
        valve_gear: int | None
        valve_state: str | None
        valve_open_hours_total: Decimal | None
        signal_dbm: int | None
        battery_percent: int | None
        source: str
        actor: str
        reason: str
        correlation_id: UUID

    @staticmethod
    def create_id(device_id: str) -> UUID:
        return room_controller_id(device_id)

    @event(Installed)
    def __init__(
        self,
        device_id: str,
        account_number: str,
        household_id: UUID,
        gears: int,
        installed_at: datetime,
        actor: str,
        reason: str,
        correlation_id: UUID,
    ) -> None:
        self.device_id = device_id
        self.account_number = account_number
        self.household_id = household_id
        self.gears = gears
        self.installed_at = installed_at
        self.installed_by = actor
        self.commands: dict[str, ValveCommand] = {}  # open ones (not finished), by id
        self.finished: list[ValveCommand] = []  # the latest finished ones, oldest first
        self.next_queue_number = 1
        self.request_times: list[datetime] = []
        self.report_ids: list[str] = []
        self.last_report: DeviceReport | None = None
        self.last_report_source: str | None = None

    @classmethod
    def install(
        cls, device_id: str, account_number: str, household_id: UUID, gears: int, at: datetime, context: CommandContext
    ) -> RoomController:
        """A controller installed in a household's flat, its valve with ``gears`` gears."""
        if not 0 < len(device_id) <= MAXIMUM_ID_LENGTH or not device_id.isprintable() or "/" in device_id:
            raise InvalidInputError(
                "a device id is 1 to 64 printable characters without a slash",
                message_key="valve_device_id_invalid",
                field="device_id",
                value=device_id,
            )
        if not 1 <= gears <= MAXIMUM_GEARS:
            raise InvalidInputError(
                f"a valve has between 1 and {MAXIMUM_GEARS} gears",
                message_key="valve_gears_out_of_range",
                field="gears",
                value=str(gears),
            )
        return cls(device_id, account_number, household_id, gears, at, **_context_fields(context))

    # -- reads --------------------------------------------------------------------------------

    def command(self, command_id: str) -> ValveCommand:
        """The command with this id (open or among the latest finished), or NotFoundError."""
        found = self.commands.get(command_id) or next((c for c in self.finished if c.command_id == command_id), None)
        if found is None:
            raise NotFoundError(f"no command {command_id} for {self.device_id}", kind="valve_command", key=command_id)
        return found

    def knows_command(self, command_id: str) -> bool:
        return command_id in self.commands or any(c.command_id == command_id for c in self.finished)

    def queue(self) -> list[ValveCommand]:
        """The commands waiting for the device, in the order they go to it."""
        waiting = [command for command in self.commands.values() if command.queued]
        return sorted(waiting, key=lambda command: command.queue_number or 0)

    def head(self) -> ValveCommand | None:
        """The command the device gets next (or is waiting on), None when the queue is empty."""
        queue = self.queue()
        return queue[0] if queue else None

    def requests_since(self, moment: datetime) -> int:
        """How many commands were requested at or after ``moment`` (for the rate limit)."""
        return sum(1 for requested_at in self.request_times if requested_at >= moment)

    def due_command(self, now: datetime, policy: RetryPolicy) -> ValveCommand | None:
        """The head of the queue when it is due to be sent (first time, or again), else None."""
        head = self.head()
        return head if head is not None and head.retry_due(now, policy) else None

    # -- requests and approvals ---------------------------------------------------------------

    def request_command(
        self,
        command_id: str,
        kind: CommandKind,
        params: Mapping[str, Any],
        policy: CommandPolicy,
        needs_approval: bool,
        at: datetime,
        context: CommandContext,
    ) -> None:
        """Ask for a command (checked parameters). A forced close always waits for a second
        person's approval; a command that needs none joins the queue at once and supersedes a
        queued older command of its group."""
        kind = CommandKind(kind)
        if self.knows_command(command_id) or not 0 < len(command_id) <= MAXIMUM_ID_LENGTH:
            raise ConflictError(
                f"the command {command_id} exists already", message_key="valve_command_exists", command_id=command_id
            )
        checked = command_params(kind, params, self.gears)
        approval = needs_approval or kind is CommandKind.FORCE_CLOSE
        self._command_requested(
            command_id, kind.value, checked, CommandPolicy(policy).value, approval, at, **_context_fields(context)
        )
        if not approval:
            self._supersede_older(command_id, at, context)

    @event(CommandRequested)
    def _command_requested(
        self,
        command_id: str,
        kind: str,
        params: dict[str, Any],
        policy: str,
        needs_approval: bool,
        requested_at: datetime,
        actor: str,
        reason: str,
        correlation_id: UUID,
    ) -> None:
        queue_number = None if needs_approval else self._take_queue_number()
        self.commands[command_id] = ValveCommand(
            command_id,
            kind,
            dict(params),
            policy,
            needs_approval,
            CommandState.REQUESTED.value,
            requested_at,
            actor,
            reason,
            str(correlation_id),
            queue_number=queue_number,
        )
        self.request_times = [*self.request_times, requested_at][-REMEMBERED_REQUEST_TIMES:]

    def approve_command(self, command_id: str, at: datetime, context: CommandContext) -> None:
        """A second person approves a command that waits for approval (never its requester)."""
        command = self._open(command_id)
        if not command.needs_approval or command.command_state is not CommandState.REQUESTED:
            raise ConflictError(
                f"the command {command_id} is {command.state}, not waiting for approval",
                message_key="valve_command_state_conflict",
                command_id=command_id,
                state=command.state,
            )
        if context.actor == command.requested_by:
            raise PermissionDeniedError(
                "a valve command is approved by a second person, not by the one who requested it",
                message_key="second_person_required",
                requested_by=command.requested_by,
            )
        self._command_approved(command_id, at, **_context_fields(context))
        self._supersede_older(command_id, at, context)

    @event(CommandApproved)
    def _command_approved(
        self, command_id: str, approved_at: datetime, actor: str, reason: str, correlation_id: UUID
    ) -> None:
        command = self.commands[command_id]
        self._put(
            replace(
                command,
                state=CommandState.APPROVED.value,
                approved_by=actor,
                queue_number=self._take_queue_number(),
            )
        )

    def _supersede_older(self, newer_id: str, at: datetime, context: CommandContext) -> None:
        """Supersede every queued older command of the newer one's group."""
        newer = self.commands[newer_id]
        for older in self.queue():
            if older.command_id != newer_id and older.command_kind.group == newer.command_kind.group:
                self._command_superseded(
                    older.command_id,
                    newer_id,
                    at,
                    context.actor,
                    f"superseded by the newer command {newer_id}",
                    context.correlation_id,
                )

    @event(CommandSuperseded)
    def _command_superseded(
        self,
        command_id: str,
        superseded_by: str,
        superseded_at: datetime,
        actor: str,
        reason: str,
        correlation_id: UUID,
    ) -> None:
        command = self.commands[command_id]
        self._finish(
            replace(
                command, state=CommandState.SUPERSEDED.value, superseded_by=superseded_by, finished_at=superseded_at
            )
        )

    # -- delivery -----------------------------------------------------------------------------

    def record_dispatch(self, command_id: str, attempt: int, at: datetime, context: CommandContext) -> None:
        """The gateway sent the command (attempt 1, 2, …): only the head of the queue, attempts in order."""
        command = self._open(command_id)
        head = self.head()
        if head is None or head.command_id != command_id:
            raise ConflictError(
                f"the command {command_id} is not the next one for {self.device_id}",
                message_key="valve_command_not_next",
                command_id=command_id,
            )
        if attempt != command.attempts + 1:
            raise ConflictError(
                f"the command {command_id} was sent {command.attempts} times; attempt {attempt} is out of order",
                message_key="valve_command_attempt_conflict",
                command_id=command_id,
                attempt=str(attempt),
            )
        self._command_dispatched(command_id, attempt, at, **_context_fields(context))

    @event(CommandDispatched)
    def _command_dispatched(
        self, command_id: str, attempt: int, dispatched_at: datetime, actor: str, reason: str, correlation_id: UUID
    ) -> None:
        command = self.commands[command_id]
        self._put(
            replace(command, state=CommandState.DISPATCHED.value, attempts=attempt, last_dispatched_at=dispatched_at)
        )

    def record_acknowledgement(self, command_id: str, at: datetime, context: CommandContext) -> bool:
        """The device accepted the command. False (nothing recorded) when it was acknowledged
        already (a redelivered ack) or is finished (a late ack after a timeout or a supersession)."""
        command = self._answerable(command_id)
        if command is None:
            return False
        self._command_acknowledged(command_id, at, **_context_fields(context))
        return True

    @event(CommandAcknowledged)
    def _command_acknowledged(
        self, command_id: str, acknowledged_at: datetime, actor: str, reason: str, correlation_id: UUID
    ) -> None:
        command = self.commands[command_id]
        self._put(replace(command, state=CommandState.ACKNOWLEDGED.value, acknowledged_at=acknowledged_at))
        # An older acknowledged command of the group waits for a confirmation the newer replaces.
        for older in list(self.commands.values()):
            same_group = older.command_kind.group == command.command_kind.group
            if older.command_id != command_id and same_group and older.command_state is CommandState.ACKNOWLEDGED:
                self._finish(older)

    def record_refusal(self, command_id: str, code: str, at: datetime, context: CommandContext) -> bool:
        """The device refused the command with its code; False as for an acknowledgement."""
        command = self._answerable(command_id)
        if command is None:
            return False
        self._command_refused(command_id, code.strip()[:MAXIMUM_ID_LENGTH] or "unknown", at, **_context_fields(context))
        return True

    @event(CommandRefused)
    def _command_refused(
        self, command_id: str, code: str, refused_at: datetime, actor: str, reason: str, correlation_id: UUID
    ) -> None:
        command = self.commands[command_id]
        self._finish(replace(command, state=CommandState.REFUSED.value, refusal_code=code, finished_at=refused_at))

    def _answerable(self, command_id: str) -> ValveCommand | None:
        """The command a device's answer is for: dispatched; None when the answer changes nothing."""
        command = self.command(command_id)
        if command.command_state is CommandState.DISPATCHED:
            return command
        if STATE_RANK[command.command_state] >= STATE_RANK[CommandState.ACKNOWLEDGED]:
            return None
        raise ConflictError(
            f"the command {command_id} was never sent",
            message_key="valve_command_state_conflict",
            command_id=command_id,
            state=command.state,
        )

    def record_timeouts(self, now: datetime, policy: RetryPolicy, context: CommandContext) -> list[str]:
        """Time out every command whose last attempt went unacknowledged; their ids."""
        expired = [command for command in self.commands.values() if command.timed_out_at(now, policy)]
        for command in expired:
            self._command_timed_out(command.command_id, command.attempts, now, **_context_fields(context))
        return [command.command_id for command in expired]

    @event(CommandTimedOut)
    def _command_timed_out(
        self, command_id: str, attempts: int, timed_out_at: datetime, actor: str, reason: str, correlation_id: UUID
    ) -> None:
        command = self.commands[command_id]
        self._finish(replace(command, state=CommandState.TIMED_OUT.value, finished_at=timed_out_at))

    # -- reports ------------------------------------------------------------------------------

    def record_report(self, report: DeviceReport, source: ReportSource, now: datetime, context: CommandContext) -> bool:
        """Record a report once (False when its id was recorded already) and confirm the
        acknowledged commands it shows carried out."""
        if report.report_id in self.report_ids:
            return False
        report.check(self.gears, now)
        self._report_recorded(
            report.report_id,
            report.measured_at,
            report.room_temperature_c,
            report.humidity_percent,
            report.set_temperature_c,
            report.valve_gear,
            report.valve_state,
            report.valve_open_hours_total,
            report.signal_dbm,
            report.battery_percent,
            ReportSource(source).value,
            **_context_fields(context),
        )
        for command in list(self.commands.values()):
            if command.command_state is CommandState.ACKNOWLEDGED and shows_carried_out(command, report):
                self._command_confirmed(
                    command.command_id,
                    report.report_id,
                    now,
                    context.actor,
                    f"report {report.report_id} shows the command carried out",
                    context.correlation_id,
                )
        return True

    @event(ReportRecorded)
    def _report_recorded(
        self,
        report_id: str,
        measured_at: datetime,
        room_temperature_c: Decimal | None,
        humidity_percent: Decimal | None,
        set_temperature_c: Decimal | None,
        valve_gear: int | None,
        valve_state: str | None,
        valve_open_hours_total: Decimal | None,
        signal_dbm: int | None,
        battery_percent: int | None,
        source: str,
        actor: str,
        reason: str,
        correlation_id: UUID,
    ) -> None:
        self.report_ids = [*self.report_ids, report_id][-REMEMBERED_REPORT_IDS:]
        report = DeviceReport(
            report_id,
            measured_at,
            room_temperature_c,
            humidity_percent,
            set_temperature_c,
            valve_gear,
            valve_state,
            valve_open_hours_total,
            signal_dbm,
            battery_percent,
        )
        if self.last_report is None or measured_at >= self.last_report.measured_at:
            self.last_report = report
            self.last_report_source = source

    @event(CommandConfirmed)
    def _command_confirmed(
        self, command_id: str, report_id: str, confirmed_at: datetime, actor: str, reason: str, correlation_id: UUID
    ) -> None:
        command = self.commands[command_id]
        self._finish(
            replace(
                command, state=CommandState.CONFIRMED.value, confirmed_by_report=report_id, finished_at=confirmed_at
            )
        )

    # -- state helpers (called from event bodies only) ----------------------------------------

    def _open(self, command_id: str) -> ValveCommand:
        command = self.command(command_id)
        if command_id not in self.commands:
            raise ConflictError(
                f"the command {command_id} is {command.state} already",
                message_key="valve_command_state_conflict",
                command_id=command_id,
                state=command.state,
            )
        return command

    def _take_queue_number(self) -> int:
        number = self.next_queue_number
        self.next_queue_number += 1
        return number

    def _put(self, command: ValveCommand) -> None:
        previous = self.commands.get(command.command_id)
        assert previous is None or STATE_RANK[command.command_state] >= STATE_RANK[previous.command_state], (
            f"a command never goes back: {previous.state if previous else None} → {command.state}"
        )
        self.commands[command.command_id] = command

    def _finish(self, command: ValveCommand) -> None:
        self._put(command)
        del self.commands[command.command_id]
        self.finished = [*self.finished, command][-REMEMBERED_FINISHED_COMMANDS:]


def shows_carried_out(command: ValveCommand, report: DeviceReport) -> bool:
    """Whether ``report`` shows what ``command`` asked for. A command whose effect no report
    carries (upload period, limits, lock) is shown carried out by any report after its ack."""
    kind = command.command_kind
    if kind is CommandKind.FORCE_CLOSE:
        return report.valve_state == ValveState.CLOSED
    if kind is CommandKind.FORCE_OPEN:
        return report.valve_state == ValveState.OPEN
    if kind is CommandKind.FORCE_GEAR:
        return report.valve_gear is not None and report.valve_gear == command.params["gear"]
    if kind is CommandKind.SET_ROOM_TEMPERATURE:
        wanted = Decimal(command.params["temperature_c"])
        return report.set_temperature_c is not None and Decimal(report.set_temperature_c) == wanted
    return True
