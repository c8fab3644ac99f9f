"""Room controllers on each backend (issue 14): a command's whole lifecycle through the
application service and the gateway's calls, the second person's approval, supersession, ordered
delivery, retries and the timeout, reports recorded once and confirming commands, the guardrails,
and the read models of controllers and commands (a rebuild equals the live rows)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest
from sqlalchemy import select

from application.authorization import Principal, Role
from application.valves import RoomControllers
from domain.errors import ConflictError, InvalidInputError, NotFoundError, PermissionDeniedError
from domain.valve import DeviceReport, ReportSource
from domain.valve_commands import CommandKind, CommandState
from infrastructure.container import Container
from projections.ledger_projection import LedgerProjection
from projections.runner import ProjectionRunner
from projections.valve_commands import VALVE_TABLES, ValveQueries, valve_commands
from tests.strategies import register_household

CLERK_LI = Principal("clerk-li", Role.CLERK)
CLERK_WANG = Principal("clerk-wang", Role.CLERK)
GATEWAY = Principal("gateway-1", Role.DEVICE)
# Outside the default cold-weather window (12-15/02-15) and in the season.
NOW = datetime(2025, 11, 20, 8, 0, tzinfo=UTC)


class Clock:
    """A clock the test moves on."""

    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def clock(container: Container) -> Clock:
    moving = Clock(NOW)
    container.ledger.clock = moving
    return moving


@pytest.fixture
def valves(container: Container, clock: Clock) -> RoomControllers:
    register_household(container.ledger, "WZ-1")
    register_household(container.ledger, "WZ-2")
    service = container.room_controllers
    service.install("RC-1", "WZ-1", 5, CLERK_LI)
    service.install("RC-2", "WZ-2", 5, CLERK_LI)
    return service


def report(report_id: str, at: datetime, **fields: object) -> DeviceReport:
    return DeviceReport(report_id, at, **fields)  # type: ignore[arg-type]


def test_a_command_is_dispatched_acknowledged_and_confirmed_by_the_next_report(
    valves: RoomControllers, clock: Clock
) -> None:
    command_id = valves.request_command("RC-1", CommandKind.FORCE_GEAR, {"gear": 2}, "complaint: too hot", CLERK_LI)
    [due] = valves.commands_to_dispatch(10)
    assert (due.device_id, due.command_id, due.kind, due.params, due.attempt) == (
        "RC-1",
        command_id,
        "force_gear",
        {"gear": 2},
        1,
    )
    valves.record_dispatch("RC-1", command_id, 1, clock.now, GATEWAY)
    assert valves.commands_to_dispatch(10) == []  # waiting for the acknowledgement
    assert valves.record_acknowledgement("RC-1", command_id, clock.now, GATEWAY)
    assert not valves.record_acknowledgement("RC-1", command_id, clock.now, GATEWAY)  # redelivered: nothing
    assert valves.command("RC-1", command_id).command_state is CommandState.ACKNOWLEDGED
    assert valves.record_report("RC-1", report("r-1", clock.now, valve_gear=3), ReportSource.MQTT)
    assert valves.command("RC-1", command_id).command_state is CommandState.ACKNOWLEDGED  # gear 3 is not 2
    assert valves.record_report("RC-1", report("r-2", clock.now, valve_gear=2), "mqtt")
    assert valves.command("RC-1", command_id).command_state is CommandState.CONFIRMED
    assert not valves.record_report("RC-1", report("r-2", clock.now, valve_gear=2), "nbiot")  # once only


def test_a_forced_close_waits_for_a_second_person(valves: RoomControllers, clock: Clock) -> None:
    command_id = valves.request_command("RC-1", "force_close", {}, "meter tampering", CLERK_LI)
    assert valves.commands_to_dispatch(10) == []
    with pytest.raises(PermissionDeniedError):
        valves.approve_command("RC-1", command_id, CLERK_LI)
    valves.approve_command("RC-1", command_id, CLERK_WANG)
    [due] = valves.commands_to_dispatch(10)
    assert due.command_id == command_id
    assert valves.command("RC-1", command_id).approved_by == "clerk-wang"


def test_only_roles_that_command_valves_may_request(valves: RoomControllers) -> None:
    for role in (Role.AUDITOR, Role.REGULATOR, Role.CUSTOMER_SERVICE, Role.DEVICE):
        with pytest.raises(PermissionDeniedError):
            valves.request_command("RC-1", "force_open", {}, "why", Principal("someone", role))
    with pytest.raises(PermissionDeniedError):
        valves.commands_to_dispatch(10, Principal("auditor", Role.AUDITOR))


def test_a_newer_command_of_the_group_supersedes_a_queued_one_and_delivery_is_ordered(
    valves: RoomControllers, clock: Clock
) -> None:
    period = valves.request_command("RC-1", "set_upload_period", {"minutes": 30}, "tariff study", CLERK_LI)
    gear = valves.request_command("RC-1", "force_gear", {"gear": 2}, "too hot", CLERK_LI)
    opened = valves.request_command("RC-1", "force_open", {}, "too cold after all", CLERK_LI)
    assert valves.command("RC-1", gear).command_state is CommandState.SUPERSEDED
    assert valves.command("RC-1", gear).superseded_by == opened
    assert [c.command_id for c in valves.commands_to_dispatch(10)] == [period]  # one per device, in order
    valves.record_dispatch("RC-1", period, 1, clock.now, GATEWAY)
    with pytest.raises(ConflictError):
        valves.record_dispatch("RC-1", opened, 1, clock.now, GATEWAY)  # not the head
    valves.record_refusal("RC-1", period, "E17", clock.now, GATEWAY)
    assert valves.command("RC-1", period).refusal_code == "E17"
    assert [c.command_id for c in valves.commands_to_dispatch(10)] == [opened]


def test_an_unacknowledged_command_is_sent_again_then_times_out(
    container: Container, valves: RoomControllers, clock: Clock
) -> None:
    command_id = valves.request_command("RC-2", "unlock", {}, "household asked", CLERK_LI)
    timeout = timedelta(seconds=container.settings.valve_acknowledgement_timeout_seconds)
    for attempt in range(1, container.settings.valve_maximum_attempts + 1):
        [due] = valves.commands_to_dispatch(10)
        assert due.attempt == attempt
        valves.record_dispatch("RC-2", command_id, attempt, clock.now, GATEWAY)
        assert valves.record_timeouts() == []
        clock.now += timeout
    assert valves.commands_to_dispatch(10) == []
    assert valves.record_timeouts() == [("RC-2", command_id)]
    assert valves.command("RC-2", command_id).command_state is CommandState.TIMED_OUT
    assert not valves.record_acknowledgement("RC-2", command_id, clock.now, GATEWAY)  # too late: changes nothing


def test_a_command_never_sent_keeps_its_place_in_the_queue(valves: RoomControllers, clock: Clock) -> None:
    """The gateway could not publish (the broker is down): nothing recorded, the command is offered again."""
    command_id = valves.request_command("RC-1", "lock_temperature", {}, "landlord's request", CLERK_LI)
    assert [c.command_id for c in valves.commands_to_dispatch(10)] == [command_id]
    clock.now += timedelta(hours=3)
    assert [c.command_id for c in valves.commands_to_dispatch(10)] == [command_id]
    assert valves.record_timeouts() == []


def test_guardrails_refuse_a_forced_close(container: Container, valves: RoomControllers, clock: Clock) -> None:
    container.arrears.mark_vulnerable(CLERK_LI, "WZ-1", "elderly, lives alone")
    with pytest.raises(ConflictError) as vulnerable:
        valves.request_command("RC-1", "force_close", {}, "arrears", CLERK_LI)
    assert vulnerable.value.message_key == "valve_close_vulnerable"
    command_id = valves.request_command("RC-2", "force_close", {}, "arrears", CLERK_LI)
    clock.now = datetime(2026, 1, 5, 8, tzinfo=UTC)  # the approval comes in the cold-weather window
    with pytest.raises(ConflictError) as cold:
        valves.approve_command("RC-2", command_id, CLERK_WANG)
    assert cold.value.message_key == "valve_close_cold_window"
    clock.now = NOW + timedelta(days=1)
    container.weather.record({date(2025, 11, 21): Decimal("-12.5")}, "test")
    with pytest.raises(ConflictError) as outdoor:
        valves.approve_command("RC-2", command_id, CLERK_WANG)
    assert outdoor.value.message_key == "valve_close_cold_outdoor"


def test_the_rate_limit_per_device(container: Container, valves: RoomControllers, clock: Clock) -> None:
    for minutes in range(container.settings.valve_commands_per_hour):
        valves.request_command("RC-1", "set_upload_period", {"minutes": minutes + 1}, "test", CLERK_LI)
    with pytest.raises(ConflictError) as limited:
        valves.request_command("RC-1", "set_upload_period", {"minutes": 60}, "test", CLERK_LI)
    assert limited.value.message_key == "valve_rate_limited"
    valves.request_command("RC-2", "set_upload_period", {"minutes": 60}, "another device", CLERK_LI)
    clock.now += timedelta(hours=1, seconds=1)
    valves.request_command("RC-1", "set_upload_period", {"minutes": 60}, "an hour later", CLERK_LI)


def test_bad_input_is_refused(valves: RoomControllers, clock: Clock) -> None:
    with pytest.raises(InvalidInputError):
        valves.request_command("RC-1", "force_gear", {"gear": 6}, "more than it has", CLERK_LI)
    with pytest.raises(InvalidInputError):
        valves.request_command("RC-1", "set_temperature_limits", {"lower_c": 24, "upper_c": 18}, "x", CLERK_LI)
    with pytest.raises(InvalidInputError):
        valves.request_command("RC-1", "force_open", {}, "  ", CLERK_LI)
    with pytest.raises(NotFoundError):
        valves.request_command("RC-9", "force_open", {}, "no such device", CLERK_LI)
    with pytest.raises(InvalidInputError):
        valves.record_report("RC-1", report("r-9", clock.now, humidity_percent=Decimal(120)), "mqtt")
    with pytest.raises(ConflictError):
        valves.install("RC-1", "WZ-2", 5, CLERK_LI)


def test_reports_of_several_devices_are_saved_together_and_once(valves: RoomControllers, clock: Clock) -> None:
    from application.valves import ReportItem

    items = [
        ReportItem(
            device,
            report(f"{device}-{n}", clock.now + timedelta(minutes=n), room_temperature_c=Decimal("19.5")),
            ReportSource.MQTT,
        )
        for n in range(3)
        for device in ("RC-1", "RC-2")
    ]
    assert valves.record_reports(items) == [True] * 6
    assert valves.record_reports(items[:2]) == [False, False]
    assert valves.controller("RC-2").last_report.measured_at == clock.now + timedelta(minutes=2)  # type: ignore[union-attr]


def test_the_read_models_and_their_rebuild(container: Container, valves: RoomControllers, clock: Clock) -> None:
    close = valves.request_command("RC-1", "force_close", {}, "arrears", CLERK_LI)
    gear = valves.request_command("RC-2", "force_gear", {"gear": 1}, "arrears", CLERK_LI)
    valves.record_dispatch("RC-2", gear, 1, clock.now, GATEWAY)
    queries = ValveQueries(container.engine)
    assert [row.device_id for row in queries.controllers_of("WZ-1")] == ["RC-1"]
    assert list(queries.devices_with_queued_commands(10)) == ["RC-2"]
    assert [row.command_id for row in queries.commands(awaiting_approval=True)] == [close]
    [row] = queries.commands(device_id="RC-2")
    assert (row.state, row.attempts, row.params) == ("dispatched", 1, {"gear": "1"})
    valves.approve_command("RC-1", close, CLERK_WANG)
    assert set(queries.devices_with_queued_commands(10)) == {"RC-1", "RC-2"}

    def rows() -> dict[str, list[tuple[object, ...]]]:
        with container.engine.connect() as connection:
            return {table.name: sorted(connection.execute(select(table)).all(), key=str) for table in VALVE_TABLES}

    live = rows()
    ProjectionRunner(container.ledger, container.engine, LedgerProjection()).rebuild()
    assert rows() == live
    assert live[valve_commands.name]
