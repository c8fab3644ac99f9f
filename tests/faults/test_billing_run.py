"""A worker killed (``kill -9``) mid billing run (issue 16, fault suite; items 3 and 4).

A real ``heatledger worker`` runs a prepayment run for 1,500 households (six chunks of 250) queued
on the test's own Redis; it is killed once a chunk is saved and before the last. A second worker
takes the run over when the first one's lease runs out and finishes it. The standard check follows:
every household billed exactly once in the event store (no bill issued twice, none lost), the run's
summary counting by run id every bill it issued, before the kill too, and the read models equal to
a rebuild.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable, Iterator
from datetime import date
from decimal import Decimal
from uuid import UUID, uuid4

import pytest
from sqlalchemy import select

from application.authorization import SYSTEM
from application.billing_runs import RunRequest
from domain.billing import BillKind
from domain.household import Household
from domain.season import Season
from domain.settlement import SettlementPolicy, TwoPartPrice
from domain.tariff import TariffTerms
from domain.values import (
    Address,
    Areas,
    CommandContext,
    CustomerClass,
    HorizontalPosition,
    Position,
    VerticalPosition,
)
from infrastructure.billing_runs import RUN_BILLING, BillingRunRecord, RunStatus
from infrastructure.container import Container, bootstrap
from infrastructure.settings import Settings
from projections.tables import bills
from tests.faults.conftest import WorkerProcess, eventually
from tests.strategies import projection_rows

StartWorker = Callable[..., WorkerProcess]
HOUSEHOLDS = 1500  # six chunks of 250
REGISTERED_ON = date(2025, 10, 1)
AREA_M2 = Decimal("90.00")
PRICE_PER_M2_YUAN = Decimal("21.6")
BILL_YUAN = Decimal("1944.00")  # 90 m² × 21.6 元/m²


def account(number: int) -> str:
    return f"WZ-{number:05d}"


def register_city(container: Container) -> None:
    """``HOUSEHOLDS`` households in one community (saved 500 to a save: the set-up, not the test)
    and the residential tariff the prepayment run prices with; the read models caught up."""
    context = CommandContext(SYSTEM.name, "registration", uuid4())
    position = Position(VerticalPosition.MIDDLE, HorizontalPosition.MIDDLE)
    households = [
        Household.register(
            account(number),
            Address("碧桂园", str(1 + number // 100), "1", 1 + number % 20, f"{number % 100:03d}"),
            Areas(AREA_M2, AREA_M2),
            CustomerClass.RESIDENTIAL,
            position,
            REGISTERED_ON,
            context,
        )
        for number in range(HOUSEHOLDS)
    ]
    for start in range(0, HOUSEHOLDS, 500):
        container.ledger.save(*households[start : start + 500])
    price = TwoPartPrice(PRICE_PER_M2_YUAN, Decimal(30), Decimal("43.9"), SettlementPolicy.REFUND_ONLY)
    container.billing.publish_tariff(
        SYSTEM, CustomerClass.RESIDENTIAL, "*", TariffTerms(price), REGISTERED_ON, None, "DOC-1", REGISTERED_ON
    )
    container.catch_up()


@pytest.fixture
def city(fault_settings: Settings) -> Iterator[Container]:
    built = bootstrap(fault_settings)
    register_city(built)
    yield built
    built.close()


def record_of(container: Container, run_id: UUID) -> BillingRunRecord:
    return container.run_store.get(run_id)


def issued_bills(container: Container) -> Counter[tuple[UUID, str, str]]:
    """How often the event store holds each bill: per billing period, kind and label."""
    recorder, mapper = container.ledger.recorder, container.ledger.mapper
    found: Counter[tuple[UUID, str, str]] = Counter()
    position = 0
    for _ in range(10_000):  # pages of 1,000: far more than a test writes
        notifications = recorder.select_notifications(start=position, limit=1000, inclusive_of_start=False)
        if not notifications:
            return found
        for notification in notifications:
            if notification.topic.endswith("BillingPeriod.BillIssued"):
                event = mapper.to_domain_event(notification)
                found[(event.originator_id, event.kind, event.label)] += 1
        position = notifications[-1].id
    raise AssertionError("the notification log did not end")


def test_a_billing_run_killed_mid_way_is_finished_by_another_worker_billing_each_household_once(
    city: Container, workers: StartWorker
) -> None:
    run_id = city.run_store.submit(SYSTEM, RunRequest(BillKind.PREPAYMENT, Season.default_starting(2025)), "prepayment")
    first = workers()
    city.jobs.enqueue(RUN_BILLING, run_id=str(run_id), _job_id=f"{RUN_BILLING}:{run_id}")

    eventually(lambda: record_of(city, run_id).households_done >= 250, "the first chunk billed", 60)
    first.kill()
    killed_at = time.monotonic()
    before_kill = record_of(city, run_id)
    assert before_kill.status is RunStatus.RUNNING, "the kill came too late to be mid-run"
    assert 250 <= before_kill.households_done < HOUSEHOLDS
    issued_before_kill = sum(issued_bills(city).values())
    assert issued_before_kill >= 250  # what the killed worker saved stays saved

    second = workers()
    eventually(lambda: record_of(city, run_id).status is RunStatus.DONE, "the run finished by another worker", 60)
    taken_over_seconds = time.monotonic() - killed_at
    assert taken_over_seconds < 30, f"finished {taken_over_seconds:.1f} s after the kill"
    assert "its worker stopped (lease ran out)" in second.text()

    # Every household billed exactly once: nothing lost, nothing issued twice.
    issued = issued_bills(city)
    assert len(issued) == HOUSEHOLDS
    assert set(issued.values()) == {1}
    # The summary counts by run id: the bills of the killed execution are this run's, not "already issued".
    record = record_of(city, run_id)
    assert record.summary is not None
    assert (record.summary["bills_issued"], record.summary["already_issued"]) == (HOUSEHOLDS, 0)
    assert Decimal(record.summary["charged_yuan"]) == BILL_YUAN * HOUSEHOLDS
    assert (record.households_done, record.households_total) == (HOUSEHOLDS, HOUSEHOLDS)

    city.catch_up()
    with city.engine.connect() as connection:
        amounts = connection.execute(select(bills.c.amount_yuan)).scalars().all()
    assert len(amounts) == HOUSEHOLDS
    assert sum(amounts, Decimal(0)) == BILL_YUAN * HOUSEHOLDS
    incremental = projection_rows(city.engine)
    city.runner.rebuild()
    assert projection_rows(city.engine) == incremental
