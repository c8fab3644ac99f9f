"""Room controllers and their valves (issue 14): installation, commands with their lifecycle, and
the reports devices send.

People install controllers (``manage_meters``), request commands and approve them
(``command_valves``; the approver is never the requester). The gateway (``heatledger gateway``,
a ``device`` token holding ``submit_readings``) asks what to send (``commands_to_dispatch``),
records each send, the device's answer, timeouts and reports. Guardrails (cold weather, vulnerable
households, open disputes, the rate limit: ``application.valve_guardrails``) are checked when a
command is requested and again when it is approved.

Commands to one device are sent in order (``domain.valve``): ``commands_to_dispatch`` gives at
most one command per device, the head of its queue, when it is due to be sent (first or again).
A command the gateway could not deliver is simply not recorded as sent: it stays queued and is
offered again, so none is ever lost.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol
from uuid import UUID, uuid4

from application.authorization import Permission, Principal
from application.ledger import HeatLedger, require_reason
from domain import ids
from domain.errors import NotFoundError
from domain.values import CommandContext
from domain.valve import DeviceReport, ReportSource, RoomController, room_controller_id
from domain.valve_commands import CommandKind, CommandPolicy, RetryPolicy, ValveCommand

# The most commands one call of ``commands_to_dispatch`` or ``record_timeouts`` looks at.
MAXIMUM_DISPATCH_BATCH = 1000
# The most reports one ``record_reports`` call saves together.
MAXIMUM_REPORT_BATCH = 1000


@dataclass(frozen=True)
class DispatchableCommand:
    """A command due to be sent now: ``attempt`` is the number this send will be recorded with.
    ``params`` hold ints and Decimals (temperatures); the transport writes them as JSON numbers."""

    device_id: str
    command_id: str
    kind: str
    params: dict[str, Any]
    attempt: int
    issued_at: datetime
    correlation_id: str


@dataclass(frozen=True)
class ReportItem:
    """One report of a batch, for ``record_reports``."""

    device_id: str
    report: DeviceReport
    source: ReportSource


class CommandQueueReader(Protocol):
    """What the gateway's calls read to find devices with work (``projections.valve_commands``)."""

    def devices_with_queued_commands(self, limit: int) -> Sequence[str]:
        """Device ids that have a command ready to send or sent and unanswered, oldest first."""
        ...


class Guardrails(Protocol):
    """What a command must pass before it is requested or approved (``application.valve_guardrails``)."""

    def check(self, controller: RoomController, kind: CommandKind, now: datetime, on_request: bool = True) -> None:
        """Raise a LedgerError naming the guardrail the command breaks (``on_request``: at its
        request, where the rate limit counts; else at its approval)."""
        ...


class NoGuardrails:
    """No guardrail at all: for unit tests of the lifecycle only."""

    def check(self, controller: RoomController, kind: CommandKind, now: datetime, on_request: bool = True) -> None:
        return None


class RoomControllers:
    """Room controllers and their commands, with the caller's permission checked first."""

    def __init__(
        self,
        ledger: HeatLedger,
        queue: CommandQueueReader,
        guardrails: Guardrails,
        retry_policy: RetryPolicy | None = None,
        approval_kinds: frozenset[CommandKind] = frozenset({CommandKind.FORCE_CLOSE}),
    ) -> None:
        self.ledger = ledger
        self.queue = queue
        self.guardrails = guardrails
        self.retry_policy = retry_policy or RetryPolicy()
        # Kinds that wait for a second person's approval; a forced close always does.
        self.approval_kinds = approval_kinds | {CommandKind.FORCE_CLOSE}

    # -- people -------------------------------------------------------------------------------

    def install(
        self,
        device_id: str,
        account_number: str,
        gears: int,
        principal: Principal,
        reason: str = "installation",
        correlation_id: UUID | None = None,
    ) -> UUID:
        """Install a controller in a household's flat; ConflictError when the device is installed."""
        principal.require(Permission.MANAGE_METERS)
        context = self._context(principal, reason or "installation", correlation_id)
        # Beside other commands, alone on the household and the new controller.
        with self.ledger.locks.writing([ids.household_id(account_number), room_controller_id(device_id.strip())]):
            household = self.ledger.household(account_number)
            controller = RoomController.install(
                device_id.strip(), account_number, household.id, gears, self.ledger.clock(), context
            )
            self.ledger._save_new(controller, "room_controller", device_id)
        return controller.id

    def request_command(
        self,
        device_id: str,
        kind: CommandKind | str,
        params: Mapping[str, Any],
        reason: str,
        principal: Principal,
        correlation_id: UUID | None = None,
        policy: CommandPolicy = CommandPolicy.MANUAL,
    ) -> str:
        """Ask for a command with why; returns its id. It waits for a second person's approval
        when its kind needs one (a forced close always), else joins the device's queue."""
        principal.require(Permission.COMMAND_VALVES)
        require_reason(reason)
        command_kind = CommandKind(kind)
        command_id = str(uuid4())
        context = self._context(principal, reason, correlation_id)

        def request(controller: RoomController, now: datetime) -> None:
            self.guardrails.check(controller, command_kind, now)
            needs_approval = command_kind in self.approval_kinds
            controller.request_command(command_id, command_kind, params, policy, needs_approval, now, context)

        self._change(device_id, request)
        return command_id

    def approve_command(
        self,
        device_id: str,
        command_id: str,
        principal: Principal,
        reason: str = "approved",
        correlation_id: UUID | None = None,
    ) -> None:
        """A second person approves a command (never its requester); guardrails checked again."""
        principal.require(Permission.COMMAND_VALVES)
        context = self._context(principal, reason or "approved", correlation_id)

        def approve(controller: RoomController, now: datetime) -> None:
            command = controller.command(command_id)
            self.guardrails.check(controller, command.command_kind, now, on_request=False)
            controller.approve_command(command_id, now, context)

        self._change(device_id, approve)

    # -- reads --------------------------------------------------------------------------------

    def controller(self, device_id: str) -> RoomController:
        """The controller with this device id (a copy), or NotFoundError."""
        with self.ledger.locks.writing([room_controller_id(device_id)]):
            found = self.ledger.copy_or_none(RoomController, room_controller_id(device_id))
        if found is None:
            raise NotFoundError(f"no room controller {device_id}", kind="room_controller", key=device_id)
        return found

    def command(self, device_id: str, command_id: str) -> ValveCommand:
        """One command of a controller (open or among its latest finished), or NotFoundError."""
        return self.controller(device_id).command(command_id)

    def history(self, device_id: str) -> list[Any]:
        """Every event of the controller in order, read from the event store."""
        domain_events = list(self.ledger.events.get(room_controller_id(device_id)))
        if not domain_events or not isinstance(domain_events[0], RoomController.Installed):
            raise NotFoundError(f"no room controller {device_id}", kind="room_controller", key=device_id)
        return domain_events

    # -- the gateway --------------------------------------------------------------------------

    def commands_to_dispatch(self, limit: int = 100, principal: Principal | None = None) -> list[DispatchableCommand]:
        """At most ``limit`` commands due to be sent now: per device the head of its queue, when
        it was never sent or its last send went unanswered for the acknowledgement timeout."""
        if principal is not None:
            principal.require(Permission.SUBMIT_READINGS)
        limit = max(0, min(limit, MAXIMUM_DISPATCH_BATCH))
        now = self.ledger.clock()
        due: list[DispatchableCommand] = []
        for device_id in self.queue.devices_with_queued_commands(MAXIMUM_DISPATCH_BATCH):
            if len(due) >= limit:
                break
            with self.ledger.locks.writing([room_controller_id(device_id)]):  # judged in place by others
                controller = self._controller_or_none(device_id)
                command = None if controller is None else controller.due_command(now, self.retry_policy)
            if command is not None:
                due.append(_dispatchable(device_id, command))
        return due

    def record_dispatch(
        self, device_id: str, command_id: str, attempt: int, at: datetime, principal: Principal | None = None
    ) -> None:
        """The gateway published the command (attempt 1, 2, …) at ``at``."""
        context = self._gateway_context(principal, "sent to the device")
        self._change(device_id, lambda controller, _: controller.record_dispatch(command_id, attempt, at, context))

    def record_acknowledgement(
        self, device_id: str, command_id: str, at: datetime, principal: Principal | None = None
    ) -> bool:
        """The device accepted the command; False when the ack changes nothing (a redelivery, or late)."""
        context = self._gateway_context(principal, "acknowledged by the device")
        return self._answer(device_id, lambda controller: controller.record_acknowledgement(command_id, at, context))

    def record_refusal(
        self, device_id: str, command_id: str, code: str, at: datetime, principal: Principal | None = None
    ) -> bool:
        """The device refused the command with its code; False as for an acknowledgement."""
        context = self._gateway_context(principal, f"refused by the device: {code}")
        return self._answer(device_id, lambda controller: controller.record_refusal(command_id, code, at, context))

    def record_timeouts(self, now: datetime | None = None, principal: Principal | None = None) -> list[tuple[str, str]]:
        """Time out every command whose last attempt went unanswered; (device id, command id) of each."""
        context = self._gateway_context(principal, "no acknowledgement after the last attempt")
        moment = now or self.ledger.clock()
        timed_out: list[tuple[str, str]] = []
        for device_id in self.queue.devices_with_queued_commands(MAXIMUM_DISPATCH_BATCH):
            with self.ledger.locks.writing([room_controller_id(device_id)]):
                controller = self._controller(device_id)
                expired = controller.record_timeouts(moment, self.retry_policy, context)
                if expired:
                    self._save(controller)
            timed_out.extend((device_id, command_id) for command_id in expired)
        return timed_out

    def record_report(
        self, device_id: str, report: DeviceReport, source: ReportSource | str, principal: Principal | None = None
    ) -> bool:
        """Record a device's report once: False when it was recorded already."""
        return self.record_reports([ReportItem(device_id, report, ReportSource(source))], principal)[0]

    def record_reports(self, items: Sequence[ReportItem], principal: Principal | None = None) -> list[bool]:
        """Record a batch of reports in one atomic save (several controllers together); per item,
        False when it was recorded already. A device not installed is NotFoundError, a field out of
        range InvalidInputError: the whole batch is refused and nothing is saved."""
        assert len(items) <= MAXIMUM_REPORT_BATCH, f"at most {MAXIMUM_REPORT_BATCH} reports per batch"
        context = self._gateway_context(principal, "reported by the device")
        # Beside other commands, alone on the batch's controllers (judged in the cache itself, as
        # reading batches judge meters: every load of a controller holds its lock).
        with self.ledger.locks.writing({room_controller_id(item.device_id) for item in items}):
            now = self.ledger.clock()
            controllers: dict[str, RoomController] = {}
            recorded: list[bool] = []
            try:
                for item in items:
                    if item.device_id not in controllers:
                        controllers[item.device_id] = self._controller(item.device_id)
                    recorded.append(controllers[item.device_id].record_report(item.report, item.source, now, context))
                if any(recorded):
                    self.ledger.save(*controllers.values())
            except BaseException:
                self.ledger.evict(list(controllers.values()))
                raise
        return recorded

    # -- helpers ------------------------------------------------------------------------------

    def _answer(self, device_id: str, answer: Callable[[RoomController], bool]) -> bool:
        changed: list[bool] = []
        self._change(device_id, lambda controller, _: changed.append(answer(controller)))
        return changed[0]

    def _change(self, device_id: str, change: Callable[[RoomController, datetime], None]) -> None:
        """Load, change and save one controller (nothing saved on failure): beside other commands,
        alone on the controller and its household (the guardrails read it)."""
        controller_id = room_controller_id(device_id)
        with self.ledger.locks.writing_found([controller_id], lambda: self._household_ids(controller_id)):
            controller = self._controller(device_id)
            try:
                change(controller, self.ledger.clock())
            except BaseException:
                self.ledger.evict([controller])
                raise
            if controller.pending_events:
                self._save(controller)

    def _save(self, controller: RoomController) -> None:
        """Save a changed controller; on failure (a concurrent writer) forget its unsaved changes."""
        try:
            self.ledger.save(controller)
        except BaseException:
            self.ledger.evict([controller])
            raise

    def _controller(self, device_id: str) -> RoomController:
        controller = self._controller_or_none(device_id)
        if controller is None:
            raise NotFoundError(f"no room controller {device_id}", kind="room_controller", key=device_id)
        return controller

    def _household_ids(self, controller_id: UUID) -> list[UUID]:
        controller = self.ledger.load_or_none(RoomController, controller_id)
        return [ids.household_id(controller.account_number)] if controller is not None else []

    def _controller_or_none(self, device_id: str) -> RoomController | None:
        """The cached controller itself (changed in place): the caller holds its lock."""
        return self.ledger.load_or_none(RoomController, room_controller_id(device_id))

    @staticmethod
    def _context(principal: Principal, reason: str, correlation_id: UUID | None) -> CommandContext:
        return CommandContext(principal.name, reason.strip(), correlation_id or uuid4())

    @staticmethod
    def _gateway_context(principal: Principal | None, reason: str) -> CommandContext:
        """The gateway's calls: under its device token when one is given (SUBMIT_READINGS)."""
        if principal is not None:
            principal.require(Permission.SUBMIT_READINGS)
        return CommandContext(principal.name if principal else "gateway", reason, uuid4())


def _dispatchable(device_id: str, command: ValveCommand) -> DispatchableCommand:
    return DispatchableCommand(
        device_id,
        command.command_id,
        command.kind,
        dict(command.params),
        command.attempts + 1,
        command.requested_at,
        command.correlation_id,
    )
