"""The hash chain's quick check done by PostgreSQL itself (``_PostgresPages.check_window``, one
statement a window of positions, driven by ``audit_chain.check_range``) against the same check done
in Python over the same rows (``check_range`` on the plain page reader): over drawn stores and drawn
edits behind the ledger's back, for drawn ranges, checkpoints and window sizes, the two answer alike
(the same ``RangeChecked``, or both None). The Python check is in turn compared with the walk that
names problems (tests/unit/infrastructure/test_chain_quick_check.py)."""

from __future__ import annotations

import itertools
import threading
import uuid
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import pytest
from eventsourcing.persistence import StoredEvent
from hypothesis import event, given, settings
from hypothesis import strategies as st

from infrastructure import audit_chain, chain_pages
from infrastructure.audit_chain import (
    GENESIS_HASH,
    ChainWindow,
    Checkpoint,
    RangeChecked,
    WindowedChainPages,
    check_range,
    verify_chain,
    verify_intact,
)
from infrastructure.chain_pages import chain_pages_of
from infrastructure.container import Container, bootstrap
from tests.conftest import postgres_settings
from tests.services import fresh_postgres_database
from tests.strategies import household_with_meter, register_household
from tests.tamper import RawStore

pytestmark = pytest.mark.postgres

TAKEN_AT = datetime(2026, 1, 15, 8, 0, tzinfo=UTC)
# Account numbers of the households saved through the ledger: unique across the examples, which
# share one store (its read models are not emptied between them).
ACCOUNT_NUMBERS = itertools.count(1)
# Topics as the chain hashes them: UTF-8 bytes, several bytes a character for some.
TOPICS = st.sampled_from(
    ("domain.meter:Meter.ReadingRecorded", "domain.zähler:Zähler.Abgelesen", "领域:事件.已记录")
) | st.text(st.characters(exclude_categories=["Cs"], exclude_characters="\x00"), max_size=6)
# A state of the text "None" is what a NULL state reads as (``audit_chain.stored_bytes``).
STATES = st.binary(max_size=40) | st.just(b"None")
AGGREGATES = 3


@pytest.fixture
def container() -> Iterator[Container]:
    """A ledger on an empty PostgreSQL store (skipped without the server, failed with
    HEATLEDGER_REQUIRE_SERVICES=1), its read models not caught up after its commands."""
    with fresh_postgres_database() as database:
        # The drawn events' topics name no class: nothing reads them as domain events.
        built = bootstrap(postgres_settings(database).model_copy(update={"catch_up_after_command": False}))
        yield built
        built.close()


@pytest.fixture
def raw(container: Container) -> RawStore:
    return RawStore(container.settings, container.ledger.recorder)


@dataclass
class ReadInPython:
    """The same store's page reader without the server's check: ``check_range`` reads every event
    and hashes it here, as on SQLite."""

    pages: Any

    def events(self, after: int, stop: int, limit: int) -> Sequence[tuple[int, str, int, str, Any]]:
        return self.pages.events(after, stop, limit)  # type: ignore[no-any-return]

    def records(self, after: int, stop: int, limit: int) -> Sequence[tuple[int, bytes, bytes]]:
        return self.pages.records(after, stop, limit)  # type: ignore[no-any-return]


@dataclass
class CountedWindows:
    """The server's reader, counting its statements."""

    pages: Any
    windows: int = 0

    def events(self, after: int, stop: int, limit: int) -> Sequence[tuple[int, str, int, str, Any]]:
        raise AssertionError("the server's check reads no event")

    def records(self, after: int, stop: int, limit: int) -> Sequence[tuple[int, bytes, bytes]]:
        raise AssertionError("the server's check reads no page of records")

    def check_window(self, after: int, until: int, checkpoint_positions: Sequence[int]) -> ChainWindow:
        self.windows += 1
        return self.pages.check_window(after, until, checkpoint_positions)  # type: ignore[no-any-return]


def server_pages(container: Container, window_positions: int) -> Any:
    pages = chain_pages_of(container.ledger.recorder)
    assert isinstance(pages, WindowedChainPages), "PostgreSQL's reader checks windows itself"
    pages.window_positions = window_positions  # type: ignore[attr-defined]
    return pages


# -- the store, saved and edited ---------------------------------------------------------------


def empty(raw: RawStore) -> None:
    """The previous example's events, chain and checkpoints gone, positions from 1 again (so the
    same draws give the same positions: hypothesis replays an example)."""
    for table in (raw.checkpoints, raw.chain, raw.events):
        raw.execute(f"DELETE FROM {table}")
    raw.execute(f"SELECT setval('{sequence_of(raw)}', 1, false)")


def sequence_of(raw: RawStore) -> str:
    return str(raw.execute("SELECT pg_get_serial_sequence(?, 'notification_id')", raw.events)[0][0])


def skip_positions(raw: RawStore, count: int) -> None:
    """``count`` positions taken and never used, as by a save rolled back."""
    if count:
        raw.execute(f"SELECT nextval('{sequence_of(raw)}') FROM generate_series(1, ?)", count)


Save = tuple[int, int | list[tuple[int, str, bytes]]]  # (positions skipped first, what is saved)

saves = st.lists(
    st.tuples(
        st.integers(0, 3),
        st.integers(1, 2)  # households registered through the ledger
        | st.lists(st.tuples(st.integers(0, AGGREGATES - 1), TOPICS, STATES), min_size=1, max_size=4),
    ),
    min_size=1,
    max_size=4,
)


def save(container: Container, raw: RawStore, drawn: list[Save]) -> None:
    """The drawn saves: households through the ledger, or drawn events through the recorder."""
    aggregates = [uuid.uuid4() for _ in range(AGGREGATES)]
    versions = dict.fromkeys(aggregates, 0)
    for skipped, what in drawn:
        skip_positions(raw, skipped)
        if isinstance(what, int):
            for _ in range(what):
                register_household(container.ledger, f"S-{next(ACCOUNT_NUMBERS):06d}")
            continue
        events = []
        for aggregate_index, topic, state in what:
            aggregate = aggregates[aggregate_index]
            versions[aggregate] += 1
            events.append(StoredEvent(aggregate, versions[aggregate], topic, state))
        container.ledger.recorder.insert_events(events)


EDITS = (
    "state",
    "state null",
    "topic",
    "delete event",
    "delete record",
    "delete both",
    "record hash",
    "previous hash",
    "swap contents",
    "swap positions",
    "forge",
    "forge far",
    "record without event",
    "rechain",
)


def edit(raw: RawStore, kind: str, index: int) -> None:
    """One edit with SQL behind the ledger's back, at the ``index``-th event (modulo their number)."""
    positions = raw.positions()
    if not positions:
        return
    position, other = positions[index % len(positions)], positions[(index + 1) % len(positions)]
    events, chain = raw.events, raw.chain
    if kind in ("delete event", "delete both"):
        raw.delete_event(position)
    if kind in ("delete record", "delete both"):
        raw.delete_chain_record(position)
    if kind == "state":
        raw.execute(f"UPDATE {events} SET state = coalesce(state, '') || '\\x01'::bytea WHERE {{id}} = ?", position)
    elif kind == "state null":
        raw.execute(f"UPDATE {events} SET state = NULL WHERE {{id}} = ?", position)
    elif kind == "topic":
        raw.execute(f"UPDATE {events} SET topic = topic || 'é' WHERE {{id}} = ?", position)
    elif kind == "record hash":
        raw.execute(f"UPDATE {chain} SET record_hash = ? WHERE notification_id = ?", bytes(32), position)
    elif kind == "previous hash":
        raw.execute(f"UPDATE {chain} SET previous_hash = ? WHERE notification_id = ?", bytes([1]) * 32, position)
    elif kind == "swap contents" and position != other:
        raw.swap_contents(position, other)
    elif kind == "swap positions" and position != other:
        raw.swap_positions(position, other)
    elif kind == "forge":
        raw.insert_forged_event(like=position)
    elif kind == "forge far":
        skip_positions(raw, 40)  # many empty windows before it
        raw.insert_forged_event(like=position)
    elif kind == "record without event":
        raw.plant_chain_record(raw.next_position())
        skip_positions(raw, 1)  # the planted record's position is no event's
    elif kind == "rechain" and not raw.execute(f"SELECT 1 FROM {events} WHERE state IS NULL"):
        raw.rechain()  # an edit hidden from the chain: only a checkpoint tells


@st.composite
def checkpoints_of(draw: st.DrawFn, raw: RawStore) -> list[Checkpoint]:
    """Checkpoints at drawn positions (past the end and in gaps too), most with the chain's hash."""
    hashes = dict(raw.execute(f"SELECT notification_id, record_hash FROM {raw.chain}"))
    drawn = []
    for _ in range(draw(st.integers(0, 3))):
        position = draw(st.integers(1, max(hashes, default=0) + 3))
        honest = position in hashes and draw(st.booleans() | st.just(True))
        hashed = bytes(hashes[position]) if honest else bytes([7]) * 32
        drawn.append(Checkpoint(position, hashed, TAKEN_AT))
    return sorted(drawn, key=lambda checkpoint: checkpoint.position)


def link_before(raw: RawStore, position: int) -> bytes:
    """The record hash of the last chain record at or before ``position`` (the genesis: none)."""
    found = raw.execute(
        f"SELECT record_hash FROM {raw.chain} WHERE notification_id <= ? ORDER BY notification_id DESC LIMIT 1",
        position,
    )
    return bytes(found[0][0]) if found else GENESIS_HASH


# -- properties -------------------------------------------------------------------------------


@settings(max_examples=100)
@given(
    data=st.data(),
    drawn=saves,
    # Half the examples untouched, so that intact ranges are as common as broken ones.
    edits=st.just([]) | st.lists(st.tuples(st.sampled_from(EDITS), st.integers(0, 30)), min_size=1, max_size=2),
    # Windows of a few positions (boundaries inside the store), or as large as they are run (one).
    window_positions=st.integers(1, 5) | st.just(chain_pages.CHECK_WINDOW_POSITIONS),
    page_size=st.integers(1, 5),
)
def test_the_server_checks_a_range_as_python_does(
    container: Container,
    raw: RawStore,
    data: st.DataObject,
    drawn: list[Save],
    edits: list[tuple[str, int]],
    window_positions: int,
    page_size: int,
) -> None:
    """For any store, edits behind the ledger's back, range of positions, link it must follow (the
    genesis, the real one, none: return what it follows) and checkpoints, the server's check of the
    range is Python's: the same ``RangeChecked``, or None for both; and so is the whole store's."""
    empty(raw)
    save(container, raw, drawn)
    checkpoints = data.draw(checkpoints_of(raw))
    for kind, index in edits:
        edit(raw, kind, index)
    stop = max([0, *raw.positions(), *raw.chain_positions()])
    after, until = sorted(data.draw(st.tuples(st.integers(0, stop + 2), st.integers(0, stop + 2))))
    first_link = data.draw(st.sampled_from((GENESIS_HASH, None, link_before(raw, after))))
    if data.draw(st.booleans() | st.just(True)):  # those of the range, as verify_intact_split passes them
        checkpoints = [checkpoint for checkpoint in checkpoints if after < checkpoint.position <= until]
    server = CountedWindows(server_pages(container, window_positions))
    python = ReadInPython(server.pages)

    by_server = check_range(server, after, until, checkpoints, None, page_size, first_link)
    event("broken" if by_server is None else "intact" if by_server.checked else "no event in the range")
    assert by_server == check_range(python, after, until, checkpoints, None, page_size, first_link)
    assert server.windows <= (until - after) // window_positions + 1
    whole = verify_intact(server, stop, checkpoints, None, page_size)
    assert whole == verify_intact(python, stop, checkpoints, None, page_size)


@settings(max_examples=25)
@given(drawn=saves, window_positions=st.integers(1, 5))
def test_an_untouched_store_is_intact_by_the_server(
    container: Container, raw: RawStore, drawn: list[Save], window_positions: int
) -> None:
    """No edit: the server finds the whole store intact, every event checked, the head the last
    record's hash (the property above would also pass if both checks always said None)."""
    empty(raw)
    save(container, raw, drawn)
    positions = raw.positions()
    stop = max(positions, default=0)
    checked = check_range(server_pages(container, window_positions), 0, stop, [], None, 1, GENESIS_HASH)
    last_hash = link_before(raw, stop) if positions else None
    assert checked == RangeChecked(GENESIS_HASH if positions else None, last_hash, stop, len(positions))


# -- examples ---------------------------------------------------------------------------------


def test_empty_stretches_of_positions_cost_no_statement(container: Container, raw: RawStore) -> None:
    """A store whose positions jump by a million (rolled-back saves, or a sequence moved on) is
    checked in as many windows as hold rows, each window telling where the next row is."""
    household_with_meter(container.ledger)
    raw.execute(f"SELECT setval('{sequence_of(raw)}', ?)", 1_000_000)
    register_household(container.ledger, "WZ-0002")
    positions = raw.positions()
    assert positions[-1] > 1_000_000 > positions[-2]
    server = CountedWindows(server_pages(container, window_positions=1000))
    checked = check_range(server, 0, positions[-1], [], None, 1000, GENESIS_HASH)
    assert checked == check_range(ReadInPython(server.pages), 0, positions[-1], [], None, 1000, GENESIS_HASH)
    assert checked is not None and checked.checked == len(positions)
    assert server.windows == 2


def test_verify_chain_on_postgresql_reads_no_state(container: Container, raw: RawStore) -> None:
    """``verify_chain`` (and so ``audit verify`` and the rebuild's guard) checks an intact store on
    the server: no event row comes to the client, the answer is the walk's; an edit is still named
    by the walk."""
    household_with_meter(container.ledger)
    recorder: Any = container.ledger.recorder
    audit_chain_result = verify_chain(recorder, page_size=2)

    def no_rows(*_: Any) -> list[Any]:
        raise AssertionError("the server's check reads no page")

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(chain_pages._PostgresPages, "events", no_rows)
        patch.setattr(chain_pages._PostgresPages, "records", no_rows)
        patch.setattr(chain_pages, "CHECK_WINDOW_POSITIONS", 2)
        quick = verify_chain(recorder, page_size=2)
    walked = audit_chain.walk_chain(recorder, raw.positions()[-1], [], None, 2)
    assert quick == audit_chain_result == walked and quick.intact
    raw.change_one_byte(raw.positions()[3])
    broken = verify_chain(recorder)
    assert not broken.intact and broken.first_problem is not None
    assert broken.first_problem.notification_id == raw.positions()[3]


def test_the_window_statement_reads_both_tables_by_position(container: Container) -> None:
    """EXPLAIN: the window's events and chain records come from range scans of the indexes on the
    notification id (the events table's unique index, the chain's primary key), merged as they
    stream; nothing read whole, sorted or hashed into memory, whatever the statistics say."""
    pages = server_pages(container, window_positions=100_000)
    parameters = {"after": 0, "end": 100_000, "until": 200_000, "checkpoints": [5]}
    recorder: Any = container.ledger.recorder
    with (
        recorder.datastore.get_connection() as connection,
        connection.transaction(force_rollback=True),
        connection.cursor() as cursor,
    ):
        cursor.execute(chain_pages._WINDOW_PLAN)
        cursor.execute(b"EXPLAIN " + pages._window.as_bytes(connection), parameters)
        plan = "\n".join(next(iter(row.values())) for row in cursor.fetchall())
    assert "Merge Full Join" in plan
    assert f"Index Scan using {recorder.events_table_name}_notification_id_idx" in plan
    assert f"Index Scan using {recorder.chain_table_name}_pkey" in plan
    assert "Seq Scan" not in plan and "Sort" not in plan and "Hash" not in plan


def test_a_null_state_reads_as_the_walk_reads_it(container: Container, raw: RawStore) -> None:
    """A NULL state (only SQL behind the ledger's back makes one) is hashed as the text "None", as
    ``audit_chain.stored_bytes`` reads it: the chain of a state that was that text still holds,
    any other state's does not, on the server as in Python."""
    recorder: Any = container.ledger.recorder
    aggregate = uuid.uuid4()
    recorder.insert_events([StoredEvent(aggregate, 1, "t", b"None"), StoredEvent(aggregate, 2, "t", b"{}")])
    first, second = raw.positions()
    server = server_pages(container, window_positions=1)
    raw.execute(f"UPDATE {raw.events} SET state = NULL WHERE {{id}} = ?", first)
    checked = check_range(server, 0, second, [], None, 1, GENESIS_HASH)
    assert checked is not None and checked.checked == 2
    assert checked == check_range(ReadInPython(server), 0, second, [], None, 1, GENESIS_HASH)
    assert verify_chain(recorder).intact
    raw.execute(f"UPDATE {raw.events} SET state = NULL WHERE {{id}} = ?", second)
    assert check_range(server, 0, second, [], None, 1, GENESIS_HASH) is None
    assert check_range(ReadInPython(server), 0, second, [], None, 1, GENESIS_HASH) is None


@settings(max_examples=40)
@given(
    drawn=saves,
    edits=st.just([]) | st.lists(st.tuples(st.sampled_from(EDITS), st.integers(0, 30)), min_size=1, max_size=2),
    processes=st.integers(1, 4),
)
def test_the_chain_checked_in_threads_by_ranges_answers_as_the_walk(
    container: Container, raw: RawStore, drawn: list[Save], edits: list[tuple[str, int]], processes: int
) -> None:
    """``verify_chain`` on PostgreSQL checks the store by ranges of positions side by side, from
    threads (at least two): for any store and edits its verdict is the walk's, intact or not, an
    intact store's result is the walk's to the last field, and the ranges' progress is told as one."""
    empty(raw)
    save(container, raw, drawn)
    for kind, index in edits:
        edit(raw, kind, index)
    recorder: Any = container.ledger.recorder
    stop = max([0, *raw.positions(), *raw.chain_positions()])
    walked = audit_chain.walk_chain(recorder, stop, [], None, 3)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(audit_chain, "LEAST_POSITIONS_PER_PROCESS", 1)  # ranges of a position or more
        patch.setattr(chain_pages, "CHECK_WINDOW_POSITIONS", 2)
        threads_before = {thread.name for thread in threading.enumerate()}
        seen: list[tuple[int, int]] = []
        verified = verify_chain(
            recorder, progress=lambda position, end: seen.append((position, end)), page_size=3, processes=processes
        )
    event("intact" if walked.intact else "broken")
    # The ranges' progress told as one: rising, within the store, ending at its last position.
    told = [position for position, _ in seen]
    if stop and verified.intact:
        assert told == sorted(told) and seen[-1][0] == seen[-1][1] == stop and all(0 <= p <= stop for p in told)
    assert verified.intact == walked.intact
    if walked.intact:
        assert verified == walked
    assert {thread.name for thread in threading.enumerate()} <= threads_before  # the range threads ended
