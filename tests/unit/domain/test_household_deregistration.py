"""销户/拆网: a household leaves the network from a date on, and its supply changes no more."""

from collections.abc import Callable
from datetime import date, timedelta
from decimal import Decimal
from typing import Any
from uuid import uuid4

import pytest
from hypothesis import given
from hypothesis import strategies as st

from domain import ids
from domain.errors import ConflictError, InvalidInputError
from domain.household import Household
from domain.values import Areas, CommandContext
from tests.strategies import COMMISSIONED_AT, context, hours_after, new_household

REGISTERED_ON = date(2025, 10, 1)
TODAY = date(2026, 3, 15)


def deregistered(on: date = date(2026, 4, 1)) -> Household:
    household = new_household(registered_on=REGISTERED_ON)
    household.deregister(on, context(), today=TODAY)
    return household


def test_deregistration_records_the_first_day_not_supplied_and_who_and_why() -> None:
    household = new_household(registered_on=REGISTERED_ON)
    correlation = uuid4()
    household.deregister(
        date(2026, 4, 1), CommandContext("clerk-wang", "拆网: building demolished", correlation), today=TODAY
    )
    event = list(household.collect_events())[-1]
    assert isinstance(event, Household.Deregistered)
    assert (event.effective_on, event.actor, event.reason, event.correlation_id) == (
        date(2026, 4, 1),
        "clerk-wang",
        "拆网: building demolished",
        correlation,
    )
    assert household.deregistered_on == date(2026, 4, 1)
    assert household.is_deregistered


def test_a_new_household_is_supplied() -> None:
    household = new_household()
    assert household.deregistered_on is None and not household.is_deregistered


def test_deregistering_twice_is_a_conflict() -> None:
    household = deregistered(date(2026, 4, 1))
    with pytest.raises(ConflictError) as raised:
        household.deregister(date(2026, 5, 1), context(), today=TODAY)
    assert raised.value.message_key == "already_deregistered"
    assert raised.value.params == {"account_number": "WZ-0001", "deregistered_on": "2026-04-01"}
    assert household.deregistered_on == date(2026, 4, 1)


@pytest.mark.parametrize("effective_on", [REGISTERED_ON, REGISTERED_ON - timedelta(days=1), date(2000, 1, 1)])
def test_a_deregistration_on_or_before_the_registration_is_refused(effective_on: date) -> None:
    household = new_household(registered_on=REGISTERED_ON)
    with pytest.raises(InvalidInputError) as raised:
        household.deregister(effective_on, context(), today=TODAY)
    assert raised.value.message_key == "deregistration_before_registration"
    assert raised.value.params["earliest"] == "2025-10-02"
    assert raised.value.params["registered_on"] == "2025-10-01"
    assert not household.is_deregistered


def test_the_day_after_the_registration_is_the_earliest_deregistration() -> None:
    assert deregistered(REGISTERED_ON + timedelta(days=1)).deregistered_on == date(2025, 10, 2)


def test_a_deregistration_on_or_before_the_last_owner_change_is_refused() -> None:
    household = new_household(registered_on=REGISTERED_ON)
    household.change_owner(date(2026, 1, 10), context())
    with pytest.raises(InvalidInputError) as raised:
        household.deregister(date(2026, 1, 10), context(), today=TODAY)
    assert (raised.value.message_key, raised.value.params["earliest"]) == (
        "deregistration_before_registration",
        "2026-01-11",
    )
    household.deregister(date(2026, 1, 11), context(), today=TODAY)
    assert household.deregistered_on == date(2026, 1, 11)


def test_a_deregistration_before_the_last_suspension_change_is_refused() -> None:
    household = new_household(registered_on=REGISTERED_ON)
    household.suspend_heating(date(2025, 12, 1), context())
    with pytest.raises(InvalidInputError) as raised:
        household.deregister(date(2025, 11, 30), context(), today=TODAY)
    assert raised.value.params["earliest"] == "2025-12-01"
    # A suspended flat may leave the network; its suspension simply ends with the supply.
    household.deregister(date(2025, 12, 1), context(), today=TODAY)
    assert household.deregistered_on == date(2025, 12, 1)


def test_a_deregistration_a_year_and_a_day_ahead_is_taken_one_more_day_is_refused() -> None:
    latest = TODAY + timedelta(days=366)
    assert deregistered(latest).deregistered_on == date(2027, 3, 16)
    household = new_household(registered_on=REGISTERED_ON)
    with pytest.raises(InvalidInputError) as raised:
        household.deregister(latest + timedelta(days=1), context(), today=TODAY)
    assert raised.value.message_key == "deregistration_too_far_ahead"
    assert raised.value.params == {"field": "effective_on", "value": "2027-03-17", "latest": "2027-03-16"}


@pytest.mark.parametrize("effective_on", [date(9999, 1, 1), date(9999, 12, 31)])
@pytest.mark.parametrize("today", [date(9998, 12, 31), date(9999, 12, 31)])
def test_a_deregistration_in_year_9999_is_refused_whatever_today_is(effective_on: date, today: date) -> None:
    household = new_household(registered_on=REGISTERED_ON)
    with pytest.raises(InvalidInputError) as raised:
        household.deregister(effective_on, context(), today=today)
    assert raised.value.message_key == "deregistration_too_far_ahead"
    assert raised.value.params["latest"] == "9998-12-31"


# -- after the deregistration ---------------------------------------------------------------

SUPPLY_CHANGES: dict[str, Callable[[Household], Any]] = {
    "suspend": lambda household: household.suspend_heating(date(2026, 4, 2), context()),
    "change owner": lambda household: household.change_owner(date(2026, 4, 2), context()),
    "attach meter": lambda household: household.attach_meter(ids.meter_id("M-9"), "M-9", COMMISSIONED_AT, context()),
    "correct area from the deregistration": lambda household: household.correct_area(
        Areas(Decimal("70.00"), Decimal("70.00")), date(2026, 4, 1), context()
    ),
}


@pytest.mark.parametrize("change", SUPPLY_CHANGES.values(), ids=SUPPLY_CHANGES.keys())
def test_changes_of_the_supply_after_the_deregistration_are_refused(change: Callable[[Household], Any]) -> None:
    household = deregistered(date(2026, 4, 1))
    version = household.version
    with pytest.raises(ConflictError) as raised:
        change(household)
    assert raised.value.message_key == "household_deregistered"
    assert raised.value.params == {"account_number": "WZ-0001", "deregistered_on": "2026-04-01"}
    assert household.version == version


def test_resuming_a_household_suspended_when_it_left_is_refused() -> None:
    household = new_household(registered_on=REGISTERED_ON)
    household.suspend_heating(date(2026, 1, 1), context())
    household.deregister(date(2026, 2, 1), context(), today=TODAY)
    with pytest.raises(ConflictError, match="deregistered"):
        household.resume_heating(date(2026, 3, 1), context())


def test_an_area_correction_for_days_before_the_deregistration_is_taken() -> None:
    household = deregistered(date(2026, 4, 1))
    household.correct_area(Areas(Decimal("70.00"), Decimal("70.00")), date(2026, 3, 31), context())
    assert household.areas == Areas(Decimal("70.00"), Decimal("70.00"))


def test_meters_may_still_be_detached_after_the_deregistration() -> None:
    household = new_household(registered_on=REGISTERED_ON)
    household.attach_meter(ids.meter_id("M-1"), "M-1", COMMISSIONED_AT, context())
    household.deregister(date(2026, 4, 1), context(), today=TODAY)
    household.detach_meter(ids.meter_id("M-1"), hours_after(COMMISSIONED_AT, 24 * 190), context(reason="拆表"))
    assert household.meter_serials == {}


@given(
    registered_on=st.dates(min_value=date(2000, 1, 1), max_value=date(2030, 12, 31)),
    offset_days=st.integers(min_value=-400, max_value=800),
    today_offset_days=st.integers(min_value=-30, max_value=400),
)
def test_a_deregistration_is_taken_exactly_between_the_day_after_registration_and_a_year_ahead(
    registered_on: date, offset_days: int, today_offset_days: int
) -> None:
    """Over any dates: taken iff registered_on < effective_on <= today + 366 days."""
    household = new_household(registered_on=registered_on)
    effective_on = registered_on + timedelta(days=offset_days)
    today = registered_on + timedelta(days=today_offset_days)
    should_take = registered_on < effective_on <= today + timedelta(days=366)
    try:
        household.deregister(effective_on, context(), today=today)
    except InvalidInputError:
        assert not should_take
        assert household.deregistered_on is None
    else:
        assert should_take
        assert household.deregistered_on == effective_on
