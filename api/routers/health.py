"""The liveness probe: answers without a token and reveals nothing about the ledger."""

from __future__ import annotations

from fastapi import APIRouter
from pydantic import BaseModel, ConfigDict

router = APIRouter(tags=["health"])


class Health(BaseModel):
    """The process is up and serving requests."""

    model_config = ConfigDict(json_schema_extra={"examples": [{"status": "ok"}]})

    status: str


@router.get("/health", operation_id="check_health", response_model=Health)
def check_health() -> Health:
    """Liveness probe for the load balancer: `{"status": "ok"}` while the process serves requests.

    It needs no token and touches no database, so it says nothing about the ledger's data.
    """
    return Health(status="ok")
