"""Two writers on one store: a batch whose meter changed meanwhile is judged again from fresh state.

Two HeatLedger instances share one SQLite file, as two API workers share the database. Each has
its own aggregate cache (no fast-forward), so the second writer's events make the first one's
cached meter stale: its save fails the version check, and the ledger evicts and retries.
"""

import threading
from collections.abc import Callable, Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from application.authorization import SYSTEM
from application.ingestion import ItemStatus
from application.ledger import MAXIMUM_SAVE_ATTEMPTS, HeatLedger
from domain import ids
from domain.errors import ConflictError
from domain.meter import Meter
from tests.strategies import RECEIVED_LATER, SEASON_START, hours_after, household_with_meter, item, statuses

T = SEASON_START
ACCEPTED, DUPLICATE = ItemStatus.ACCEPTED, ItemStatus.DUPLICATE


def sqlite_environment(path: Path, cache: bool = True) -> dict[str, str]:
    environment = {"PERSISTENCE_MODULE": "eventsourcing.sqlite", "SQLITE_DBNAME": str(path)}
    if cache:
        environment |= {"AGGREGATE_CACHE_MAXSIZE": "1000", "AGGREGATE_CACHE_FASTFORWARD": "n"}
    return environment


@pytest.fixture
def two_writers(tmp_path: Path) -> Iterator[tuple[HeatLedger, HeatLedger]]:
    path = tmp_path / "events.sqlite"
    first = HeatLedger(env=sqlite_environment(path), clock=lambda: RECEIVED_LATER)
    second = HeatLedger(env=sqlite_environment(path), clock=lambda: RECEIVED_LATER)
    household_with_meter(first)
    yield first, second
    first.close()
    second.close()


def stored_readings(path_ledger: HeatLedger) -> list[tuple[Any, Any]]:
    events = path_ledger.events.get(ids.meter_id("M-1"))
    return [(event.measured_at, event.energy_gj) for event in events if isinstance(event, Meter.ReadingRecorded)]


def interfere_before_save(
    ledger: HeatLedger, monkeypatch: pytest.MonkeyPatch, write: Callable[[int], None]
) -> list[int]:
    """Make ``write(attempt)`` run after the ledger judged a batch and before it saves it."""
    original_save = ledger.save
    attempts: list[int] = []

    def save_after_another_writer(*objs: Any, **kwargs: Any) -> Any:
        attempts.append(len(attempts) + 1)
        write(attempts[-1])
        return original_save(*objs, **kwargs)

    monkeypatch.setattr(ledger, "save", save_after_another_writer)
    return attempts


def test_a_stale_cached_meter_is_evicted_and_the_batch_judged_again(two_writers: tuple[HeatLedger, HeatLedger]) -> None:
    first, second = two_writers
    first.record_readings(SYSTEM, [item("M-1", T, "10")])  # the first writer now caches the meter
    second.record_readings(SYSTEM, [item("M-1", hours_after(T, 24), "11")])  # unknown to the first writer's cache
    report = first.record_readings(SYSTEM, [item("M-1", hours_after(T, 48), "11.5")])
    assert statuses(report) == [(ACCEPTED, None)]
    latest = list(first.events.get(ids.meter_id("M-1")))[-1]
    # Judged against the fresh meter: the interval starts at the other writer's 24 h reading (11.5 − 11 = 0.5).
    intervals = [(interval.start, interval.energy_gj) for interval in latest.intervals]
    assert intervals == [(hours_after(T, 24), Decimal("0.5"))]
    assert [energy for _, energy in stored_readings(first)] == [10, 11, Decimal("11.5")]


def test_a_reading_the_other_writer_saved_first_is_reported_as_a_duplicate(
    two_writers: tuple[HeatLedger, HeatLedger], monkeypatch: pytest.MonkeyPatch
) -> None:
    first, second = two_writers
    same_reading = [item("M-1", T, "10")]

    def other_writer_sends_the_same(attempt: int) -> None:
        if attempt == 1:
            assert statuses(second.record_readings(SYSTEM, same_reading)) == [(ACCEPTED, None)]

    attempts = interfere_before_save(first, monkeypatch, other_writer_sends_the_same)
    report = first.record_readings(SYSTEM, same_reading)
    # The first attempt's save failed; the retry found the reading already held and saved nothing.
    assert attempts == [1]
    assert statuses(report) == [(DUPLICATE, None)]
    assert len(stored_readings(first)) == 1


def test_a_reading_that_no_longer_fits_after_the_other_write_is_reported_rejected(
    two_writers: tuple[HeatLedger, HeatLedger], monkeypatch: pytest.MonkeyPatch
) -> None:
    first, second = two_writers

    def other_writer_records_a_higher_reading(attempt: int) -> None:
        if attempt == 1:
            second.record_readings(SYSTEM, [item("M-1", hours_after(T, 24), "12")])

    interfere_before_save(first, monkeypatch, other_writer_records_a_higher_reading)
    # 11 at 12 h was fine alone; after the other writer's 12 at 24 h it still fits (11 < 12): accepted.
    # 13 at 18 h no longer fits before 12 at 24 h: the retry rejects it, and says why.
    items = [item("M-1", hours_after(T, 12), "11"), item("M-1", hours_after(T, 18), "13")]
    report = first.record_readings(SYSTEM, items)
    assert statuses(report) == [(ACCEPTED, None), (ItemStatus.REJECTED, "inconsistent_with_next")]
    assert stored_readings(first) == [(hours_after(T, 24), 12), (hours_after(T, 12), 11)]


def test_retries_are_bounded_and_then_nothing_is_saved(
    two_writers: tuple[HeatLedger, HeatLedger], monkeypatch: pytest.MonkeyPatch
) -> None:
    first, second = two_writers

    def other_writer_always_gets_there_first(attempt: int) -> None:
        report = second.record_readings(SYSTEM, [item("M-1", hours_after(T, attempt), Decimal("0.1") * attempt)])
        assert report.accepted == 1

    attempts = interfere_before_save(first, monkeypatch, other_writer_always_gets_there_first)
    with pytest.raises(ConflictError, match="kept changing"):
        first.record_readings(SYSTEM, [item("M-1", hours_after(T, 100), "40")])
    assert attempts == list(range(1, MAXIMUM_SAVE_ATTEMPTS + 1))
    # Only the other writer's readings were saved: 0.1, 0.2, 0.3 GJ.
    others = [Decimal("0.1") * attempt for attempt in range(1, MAXIMUM_SAVE_ATTEMPTS + 1)]
    assert [energy for _, energy in stored_readings(first)] == others


def test_a_fresh_ledger_without_a_cache_reads_what_both_writers_saved(
    two_writers: tuple[HeatLedger, HeatLedger], tmp_path: Path
) -> None:
    first, second = two_writers
    first.record_readings(SYSTEM, [item("M-1", T, "10")])
    second.record_readings(SYSTEM, [item("M-1", hours_after(T, 24), "11")])
    reader = HeatLedger(env=sqlite_environment(tmp_path / "events.sqlite", cache=False))
    try:
        meter = reader.meter("M-1")
        assert [reading.energy_register_gj for reading in meter.window] == [10, 11]
        assert meter.version == second.meter("M-1").version == 4  # commissioned, attached, two readings
    finally:
        reader.close()


def test_a_batch_waiting_to_save_loses_nothing_to_a_concurrent_batch_on_the_same_meter(
    two_writers: tuple[HeatLedger, HeatLedger], monkeypatch: pytest.MonkeyPatch
) -> None:
    # Two requests of one process (the API's thread pool) send readings for the same meter while
    # another process writes to it too. Request A has judged its reading and is about to save;
    # request B runs meanwhile and its first save conflicts with the other process's write.
    # Whatever the interleaving, every reading reported accepted must be in the store.
    first, other_process = two_writers
    first.record_readings(SYSTEM, [item("M-1", T, "10")])  # the meter is now cached by the first ledger
    a_judged, a_may_save = threading.Event(), threading.Event()
    original_save = first.save

    def save_pausing_request_a(*objs: Any, **kwargs: Any) -> Any:
        if threading.current_thread().name == "request-a" and not a_judged.is_set():
            a_judged.set()
            assert a_may_save.wait(timeout=10)
        return original_save(*objs, **kwargs)

    monkeypatch.setattr(first, "save", save_pausing_request_a)
    reports: dict[str, Any] = {}

    def request(name: str, reading: Any) -> None:
        reports[name] = first.record_readings(SYSTEM, [reading])

    a = threading.Thread(target=request, args=("a", item("M-1", hours_after(T, 10), "10.5")), name="request-a")
    b = threading.Thread(target=request, args=("b", item("M-1", hours_after(T, 30), "11.5")), name="request-b")
    a.start()
    assert a_judged.wait(timeout=10)
    other_process.record_readings(SYSTEM, [item("M-1", hours_after(T, 20), "11")])
    b.start()
    b.join(timeout=0.5)  # B may finish now or wait for A; either is fine
    a_may_save.set()
    a.join(timeout=10)
    b.join(timeout=10)
    assert statuses(reports["a"]) == statuses(reports["b"]) == [(ACCEPTED, None)]
    assert sorted(stored_readings(first)) == [
        (T, 10),
        (hours_after(T, 10), Decimal("10.5")),
        (hours_after(T, 20), 11),
        (hours_after(T, 30), Decimal("11.5")),
    ]
