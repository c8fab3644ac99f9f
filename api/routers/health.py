"""Probes for a load balancer: answered without a token, revealing nothing about the ledger.

``/health/live`` (and ``/health``, as before): the process serves requests. ``/health/ready``: it
can serve the ledger too: the database answers and, with the arq job queue, Redis (issue 16).
A load balancer restarts a process that is not live and sends no requests to one not ready.
"""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field

from api.dependencies import ContainerDependency
from infrastructure.readiness import check_event_store, check_read_models, check_redis, probe
from infrastructure.settings import JobQueueKind

router = APIRouter(tags=["health"])
# A load balancer's probe waits this long before it tries a process that was not ready again.
NOT_READY_RETRY_AFTER_SECONDS = 5


class Health(BaseModel):
    """The process is up and serving requests."""

    model_config = ConfigDict(json_schema_extra={"examples": [{"status": "ok"}]})

    status: str


class Readiness(BaseModel):
    """Whether the process can serve the ledger, and what it depends on."""

    model_config = ConfigDict(
        json_schema_extra={"examples": [{"status": "ready", "checks": {"database": "ok", "redis": "ok"}}]}
    )

    status: str = Field(description="`ready` (200) or `not_ready` (503)")
    checks: dict[str, str] = Field(description="Each dependency: `ok` or `unavailable`")


@router.get("/health", operation_id="check_health", response_model=Health)
def check_health() -> Health:
    """Liveness probe for the load balancer: `{"status": "ok"}` while the process serves requests.

    It needs no token and touches no database, so it says nothing about the ledger's data (the same
    as `/health/live`; `/health/ready` checks the database).
    """
    return Health(status="ok")


@router.get("/health/live", operation_id="check_liveness", response_model=Health)
def check_liveness() -> Health:
    """Liveness probe: `{"status": "ok"}` while the process serves requests; touches no database,
    so a database outage never makes a load balancer restart healthy processes."""
    return Health(status="ok")


@router.get(
    "/health/ready",
    operation_id="check_readiness",
    response_model=Readiness,
    responses={503: {"model": Readiness, "description": "The database (or Redis of the job queue) is unavailable"}},
)
def check_readiness(container: ContainerDependency) -> JSONResponse:
    """Readiness probe: 200 `ready` when the database answers and, with the arq job queue, Redis
    too; else 503 `not_ready` with `Retry-After`, naming which dependency is unavailable. Each
    check is bounded by a short timeout (docs/operations.md, "Database restarts")."""
    dependencies = [
        probe("database", lambda: check_read_models(container.engine) and check_event_store(container.ledger))
    ]
    if container.settings.job_queue is JobQueueKind.ARQ:
        dependencies.append(probe("redis", lambda: check_redis(container.settings.redis_url)))
    ready = all(dependency.ready for dependency in dependencies)
    body = Readiness(
        status="ready" if ready else "not_ready",
        checks={dependency.name: "ok" if dependency.ready else "unavailable" for dependency in dependencies},
    )
    headers = {} if ready else {"Retry-After": str(NOT_READY_RETRY_AFTER_SECONDS)}
    return JSONResponse(body.model_dump(), status_code=200 if ready else 503, headers=headers)
