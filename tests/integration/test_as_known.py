"""Answers as the ledger knew them at a moment, on SQLite and PostgreSQL.

Event timestamps are the moments the ledger recorded them (the event store's clock), so the tests
record each command under freezegun at the moment it happens. The ledger's own clock follows the
same frozen time, except where a test dates a fact in the world before the moment it is recorded
(a bank's value date keyed in later).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest
from freezegun import freeze_time

from application.authorization import SYSTEM
from application.billing_runs import RunRequest
from domain import ids
from domain.billing import BillKind
from domain.payment import PaymentChannel, ReversalKind
from infrastructure.as_known import KnownReads
from infrastructure.container import Container
from projections.payment_queries import PaymentQueries
from projections.queries import Granularity
from tests.integration.test_billing_runs import SEASON, SHANGHAI, midnight, publish
from tests.strategies import household_with_meter, item

D = Decimal
A_1 = ids.household_id("A-1")
JANUARY = (date(2026, 1, 1), date(2026, 1, 31))


def shanghai(text: str) -> datetime:
    """A moment written in Asia/Shanghai time, in UTC."""
    return datetime.fromisoformat(text).replace(tzinfo=SHANGHAI).astimezone(UTC)


@contextmanager
def recorded_at(container: Container, moment: datetime, world: datetime | None = None) -> Iterator[None]:
    """Commands inside are recorded at ``moment``; the ledger's clock stands at ``world`` (the
    moment itself unless given)."""
    with freeze_time(moment):
        if world is not None:
            container.ledger.clock = lambda: world
        try:
            yield
        finally:
            container.ledger.clock = lambda: datetime.now(UTC)


def daily_readings(container: Container, serial: str, first: date, last: date, daily_gj: Decimal) -> None:
    """A reading at every midnight from ``first`` to ``last``, ``daily_gj`` apart from 100 GJ on
    the season's first day."""
    days = (last - first).days + 1
    offset = (first - SEASON.first_day).days
    items = [
        item(serial, midnight(first + timedelta(days=day)), D(100) + daily_gj * (offset + day)) for day in range(days)
    ]
    assert container.ledger.record_readings(SYSTEM, items).accepted == days


def january_energy_gj(reads: KnownReads) -> Decimal:
    periods = reads.queries.household_consumption(A_1, *JANUARY, Granularity.MONTH)
    return sum((period.energy_gj for period in periods), D(0))


@pytest.fixture
def told_in_february(container: Container) -> Container:
    """A-1 (90 m², meter M-1 read at 0.2 GJ a day) is charged its 1944.00 元 prepayment on
    20 October, pays 1000 元 on 20 January; its readings of November to 1 February are recorded
    on 2 February. On 20 February the ledger learns: the register on 1 February read 1 GJ too
    low (a correction), the 20 January payment bounced (a reversal), and a bank transfer of
    300 元 with the value date 30 January (keyed in late)."""
    with recorded_at(container, shanghai("2025-10-05T10:00")):
        household_with_meter(container.ledger, "A-1", "M-1")
        publish(container)
    with recorded_at(container, shanghai("2025-10-20T10:00")):
        container.billing_runs.run(SYSTEM, RunRequest(BillKind.PREPAYMENT, SEASON))
    with recorded_at(container, shanghai("2026-01-20T10:00")):
        container.payments.receive_at_counter(SYSTEM, "A-1", D(1000), PaymentChannel.CASH, "R-1")
    with recorded_at(container, shanghai("2026-02-02T09:00")):
        daily_readings(container, "M-1", SEASON.first_day, date(2026, 2, 1), D("0.2"))
    with recorded_at(container, shanghai("2026-02-20T10:00")):
        last = midnight(date(2026, 2, 1))
        container.ledger.correct_reading(
            SYSTEM, "M-1", last, item("M-1", last, D(100) + D("0.2") * 92 + 1).values, "register misread"
        )
        (payment,) = PaymentQueries(container.engine).payments_of_household(A_1).items
        container.payments.reverse(SYSTEM, payment.payment_id, ReversalKind.BOUNCED, "the transfer bounced")
    with recorded_at(container, shanghai("2026-02-20T11:00"), world=shanghai("2026-01-30T15:00")):
        container.payments.receive_at_counter(SYSTEM, "A-1", D(300), PaymentChannel.BANK_TRANSFER, "B-30")
    container.catch_up()
    return container


def test_the_balance_on_31_january_as_known_on_15_february_ignores_what_was_recorded_on_20_february(
    told_in_february: Container,
) -> None:
    as_known = told_in_february.as_known
    now = as_known.live()
    # Now the late transfer counts on its value date: 1944.00 − 1000 − 300.
    assert now.payments.balance_as_of(A_1, date(2026, 1, 31)).balance_yuan == D("644.00")

    with as_known.household("A-1", shanghai("2026-02-15T12:00")) as then:
        on_31_january = then.payments.balance_as_of(A_1, date(2026, 1, 31))
        assert (on_31_january.charged_yuan, on_31_january.paid_yuan) == (D("1944.00"), D(1000))
        assert on_31_january.balance_yuan == D("944.00")
        balance = then.billing.balance(A_1)
        assert balance is not None and balance.balance_yuan == D("944.00")
        assert january_energy_gj(then) == D("6.2")  # 31 days × 0.2 GJ, as read
        assert then.known_at == shanghai("2026-02-15T12:00") and then.position is not None
    # Now: the bounced 1000 元 is owed again (from 20 February), and January had 1 GJ more than read.
    assert now.billing.balance(A_1).balance_yuan == D("1944.00") - D(300)  # type: ignore[union-attr]
    assert january_energy_gj(now) == D("7.2")


def test_an_answer_as_known_between_two_commands_holds_the_first_only(told_in_february: Container) -> None:
    as_known = told_in_february.as_known
    with as_known.household("A-1", shanghai("2026-02-20T10:30")) as between:
        assert january_energy_gj(between) == D("7.2")  # the correction is known
        assert between.payments.balance_as_of(A_1, date(2026, 1, 31)).paid_yuan == D(1000)  # not the late transfer
        assert [
            (p.amount_yuan, p.reversed_on is not None) for p in between.payments.payments_of_household(A_1).items
        ] == [(D(1000), True)]
    # Exactly at a command's moment, it is known.
    with as_known.household("A-1", shanghai("2026-01-20T10:00")) as at_payment:
        assert at_payment.payments.balance_as_of(A_1, date(2026, 1, 31)).paid_yuan == D(1000)
    with as_known.household("A-1", shanghai("2026-01-20T10:00") - timedelta(microseconds=1)) as before_payment:
        assert before_payment.payments.balance_as_of(A_1, date(2026, 1, 31)).paid_yuan == 0


def test_bills_as_known_are_those_issued_by_then(told_in_february: Container) -> None:
    as_known = told_in_february.as_known
    (prepayment,) = as_known.live().billing.bills_of_household(A_1).items
    with as_known.household("A-1", shanghai("2025-10-20T09:59")) as before:
        assert before.billing.bills_of_household(A_1).total == 0
        assert before.queries.household("A-1") is not None  # registered already
    with as_known.bill(prepayment.bill_id, shanghai("2025-10-20T09:59")) as before:
        assert before.billing.bill(prepayment.bill_id) is None
    with as_known.bill(prepayment.bill_id, shanghai("2025-10-20T10:00")) as issued:
        assert issued.billing.bill(prepayment.bill_id) == prepayment


def test_before_the_household_was_registered_nothing_is_known_of_it(told_in_february: Container) -> None:
    with told_in_february.as_known.household("A-1", shanghai("2025-10-01T00:00")) as before:
        assert before.queries.household("A-1") is None
        assert before.billing.balance(A_1) is None
        assert before.position == 0
