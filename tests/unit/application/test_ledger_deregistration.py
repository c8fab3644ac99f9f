"""The deregistration use case (销户/拆网): who may, a reason, today's business day, nothing half saved."""

from datetime import UTC, date, datetime

import pytest

from application.authorization import Principal, Role
from domain import ids
from domain.errors import ConflictError, InvalidInputError, PermissionDeniedError
from domain.household import Household
from tests.strategies import (
    COMMISSIONED_AT,
    commission_meter,
    memory_ledger,
    register_household,
    stored_events,
)

CLERK = Principal("clerk-wang", Role.CLERK)
# 17:00 UTC on 14 March is 01:00 on 15 March in Asia/Shanghai: the business day is the 15th.
EVENING_OF_THE_14TH_UTC = datetime(2026, 3, 14, 17, 0, tzinfo=UTC)


def test_a_clerk_deregisters_a_household_with_who_and_why() -> None:
    ledger = memory_ledger(EVENING_OF_THE_14TH_UTC)
    register_household(ledger, "WZ-0001")
    ledger.deregister_household(CLERK, "WZ-0001", date(2026, 4, 1), "  拆网: building demolished ")
    assert ledger.household("WZ-0001").deregistered_on == date(2026, 4, 1)
    deregistered = stored_events(ledger, ids.household_id("WZ-0001"))[-1]
    assert isinstance(deregistered, Household.Deregistered)
    assert (deregistered.actor, deregistered.reason) == ("clerk-wang", "拆网: building demolished")


@pytest.mark.parametrize("role", [Role.CLERK, Role.CUSTOMER_SERVICE, Role.ADMIN])
def test_roles_that_manage_households_may_deregister(role: Role) -> None:
    ledger = memory_ledger(EVENING_OF_THE_14TH_UTC)
    register_household(ledger, "WZ-0001")
    ledger.deregister_household(Principal("someone", role), "WZ-0001", date(2026, 4, 1), "销户")
    assert ledger.household("WZ-0001").is_deregistered


@pytest.mark.parametrize("role", [Role.AUDITOR, Role.REGULATOR, Role.DEVICE, Role.PAYMENT_GATEWAY])
def test_other_roles_may_not_deregister(role: Role) -> None:
    ledger = memory_ledger(EVENING_OF_THE_14TH_UTC)
    register_household(ledger, "WZ-0001")
    with pytest.raises(PermissionDeniedError):
        ledger.deregister_household(Principal("someone", role), "WZ-0001", date(2026, 4, 1), "销户")
    assert not ledger.household("WZ-0001").is_deregistered


@pytest.mark.parametrize("reason", ["", "  "])
def test_a_deregistration_needs_a_reason(reason: str) -> None:
    ledger = memory_ledger(EVENING_OF_THE_14TH_UTC)
    register_household(ledger, "WZ-0001")
    with pytest.raises(InvalidInputError) as raised:
        ledger.deregister_household(CLERK, "WZ-0001", date(2026, 4, 1), reason)
    assert raised.value.message_key == "reason_required"
    assert ledger.household("WZ-0001").version == 1


def test_a_year_ahead_is_counted_from_the_business_day_in_shanghai() -> None:
    # Counted from the UTC date (the 14th) the latest would be 2027-03-15 and 2027-03-16 refused.
    ledger = memory_ledger(EVENING_OF_THE_14TH_UTC)
    register_household(ledger, "WZ-0001")
    register_household(ledger, "WZ-0002")
    ledger.deregister_household(CLERK, "WZ-0001", date(2027, 3, 16), "leaving next winter")
    with pytest.raises(InvalidInputError) as raised:
        ledger.deregister_household(CLERK, "WZ-0002", date(2027, 3, 17), "leaving next winter")
    assert raised.value.params["latest"] == "2027-03-16"


def test_a_meter_cannot_be_attached_after_the_deregistration_and_neither_aggregate_changes() -> None:
    ledger = memory_ledger(EVENING_OF_THE_14TH_UTC)
    register_household(ledger, "WZ-0001")
    commission_meter(ledger, "M-1")
    ledger.deregister_household(CLERK, "WZ-0001", date(2026, 4, 1), "拆网")
    household_version, meter_version = ledger.household("WZ-0001").version, ledger.meter("M-1").version
    with pytest.raises(ConflictError) as raised:
        ledger.attach_meter(CLERK, "WZ-0001", "M-1", COMMISSIONED_AT)
    assert raised.value.message_key == "household_deregistered"
    assert ledger.household("WZ-0001").version == household_version
    assert ledger.meter("M-1").version == meter_version
    assert ledger.meter("M-1").household_id is None
