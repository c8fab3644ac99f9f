"""Properties of the room controller's command lifecycle (issue 14), over random sequences of
requests, approvals, sends, answers, timeouts and reports: a command's state never goes back; at
most one command per group waits in a device's queue; the queue is sent in order; a report is
recorded once; replaying the events gives the state built step by step."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any
from uuid import uuid4

import pytest
from hypothesis import given
from hypothesis import strategies as st

from domain.errors import ConflictError, InvalidInputError, NotFoundError, PermissionDeniedError
from domain.values import CommandContext
from domain.valve import DeviceReport, ReportSource, RoomController, ValveState
from domain.valve_commands import STATE_RANK, CommandKind, CommandPolicy, CommandState, RetryPolicy

START = datetime(2025, 11, 20, 8, tzinfo=UTC)
POLICY = RetryPolicy(maximum_attempts=2, acknowledgement_timeout_seconds=60)
GEARS = 4
PARAMS: dict[CommandKind, dict[str, Any]] = {
    CommandKind.SET_UPLOAD_PERIOD: {"minutes": 15},
    CommandKind.SET_TEMPERATURE_LIMITS: {"lower_c": 16, "upper_c": "24.5"},
    CommandKind.FORCE_GEAR: {"gear": 2},
    CommandKind.FORCE_OPEN: {},
    CommandKind.FORCE_CLOSE: {},
    CommandKind.SET_ROOM_TEMPERATURE: {"temperature_c": Decimal("21.5")},
    CommandKind.LOCK_TEMPERATURE: {},
    CommandKind.UNLOCK: {},
}


def context(actor: str = "clerk-li") -> CommandContext:
    return CommandContext(actor, "test", uuid4())


def new_controller() -> RoomController:
    return RoomController.install("RC-1", "WZ-1", uuid4(), GEARS, START, context())


steps = st.lists(
    st.one_of(
        st.tuples(st.just("request"), st.sampled_from(list(CommandKind)), st.booleans()),
        st.tuples(st.just("dispatch"), st.integers(0, 20)),
        st.tuples(st.just("approve"), st.integers(0, 20), st.sampled_from(["clerk-li", "clerk-wang"])),
        st.tuples(st.just("dispatch"), st.integers(0, 20)),
        st.tuples(st.just("acknowledge"), st.integers(0, 20)),
        st.tuples(st.just("refuse"), st.integers(0, 20)),
        st.tuples(st.just("wait"), st.integers(1, 200)),
        st.tuples(st.just("report"), st.sampled_from(list(ValveState)), st.integers(0, GEARS), st.integers(0, 5)),
    ),
    max_size=40,
)


def play(controller: RoomController, step: tuple[Any, ...], now: datetime, ids: list[str]) -> datetime:
    """Apply one step; refusals the domain answers with an error are part of the game."""
    action = step[0]
    pick = (lambda index: ids[index % len(ids)]) if ids else (lambda index: "none")
    try:
        if action == "request":
            command_id = f"c{len(ids)}"
            controller.request_command(
                command_id, step[1], PARAMS[step[1]], CommandPolicy.MANUAL, step[2], now, context()
            )
            ids.append(command_id)
        elif action == "approve":
            controller.approve_command(pick(step[1]), now, context(step[2]))
        elif action == "dispatch":
            head = controller.due_command(now, POLICY)
            if head is not None:
                controller.record_dispatch(head.command_id, head.attempts + 1, now, context("gateway"))
        elif action == "acknowledge":
            controller.record_acknowledgement(answered(controller, step[1], pick), now, context("gateway"))
        elif action == "refuse":
            controller.record_refusal(answered(controller, step[1], pick), "E1", now, context("gateway"))
        elif action == "wait":
            now += timedelta(seconds=step[1])
            controller.record_timeouts(now, POLICY, context("gateway"))
        else:
            report = DeviceReport(f"r{step[3]}", now, valve_state=step[1].value, valve_gear=step[2])
            controller.record_report(report, ReportSource.MQTT, now, context("gateway"))
    except (ConflictError, PermissionDeniedError, InvalidInputError, NotFoundError):
        pass
    return now


def answered(controller: RoomController, index: int, pick: Any) -> str:
    """Mostly the head (what a device answers), sometimes any command (a stray or late answer)."""
    head = controller.head()
    return head.command_id if head is not None and index % 4 else pick(index)


def states(controller: RoomController, ids: list[str]) -> dict[str, CommandState]:
    return {
        command_id: controller.command(command_id).command_state
        for command_id in ids
        if controller.knows_command(command_id)
    }


@given(steps)
def test_a_command_never_goes_back_and_a_group_queues_one(plan: list[tuple[Any, ...]]) -> None:
    controller, now, ids = new_controller(), START, []
    seen: dict[str, CommandState] = {}
    for step in plan:
        now = play(controller, step, now, ids)
        for command_id, state in states(controller, ids).items():
            if command_id in seen:
                assert STATE_RANK[state] >= STATE_RANK[seen[command_id]], (command_id, seen[command_id], state)
            seen[command_id] = state
        queue = controller.queue()
        groups = [command.command_kind.group for command in queue]
        assert len(groups) == len(set(groups)), groups
        numbers = [command.queue_number for command in queue]
        assert numbers == sorted(numbers)
        # only the head was ever sent: every other queued command waits unsent
        assert all(command.attempts == 0 for command in queue[1:])


@given(steps)
def test_replay_equals_the_state_built_step_by_step(plan: list[tuple[Any, ...]]) -> None:
    controller, now, ids = new_controller(), START, []
    for step in plan:
        now = play(controller, step, now, ids)
    replayed = None
    for domain_event in controller.collect_events():
        replayed = domain_event.mutate(replayed)
    assert isinstance(replayed, RoomController)
    for name in ("commands", "finished", "next_queue_number", "request_times", "report_ids", "last_report"):
        assert getattr(replayed, name) == getattr(controller, name), name


def test_a_report_is_recorded_once() -> None:
    controller = new_controller()
    report = DeviceReport("r-1", START, room_temperature_c=Decimal("17.5"))
    assert controller.record_report(report, ReportSource.MQTT, START, context())
    assert not controller.record_report(report, ReportSource.NBIOT, START, context())
    assert [type(event).__name__ for event in controller.collect_events()] == ["Installed", "ReportRecorded"]


@pytest.mark.parametrize(
    ("kind", "params"),
    [
        (CommandKind.SET_UPLOAD_PERIOD, {"minutes": 0}),
        (CommandKind.SET_UPLOAD_PERIOD, {"minutes": True}),
        (CommandKind.SET_UPLOAD_PERIOD, {}),
        (CommandKind.FORCE_GEAR, {"gear": GEARS + 1}),
        (CommandKind.SET_ROOM_TEMPERATURE, {"temperature_c": "21.55"}),
        (CommandKind.SET_ROOM_TEMPERATURE, {"temperature_c": "NaN"}),
        (CommandKind.SET_TEMPERATURE_LIMITS, {"lower_c": 20, "upper_c": 20}),
        (CommandKind.FORCE_OPEN, {"gear": 1}),
    ],
)
def test_parameters_out_of_range_are_refused(kind: CommandKind, params: dict[str, Any]) -> None:
    with pytest.raises(InvalidInputError):
        new_controller().request_command("c1", kind, params, CommandPolicy.MANUAL, False, START, context())
