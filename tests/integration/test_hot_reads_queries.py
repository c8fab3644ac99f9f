"""The API's household and consumption reads in one statement each (projections/queries.py, issue
17) answer exactly what the household's look-up and the statement after it answer, on each backend:
for every household of the consumption read models' network, one nobody has, and any range of
days (empty ones, reversed ones, days with no volume register, days no meter read)."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from application.authorization import SYSTEM
from infrastructure.container import Container
from projections.queries import Granularity, LedgerQueries
from tests.integration.test_consumption_read_models import network
from tests.strategies import COMMISSIONED_AT, commission_meter, household_with_meter, register_household

__all__ = ["network"]  # the fixture, used by name

ACCOUNTS = st.sampled_from(["WZ-1", "WZ-2", "WZ-3", "WZ-4", "WZ-5", "WZ-404", "M-1", ""])
# The network's readings fall on 1–2 November and 30 November–1 December.
DAYS = st.dates(min_value=date(2025, 10, 28), max_value=date(2025, 12, 4))


@given(account_number=ACCOUNTS, first_day=DAYS, length_days=st.integers(min_value=-2, max_value=40))
def test_the_household_with_its_total_is_the_household_and_its_total(
    network: LedgerQueries, account_number: str, first_day: date, length_days: int
) -> None:
    last_day = first_day + timedelta(days=length_days)
    household = network.household(account_number)
    expected = (
        None if household is None else (household, network.household_total(household.household_id, first_day, last_day))
    )
    assert network.household_with_total(account_number, first_day, last_day) == expected


@given(account_number=ACCOUNTS, first_day=DAYS, length_days=st.integers(min_value=-2, max_value=40))
def test_the_households_days_by_account_are_its_days(
    network: LedgerQueries, account_number: str, first_day: date, length_days: int
) -> None:
    last_day = first_day + timedelta(days=length_days)
    household = network.household(account_number)
    expected = (
        None
        if household is None
        else (
            household.household_id,
            network.household_consumption(household.household_id, first_day, last_day, Granularity.DAY),
        )
    )
    assert network.household_by_day_of_account(account_number, first_day, last_day) == expected


@pytest.fixture
def metered_network(network: LedgerQueries, container: Container) -> LedgerQueries:
    """The network, and WZ-6 without a meter and WZ-7 with two (M-7, M-8)."""
    register_household(container.ledger, "WZ-6")
    household_with_meter(container.ledger, "WZ-7", "M-7")
    commission_meter(container.ledger, "M-8")
    container.ledger.attach_meter(SYSTEM, "WZ-7", "M-8", COMMISSIONED_AT)
    container.catch_up()
    return network


@given(
    account_number=st.sampled_from(["WZ-1", "WZ-2", "WZ-5", "WZ-6", "WZ-7", "WZ-404", ""]),
    first_day=DAYS,
    length_days=st.integers(min_value=-2, max_value=40),
)
def test_the_household_with_its_total_and_meters_is_the_household_its_total_and_its_meters(
    metered_network: LedgerQueries, account_number: str, first_day: date, length_days: int
) -> None:
    last_day = first_day + timedelta(days=length_days)
    found = metered_network.household_with_total(account_number, first_day, last_day)
    expected = None if found is None else (*found, metered_network.meters_of_household(found[0].household_id))
    assert metered_network.household_with_total_and_meters(account_number, first_day, last_day) == expected


def test_households_with_no_meter_and_with_two_read_their_meters(metered_network: LedgerQueries) -> None:
    """The property above is not vacuous: WZ-6 has no meter, WZ-7 two."""
    for account_number, serials in (("WZ-6", []), ("WZ-7", ["M-7", "M-8"])):
        found = metered_network.household_with_total_and_meters(account_number, date(2025, 11, 1), date(2025, 11, 30))
        assert found is not None and [meter.serial for meter in found[2]] == serials


def test_a_metered_household_has_days_and_a_total(network: LedgerQueries) -> None:
    """The properties above are not vacuous: the network's first household was metered in November."""
    found = network.household_with_total("WZ-1", date(2025, 11, 1), date(2025, 11, 30))
    assert found is not None and found[1].energy_gj == found[1].volume_m3 == Decimal("0.8")
    days = network.household_by_day_of_account("WZ-1", date(2025, 11, 1), date(2025, 11, 30))
    assert days is not None and [period.first_day for period in days[1]] == [date(2025, 11, 1), date(2025, 11, 2)]
