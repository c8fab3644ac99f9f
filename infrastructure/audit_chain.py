"""Tamper evidence: a hash chain over the stored events, its checkpoints, and its verification.

Every stored event has a chain record, written by the event store's recorder in the same
transaction as the event (infrastructure/sqlite_event_store.py, postgres_event_store.py)::

    record_hash = SHA-256( previous_hash                     32 bytes (the genesis: 32 zero bytes)
                         ‖ notification_id                   8 bytes, big-endian signed
                         ‖ originator_version                8 bytes, big-endian signed
                         ‖ len(originator_id) ‖ originator_id  4-byte big-endian length, UTF-8
                         ‖ len(topic) ‖ topic                  4-byte big-endian length, UTF-8
                         ‖ len(state) ‖ state )                4-byte big-endian length, the stored bytes

where ``previous_hash`` is the record hash of the event before it in notification-id order and
``originator_id`` is the UUID's canonical text (``8-4-4-4-12`` lower-case hex). PostgreSQL computes
the same bytes in its insert function; this module computes them in Python (SQLite, verification).

Verification walks the events and the chain records together in notification order and names
every record that does not fit (the first one first); checkpoints (position, hash, time), stored
and exported to be kept elsewhere, catch a chain rewritten wholesale and a deleted tail.
docs/audit.md, "Tamper evidence", explains what is and is not detected.
"""

from __future__ import annotations

import hashlib
import json
import struct
import threading
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from enum import StrEnum
from pathlib import Path
from typing import Any, NamedTuple, Protocol, runtime_checkable
from uuid import UUID

from eventsourcing.persistence import Notification

GENESIS_HASH = bytes(32)
HASH_BYTES = 32
# Events and chain records are read this many at a time while verifying.
VERIFY_PAGE_SIZE = 2000
# The problems a verification lists; it counts every one, but a store edited wholesale would
# otherwise list millions. The first is always listed.
MAXIMUM_PROBLEMS_LISTED = 100
# A bound on the pages one walk reads: far more than any store holds (2,000 × 10⁷ events).
MAXIMUM_PAGES = 10_000_000

_NUMBERS = struct.Struct(">qqi")
_LENGTH = struct.Struct(">i")

ProgressCallback = Callable[[int, int], None]


def canonical_originator_id(originator_id: UUID | str) -> str:
    """The aggregate id as the chain hashes it: a UUID's canonical text, or the text id itself."""
    return str(originator_id)


def record_hash(
    previous_hash: bytes, notification_id: int, originator_id: str, originator_version: int, topic: str, state: bytes
) -> bytes:
    """The chain hash of one stored event following ``previous_hash`` (see the module doc)."""
    assert len(previous_hash) == HASH_BYTES, "a chain hash is 32 bytes"
    originator = originator_id.encode("utf-8")
    topic_bytes = topic.encode("utf-8")
    # One buffer, one hash call: cheaper than an update per field (this runs once per event saved).
    message = b"".join(
        (
            previous_hash,
            _NUMBERS.pack(notification_id, originator_version, len(originator)),
            originator,
            _LENGTH.pack(len(topic_bytes)),
            topic_bytes,
            _LENGTH.pack(len(state)),
            state,
        )
    )
    return hashlib.sha256(message).digest()


def record_hash_sql(previous: str, position: str, version: str, originator: str, topic: str, state: str) -> str:
    """``record_hash`` as a PostgreSQL expression over SQL expressions of its parts (``originator``
    and ``topic`` as their UTF-8 bytes): the same bytes in the same order (``int8send`` and
    ``int4send`` are big-endian, as ``_NUMBERS`` and ``_LENGTH`` pack), hashed by the server's
    ``sha256``. The insert function that writes the chain and the server's check of it both use it."""
    return (
        f"sha256({previous} || int8send({position}) || int8send({version}) "
        f"|| int4send(octet_length({originator})) || {originator} "
        f"|| int4send(octet_length({topic})) || {topic} "
        f"|| int4send(octet_length({state})) || {state})"
    )


def notification_hash(previous_hash: bytes, notification: Notification) -> bytes:
    """``record_hash`` of a notification as the library reads it back."""
    return record_hash(
        previous_hash,
        notification.id,
        canonical_originator_id(notification.originator_id),
        notification.originator_version,
        str(notification.topic),
        stored_bytes(notification.state),
    )


def stored_bytes(state: object) -> bytes:
    """The bytes of a state read back for verification. A hand-edited SQLite row can come back as
    text (SQLite's string functions return text): it is hashed as its UTF-8 bytes, so whether it
    is still the recorded content is what decides."""
    if isinstance(state, bytes | bytearray | memoryview):
        return bytes(state)
    return str(state).encode("utf-8")


class ChainRecord(NamedTuple):
    """One row of the chain table: which event it covers and the hashes that link it (a tuple in
    the table's column order, so a recorder inserts it as it is)."""

    notification_id: int
    originator_id: str
    originator_version: int
    record_hash: bytes
    previous_hash: bytes


def chain_records(previous_hash: bytes, events: Iterable[tuple[int, UUID | str, int, str, bytes]]) -> list[ChainRecord]:
    """The chain records following ``previous_hash`` of ``events``: (notification id, originator
    id, originator version, topic, state) in ascending notification order."""
    records: list[ChainRecord] = []
    last_id = 0
    for notification_id, originator_id, originator_version, topic, state in events:
        assert notification_id > last_id, "the chain follows notification order"
        last_id = notification_id
        originator = canonical_originator_id(originator_id)
        hashed = record_hash(previous_hash, notification_id, originator, originator_version, topic, state)
        records.append(ChainRecord(notification_id, originator, originator_version, hashed, previous_hash))
        previous_hash = hashed
    return records


def notification_fields(notification: Notification) -> tuple[int, UUID | str, int, str, bytes]:
    """What ``chain_records`` takes of a notification."""
    return (
        notification.id,
        notification.originator_id,
        notification.originator_version,
        notification.topic,
        notification.state,
    )


@dataclass(frozen=True, slots=True)
class Checkpoint:
    """The chain's hash at a position, when it was taken, and where it comes from ("stored" or a
    file's name): kept elsewhere, it proves later that the history up to it is unchanged."""

    position: int
    record_hash: bytes
    recorded_at: datetime
    source: str = "stored"

    def as_json(self) -> str:
        """One line of a checkpoints file (JSON Lines)."""
        return json.dumps(
            {
                "position": self.position,
                "record_hash": self.record_hash.hex(),
                "recorded_at": self.recorded_at.isoformat(),
            }
        )


class CheckpointFileError(ValueError):
    """A checkpoints file that cannot be read or holds a line that is not a checkpoint."""


def read_checkpoint_file(path: Path) -> list[Checkpoint]:
    """The checkpoints of a JSON Lines file as ``write_checkpoint_file`` writes them."""
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as error:
        raise CheckpointFileError(f"cannot read {path}: {error}") from error
    checkpoints = []
    for number, line in enumerate(lines, start=1):
        if line.strip():
            checkpoints.append(_parse_checkpoint(line, f"{path}, line {number}", path.name))
    return checkpoints


def _parse_checkpoint(line: str, where: str, source: str) -> Checkpoint:
    try:
        data = json.loads(line)
        position, hashed, recorded_at = data["position"], bytes.fromhex(data["record_hash"]), data["recorded_at"]
        checkpoint = Checkpoint(position, hashed, datetime.fromisoformat(recorded_at), source)
    except (ValueError, KeyError, TypeError) as error:
        raise CheckpointFileError(f"{where}: not a checkpoint ({error})") from error
    if not isinstance(position, int) or position < 1 or len(hashed) != HASH_BYTES:
        raise CheckpointFileError(f"{where}: a checkpoint needs a position ≥ 1 and a 32-byte hash")
    return checkpoint


def write_checkpoint_file(path: Path, checkpoints: Iterable[Checkpoint]) -> int:
    """Write ``checkpoints`` to ``path`` as JSON Lines (replacing it); how many were written."""
    lines = [checkpoint.as_json() for checkpoint in checkpoints]
    path.write_text("".join(line + "\n" for line in lines), encoding="utf-8")
    return len(lines)


class ChainedRecorder(Protocol):
    """What verification needs of the event store's application recorder."""

    chain_table_name: str
    checkpoint_table_name: str

    def max_notification_id(self) -> int | None: ...

    def select_notifications(
        self,
        start: int | None,
        limit: int,
        stop: int | None = None,
        topics: Sequence[str] = (),
        *,
        inclusive_of_start: bool = True,
    ) -> Sequence[Notification]: ...

    def max_chain_position(self) -> int:
        """The notification id of the last chain record (0 when the chain is empty)."""

    def select_chain(self, after: int, stop: int, limit: int) -> list[ChainRecord]:
        """Chain records with ``after`` < notification id ≤ ``stop``, ascending, at most ``limit``."""

    def chain_positions_of(self, originator_id: str, originator_version: int) -> list[int]:
        """Where the chain records this aggregate version (normally one position, or none)."""

    def select_checkpoints(self) -> list[Checkpoint]:
        """Every stored checkpoint, by position."""

    def insert_checkpoint(self, checkpoint: Checkpoint) -> bool:
        """Store ``checkpoint``; False when one is already stored at its position (kept as it is)."""


def is_chained(recorder: Any) -> bool:
    """Whether ``recorder`` writes and reads the hash chain (the benchmark's baseline does not)."""
    return all(hasattr(recorder, name) for name in ("select_chain", "max_chain_position", "select_checkpoints"))


# -- verification -------------------------------------------------------------------------------


class ProblemKind(StrEnum):
    """What is wrong at a position of the chain."""

    ALTERED = "altered"  # the event's topic or state is not what was recorded
    DELETED = "deleted"  # a recorded event is gone (its chain record or its successor says so)
    INSERTED = "inserted"  # an event the ledger never recorded (no chain record, or not the one recorded)
    REORDERED = "reordered"  # the event recorded at another position stands here
    CHAIN_ALTERED = "chain-altered"  # the chain record itself was changed; the event matches
    REWRITTEN = "rewritten"  # the events up to a checkpoint no longer hash to it
    TRUNCATED = "truncated"  # a checkpoint lies beyond the last event: the tail was deleted


@dataclass(frozen=True, slots=True)
class ChainProblem:
    """One record that does not fit the chain, named by its position and aggregate version."""

    kind: ProblemKind
    notification_id: int
    originator_id: str | None
    originator_version: int | None
    detail: str

    def describe(self) -> str:
        """One line: position, what is there, what is wrong."""
        which = f"{self.originator_id} v{self.originator_version}" if self.originator_id else "no event"
        return f"position {self.notification_id} ({which}): {self.kind.value}: {self.detail}"


@dataclass(frozen=True)
class VerificationResult:
    """What a walk over the chain found."""

    events_checked: int
    chain_records_checked: int
    last_position: int  # of the last event walked (0: none)
    head_hash: bytes  # the chain hash recomputed from the events up to last_position
    checkpoints_checked: int
    checkpoints_matched: int
    problems: tuple[ChainProblem, ...]  # in position order, at most MAXIMUM_PROBLEMS_LISTED
    problems_found: int

    @property
    def intact(self) -> bool:
        return self.problems_found == 0

    @property
    def first_problem(self) -> ChainProblem | None:
        return self.problems[0] if self.problems else None


class ChainBrokenError(Exception):
    """The chain does not verify; ``result`` says where and how."""

    def __init__(self, result: VerificationResult) -> None:
        first = result.first_problem
        super().__init__(f"the event chain is broken: {first.describe() if first else 'see the result'}")
        self.result = result


@dataclass
class _Walk:
    """The state of one walk in notification order (see ``verify_chain``)."""

    recorder: ChainedRecorder
    checkpoints: list[Checkpoint]  # ascending position, consumed from the front
    # The stored hash of the last chain record seen: what the next record must follow.
    last_link: bytes = GENESIS_HASH
    last_link_position: int = 0
    # The hash the last record's event gives with its own previous hash (None: no event there).
    last_event_hash: bytes | None = None
    # The chain recomputed from the events alone (chain records ignored): checkpoints match it.
    running_hash: bytes = GENESIS_HASH
    last_position: int = 0
    events_checked: int = 0
    chain_records_checked: int = 0
    checkpoints_checked: int = 0
    checkpoints_matched: int = 0
    problems: list[ChainProblem] = field(default_factory=list)
    problems_found: int = 0
    last_problem_position: int | None = None
    last_matched_checkpoint: int = 0
    problems_at_last_match: int = 0

    def step(self, position: int, event: Notification | None, record: ChainRecord | None) -> None:
        self._checkpoints_without_event(position)
        if record is not None:
            self.chain_records_checked += 1
            self._check_record(position, event, record)
            self.last_link, self.last_link_position = record.record_hash, position
        elif event is not None:
            self._check_unrecorded(position, event)
        if event is not None:
            self.events_checked += 1
            self.running_hash = notification_hash(self.running_hash, event)
            self.last_position = position
        self._checkpoints_at(position, event)

    def finish(self) -> VerificationResult:
        for checkpoint in self.checkpoints:
            self.checkpoints_checked += 1
            self._report(
                ProblemKind.TRUNCATED,
                checkpoint.position,
                None,
                f"the {_checkpoint_name(checkpoint)} vouches for position {checkpoint.position}, but the store "
                f"ends at {self.last_position}: events after it were deleted (or the checkpoint is not this store's)",
            )
        return VerificationResult(
            self.events_checked,
            self.chain_records_checked,
            self.last_position,
            self.running_hash,
            self.checkpoints_checked,
            self.checkpoints_matched,
            tuple(self.problems),
            self.problems_found,
        )

    # -- one position -----------------------------------------------------------------------

    def _check_record(self, position: int, event: Notification | None, record: ChainRecord) -> None:
        if event is None:
            self.last_event_hash = None
            self._report(
                ProblemKind.DELETED,
                position,
                record,
                "the chain records this event here, but the store no longer holds it",
            )
            return
        event_hash = record_hash(
            record.previous_hash,
            position,
            canonical_originator_id(event.originator_id),
            event.originator_version,
            str(event.topic),
            stored_bytes(event.state),
        )
        matches = event_hash == record.record_hash
        linked = record.previous_hash == self.last_link
        if not linked:
            self._check_link(position, event, record, matches)
        if not matches:
            self._check_content(position, event, record)
        self.last_event_hash = event_hash

    def _check_link(self, position: int, event: Notification, record: ChainRecord, matches: bool) -> None:
        """The record does not follow the stored hash of the record before it."""
        before = self.last_link_position
        if record.previous_hash == self.last_event_hash and self._last_problem_is(ProblemKind.ALTERED, before):
            # It follows what the event before it hashes to: that event is intact, and it was its
            # chain record's hash that was changed. Say so there rather than here.
            self._reclassify_last(
                ProblemKind.CHAIN_ALTERED,
                "the chain record's hash was changed: the event matches the hash its successor follows",
            )
        elif matches:
            self._report(
                ProblemKind.DELETED,
                position,
                _identity(event),
                f"its chain record follows a record that is no longer in the store: what stood between "
                f"position {before} and {position} was deleted, event and chain record",
            )
        else:
            self._report(
                ProblemKind.CHAIN_ALTERED,
                position,
                _identity(event),
                f"its chain record neither follows the record at {before} nor matches the event",
            )

    def _check_content(self, position: int, event: Notification, record: ChainRecord) -> None:
        """The event does not hash to its chain record."""
        if self.last_problem_position == position:
            return  # the broken link said it already
        identity = _identity(event)
        if (identity.originator_id, identity.originator_version) == (record.originator_id, record.originator_version):
            self._report(ProblemKind.ALTERED, position, identity, "its topic or state is not what was recorded")
            return
        elsewhere = [found for found in self.recorder.chain_positions_of(*_key(identity)) if found != position]
        recorded_here = f"the chain records {record.originator_id} v{record.originator_version} here"
        if elsewhere:
            self._report(
                ProblemKind.REORDERED,
                position,
                identity,
                f"this event was recorded at position {elsewhere[0]}; {recorded_here}",
            )
        else:
            self._report(
                ProblemKind.INSERTED, position, identity, f"the ledger never recorded this event; {recorded_here}"
            )

    def _check_unrecorded(self, position: int, event: Notification) -> None:
        """An event without a chain record: written around the ledger's recorder."""
        self.last_event_hash = None
        identity = _identity(event)
        elsewhere = self.recorder.chain_positions_of(*_key(identity))
        if elsewhere:
            detail = f"this event was recorded at position {elsewhere[0]}, and position {position} has no chain record"
            self._report(ProblemKind.REORDERED, position, identity, detail)
        else:
            self._report(
                ProblemKind.INSERTED, position, identity, "no chain record: the ledger never recorded this event"
            )

    # -- checkpoints ------------------------------------------------------------------------

    def _checkpoints_without_event(self, position: int) -> None:
        while self.checkpoints and self.checkpoints[0].position < position:
            checkpoint = self.checkpoints.pop(0)
            self.checkpoints_checked += 1
            self._report(
                ProblemKind.DELETED,
                checkpoint.position,
                None,
                f"the {_checkpoint_name(checkpoint)} vouches for an event here; there is none",
            )

    def _checkpoints_at(self, position: int, event: Notification | None) -> None:
        while self.checkpoints and self.checkpoints[0].position == position:
            checkpoint = self.checkpoints.pop(0)
            self.checkpoints_checked += 1
            if event is None:
                self._report(
                    ProblemKind.DELETED,
                    position,
                    None,
                    f"the {_checkpoint_name(checkpoint)} vouches for an event here; there is none",
                )
            elif checkpoint.record_hash == self.running_hash:
                self.checkpoints_matched += 1
                self.last_matched_checkpoint = position
                self.problems_at_last_match = self.problems_found
            else:
                self._report(ProblemKind.REWRITTEN, position, _identity(event), self._mismatch(checkpoint))

    def _mismatch(self, checkpoint: Checkpoint) -> str:
        since = (
            f"after position {self.last_matched_checkpoint} (the last checkpoint that matches)"
            if self.last_matched_checkpoint
            else "from the first"
        )
        # Without an earlier problem since the last match, the chain records agree with the events:
        # someone recomputed them after changing an event.
        cause = (
            "as the problems above explain"
            if self.problems_found > self.problems_at_last_match
            else "and the chain was recomputed to hide it"
        )
        return (
            f"the events up to here do not hash to the {_checkpoint_name(checkpoint)}: "
            f"an event {since} up to here was changed, {cause}"
        )

    # -- reporting --------------------------------------------------------------------------

    def _report(self, kind: ProblemKind, position: int, identity: ChainRecord | _Identity | None, detail: str) -> None:
        self.problems_found += 1
        self.last_problem_position = position
        if len(self.problems) < MAXIMUM_PROBLEMS_LISTED:
            originator_id = identity.originator_id if identity else None
            version = identity.originator_version if identity else None
            self.problems.append(ChainProblem(kind, position, originator_id, version, detail))

    def _last_problem_is(self, kind: ProblemKind, position: int) -> bool:
        last = self.problems[-1] if self.problems else None
        return last is not None and last.kind is kind and last.notification_id == position

    def _reclassify_last(self, kind: ProblemKind, detail: str) -> None:
        if self.problems and self.problems[-1].notification_id == self.last_problem_position:
            self.problems[-1] = replace(self.problems[-1], kind=kind, detail=detail)


@dataclass(frozen=True, slots=True)
class _Identity:
    originator_id: str
    originator_version: int


def _identity(event: Notification) -> _Identity:
    return _Identity(canonical_originator_id(event.originator_id), event.originator_version)


def _key(identity: _Identity) -> tuple[str, int]:
    return identity.originator_id, identity.originator_version


def _checkpoint_name(checkpoint: Checkpoint) -> str:
    where = "stored checkpoint" if checkpoint.source == "stored" else f"checkpoint from {checkpoint.source}"
    return f"{where} of {checkpoint.recorded_at:%Y-%m-%d %H:%M:%S %Z}".rstrip()


def verify_chain(
    recorder: ChainedRecorder,
    checkpoints: Iterable[Checkpoint] = (),
    progress: ProgressCallback | None = None,
    page_size: int = VERIFY_PAGE_SIZE,
    processes: int = 1,
    open_pages: Callable[[], OpenedPages] | None = None,
) -> VerificationResult:
    """Walk every event and chain record in notification order, recompute every hash, compare with
    ``checkpoints``; the problems found, the first first.

    The walk stops at the highest position stored when it starts: a save committed meanwhile holds
    higher positions only (writers take positions in commit order), so it is left for next time.

    With ``processes`` > 1 and ``open_pages`` (a picklable callable that opens the same store's
    page reader in a new process: ``chain_pages.PagesOpener``), the quick check runs over that many
    consecutive ranges of positions side by side (``verify_intact_split``); the walk that names
    problems, when it is needed, runs here as before.
    """
    stop = max(int(recorder.max_notification_id() or 0), recorder.max_chain_position())
    ordered = sorted(checkpoints, key=lambda checkpoint: checkpoint.position)
    from infrastructure.chain_pages import chain_pages_of  # the backends' drivers, only to verify

    pages = chain_pages_of(recorder)
    intact = None
    if isinstance(pages, WindowedChainPages):
        # The database hashes: its ranges side by side from threads here (at least two, for a
        # server with cores to spare), on the recorder's own connections; nothing to fork.
        opened = pages
        ranges = max(processes, SERVER_RANGES)
        intact = verify_intact_split(
            lambda: (opened, _nothing_to_close), stop, ordered, ranges, progress, page_size, in_threads=True
        )
    elif pages is not None and processes > 1 and open_pages is not None:
        intact = verify_intact_split(open_pages, stop, ordered, processes, progress, page_size)
    elif pages is not None:
        intact = verify_intact(pages, stop, ordered, progress, page_size)
    if intact is not None:
        return intact
    return walk_chain(recorder, stop, ordered, progress, page_size)


def _nothing_to_close() -> None:
    """The recorder's page reader is the recorder's: it stays open."""


def walk_chain(
    recorder: ChainedRecorder,
    stop: int,
    checkpoints: list[Checkpoint],
    progress: ProgressCallback | None,
    page_size: int,
) -> VerificationResult:
    """The walk that names every problem, up to ``stop``, checkpoints sorted by position
    (``verify_chain`` when the quick check finds one)."""
    walk = _Walk(recorder, checkpoints)
    for position, event, record in _merged(recorder, stop, page_size):
        walk.step(position, event, record)
        if progress is not None:
            progress(position, stop)
    if progress is not None:
        progress(stop, stop)
    return walk.finish()


class ChainPages(Protocol):
    """Events and chain records as plain rows (``infrastructure/chain_pages.py``), for the quick
    check: ``after`` < notification id ≤ ``stop``, ascending, at most ``limit`` rows each."""

    def events(self, after: int, stop: int, limit: int) -> Sequence[tuple[int, str, int, str, Any]]:
        """(notification id, originator id as the chain hashes it, version, topic, stored state)."""

    def records(self, after: int, stop: int, limit: int) -> Sequence[tuple[int, bytes, bytes]]:
        """(notification id, record hash, previous hash)."""


class ChainWindow(NamedTuple):
    """A window of positions ``after`` < p <= ``end`` as the database checked it itself
    (``WindowedChainPages.check_window``): what the quick check would find in it, without a state
    sent over the wire."""

    end: int  # the window's last position
    events: int  # events in the window
    # The same positions hold events and chain records, each record follows the record before it
    # in the window, and each event hashes (``record_hash``) to its record from that record's
    # previous hash. An empty window is intact.
    intact: bool
    first_link: bytes | None  # the previous hash of the window's first record (None: no record)
    last_hash: bytes | None  # the record hash of its last record (None: no record)
    last_position: int  # of its last event (0: none)
    checkpoint_hashes: dict[int, bytes]  # the record hashes at those of the asked positions it holds
    next_position: int | None  # the first position after ``end`` (up to the range's end) holding a row


@runtime_checkable
class WindowedChainPages(ChainPages, Protocol):
    """A page reader whose database computes the chain hashes itself (PostgreSQL's ``sha256``):
    ``check_range`` asks it window by window instead of reading every state."""

    def check_window(self, after: int, until: int, checkpoint_positions: Sequence[int]) -> ChainWindow:
        """The window of positions from ``after`` (exclusive) of the reader's size, cut at
        ``until``, checked; ``checkpoint_positions`` are the positions whose record hashes to return."""


def verify_intact(
    pages: ChainPages,
    stop: int,
    checkpoints: list[Checkpoint],
    progress: ProgressCallback | None,
    page_size: int,
) -> VerificationResult | None:
    """The quick check: the walk's result when the chain is intact, None at the first sign it is
    not, for the walk to name what is wrong (``checkpoints`` sorted by position; 5-8 times cheaper
    than the walk, which builds a library object per event and per record).

    Intact means what the walk finds nothing wrong with: the same positions hold events and chain
    records, each record follows the one before it (the first follows the genesis hash), each
    event hashes to its record from that record's previous hash, and each checkpoint stands at an
    event whose record hash is the checkpoint's. Then the chain recomputed from the events alone
    equals the stored one at every position (by induction from the genesis), which is what the walk
    compares checkpoints with, and its head is the last record's hash."""
    checked = check_range(pages, 0, stop, checkpoints, progress, page_size, GENESIS_HASH)
    if checked is None:
        return None
    if progress is not None:
        progress(stop, stop)
    return _intact([checked], checkpoints)


class RangeChecked(NamedTuple):
    """A range of positions the quick check found intact within itself: the hash its first record
    follows (None when the range holds no event), its last record's hash and position, and the
    events checked."""

    first_link: bytes | None
    last_hash: bytes | None
    last_position: int
    checked: int


def check_range(
    pages: ChainPages,
    after: int,
    until: int,
    checkpoints: Sequence[Checkpoint],
    progress: ProgressCallback | None,
    page_size: int,
    first_link: bytes | None = None,
) -> RangeChecked | None:
    """The quick check of the positions ``after`` < p <= ``until``: events and records at the same
    positions, each record following the one before it in the range, each event hashing to its
    record, each of ``checkpoints`` (those of the range, sorted) at an event with its hash. The
    range's first record must follow ``first_link`` when it is given; otherwise whatever it follows
    is returned, for the caller to join the ranges (``verify_intact_split``). None at the first
    sign of a problem. A reader whose database hashes (``WindowedChainPages``: PostgreSQL) checks
    the range window by window itself, with the same answer (a property compares them)."""
    if isinstance(pages, WindowedChainPages):
        return _check_range_in_windows(pages, after, until, checkpoints, progress, first_link)
    pending = list(checkpoints)
    last_hash, last_position, checked = first_link, after, 0
    for _ in range(MAXIMUM_PAGES):
        events, records = pages.events(last_position, until, page_size), pages.records(last_position, until, page_size)
        if [row[0] for row in events] != [row[0] for row in records]:
            return None
        if not events:
            break
        if first_link is None:  # the range's first record: what it follows is the caller's to join
            first_link = last_hash = records[0][2]
        assert last_hash is not None
        hashes = _page_hashes(last_hash, events, records)
        if hashes is None:
            return None
        if pending and not _checkpoints_match(pending, events, hashes):
            return None
        last_hash, last_position, checked = hashes[-1], events[-1][0], checked + len(events)
        if progress is not None:
            progress(last_position, until)
        if len(events) < page_size:
            break
    else:
        raise RuntimeError(f"the check read {MAXIMUM_PAGES} pages without reaching {until}")
    if pending:  # beyond the range's last event: a deleted tail, for the walk to name
        return None
    return RangeChecked(first_link if checked else None, last_hash if checked else None, last_position, checked)


def _check_range_in_windows(
    pages: WindowedChainPages,
    after: int,
    until: int,
    checkpoints: Sequence[Checkpoint],
    progress: ProgressCallback | None,
    first_link: bytes | None,
) -> RangeChecked | None:
    """``check_range`` with the hashing done by the database, a window of positions a statement:
    each window intact within itself, its first record following the last record of the window
    before it (the range's first following ``first_link``, or returned when it is None), each
    checkpoint at a record of a window, with its hash. Empty stretches of positions are skipped
    (each window tells where the next row is), so windows are never more than the rows."""
    pending = list(checkpoints)
    link, last_position, checked, window_after = first_link, after, 0, after
    for _ in range(MAXIMUM_PAGES):
        if window_after >= until:
            break
        window = pages.check_window(window_after, until, [checkpoint.position for checkpoint in pending])
        assert window_after < window.end <= until, "each window moves on, within the range"
        assert window.next_position is None or window.end < window.next_position <= until, "the next row after it"
        if not window.intact:
            return None
        if window.events:
            if first_link is None:  # the range's first record: what it follows is the caller's to join
                first_link = link = window.first_link
            if window.first_link != link:
                return None
            link, last_position, checked = window.last_hash, window.last_position, checked + window.events
            if progress is not None:
                progress(last_position, until)
        if not _window_checkpoints_match(pending, window):
            return None
        if window.next_position is None:
            break
        window_after = window.next_position - 1
    else:
        raise RuntimeError(f"the check read {MAXIMUM_PAGES} windows without reaching {until}")
    if pending:  # beyond the range's last event: a deleted tail, for the walk to name
        return None
    return RangeChecked(first_link if checked else None, link if checked else None, last_position, checked)


def _window_checkpoints_match(pending: list[Checkpoint], window: ChainWindow) -> bool:
    """The checkpoints up to the window's end each at a record of it (so at an event: the window is
    intact), with its hash; those checked are taken from the front of ``pending``."""
    while pending and pending[0].position <= window.end:
        checkpoint = pending.pop(0)
        if window.checkpoint_hashes.get(checkpoint.position) != checkpoint.record_hash:
            return False
    return True


def _intact(ranges: Sequence[RangeChecked], checkpoints: Sequence[Checkpoint]) -> VerificationResult | None:
    """The walk's result for consecutive ranges each intact within itself, when each range's first
    record follows the last record of the range before it (the first range's the genesis hash);
    None when one does not."""
    head, last_position, checked = GENESIS_HASH, 0, 0
    for checked_range in ranges:
        if not checked_range.checked:
            continue  # no event in the range: the next one follows the same head
        if checked_range.first_link != head or checked_range.last_hash is None:
            return None
        head, last_position = checked_range.last_hash, checked_range.last_position
        checked += checked_range.checked
    matched = len(checkpoints)
    return VerificationResult(checked, checked, last_position, head, matched, matched, (), 0)


# What a group's process opens: the page reader and a function that closes what it opened.
OpenedPages = tuple[ChainPages, Callable[[], None]]
# A range shorter than this is not worth a process of its own.
LEAST_POSITIONS_PER_PROCESS = 20_000
# The ranges a database that hashes itself (PostgreSQL) checks side by side, whatever the processes
# asked for: its backends hash in parallel while this process waits (479,313 events: one range
# 2.1 s, two 1.2 s on the development machine).
SERVER_RANGES = 2


def verify_intact_split(
    open_pages: Callable[[], OpenedPages],
    stop: int,
    checkpoints: list[Checkpoint],
    processes: int,
    progress: ProgressCallback | None,
    page_size: int,
    in_processes: bool = True,
    in_threads: bool = False,
) -> VerificationResult | None:
    """``verify_intact`` over ``processes`` consecutive ranges of positions (fewer when the store
    is small), each checked in a process of its own (forked), joined here: each range intact within
    itself, each range's first record following the last record before it. These are the
    conditions of one pass from the genesis, so the answer is the same (a property compares them;
    ``in_processes=False`` checks the ranges here one after another, for it). ``in_threads``: each
    range in a thread of this process instead, for a page reader whose database does the hashing
    (``WindowedChainPages``: each thread waits on the server, which hashes the ranges side by side)."""
    ranges = min(processes, max(1, stop // LEAST_POSITIONS_PER_PROCESS))
    bounds = [stop * index // ranges for index in range(ranges + 1)]
    if any(checkpoint.position > stop for checkpoint in checkpoints):
        return None  # beyond the last event: a deleted tail, for the walk to name
    arguments = [
        (
            open_pages,
            bounds[index],
            bounds[index + 1],
            [checkpoint for checkpoint in checkpoints if bounds[index] < checkpoint.position <= bounds[index + 1]],
            page_size,
            GENESIS_HASH if index == 0 else None,
        )
        for index in range(ranges)
    ]
    if in_threads:
        from concurrent.futures import ThreadPoolExecutor

        told = _RangesProgress(bounds, progress) if progress is not None else None
        callbacks = [told.of_range(index) if told is not None else None for index in range(ranges)]
        with ThreadPoolExecutor(max_workers=ranges, thread_name_prefix="chain-range") as threads:
            checked = list(threads.map(_check_range_opened, *zip(*arguments, strict=True), callbacks))
    elif ranges == 1 or not in_processes:
        checked = [_check_range_opened(*argument) for argument in arguments]
    else:
        from concurrent.futures import ProcessPoolExecutor
        from multiprocessing import get_context

        with ProcessPoolExecutor(max_workers=ranges, mp_context=get_context("fork")) as pool:
            checked = list(pool.map(_check_range_opened, *zip(*arguments, strict=True)))
    if progress is not None:
        progress(stop, stop)
    if any(result is None for result in checked):
        return None
    return _intact([result for result in checked if result is not None], checkpoints)


def _check_range_opened(
    open_pages: Callable[[], OpenedPages],
    after: int,
    until: int,
    checkpoints: list[Checkpoint],
    page_size: int,
    first_link: bytes | None,
    progress: ProgressCallback | None = None,
) -> RangeChecked | None:
    """In a range's process (or thread): open the store's page reader, check the range, close the reader."""
    pages, close = open_pages()
    try:
        return check_range(pages, after, until, checkpoints, progress, page_size, first_link)
    finally:
        close()


class _RangesProgress:
    """The progress of ranges checked side by side as one: the positions checked in all of them,
    told as a position of the whole (from threads, so under a lock)."""

    def __init__(self, bounds: Sequence[int], progress: ProgressCallback) -> None:
        self._starts = list(bounds[:-1])
        self._reached = list(bounds[:-1])
        self._stop = bounds[-1]
        self._progress = progress
        self._lock = threading.Lock()

    def of_range(self, index: int) -> ProgressCallback:
        def advance(position: int, _: int) -> None:
            with self._lock:
                self._reached[index] = max(self._reached[index], position)
                checked = sum(reached - start for reached, start in zip(self._reached, self._starts, strict=True))
                self._progress(self._starts[0] + checked, self._stop)

        return advance


def _page_hashes(previous_hash: bytes, events: Sequence[Any], records: Sequence[Any]) -> list[bytes] | None:
    """Each record's hash, once its link and its event are checked; None at the first that fails.
    (``record_hash`` inlined: this loop runs once per stored event.)"""
    sha256, numbers, length = hashlib.sha256, _NUMBERS.pack, _LENGTH.pack
    hashes = []
    for event, (_, stored_hash, linked_to) in zip(events, records, strict=True):
        position, originator_id, version, topic, state = event
        if linked_to != previous_hash:
            return None
        originator, topic_bytes = originator_id.encode("utf-8"), topic.encode("utf-8")
        if type(state) is not bytes:
            state = stored_bytes(state)
        message = b"".join(
            (
                linked_to,
                numbers(position, version, len(originator)),
                originator,
                length(len(topic_bytes)),
                topic_bytes,
                length(len(state)),
                state,
            )
        )
        if sha256(message).digest() != stored_hash:
            return None
        hashes.append(stored_hash)
        previous_hash = stored_hash
    return hashes


def _checkpoints_match(pending: list[Checkpoint], events: Sequence[Any], hashes: list[bytes]) -> bool:
    """The checkpoints up to this page's last event each at an event of it, with its hash; those
    checked are taken from the front of ``pending``."""
    positions = {row[0]: index for index, row in enumerate(events)}
    while pending and pending[0].position <= events[-1][0]:
        checkpoint = pending.pop(0)
        index = positions.get(checkpoint.position)
        if index is None or hashes[index] != checkpoint.record_hash:
            return False
    return True


def take_checkpoint(
    recorder: ChainedRecorder, now: datetime, progress: ProgressCallback | None = None
) -> tuple[Checkpoint, bool]:
    """Verify the whole chain against the stored checkpoints and store a checkpoint of its head;
    the checkpoint and whether it is new (False: no event since the last one). A broken chain is
    never vouched for: ``ChainBrokenError``."""
    result = verify_chain(recorder, recorder.select_checkpoints(), progress)
    if not result.intact:
        raise ChainBrokenError(result)
    if result.last_position == 0:
        raise ValueError("the store holds no events yet: there is nothing to vouch for")
    checkpoint = Checkpoint(result.last_position, result.head_hash, now)
    return checkpoint, recorder.insert_checkpoint(checkpoint)


# -- reading two ordered streams as one ---------------------------------------------------------


def _events(recorder: ChainedRecorder, stop: int, page_size: int) -> Iterator[Notification]:
    after = 0
    for _ in range(MAXIMUM_PAGES):
        page = recorder.select_notifications(start=after, limit=page_size, stop=stop, inclusive_of_start=False)
        yield from page
        if len(page) < page_size:
            return
        after = page[-1].id
    raise RuntimeError(f"the walk read {MAXIMUM_PAGES} pages of events without reaching {stop}")


def _records(recorder: ChainedRecorder, stop: int, page_size: int) -> Iterator[ChainRecord]:
    after = 0
    for _ in range(MAXIMUM_PAGES):
        page = recorder.select_chain(after, stop, page_size)
        yield from page
        if len(page) < page_size:
            return
        after = page[-1].notification_id
    raise RuntimeError(f"the walk read {MAXIMUM_PAGES} pages of chain records without reaching {stop}")


def _merged(
    recorder: ChainedRecorder, stop: int, page_size: int
) -> Iterator[tuple[int, Notification | None, ChainRecord | None]]:
    """Every position holding an event, a chain record or both, ascending."""
    events, records = _events(recorder, stop, page_size), _records(recorder, stop, page_size)
    event, record = next(events, None), next(records, None)
    while event is not None or record is not None:
        event_position = event.id if event is not None else None
        record_position = record.notification_id if record is not None else None
        position = min(found for found in (event_position, record_position) if found is not None)
        here_event = event if event_position == position else None
        here_record = record if record_position == position else None
        yield position, here_event, here_record
        if here_event is not None:
            event = next(events, None)
        if here_record is not None:
            record = next(records, None)
