"""Issued bills are projected set-based (BillBatchWriter): the bills, balances and allocations
must be what one bill at a time (``bill_issued``) makes, whatever the batch size, on both backends.
The store is a small season of bench.projections: readings, a prepayment and a settlement run,
counter payments between them, suspended households and owner changes."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from rich.progress import Progress
from sqlalchemy import Connection, delete, select

from bench.billing import AFTER_SEASON
from bench.projections import set_up
from infrastructure.container import Container
from projections import ledger_projection
from projections.billing_handlers import BillBatchWriter, bill_issued
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
    monkeypatch.setattr(ledger_projection, "bill_issued", object())  # every bill by its handler, as before
    one_by_one = rebuilt_rows(season, None)
    assert together == one_by_one
    assert in_batches_of_seven == one_by_one


def test_a_households_bills_in_one_flush_add_up_as_one_by_one(season: Container) -> None:
    # Payments fall between the season's runs, so a rebuild flushes each run apart: here every
    # bill of the store goes in one flush (two per household and more), against one at a time.
    ProjectionRunner(season.ledger, season.engine, LedgerProjection()).rebuild()
    recorder, mapper = season.ledger.recorder, season.ledger.mapper
    topic = "domain.billing_period:BillingPeriod.BillIssued"
    issued = [mapper.to_domain_event(n) for n in recorder.select_notifications(start=1, limit=10_000, topics=[topic])]
    charging = [event.originator_id for event in issued if event.amount_yuan != 0]
    assert len(set(charging)) < len(charging), "households with several bills that charge or credit"

    kept = {billing_periods.name, households.name}  # what a bill reads; every other table starts empty

    def written(write: Callable[[Connection], None]) -> list[list[tuple[object, ...]]]:
        with season.engine.connect() as connection, connection.begin() as transaction:
            emptied = [table for table in LedgerProjection.tables if table.name not in kept]
            for table in reversed(emptied):
                connection.execute(delete(table))
            write(connection)
            rows = [sorted(map(tuple, connection.execute(select(table))), key=repr) for table in emptied]
            transaction.rollback()
            return rows

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

    assert written(together) == written(one_by_one)
