"""The bills and account reads in one statement each (projections/billing_queries.py,
projections/payment_queries.py, issue 17) answer exactly what the statements they replace answer,
on each backend, live and in the views as known (which run the same query code on SQLite).

The account: ``account_of_household`` against ``open_charges_of_household``,
``allocations_of_household``, ``unallocated_credit_yuan``, ``DisputeQueries.hold_of`` and the
household's look-up, for the payment scenario's households (real bills, payments, allocations,
credits) and for any rows hypothesis writes into those read models for a registered household
with none and for an account number nobody has: charges due and issued on the same days (the
order falls to their ids), allocations whose credits and charges are payments, bills or nothing
known, old dispute flags (an open dispute without an amount), credits and none.

The bills: ``bill_heads_of_household`` against ``bills_of_household``'s page without the lines,
for any season, issue day, limit and offset (a page past the last bill counts the bills apart).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date, timedelta
from decimal import Decimal
from typing import Any
from uuid import UUID

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy import delete, insert

from domain import ids
from infrastructure.container import Container
from projections.billing_queries import BillHeadRecord, BillingQueries, BillRecord
from projections.dispute_queries import DisputeQueries
from projections.payment_queries import HouseholdAccountRecord, PaymentQueries
from projections.queries import LedgerQueries
from projections.tables import (
    household_credits,
    household_disputed_amounts,
    household_protections,
    open_charges,
    payment_allocations,
)
from tests.integration.test_payment_read_models import (
    NEXT_SEASON,
    SEASON,
    bill_id,
    issue_next_prepayment,
    paid,
    payment_id,
)
from tests.strategies import register_household

__all__ = ["paid"]  # the fixture, used by name

SCENARIO_ACCOUNTS = ("WZ-1", "WZ-2", "WZ-3")
EMPTY_ACCOUNT, UNKNOWN_ACCOUNT = "WZ-9", "WZ-404"
ACCOUNTS = (*SCENARIO_ACCOUNTS, EMPTY_ACCOUNT, UNKNOWN_ACCOUNT)
FIRST_DAY = date(2025, 10, 25)
MONEY = st.integers(min_value=-500_000, max_value=500_000).map(lambda cents: Decimal(cents).scaleb(-2))
# A few days only, so that charges share their due and issue days.
DAYS = st.integers(min_value=0, max_value=3).map(lambda offset: FIRST_DAY + timedelta(days=offset))
TABLES = (open_charges, payment_allocations, household_credits, household_protections, household_disputed_amounts)


@pytest.fixture
def store(paid: Container) -> Container:
    """The payment scenario, a second season's prepayment for WZ-1, and WZ-9 registered with nothing."""
    issue_next_prepayment(paid, "WZ-1")
    register_household(paid.ledger, EMPTY_ACCOUNT)
    paid.catch_up()
    return paid


def known_ids() -> list[UUID]:
    """Credits and charges an allocation may name: the scenario's bills and payments."""
    bills = [bill_id(account) for account in SCENARIO_ACCOUNTS] + [bill_id("WZ-1", "settlement")]
    return [*bills, payment_id("R-0001"), payment_id("R-0002")]


@st.composite
def account_rows(draw: st.DrawFn, household_id: UUID) -> dict[Any, list[dict[str, Any]]]:
    """Rows of a household's account in each of the tables its read reads."""
    charges = [
        {
            "charge_id": draw(st.uuids()),
            "household_id": household_id,
            "community": "碧桂园",
            "building": "1",
            "season_code": draw(st.sampled_from([None, SEASON.code, NEXT_SEASON.code])),
            "kind": draw(st.sampled_from(["bill", "refund_payout"])),
            "issued_on": draw(DAYS),
            "due_on": draw(DAYS),
            "amount_yuan": draw(MONEY),
            "open_yuan": draw(MONEY),
        }
        for _ in range(draw(st.integers(min_value=0, max_value=5)))
    ]
    named = st.one_of(st.sampled_from(known_ids()), st.uuids())
    sequences = draw(st.lists(st.integers(min_value=0, max_value=50), max_size=5, unique=True))
    allocations = [
        {
            "household_id": household_id,
            "sequence": sequence,
            "credit_id": draw(named),
            "credit_kind": draw(st.sampled_from(["payment", "settlement_credit"])),
            "charge_id": draw(named),
            "charge_kind": draw(st.sampled_from(["bill", "refund_payout"])),
            "amount_yuan": draw(MONEY),
        }
        for sequence in sequences
    ]
    credits = draw(
        st.lists(MONEY.map(lambda yuan: {"household_id": household_id, "unallocated_yuan": yuan}), max_size=1)
    )
    protections = draw(
        st.lists(
            st.integers(min_value=0, max_value=3).map(
                lambda count: {"household_id": household_id, "vulnerable": False, "open_disputes": count}
            ),
            max_size=1,
        )
    )
    disputed = [
        {"dispute_id": draw(st.uuids()), "household_id": household_id, "disputed_yuan": draw(MONEY)}
        for _ in range(draw(st.integers(min_value=0, max_value=3)))
    ]
    return {
        open_charges: charges,
        payment_allocations: allocations,
        household_credits: credits,
        household_protections: protections,
        household_disputed_amounts: disputed,
    }


def account_one_by_one(container: Container, account_number: str) -> HouseholdAccountRecord:
    """The account as the five statements (and the look-up) read it, one after the other."""
    household_id, payments = ids.household_id(account_number), PaymentQueries(container.engine)
    return HouseholdAccountRecord(
        registered=LedgerQueries(container.engine).household(account_number) is not None,
        open_charges=payments.open_charges_of_household(household_id),
        allocations=payments.allocations_of_household(household_id),
        credit_yuan=payments.unallocated_credit_yuan(household_id),
        hold=DisputeQueries(container.engine).hold_of(household_id),
    )


@contextmanager
def written(container: Container, rows: dict[Any, list[dict[str, Any]]], household_ids: list[UUID]) -> Iterator[None]:
    """``rows`` in their tables while the block runs; the households' rows deleted after it."""
    try:
        with container.engine.begin() as connection:
            for table, table_rows in rows.items():
                if table_rows:
                    connection.execute(insert(table), table_rows)
        yield
    finally:
        with container.engine.begin() as connection:
            for table in TABLES:
                connection.execute(delete(table).where(table.c.household_id.in_(household_ids)))


@settings(max_examples=40)
@given(data=st.data())
def test_the_account_in_one_statement_is_the_account_read_one_by_one(store: Container, data: st.DataObject) -> None:
    written_for = [ids.household_id(EMPTY_ACCOUNT), ids.household_id(UNKNOWN_ACCOUNT)]
    rows: dict[Any, list[dict[str, Any]]] = {table: [] for table in TABLES}
    for household_id in written_for:
        for table, table_rows in data.draw(account_rows(household_id)).items():
            rows[table] += table_rows
    with written(store, rows, written_for):
        for account_number in ACCOUNTS:
            one = PaymentQueries(store.engine).account_of_household(ids.household_id(account_number), account_number)
            expected = account_one_by_one(store, account_number)
            assert one == expected and repr(one) == repr(expected), account_number


def test_the_scenarios_accounts_are_not_empty(store: Container) -> None:
    """The property above reads real rows too: WZ-1 has allocations naming bills, WZ-2 an open charge."""
    queries = PaymentQueries(store.engine)
    wz_1, wz_2 = (queries.account_of_household(ids.household_id(a), a) for a in SCENARIO_ACCOUNTS[:2])
    assert wz_1.registered and wz_1.allocations and any(line.bill_number for line in wz_1.allocations)
    assert wz_2.open_charges
    assert not queries.account_of_household(ids.household_id(UNKNOWN_ACCOUNT), UNKNOWN_ACCOUNT).registered


def head_of(bill: BillRecord) -> BillHeadRecord:
    return BillHeadRecord(**{name: getattr(bill, name) for name in BillHeadRecord.__dataclass_fields__})


@given(
    account_number=st.sampled_from(ACCOUNTS),
    season_code=st.sampled_from([None, SEASON.code, NEXT_SEASON.code, "2030-2031"]),
    issued_on_or_before=st.sampled_from([None, date(2025, 10, 24), date(2025, 10, 25), date(2026, 4, 10)]),
    limit=st.integers(min_value=1, max_value=4),
    offset=st.integers(min_value=0, max_value=5),
)
def test_the_bills_heads_in_one_statement_are_the_bills_page(
    store: Container,
    account_number: str,
    season_code: str | None,
    issued_on_or_before: date | None,
    limit: int,
    offset: int,
) -> None:
    queries, household_id = BillingQueries(store.engine), ids.household_id(account_number)
    page = queries.bills_of_household(household_id, season_code, limit, offset, issued_on_or_before)
    heads = queries.bill_heads_of_household(household_id, season_code, limit, offset, issued_on_or_before)
    assert heads.items == [head_of(bill) for bill in page.items]
    assert (heads.total, heads.has_more) == (page.total, page.has_more)


def test_wz_1_has_bills_enough_for_pages(store: Container) -> None:
    """The property above turns pages: WZ-1 has three bills over two seasons."""
    page = BillingQueries(store.engine).bill_heads_of_household(ids.household_id("WZ-1"), limit=2)
    assert page.total == 3 and page.has_more and len(page.items) == 2
