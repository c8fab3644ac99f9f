"""A billing run reads its households page by page (a keyset read by account number), twice: once
to check everything before booking, once to bill (issue 17: a run holds a page of households'
facts, not a city's). Pages and chunks need not line up, and communities on their own seasons
are chunked apart; a household without a tariff on the last page still stops the run before the
first page is billed."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import select

from application import billing_runs
from application.authorization import SYSTEM
from application.billing_inputs import HouseholdFacts
from application.billing_runs import RunRequest
from domain.billing import BillKind
from domain.errors import InvalidInputError
from domain.values import Address, Areas, CustomerClass, HorizontalPosition, Position, VerticalPosition
from infrastructure.container import Container
from projections.tables import bills
from tests.integration.test_billing_runs import AFTER_SEASON, CLERK, SEASON, publish
from tests.strategies import register_household

OWN_SEASON = "阅水秦韵"  # heats 15 Nov – 15 Mar by its own decree


@pytest.fixture
def city(container: Container, monkeypatch: pytest.MonkeyPatch) -> Container:
    """Seven households, two of them in a community on its own season, read two a page and
    billed three a chunk."""
    monkeypatch.setattr(billing_runs, "PAGE_SIZE", 2)
    monkeypatch.setattr(billing_runs, "CHUNK_SIZE", 3)
    container.ledger.clock = lambda: AFTER_SEASON
    for number in range(7):
        community = OWN_SEASON if number in (2, 5) else "和谐家园"
        register_household(container.ledger, f"P-{number}", community=community)
    container.seasons.declare(
        SYSTEM, OWN_SEASON, SEASON.code, date(2025, 11, 15), date(2026, 3, 15), "阅政〔2025〕2号", "its own decree"
    )
    publish(container)
    container.catch_up()
    return container


def spy_on_pages(container: Container) -> list[list[str]]:
    """Every page the run asks the read models for, by account number."""
    pages: list[list[str]] = []
    households: Callable[..., list[HouseholdFacts]] = container.billing_runs.inputs.households

    def spied(*arguments: Any, **keywords: Any) -> list[HouseholdFacts]:
        page = households(*arguments, **keywords)
        pages.append([household.account_number for household in page])
        return page

    container.billing_runs.inputs.households = spied  # type: ignore[method-assign]
    return pages


def test_a_run_over_many_pages_bills_every_household_once_on_its_season(city: Container) -> None:
    pages = spy_on_pages(city)

    summary = city.billing_runs.run(CLERK, RunRequest(BillKind.PREPAYMENT, SEASON))

    assert (summary.households, summary.bills_issued, summary.exceptions) == (7, 7, [])
    accounts = [f"P-{number}" for number in range(7)]
    in_pages = [accounts[start : start + 2] for start in range(0, 7, 2)]
    assert pages == in_pages + in_pages  # checked, then billed: never more than a page at once
    for number, account in enumerate(accounts):
        season = city.billing.period(account, SEASON).season
        assert (season.first_day == date(2025, 11, 15)) is (number in (2, 5))
    again = city.billing_runs.run(CLERK, RunRequest(BillKind.PREPAYMENT, SEASON))
    assert (again.bills_issued, again.already_issued) == (0, 7)


def test_a_household_without_a_tariff_on_the_last_page_stops_the_run_before_any_booking(city: Container) -> None:
    city.ledger.register_household(
        SYSTEM,
        "P-9",
        Address("和谐家园", "2", "1", 1, "101"),
        Areas(Decimal(80), Decimal(80)),
        CustomerClass.NON_RESIDENTIAL,  # the published tariff is residential
        Position(VerticalPosition.BOTTOM, HorizontalPosition.MIDDLE),
        date(2025, 10, 1),
    )
    city.catch_up()

    with pytest.raises(InvalidInputError) as refused:
        city.billing_runs.run(CLERK, RunRequest(BillKind.PREPAYMENT, SEASON))

    assert refused.value.message_key == "season_without_tariff"
    assert (refused.value.params["households"], refused.value.params["count"]) == ("P-9", 1)
    city.catch_up()
    with city.engine.connect() as connection:
        assert connection.execute(select(bills)).first() is None


@pytest.mark.parametrize("page_size", [1, 2, 3, 7, 8])
def test_keyset_pages_put_together_are_the_households_in_account_order(city: Container, page_size: int) -> None:
    inputs = city.billing_runs.inputs
    whole = inputs.households(None, 100)
    pages: list[HouseholdFacts] = []
    after: str | None = None
    while page := inputs.households(None, page_size, after=after):
        pages += page
        after = page[-1].account_number
    assert pages == whole and len(whole) == 7
    first = whole[0]  # the facts are made by column position: each field holds its own column
    assert (first.account_number, first.community, first.building, first.customer_class) == (
        "P-0",
        "和谐家园",
        "1",
        "residential",
    )
    assert (first.connected_area_m2, first.has_meter, first.registered_on, first.deregistered_on) == (
        Decimal(90),
        False,
        date(2025, 10, 1),
        None,
    )
    assert inputs.households(OWN_SEASON, 1, after="P-2") == [
        household for household in whole if household.account_number == "P-5"
    ]
