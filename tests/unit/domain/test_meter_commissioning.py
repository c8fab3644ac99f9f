"""The Meter aggregate's identity and its attachment to households."""

from datetime import datetime
from decimal import Decimal
from typing import Any
from uuid import uuid4

import pytest

from domain import ids
from domain.errors import ConflictError, InvalidInputError
from domain.meter import Meter
from domain.readings import Attachment
from domain.values import AccuracyClass, CommandContext, FlowSensorSide, MeterKind
from tests.strategies import COMMISSIONED_AT, context, hours_after, new_meter

D = Decimal
HOUSEHOLD_A, HOUSEHOLD_B = ids.household_id("A"), ids.household_id("B")


def commission(**overrides: Any) -> Meter:
    arguments: dict[str, Any] = {
        "serial": "M-1",
        "maker": "Kamstrup",
        "model": "Multical 603",
        "accuracy_class": AccuracyClass.CLASS_2,
        "flow_sensor_side": FlowSensorSide.RETURN,
        "kind": MeterKind.HOUSEHOLD,
        "commissioned_at": COMMISSIONED_AT,
        "context": context(),
    }
    return Meter.commission(**(arguments | overrides))


def test_commissioning_records_the_meter_and_who_did_it() -> None:
    correlation = uuid4()
    meter = commission(serial=" M-1 ", context=CommandContext("fitter-ma", "new meter", correlation))
    (commissioned,) = meter.collect_events()
    assert isinstance(commissioned, Meter.Commissioned)
    assert meter.id == ids.meter_id("M-1")
    assert meter.serial == "M-1"
    assert (meter.accuracy_class, meter.flow_sensor_side, meter.kind) == (
        AccuracyClass.CLASS_2,
        FlowSensorSide.RETURN,
        MeterKind.HOUSEHOLD,
    )
    assert (commissioned.accuracy_class, commissioned.flow_sensor_side) == ("2", "return")
    assert commissioned.kind == "household"
    assert (commissioned.actor, commissioned.reason) == ("fitter-ma", "new meter")
    assert commissioned.correlation_id == correlation
    assert meter.permanent_flow_m3_h == D("2.5")
    assert (meter.window, meter.readings_count, meter.verified_since, meter.household_id) == ([], 0, None, None)


@pytest.mark.parametrize("serial", ["", "  ", "S" * 65])
def test_a_serial_must_have_one_to_64_characters(serial: str) -> None:
    with pytest.raises(InvalidInputError) as raised:
        commission(serial=serial)
    assert raised.value.params["field"] == "serial"


def test_the_commissioning_time_must_carry_a_time_zone() -> None:
    with pytest.raises(InvalidInputError, match="time zone"):
        commission(commissioned_at=datetime(2025, 10, 1))


@pytest.mark.parametrize("flow", [D(0), D("-2.5")])
def test_the_permanent_flow_rate_must_be_positive(flow: Decimal) -> None:
    with pytest.raises(InvalidInputError) as raised:
        commission(permanent_flow_m3_h=flow)
    assert raised.value.params["field"] == "permanent_flow_m3_h"


@pytest.mark.parametrize("field", ["energy_register_width_gj", "volume_register_width_m3"])
def test_a_declared_register_width_must_be_positive(field: str) -> None:
    with pytest.raises(InvalidInputError) as raised:
        commission(**{field: D(0)})
    assert raised.value.params["field"] == field


@pytest.mark.parametrize("kind", [MeterKind.BUILDING, MeterKind.SUBSTATION_PRIMARY])
def test_a_building_or_substation_meter_must_name_where_it_sits(kind: MeterKind) -> None:
    with pytest.raises(InvalidInputError, match="community and building"):
        commission(kind=kind, community="碧桂园", building=" ")
    placed = commission(kind=kind, community=" 碧桂园 ", building=" 3 ")
    assert (placed.community, placed.building) == ("碧桂园", "3")


# -- attachment -----------------------------------------------------------------------------


def test_attaching_records_the_household_and_who_did_it() -> None:
    meter, correlation = new_meter(), uuid4()
    meter.attach_to(HOUSEHOLD_A, COMMISSIONED_AT, CommandContext("fitter-ma", "installation", correlation))
    attached = list(meter.collect_events())[-1]
    assert isinstance(attached, Meter.AttachedToHousehold)
    assert (attached.household_id, attached.attached_at, attached.actor, attached.reason, attached.correlation_id) == (
        HOUSEHOLD_A,
        COMMISSIONED_AT,
        "fitter-ma",
        "installation",
        correlation,
    )
    assert meter.household_id == HOUSEHOLD_A
    assert meter.attachments == [Attachment(HOUSEHOLD_A, COMMISSIONED_AT)]


def test_a_meter_serves_one_household_at_a_time() -> None:
    meter = new_meter()
    meter.attach_to(HOUSEHOLD_A, COMMISSIONED_AT, context())
    with pytest.raises(ConflictError, match="already attached"):
        meter.attach_to(HOUSEHOLD_B, hours_after(COMMISSIONED_AT, 1), context())


@pytest.mark.parametrize("kind", [MeterKind.BUILDING, MeterKind.SUBSTATION_PRIMARY])
def test_only_a_household_meter_can_be_attached(kind: MeterKind) -> None:
    meter = new_meter(kind=kind, community="碧桂园", building="3")
    with pytest.raises(ConflictError, match="only a household meter"):
        meter.attach_to(HOUSEHOLD_A, COMMISSIONED_AT, context())


def test_attaching_needs_a_time_zone() -> None:
    with pytest.raises(InvalidInputError, match="time zone"):
        new_meter().attach_to(HOUSEHOLD_A, datetime(2025, 10, 1), context())


def test_detaching_closes_the_attachment_and_names_the_household() -> None:
    meter = new_meter()
    meter.attach_to(HOUSEHOLD_A, COMMISSIONED_AT, context())
    detached_at = hours_after(COMMISSIONED_AT, 100)
    assert meter.detach(detached_at, context(reason="moved out")) == HOUSEHOLD_A
    detached = list(meter.collect_events())[-1]
    assert isinstance(detached, Meter.DetachedFromHousehold)
    assert (detached.household_id, detached.detached_at, detached.reason) == (HOUSEHOLD_A, detached_at, "moved out")
    assert meter.household_id is None
    assert meter.attachments == [Attachment(HOUSEHOLD_A, COMMISSIONED_AT, detached_at)]


def test_detaching_a_meter_that_serves_nobody_is_a_conflict() -> None:
    with pytest.raises(ConflictError, match="not attached"):
        new_meter().detach(COMMISSIONED_AT, context())


def test_a_meter_cannot_be_detached_before_it_was_attached() -> None:
    meter = new_meter()
    meter.attach_to(HOUSEHOLD_A, hours_after(COMMISSIONED_AT, 10), context())
    with pytest.raises(InvalidInputError, match="before it was attached"):
        meter.detach(hours_after(COMMISSIONED_AT, 9), context())


def test_detaching_needs_a_time_zone() -> None:
    # A naive time cannot be compared with the attachment's aware one: refused as input, not a TypeError.
    meter = new_meter()
    meter.attach_to(HOUSEHOLD_A, COMMISSIONED_AT, context())
    with pytest.raises(InvalidInputError, match="time zone"):
        meter.detach(datetime(2025, 10, 2), context())


def test_a_meter_cannot_be_attached_again_before_it_was_last_detached() -> None:
    meter = new_meter()
    meter.attach_to(HOUSEHOLD_A, COMMISSIONED_AT, context())
    meter.detach(hours_after(COMMISSIONED_AT, 10), context())
    with pytest.raises(InvalidInputError, match="before it was last detached"):
        meter.attach_to(HOUSEHOLD_B, hours_after(COMMISSIONED_AT, 9), context())


def test_the_household_at_a_moment_follows_the_attachment_history() -> None:
    meter = new_meter()
    meter.attach_to(HOUSEHOLD_A, hours_after(COMMISSIONED_AT, 10), context())
    meter.detach(hours_after(COMMISSIONED_AT, 20), context())
    meter.attach_to(HOUSEHOLD_B, hours_after(COMMISSIONED_AT, 30), context())
    assert meter.household_at(hours_after(COMMISSIONED_AT, 9)) is None  # before the first attachment
    assert meter.household_at(hours_after(COMMISSIONED_AT, 10)) == HOUSEHOLD_A  # attachment starts inclusive
    assert meter.household_at(hours_after(COMMISSIONED_AT, 19.5)) == HOUSEHOLD_A
    assert meter.household_at(hours_after(COMMISSIONED_AT, 20)) is None  # detachment ends exclusive
    assert meter.household_at(hours_after(COMMISSIONED_AT, 30)) == HOUSEHOLD_B
    assert meter.household_at(hours_after(COMMISSIONED_AT, 10_000)) == HOUSEHOLD_B
    assert meter.household_id == HOUSEHOLD_B
