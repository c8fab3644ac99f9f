"""The job records are the truth, Redis only carries them (issue 16).

A reading upload, a billing run, a scenario and a tariff correction's preview or run each have a
row with its status; the API writes the row, then enqueues the job on Redis under an id made of
the row's (``run_billing:<run id>``). Redis may lose the queue (restarted without persistence,
flushed, failed over) and a worker may die holding arq's five-minute lock. So the worker compares,
at start and every ``job_recovery_interval_seconds``, every queued or running record with Redis:

- a job whose lease (infrastructure/job_leases.py) is live is running somewhere: left alone;
- a job whose lease ran out while arq still holds its lock (the worker died): the lock is removed,
  and arq starts the job again at its next poll;
- a job Redis does not hold: enqueued again under the same id. arq enqueues an id once, so two
  workers doing this at once, or the API at the same moment, still queue it once; a result arq
  kept of an earlier execution that did not finish the record is removed first.

Running a job again is safe: every job continues where its record says it stopped and does
nothing for a record that is done.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from arq.connections import ArqRedis
from arq.constants import in_progress_key_prefix, job_key_prefix, result_key_prefix
from sqlalchemy import Engine, select

from infrastructure.billing_runs import RUN_BILLING, RunStatus, billing_runs
from infrastructure.job_leases import JobLeases, lease_key
from infrastructure.scenarios import RUN_SCENARIO, ScenarioStatus, scenario_runs
from infrastructure.tariff_corrections import (
    PREVIEW_TARIFF_CORRECTION,
    RUN_TARIFF_CORRECTION,
    JobKind,
    JobStatus,
    tariff_correction_jobs,
)
from infrastructure.uploads import PROCESS_READING_UPLOAD, UploadStatus, upload_jobs

logger = logging.getLogger("heatledger.jobs")

# Records of each kind looked at per pass, oldest first; the next pass sees the rest.
MAXIMUM_RECORDS_PER_KIND = 1000
CORRECTION_JOB_NAMES = {JobKind.PREVIEW.value: PREVIEW_TARIFF_CORRECTION, JobKind.RUN.value: RUN_TARIFF_CORRECTION}


@dataclass(frozen=True)
class PendingJob:
    """A queued or running job's record: what to enqueue, under which arq id, and its lease."""

    job_name: str
    arq_job_id: str
    arguments: dict[str, Any]
    lease_key: str


@dataclass
class RecoveryReport:
    """What one pass did."""

    pending: int = 0
    running: int = 0
    unlocked: int = 0
    enqueued: int = 0


def pending_jobs(engine: Engine, limit: int = MAXIMUM_RECORDS_PER_KIND) -> list[PendingJob]:
    """Every queued or running job record (up to ``limit`` of each kind, oldest first)."""
    return [
        *_pending_uploads(engine, limit),
        *_pending_of(engine, billing_runs, billing_runs.c.run_id, RUN_BILLING, "run_id", RunStatus, limit),
        *_pending_of(
            engine, scenario_runs, scenario_runs.c.scenario_id, RUN_SCENARIO, "scenario_id", ScenarioStatus, limit
        ),
        *_pending_corrections(engine, limit),
    ]


def _unfinished(status: Any) -> list[str]:
    return [status.QUEUED.value, status.RUNNING.value]


def _pending_uploads(engine: Engine, limit: int) -> list[PendingJob]:
    statement = (
        select(upload_jobs.c.upload_id, upload_jobs.c.attempt)
        .where(upload_jobs.c.status.in_(_unfinished(UploadStatus)))
        .order_by(upload_jobs.c.submitted_at)
        .limit(limit)
    )
    with engine.connect() as connection:
        rows = connection.execute(statement).all()
    return [
        PendingJob(
            PROCESS_READING_UPLOAD,
            # The id of the current attempt, as the API enqueues it (uploads.Upload.job_id).
            f"{PROCESS_READING_UPLOAD}:{row.upload_id}:{row.attempt}",
            {"upload_id": str(row.upload_id)},
            lease_key(PROCESS_READING_UPLOAD, row.upload_id),
        )
        for row in rows
    ]


def _pending_of(
    engine: Engine, table: Any, id_column: Any, job_name: str, argument: str, status: Any, limit: int
) -> list[PendingJob]:
    statement = (
        select(id_column).where(table.c.status.in_(_unfinished(status))).order_by(table.c.submitted_at).limit(limit)
    )
    with engine.connect() as connection:
        identifiers = connection.execute(statement).scalars().all()
    return [
        PendingJob(job_name, f"{job_name}:{identifier}", {argument: str(identifier)}, lease_key(job_name, identifier))
        for identifier in identifiers
    ]


def _pending_corrections(engine: Engine, limit: int) -> list[PendingJob]:
    table = tariff_correction_jobs
    statement = (
        select(table.c.job_id, table.c.kind)
        .where(table.c.status.in_(_unfinished(JobStatus)))
        .order_by(table.c.submitted_at)
        .limit(limit)
    )
    with engine.connect() as connection:
        rows = connection.execute(statement).all()
    jobs = []
    for row in rows:
        name = CORRECTION_JOB_NAMES[row.kind]
        jobs.append(PendingJob(name, f"{name}:{row.job_id}", {"job_id": str(row.job_id)}, lease_key(name, row.job_id)))
    return jobs


async def recover_jobs(
    redis: ArqRedis, engine: Engine, leases: JobLeases, now: Callable[[], datetime] | None = None
) -> RecoveryReport:
    """One pass: enqueue again every unfinished job Redis lost, unlock every job a dead worker held."""
    jobs = await asyncio.to_thread(pending_jobs, engine)
    expiries = await asyncio.to_thread(leases.expiries, [job.lease_key for job in jobs])
    moment = (now or leases.clock)()
    report = RecoveryReport(pending=len(jobs))
    for job in jobs:
        expires_at = expiries.get(job.lease_key)
        if expires_at is not None and expires_at >= moment:
            report.running += 1
            continue
        await _recover(redis, job, lease_ran_out=expires_at is not None, report=report)
    return report


async def _recover(redis: ArqRedis, job: PendingJob, lease_ran_out: bool, report: RecoveryReport) -> None:
    identifier = job.arq_job_id
    if lease_ran_out and await redis.delete(in_progress_key_prefix + identifier):
        # The worker that held it stopped renewing its lease: it is dead, its lock must go.
        logger.warning("job %s: its worker stopped (lease ran out); it starts again", identifier)
        report.unlocked += 1
    if await redis.exists(job_key_prefix + identifier):
        return  # queued, or running under arq's lock: arq starts it
    await redis.delete(result_key_prefix + identifier)  # an execution that ended without finishing the record
    if await redis.enqueue_job(job.job_name, _job_id=identifier, **job.arguments) is not None:
        logger.warning("job %s was not on the queue (Redis lost it): enqueued again", identifier)
        report.enqueued += 1
