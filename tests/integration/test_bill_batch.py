"""Issued bills are projected set-based (BillBatchWriter): the bills, balances and allocations
must be what one bill at a time (``bill_issued``) makes, whatever the batch size, on both backends.
The store is a small season of bench.projections: readings, a prepayment and a settlement run,
counter payments between them, suspended households and owner changes."""

from __future__ import annotations

import itertools
from collections.abc import Callable
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from rich.progress import Progress
from sqlalchemy import Connection, delete, select

from bench.billing import AFTER_SEASON
from bench.projections import set_up
from domain.billing_period import BillingPeriod
from infrastructure.container import Container
from projections import ledger_projection
from projections.billing_handlers import BillBatchWriter, bill_issued, billing_period_opened
from projections.ledger_projection import LedgerProjection
from projections.runner import ProjectionRunner
from projections.tables import billing_periods, bills, households
from tests.strategies import projection_rows

HOUSEHOLDS = 12
DAYS = 152  # the whole season: a settlement that charges or credits something


@pytest.fixture
def season(container: Container) -> Container:
    container.ledger.clock = lambda: AFTER_SEASON
    with Progress(disable=True) as progress:
        set_up(container, HOUSEHOLDS, DAYS, progress, "test")
    return container


def rebuilt_rows(container: Container, batch_size: int | None) -> dict[str, list[tuple[object, ...]]]:
    runner = ProjectionRunner(container.ledger, container.engine, LedgerProjection(), batch_size=batch_size)
    runner.rebuild()
    return projection_rows(container.engine)


def test_bills_written_together_equal_bills_written_one_by_one(
    season: Container, monkeypatch: pytest.MonkeyPatch
) -> None:
    together = rebuilt_rows(season, None)
    assert len(together["bills"]) >= 2 * HOUSEHOLDS, "a prepayment and a settlement each"
    assert together["balances"] and together["payments"]
    in_batches_of_seven = rebuilt_rows(season, 7)
    # Every bill and every period by its handler, as before.
    monkeypatch.setattr(ledger_projection, "bill_issued", object())
    monkeypatch.setattr(ledger_projection, "billing_period_opened", object())
    one_by_one = rebuilt_rows(season, None)
    assert together == one_by_one
    assert in_batches_of_seven == one_by_one


def rebuilt(season: Container) -> Container:
    ProjectionRunner(season.ledger, season.engine, LedgerProjection()).rebuild()
    return season


def stored_events(container: Container, *kinds: str) -> list[Any]:
    """The store's events of ``kinds`` (class names of ``BillingPeriod``), in the store's order."""
    recorder, mapper = container.ledger.recorder, container.ledger.mapper
    topics = [f"domain.billing_period:BillingPeriod.{kind}" for kind in kinds]
    return [mapper.to_domain_event(n) for n in recorder.select_notifications(start=1, limit=10_000, topics=topics)]


def written(
    container: Container, write: Callable[[Connection], None], kept: set[str]
) -> list[list[tuple[object, ...]]]:
    """The projection's rows after ``write`` on tables emptied but ``kept`` (rolled back after)."""
    with container.engine.connect() as connection, connection.begin() as transaction:
        emptied = [table for table in LedgerProjection.tables if table.name not in kept]
        for table in reversed(emptied):
            connection.execute(delete(table))
        write(connection)
        rows = [sorted(map(tuple, connection.execute(select(table))), key=repr) for table in emptied]
        transaction.rollback()
        return rows


def test_a_households_bills_in_one_flush_add_up_as_one_by_one(season: Container) -> None:
    # Payments fall between the season's runs, so a rebuild flushes each run apart: here every
    # bill of the store goes in one flush (two per household and more), against one at a time.
    issued = stored_events(rebuilt(season), "BillIssued")
    charging = [event.originator_id for event in issued if event.amount_yuan != 0]
    assert len(set(charging)) < len(charging), "households with several bills that charge or credit"
    kept = {billing_periods.name, households.name}  # what a bill reads; every other table starts empty

    def one_by_one(connection: Connection) -> None:
        for event in issued:
            bill_issued(connection, event)

    def together(connection: Connection) -> None:
        writer = BillBatchWriter(connection)
        for event in issued:
            writer.add(event)
        assert writer.flush() == {
            row.household_id for row in connection.execute(select(bills.c.household_id).where(bills.c.amount_yuan != 0))
        }

    assert written(season, together, kept) == written(season, one_by_one, kept)


def apply_by_handlers(connection: Connection, events: list[Any]) -> None:
    for event in events:
        if isinstance(event, BillingPeriod.Opened):
            billing_period_opened(connection, event)
        else:
            bill_issued(connection, event)


def test_periods_and_their_bills_flushed_in_any_groups_equal_one_by_one(season: Container) -> None:
    # A prepayment's events alternate a period opened and its first bill. Cut into groups at any
    # points (a bill's period flushed with it, or in an earlier group and read back), the writer
    # gives the rows and the households to reallocate the handlers give one event at a time.
    events = stored_events(rebuilt(season), "Opened", "BillIssued")
    assert isinstance(events[0], BillingPeriod.Opened) and isinstance(events[1], BillingPeriod.BillIssued)
    kept = {households.name}  # periods too start empty
    expected = written(season, lambda connection: apply_by_handlers(connection, events), kept)

    @settings(max_examples=25)
    @given(cuts=st.sets(st.integers(1, len(events) - 1), max_size=8))
    def in_groups(cuts: set[int]) -> None:
        bounds = [0, *sorted(cuts), len(events)]

        def write(connection: Connection) -> None:
            writer = BillBatchWriter(connection)
            to_reallocate: set[Any] = set()
            for start, end in itertools.pairwise(bounds):
                for event in events[start:end]:
                    if isinstance(event, BillingPeriod.Opened):
                        writer.add_period(event)
                    else:
                        writer.add(event)
                to_reallocate |= writer.flush()
            assert to_reallocate == {
                row.household_id
                for row in connection.execute(select(bills.c.household_id).where(bills.c.amount_yuan != 0))
            }

        assert written(season, write, kept) == expected

    in_groups()
