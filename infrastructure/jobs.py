"""Jobs: plain functions of the container, run in-process on the embedded default or by an arq
worker on Redis in production. The same functions either way.

Job arguments travel as JSON (never pickle: a Redis shared with other systems must not be able
to make a worker run code), so readings are sent as dicts of strings.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable, Mapping
from datetime import datetime
from decimal import Decimal
from typing import Any, Protocol
from uuid import UUID

from arq.connections import ArqRedis, RedisSettings, create_pool
from arq.cron import cron

from application.authorization import Principal, Role
from application.ingestion import BatchReport, ReadingItem
from domain.readings import ReadingValues
from domain.values import ReadingSource
from infrastructure.container import Container, bootstrap
from infrastructure.intake import Channel
from infrastructure.settings import Settings

_OPTIONAL_DECIMALS = (
    "volume_m3",
    "operating_hours",
    "flow_temperature_c",
    "return_temperature_c",
    "flow_rate_m3_h",
    "power_kw",
)


def reading_item_to_payload(item: ReadingItem) -> dict[str, Any]:
    """A reading as JSON-safe data (decimals as strings, times as ISO 8601)."""
    values = item.values
    payload: dict[str, Any] = {
        "meter_serial": item.meter_serial,
        "measured_at": values.measured_at.isoformat(),
        "energy_gj": str(values.energy_gj),
        "error_flags": values.error_flags,
        "source": ReadingSource(values.source).value,
    }
    for name in _OPTIONAL_DECIMALS:
        value = getattr(values, name)
        payload[name] = None if value is None else str(value)
    return payload


def reading_item_from_payload(payload: Mapping[str, Any]) -> ReadingItem:
    """The inverse of ``reading_item_to_payload``."""
    optional = {name: None if payload.get(name) is None else Decimal(payload[name]) for name in _OPTIONAL_DECIMALS}
    values = ReadingValues(
        measured_at=datetime.fromisoformat(payload["measured_at"]),
        energy_gj=Decimal(payload["energy_gj"]),
        error_flags=int(payload.get("error_flags", 0)),
        source=ReadingSource(payload.get("source", ReadingSource.MANUAL.value)),
        **optional,
    )
    return ReadingItem(payload["meter_serial"], values)


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


JOBS: dict[str, Callable[..., Any]] = {
    "catch_up_projections": catch_up_projections,
    "record_reading_batch": record_reading_batch,
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


# -- arq -------------------------------------------------------------------------------------


def _serialize(data: Any) -> bytes:
    return json.dumps(data).encode()


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
    """Keyword arguments for ``arq.worker.Worker``: every job, and a periodic projection catch-up."""
    catch_up = _as_arq_job("catch_up_projections")
    return {
        "functions": [_as_arq_job(name) for name in JOBS],
        "cron_jobs": [cron(catch_up, second=set(range(0, 60, catch_up_every_seconds)), unique=True)],
        "redis_settings": RedisSettings.from_dsn(settings.redis_url),
        "on_startup": _start_worker,
        "on_shutdown": _stop_worker,
        "job_serializer": _serialize,
        "job_deserializer": _deserialize,
        "max_tries": 3,
    }
