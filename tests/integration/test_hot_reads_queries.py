"""The API's household and consumption reads in one statement each (projections/queries.py, issue
17) answer exactly what the household's look-up and the statement after it answer, on each backend:
for every household of the consumption read models' network, one nobody has, and any range of
days (empty ones, reversed ones, days with no volume register, days no meter read)."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

from hypothesis import given
from hypothesis import strategies as st

from projections.queries import Granularity, LedgerQueries
from tests.integration.test_consumption_read_models import network

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


def test_a_metered_household_has_days_and_a_total(network: LedgerQueries) -> None:
    """The properties above are not vacuous: the network's first household was metered in November."""
    found = network.household_with_total("WZ-1", date(2025, 11, 1), date(2025, 11, 30))
    assert found is not None and found[1].energy_gj == found[1].volume_m3 == Decimal("0.8")
    days = network.household_by_day_of_account("WZ-1", date(2025, 11, 1), date(2025, 11, 30))
    assert days is not None and [period.first_day for period in days[1]] == [date(2025, 11, 1), date(2025, 11, 2)]
