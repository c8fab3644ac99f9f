"""What the valve pages show and do (issue 14): a household's room controllers, one controller with
its latest report, its days of room temperature and valve-open hours, its commands and where each
stands; a command requested (the guardrails' refusals said beside the form) and approved by a second
person; the commands awaiting approval, the under-heated households and device health.

Every read and write is the API's own route function (``api.routers.valves``,
``api.routers.room_telemetry``) with the page's principal, so the pages answer what the API
answers and refuse what it refuses.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from api.routers import room_telemetry as telemetry_api
from api.routers import valves as valves_api
from api.schemas.room_telemetry import DeviceHealthOutput, RoomTemperatureDay, UnderHeatedOutput, ValveOpenHoursDay
from api.schemas.valves import (
    CommandApproval,
    CommandOutput,
    CommandReceipt,
    CommandRequest,
    ControllerDetail,
    ControllerOutput,
)
from api.web.forms import filled
from api.web.pages.arrears_data import PAGE_SIZE, Pages, business_today, offset_of
from application.authorization import Principal
from domain.valve_commands import CommandKind, parameter_names
from infrastructure.container import Container

# Every parameter a command form may carry, in the order the form shows them.
PARAMETER_FIELDS = ("minutes", "lower_c", "upper_c", "gear", "temperature_c")
REQUEST_FIELDS = ("kind", *PARAMETER_FIELDS, "reason")
# The days of room temperature and valve hours a controller's page shows, up to today.
RECENT_DAYS = 14
# Commands listed on a controller's page, newest first.
COMMANDS_SHOWN = 100


def command_request(form: Mapping[str, str]) -> CommandRequest:
    """``POST /valves/{id}/commands``'s body from the form: of the parameter fields, only those the
    chosen kind takes (a field left blank is left out, and the ledger names it as missing)."""
    body: dict[str, Any] = filled(form, ("kind", "reason"))
    kind = body.get("kind", "")
    names = parameter_names(kind) if kind in {member.value for member in CommandKind} else ()
    body["params"] = filled(form, names)
    return CommandRequest.model_validate(body)


def request_command(
    container: Container, principal: Principal, device_id: str, form: Mapping[str, str]
) -> CommandReceipt:
    """``POST /valves/{device_id}/commands``: the guardrails' refusals are the API's (409, 429)."""
    return valves_api.request_valve_command(device_id, command_request(form), principal, container)


def approve_command(
    container: Container, principal: Principal, device_id: str, command_id: str, form: Mapping[str, str]
) -> CommandReceipt:
    """``POST /valves/{device_id}/commands/{command_id}/approval`` (never the requester: 403)."""
    approval = CommandApproval.model_validate(filled(form, ("reason",)))
    return valves_api.approve_valve_command(device_id, command_id, approval, principal, container)


@dataclass(frozen=True)
class ControllerView:
    """A controller's page: the controller, its commands, and its household's recent days."""

    controller: ControllerDetail
    commands: list[CommandOutput]
    temperatures: list[RoomTemperatureDay]
    open_hours: list[ValveOpenHoursDay]


def controller_view(container: Container, principal: Principal, device_id: str) -> ControllerView:
    """``GET /valves/{id}`` (404 for an unknown device), its commands, and the last days' room
    temperatures and valve hours of its household."""
    controller = valves_api.get_room_controller(device_id, principal, container)
    commands = valves_api.list_valve_commands_of_device(device_id, principal, container, COMMANDS_SHOWN).items
    today = business_today(container)
    first = today - timedelta(days=RECENT_DAYS - 1)
    account = controller.account_number
    temperatures = telemetry_api.get_household_room_temperatures(account, principal, container, today, first, today)
    hours = telemetry_api.get_household_valve_open_hours(account, principal, container, today, first, today)
    return ControllerView(controller, commands, temperatures.days, hours.days)


@dataclass(frozen=True)
class Overview:
    """The valves' start page: a household's controllers when one is asked for, the commands
    awaiting a second person, and the under-heated households (the first page)."""

    controllers: list[ControllerOutput] | None
    awaiting: list[CommandOutput]
    under_heated: list[UnderHeatedOutput]
    minimum_hours: int


def overview(container: Container, principal: Principal, account_number: str | None) -> Overview:
    controllers = None
    if account_number:
        controllers = valves_api.list_household_room_controllers(account_number, principal, container).items
    awaiting = valves_api.list_valve_commands(principal, container, None, True, PAGE_SIZE).items
    cold = telemetry_api.list_under_heated_households(principal, container, None, PAGE_SIZE, 0)
    return Overview(controllers, awaiting, cold.items, cold.minimum_hours)


@dataclass(frozen=True)
class Health:
    """A page of device health, the longest silent first."""

    items: list[DeviceHealthOutput]
    pages: Pages


def device_health(container: Container, principal: Principal, account_number: str | None, page: int) -> Health:
    """``GET /room-telemetry/device-health`` for one page (read one row ahead)."""
    found = telemetry_api.list_room_controller_health(
        principal, container, account_number or None, PAGE_SIZE + 1, offset_of(page)
    ).items
    return Health(found[:PAGE_SIZE], Pages(page, len(found) > PAGE_SIZE))
