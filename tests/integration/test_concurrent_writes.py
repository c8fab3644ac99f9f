"""Payments and readings written by many threads at once, to households of their own and to one
they all share, each payment sent twice (issue 16, item 8): nothing lost, nothing doubled, every
balance the sum of its payments, on both backends. Readings and payments run side by side in one
process, one thread per aggregate (application/locks.py), with other threads' commands between."""

from __future__ import annotations

from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from sqlalchemy import func, select

from application.authorization import SYSTEM, Principal, Role
from application.ingestion import ItemStatus
from domain import ids
from domain.payment import PaymentChannel
from infrastructure.container import Container
from projections.tables import balances, meter_readings, payments
from tests.strategies import COMMISSIONED_AT, household_with_meter, item

CLERK = Principal("clerk-wang", Role.CLERK)
WORKERS = 12
ROUNDS = 16
SHARED_ACCOUNT, SHARED_SERIAL = "WZ-SHARED", "M-SHARED"
FIRST_READING_AT = COMMISSIONED_AT + timedelta(days=30)


def own_account(worker: int) -> str:
    return f"WZ-{worker:03d}"


def own_serial(worker: int) -> str:
    return f"M-{worker:03d}"


def amount_of(worker: int, round_number: int) -> Decimal:
    return Decimal(worker * 100 + round_number) + Decimal("0.01")


def reading_slot(worker: int, round_number: int) -> int:
    """The shared meter's readings interleave the workers' hours; energy rises with the hour."""
    return round_number * WORKERS + worker


def write(container: Container, worker: int) -> list[ItemStatus]:
    """One worker's rounds: a payment to its own and to the shared household, each sent twice,
    and a batch of a reading of its own meter and one of the shared meter."""
    statuses: list[ItemStatus] = []
    for round_number in range(ROUNDS):
        amount = amount_of(worker, round_number)
        for account, receipt in ((own_account(worker), "R"), (SHARED_ACCOUNT, "S")):
            for _ in range(2):
                container.payments.receive_at_counter(
                    CLERK, account, amount, PaymentChannel.CASH, f"{receipt}-{worker}-{round_number}"
                )
        slot = reading_slot(worker, round_number)
        batch = [
            item(own_serial(worker), FIRST_READING_AT + timedelta(hours=round_number), Decimal("0.05") * round_number),
            item(SHARED_SERIAL, FIRST_READING_AT + timedelta(hours=slot), Decimal("0.01") * slot),
        ]
        report = container.ledger.record_readings(SYSTEM, batch)
        statuses.extend(outcome.status for outcome in report.outcomes)
    return statuses


def test_payments_and_readings_from_many_threads_are_each_stored_once(container: Container) -> None:
    container.ledger.clock = lambda: datetime(2025, 12, 10, 4, tzinfo=UTC)
    household_with_meter(container.ledger, SHARED_ACCOUNT, SHARED_SERIAL)
    for worker in range(WORKERS):
        household_with_meter(container.ledger, own_account(worker), own_serial(worker))

    with ThreadPoolExecutor(max_workers=WORKERS) as pool:
        statuses = [
            status for result in pool.map(lambda worker: write(container, worker), range(WORKERS)) for status in result
        ]
    container.catch_up()

    assert Counter(statuses) == {ItemStatus.ACCEPTED: WORKERS * ROUNDS * 2}
    assert _payment_rows(container) == WORKERS * ROUNDS * 2  # each sent twice, booked once
    shared_paid = sum((amount_of(w, r) for w in range(WORKERS) for r in range(ROUNDS)), Decimal(0))
    assert _paid_and_balance(container, SHARED_ACCOUNT) == (shared_paid, -shared_paid)
    for worker in range(WORKERS):
        own_paid = sum((amount_of(worker, r) for r in range(ROUNDS)), Decimal(0))
        assert _paid_and_balance(container, own_account(worker)) == (own_paid, -own_paid)
        assert _readings_of(container, own_serial(worker)) == ROUNDS
    assert _readings_of(container, SHARED_SERIAL) == WORKERS * ROUNDS
    shared_meter = container.ledger.meter(SHARED_SERIAL)
    assert shared_meter.version == len(list(container.ledger.events.get(shared_meter.id)))  # the store agrees


def _payment_rows(container: Container) -> int:
    with container.engine.connect() as connection:
        return int(connection.execute(select(func.count()).select_from(payments)).scalar_one())


def _paid_and_balance(container: Container, account: str) -> tuple[Decimal, Decimal]:
    household_id = ids.household_id(account)
    with container.engine.connect() as connection:
        paid, balance = connection.execute(
            select(balances.c.paid_yuan, balances.c.balance_yuan).where(balances.c.household_id == household_id)
        ).one()
    return paid, balance


def _readings_of(container: Container, serial: str) -> int:
    with container.engine.connect() as connection:
        return int(
            connection.execute(
                select(func.count())
                .select_from(meter_readings)
                .where(meter_readings.c.meter_id == ids.meter_id(serial))
            ).scalar_one()
        )
