"""A batch's meters that the aggregate cache lacks, loaded in two reads and put in the cache.

``HeatLedger.record_readings`` loads each meter of a batch as the library does (its newest
snapshot, then its events after it: two queries a meter) unless the composition root gives it a
``StoredMetersOf`` (``infrastructure/meter_selection.py``): then the meters the cache does not hold
come back in one read of their snapshots and one of their events, and each is rebuilt from them as
``Repository.get`` rebuilds it (the snapshot, then its events, each event mutating the meter), and
cached as ``Repository.get`` caches it. Meters already cached are not read at all.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Sequence
from typing import Any
from uuid import UUID

from eventsourcing.persistence import Mapper, StoredEvent

from domain.meter import Meter

# (meter ids) → (their newest snapshots, their events after those), in any order.
StoredMetersOf = Callable[[Sequence[UUID]], tuple[Sequence[StoredEvent], Sequence[StoredEvent]]]


def uncached(cache: Any, meter_ids: Sequence[UUID]) -> list[UUID]:
    """The ids of ``meter_ids`` the aggregate cache does not hold (all of them without a cache)."""
    if cache is None:
        return list(meter_ids)
    missing = []
    for meter_id in meter_ids:
        try:
            cache.get(meter_id)
        except KeyError:
            missing.append(meter_id)
    return missing


def load_meters(
    mapper: Mapper[UUID], cache: Any, stored_meters_of: StoredMetersOf, meter_ids: Sequence[UUID]
) -> dict[UUID, Meter]:
    """The meters of ``meter_ids`` that exist, rebuilt from one read of the stores and put in the
    cache (when there is one): the objects ``Repository.get`` would have cached."""
    snapshots, events = stored_meters_of(meter_ids)
    snapshot_of = {snapshot.originator_id: snapshot for snapshot in snapshots}
    events_of: dict[Any, list[StoredEvent]] = defaultdict(list)
    for stored in events:
        events_of[stored.originator_id].append(stored)
    loaded: dict[UUID, Meter] = {}
    for meter_id in {*snapshot_of, *events_of}:
        meter = _rebuilt(mapper, snapshot_of.get(meter_id), events_of.get(meter_id, []))
        assert isinstance(meter, Meter), f"{meter_id} is not a meter"
        if cache is not None:
            cache.put(meter_id, meter)
        loaded[meter_id] = meter
    return loaded


def _rebuilt(mapper: Mapper[UUID], snapshot: StoredEvent | None, events: list[StoredEvent]) -> Any:
    """The aggregate of a snapshot (if any) and the events after it, applied in version order;
    each event's version must follow the last (as the library's mutate checks)."""
    aggregate: Any = None
    if snapshot is not None:
        aggregate = mapper.to_domain_event(snapshot).mutate(None)  # type: ignore[attr-defined]
    for stored in sorted(events, key=lambda stored: stored.originator_version):
        aggregate = mapper.to_domain_event(stored).mutate(aggregate)  # type: ignore[attr-defined]
    return aggregate
