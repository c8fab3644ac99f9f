"""Household use cases of the ledger: registration, corrections with reasons, suspension."""

from datetime import date
from decimal import Decimal
from uuid import uuid4

import pytest

from application.authorization import Principal, Role
from domain import ids
from domain.errors import ConflictError, InvalidInputError, NotFoundError
from domain.household import Household
from domain.values import Address, Areas, CustomerClass, HorizontalPosition, Position, VerticalPosition
from tests.strategies import last_notification_id, memory_ledger, register_household, stored_events

D = Decimal
CLERK = Principal("clerk-wang", Role.CLERK)


def test_a_registered_household_can_be_loaded_by_its_account_number() -> None:
    ledger = memory_ledger()
    household_id = register_household(ledger, "WZ-0001", connected_area_m2="88.20", principal=CLERK)
    household = ledger.household("WZ-0001")
    assert household.id == household_id == ids.household_id("WZ-0001")
    assert household.areas == Areas(D("88.20"), D("88.20"))
    (registered,) = ledger.events.get(household_id)
    assert isinstance(registered, Household.Registered)
    assert (registered.actor, registered.reason) == ("clerk-wang", "registration")


def test_registering_an_account_number_twice_is_a_conflict() -> None:
    ledger = memory_ledger()
    register_household(ledger, "WZ-0001")
    with pytest.raises(ConflictError) as raised:
        register_household(ledger, "WZ-0001", community="阅水秦韵")
    assert raised.value.params == {"kind": "household", "key": "WZ-0001"}
    assert ledger.household("WZ-0001").address.community == "碧桂园"


def test_an_invalid_registration_saves_nothing() -> None:
    ledger = memory_ledger()
    with pytest.raises(InvalidInputError):
        ledger.register_household(
            CLERK,
            "WZ-0001",
            Address("碧桂园", "1", "1", 3, "301"),
            Areas(D(80), D(90)),
            CustomerClass.RESIDENTIAL,
            Position(VerticalPosition.MIDDLE, HorizontalPosition.MIDDLE),
            date(2025, 10, 1),
        )
    assert last_notification_id(ledger) == 0


def test_an_unknown_household_is_not_found() -> None:
    with pytest.raises(NotFoundError) as raised:
        memory_ledger().household("WZ-404")
    assert raised.value.params == {"kind": "household", "key": "WZ-404"}


def test_a_meter_serial_does_not_load_as_a_household() -> None:
    ledger = memory_ledger()
    register_household(ledger, "WZ-0001")
    with pytest.raises(NotFoundError):
        ledger.meter("WZ-0001")


def test_an_area_correction_is_saved_with_its_reason_and_correlation() -> None:
    ledger = memory_ledger()
    register_household(ledger, "WZ-0001")
    correlation = uuid4()
    areas = Areas(D("92.00"), D("90.00"))
    ledger.correct_area(CLERK, "WZ-0001", areas, date(2025, 12, 1), "  survey 2025  ", correlation)
    corrected = stored_events(ledger, ids.household_id("WZ-0001"))[-1]
    assert isinstance(corrected, Household.AreaCorrected)
    assert (corrected.actor, corrected.reason, corrected.correlation_id) == ("clerk-wang", "survey 2025", correlation)
    assert ledger.household("WZ-0001").areas == Areas(D("92.00"), D("90.00"))


def test_commands_without_a_correlation_id_get_a_fresh_one_each() -> None:
    ledger = memory_ledger()
    register_household(ledger, "WZ-0001")
    ledger.suspend_heating(CLERK, "WZ-0001", date(2025, 12, 1), "away")
    ledger.resume_heating(CLERK, "WZ-0001", date(2025, 12, 20), "back")
    registered, suspended, resumed = stored_events(ledger, ids.household_id("WZ-0001"))
    assert len({registered.correlation_id, suspended.correlation_id, resumed.correlation_id}) == 3


@pytest.mark.parametrize("reason", ["", "   "])
@pytest.mark.parametrize("command", ["correct_area", "suspend_heating", "resume_heating"])
def test_a_correction_needs_a_reason(command: str, reason: str) -> None:
    ledger = memory_ledger()
    register_household(ledger, "WZ-0001")
    ledger.suspend_heating(CLERK, "WZ-0001", date(2025, 11, 5), "away")
    version = ledger.household("WZ-0001").version
    arguments: dict[str, object] = {"effective_on": date(2025, 12, 1), "reason": reason}
    if command == "correct_area":
        arguments["areas"] = Areas(D(95), D(90))
    with pytest.raises(InvalidInputError) as raised:
        getattr(ledger, command)(CLERK, "WZ-0001", **arguments)
    assert raised.value.params == {"field": "reason"}
    assert ledger.household("WZ-0001").version == version


def test_suspension_and_resumption_are_saved() -> None:
    ledger = memory_ledger()
    register_household(ledger, "WZ-0001")
    ledger.suspend_heating(CLERK, "WZ-0001", date(2025, 11, 5), "away for the winter")
    assert ledger.household("WZ-0001").suspended_since == date(2025, 11, 5)
    ledger.resume_heating(CLERK, "WZ-0001", date(2026, 1, 10), "back")
    assert ledger.household("WZ-0001").suspensions == [(date(2025, 11, 5), date(2026, 1, 10))]


def test_a_domain_conflict_saves_nothing() -> None:
    ledger = memory_ledger()
    register_household(ledger, "WZ-0001")
    with pytest.raises(ConflictError):
        ledger.resume_heating(CLERK, "WZ-0001", date(2025, 12, 1), "back")
    assert ledger.household("WZ-0001").version == 1


def test_a_command_on_an_unknown_household_is_not_found() -> None:
    with pytest.raises(NotFoundError):
        memory_ledger().suspend_heating(CLERK, "WZ-404", date(2025, 12, 1), "away")
