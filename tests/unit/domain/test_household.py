"""The Household aggregate: registration rules, area corrections, 报停 (suspension), meters."""

from dataclasses import replace
from datetime import date
from decimal import Decimal
from typing import Any
from uuid import UUID, uuid4

import pytest

from domain import ids
from domain.errors import ConflictError, InvalidInputError
from domain.household import Household
from domain.values import (
    Address,
    Areas,
    CommandContext,
    CustomerClass,
    HorizontalPosition,
    Position,
    VerticalPosition,
)
from tests.strategies import COMMISSIONED_AT, context, hours_after, new_household

D = Decimal
ADDRESS = Address("碧桂园", "3", "2", 6, "601")
POSITION = Position(VerticalPosition.TOP, HorizontalPosition.EAST_END)


def register(**overrides: Any) -> Household:
    arguments: dict[str, Any] = {
        "account_number": "WZ-0001",
        "address": ADDRESS,
        "areas": Areas(D("90.00"), D("85.50")),
        "customer_class": CustomerClass.RESIDENTIAL,
        "position": POSITION,
        "registered_on": date(2025, 10, 1),
        "context": context(),
    }
    return Household.register(**(arguments | overrides))


def events_of(household: Household) -> list[Any]:
    return list(household.collect_events())


# -- registration ---------------------------------------------------------------------------


def test_registration_records_the_flat_its_areas_and_who_did_it() -> None:
    correlation = uuid4()
    household = register(context=CommandContext("clerk-wang", "new account", correlation))
    (registered,) = events_of(household)
    assert isinstance(registered, Household.Registered)
    assert household.id == ids.household_id("WZ-0001")
    assert household.address == ADDRESS
    assert household.areas == Areas(D("90.00"), D("85.50"))
    assert household.position == POSITION
    assert (registered.actor, registered.reason) == ("clerk-wang", "new account")
    assert registered.correlation_id == correlation
    assert (registered.customer_class, registered.vertical_position) == ("residential", "top")


def test_registration_trims_the_account_number_and_the_address() -> None:
    household = register(account_number="  WZ-0001 ", address=Address(" 碧桂园 ", " 3", "2 ", 6, " 601 "))
    assert household.account_number == "WZ-0001"
    assert household.address == Address("碧桂园", "3", "2", 6, "601")


@pytest.mark.parametrize("account_number", ["", "   ", "X" * 65])
def test_an_account_number_must_have_one_to_64_characters(account_number: str) -> None:
    with pytest.raises(InvalidInputError) as raised:
        register(account_number=account_number)
    assert raised.value.params["field"] == "account_number"


def test_an_account_number_of_64_characters_is_taken() -> None:
    assert register(account_number="X" * 64).account_number == "X" * 64


@pytest.mark.parametrize("missing", ["community", "building", "flat"])
def test_community_building_and_flat_are_required(missing: str) -> None:
    with pytest.raises(InvalidInputError) as raised:
        register(address=replace(ADDRESS, **{missing: "  "}))
    assert raised.value.params["field"] == missing


@pytest.mark.parametrize(("field", "maximum"), [("community", 128), ("building", 64), ("entrance", 64), ("flat", 64)])
def test_address_parts_longer_than_their_columns_are_refused(field: str, maximum: int) -> None:
    assert register(address=replace(ADDRESS, **{field: "楼" * maximum})).address.community
    with pytest.raises(InvalidInputError) as raised:
        register(address=replace(ADDRESS, **{field: "楼" * (maximum + 1)}))
    assert (raised.value.params["field"], raised.value.params["maximum"]) == (field, maximum)


@pytest.mark.parametrize("floor", [-11, 201])
def test_a_floor_outside_minus_10_to_200_is_refused(floor: int) -> None:
    with pytest.raises(InvalidInputError) as raised:
        register(address=replace(ADDRESS, floor=floor))
    assert raised.value.params == {"field": "floor", "value": str(floor)}


@pytest.mark.parametrize("floor", [-10, 200])
def test_the_floor_bounds_themselves_are_taken(floor: int) -> None:
    assert register(address=replace(ADDRESS, floor=floor)).address.floor == floor


@pytest.mark.parametrize(
    ("connected", "heated", "field"),
    [
        ("0", "0", "connected_area_m2"),
        ("-90.00", "80.00", "connected_area_m2"),
        ("90.00", "0.00", "heated_area_m2"),
        ("90.00", "-1", "heated_area_m2"),
        ("100000.01", "80", "connected_area_m2"),
        ("NaN", "80", "connected_area_m2"),
        ("Infinity", "80", "connected_area_m2"),
    ],
)
def test_areas_must_be_positive_finite_and_at_most_100000(connected: str, heated: str, field: str) -> None:
    with pytest.raises(InvalidInputError, match="must be positive") as raised:
        register(areas=Areas(D(connected), D(heated)))
    assert raised.value.params["field"] == field


@pytest.mark.parametrize(
    ("connected", "heated", "field"), [("90.001", "80", "connected_area_m2"), ("90", "80.005", "heated_area_m2")]
)
def test_areas_have_at_most_two_decimals(connected: str, heated: str, field: str) -> None:
    with pytest.raises(InvalidInputError, match="more than two decimals") as raised:
        register(areas=Areas(D(connected), D(heated)))
    assert raised.value.params["field"] == field


def test_the_heated_area_cannot_exceed_the_connected_area() -> None:
    with pytest.raises(InvalidInputError, match="cannot exceed") as raised:
        register(areas=Areas(D("80.00"), D("80.01")))
    assert raised.value.params["field"] == "heated_area_m2"


def test_the_heated_area_may_equal_the_connected_area() -> None:
    assert register(areas=Areas(D("80.00"), D("80.00"))).areas.heated_area_m2 == D("80.00")


# -- area corrections ----------------------------------------------------------------------


def test_an_area_correction_records_the_new_areas_and_who_and_why() -> None:
    household = new_household()
    correlation = uuid4()
    areas = Areas(D("92.10"), D("88.00"))
    household.correct_area(areas, date(2025, 12, 1), CommandContext("cs-zhao", "survey", correlation))
    corrected = events_of(household)[-1]
    assert isinstance(corrected, Household.AreaCorrected)
    assert household.areas == Areas(D("92.10"), D("88.00"))
    assert (corrected.effective_on, corrected.actor, corrected.reason, corrected.correlation_id) == (
        date(2025, 12, 1),
        "cs-zhao",
        "survey",
        correlation,
    )


def test_correcting_to_the_same_areas_is_a_conflict() -> None:
    # 90.0 equals the registered 90.00 and 85.5 equals 85.50: nothing would change.
    household = new_household(connected_area_m2="90.00", heated_area_m2="85.50")
    with pytest.raises(ConflictError, match="already has these areas"):
        household.correct_area(Areas(D("90.0"), D("85.5")), date(2025, 12, 1), context())
    assert len(events_of(household)) == 1


def test_an_area_correction_is_validated_like_a_registration() -> None:
    household = new_household()
    with pytest.raises(InvalidInputError, match="cannot exceed"):
        household.correct_area(Areas(D("80.00"), D("90.00")), date(2025, 12, 1), context())


# -- suspension (报停) ---------------------------------------------------------------------


def test_suspending_and_resuming_keep_the_periods() -> None:
    household = new_household()
    household.suspend_heating(date(2025, 11, 10), context())
    assert household.is_suspended and household.suspended_since == date(2025, 11, 10)
    household.resume_heating(date(2026, 1, 5), context())
    assert not household.is_suspended
    assert household.suspended_since is None
    assert household.suspensions == [(date(2025, 11, 10), date(2026, 1, 5))]


def test_suspend_and_resume_events_carry_actor_reason_and_correlation() -> None:
    household = new_household()
    suspend_id, resume_id = uuid4(), uuid4()
    household.suspend_heating(date(2025, 11, 10), CommandContext("cs-zhao", "away for the winter", suspend_id))
    household.resume_heating(date(2026, 1, 5), CommandContext("cs-zhao", "back home", resume_id))
    suspended, resumed = events_of(household)[1:]
    assert isinstance(suspended, Household.HeatingSuspended)
    assert isinstance(resumed, Household.HeatingResumed)
    assert (suspended.effective_on, suspended.actor, suspended.reason, suspended.correlation_id) == (
        date(2025, 11, 10),
        "cs-zhao",
        "away for the winter",
        suspend_id,
    )
    assert (resumed.effective_on, resumed.reason, resumed.correlation_id) == (date(2026, 1, 5), "back home", resume_id)


def test_suspending_twice_is_a_conflict() -> None:
    household = new_household()
    household.suspend_heating(date(2025, 11, 10), context())
    with pytest.raises(ConflictError, match="already suspended"):
        household.suspend_heating(date(2025, 11, 20), context())


def test_resuming_a_household_that_is_not_suspended_is_a_conflict() -> None:
    household = new_household()
    with pytest.raises(ConflictError, match="not suspended"):
        household.resume_heating(date(2025, 11, 20), context())


def test_resuming_before_the_suspension_began_is_refused() -> None:
    household = new_household()
    household.suspend_heating(date(2025, 11, 10), context())
    with pytest.raises(InvalidInputError, match="before the last suspension change") as raised:
        household.resume_heating(date(2025, 11, 9), context())
    assert raised.value.params == {"field": "effective_on", "value": "2025-11-09"}
    assert household.is_suspended


def test_suspending_again_before_the_last_resumption_is_refused() -> None:
    household = new_household()
    household.suspend_heating(date(2025, 11, 10), context())
    household.resume_heating(date(2025, 12, 1), context())
    with pytest.raises(InvalidInputError, match="before the last suspension change"):
        household.suspend_heating(date(2025, 11, 30), context())


def test_suspending_again_on_the_day_of_the_resumption_is_taken() -> None:
    household = new_household()
    household.suspend_heating(date(2025, 11, 10), context())
    household.resume_heating(date(2025, 12, 1), context())
    household.suspend_heating(date(2025, 12, 1), context())
    assert household.suspensions == [(date(2025, 11, 10), date(2025, 12, 1)), (date(2025, 12, 1), None)]


# -- meters ---------------------------------------------------------------------------------


def test_attaching_a_meter_records_its_serial_and_who_did_it() -> None:
    household = new_household()
    meter_id, correlation = ids.meter_id("M-1"), uuid4()
    household.attach_meter(meter_id, "M-1", COMMISSIONED_AT, CommandContext("fitter-ma", "installation", correlation))
    attached = events_of(household)[-1]
    assert isinstance(attached, Household.MeterAttached)
    assert household.meter_serials == {str(meter_id): "M-1"}
    assert (attached.meter_id, attached.attached_at, attached.actor, attached.reason, attached.correlation_id) == (
        meter_id,
        COMMISSIONED_AT,
        "fitter-ma",
        "installation",
        correlation,
    )


def test_attaching_the_same_meter_twice_is_a_conflict() -> None:
    household = new_household()
    household.attach_meter(ids.meter_id("M-1"), "M-1", COMMISSIONED_AT, context())
    with pytest.raises(ConflictError, match="already attached"):
        household.attach_meter(ids.meter_id("M-1"), "M-1", hours_after(COMMISSIONED_AT, 1), context())


def test_a_household_may_have_several_meters() -> None:
    household = new_household()
    household.attach_meter(ids.meter_id("M-1"), "M-1", COMMISSIONED_AT, context())
    household.attach_meter(ids.meter_id("M-2"), "M-2", COMMISSIONED_AT, context())
    assert sorted(household.meter_serials.values()) == ["M-1", "M-2"]


def test_detaching_a_meter_names_its_serial_and_forgets_it() -> None:
    household = new_household()
    meter_id: UUID = ids.meter_id("M-1")
    household.attach_meter(meter_id, "M-1", COMMISSIONED_AT, context())
    correlation = uuid4()
    replaced = context(reason="meter replaced", correlation_id=correlation)
    household.detach_meter(meter_id, hours_after(COMMISSIONED_AT, 5), replaced)
    detached = events_of(household)[-1]
    assert isinstance(detached, Household.MeterDetached)
    assert (detached.meter_serial, detached.detached_at, detached.reason) == (
        "M-1",
        hours_after(COMMISSIONED_AT, 5),
        "meter replaced",
    )
    assert (detached.actor, detached.correlation_id) == ("clerk-li", correlation)
    assert household.meter_serials == {}


def test_detaching_a_meter_that_is_not_attached_is_a_conflict() -> None:
    household = new_household()
    with pytest.raises(ConflictError, match="not attached"):
        household.detach_meter(ids.meter_id("M-1"), COMMISSIONED_AT, context())


def test_household_and_meter_ids_are_pinned_uuid5_of_their_natural_keys() -> None:
    # Pinned values: changing the namespace or the key format would orphan every stored aggregate.
    assert ids.household_id("WZ-0001") == UUID("61b0f975-3e79-5106-b661-dbebabc46c03")
    assert ids.meter_id("M-1") == UUID("fafe6584-0113-5d76-8cef-03de7ea429b3")
    assert ids.household_id("M-1") != ids.meter_id("M-1")
