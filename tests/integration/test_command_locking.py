"""Commands run side by side per aggregate (issue 16, item 8), through the real services.

- Side by side: two commands on different aggregates are both inside ``save`` at once. The proof
  is a barrier of two parties in ``save``: it opens only when both threads are in it together, so
  a command still run alone in the process (the process lock exclusive) breaks it. The same
  barrier under ``always_exclusive`` (the fallback setting) breaks: the test can fail.
- Same aggregate: never two saves of one aggregate in flight, and nothing lost.
- No lost update: hypothesis draws which thread changes which household or meter, in which order;
  every change is in the store once, each aggregate's versions gap-free.
"""

from __future__ import annotations

import itertools
import threading
from collections import Counter
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from application.authorization import SYSTEM, Principal, Role
from application.ledger import HeatLedger
from domain import ids
from domain.household import Household
from domain.meter import Meter
from domain.payment import PaymentChannel, ReversalKind
from domain.settlement import SettlementPolicy, TwoPartPrice
from domain.tariff import TariffTerms
from domain.values import Areas, CustomerClass
from domain.verification import TestPoint
from infrastructure.container import Container
from tests.strategies import MEMORY_ENVIRONMENT, commission_meter, register_household

CLERK = Principal("clerk-wang", Role.CLERK)
BARRIER_TIMEOUT_SECONDS = 20  # only reached when the two commands cannot be inside at once
PASSING = [
    TestPoint(Decimal("0.25"), Decimal(20), Decimal("1.1")),
    TestPoint(Decimal("2.5"), Decimal(40), Decimal("-1.2")),
]


@contextmanager
def saves_meeting_at(
    ledger: HeatLedger, parties: int, timeout_seconds: float = BARRIER_TIMEOUT_SECONDS
) -> Iterator[threading.Barrier]:
    """Every save waits at a barrier of ``parties`` before it is made."""
    barrier = threading.Barrier(parties, timeout=timeout_seconds)
    original = ledger.save

    def meeting(*objects: Any, **options: Any) -> Any:
        barrier.wait()
        return original(*objects, **options)

    ledger.save = meeting  # type: ignore[method-assign]
    try:
        yield barrier
    finally:
        del ledger.save


def both_at_once(first: Callable[[], object], second: Callable[[], object]) -> None:
    """Run the two commands in two threads; their saves meet at the barrier (or it breaks)."""
    with ThreadPoolExecutor(max_workers=2) as pool:
        for future in [pool.submit(first), pool.submit(second)]:
            future.result(timeout=2 * BARRIER_TIMEOUT_SECONDS)


def area(square_metres: int) -> Areas:
    return Areas(Decimal(square_metres), Decimal(square_metres))


# Every correction names an area never used before (the same area again is refused as no change).
_fresh_areas = itertools.count(100)


def fresh_area() -> Areas:
    return area(next(_fresh_areas))


CommandPair = Callable[[Container], tuple[Callable[[], object], Callable[[], object]]]


def households_corrected(container: Container) -> tuple[Callable[[], object], Callable[[], object]]:
    ledger = container.ledger
    for account in ("WZ-A", "WZ-B"):
        register_household(ledger, account)
    on = date(2025, 11, 15)
    return (
        lambda: ledger.correct_area(CLERK, "WZ-A", area(80), on, "measured again"),
        lambda: ledger.correct_area(CLERK, "WZ-B", area(70), on, "measured again"),
    )


def meters_verified(container: Container) -> tuple[Callable[[], object], Callable[[], object]]:
    ledger = container.ledger
    for serial in ("M-A", "M-B"):
        commission_meter(ledger, serial)
    on = date(2025, 11, 15)
    return (
        lambda: ledger.record_verification(SYSTEM, "M-A", on, "JJG-1", PASSING),
        lambda: ledger.record_verification(SYSTEM, "M-B", on, "JJG-2", PASSING),
    )


def tariffs_published(container: Container) -> tuple[Callable[[], object], Callable[[], object]]:
    price = TwoPartPrice(Decimal("21.6"), Decimal(30), Decimal("43.9"), SettlementPolicy.REFUND_ONLY)
    on = date(2025, 10, 1)

    def publish(scope: str) -> Callable[[], object]:
        return lambda: container.billing.publish_tariff(
            SYSTEM, CustomerClass.RESIDENTIAL, scope, TariffTerms(price), on, None, f"DOC-{scope}", on
        )

    return publish("碧桂园"), publish("万达")


def payments_reversed(container: Container) -> tuple[Callable[[], object], Callable[[], object]]:
    received = []
    for account in ("WZ-A", "WZ-B"):
        register_household(container.ledger, account)
        outcome = container.payments.receive_at_counter(
            CLERK, account, Decimal("100.00"), PaymentChannel.CASH, f"R-{account}"
        )
        received.append(outcome.payment_id)

    def reverse(payment_id: Any) -> Callable[[], object]:
        return lambda: container.payments.reverse(CLERK, payment_id, ReversalKind.ERROR, "wrong household")

    return reverse(received[0]), reverse(received[1])


def households_protected(container: Container) -> tuple[Callable[[], object], Callable[[], object]]:
    for account in ("WZ-A", "WZ-B"):
        register_household(container.ledger, account)
    return (
        lambda: container.arrears.mark_vulnerable(SYSTEM, "WZ-A", "elderly, lives alone"),
        lambda: container.arrears.mark_vulnerable(SYSTEM, "WZ-B", "in hospital"),
    )


def seasons_declared(container: Container) -> tuple[Callable[[], object], Callable[[], object]]:
    def declare(scope: str) -> Callable[[], object]:
        return lambda: container.seasons.declare(
            SYSTEM, scope, "2025-2026", date(2025, 10, 25), date(2026, 3, 31), f"DEC-{scope}", "cold autumn"
        )

    return declare("碧桂园"), declare("万达")


PAIRS: dict[str, CommandPair] = {
    "households": households_corrected,
    "meters": meters_verified,
    "tariffs": tariffs_published,
    "payments": payments_reversed,
    "protections": households_protected,
    "seasons": seasons_declared,
}


@pytest.mark.parametrize("pair", PAIRS.values(), ids=PAIRS.keys())
def test_commands_on_different_aggregates_are_inside_at_once(sqlite_container: Container, pair: CommandPair) -> None:
    first, second = pair(sqlite_container)
    with saves_meeting_at(sqlite_container.ledger, 2) as barrier:
        both_at_once(first, second)
    assert not barrier.broken


def test_under_the_exclusive_fallback_they_are_not(sqlite_container: Container) -> None:
    """The check can fail: with every command exclusive the two saves never meet."""
    first, second = households_corrected(sqlite_container)
    sqlite_container.ledger.locks.process.always_exclusive = True
    # The barrier is to break: a second of waiting shows it.
    with saves_meeting_at(sqlite_container.ledger, 2, 1.0), pytest.raises(threading.BrokenBarrierError):
        both_at_once(first, second)


@contextmanager
def saves_counted(ledger: HeatLedger) -> Iterator[Counter[Any]]:
    """The most saves of each aggregate ever in flight at once (``in_flight``: the current ones)."""
    guard = threading.Lock()
    in_flight: Counter[Any] = Counter()
    most: Counter[Any] = Counter()
    original = ledger.save

    def counted(*objects: Any, **options: Any) -> Any:
        changed = [getattr(changed, "id", None) for changed in objects]
        with guard:
            for aggregate_id in changed:
                in_flight[aggregate_id] += 1
                most[aggregate_id] = max(most[aggregate_id], in_flight[aggregate_id])
        try:
            return original(*objects, **options)
        finally:
            with guard:
                for aggregate_id in changed:
                    in_flight[aggregate_id] -= 1

    ledger.save = counted  # type: ignore[method-assign]
    try:
        yield most
    finally:
        del ledger.save


def memory_ledger(households: int, meters: int) -> HeatLedger:
    ledger = HeatLedger(env=MEMORY_ENVIRONMENT)
    for number in range(households):
        register_household(ledger, f"WZ-{number}")
    for number in range(meters):
        commission_meter(ledger, f"M-{number}")
    return ledger


def test_one_aggregate_is_saved_by_one_command_at_a_time() -> None:
    ledger = memory_ledger(1, 0)
    on = date(2025, 11, 15)

    def clerk(number: int) -> None:
        for round_number in range(10):
            ledger.correct_area(CLERK, "WZ-0", fresh_area(), on, f"clerk {number} round {round_number}")

    with saves_counted(ledger) as most, ThreadPoolExecutor(max_workers=6) as pool:
        list(pool.map(clerk, range(6)))
    assert most[ids.household_id("WZ-0")] == 1
    household = ledger.repository.get(ids.household_id("WZ-0"))
    assert isinstance(household, Household)
    assert household.version == 1 + 60  # registered, then every correction: none lost


Operation = tuple[int, str, int]  # (thread, "household" or "meter", which)


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.lists(
        st.tuples(st.integers(0, 3), st.sampled_from(["household", "meter"]), st.integers(0, 2)),
        min_size=1,
        max_size=40,
    )
)
def test_no_update_is_lost_whatever_the_interleaving(operations: list[Operation]) -> None:
    """Four threads, each doing its drawn share of corrections to three households and
    verifications of three meters in its drawn order: each one saved, each aggregate's events
    numbered without a gap, whichever thread got there first."""
    ledger = memory_ledger(3, 3)
    by_thread: dict[int, list[Operation]] = {}
    for operation in operations:
        by_thread.setdefault(operation[0], []).append(operation)
    on = date(2025, 11, 15)

    def run(mine: list[Operation]) -> None:
        for step, (thread, kind, which) in enumerate(mine):
            if kind == "household":
                ledger.correct_area(CLERK, f"WZ-{which}", fresh_area(), on, f"thread {thread} step {step}")
            else:
                ledger.record_verification(SYSTEM, f"M-{which}", on, f"JJG-{thread}-{step}", PASSING)

    with ThreadPoolExecutor(max_workers=4) as pool:
        for future in [pool.submit(run, mine) for mine in by_thread.values()]:
            future.result(timeout=60)

    expected = Counter((kind, which) for _, kind, which in operations)
    for which in range(3):
        household_events = list(ledger.events.get(ids.household_id(f"WZ-{which}")))
        meter_events = list(ledger.events.get(ids.meter_id(f"M-{which}")))
        assert [event.originator_version for event in household_events] == list(range(1, len(household_events) + 1))
        assert [event.originator_version for event in meter_events] == list(range(1, len(meter_events) + 1))
        assert (
            sum(isinstance(event, Household.AreaCorrected) for event in household_events)
            == expected[("household", which)]
        )
        assert (
            sum(isinstance(event, Meter.VerificationRecorded) for event in meter_events) == expected[("meter", which)]
        )


def test_a_household_command_that_loses_the_version_check_to_another_process_is_judged_again(
    tmp_path: Path,
) -> None:
    """Two processes' ledgers on one store, caches not fast-forwarded: the second's cached
    household is a version behind, its save conflicts, and the command is judged again on what
    the first saved (a bounded retry) instead of failing."""
    environment = {
        "PERSISTENCE_MODULE": "eventsourcing.sqlite",
        "SQLITE_DBNAME": str(tmp_path / "store.sqlite"),
        "AGGREGATE_CACHE_MAXSIZE": "100",
        "AGGREGATE_CACHE_FASTFORWARD": "n",
    }
    first, second = HeatLedger(env=environment), HeatLedger(env=environment)
    register_household(first, "WZ-0")
    on = date(2025, 11, 15)
    second.household("WZ-0")  # cached by the second process at version 1
    first.correct_area(CLERK, "WZ-0", fresh_area(), on, "survey")  # version 2, unknown to the second
    second.correct_area(CLERK, "WZ-0", fresh_area(), on, "survey again")

    events = list(first.events.get(ids.household_id("WZ-0")))
    assert [event.originator_version for event in events] == [1, 2, 3]
    assert [event.reason for event in events[1:]] == ["survey", "survey again"]
