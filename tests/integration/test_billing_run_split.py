"""A billing run split over processes by building (issue 17), on SQLite and PostgreSQL: the split
run issues exactly the bills (ids and amounts) and the summary of a one-process run on a second
store holding the same city (every id is derived from account numbers: the same city has the same
ids), and running it again issues nothing. The share function puts every household in exactly
one share, a building whole; the shares' summaries merged are the whole run's."""

from __future__ import annotations

import os
import subprocess
import sys
import zlib
from collections.abc import Iterator
from datetime import timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any
from uuid import uuid4

import pytest
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import select

from application import billing_runs
from application.billing_runs import (
    BillingRuns,
    RunException,
    RunRequest,
    RunShare,
    RunSummary,
    merged_summary,
    share_of,
)
from domain.billing import BillKind
from domain.billing_period import IssuedBill
from domain.errors import InvalidInputError
from infrastructure.container import Container, bootstrap
from infrastructure.settings import Backend, Settings
from infrastructure.split_runs import run_split
from projections.tables import bills
from tests.conftest import empty_sqlite_settings, postgres_settings
from tests.integration.test_billing_runs import CLERK, SEASON, publish, read_daily
from tests.services import _create_database, _drop_database
from tests.strategies import household_with_meter, register_household

D = Decimal
COMMUNITIES = ("和谐家园", "阳光小区")
RUNS = ((BillKind.PREPAYMENT, None), (BillKind.STATEMENT, "2025-12"), (BillKind.SETTLEMENT, None))


def build_city(container: Container) -> None:
    """Twelve buildings in two communities, two households each: the first of each building
    metered (its own daily heat), the second unmetered; one household registered after the season."""
    for number in range(12):
        community, building = COMMUNITIES[number % 2], str(number // 2 + 1)
        metered = f"S-{number:02d}-1"
        if number < 6:
            household_with_meter(container.ledger, metered, f"SM-{number}", community, building)
            read_daily(container, f"SM-{number}", D("0.1") + D("0.05") * number)
        else:
            register_household(container.ledger, metered, community, building)
        register_household(container.ledger, f"S-{number:02d}-2", community, building, connected_area_m2="70.00")
    register_household(
        container.ledger, "S-99-1", COMMUNITIES[0], "1", registered_on=SEASON.last_day + timedelta(days=1)
    )
    publish(container)
    container.catch_up()


@pytest.fixture
def second_store(backend_settings: Settings, tmp_path: Path, migrated_sqlite_template: Path) -> Iterator[Container]:
    """A second empty store of the same backend: the one-process run's."""
    if backend_settings.backend is Backend.SQLITE:
        folder = tmp_path / "second"
        folder.mkdir()
        built = bootstrap(empty_sqlite_settings(migrated_sqlite_template, folder))
        yield built
        built.close()
        return
    # Not fresh_postgres_database: it hands every caller in a test the one shared database.
    database = _create_database()
    built = bootstrap(postgres_settings(database))
    yield built
    built.close()
    _drop_database(database)


def issued(container: Container) -> dict[Any, tuple[str, str, Decimal, str]]:
    with container.engine.connect() as connection:
        rows = connection.execute(
            select(bills.c.bill_id, bills.c.account_number, bills.c.kind, bills.c.amount_yuan, bills.c.basis)
        )
        return {row.bill_id: (row.account_number, row.kind, row.amount_yuan, row.basis) for row in rows}


def figures(summary: RunSummary) -> tuple[Any, ...]:
    return (
        summary.households,
        summary.bills_issued,
        summary.already_issued,
        summary.charged_yuan,
        summary.credited_yuan,
        dict(summary.by_basis),
        sorted((e.account_number, e.message_key) for e in summary.exceptions),
        sorted((s.account_number, s.message_key) for s in summary.skipped),
    )


# Three processes only, on each backend (more shares than the two cores, three summaries merged):
# each run here starts its processes afresh (spawn, ~2 s a run), six runs a test, and the two-process
# parametrization doubled the file's time. Two processes are covered by
# tests/e2e/test_cli_billing_split.py (a prepayment split in two and run again, through the command);
# the share function and the merge for any count by the property tests below (1-8 shares, pages of
# 1-5 shares, 1-4 parts merged).
@pytest.mark.parametrize("processes", [3])
def test_a_split_run_issues_the_bills_of_a_run_in_one_process(
    container: Container, second_store: Container, processes: int
) -> None:
    build_city(container)
    build_city(second_store)
    counts: list[int] = []
    for kind, month in RUNS:
        request = RunRequest(kind, SEASON, month)
        outcome = run_split(container, CLERK, request, processes)
        container.catch_up()
        whole = second_store.billing_runs.run(CLERK, request)
        second_store.catch_up()
        assert outcome.failures == []
        assert figures(outcome.summary) == figures(whole), kind
        assert outcome.summary.bills_issued > 0 and [s.account_number for s in whole.skipped] == ["S-99-1"]
        counts.append(whole.bills_issued)
    assert issued(container) == issued(second_store)
    assert {kind for _, kind, _, _ in issued(container).values()} == {"prepayment", "statement", "settlement"}
    for (kind, month), count in zip(RUNS, counts, strict=True):
        again = run_split(container, CLERK, RunRequest(kind, SEASON, month), processes)
        assert again.failures == [], again.failures
        assert (again.summary.bills_issued, again.summary.already_issued) == (0, count)


def test_a_split_run_refused_as_a_whole_books_nothing(container: Container) -> None:
    build_city(container)
    with pytest.raises(InvalidInputError) as refused:
        run_split(container, CLERK, RunRequest(BillKind.STATEMENT, SEASON, "2027-01"), 2)
    assert refused.value.message_key in {"month_outside_season", "month_not_ended"}
    container.catch_up()
    assert issued(container) == {}


buildings = st.lists(
    st.tuples(st.sampled_from((*COMMUNITIES, "x")), st.text(min_size=1, max_size=6)), min_size=1, max_size=40
)


@given(buildings, st.integers(min_value=1, max_value=8))
def test_every_building_lies_in_exactly_one_share(drawn: list[tuple[str, str]], count: int) -> None:
    for community, building in drawn:
        facts: Any = type("Facts", (), {"community": community, "building": building})()
        held = [index for index in range(count) if RunShare(index, count).holds(facts)]
        assert len(held) == 1


def test_the_share_function_is_the_same_in_every_process() -> None:
    # A salted hash (Python's hash of a string) would differ from process to process: compare with
    # fresh interpreters under other hash seeds.
    drawn = [("和谐家园", str(building)) for building in range(1, 30)]
    here = [share_of(community, building, 3) for community, building in drawn]
    for seed in ("1", "2"):
        script = f"from application.billing_runs import share_of; print([share_of(c, b, 3) for c, b in {drawn!r}])"
        there = subprocess.run(
            [sys.executable, "-c", script],
            env={**os.environ, "PYTHONHASHSEED": seed},
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        assert there.strip() == repr(here)
    assert share_of("a", "1", 1000) == zlib.crc32(b"a\x001") % 1000 == 647
    assert set(here) == {0, 1, 2}
    with pytest.raises(ValueError):
        RunShare(3, 3)


class _Households:
    """Households facts by account, paged as the read models page them (keyset by account)."""

    def __init__(self, facts: list[Any]) -> None:
        self.facts = sorted(facts, key=lambda fact: fact.account_number)

    def households(self, community: str | None, size: int, after: str | None = None) -> list[Any]:
        found = [f for f in self.facts if (after is None or f.account_number > after)]
        return [f for f in found if community is None or f.community == community][:size]


@given(buildings, st.integers(min_value=1, max_value=5), st.integers(min_value=1, max_value=7))
def test_the_shares_pages_hold_every_household_of_the_scope_exactly_once(
    drawn: list[tuple[str, str]], count: int, page_size: int
) -> None:
    facts = [
        type("Facts", (), {"account_number": f"H-{number:03d}", "community": community, "building": building})()
        for number, (community, building) in enumerate(drawn)
    ]
    runs: Any = BillingRuns.__new__(BillingRuns)
    runs.inputs = _Households(facts)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(billing_runs, "PAGE_SIZE", page_size)
        whole = [f.account_number for page in runs._pages(None) for f in page]
        pages = [list(runs._pages(None, RunShare(index, count))) for index in range(count)]
    shares = [[f for page in share_pages for f in page] for share_pages in pages]
    assert all(0 < len(page) <= page_size for share_pages in pages for page in share_pages)
    assert sorted(f.account_number for share in shares for f in share) == whole
    for index, share in enumerate(shares):
        assert all(share_of(f.community, f.building, count) == index for f in share)


bill_drawn = st.tuples(
    st.sampled_from(["A-1", "A-2", "B-1", "C-7"]),
    st.sampled_from(["metered", "area", "allocated"]),
    st.decimals(min_value=-500, max_value=500, places=2, allow_nan=False, allow_infinity=False),
)


@given(
    st.lists(st.tuples(bill_drawn, st.integers(min_value=0, max_value=3)), max_size=30),
    st.lists(st.tuples(st.sampled_from(["A-1", "B-1", "C-7"]), st.integers(min_value=0, max_value=3)), max_size=6),
    st.lists(st.integers(min_value=0, max_value=3), max_size=20),
    st.integers(min_value=1, max_value=4),
)
def test_merging_the_parts_of_a_split_gives_the_whole(
    drawn_bills: list[tuple[tuple[str, str, Decimal], int]],
    drawn_exceptions: list[tuple[str, int]],
    already: list[int],
    parts_count: int,
) -> None:
    run_id = uuid4()
    whole = RunSummary(run_id, BillKind.SETTLEMENT, SEASON.code, None, None)
    parts = [RunSummary(run_id, BillKind.SETTLEMENT, SEASON.code, None, None) for _ in range(parts_count)]
    for (account, basis, amount), part in drawn_bills:
        bill = _bill(account, basis, amount)
        whole.count(bill)
        parts[part % parts_count].count(bill)
        whole.households += 1
        parts[part % parts_count].households += 1
    for account, part in drawn_exceptions:
        exception = RunException(account, "no_evidence", "no evidence", {})
        whole.exceptions.append(exception)
        parts[part % parts_count].exceptions.append(exception)
        whole.skipped.append(exception)
        parts[part % parts_count].skipped.append(exception)
    for part in already:
        whole.already_issued += 1
        parts[part % parts_count].already_issued += 1
    merged = merged_summary(whole, parts)
    assert merged.run_id == run_id
    assert figures(merged) == figures(whole)


def _bill(account: str, basis: str, amount: Decimal) -> IssuedBill:
    bill: Any = type("Bill", (), {})()
    bill.account_number, bill.basis, bill.amount_yuan = account, basis, amount
    return bill


def test_a_process_that_fails_is_reported_after_the_others(sqlite_container: Container) -> None:
    build_city(sqlite_container)
    # The processes open the store of these settings: one that does not exist fails each of them.
    sqlite_container.settings = postgres_settings("splitrun_no_such_database")
    outcome = run_split(sqlite_container, CLERK, RunRequest(BillKind.PREPAYMENT, SEASON), 2)
    assert [failure.index for failure in outcome.failures] == [0, 1]
    assert all("cannot open the store" in failure.message for failure in outcome.failures)
    assert (outcome.summary.households, outcome.summary.bills_issued) == (0, 0)
