"""Tariff corrections as jobs: a ``tariff_correction_jobs`` row per preview or run (its status,
progress and summary, or its error), and the ``tariff_correction_notes`` a preview computed, one
row per settlement bill the correction moves, which its run books.

The API and the CLI start a preview or a run, and the job carries only the job's id; the same
functions run in-process (``inline``) or on an arq worker, like billing runs
(infrastructure/billing_runs.py). A preview stores a scenario per season through the scenarios'
own store (``ScenarioStore``) and its notes here; the run reads them back in chunks, in the order
the preview's digest was taken in, and books each chunk in one save
(``TariffCorrections.book_chunk``). A run killed half-way leaves whole chunks booked; run again, it
books only what is missing.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from enum import StrEnum
from typing import TYPE_CHECKING, Any
from uuid import UUID, uuid4

from sqlalchemy import (
    Boolean,
    Column,
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
    tuple_,
    update,
)

from application.authorization import Permission, Principal, Role
from application.billing_runs import RunException
from application.tariff_corrections import (
    CHUNK_SIZE,
    ChunkReport,
    PlannedNote,
    PreviewResult,
    TariffCorrections,
    notes_digest,
)
from domain.errors import ConflictError, LedgerError, NotFoundError
from domain.settlement import BillLine
from domain.tariff_correction import CorrectionState, TariffCorrection
from infrastructure.job_failures import failure_columns
from infrastructure.scenarios import ScenarioStore
from projections.tables import MONEY_SCALE, bills
from projections.types import ScaledDecimal, UtcDateTime

if TYPE_CHECKING:
    from infrastructure.container import Container

logger = logging.getLogger("heatledger.tariff_corrections")

PREVIEW_TARIFF_CORRECTION = "preview_tariff_correction"
RUN_TARIFF_CORRECTION = "run_tariff_correction"
MAXIMUM_PAGE = 1000
# Rows read back per query when a preview's notes are digested or booked.
READ_BATCH = 1000

metadata = MetaData()

tariff_correction_jobs = Table(
    "tariff_correction_jobs",
    metadata,
    Column("job_id", Uuid, primary_key=True),
    Column("correction_id", Uuid, nullable=False),
    Column("kind", String(16), nullable=False),  # preview, run
    Column("preview_number", Integer, nullable=False),
    Column("status", String(16), nullable=False),
    Column("actor", String(128), nullable=False),
    Column("role", String(32), nullable=False),
    Column("reason", String(500), nullable=False),
    Column("done", Integer, nullable=False),
    Column("total", Integer, nullable=False),
    Column("summary", Text, nullable=True),
    Column("error_key", String(64), nullable=True),
    Column("error_params", Text, nullable=True),
    Column("error", Text, nullable=True),
    Column("submitted_at", UtcDateTime, nullable=False),
    Column("started_at", UtcDateTime, nullable=True),
    Column("finished_at", UtcDateTime, nullable=True),
    Index("ix_tariff_correction_jobs_correction", "correction_id", "submitted_at"),
)

# The notes a preview computed: one per settlement bill (owner segment) whose amount the correction
# changes. ``bill_id`` is the id the note's bill has once booked (bills.bill_id).
tariff_correction_notes = Table(
    "tariff_correction_notes",
    metadata,
    Column("correction_id", Uuid, primary_key=True),
    Column("preview_number", Integer, primary_key=True),
    Column("account_number", String(64), primary_key=True),
    Column("season_code", String(16), primary_key=True),
    Column("segment", String(8), primary_key=True),
    Column("household_id", Uuid, nullable=False),
    Column("community", String(128), nullable=False),
    Column("building", String(64), nullable=False),
    Column("adjusted_bill_number", String(128), nullable=False),
    Column("amount_yuan", ScaledDecimal(MONEY_SCALE), nullable=False),
    Column("lines", Text, nullable=False),
    Column("matches_issued", Boolean, nullable=False),
    Column("bill_id", Uuid, nullable=False),
)


class JobKind(StrEnum):
    PREVIEW = "preview"
    RUN = "run"


class JobStatus(StrEnum):
    QUEUED = "queued"
    RUNNING = "running"
    DONE = "done"
    FAILED = "failed"


@dataclass(frozen=True)
class CorrectionJobRecord:
    """A preview or run as ``tariff_correction_jobs`` holds it."""

    job_id: UUID
    correction_id: UUID
    kind: JobKind
    preview_number: int
    status: JobStatus
    actor: str
    role: str
    reason: str
    done: int
    total: int
    summary: dict[str, Any] | None
    error_key: str | None
    error_params: dict[str, Any]
    error: str | None
    submitted_at: datetime
    started_at: datetime | None
    finished_at: datetime | None


@dataclass(frozen=True)
class NoteRow:
    """A previewed note, and its bill once booked (None: not booked yet)."""

    note: PlannedNote
    bill_id: UUID
    booked_number: str | None
    booked_amount_yuan: Decimal | None
    issued_on: Any


class TariffCorrectionStore:
    """The jobs and the previewed notes of tariff corrections."""

    def __init__(self, engine: Engine, clock: Callable[[], datetime]) -> None:
        self.engine = engine
        self.clock = clock

    # -- jobs ------------------------------------------------------------------------------------

    def submit(
        self, principal: Principal, correction_id: UUID, kind: JobKind, preview_number: int, reason: str
    ) -> UUID:
        """Record a queued preview or run (after checking the caller may correct tariffs)."""
        principal.require(Permission.MANAGE_TARIFFS)
        job_id = uuid4()
        with self.engine.begin() as connection:
            connection.execute(
                insert(tariff_correction_jobs).values(
                    job_id=job_id,
                    correction_id=correction_id,
                    kind=JobKind(kind).value,
                    preview_number=preview_number,
                    status=JobStatus.QUEUED.value,
                    actor=principal.name,
                    role=principal.role.value,
                    reason=reason[:500],
                    done=0,
                    total=0,
                    submitted_at=self.clock(),
                )
            )
        return job_id

    def get(self, job_id: UUID) -> CorrectionJobRecord:
        """The job, or NotFoundError."""
        table = tariff_correction_jobs
        with self.engine.connect() as connection:
            row = connection.execute(select(table).where(table.c.job_id == job_id)).mappings().first()
        if row is None:
            raise NotFoundError(f"no tariff correction job {job_id}", kind="tariff_correction_job", key=str(job_id))
        return _job_record(row)

    def jobs_of(self, correction_id: UUID, limit: int = 20) -> list[CorrectionJobRecord]:
        """A correction's latest jobs, newest first."""
        table = tariff_correction_jobs.c
        statement = (
            select(tariff_correction_jobs)
            .where(table.correction_id == correction_id)
            .order_by(table.submitted_at.desc())
            .limit(max(1, min(limit, 200)))
        )
        with self.engine.connect() as connection:
            return [_job_record(row) for row in connection.execute(statement).mappings()]

    def _update(self, job_id: UUID, **values: Any) -> None:
        table = tariff_correction_jobs
        with self.engine.begin() as connection:
            connection.execute(update(table).where(table.c.job_id == job_id).values(**values))

    def started(self, job_id: UUID) -> None:
        self._update(job_id, status=JobStatus.RUNNING.value, started_at=self.clock())

    def progressed(self, job_id: UUID, done: int, total: int) -> None:
        self._update(job_id, done=done, total=total)

    def finished(self, job_id: UUID, summary: dict[str, Any]) -> None:
        self._update(
            job_id,
            status=JobStatus.DONE.value,
            summary=json.dumps(summary, ensure_ascii=False),
            finished_at=self.clock(),
        )

    def failed(self, job_id: UUID, error: BaseException) -> None:
        self._update(
            job_id,
            status=JobStatus.FAILED.value,
            finished_at=self.clock(),
            **failure_columns(error, "tariff_correction_failed"),
        )

    # -- previewed notes -------------------------------------------------------------------------

    def clear_notes(self, correction_id: UUID, preview_number: int) -> None:
        """Drop a preview's notes (a preview computed again starts over)."""
        table = tariff_correction_notes.c
        with self.engine.begin() as connection:
            connection.execute(
                delete(tariff_correction_notes).where(
                    table.correction_id == correction_id, table.preview_number == preview_number
                )
            )

    def write_notes(self, correction: TariffCorrection, preview_number: int, notes: Sequence[PlannedNote]) -> None:
        """A chunk of a preview's notes, in one transaction."""
        if not notes:
            return
        rows = [_note_row(correction, preview_number, note) for note in notes]
        with self.engine.begin() as connection:
            connection.execute(insert(tariff_correction_notes), rows)

    def note_chunks(
        self, correction_id: UUID, preview_number: int, size: int = CHUNK_SIZE
    ) -> Iterator[list[PlannedNote]]:
        """A preview's notes in order (account, season, segment), ``size`` at a time."""
        table = tariff_correction_notes.c
        key = tuple_(table.account_number, table.season_code, table.segment)
        after: tuple[str, str, str] | None = None
        while True:
            statement = (
                select(tariff_correction_notes)
                .where(table.correction_id == correction_id, table.preview_number == preview_number)
                .order_by(table.account_number, table.season_code, table.segment)
                .limit(size)
            )
            if after is not None:
                statement = statement.where(key > tuple_(*after))
            with self.engine.connect() as connection:
                rows = list(connection.execute(statement).mappings())
            if not rows:
                return
            yield [_planned(row) for row in rows]
            last = rows[-1]
            after = (last["account_number"], last["season_code"], last["segment"])

    def digest(self, correction_id: UUID, preview_number: int) -> str:
        """The digest of a preview's notes as stored, in the order the run books them."""
        return notes_digest(
            note for chunk in self.note_chunks(correction_id, preview_number, READ_BATCH) for note in chunk
        )

    def count_notes(self, correction_id: UUID, preview_number: int) -> int:
        table = tariff_correction_notes.c
        with self.engine.connect() as connection:
            return int(
                connection.execute(
                    select(func.count()).where(
                        table.correction_id == correction_id, table.preview_number == preview_number
                    )
                ).scalar_one()
            )

    def notes_page(
        self,
        correction_id: UUID,
        preview_number: int,
        booked: bool | None = None,
        limit: int = 100,
        offset: int = 0,
    ) -> list[NoteRow]:
        """A preview's notes by account, with each one's bill once booked (``booked``: only those
        booked, or only those not booked yet)."""
        table = tariff_correction_notes.c
        statement = (
            select(
                tariff_correction_notes, bills.c.number, bills.c.amount_yuan.label("booked_amount"), bills.c.issued_on
            )
            .select_from(tariff_correction_notes.outerjoin(bills, bills.c.bill_id == table.bill_id))
            .where(table.correction_id == correction_id, table.preview_number == preview_number)
            .order_by(table.account_number, table.season_code, table.segment)
            .limit(max(1, min(limit, MAXIMUM_PAGE)))
            .offset(max(0, offset))
        )
        if booked is True:
            statement = statement.where(bills.c.bill_id.is_not(None))
        elif booked is False:
            statement = statement.where(bills.c.bill_id.is_(None))
        with self.engine.connect() as connection:
            return [
                NoteRow(_planned(row), row["bill_id"], row["number"], row["booked_amount"], row["issued_on"])
                for row in connection.execute(statement).mappings()
            ]


def _note_row(correction: TariffCorrection, preview_number: int, note: PlannedNote) -> dict[str, Any]:
    return {
        "correction_id": correction.id,
        "preview_number": preview_number,
        "account_number": note.account_number,
        "season_code": note.season_code,
        "segment": note.segment,
        "household_id": note.household_id,
        "community": note.community,
        "building": note.building,
        "adjusted_bill_number": note.adjusted_bill_number,
        "amount_yuan": note.amount_yuan,
        "lines": json.dumps([line.to_record() for line in note.lines], default=str, ensure_ascii=False),
        "matches_issued": note.matches_issued,
        "bill_id": note.bill_id(correction),
    }


def _planned(row: Any) -> PlannedNote:
    return PlannedNote(
        account_number=row["account_number"],
        household_id=row["household_id"],
        community=row["community"],
        building=row["building"],
        season_code=row["season_code"],
        segment=row["segment"],
        adjusted_bill_number=row["adjusted_bill_number"],
        amount_yuan=row["amount_yuan"],
        lines=tuple(BillLine.from_record(line) for line in json.loads(row["lines"])),
        matches_issued=row["matches_issued"],
    )


def _job_record(row: Any) -> CorrectionJobRecord:
    return CorrectionJobRecord(
        job_id=row["job_id"],
        correction_id=row["correction_id"],
        kind=JobKind(row["kind"]),
        preview_number=row["preview_number"],
        status=JobStatus(row["status"]),
        actor=row["actor"],
        role=row["role"],
        reason=row["reason"],
        done=row["done"],
        total=row["total"],
        summary=json.loads(row["summary"]) if row["summary"] else None,
        error_key=row["error_key"],
        error_params=json.loads(row["error_params"]) if row["error_params"] else {},
        error=row["error"],
        submitted_at=row["submitted_at"],
        started_at=row["started_at"],
        finished_at=row["finished_at"],
    )


def exception_payload(exception: RunException) -> dict[str, Any]:
    return {
        "account_number": exception.account_number,
        "message_key": exception.message_key,
        "message": exception.message,
        "params": {key: str(value) for key, value in exception.params.items()},
    }


def preview_payload(result: PreviewResult) -> dict[str, Any]:
    """A preview's summary as JSON-safe data: its scenarios, figures, held-out households."""
    totals = result.totals
    return {
        "preview_number": result.preview_number,
        "scenario_ids": [str(scenario_id) for scenario_id in result.scenario_ids],
        "totals": {**totals.to_record(), "net_yuan": str(totals.net_yuan)},
        "held_out": [exception_payload(exception) for exception in result.held_out],
        "issued_differ_accounts": result.issued_differ,
    }


@dataclass
class RunTally:
    """What a run did across its chunks."""

    booked: int = 0
    already_booked: int = 0
    debit_yuan: Decimal = Decimal(0)
    credit_yuan: Decimal = Decimal(0)
    exceptions: list[RunException] = field(default_factory=list)
    completed: bool = False

    def add(self, report: ChunkReport) -> None:
        self.booked += len(report.booked_yuan)
        self.already_booked += report.already_booked
        self.debit_yuan += sum((amount for amount in report.booked_yuan if amount > 0), Decimal(0))
        self.credit_yuan += sum((amount for amount in report.booked_yuan if amount < 0), Decimal(0))
        self.exceptions.extend(report.exceptions)

    def payload(self) -> dict[str, Any]:
        return {
            "notes_booked": self.booked,
            "already_booked": self.already_booked,
            "debit_yuan": str(self.debit_yuan),
            "credit_yuan": str(self.credit_yuan),
            "net_yuan": str(self.debit_yuan + self.credit_yuan),
            "completed": self.completed,
            "exceptions": [exception_payload(exception) for exception in self.exceptions[:500]],
        }


# -- the jobs ----------------------------------------------------------------------------------


# (done, total): a caller's own view of a job's progress (the CLI's bar), beside the job's row.
Progress = Callable[[int, int], None]


def execute_preview(
    store: TariffCorrectionStore,
    corrections: TariffCorrections,
    scenario_store: ScenarioStore,
    job_id: UUID,
    progress: Progress | None = None,
) -> CorrectionJobRecord:
    """Compute a requested preview: its scenarios, its notes, its figures on the correction."""
    record = store.get(job_id)
    if record.status is JobStatus.DONE:
        return record  # a redelivered job: the preview is in
    principal = Principal(record.actor, Role(record.role))
    number = record.preview_number
    store.started(job_id)
    store.clear_notes(record.correction_id, number)  # an attempt before this one starts over

    def guarded() -> dict[str, Any]:
        correction = corrections.correction(record.correction_id)
        result = corrections.compute_preview(
            principal,
            record.correction_id,
            number,
            scenario_store,
            lambda notes: store.write_notes(correction, number, notes),
            _reporter(store, job_id, progress),
        )
        corrections.record_preview(principal, record.correction_id, result, store.digest(record.correction_id, number))
        return preview_payload(result)

    return _run_job(store, job_id, guarded)


def execute_run(
    store: TariffCorrectionStore, corrections: TariffCorrections, job_id: UUID, progress: Progress | None = None
) -> CorrectionJobRecord:
    """Book an approved correction's notes, a chunk per save, then complete it."""
    record = store.get(job_id)
    if record.status is JobStatus.DONE:
        return record
    principal = Principal(record.actor, Role(record.role))
    correction_id = record.correction_id
    store.started(job_id)

    def guarded() -> dict[str, Any]:
        correction = corrections.correction(correction_id)
        number = correction.approved_preview
        corrections.start_run(principal, correction_id, store.digest(correction_id, number), job_id)
        total = store.count_notes(correction_id, number)
        report = _reporter(store, job_id, progress)
        report(0, total)
        tally = RunTally()
        for chunk in store.note_chunks(correction_id, number):
            tally.add(corrections.book_chunk(principal, correction_id, chunk, job_id))
            report(tally.booked + tally.already_booked + len(tally.exceptions), total)
        if not tally.exceptions:
            corrections.complete(principal, correction_id, job_id)
            tally.completed = True
        return tally.payload()

    return _run_job(store, job_id, guarded)


def _reporter(store: TariffCorrectionStore, job_id: UUID, progress: Progress | None) -> Progress:
    def report(done: int, total: int) -> None:
        store.progressed(job_id, done, total)
        if progress is not None:
            progress(done, total)

    return report


def _run_job(store: TariffCorrectionStore, job_id: UUID, work: Callable[[], dict[str, Any]]) -> CorrectionJobRecord:
    try:
        summary = work()
    except LedgerError as error:
        store.failed(job_id, error)
        return store.get(job_id)
    except Exception as error:
        logger.exception("tariff correction job %s failed", job_id)
        store.failed(job_id, error)
        raise
    store.finished(job_id, summary)
    return store.get(job_id)


def tariff_corrections_of(container: Container) -> TariffCorrections:
    """The tariff corrections' use cases over the container's ledger and scenarios (cheap)."""
    return TariffCorrections(container.ledger, container.scenarios)


def correction_store_of(container: Container) -> TariffCorrectionStore:
    """The tariff corrections' jobs and previewed notes."""
    return TariffCorrectionStore(container.engine, container.ledger.clock)


def require_runnable(correction: TariffCorrection) -> None:
    """A run is started only after the approval (then resumed, or run again to no effect)."""
    if correction.state not in (CorrectionState.APPROVED, CorrectionState.RUNNING, CorrectionState.COMPLETED):
        raise ConflictError(
            f"a correction that is {correction.state.value} cannot run: it runs after its approval",
            message_key="tariff_correction_state",
            state=correction.state.value,
            action="run",
        )


def submit_preview(container: Container, principal: Principal, correction_id: UUID, reason: str) -> UUID:
    """Start a new preview of a correction and queue its job (not run yet); returns the job's id."""
    number = tariff_corrections_of(container).request_preview(principal, correction_id, reason)
    return correction_store_of(container).submit(principal, correction_id, JobKind.PREVIEW, number, reason)


def submit_run(container: Container, principal: Principal, correction_id: UUID, reason: str) -> UUID:
    """Queue the run of an approved correction (not run yet); returns the job's id. A correction
    running or completed runs again to book what is missing (nothing, once it completed)."""
    principal.require(Permission.MANAGE_TARIFFS)
    correction = tariff_corrections_of(container).correction(correction_id)
    require_runnable(correction)
    return correction_store_of(container).submit(
        principal, correction_id, JobKind.RUN, correction.approved_preview, reason
    )


def preview_tariff_correction(container: Container, job_id: str) -> dict[str, Any]:
    """The job of a preview (its row in ``tariff_correction_jobs`` says which). The read models
    are caught up first: the preview reads the periods and bills they hold."""
    container.catch_up()
    record = execute_preview(
        correction_store_of(container), tariff_corrections_of(container), container.scenario_store, UUID(job_id)
    )
    container.catch_up()
    return {"job_id": job_id, "status": record.status.value, "error": record.error}


def run_tariff_correction(container: Container, job_id: str) -> dict[str, Any]:
    """The job of a run: book the approved notes, then complete the correction."""
    record = execute_run(correction_store_of(container), tariff_corrections_of(container), UUID(job_id))
    container.catch_up()
    return {"job_id": job_id, "status": record.status.value, "summary": record.summary, "error": record.error}
