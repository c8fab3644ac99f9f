"""The hash chain's quick check (``audit_chain.verify_intact``) against the walk that names problems
(``walk_chain``), over drawn stores and drawn edits behind the ledger's back: whenever the walk finds
the chain intact the quick check says so with the same result, and whenever the quick check says
intact the walk agrees. In memory: the two read the same rows, as the recorders' tables hold them."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from infrastructure import audit_chain
from infrastructure.audit_chain import (
    GENESIS_HASH,
    ChainRecord,
    Checkpoint,
    chain_records,
    stored_bytes,
    verify_intact,
    verify_intact_split,
    walk_chain,
)

TAKEN_AT = datetime(2026, 1, 15, 8, 0, tzinfo=UTC)


@pytest.fixture(scope="module")
def monkeypatch_least() -> Any:
    """Ranges of a single position allowed (the drawn stores hold a dozen events at most)."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(audit_chain, "LEAST_POSITIONS_PER_PROCESS", 1)
        yield


TOPICS = ("domain.meter:Meter.ReadingRecorded", "domain.household:Household.Registered")


@dataclass
class Store:
    """Events (id → originator, version, topic, state), chain records and their page readers."""

    events: dict[int, tuple[UUID, int, str, bytes]] = field(default_factory=dict)
    chain: dict[int, ChainRecord] = field(default_factory=dict)

    # -- what the walk reads (the ChainedRecorder protocol) --------------------------------------

    chain_table_name = "chain"
    checkpoint_table_name = "checkpoints"

    def max_notification_id(self) -> int | None:
        return max(self.events, default=None)

    def select_notifications(
        self, start: int | None, limit: int, stop: int | None = None, topics: Sequence[str] = (), **_: Any
    ) -> list[Any]:
        from eventsourcing.persistence import Notification

        after, stop_at = start or 0, stop if stop is not None else 2**62
        ids = sorted(position for position in self.events if after < position <= stop_at)[:limit]
        return [Notification(*self.events[position], id=position) for position in ids]

    def max_chain_position(self) -> int:
        return max(self.chain, default=0)

    def select_chain(self, after: int, stop: int, limit: int) -> list[ChainRecord]:
        return [self.chain[position] for position in sorted(self.chain) if after < position <= stop][:limit]

    def chain_positions_of(self, originator_id: str, originator_version: int) -> list[int]:
        return sorted(
            position
            for position, record in self.chain.items()
            if (record.originator_id, record.originator_version) == (originator_id, originator_version)
        )

    def select_checkpoints(self) -> list[Checkpoint]:
        return []

    def insert_checkpoint(self, checkpoint: Checkpoint) -> bool:
        raise NotImplementedError

    # -- what the quick check reads (the ChainPages protocol) ----------------------------------

    def events_page(self, after: int, stop: int, limit: int) -> list[tuple[int, str, int, str, Any]]:
        rows = []
        for position in sorted(self.events):
            if after < position <= stop:
                originator_id, version, topic, state = self.events[position]
                rows.append((position, str(originator_id), version, topic, state))
        return rows[:limit]

    def records_page(self, after: int, stop: int, limit: int) -> list[tuple[int, bytes, bytes]]:
        return [
            (record[0], record.record_hash, record.previous_hash) for record in self.select_chain(after, stop, limit)
        ]


@dataclass
class Pages:
    store: Store

    def events(self, after: int, stop: int, limit: int) -> list[tuple[int, str, int, str, Any]]:
        return self.store.events_page(after, stop, limit)

    def records(self, after: int, stop: int, limit: int) -> list[tuple[int, bytes, bytes]]:
        return self.store.records_page(after, stop, limit)


@st.composite
def stores(draw: st.DrawFn) -> Store:
    """A chained store: ids ascending with gaps (a rolled-back save leaves one on PostgreSQL)."""
    count = draw(st.integers(0, 12))
    gaps = draw(st.lists(st.integers(1, 3), min_size=count, max_size=count))
    aggregates = [UUID(int=number + 1) for number in range(3)]
    versions = dict.fromkeys(aggregates, 0)
    store, position = Store(), 0
    for gap in gaps:
        position += gap
        aggregate = draw(st.sampled_from(aggregates))
        versions[aggregate] += 1
        state = draw(st.binary(min_size=0, max_size=12))
        store.events[position] = (aggregate, versions[aggregate], draw(st.sampled_from(TOPICS)), state)
    fields = [(position, *event) for position, event in sorted(store.events.items())]
    for record in chain_records(GENESIS_HASH, fields):
        store.chain[record.notification_id] = record
    return store


EDITS = (
    "state",
    "topic",
    "delete event",
    "delete record",
    "delete both",
    "record hash",
    "previous hash",
    "swap",
    "forge",
    "text state",
)


def edit(store: Store, kind: str, index: int) -> None:
    """One edit behind the ledger's back, at the ``index``-th event (modulo their number)."""
    positions = sorted(store.events)
    if not positions:
        return
    position = positions[index % len(positions)]
    originator_id, version, topic, state = store.events[position]
    record = store.chain.get(position)
    if kind == "state":
        store.events[position] = (originator_id, version, topic, stored_bytes(state) + b"x")
    elif kind == "topic":
        store.events[position] = (originator_id, version, topic + "x", state)
    elif kind == "delete event":
        del store.events[position]
    elif kind == "delete record":
        store.chain.pop(position, None)
    elif kind == "delete both":
        del store.events[position]
        store.chain.pop(position, None)
    elif kind == "record hash" and record is not None:
        store.chain[position] = record._replace(record_hash=bytes(32))
    elif kind == "previous hash" and record is not None:
        store.chain[position] = record._replace(previous_hash=bytes([1]) * 32)
    elif kind == "swap" and len(positions) > 1:
        other = positions[(index + 1) % len(positions)]
        store.events[position], store.events[other] = store.events[other], store.events[position]
    elif kind == "forge":
        store.events[max(positions) + 1] = (UUID(int=99), 1, topic, state)
    elif kind == "text state" and isinstance(state, bytes):
        # A hand-edited SQLite row read back as text: hashed as its UTF-8 bytes by both.
        store.events[position] = (originator_id, version, topic, state.hex())  # type: ignore[assignment]


@st.composite
def checkpoints_of(draw: st.DrawFn, store: Store) -> list[Checkpoint]:
    """Checkpoints at drawn positions (past the end too), most with the chain's hash there."""
    drawn = []
    for _ in range(draw(st.integers(0, 3))):
        position = draw(st.integers(1, max(store.chain, default=0) + 3))
        record = store.chain.get(position)
        honest = record is not None and draw(st.booleans() | st.just(True))
        hashed = record.record_hash if honest and record is not None else bytes([7]) * 32
        drawn.append(Checkpoint(position, hashed, TAKEN_AT))
    return sorted(drawn, key=lambda checkpoint: checkpoint.position)


@settings(max_examples=400)
@given(
    data=st.data(),
    store=stores(),
    edits=st.lists(st.tuples(st.sampled_from(EDITS), st.integers(0, 20)), max_size=2),
    page_size=st.integers(1, 5),
)
def test_the_quick_check_and_the_walk_agree(
    data: st.DataObject, store: Store, edits: list[tuple[str, int]], page_size: int
) -> None:
    checkpoints = data.draw(checkpoints_of(store))
    for kind, index in edits:
        edit(store, kind, index)
    stop = max(store.max_notification_id() or 0, store.max_chain_position())
    walked = walk_chain(store, stop, list(checkpoints), None, page_size)
    quick = verify_intact(Pages(store), stop, list(checkpoints), None, page_size)
    if walked.intact:
        assert quick == walked
    else:
        assert quick is None


@given(store=stores(), page_size=st.integers(1, 5))
def test_an_untouched_store_is_intact_by_the_quick_check(store: Store, page_size: int) -> None:
    stop = store.max_chain_position()
    quick = verify_intact(Pages(store), stop, [], None, page_size)
    assert quick is not None and quick.intact
    assert quick.events_checked == len(store.events)
    assert quick.head_hash == (store.chain[stop].record_hash if stop else GENESIS_HASH)


@settings(max_examples=400)
@given(
    data=st.data(),
    store=stores(),
    edits=st.lists(st.tuples(st.sampled_from(EDITS), st.integers(0, 20)), max_size=2),
    page_size=st.integers(1, 5),
    processes=st.integers(1, 6),
)
def test_the_quick_check_split_into_ranges_answers_as_one_pass(
    data: st.DataObject,
    store: Store,
    edits: list[tuple[str, int]],
    page_size: int,
    processes: int,
    monkeypatch_least: None,
) -> None:
    """Cut into consecutive ranges of positions (as ``heatledger projections rebuild --processes N``
    verifies), each checked alone and joined by their links, the quick check gives the one pass's
    answer: the same result when intact, None when not, whatever the edits and checkpoints."""
    checkpoints = data.draw(checkpoints_of(store))
    for kind, index in edits:
        edit(store, kind, index)
    stop = max(store.max_notification_id() or 0, store.max_chain_position())
    one_pass = verify_intact(Pages(store), stop, list(checkpoints), None, page_size)
    split = verify_intact_split(
        lambda: (Pages(store), lambda: None), stop, list(checkpoints), processes, None, page_size, in_processes=False
    )
    assert split == one_pass
