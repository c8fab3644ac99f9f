"""Jobs: plain functions of the container, run in-process on the embedded default or by an arq
worker on Redis in production. The same functions either way.

Job arguments travel as JSON (never pickle: a Redis shared with other systems must not be able
to make a worker run code), so readings are sent as dicts of strings.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Callable, Coroutine
from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal
from typing import Any, Protocol, TypeVar
from uuid import UUID

from arq.connections import ArqRedis, RedisSettings, create_pool
from arq.cron import cron

from application.authorization import Permission, Principal, Role
from application.bill_notices import BillNoticeSummary, BillSelection
from application.ingestion import BatchReport
from domain.billing import BillKind
from domain.day_split import BUSINESS_TIME_ZONE
from domain.dunning import DunningPolicy
from infrastructure.billing_runs import RUN_BILLING, BillingRunRecord, RunStatus, execute_run
from infrastructure.container import Container, bootstrap
from infrastructure.intake import Channel
from infrastructure.job_leases import HeldLease, lease_key, leased, leases_of
from infrastructure.notifications.dispatcher import dispatcher_from_settings
from infrastructure.notifications.issued_bills import bill_notices_for
from infrastructure.scenarios import RUN_SCENARIO, execute_scenario
from infrastructure.settings import JobQueueKind, Settings
from infrastructure.tariff_corrections import (
    PREVIEW_TARIFF_CORRECTION,
    RUN_TARIFF_CORRECTION,
    preview_tariff_correction,
    run_tariff_correction,
)
from infrastructure.uploads import process_reading_upload, reading_item_from_payload

Result = TypeVar("Result")

logger = logging.getLogger("heatledger.jobs")


def report_to_payload(report: BatchReport) -> dict[str, Any]:
    """A batch report as JSON-safe data: counts and the rejected items."""
    return {
        "batch_id": str(report.batch_id),
        "accepted": report.accepted,
        "duplicates": report.duplicates,
        "rejected": [
            {"index": outcome.index, "meter_serial": outcome.meter_serial, "reason": outcome.reason}
            for outcome in report.outcomes
            if outcome.reason is not None
        ],
    }


# -- the job functions ----------------------------------------------------------------------


def catch_up_projections(container: Container) -> int:
    """Apply new events to the read models; returns how many were applied."""
    return container.catch_up()


def record_reading_batch(
    container: Container, items: list[dict[str, Any]], actor: str, role: str, reason: str, batch_id: str
) -> dict[str, Any]:
    """Record one batch of readings (an upload queued by the API or a poller), then catch up."""
    principal = Principal(actor, Role(role))
    items_to_record = [reading_item_from_payload(item) for item in items]
    report = container.intake.submit(principal, items_to_record, Channel.UPLOAD, reason, UUID(batch_id))
    container.catch_up()
    return report_to_payload(report)


def estimate_gaps(container: Container) -> dict[str, Any]:
    """Estimate the missing days of silent household meters (run nightly, after the uploads)."""
    report = container.estimator.run(ESTIMATOR, container.ledger.clock())
    container.catch_up()
    return {
        "meters_silent": report.meters_silent,
        "readings_estimated": report.readings_estimated,
        "readings_accepted": report.readings_accepted,
        "faulty_intervals_estimated": report.faulty_intervals_estimated,
        "skipped": [{"meter_serial": serial, "reason": reason} for serial, reason in report.skipped],
    }


# A job's result when another worker holds (or took over) its record's lease.
LEFT_TO_ANOTHER_WORKER = "left_to_another_worker"


def under_lease(
    container: Container, job_name: str, record_id: str, work: Callable[[HeldLease], Result]
) -> Result | None:
    """Run a job's work under the lease of its record (infrastructure/job_leases.py); None when
    another worker has it."""
    leases = leases_of(container.engine, container.settings.job_lease_seconds)
    return leased(leases, lease_key(job_name, record_id), work)


def run_billing(container: Container, run_id: str) -> dict[str, Any]:
    """Run a submitted billing run (its request is in ``billing_runs``), then the notices of its
    bills and a delivery pass; returns its status and what the notice pass did. Each chunk
    begins under the run's lease: a second worker given the same run leaves it alone."""
    record = under_lease(
        container,
        RUN_BILLING,
        run_id,
        lambda lease: execute_run(container.run_store, container.billing_runs, UUID(run_id), lease.checkpoint),
    )
    if record is None:
        return {"run_id": run_id, "status": LEFT_TO_ANOTHER_WORKER}
    container.catch_up()
    notices = notices_after_run(container, record)
    return {
        "run_id": run_id,
        "status": record.status.value,
        "summary": record.summary,
        "error": record.error,
        "notices": notices,
    }


def run_scenario(container: Container, scenario_id: str) -> dict[str, Any]:
    """Compute a submitted regulator scenario (its request is in ``scenario_runs``); books nothing."""
    record = under_lease(
        container,
        RUN_SCENARIO,
        scenario_id,
        lambda _: execute_scenario(container.scenario_store, container.scenarios, UUID(scenario_id)),
    )
    if record is None:
        return {"scenario_id": scenario_id, "status": LEFT_TO_ANOTHER_WORKER}
    return {"scenario_id": scenario_id, "status": record.status.value, "error": record.error}


def preview_correction_job(container: Container, job_id: str) -> dict[str, Any]:
    """A tariff correction's preview, under its record's lease."""
    result = under_lease(
        container, PREVIEW_TARIFF_CORRECTION, job_id, lambda _: preview_tariff_correction(container, job_id)
    )
    return result if result is not None else {"job_id": job_id, "status": LEFT_TO_ANOTHER_WORKER}


def run_correction_job(container: Container, job_id: str) -> dict[str, Any]:
    """A tariff correction's run (its notes booked), under its record's lease."""
    result = under_lease(container, RUN_TARIFF_CORRECTION, job_id, lambda _: run_tariff_correction(container, job_id))
    return result if result is not None else {"job_id": job_id, "status": LEFT_TO_ANOTHER_WORKER}


def notices_after_run(container: Container, record: BillingRunRecord) -> dict[str, Any] | None:
    """The notice pass over a finished run's bills (as its submitter), then a delivery pass; None
    when the run did not finish or its submitter may not send notices. The bills are issued
    whatever happens here: a failure is logged and the next pass (``heatledger notifications
    bills``) writes what is missing."""
    if record.status is not RunStatus.DONE:
        return None
    principal = Principal(record.actor, Role(record.role))
    if not principal.may(Permission.SEND_REMINDERS):
        return None
    selection = BillSelection(record.season_code, record.kind, record.month, record.community)
    try:
        return notify_bills(container, principal, selection, f"bills of billing run {record.run_id}")
    except Exception:
        logger.exception("the notices of billing run %s were not written; the next pass writes them", record.run_id)
        return None


def notify_bills(
    container: Container, principal: Principal, selection: BillSelection, reason: str, deliver: bool = True
) -> dict[str, Any]:
    """Write the notices of the selection's bills that have none yet, then (when asked and
    something was written) deliver what is due; the pass's figures and the delivery's."""
    summary = bill_notices_for(container).notify(principal, selection, reason)
    delivery = deliver_notifications(container) if deliver and summary.written else {}
    return {**bill_notices_payload(summary), **delivery}


def bill_notices_payload(summary: BillNoticeSummary) -> dict[str, Any]:
    """A notice pass as JSON-safe data: counts, and the bills skipped with the reason."""
    return {
        "season": summary.selection.season_code,
        "bills": summary.bills,
        "written": len(summary.written),
        "already_written": summary.already_written,
        "skipped": [
            {"account_number": outcome.account_number, "bill_number": outcome.bill_number, "reason": outcome.skip}
            for outcome in summary.skipped
        ],
    }


def send_bill_notices(
    container: Container,
    season: str,
    kind: str | None = None,
    month: str | None = None,
    community: str | None = None,
    reason: str = "bill notices",
) -> dict[str, Any]:
    """The job of a notice pass over a season's bills (of one kind, month, community when given),
    as the system's notice sender, then a delivery pass."""
    selection = BillSelection(season, BillKind(kind) if kind else None, month, community)
    return notify_bills(container, BILL_NOTICES, selection, reason)


def deliver_notifications(container: Container, limit: int = 500) -> dict[str, int]:
    """Send what the notification outbox has due (new messages and retries whose time has come)."""
    dispatcher = dispatcher_from_settings(container.outbox, container.settings, container.ledger.clock)
    try:
        report = dispatcher.deliver_due(limit)
    finally:
        dispatcher.close()
    return {"delivered": report.delivered, "retried": report.retried, "dead": report.dead}


def dunning_policy(
    settings: Settings, stages_days: list[int] | None = None, minimum_amount_yuan: Decimal | None = None
) -> DunningPolicy:
    """The dunning policy of a run: the figures it names, the settings' for the others (checked)."""
    return DunningPolicy.of(
        stages_days if stages_days is not None else settings.dunning_stages_days,
        minimum_amount_yuan if minimum_amount_yuan is not None else settings.dunning_minimum_amount_yuan,
    )


def run_dunning(container: Container, community: str | None = None) -> dict[str, Any]:
    """The daily dunning run under the settings' policy, then a delivery pass."""
    policy = dunning_policy(container.settings)
    summary = container.dunning.remind(DUNNING, policy, community=community, reason="daily dunning run")
    delivery = deliver_notifications(container)
    return {"today": summary.today.isoformat(), "queued": summary.queued, "skipped": summary.skipped, **delivery}


# The principal of the nightly estimation: its name is the actor on the estimates it records.
ESTIMATOR = Principal("estimator", Role.ADMIN)
# The principal of the scheduled dunning run: the actor on the reminders it writes.
DUNNING = Principal("dunning", Role.ADMIN)
# The principal of a scheduled or enqueued notice pass: the actor on the notices it writes.
BILL_NOTICES = Principal("bill-notices", Role.ADMIN)
SEND_BILL_NOTICES = "send_bill_notices"
DELIVER_NOTIFICATIONS = "deliver_notifications"

JOBS: dict[str, Callable[..., Any]] = {
    "catch_up_projections": catch_up_projections,
    "estimate_gaps": estimate_gaps,
    "record_reading_batch": record_reading_batch,
    "process_reading_upload": process_reading_upload,
    "run_billing": run_billing,
    RUN_SCENARIO: run_scenario,
    PREVIEW_TARIFF_CORRECTION: preview_correction_job,
    RUN_TARIFF_CORRECTION: run_correction_job,
    DELIVER_NOTIFICATIONS: deliver_notifications,
    "run_dunning": run_dunning,
    SEND_BILL_NOTICES: send_bill_notices,
}


class JobQueue(Protocol):
    """Where jobs go: straight into this process, or onto Redis for a worker."""

    def enqueue(self, job_name: str, **arguments: Any) -> Any: ...


class InProcessJobs:
    """Runs a job at once in the calling thread (the embedded default)."""

    def __init__(self, container: Container) -> None:
        self.container = container

    def enqueue(self, job_name: str, **arguments: Any) -> Any:
        return JOBS[job_name](self.container, **arguments)


class ArqJobs:
    """Enqueues jobs on Redis for arq workers (``HEATLEDGER_JOB_QUEUE=arq``).

    ``enqueue`` returns the arq job id, or None when a job with the same ``_job_id`` is already
    queued or its result still kept (arq's deduplication). Arguments starting with ``_`` are
    arq's own (``_job_id``, ``_defer_by``); the others travel to the job as JSON.
    """

    def __init__(self, settings: Settings) -> None:
        self.settings = settings

    def enqueue(self, job_name: str, **arguments: Any) -> str | None:
        if job_name not in JOBS:
            raise KeyError(f"no job {job_name}")
        return _run_coroutine(self._enqueue(job_name, arguments))

    async def _enqueue(self, job_name: str, arguments: dict[str, Any]) -> str | None:
        redis = await open_redis(self.settings)
        try:
            job = await redis.enqueue_job(job_name, **arguments)
        finally:
            await redis.aclose()
        return str(job.job_id) if job is not None else None


def _run_coroutine(coroutine: Coroutine[Any, Any, Result]) -> Result:
    """Run a coroutine to its end from synchronous code, also from a thread that runs an event loop."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(coroutine)
    with ThreadPoolExecutor(max_workers=1) as executor:
        return executor.submit(asyncio.run, coroutine).result()


def job_queue_for(container: Container) -> JobQueue:
    """The job queue the container's settings name: in-process (inline) or arq on Redis."""
    if JobQueueKind(container.settings.job_queue) is JobQueueKind.ARQ:
        return ArqJobs(container.settings)
    return InProcessJobs(container)


# -- arq -------------------------------------------------------------------------------------


def _serialize(data: Any) -> bytes:
    return json.dumps(data, default=_json_fallback).encode()


def _json_fallback(value: Any) -> Any:
    """What JSON has no type for in a job's record: an exception as a job's result (arq stores
    ``JobExecutionFailed('job expired')`` for a job whose data Redis no longer has, and a failed
    job's exception) as its type and message; anything else is a bug of the job, refused."""
    if isinstance(value, BaseException):
        return {"error": type(value).__name__, "message": str(value)}
    raise TypeError(f"a job's data holds a {type(value).__name__}, which JSON cannot carry")


def _deserialize(data: bytes) -> Any:
    return json.loads(data)


async def open_redis(settings: Settings) -> ArqRedis:
    """An arq connection pool to the configured Redis, using JSON for job data."""
    return await create_pool(
        RedisSettings.from_dsn(settings.redis_url), job_serializer=_serialize, job_deserializer=_deserialize
    )


def _as_arq_job(job_name: str) -> Callable[..., Any]:
    job = JOBS[job_name]

    async def run(ctx: dict[str, Any], **arguments: Any) -> Any:
        # The ledger is synchronous: run it off the event loop.
        return await asyncio.to_thread(job, ctx["container"], **arguments)

    run.__name__ = job_name
    run.__qualname__ = job_name
    return run


async def _start_worker(ctx: dict[str, Any]) -> None:
    if "container" not in ctx:
        ctx["container"] = bootstrap(Settings())


async def _stop_worker(ctx: dict[str, Any]) -> None:
    container = ctx.get("container")
    if container is not None and ctx.get("owns_container", True):
        container.close()


def worker_options(settings: Settings, catch_up_every_seconds: int = 5) -> dict[str, Any]:
    """Keyword arguments for ``arq.worker.Worker``: every job, a periodic projection catch-up, the
    gap estimation at 02:00 in Ningxia (after the concentrators' nightly uploads), a delivery pass
    of the notification outbox every minute and, when the settings name its hour, the daily dunning."""
    catch_up = _as_arq_job("catch_up_projections")
    cron_jobs = [
        cron(catch_up, second=set(range(0, 60, catch_up_every_seconds)), unique=True),
        cron(_as_arq_job("estimate_gaps"), hour={2}, minute={0}, second={0}, unique=True),
        cron(_as_arq_job(DELIVER_NOTIFICATIONS), second={30}, unique=True),
    ]
    if settings.dunning_daily_hour is not None:
        cron_jobs.append(
            cron(_as_arq_job("run_dunning"), hour={settings.dunning_daily_hour}, minute={0}, second={0}, unique=True)
        )
    return {
        "functions": [_as_arq_job(name) for name in JOBS],
        "cron_jobs": cron_jobs,
        "timezone": BUSINESS_TIME_ZONE,
        "redis_settings": RedisSettings.from_dsn(settings.redis_url),
        "on_startup": _start_worker,
        "on_shutdown": _stop_worker,
        "job_serializer": _serialize,
        "job_deserializer": _deserialize,
        "max_tries": 3,
    }
