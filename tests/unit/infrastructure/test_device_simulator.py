"""The simulated room controller's firmware: commands acted on once, refusals with codes, reports."""

from __future__ import annotations

import random
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any
from uuid import uuid4

import pytest
from hypothesis import given
from hypothesis import strategies as st

from infrastructure.device_simulator import SimulatedController, simulated_devices
from infrastructure.mqtt.payloads import AckResult, CommandMessage, ValveState

NOW = datetime(2025, 12, 1, tzinfo=UTC)


def command(kind: str, **params: Any) -> CommandMessage:
    return CommandMessage(command_id=str(uuid4()), kind=kind, params=params, issued_at=NOW, attempt=1)


def test_every_command_of_the_control_panel_is_acted_on() -> None:
    device = SimulatedController("RC-1")
    accepted = (AckResult.ACCEPTED, None)
    assert device.apply(command("set_upload_period", minutes=15)) == accepted
    assert device.apply(command("set_temperature_limits", lower_c="17.0", upper_c="22.0")) == accepted
    assert device.apply(command("set_room_temperature", temperature_c="21.5")) == accepted
    assert device.apply(command("lock_temperature")) == accepted
    assert device.apply(command("force_gear", gear=2)) == accepted
    report = device.report(NOW, random.Random(1))
    assert (report.upload_period_minutes, report.lower_limit_c, report.upper_limit_c) == (15, Decimal(17), Decimal(22))
    assert (report.set_temperature_c, report.temperature_locked) == (Decimal("21.5"), True)
    assert (report.valve_gear, report.valve_state) == (2, ValveState.PARTIAL)
    assert device.apply(command("force_close")) == accepted
    assert device.valve_state is ValveState.CLOSED
    assert device.apply(command("force_open")) == accepted
    assert device.valve_state is ValveState.OPEN
    assert device.apply(command("unlock")) == accepted
    assert device.temperature_locked is False


@pytest.mark.parametrize(
    ("kind", "params", "code"),
    [
        ("force_gear", {"gear": 9}, "no_such_gear"),
        ("force_gear", {}, "invalid_parameters"),
        ("set_room_temperature", {"temperature_c": "30.0"}, "outside_limits"),
        ("set_temperature_limits", {"lower_c": "23", "upper_c": "18"}, "invalid_limits"),
        ("set_upload_period", {"minutes": 0}, "invalid_parameters"),
        ("open_the_window", {}, "unknown_command"),
    ],
)
def test_a_command_the_firmware_cannot_follow_is_refused_with_a_code(
    kind: str, params: dict[str, Any], code: str
) -> None:
    device = SimulatedController("RC-1")
    before = device.report(NOW, random.Random(1)).model_dump(exclude={"report_id", "humidity_percent"})
    assert device.apply(command(kind, **params)) == (AckResult.REFUSED, code)
    after = device.report(NOW, random.Random(1)).model_dump(exclude={"report_id", "humidity_percent"})
    assert after == before


def test_a_command_received_twice_is_acted_on_once_and_answered_alike() -> None:
    device = SimulatedController("RC-1", gear=5)
    first = command("force_gear", gear=1)
    assert device.apply(first) == (AckResult.ACCEPTED, None)
    device.apply(command("force_gear", gear=4))
    assert device.apply(first) == (AckResult.ACCEPTED, None)  # the retry of an old command changes nothing
    assert device.gear == 4


@given(st.lists(st.integers(min_value=0, max_value=5), min_size=1, max_size=50))
def test_open_hours_never_go_backwards_and_grow_only_with_an_open_valve(gears: list[int]) -> None:
    device, rng = SimulatedController("RC-1"), random.Random(3)
    for gear in gears:
        before = device.valve_open_hours_total
        device.gear = gear
        device.advance(Decimal(1), Decimal(-5), rng)
        grown = device.valve_open_hours_total - before
        assert grown == (Decimal(gear) / 5).quantize(Decimal("0.001"))


def test_report_ids_are_the_devices_own_sequence() -> None:
    device = SimulatedController("RC-7")
    rng = random.Random(1)
    assert [device.report(NOW, rng).report_id for _ in range(3)] == ["RC-7-1", "RC-7-2", "RC-7-3"]


def test_simulated_devices_are_named_in_order() -> None:
    assert [device.device_id for device in simulated_devices(2)] == ["RC-000001", "RC-000002"]
    with pytest.raises(ValueError):
        simulated_devices(0)
