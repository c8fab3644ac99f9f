"""Room controllers and their valve commands (issue 14): installation, commands with their whole
lifecycle (requested, approved by a second person, sent, acknowledged or refused or timed out,
confirmed by the next report) and the lists a clerk works from.

Writes leave the role checks to the application: ``manage_meters`` installs, ``command_valves``
requests and approves (never the requester); read-only roles are refused every write by the
read-only guard. The gateway does not come through here: it calls the application in its process.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Path, Query

from api.auth import Caller, Reader
from api.dependencies import BusinessToday, ContainerDependency
from api.problems import problem_responses
from api.routers import resource_router
from api.routers.households import AccountNumberPath
from api.schemas.valves import (
    ArrearsReconciliation,
    CommandApproval,
    CommandList,
    CommandOutput,
    CommandReceipt,
    CommandRequest,
    ControllerDetail,
    ControllerInstallation,
    ControllerList,
    ControllerOutput,
    LastReport,
    QueuedCommand,
)
from domain.valve import MAXIMUM_ID_LENGTH, RoomController
from domain.valve_commands import CommandState, ValveCommand
from projections.valve_commands import MAXIMUM_LISTED, ValveQueries

router = resource_router("", "valves")

DevicePath = Annotated[str, Path(min_length=1, max_length=MAXIMUM_ID_LENGTH, description="The controller's device id")]
CommandPath = Annotated[str, Path(min_length=1, max_length=MAXIMUM_ID_LENGTH, description="The command's id")]


@router.post(
    "/valves",
    status_code=201,
    operation_id="install_room_controller",
    response_model=ControllerDetail,
    responses=problem_responses(401, 403, 404, 409, 422),
)
def install_room_controller(
    installation: ControllerInstallation, caller: Caller, container: ContainerDependency
) -> ControllerDetail:
    """Install a room controller in a household's flat (manage_meters). A device installed already is a 409."""
    container.room_controllers.install(
        installation.device_id, installation.account_number, installation.gears, caller, installation.reason or ""
    )
    return _detail(container.room_controllers.controller(installation.device_id))


@router.get(
    "/valves/{device_id}",
    operation_id="get_room_controller",
    response_model=ControllerDetail,
    responses=problem_responses(401, 403, 404, 422),
)
def get_room_controller(device_id: DevicePath, _reader: Reader, container: ContainerDependency) -> ControllerDetail:
    """A controller as the ledger holds it: its queue in the order it goes out, the commands
    waiting for a second person's approval, and its latest report."""
    return _detail(container.room_controllers.controller(device_id))


@router.get(
    "/households/{account_number}/valves",
    operation_id="list_household_room_controllers",
    response_model=ControllerList,
    responses=problem_responses(401, 403, 404, 422),
)
def list_household_room_controllers(
    account_number: AccountNumberPath, _reader: Reader, container: ContainerDependency
) -> ControllerList:
    """The controllers installed in a household, in the order they were installed."""
    container.ledger.household(account_number)  # 404 for an unknown household
    rows = ValveQueries(container.engine).controllers_of(account_number)
    return ControllerList(items=[ControllerOutput.model_validate(row) for row in rows])


@router.post(
    "/valves/{device_id}/commands",
    status_code=201,
    operation_id="request_valve_command",
    response_model=CommandReceipt,
    responses=problem_responses(401, 403, 404, 409, 422, 429),
)
def request_valve_command(
    device_id: DevicePath, request: CommandRequest, caller: Caller, container: ContainerDependency
) -> CommandReceipt:
    """Ask for a command (command_valves), with why. A forced close (and any kind the settings
    name) waits for a second person's approval; any other joins the device's queue at once and
    supersedes a queued older command of its group. Guardrails are 409s: no forced close in the
    cold-weather window or below the outdoor threshold, for a vulnerable household or during an
    open dispute. The rate limit per device is a 429 with Retry-After."""
    command_id = container.room_controllers.request_command(
        device_id, request.kind, request.params, request.reason, caller
    )
    return _receipt(container, device_id, command_id)


@router.post(
    "/valves/{device_id}/commands/{command_id}/approval",
    operation_id="approve_valve_command",
    response_model=CommandReceipt,
    responses=problem_responses(401, 403, 404, 409, 422),
)
def approve_valve_command(
    device_id: DevicePath,
    command_id: CommandPath,
    approval: CommandApproval,
    caller: Caller,
    container: ContainerDependency,
) -> CommandReceipt:
    """A second person approves a command waiting for approval: its requester may not (403); the
    guardrails are checked again (409)."""
    container.room_controllers.approve_command(device_id, command_id, caller, approval.reason or "approved")
    return _receipt(container, device_id, command_id)


@router.get(
    "/valves/{device_id}/commands",
    operation_id="list_valve_commands_of_device",
    response_model=CommandList,
    responses=problem_responses(401, 403, 404, 422),
)
def list_valve_commands_of_device(
    device_id: DevicePath,
    _reader: Reader,
    container: ContainerDependency,
    limit: Annotated[int, Query(ge=1, le=MAXIMUM_LISTED)] = 100,
) -> CommandList:
    """The device's commands, newest first, each with its state."""
    container.room_controllers.controller(device_id)  # 404 for an unknown device
    rows = ValveQueries(container.engine).commands(device_id=device_id, limit=limit)
    return CommandList(items=[CommandOutput.model_validate(row) for row in rows])


@router.get(
    "/valve-commands",
    operation_id="list_valve_commands",
    response_model=CommandList,
    responses=problem_responses(401, 403, 422),
)
def list_valve_commands(
    _reader: Reader,
    container: ContainerDependency,
    state: Annotated[list[CommandState] | None, Query(description="Only commands in these states")] = None,
    awaiting_approval: Annotated[bool, Query(description="Only commands waiting for a second person")] = False,
    limit: Annotated[int, Query(ge=1, le=MAXIMUM_LISTED)] = 100,
) -> CommandList:
    """Commands of every device, newest first: in the given states (e.g. ``timed_out`` or
    ``refused`` for a technician's round), or waiting for approval."""
    states = [value.value for value in state or []]
    rows = ValveQueries(container.engine).commands(states=states, awaiting_approval=awaiting_approval, limit=limit)
    return CommandList(items=[CommandOutput.model_validate(row) for row in rows])


@router.post(
    "/valve-commands/arrears-reconciliation",
    operation_id="reconcile_arrears_restrictions",
    response_model=ArrearsReconciliation,
    responses=problem_responses(401, 403, 422),
)
def reconcile_arrears_restrictions(
    caller: Caller, container: ContainerDependency, today: BusinessToday
) -> ArrearsReconciliation:
    """Run the arrears restrictions now (command_valves; the gateway runs them on its loop): an
    approved flag of a household that paid is withdrawn as paid; every controller of a household
    with an approved flag gets a restriction command, once; one no longer flagged gets its lift.
    Running it again changes nothing."""
    summary = container.arrears_restrictions.reconcile(caller, today)
    return ArrearsReconciliation.model_validate(summary)


def _receipt(container: ContainerDependency, device_id: str, command_id: str) -> CommandReceipt:
    command = container.room_controllers.command(device_id, command_id)
    return CommandReceipt(
        command_id=command_id,
        device_id=device_id,
        state=command.command_state,
        needs_approval=command.needs_approval,
    )


def _queued(command: ValveCommand) -> QueuedCommand:
    return QueuedCommand(
        command_id=command.command_id, kind=command.command_kind, state=command.command_state, attempts=command.attempts
    )


def _detail(controller: RoomController) -> ControllerDetail:
    awaiting = [
        command
        for command in controller.commands.values()
        if command.needs_approval and command.command_state is CommandState.REQUESTED
    ]
    report = controller.last_report
    return ControllerDetail(
        device_id=controller.device_id,
        account_number=controller.account_number,
        gears=controller.gears,
        installed_at=controller.installed_at,
        installed_by=controller.installed_by,
        queue=[_queued(command) for command in controller.queue()],
        awaiting_approval=[_queued(command) for command in awaiting],
        last_report=LastReport.model_validate(report) if report is not None else None,
        last_report_source=controller.last_report_source,
    )
