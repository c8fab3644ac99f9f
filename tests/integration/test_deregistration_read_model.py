"""销户/拆网 in the read models, on each backend: the households table and the billing facts carry
the deregistration day (None while supplied), and a rebuilt projection equals the live one."""

from __future__ import annotations

from datetime import date

from application.authorization import Principal, Role
from infrastructure.container import Container
from projections.billing_inputs import SqlBillingInputs
from projections.queries import LedgerQueries
from tests.strategies import (
    COMMISSIONED_AT,
    household_with_meter,
    projection_rows,
    register_household,
)

CLERK = Principal("clerk-li", Role.CLERK)
REGISTERED_ON = date(2025, 10, 1)  # register_household's default


def two_households_one_left(container: Container) -> None:
    """WZ-0001 left the network from 2026-04-01 and its meter was then removed; WZ-0002 stays."""
    household_with_meter(container.ledger, "WZ-0001", "M-1")
    register_household(container.ledger, "WZ-0002", registered_on=date(2025, 12, 15))
    container.ledger.suspend_heating(CLERK, "WZ-0001", date(2026, 1, 10), "away")
    container.ledger.deregister_household(CLERK, "WZ-0001", date(2026, 4, 1), "拆网: building demolished")
    container.ledger.detach_meter(CLERK, "M-1", COMMISSIONED_AT.replace(year=2026, month=4), "拆表 at 拆网")


def test_the_household_record_shows_the_deregistration_day(container: Container) -> None:
    two_households_one_left(container)
    container.catch_up()
    queries = LedgerQueries(container.engine)
    left, staying = queries.household("WZ-0001"), queries.household("WZ-0002")
    assert left is not None and staying is not None
    assert left.deregistered_on == date(2026, 4, 1)
    assert left.suspended_since == date(2026, 1, 10)  # the suspension is left as it was
    assert staying.deregistered_on is None
    assert [record.deregistered_on for record in queries.households().items] == [date(2026, 4, 1), None]


def test_the_billing_facts_carry_registration_and_deregistration(container: Container) -> None:
    two_households_one_left(container)
    container.catch_up()
    facts = {fact.account_number: fact for fact in SqlBillingInputs(container.engine).households(None, 10)}
    assert (facts["WZ-0001"].registered_on, facts["WZ-0001"].deregistered_on) == (REGISTERED_ON, date(2026, 4, 1))
    assert (facts["WZ-0002"].registered_on, facts["WZ-0002"].deregistered_on) == (date(2025, 12, 15), None)


def test_a_rebuilt_projection_equals_the_live_one_after_a_deregistration(container: Container) -> None:
    two_households_one_left(container)
    container.catch_up()
    live = projection_rows(container.engine)
    assert container.runner.rebuild() == container.runner.max_notification_id()
    assert projection_rows(container.engine) == live
    households_rows = live["households"]
    assert any(date(2026, 4, 1) in row for row in households_rows)
