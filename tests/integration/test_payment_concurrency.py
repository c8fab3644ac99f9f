"""Fifty payments to one household at once, from the counter and the online channel, each sent
twice: every payment is booked exactly once and the balance is exact, on both backends."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from decimal import Decimal

from sqlalchemy import func, select

from application.authorization import Principal, Role
from application.payments import PaymentOutcome
from domain import ids
from domain.payment import PaymentChannel
from infrastructure.container import Container
from projections.tables import balances, payments
from tests.strategies import register_household

CLERK = Principal("clerk-wang", Role.CLERK)
GATEWAY = Principal("provider:wechat", Role.PAYMENT_GATEWAY)
PAYMENTS = 50


def amount_of(number: int) -> Decimal:
    return Decimal(number) + Decimal("0.37")  # 1.37, 2.37, … 50.37: every payment different


def send(container: Container, number: int) -> PaymentOutcome:
    """Payment ``number``: even numbers at the counter, odd ones online."""
    if number % 2 == 0:
        return container.payments.receive_at_counter(
            CLERK, "WZ-0001", amount_of(number), PaymentChannel.CASH, f"R-{number:03d}"
        )
    return container.payments.receive_online(GATEWAY, "wechat", f"HL-{number:03d}", "WZ-0001", amount_of(number))


def test_fifty_concurrent_payments_each_sent_twice_are_booked_once(container: Container) -> None:
    container.ledger.clock = lambda: datetime(2025, 12, 10, 4, tzinfo=UTC)
    register_household(container.ledger, "WZ-0001")
    attempts = [number for number in range(1, PAYMENTS + 1) for _ in range(2)]  # every payment twice
    with ThreadPoolExecutor(max_workers=8) as pool:
        outcomes = list(pool.map(lambda number: send(container, number), attempts))
    container.catch_up()

    recorded = [outcome for outcome in outcomes if outcome.recorded]
    assert len(recorded) == PAYMENTS  # one of each pair recorded, the other found it there
    assert len({outcome.payment_id for outcome in outcomes}) == PAYMENTS
    household_id = ids.household_id("WZ-0001")
    expected_paid = sum((amount_of(number) for number in range(1, PAYMENTS + 1)), Decimal(0))  # 1293.50
    with container.engine.connect() as connection:
        rows = connection.execute(select(func.count()).select_from(payments)).scalar_one()
        paid, balance = connection.execute(
            select(balances.c.paid_yuan, balances.c.balance_yuan).where(balances.c.household_id == household_id)
        ).one()
    assert rows == PAYMENTS
    assert (paid, balance) == (expected_paid, -expected_paid)  # nothing charged yet: all of it is credit
    assert container.payments.credits.unallocated_credit_yuan(household_id) == expected_paid
