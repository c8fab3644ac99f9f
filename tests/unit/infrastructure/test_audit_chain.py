"""The chain's hash encoding (pinned: every stored chain depends on it) and the checkpoints file."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime, timedelta
from pathlib import Path
from uuid import UUID

import pytest
from hypothesis import given
from hypothesis import strategies as st

from infrastructure.audit_chain import (
    GENESIS_HASH,
    Checkpoint,
    CheckpointFileError,
    chain_records,
    read_checkpoint_file,
    record_hash,
    write_checkpoint_file,
)

HOUSEHOLD = "5ad592da-8d35-58d0-8018-b707cd033516"
TOPIC = "domain.household:Household.Registered"


def test_the_encoding_is_the_one_documented() -> None:
    """previous ‖ id (8) ‖ version (8) ‖ len+originator ‖ len+topic ‖ len+state, big-endian."""
    state = b'{"account_number":"WZ-0001"}'
    by_hand = hashlib.sha256(
        bytes(32)
        + (7).to_bytes(8, "big")
        + (2).to_bytes(8, "big")
        + len(HOUSEHOLD).to_bytes(4, "big")
        + HOUSEHOLD.encode()
        + len(TOPIC).to_bytes(4, "big")
        + TOPIC.encode()
        + len(state).to_bytes(4, "big")
        + state
    ).digest()
    assert record_hash(GENESIS_HASH, 7, HOUSEHOLD, 2, TOPIC, state) == by_hand


def test_the_encoding_is_pinned() -> None:
    """A change here breaks every chain already stored: it needs a new chain version, not an edit."""
    hashed = record_hash(GENESIS_HASH, 1, HOUSEHOLD, 1, TOPIC, b'{"a":1}')
    assert hashed.hex() == "19c6506fe18cf5dbecbbdf5f1314bb8783de7c130b97982b1ef0e3f9b461a78e"


fields = st.tuples(st.integers(1, 2**40), st.text(max_size=8), st.integers(1, 2**20), st.text(max_size=8), st.binary())


@given(first=fields, second=fields)
def test_different_records_hash_differently(
    first: tuple[int, str, int, str, bytes], second: tuple[int, str, int, str, bytes]
) -> None:
    """Length prefixes keep the fields apart: moving bytes from the topic to the state changes it."""
    if first != second:
        assert record_hash(GENESIS_HASH, *first) != record_hash(GENESIS_HASH, *second)


def test_bytes_moved_between_fields_change_the_hash() -> None:
    assert record_hash(GENESIS_HASH, 1, HOUSEHOLD, 1, "ab", b"c") != record_hash(
        GENESIS_HASH, 1, HOUSEHOLD, 1, "a", b"bc"
    )


def test_chain_records_link_each_to_the_one_before() -> None:
    events = [(position, UUID(HOUSEHOLD), position, TOPIC, b"{}") for position in (1, 2, 5)]
    records = chain_records(GENESIS_HASH, events)
    assert [record.previous_hash for record in records] == [
        GENESIS_HASH,
        records[0].record_hash,
        records[1].record_hash,
    ]
    assert records[2].record_hash == record_hash(records[1].record_hash, 5, HOUSEHOLD, 5, TOPIC, b"{}")
    assert {record.originator_id for record in records} == {HOUSEHOLD}


def test_chain_records_refuse_events_out_of_order() -> None:
    with pytest.raises(AssertionError):
        chain_records(GENESIS_HASH, [(2, HOUSEHOLD, 1, TOPIC, b""), (1, HOUSEHOLD, 2, TOPIC, b"")])


checkpoints = st.lists(
    st.builds(
        Checkpoint,
        st.integers(1, 2**50),
        st.binary(min_size=32, max_size=32),
        st.datetimes(timezones=st.just(UTC)),
    ),
    max_size=5,
)


@given(written=checkpoints)
def test_a_checkpoints_file_reads_back_what_was_written(
    written: list[Checkpoint], tmp_path_factory: pytest.TempPathFactory
) -> None:
    path = tmp_path_factory.mktemp("checkpoints") / "kept.jsonl"
    assert write_checkpoint_file(path, written) == len(written)
    read = read_checkpoint_file(path)
    assert read == [Checkpoint(c.position, c.record_hash, c.recorded_at, "kept.jsonl") for c in written]


@pytest.mark.parametrize(
    ("line", "why"),
    [
        ("not json", "not a checkpoint"),
        ('{"position": 3, "recorded_at": "2026-01-01T00:00:00+00:00"}', "not a checkpoint"),
        ('{"position": 3, "record_hash": "abcd", "recorded_at": "2026-01-01T00:00:00+00:00"}', "32-byte hash"),
        ('{"position": 0, "record_hash": "' + "00" * 32 + '", "recorded_at": "2026-01-01T00:00:00+00:00"}', "≥ 1"),
        ('{"position": 3, "record_hash": "' + "00" * 32 + '", "recorded_at": "yesterday"}', "not a checkpoint"),
    ],
)
def test_a_line_that_is_not_a_checkpoint_is_named(tmp_path: Path, line: str, why: str) -> None:
    path = tmp_path / "bad.jsonl"
    good = Checkpoint(1, bytes(32), datetime(2026, 1, 1, tzinfo=UTC) + timedelta(hours=1)).as_json()
    path.write_text(good + "\n\n" + line + "\n", encoding="utf-8")
    with pytest.raises(CheckpointFileError, match=f"line 3: .*{why}"):
        read_checkpoint_file(path)


def test_a_missing_checkpoints_file_is_named(tmp_path: Path) -> None:
    with pytest.raises(CheckpointFileError, match="cannot read"):
        read_checkpoint_file(tmp_path / "nowhere.jsonl")
