"""The tamper-evident hash chain over the stored events, on both backends: written with the events in
one transaction, verified clean when nothing was touched, and every edit made with SQL behind the
ledger's back named at the right position: a changed byte, a deleted row, two rows swapped, a
forged row, a chain recomputed to hide an edit, a deleted tail."""

from __future__ import annotations

import itertools
import logging
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from typing import Any

import pytest
from eventsourcing.persistence import IntegrityError
from hypothesis import given, settings
from hypothesis import strategies as st

from application.ledger import HeatLedger
from domain.errors import ConflictError
from infrastructure import audit_chain
from infrastructure.audit_chain import (
    GENESIS_HASH,
    ChainBrokenError,
    ChainedRecorder,
    Checkpoint,
    ProblemKind,
    VerificationResult,
    take_checkpoint,
    verify_chain,
    verify_intact,
    walk_chain,
)
from infrastructure.chain_pages import PagesOpener, chain_pages_of
from infrastructure.container import Container, bootstrap
from infrastructure.event_store import event_store_environment
from infrastructure.settings import Settings
from tests.strategies import household_with_meter, new_household, register_household
from tests.tamper import RawStore

NOW = datetime(2026, 1, 15, 8, 0, tzinfo=UTC)
WRITERS = 4
SAVES_PER_WRITER = 10
# Account numbers of the property's households: unique across its examples, which share one store.
ACCOUNT_NUMBERS = itertools.count(1)


@pytest.fixture
def recorder(container: Container) -> ChainedRecorder:
    return container.ledger.recorder  # type: ignore[return-value]


@pytest.fixture
def raw(container: Container, recorder: ChainedRecorder) -> RawStore:
    return RawStore(container.settings, recorder)


@pytest.fixture
def ledger_events(container: Container) -> list[int]:
    """Ten or so events through the real ledger: households, a meter attached; their positions."""
    household_with_meter(container.ledger)
    for number in range(2, 6):
        register_household(container.ledger, f"WZ-{number:04d}")
    positions = list(range(1, int(container.ledger.recorder.max_notification_id() or 0) + 1))
    assert len(positions) >= 8
    return positions


def only_problem(result: VerificationResult) -> tuple[ProblemKind, int, str | None, int | None]:
    assert not result.intact
    first = result.first_problem
    assert first is not None
    return first.kind, first.notification_id, first.originator_id, first.originator_version


# -- intact -----------------------------------------------------------------------------------


def test_the_chain_covers_every_event_and_verifies_clean(
    recorder: ChainedRecorder, raw: RawStore, ledger_events: list[int]
) -> None:
    assert raw.chain_positions() == raw.positions() == ledger_events
    result = verify_chain(recorder)
    assert result.intact
    assert (result.events_checked, result.chain_records_checked, result.last_position) == (
        len(ledger_events),
        len(ledger_events),
        ledger_events[-1],
    )
    head = recorder.select_chain(ledger_events[-2], ledger_events[-1], 1)[0]
    assert result.head_hash == head.record_hash


def test_each_record_links_to_the_one_before(recorder: ChainedRecorder, ledger_events: list[int]) -> None:
    records = recorder.select_chain(0, ledger_events[-1], 1000)
    assert records[0].previous_hash == GENESIS_HASH
    assert all(later.previous_hash == earlier.record_hash for earlier, later in itertools.pairwise(records))


def test_an_empty_store_verifies_clean(recorder: ChainedRecorder) -> None:
    result = verify_chain(recorder)
    assert result.intact and result.events_checked == 0 and result.head_hash == GENESIS_HASH


def test_progress_reaches_the_last_position(
    recorder: ChainedRecorder, ledger_events: list[int], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("infrastructure.chain_pages.CHECK_WINDOW_POSITIONS", 3)
    seen: list[tuple[int, int]] = []
    verify_chain(recorder, progress=lambda position, stop: seen.append((position, stop)), page_size=3)
    assert seen[-1] == (ledger_events[-1], ledger_events[-1])
    positions = [position for position, _ in seen[:-1]]
    # The quick check tells its progress page by page (on PostgreSQL window by window of 3
    # positions here): each page's last event, in order.
    assert positions == sorted(positions) and set(positions) <= set(ledger_events)
    assert positions[:2] == ledger_events[2:6:3]


# -- edits behind the ledger's back -----------------------------------------------------------


def test_one_changed_byte_of_a_state_is_named(
    recorder: ChainedRecorder, raw: RawStore, ledger_events: list[int]
) -> None:
    target = ledger_events[4]
    raw.change_one_byte(target)
    assert only_problem(verify_chain(recorder)) == (ProblemKind.ALTERED, target, *raw.identity(target))
    assert verify_chain(recorder).problems_found == 1  # the events after it still link


def test_a_changed_topic_is_named(recorder: ChainedRecorder, raw: RawStore, ledger_events: list[int]) -> None:
    target = ledger_events[2]
    raw.execute(f"UPDATE {raw.events} SET topic = topic || 'x' WHERE {{id}} = ?", target)
    assert only_problem(verify_chain(recorder))[:2] == (ProblemKind.ALTERED, target)


def test_a_deleted_event_is_named(recorder: ChainedRecorder, raw: RawStore, ledger_events: list[int]) -> None:
    target = ledger_events[3]
    identity = raw.identity(target)
    raw.delete_event(target)
    result = verify_chain(recorder)
    assert only_problem(result) == (ProblemKind.DELETED, target, *identity)
    assert result.problems_found == 1


def test_an_event_deleted_with_its_chain_record_is_named_at_the_next(
    recorder: ChainedRecorder, raw: RawStore, ledger_events: list[int]
) -> None:
    target = ledger_events[3]
    raw.delete_event(target)
    raw.delete_chain_record(target)
    kind, position, *_ = only_problem(verify_chain(recorder))
    assert (kind, position) == (ProblemKind.DELETED, ledger_events[4])


def test_two_swapped_events_are_named_as_reordered(
    recorder: ChainedRecorder, raw: RawStore, ledger_events: list[int]
) -> None:
    first, second = ledger_events[2], ledger_events[6]
    first_identity, second_identity = raw.identity(first), raw.identity(second)
    raw.swap_positions(first, second)
    result = verify_chain(recorder)
    assert only_problem(result) == (ProblemKind.REORDERED, first, *second_identity)
    assert f"recorded at position {second}" in result.problems[0].detail
    assert [(problem.kind, problem.notification_id) for problem in result.problems] == [
        (ProblemKind.REORDERED, first),
        (ProblemKind.REORDERED, second),
    ]
    assert (result.problems[1].originator_id, result.problems[1].originator_version) == first_identity


def test_two_events_with_swapped_contents_are_named_as_altered(
    recorder: ChainedRecorder, raw: RawStore, ledger_events: list[int]
) -> None:
    first, second = ledger_events[1], ledger_events[5]
    raw.swap_contents(first, second)
    result = verify_chain(recorder)
    assert [(problem.kind, problem.notification_id) for problem in result.problems] == [
        (ProblemKind.ALTERED, first),
        (ProblemKind.ALTERED, second),
    ]


def test_a_forged_event_is_named_as_inserted(
    recorder: ChainedRecorder, raw: RawStore, ledger_events: list[int]
) -> None:
    forged = raw.insert_forged_event(like=ledger_events[1])
    result = verify_chain(recorder)
    kind, position, originator_id, version = only_problem(result)
    assert (kind, originator_id, version) == (ProblemKind.INSERTED, str(forged), 1)
    assert position > ledger_events[-1]
    assert result.problems_found == 1


def test_a_changed_chain_hash_is_named_as_the_chain_altered_not_the_event(
    recorder: ChainedRecorder, raw: RawStore, ledger_events: list[int]
) -> None:
    target = ledger_events[3]
    raw.execute(f"UPDATE {raw.chain} SET record_hash = ? WHERE notification_id = ?", bytes(32), target)
    result = verify_chain(recorder)
    assert only_problem(result)[:2] == (ProblemKind.CHAIN_ALTERED, target)
    assert result.problems_found == 1


def test_only_the_first_problems_are_listed_but_all_are_counted(
    recorder: ChainedRecorder, raw: RawStore, ledger_events: list[int], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("infrastructure.audit_chain.MAXIMUM_PROBLEMS_LISTED", 2)
    for position in ledger_events[:4]:
        raw.change_one_byte(position)
    result = verify_chain(recorder)
    assert result.problems_found == 4
    assert [problem.notification_id for problem in result.problems] == ledger_events[:2]


# -- checkpoints ------------------------------------------------------------------------------


def test_a_recomputed_chain_hides_an_edit_from_the_walk_but_not_from_a_checkpoint(
    recorder: ChainedRecorder, raw: RawStore, ledger_events: list[int]
) -> None:
    checkpoint, new = take_checkpoint(recorder, NOW)
    assert new and checkpoint.position == ledger_events[-1]
    target = ledger_events[2]
    raw.change_one_byte(target)
    raw.rechain()
    assert verify_chain(recorder).intact  # the chain alone cannot tell
    result = verify_chain(recorder, recorder.select_checkpoints())
    kind, position, *_ = only_problem(result)
    assert (kind, position) == (ProblemKind.REWRITTEN, checkpoint.position)
    assert "recomputed" in result.problems[0].detail


def test_a_deleted_tail_is_caught_by_a_checkpoint(
    recorder: ChainedRecorder, raw: RawStore, ledger_events: list[int]
) -> None:
    checkpoint, _ = take_checkpoint(recorder, NOW)
    for position in ledger_events[-2:]:
        raw.delete_event(position)
        raw.delete_chain_record(position)
    assert verify_chain(recorder).intact  # a shorter chain is still a chain
    result = verify_chain(recorder, recorder.select_checkpoints())
    assert only_problem(result) == (ProblemKind.TRUNCATED, checkpoint.position, None, None)


def test_a_checkpoint_kept_elsewhere_survives_deleted_stored_checkpoints(
    recorder: ChainedRecorder, raw: RawStore, ledger_events: list[int]
) -> None:
    taken, _ = take_checkpoint(recorder, NOW)
    kept = [Checkpoint(taken.position, taken.record_hash, taken.recorded_at, source="kept.jsonl")]
    raw.delete_event(ledger_events[-1])
    raw.delete_chain_record(ledger_events[-1])
    raw.delete_checkpoints()
    assert verify_chain(recorder, recorder.select_checkpoints()).intact
    result = verify_chain(recorder, kept)
    assert only_problem(result)[:2] == (ProblemKind.TRUNCATED, ledger_events[-1])
    assert "kept.jsonl" in result.problems[0].detail


def test_checkpoints_that_match_are_counted(recorder: ChainedRecorder, container: Container) -> None:
    register_household(container.ledger, "WZ-0001")
    first, _ = take_checkpoint(recorder, NOW)
    register_household(container.ledger, "WZ-0002")
    second, new = take_checkpoint(recorder, NOW)
    again, new_again = take_checkpoint(recorder, NOW)
    assert new and not new_again and again.position == second.position > first.position
    result = verify_chain(recorder, recorder.select_checkpoints())
    assert result.intact and (result.checkpoints_checked, result.checkpoints_matched) == (2, 2)


def test_a_broken_chain_gets_no_checkpoint(recorder: ChainedRecorder, raw: RawStore, ledger_events: list[int]) -> None:
    raw.change_one_byte(ledger_events[0])
    with pytest.raises(ChainBrokenError) as refused:
        take_checkpoint(recorder, NOW)
    assert refused.value.result.problems[0].notification_id == ledger_events[0]
    assert recorder.select_checkpoints() == []


# -- the chain is written with the events ------------------------------------------------------


def test_a_save_whose_chain_record_fails_leaves_no_event(
    container: Container, recorder: ChainedRecorder, raw: RawStore, ledger_events: list[int]
) -> None:
    """The chain record is written in the events' transaction: when it cannot be, the events go too."""
    position = raw.next_position()
    raw.plant_chain_record(position)
    with pytest.raises((ConflictError, IntegrityError)):
        register_household(container.ledger, "WZ-0099")
    assert raw.positions() == ledger_events
    raw.delete_chain_record(position)
    register_household(container.ledger, "WZ-0099")  # and the store goes on as before
    assert raw.chain_positions() == raw.positions()
    assert verify_chain(recorder).intact


def test_a_save_that_fails_leaves_no_chain_record(
    container: Container, recorder: ChainedRecorder, raw: RawStore, ledger_events: list[int]
) -> None:
    duplicate = new_household("WZ-0002")  # already registered: its first event collides
    with pytest.raises(IntegrityError):
        container.ledger.save(new_household("WZ-0100"), duplicate)
    assert raw.chain_positions() == raw.positions() == ledger_events
    assert verify_chain(recorder).intact


@settings(max_examples=15)
@given(saves=st.lists(st.tuples(st.integers(1, 6), st.booleans()), min_size=1, max_size=6))
def test_for_any_saves_the_chain_covers_exactly_the_stored_events(
    container: Container, recorder: ChainedRecorder, saves: list[tuple[int, bool]]
) -> None:
    """Saves of several aggregates at once, some failing whole (a duplicate among them): the chain
    has one record per stored event, with its aggregate and version, and verifies clean."""
    for size, with_duplicate in saves:
        households = [new_household(f"P-{next(ACCOUNT_NUMBERS):06d}") for _ in range(size)]
        if with_duplicate:
            households.append(new_household(households[0].account_number))
            with pytest.raises(IntegrityError):
                container.ledger.save(*households)
        else:
            container.ledger.save(*households)
    stop = int(recorder.max_notification_id() or 0)
    stored = [
        (event.id, str(event.originator_id), event.originator_version)
        for event in recorder.select_notifications(start=None, limit=stop + 1)
    ]
    chained = [
        (record.notification_id, record.originator_id, record.originator_version)
        for record in recorder.select_chain(0, max(stop, recorder.max_chain_position()), stop + 1)
    ]
    assert chained == stored
    assert verify_chain(recorder, page_size=4).intact


def test_concurrent_writers_never_fork_the_chain(container: Container, recorder: ChainedRecorder) -> None:
    """Writers in separate ledgers (their own connections) save at once: each save links to the
    head the one before it committed, so no two records share a predecessor."""
    writers = [HeatLedger(env=event_store_environment(container.settings)) for _ in range(WRITERS)]
    barrier = threading.Barrier(WRITERS)

    def write(number: int) -> None:
        barrier.wait()
        for save in range(SAVES_PER_WRITER):
            writers[number].save(new_household(f"C-{number}-{save}"), new_household(f"D-{number}-{save}"))

    try:
        with ThreadPoolExecutor(WRITERS) as pool:
            list(pool.map(write, range(WRITERS)))
    finally:
        for writer in writers:
            writer.close()
    records = recorder.select_chain(0, recorder.max_chain_position(), 10_000)
    assert len(records) == 2 * WRITERS * SAVES_PER_WRITER
    assert len({record.previous_hash for record in records}) == len(records)
    assert verify_chain(recorder).intact


# -- stores written before the chain ----------------------------------------------------------


@pytest.fixture
def unchained_store(backend_settings: Settings) -> Iterator[Settings]:
    """A store whose first events were saved without the chain (as before it existed)."""
    before = bootstrap(backend_settings, event_chain=False)
    try:
        household_with_meter(before.ledger)
    finally:
        before.close()
    yield backend_settings


def test_a_store_written_before_the_chain_is_sealed_once_at_start(
    unchained_store: Settings, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING):
        container = bootstrap(unchained_store)
    try:
        recorder: ChainedRecorder = container.ledger.recorder  # type: ignore[assignment]
        raw = RawStore(unchained_store, recorder)
        assert raw.chain_positions() == raw.positions() != []
        assert any("sealed the event store" in message for message in caplog.messages)
        register_household(container.ledger, "WZ-0002")  # new events follow the seal
        assert verify_chain(recorder).intact
    finally:
        container.close()


def test_a_chain_that_lags_is_not_repaired(unchained_store: Settings, caplog: pytest.LogCaptureFixture) -> None:
    bootstrap(unchained_store).close()  # sealed
    later = bootstrap(unchained_store, event_chain=False)  # events saved around the chain
    try:
        register_household(later.ledger, "WZ-0002")
        unchained_position = int(later.ledger.recorder.max_notification_id() or 0)
    finally:
        later.close()
    with caplog.at_level(logging.ERROR):
        container = bootstrap(unchained_store)
    try:
        recorder: ChainedRecorder = container.ledger.recorder  # type: ignore[assignment]
        assert recorder.max_chain_position() < unchained_position
        assert any("not repaired" in message for message in caplog.messages)
        kind, position, *_ = only_problem(verify_chain(recorder))
        assert (kind, position) == (ProblemKind.INSERTED, unchained_position)
    finally:
        container.close()


def test_the_quick_check_reads_the_chain_as_the_walk_does(
    recorder: ChainedRecorder, container: Container, ledger_events: list[int]
) -> None:
    """The backends' page readers (infrastructure/chain_pages.py) give the rows the library gives:
    on an intact store with a checkpoint the quick check's result is the walk's."""
    take_checkpoint(recorder, NOW)
    register_household(container.ledger, "WZ-0042")
    checkpoints = recorder.select_checkpoints()
    stop = recorder.max_chain_position()
    pages = chain_pages_of(recorder)
    assert pages is not None
    quick = verify_intact(pages, stop, checkpoints, None, page_size=4)
    assert quick is not None
    assert quick == walk_chain(recorder, stop, checkpoints, None, page_size=4)
    assert quick.checkpoints_matched == 1 and quick.events_checked == len(ledger_events) + 1


def test_the_quick_check_split_over_processes_answers_as_one_pass(
    recorder: ChainedRecorder, container: Container, raw: RawStore, ledger_events: list[int], monkeypatch: Any
) -> None:
    """``heatledger projections rebuild --processes N`` verifies the chain in N forked processes,
    each opening the store anew (``PagesOpener``) and checking a range of positions: on an intact
    store with a checkpoint the answer is the one pass's; with an edit in the last range, the walk
    names it as it does without the split."""
    monkeypatch.setattr(audit_chain, "LEAST_POSITIONS_PER_PROCESS", 1)  # ranges of a few events
    take_checkpoint(recorder, NOW)
    register_household(container.ledger, "WZ-0043")
    checkpoints = recorder.select_checkpoints()
    opener = PagesOpener(container.settings)
    one_pass = verify_chain(recorder, checkpoints)
    split = verify_chain(recorder, checkpoints, processes=3, open_pages=opener)
    assert split == one_pass and split.intact and split.checkpoints_matched == 1
    last = max(ledger_events)
    raw.change_one_byte(last)
    assert only_problem(verify_chain(recorder, checkpoints, processes=3, open_pages=opener)) == only_problem(
        verify_chain(recorder, checkpoints)
    )
