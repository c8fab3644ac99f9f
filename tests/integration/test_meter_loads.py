"""A batch's meters loaded in two reads (application/meter_loads.py, infrastructure/meter_selection.py)
are the meters the library's own load makes, on both backends: from their newest snapshot and the
events after it, or from all their events; cached as ``Repository.get`` caches them; a missing meter
is absent; and a batch reads only the meters the cache lacks, once."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from typing import Any
from uuid import UUID

from application.authorization import SYSTEM
from application.ingestion import ReadingItem
from application.ledger import HeatLedger
from application.meter_loads import load_meters
from domain import ids
from domain.meter import Meter
from domain.readings import ReadingValues
from infrastructure.container import Container
from infrastructure.meter_selection import meter_selection_of
from tests.strategies import COMMISSIONED_AT, commission_meter

SERIALS = ("ML-1", "ML-2", "ML-3")
# Readings of the first meter: past two snapshots (one every METER_SNAPSHOT_INTERVAL events).
SNAPSHOTTED_READINGS = 2 * 200 + 7


def _reading(day: int) -> ReadingValues:
    return ReadingValues(
        COMMISSIONED_AT + timedelta(days=1, hours=day), Decimal(100) + Decimal(day) / 100, Decimal(1000) + day
    )


def _stored_meters_of(ledger: HeatLedger) -> Any:
    snapshots = ledger.snapshots.recorder if ledger.snapshots is not None else None
    return meter_selection_of(ledger.recorder, snapshots)


def _with_readings(ledger: HeatLedger) -> list[UUID]:
    for serial in SERIALS:
        commission_meter(ledger, serial)
    first = [ReadingItem(SERIALS[0], _reading(hour)) for hour in range(SNAPSHOTTED_READINGS)]
    for start in range(0, len(first), 100):
        ledger.record_readings(SYSTEM, first[start : start + 100])
    ledger.record_readings(SYSTEM, [ReadingItem(SERIALS[1], _reading(hour)) for hour in range(3)])
    return [ids.meter_id(serial) for serial in SERIALS]


def test_meters_loaded_at_once_are_what_the_library_rebuilds(container: Container) -> None:
    ledger = container.ledger
    meter_ids = _with_readings(ledger)
    assert ledger.snapshots is not None and ledger.snapshots.get(meter_ids[0])  # the first has snapshots
    cache = ledger.repository.cache
    assert cache is not None
    cache.cache.clear()

    missing = ids.meter_id("ML-NONE")
    loaded = load_meters(ledger.mapper, cache, _stored_meters_of(ledger), [*meter_ids, missing])

    assert set(loaded) == set(meter_ids)  # the missing meter is absent
    for meter_id in meter_ids:
        rebuilt: Meter = ledger.repository.get(meter_id, version=loaded[meter_id].version)  # from the store
        assert vars(loaded[meter_id]) == vars(rebuilt)
        assert loaded[meter_id] is ledger.repository.get(meter_id, deepcopy_from_cache=False)  # cached
    assert loaded[meter_ids[0]].readings_count == SNAPSHOTTED_READINGS


def test_a_batch_reads_the_meters_the_cache_lacks_at_once(container: Container) -> None:
    ledger = container.ledger
    meter_ids = _with_readings(ledger)
    reads: list[list[UUID]] = []
    selection = _stored_meters_of(ledger)

    def counted(wanted: Any) -> Any:
        reads.append(sorted(wanted))
        return selection(wanted)

    ledger.stored_meters_of = counted
    ledger.evict_ids(meter_ids[1:])  # the first stays cached
    later = SNAPSHOTTED_READINGS + 1
    batch = [ReadingItem(serial, _reading(later + number)) for number, serial in enumerate(SERIALS)]
    batch += [ReadingItem("ML-NONE", _reading(later)), ReadingItem(SERIALS[1], _reading(1))]  # unknown, duplicate

    report = ledger.record_readings(SYSTEM, batch)

    assert [(outcome.status, outcome.reason) for outcome in report.outcomes] == [
        ("accepted", None),
        ("accepted", None),
        ("accepted", None),
        ("rejected", "unknown_meter"),
        ("duplicate", None),
    ]
    assert reads == [sorted([*meter_ids[1:], ids.meter_id("ML-NONE")])]  # one read, the uncached only
    for meter_id in meter_ids:  # what was saved is what the store rebuilds
        cached: Meter = ledger.repository.get(meter_id, deepcopy_from_cache=False)
        assert vars(cached) == vars(ledger.repository.get(meter_id, version=cached.version))
    ledger.record_readings(SYSTEM, batch[:3])  # all cached now: no read
    assert len(reads) == 1


def test_the_composition_root_gives_the_ledger_the_bulk_meter_load(container: Container) -> None:
    """bootstrap wires ``stored_meters_of`` to this store's recorders: without it every batch of a
    fresh process loads its meters one by one (two reads each)."""
    ledger = container.ledger
    meter_ids = _with_readings(ledger)
    assert ledger.stored_meters_of is not None
    snapshots, events = ledger.stored_meters_of(meter_ids)
    assert {snapshot.originator_id for snapshot in snapshots} == {meter_ids[0]}  # only the first has one
    assert {stored.originator_id for stored in events} == set(meter_ids)
