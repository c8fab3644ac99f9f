"""Many aggregates of one kind loaded with one read of the event store, for runs over a city.

The library loads an aggregate with two queries (its last snapshot, then its events): a billing
run of 250 households per chunk paid 500 round trips per chunk for periods it then billed. Here
the chunk's events come back in one selection (``StoredEventsOf``, implemented per backend in
``infrastructure/event_selection.py`` and wired by the composition root), each aggregate is
rebuilt from its own events, and the ledger's aggregate cache receives it, as ``Repository.get``
would have put it there. An aggregate in the cache at the version the store holds is kept as it is
(no decoding at all); one the store has moved past is rebuilt.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Sequence
from typing import Any, TypeVar
from uuid import UUID

from eventsourcing.domain import Aggregate
from eventsourcing.persistence import StoredEvent

from application.ledger import HeatLedger

# (aggregate ids) → their stored events, in any order (one read of the event store)
StoredEventsOf = Callable[[Sequence[UUID]], Sequence[StoredEvent]]
# A bound on one bulk load: a chunk of a run, never a city.
MAXIMUM_AGGREGATES_PER_LOAD = 5_000
# A bound on what one aggregate of a bulk-loaded kind holds (a billing period has a handful).
MAXIMUM_EVENTS_PER_AGGREGATE = 10_000

AggregateType = TypeVar("AggregateType", bound=Aggregate)


def load_many(
    ledger: HeatLedger, kind: type[AggregateType], stored_events_of: StoredEventsOf, aggregate_ids: Sequence[UUID]
) -> dict[UUID, AggregateType]:
    """The aggregates of ``aggregate_ids`` that exist (the cached objects, not copies: the caller
    evicts them when it does not save them, as with ``HeatLedger.load_or_none``). Only for kinds
    the ledger never snapshots: their events alone make them."""
    assert kind not in ledger.snapshotting_intervals, f"{kind.__name__} is snapshotted: load it from its snapshot"
    assert len(aggregate_ids) <= MAXIMUM_AGGREGATES_PER_LOAD, "a bulk load is a chunk of a run"
    by_aggregate: dict[UUID, list[StoredEvent]] = defaultdict(list)
    for stored in stored_events_of(aggregate_ids):
        assert isinstance(stored.originator_id, UUID), "the ledger's aggregate ids are UUIDs"
        by_aggregate[stored.originator_id].append(stored)
    cache = ledger.repository.cache
    loaded: dict[UUID, AggregateType] = {}
    for aggregate_id, stored_events in by_aggregate.items():
        assert len(stored_events) <= MAXIMUM_EVENTS_PER_AGGREGATE, f"{aggregate_id} holds too many events"
        stored_events.sort(key=lambda stored: stored.originator_version)
        cached = _cached(cache, aggregate_id)
        if cached is not None and cached.version == stored_events[-1].originator_version:
            aggregate = cached
        else:
            aggregate = _rebuilt(ledger, stored_events)
            if cache is not None:
                cache.put(aggregate_id, aggregate)
        assert isinstance(aggregate, kind), f"{aggregate_id} is not a {kind.__name__}"
        loaded[aggregate_id] = aggregate
    return loaded


def _cached(cache: Any, aggregate_id: UUID) -> Any:
    if cache is None:
        return None
    try:
        return cache.get(aggregate_id)
    except KeyError:
        return None


def _rebuilt(ledger: HeatLedger, stored_events: Sequence[StoredEvent]) -> Any:
    """The aggregate its events make, decoded and applied in version order (the library's
    ``project_aggregate`` without its per-event protocol check, a tenth of a rebuild's time)."""
    aggregate: Any = None
    expected_version = stored_events[0].originator_version
    for stored in stored_events:
        assert stored.originator_version == expected_version, "an aggregate's versions follow one another"
        aggregate = ledger.mapper.to_domain_event(stored).mutate(aggregate)  # type: ignore[attr-defined]
        expected_version += 1
    return aggregate
