"""Queued reading uploads: bursts of up to 100,000 readings, recorded by a job in chunks of 2,000.

A concentrator or a clerk's import hands over a burst; ``UploadStore.submit`` keeps its items in
``upload_chunks`` (one row of JSON per chunk) and an ``upload_jobs`` row with the status, and the
caller starts ``process_reading_upload`` with the upload id only (a queued job carries no
readings: 100,000 of them are 20 MB of JSON, too much for a Redis message).

The job records the chunks in order, each one ``ReadingIntake.submit`` with the batch id
``uuid5(upload_id, chunk_number)``: each chunk is saved atomically, and running the job again
records nothing twice (the readings come back as duplicates). After each chunk, one transaction
deletes the chunk's items, keeps its rejected items in ``upload_rejections`` and adds its counts
to the upload: progress and remaining work never disagree, and a second run working at the same
time counts each chunk once. A failure marks the upload failed with the error; the chunks
recorded stay recorded (their readings are real) and a new run continues with the rest.
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from enum import StrEnum
from typing import Any
from uuid import UUID, uuid5

from sqlalchemy import (
    Column,
    Connection,
    Engine,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    Uuid,
    delete,
    func,
    insert,
    select,
    update,
)
from sqlalchemy.exc import IntegrityError

from application.authorization import Permission, Principal, Role
from application.ingestion import BatchReport, ItemOutcome, ItemStatus, ReadingItem
from domain.errors import ConflictError, InvalidInputError, LedgerError, NotFoundError
from domain.readings import ReadingValues
from domain.values import ReadingSource
from infrastructure.container import Container
from infrastructure.intake import Channel
from infrastructure.job_leases import HeldLease, LeaseLostError, lease_key, leased, leases_of
from projections.types import UtcDateTime

logger = logging.getLogger("heatledger.uploads")

MAXIMUM_UPLOAD_SIZE = 100_000
CHUNK_SIZE = 2_000
MAXIMUM_CHUNKS = math.ceil(MAXIMUM_UPLOAD_SIZE / CHUNK_SIZE)
# A running upload whose progress has not moved for this long is taken for dead (its process
# stopped): submitting it again starts a new run. One chunk takes seconds, not minutes.
STALLED_AFTER = timedelta(minutes=10)
MAXIMUM_ERROR_CHARACTERS = 2000
DEFAULT_REASON = "reading upload"
PROCESS_READING_UPLOAD = "process_reading_upload"

metadata = MetaData()

upload_jobs = Table(
    "upload_jobs",
    metadata,
    Column("upload_id", Uuid, primary_key=True),
    Column("status", String(16), nullable=False),
    Column("actor", String(128), nullable=False),
    Column("role", String(32), nullable=False),
    Column("reason", String(500), nullable=False),
    # SHA-256 of the items as stored: the same upload id with other readings is a conflict.
    Column("items_digest", String(64), nullable=False),
    Column("total_items", Integer, nullable=False),
    Column("total_chunks", Integer, nullable=False),
    Column("chunks_done", Integer, nullable=False),
    Column("processed", Integer, nullable=False),
    Column("accepted", Integer, nullable=False),
    Column("duplicates", Integer, nullable=False),
    Column("rejected", Integer, nullable=False),
    # 1 for the first run; each resubmission of a failed or stalled upload adds one.
    Column("attempt", Integer, nullable=False),
    Column("error_key", String(64), nullable=True),
    Column("error_params", Text, nullable=True),
    Column("error", Text, nullable=True),
    Column("submitted_at", UtcDateTime, nullable=False),
    Column("started_at", UtcDateTime, nullable=True),
    Column("finished_at", UtcDateTime, nullable=True),
    Column("updated_at", UtcDateTime, nullable=False),
    Index("ix_upload_jobs_submitted", "submitted_at"),
)

# Items not yet recorded: a chunk's row is deleted in the transaction that records its progress.
upload_chunks = Table(
    "upload_chunks",
    metadata,
    Column("upload_id", Uuid, primary_key=True),
    Column("chunk_number", Integer, primary_key=True),
    Column("first_index", Integer, nullable=False),
    # The chunk's readings as a JSON list in the API's reading format.
    Column("payload", Text, nullable=False),
)

upload_rejections = Table(
    "upload_rejections",
    metadata,
    Column("upload_id", Uuid, primary_key=True),
    Column("item_index", Integer, primary_key=True),
    Column("meter_serial", String(64), nullable=False),
    Column("measured_at", UtcDateTime, nullable=True),
    Column("reason", String(64), nullable=False),
    Column("message_key", String(64), nullable=True),
    Column("message", Text, nullable=False),
    Column("params", Text, nullable=False),
)


class UploadStatus(StrEnum):
    """Where an upload stands."""

    QUEUED = "queued"
    RUNNING = "running"
    DONE = "done"
    FAILED = "failed"


@dataclass(frozen=True)
class Upload:
    """An upload's status, progress and counts as ``upload_jobs`` holds them."""

    upload_id: UUID
    status: UploadStatus
    actor: str
    role: str
    reason: str
    items_digest: str
    total_items: int
    total_chunks: int
    chunks_done: int
    processed: int
    accepted: int
    duplicates: int
    rejected: int
    attempt: int
    error_key: str | None
    error_params: dict[str, Any]
    error: str | None
    submitted_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    updated_at: datetime

    @property
    def job_id(self) -> str:
        """The arq job id of the current attempt: enqueuing it twice queues one job."""
        return f"{PROCESS_READING_UPLOAD}:{self.upload_id}:{self.attempt}"

    def stalled(self, now: datetime) -> bool:
        """Running, but without progress for so long that its process must have stopped."""
        return self.status is UploadStatus.RUNNING and now - self.updated_at > STALLED_AFTER

    def summary(self) -> dict[str, Any]:
        """Status and counts as JSON-safe data (the job's result)."""
        return {
            "upload_id": str(self.upload_id),
            "status": self.status.value,
            "total": self.total_items,
            "processed": self.processed,
            "chunks_done": self.chunks_done,
            "accepted": self.accepted,
            "duplicates": self.duplicates,
            "rejected": self.rejected,
        }


@dataclass(frozen=True)
class UploadRejection:
    """A reading of an upload that the ledger refused: its index in the upload, the rule, the message."""

    item_index: int
    meter_serial: str
    measured_at: datetime | None
    reason: str
    message_key: str | None
    message: str
    params: dict[str, Any]


@dataclass(frozen=True)
class UploadSubmission:
    """The upload as submitted, and whether the caller must start a run of its job now."""

    upload: Upload
    start_run: bool


@dataclass(frozen=True)
class Chunk:
    """Up to CHUNK_SIZE items of an upload, still to be recorded."""

    number: int
    first_index: int
    items: list[ReadingItem]


def utc_now() -> datetime:
    return datetime.now(UTC)


def chunk_batch_id(upload_id: UUID, chunk_number: int) -> UUID:
    """The batch id of one chunk: the same on every run, so a second run records nothing twice."""
    return uuid5(upload_id, f"chunk:{chunk_number}")


# -- items as JSON ------------------------------------------------------------------------------

_OPTIONAL_DECIMALS = (
    "volume_m3",
    "operating_hours",
    "flow_temperature_c",
    "return_temperature_c",
    "flow_rate_m3_h",
    "power_kw",
)


def reading_item_to_payload(item: ReadingItem) -> dict[str, Any]:
    """A reading as JSON-safe data in the API's reading format (decimals as strings, ISO times)."""
    values = item.values
    payload: dict[str, Any] = {
        "meter_serial": item.meter_serial,
        "measured_at": values.measured_at.isoformat(),
        "energy_gj": str(values.energy_gj),
        "error_flags": values.error_flags,
        "source": ReadingSource(values.source).value,
        "faulty": values.faulty,
    }
    for name in _OPTIONAL_DECIMALS:
        value = getattr(values, name)
        payload[name] = None if value is None else str(value)
    return payload


def reading_item_from_payload(payload: Mapping[str, Any]) -> ReadingItem:
    """A reading from JSON-safe data in the API's reading format (``POST /readings/batches``).

    Decimals come as strings (or ints), the time as ISO 8601; an aware time is kept in UTC, a
    naive one stays naive so that the ledger rejects that one reading (``naive_timestamp``).
    """
    measured_at = datetime.fromisoformat(str(payload["measured_at"]))
    if measured_at.tzinfo is not None:
        measured_at = measured_at.astimezone(UTC)
    optional = {name: None if payload.get(name) is None else Decimal(str(payload[name])) for name in _OPTIONAL_DECIMALS}
    values = ReadingValues(
        measured_at=measured_at,
        energy_gj=Decimal(str(payload["energy_gj"])),
        error_flags=int(payload.get("error_flags") or 0),
        source=ReadingSource(payload.get("source", ReadingSource.MANUAL.value)),
        faulty=bool(payload.get("faulty", False)),
        **optional,
    )
    return ReadingItem(str(payload["meter_serial"]), values)


def _chunk_texts(items: Sequence[Mapping[str, Any]]) -> list[str]:
    return [
        json.dumps(list(items[first : first + CHUNK_SIZE]), ensure_ascii=False, separators=(",", ":"), default=str)
        for first in range(0, len(items), CHUNK_SIZE)
    ]


def _digest(chunk_texts: Sequence[str]) -> str:
    digest = hashlib.sha256()
    for text in chunk_texts:
        digest.update(text.encode())
        digest.update(b"\n")
    return digest.hexdigest()


# -- the store ----------------------------------------------------------------------------------


class UploadStore:
    """The uploads' rows: submit, claim a run, record each chunk's progress, finish or fail; read."""

    def __init__(self, engine: Engine, clock: Callable[[], datetime] = utc_now) -> None:
        self.engine = engine
        self.clock = clock

    # -- submitting -----------------------------------------------------------------------------

    def submit(
        self, upload_id: UUID, items: Sequence[Mapping[str, Any]], actor: str, role: str, reason: str
    ) -> UploadSubmission:
        """Keep an upload's items and queue it; submitting the same upload again is safe.

        Again with the same items: a failed or stalled upload is queued for a new run (which
        continues where the last one stopped), any other is left as it is. With other items:
        ConflictError (``upload_id_reused``).
        """
        if not 0 < len(items) <= MAXIMUM_UPLOAD_SIZE:
            raise InvalidInputError(
                f"an upload holds 1 to {MAXIMUM_UPLOAD_SIZE} readings",
                message_key="upload_size",
                limit=MAXIMUM_UPLOAD_SIZE,
                size=len(items),
            )
        chunk_texts = _chunk_texts(items)
        digest = _digest(chunk_texts)
        existing = self.get(upload_id)
        if existing is None:
            try:
                return UploadSubmission(
                    self._insert(upload_id, chunk_texts, digest, len(items), actor, role, reason), True
                )
            except IntegrityError:
                existing = self.get(upload_id)  # submitted at the same moment by another request
                assert existing is not None, "an upload that collided on insert exists"
        return self._resubmit(existing, digest)

    def _insert(
        self, upload_id: UUID, chunk_texts: list[str], digest: str, total: int, actor: str, role: str, reason: str
    ) -> Upload:
        now = self.clock()
        row = {
            "upload_id": upload_id,
            "status": UploadStatus.QUEUED.value,
            "actor": actor[:128],
            "role": Role(role).value,
            "reason": reason[:500],
            "items_digest": digest,
            "total_items": total,
            "total_chunks": len(chunk_texts),
            "chunks_done": 0,
            "processed": 0,
            "accepted": 0,
            "duplicates": 0,
            "rejected": 0,
            "attempt": 1,
            "submitted_at": now,
            "updated_at": now,
        }
        chunks = [
            {"upload_id": upload_id, "chunk_number": number, "first_index": number * CHUNK_SIZE, "payload": text}
            for number, text in enumerate(chunk_texts)
        ]
        with self.engine.begin() as connection:
            connection.execute(insert(upload_jobs).values(row))
            connection.execute(insert(upload_chunks), chunks)
        return self.require(upload_id)

    def _resubmit(self, upload: Upload, digest: str) -> UploadSubmission:
        if upload.items_digest != digest:
            raise ConflictError(
                f"the upload id {upload.upload_id} was used for other readings",
                message_key="upload_id_reused",
                kind="upload",
                key=str(upload.upload_id),
            )
        if upload.status is not UploadStatus.FAILED and not upload.stalled(self.clock()):
            return UploadSubmission(upload, False)
        with self.engine.begin() as connection:
            requeued = connection.execute(
                update(upload_jobs)
                .where(upload_jobs.c.upload_id == upload.upload_id, upload_jobs.c.attempt == upload.attempt)
                .values(status=UploadStatus.QUEUED.value, attempt=upload.attempt + 1, updated_at=self.clock())
            ).rowcount
        # Another request requeued it first: that request starts the run.
        return UploadSubmission(self.require(upload.upload_id), bool(requeued))

    # -- running --------------------------------------------------------------------------------

    def start(self, upload_id: UUID) -> Upload:
        """Mark a run begun (status running) unless the upload is done; the upload as it is now."""
        upload = self.require(upload_id)
        if upload.status is UploadStatus.DONE:
            return upload
        now = self.clock()
        with self.engine.begin() as connection:
            connection.execute(
                update(upload_jobs)
                .where(upload_jobs.c.upload_id == upload_id)
                .values(status=UploadStatus.RUNNING.value, started_at=now, updated_at=now)
            )
        return self.require(upload_id)

    def next_chunk(self, upload_id: UUID) -> Chunk | None:
        """The first chunk not yet recorded, or None when every chunk is."""
        statement = (
            select(upload_chunks.c.chunk_number, upload_chunks.c.first_index, upload_chunks.c.payload)
            .where(upload_chunks.c.upload_id == upload_id)
            .order_by(upload_chunks.c.chunk_number)
            .limit(1)
        )
        with self.engine.connect() as connection:
            row = connection.execute(statement).first()
        if row is None:
            return None
        items = [reading_item_from_payload(payload) for payload in json.loads(row.payload)]
        assert 0 < len(items) <= CHUNK_SIZE, "a chunk holds 1 to CHUNK_SIZE items"
        return Chunk(row.chunk_number, row.first_index, items)

    def record_chunk(self, upload_id: UUID, chunk: Chunk, report: BatchReport) -> bool:
        """Count a recorded chunk and keep its rejected items, once: False if another run did."""
        assert len(report.outcomes) == len(chunk.items), "every item of the chunk has an outcome"
        rejections = [
            _rejection_row(upload_id, chunk.first_index, outcome)
            for outcome in report.outcomes
            if outcome.status is ItemStatus.REJECTED
        ]
        with self.engine.begin() as connection:
            removed = connection.execute(
                delete(upload_chunks).where(
                    upload_chunks.c.upload_id == upload_id, upload_chunks.c.chunk_number == chunk.number
                )
            ).rowcount
            if removed == 0:
                return False
            if rejections:
                connection.execute(insert(upload_rejections), rejections)
            connection.execute(
                update(upload_jobs)
                .where(upload_jobs.c.upload_id == upload_id)
                .values(
                    chunks_done=upload_jobs.c.chunks_done + 1,
                    processed=upload_jobs.c.processed + len(report.outcomes),
                    accepted=upload_jobs.c.accepted + report.accepted,
                    duplicates=upload_jobs.c.duplicates + report.duplicates,
                    rejected=upload_jobs.c.rejected + report.rejected,
                    updated_at=self.clock(),
                )
            )
        return True

    def finish(self, upload_id: UUID) -> Upload:
        """Mark the upload done: every chunk is recorded."""
        now = self.clock()
        with self.engine.begin() as connection:
            assert _chunks_left(connection, upload_id) == 0, "an upload is done only when no chunk is left"
            connection.execute(
                update(upload_jobs)
                .where(upload_jobs.c.upload_id == upload_id)
                .values(
                    status=UploadStatus.DONE.value,
                    finished_at=now,
                    updated_at=now,
                    error_key=None,
                    error_params=None,
                    error=None,
                )
            )
        upload = self.require(upload_id)
        assert upload.processed == upload.total_items == upload.accepted + upload.duplicates + upload.rejected
        return upload

    def fail(self, upload_id: UUID, error: BaseException) -> None:
        """Mark the upload failed with the error that stopped it; recorded chunks stay recorded."""
        if isinstance(error, LedgerError):
            key, params = error.message_key, {"code": error.code, **error.params}
        else:
            key, params = "upload_failed", {}
        with self.engine.begin() as connection:
            connection.execute(
                update(upload_jobs)
                .where(upload_jobs.c.upload_id == upload_id)
                .values(
                    status=UploadStatus.FAILED.value,
                    error_key=key[:64],
                    error_params=json.dumps(params, ensure_ascii=False, default=str),
                    error=f"{type(error).__name__}: {error}"[:MAXIMUM_ERROR_CHARACTERS],
                    updated_at=self.clock(),
                )
            )

    # -- reading --------------------------------------------------------------------------------

    def get(self, upload_id: UUID) -> Upload | None:
        """The upload with this id, or None."""
        with self.engine.connect() as connection:
            row = connection.execute(select(upload_jobs).where(upload_jobs.c.upload_id == upload_id)).mappings().first()
        return _upload(row) if row is not None else None

    def require(self, upload_id: UUID) -> Upload:
        """The upload with this id, or NotFoundError."""
        upload = self.get(upload_id)
        if upload is None:
            raise NotFoundError(f"no upload {upload_id}", kind="upload", key=str(upload_id))
        return upload

    def rejections(self, upload_id: UUID, limit: int, offset: int = 0) -> list[UploadRejection]:
        """An upload's rejected items in the order they were sent."""
        assert limit > 0, "a page holds at least one item"
        statement = (
            select(upload_rejections)
            .where(upload_rejections.c.upload_id == upload_id)
            .order_by(upload_rejections.c.item_index)
            .limit(limit)
            .offset(offset)
        )
        with self.engine.connect() as connection:
            return [_rejection(row) for row in connection.execute(statement).mappings()]


def _chunks_left(connection: Connection, upload_id: UUID) -> int:
    statement = select(func.count()).select_from(upload_chunks).where(upload_chunks.c.upload_id == upload_id)
    return int(connection.execute(statement).scalar_one())


def _upload(row: Any) -> Upload:
    values = dict(row)
    values["status"] = UploadStatus(values["status"])
    values["error_params"] = json.loads(values["error_params"]) if values["error_params"] else {}
    return Upload(**values)


def _rejection_row(upload_id: UUID, first_index: int, outcome: ItemOutcome) -> dict[str, Any]:
    return {
        "upload_id": upload_id,
        "item_index": first_index + outcome.index,
        "meter_serial": outcome.meter_serial[:64],
        "measured_at": outcome.measured_at if outcome.measured_at.tzinfo else None,
        "reason": (outcome.reason or "rejected")[:64],
        "message_key": outcome.message_key,
        "message": outcome.message or "",
        "params": json.dumps(outcome.params, ensure_ascii=False, default=str),
    }


def _rejection(row: Any) -> UploadRejection:
    values = {name: value for name, value in row.items() if name != "upload_id"}
    values["params"] = json.loads(values["params"])
    return UploadRejection(**values)


# -- the job ------------------------------------------------------------------------------------


def process_reading_upload(
    container: Container,
    upload_id: str,
    items: list[dict[str, Any]] | None = None,
    actor: str | None = None,
    role: str | None = None,
    reason: str | None = None,
) -> dict[str, Any]:
    """Record an upload's readings chunk by chunk; returns its status and counts.

    The API submits the upload first and passes only its id. A caller may instead pass the
    items (JSON-safe readings in the API's format) with the actor, role and reason: the upload
    is then submitted here first, under ``upload_id`` (again: safe). Raises what stopped the run,
    after marking the upload failed; running it again continues with the chunks not recorded.
    """
    identifier = UUID(upload_id)
    store = UploadStore(container.engine, container.ledger.clock)
    if items is not None:
        _submit_from_job(store, identifier, items, actor, role, reason)
    leases = leases_of(container.engine, container.settings.job_lease_seconds)
    summary = leased(
        leases, lease_key(PROCESS_READING_UPLOAD, identifier), lambda lease: _run(container, store, identifier, lease)
    )
    if summary is None:  # another worker has the upload
        return store.require(identifier).summary()
    return summary


def _run(container: Container, store: UploadStore, upload_id: UUID, lease: HeldLease) -> dict[str, Any]:
    """One execution of an upload's job, under its lease: each chunk begins with the lease renewed."""
    lease.checkpoint()
    upload = store.start(upload_id)
    if upload.status is UploadStatus.DONE:
        return upload.summary()
    try:
        _record_chunks(container, store, upload, lease)
        _catch_up(container)
        return store.finish(upload_id).summary()
    except LeaseLostError:
        raise  # another worker continues the upload: its record is not this execution's to mark
    except BaseException as error:
        _mark_failed(store, upload_id, error)
        raise


def _submit_from_job(
    store: UploadStore,
    upload_id: UUID,
    items: list[dict[str, Any]],
    actor: str | None,
    role: str | None,
    reason: str | None,
) -> None:
    if actor is None or role is None:
        raise ValueError("an upload passed with its items needs the actor and role")
    for payload in items:
        reading_item_from_payload(payload)  # fail on a malformed item before anything is stored
    store.submit(upload_id, items, actor, role, reason or DEFAULT_REASON)


def _record_chunks(container: Container, store: UploadStore, upload: Upload, lease: HeldLease) -> None:
    principal = Principal(upload.actor, Role(upload.role))
    principal.require(Permission.SUBMIT_READINGS)
    for chunk in _remaining_chunks(store, upload, lease):
        batch_id = chunk_batch_id(upload.upload_id, chunk.number)
        report = container.intake.submit(principal, chunk.items, Channel.UPLOAD, upload.reason, batch_id=batch_id)
        counted = store.record_chunk(upload.upload_id, chunk, report)
        # One line per chunk and execution: the fault tests read them to see no chunk done twice.
        logger.info(
            "upload %s chunk %d recorded by %s (%d accepted, %d duplicates, %d rejected)%s",
            upload.upload_id,
            chunk.number,
            lease.owner,
            report.accepted,
            report.duplicates,
            report.rejected,
            "" if counted else "; another execution had counted it",
        )


def _remaining_chunks(store: UploadStore, upload: Upload, lease: HeldLease) -> Iterator[Chunk]:
    # Bounded by the chunks the upload has: each round records (or skips) the first one left.
    for _ in range(upload.total_chunks):
        lease.checkpoint()  # a chunk begins only under a lease renewed now
        chunk = store.next_chunk(upload.upload_id)
        if chunk is None:
            return
        yield chunk
    assert store.next_chunk(upload.upload_id) is None, "no chunk is left after total_chunks rounds"


def _catch_up(container: Container) -> None:
    # The readings are recorded either way: a read model that cannot catch up now lags until the
    # next catch-up (the worker's periodic one, or the next command's); it does not fail the upload.
    try:
        container.catch_up()
    except Exception:
        logger.exception("the read models could not catch up after an upload")


def _mark_failed(store: UploadStore, upload_id: UUID, error: BaseException) -> None:
    try:
        store.fail(upload_id, error)
    except Exception:
        logger.exception("upload %s failed and could not be marked failed", upload_id)
