"""Readiness: can this process serve the ledger now? (issue 16; docs/operations.md, "Database restarts")

A load balancer asks ``/health/ready`` to decide whether to send requests here: the database,
through both of this process's pools (the read models' and the event store's, which reconnect
separately after a restart) and, when jobs go through the arq queue, Redis.
Each check is bounded by its own short timeout, so a probe never hangs on what it probes.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass

import redis
from sqlalchemy import Engine, text

from application.ledger import HeatLedger

logger = logging.getLogger(__name__)

# Redis answers a ping on a healthy machine in well under a millisecond.
REDIS_PROBE_TIMEOUT_SECONDS = 2.0


@dataclass(frozen=True)
class Dependency:
    """One thing the ledger needs, and whether it answered."""

    name: str
    ready: bool


def check_read_models(engine: Engine) -> bool:
    """The read models' database answers ``SELECT 1`` (on a connection of their own pool)."""
    with engine.connect() as connection:
        return connection.execute(text("SELECT 1")).scalar() == 1


def check_event_store(ledger: HeatLedger) -> bool:
    """The event store answers through its own pool (its newest notification id)."""
    ledger.recorder.max_notification_id()
    return True


def check_redis(redis_url: str) -> bool:
    """Redis of the arq queue answers a ping."""
    client = redis.Redis.from_url(
        redis_url, socket_timeout=REDIS_PROBE_TIMEOUT_SECONDS, socket_connect_timeout=REDIS_PROBE_TIMEOUT_SECONDS
    )
    try:
        return bool(client.ping())
    finally:
        client.close()


def probe(name: str, check: Callable[[], bool]) -> Dependency:
    """Run one check; any error (refused, timed out, lost) is "not ready", logged, never raised."""
    try:
        return Dependency(name, check())
    except Exception as error:  # a probe reports: whatever failed, it is not ready
        logger.warning("readiness: %s is not ready: %s", name, error)
        return Dependency(name, False)
