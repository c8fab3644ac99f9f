"""Meter use cases of the ledger: commissioning, and attaching and detaching with both aggregates saved."""

from datetime import datetime
from decimal import Decimal
from uuid import uuid4

import pytest

from application.authorization import Principal, Role
from domain import ids
from domain.errors import ConflictError, InvalidInputError, NotFoundError
from domain.household import Household
from domain.meter import Meter
from domain.values import AccuracyClass, FlowSensorSide, MeterKind
from tests.strategies import (
    COMMISSIONED_AT,
    SEASON_START,
    commission_meter,
    hours_after,
    last_notification_id,
    memory_ledger,
    register_household,
    stored_events,
)

D = Decimal
FITTER = Principal("fitter-ma", Role.CLERK)


def test_a_commissioned_meter_can_be_loaded_by_its_serial() -> None:
    ledger = memory_ledger()
    meter_id = commission_meter(ledger, "M-1")
    meter = ledger.meter("M-1")
    assert meter.id == meter_id == ids.meter_id("M-1")
    assert (meter.permanent_flow_m3_h, meter.kind, meter.flow_sensor_side) == (
        D("2.5"),
        MeterKind.HOUSEHOLD,
        FlowSensorSide.RETURN,
    )


def test_a_declared_permanent_flow_rate_is_kept() -> None:
    ledger = memory_ledger()
    ledger.commission_meter(
        FITTER,
        "M-1",
        "Kamstrup",
        "Multical 603",
        AccuracyClass.CLASS_2,
        FlowSensorSide.RETURN,
        MeterKind.HOUSEHOLD,
        COMMISSIONED_AT,
        permanent_flow_m3_h=D("1.5"),
    )
    assert ledger.meter("M-1").permanent_flow_m3_h == D("1.5")


def test_commissioning_a_serial_twice_is_a_conflict() -> None:
    ledger = memory_ledger()
    commission_meter(ledger, "M-1")
    with pytest.raises(ConflictError) as raised:
        commission_meter(ledger, "M-1", kind=MeterKind.BUILDING, community="碧桂园", building="1")
    assert raised.value.params == {"kind": "meter", "key": "M-1"}
    assert ledger.meter("M-1").kind is MeterKind.HOUSEHOLD


def test_an_unknown_meter_is_not_found() -> None:
    with pytest.raises(NotFoundError) as raised:
        memory_ledger().meter("M-404")
    assert raised.value.params == {"kind": "meter", "key": "M-404"}


def test_attaching_saves_the_meter_and_the_household_together() -> None:
    ledger = memory_ledger()
    register_household(ledger, "WZ-0001")
    commission_meter(ledger, "M-1")
    before = last_notification_id(ledger)
    correlation = uuid4()
    ledger.attach_meter(FITTER, "WZ-0001", "M-1", COMMISSIONED_AT, correlation_id=correlation)
    household_event = stored_events(ledger, ids.household_id("WZ-0001"))[-1]
    meter_event = stored_events(ledger, ids.meter_id("M-1"))[-1]
    assert isinstance(household_event, Household.MeterAttached)
    assert isinstance(meter_event, Meter.AttachedToHousehold)
    assert household_event.correlation_id == meter_event.correlation_id == correlation
    assert (meter_event.actor, meter_event.reason) == ("fitter-ma", "installation")
    # Both events in one save: two consecutive notifications.
    notifications = ledger.recorder.select_notifications(start=before, limit=10, inclusive_of_start=False)
    originators = [notification.originator_id for notification in notifications]
    assert originators == [ids.household_id("WZ-0001"), ids.meter_id("M-1")]
    assert ledger.meter("M-1").household_id == ids.household_id("WZ-0001")
    assert ledger.household("WZ-0001").meter_serials == {str(ids.meter_id("M-1")): "M-1"}


def test_attaching_a_meter_already_in_use_saves_neither_aggregate() -> None:
    ledger = memory_ledger()
    register_household(ledger, "WZ-0001")
    register_household(ledger, "WZ-0002")
    commission_meter(ledger, "M-1")
    ledger.attach_meter(FITTER, "WZ-0001", "M-1", COMMISSIONED_AT)
    before = last_notification_id(ledger)
    with pytest.raises(ConflictError):
        ledger.attach_meter(FITTER, "WZ-0002", "M-1", SEASON_START)
    assert last_notification_id(ledger) == before
    assert ledger.household("WZ-0002").meter_serials == {}


def test_a_building_meter_cannot_be_attached_to_a_household() -> None:
    ledger = memory_ledger()
    register_household(ledger, "WZ-0001")
    commission_meter(ledger, "B-1", kind=MeterKind.BUILDING, community="碧桂园", building="1")
    with pytest.raises(ConflictError, match="only a household meter"):
        ledger.attach_meter(FITTER, "WZ-0001", "B-1", COMMISSIONED_AT)


def test_attaching_to_an_unknown_household_or_meter_is_not_found() -> None:
    ledger = memory_ledger()
    register_household(ledger, "WZ-0001")
    commission_meter(ledger, "M-1")
    with pytest.raises(NotFoundError):
        ledger.attach_meter(FITTER, "WZ-404", "M-1", COMMISSIONED_AT)
    with pytest.raises(NotFoundError):
        ledger.attach_meter(FITTER, "WZ-0001", "M-404", COMMISSIONED_AT)


def test_detaching_saves_both_aggregates_with_the_reason() -> None:
    ledger = memory_ledger()
    register_household(ledger, "WZ-0001")
    commission_meter(ledger, "M-1")
    ledger.attach_meter(FITTER, "WZ-0001", "M-1", COMMISSIONED_AT)
    detached_at = hours_after(SEASON_START, 3)
    ledger.detach_meter(FITTER, "M-1", detached_at, "meter replaced after clogging")
    household_event = stored_events(ledger, ids.household_id("WZ-0001"))[-1]
    meter_event = stored_events(ledger, ids.meter_id("M-1"))[-1]
    assert isinstance(household_event, Household.MeterDetached)
    assert isinstance(meter_event, Meter.DetachedFromHousehold)
    assert household_event.reason == meter_event.reason == "meter replaced after clogging"
    assert (household_event.meter_serial, meter_event.detached_at) == ("M-1", detached_at)
    assert ledger.meter("M-1").household_id is None
    assert ledger.household("WZ-0001").meter_serials == {}


@pytest.mark.parametrize("reason", ["", " "])
def test_detaching_needs_a_reason(reason: str) -> None:
    ledger = memory_ledger()
    register_household(ledger, "WZ-0001")
    commission_meter(ledger, "M-1")
    ledger.attach_meter(FITTER, "WZ-0001", "M-1", COMMISSIONED_AT)
    with pytest.raises(InvalidInputError) as raised:
        ledger.detach_meter(FITTER, "M-1", SEASON_START, reason)
    assert raised.value.params == {"field": "reason"}
    assert ledger.meter("M-1").household_id == ids.household_id("WZ-0001")


def test_detaching_with_a_naive_time_is_invalid_input() -> None:
    ledger = memory_ledger()
    register_household(ledger, "WZ-0001")
    commission_meter(ledger, "M-1")
    ledger.attach_meter(FITTER, "WZ-0001", "M-1", COMMISSIONED_AT)
    with pytest.raises(InvalidInputError, match="time zone"):
        ledger.detach_meter(FITTER, "M-1", datetime(2025, 11, 1), "moved out")
