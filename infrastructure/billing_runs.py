"""Billing runs as jobs: a ``billing_runs`` row per run with its request, status, progress and,
when it ends, its summary (bills, totals, exceptions with reasons) or its error.

The API and the CLI submit a run (a queued row), and the ``run_billing`` job carries only the
run id; it runs ``BillingRuns.run`` and writes progress after each chunk. The bills themselves
are events of the billing periods, so a run that fails half-way leaves whole chunks billed and a
new run bills only the rest.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from enum import StrEnum
from typing import Any
from uuid import UUID, uuid4

from sqlalchemy import Column, Engine, Index, Integer, MetaData, String, Table, Text, Uuid, insert, select, update

from application.authorization import Permission, Principal, Role
from application.billing_runs import BillingRuns, RunException, RunRequest, RunSummary
from domain.billing import BillKind
from domain.errors import LedgerError, NotFoundError
from domain.season import Season
from infrastructure.job_failures import failure_columns
from infrastructure.job_leases import LeaseLostError
from projections.types import UtcDateTime

logger = logging.getLogger("heatledger.billing")

RUN_BILLING = "run_billing"

metadata = MetaData()

billing_runs = Table(
    "billing_runs",
    metadata,
    Column("run_id", Uuid, primary_key=True),
    Column("kind", String(16), nullable=False),
    Column("season_code", String(16), nullable=False),
    Column("month", String(7), nullable=True),
    Column("community", String(128), nullable=True),
    Column("status", String(16), nullable=False),
    Column("actor", String(128), nullable=False),
    Column("role", String(32), nullable=False),
    Column("reason", String(500), nullable=False),
    Column("households_done", Integer, nullable=False),
    Column("households_total", Integer, nullable=False),
    # The run's summary as JSON once it is done; the error (key, params, text) when it failed.
    Column("summary", Text, nullable=True),
    Column("error_key", String(64), nullable=True),
    Column("error_params", Text, nullable=True),
    Column("error", Text, nullable=True),
    Column("submitted_at", UtcDateTime, nullable=False),
    Column("started_at", UtcDateTime, nullable=True),
    Column("finished_at", UtcDateTime, nullable=True),
    Index("ix_billing_runs_submitted", "submitted_at"),
)


class RunStatus(StrEnum):
    """Where a billing run stands."""

    QUEUED = "queued"
    RUNNING = "running"
    DONE = "done"
    FAILED = "failed"


@dataclass(frozen=True)
class BillingRunRecord:
    """A run as ``billing_runs`` holds it."""

    run_id: UUID
    kind: BillKind
    season_code: str
    month: str | None
    community: str | None
    status: RunStatus
    actor: str
    role: str
    reason: str
    households_done: int
    households_total: int
    summary: dict[str, Any] | None
    error_key: str | None
    error_params: dict[str, Any]
    error: str | None
    submitted_at: datetime
    started_at: datetime | None
    finished_at: datetime | None

    @property
    def request(self) -> RunRequest:
        return RunRequest(self.kind, Season.from_code(self.season_code), self.month, self.community)


def summary_to_payload(summary: RunSummary) -> dict[str, Any]:
    """A run summary as JSON-safe data: counts, totals as strings of 元, exceptions."""
    return {
        "run_id": str(summary.run_id),
        "kind": summary.kind.value,
        "season": summary.season_code,
        "month": summary.month,
        "community": summary.community,
        "households": summary.households,
        "bills_issued": summary.bills_issued,
        "already_issued": summary.already_issued,
        "charged_yuan": str(summary.charged_yuan.quantize(Decimal("0.01"))),
        "credited_yuan": str(summary.credited_yuan.quantize(Decimal("0.01"))),
        "by_basis": dict(sorted(summary.by_basis.items())),
        "exceptions": [_exception_payload(exception) for exception in summary.exceptions],
        "skipped": [_exception_payload(exception) for exception in summary.skipped],
    }


def _exception_payload(exception: RunException) -> dict[str, Any]:
    return {
        "account_number": exception.account_number,
        "message_key": exception.message_key,
        "message": exception.message,
        "params": {key: str(value) for key, value in exception.params.items()},
    }


class BillingRunStore:
    """The ``billing_runs`` table: submit, progress, finish, read."""

    def __init__(self, engine: Engine, clock: Callable[[], datetime]) -> None:
        self.engine = engine
        self.clock = clock

    def submit(self, principal: Principal, request: RunRequest, reason: str) -> UUID:
        """Record a queued run (after checking the caller may run billing); returns its id."""
        principal.require(Permission.RUN_BILLING)
        run_id = uuid4()
        with self.engine.begin() as connection:
            connection.execute(
                insert(billing_runs).values(
                    run_id=run_id,
                    kind=request.kind.value,
                    season_code=request.season.code,
                    month=request.month,
                    community=request.community,
                    status=RunStatus.QUEUED.value,
                    actor=principal.name,
                    role=principal.role.value,
                    reason=reason,
                    households_done=0,
                    households_total=0,
                    submitted_at=self.clock(),
                )
            )
        return run_id

    def get(self, run_id: UUID) -> BillingRunRecord:
        """The run, or NotFoundError."""
        with self.engine.connect() as connection:
            row = connection.execute(select(billing_runs).where(billing_runs.c.run_id == run_id)).mappings().first()
        if row is None:
            raise NotFoundError(f"no billing run {run_id}", kind="billing_run", key=str(run_id))
        return _record(row)

    def recent(self, limit: int) -> list[BillingRunRecord]:
        """The latest runs, newest first."""
        statement = select(billing_runs).order_by(billing_runs.c.submitted_at.desc()).limit(max(1, min(limit, 200)))
        with self.engine.connect() as connection:
            return [_record(row) for row in connection.execute(statement).mappings()]

    def _update(self, run_id: UUID, **values: Any) -> None:
        with self.engine.begin() as connection:
            connection.execute(update(billing_runs).where(billing_runs.c.run_id == run_id).values(**values))

    def started(self, run_id: UUID) -> None:
        self._update(run_id, status=RunStatus.RUNNING.value, started_at=self.clock())

    def progressed(self, run_id: UUID, done: int, total: int) -> None:
        self._update(run_id, households_done=done, households_total=total)

    def finished(self, run_id: UUID, summary: RunSummary) -> None:
        payload = summary_to_payload(summary)
        self._update(
            run_id,
            status=RunStatus.DONE.value,
            households_total=summary.households,
            households_done=summary.households,
            summary=json.dumps(payload, ensure_ascii=False),
            finished_at=self.clock(),
        )

    def failed(self, run_id: UUID, error: BaseException) -> None:
        self._update(
            run_id,
            status=RunStatus.FAILED.value,
            finished_at=self.clock(),
            **failure_columns(error, "run_failed"),
        )


def _record(row: Any) -> BillingRunRecord:
    return BillingRunRecord(
        run_id=row["run_id"],
        kind=BillKind(row["kind"]),
        season_code=row["season_code"],
        month=row["month"],
        community=row["community"],
        status=RunStatus(row["status"]),
        actor=row["actor"],
        role=row["role"],
        reason=row["reason"],
        households_done=row["households_done"],
        households_total=row["households_total"],
        summary=json.loads(row["summary"]) if row["summary"] else None,
        error_key=row["error_key"],
        error_params=json.loads(row["error_params"]) if row["error_params"] else {},
        error=row["error"],
        submitted_at=row["submitted_at"],
        started_at=row["started_at"],
        finished_at=row["finished_at"],
    )


def execute_run(
    store: BillingRunStore, runs: BillingRuns, run_id: UUID, checkpoint: Callable[[], None] | None = None
) -> BillingRunRecord:
    """Run a submitted billing run to its end, recording progress, summary or error.

    ``checkpoint`` is called before the run reads anything and after each chunk (the job renews
    its lease there); what it raises stops the run without marking it failed: another worker
    has it. Run again after a kill, the run continues (bills are issued once per period) and its
    summary counts every bill issued under its id, in this execution or an earlier one."""
    record = store.get(run_id)
    if record.status is RunStatus.DONE:
        return record  # a redelivered job: the run is over
    principal = Principal(record.actor, Role(record.role))
    check = checkpoint or (lambda: None)
    check()
    store.started(run_id)

    def progressed(done: int, total: int) -> None:
        store.progressed(run_id, done, total)
        check()

    try:
        summary = runs.run(principal, record.request, progress=progressed, run_id=run_id, reason=record.reason)
    except LeaseLostError:
        raise  # another worker continues the run: its record is not this execution's to mark
    except LedgerError as error:
        store.failed(run_id, error)
        return store.get(run_id)
    except Exception as error:
        logger.exception("billing run %s failed", run_id)
        store.failed(run_id, error)
        raise
    store.finished(run_id, summary)
    return store.get(run_id)
