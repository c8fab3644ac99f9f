"""``heatledger worker``: arq's worker, made to outlive what operations throws at it (issue 16).

- Redis goes away (restarted, failed over, the network): the worker reconnects with backoff
  (0.5 s doubling to 10 s), logging each attempt, and exits with status 75 (EX_TEMPFAIL, for
  systemd's ``Restart=on-failure``) only after ``worker_redis_outage_limit_seconds`` without Redis.
- Redis lost its data, or a worker died mid-job: at start and every
  ``job_recovery_interval_seconds`` the worker enqueues again what the job records say is unfinished
  (infrastructure/job_recovery.py).
- A job runs up to ``job_timeout_seconds`` (4 hours by default, not arq's 300 s: a billing run for
  100,000 households or a large upload takes longer). arq holds a job's lock that long plus 10 s;
  a killed worker's leased job is freed sooner by the recovery pass (its lease ran out).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from dataclasses import replace
from datetime import timedelta
from typing import Any

from arq.connections import RedisSettings, create_pool
from arq.worker import Worker
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

from infrastructure.container import Container
from infrastructure.job_leases import JobLeases
from infrastructure.job_recovery import recover_jobs
from infrastructure.settings import Settings

logger = logging.getLogger("heatledger.worker")

# What a lost Redis raises: redis-py's own errors, the socket's, a timed-out connect.
REDIS_UNREACHABLE: tuple[type[BaseException], ...] = (
    RedisConnectionError,
    RedisTimeoutError,
    OSError,
    asyncio.TimeoutError,
)
FIRST_BACKOFF_SECONDS = 0.5
MAXIMUM_BACKOFF_SECONDS = 10.0
# The exit status after Redis stayed away too long: EX_TEMPFAIL ("try again later").
REDIS_UNAVAILABLE_EXIT_STATUS = 75


class RedisUnavailableError(Exception):
    """Redis stayed unreachable for longer than the worker's limit."""


class RedisOutage:
    """Counts reconnection attempts and their backoff; gives up after the limit."""

    def __init__(self, limit_seconds: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.limit_seconds = limit_seconds
        self.clock = clock
        self.started: float | None = None
        self.attempts = 0

    def next_delay(self, error: BaseException) -> float:
        """The wait before the next attempt; RedisUnavailableError once the limit has passed."""
        now = self.clock()
        if self.started is None:
            self.started = now
        self.attempts += 1
        elapsed = now - self.started
        if elapsed >= self.limit_seconds:
            logger.error(
                "Redis unreachable for %.0f s (%d attempts, limit %.0f s): the worker stops",
                elapsed,
                self.attempts,
                self.limit_seconds,
            )
            raise RedisUnavailableError(f"Redis unreachable for {elapsed:.0f} s: {error}") from error
        delay = min(MAXIMUM_BACKOFF_SECONDS, FIRST_BACKOFF_SECONDS * float(2 ** min(self.attempts - 1, 10)))
        delay = min(delay, self.limit_seconds - elapsed)
        logger.warning(
            "Redis unreachable (%s: %s): reconnection attempt %d in %.1f s (%.0f s of %.0f s before giving up)",
            type(error).__name__,
            error,
            self.attempts,
            delay,
            elapsed,
            self.limit_seconds,
        )
        return delay

    def ended(self) -> None:
        """Redis answered: log how long it was away, start counting afresh."""
        if self.started is not None:
            logger.warning(
                "Redis reachable again after %.1f s and %d attempts", self.clock() - self.started, self.attempts
            )
        self.started = None
        self.attempts = 0


class LedgerWorker(Worker):
    """arq's worker with reconnection and the recovery pass (see the module's docstring)."""

    def __init__(self, settings: Settings, **options: Any) -> None:
        options.setdefault("job_timeout", settings.job_timeout_seconds)
        super().__init__(**options)
        self.settings = settings
        self.outage = RedisOutage(settings.worker_redis_outage_limit_seconds)
        self.recovery_interval_seconds = settings.job_recovery_interval_seconds
        self._next_recovery = 0.0  # at start

    async def main(self) -> None:
        while self._pool is None:
            try:
                self._pool = await create_pool(
                    _without_retries(self.redis_settings),
                    job_deserializer=self.job_deserializer,
                    job_serializer=self.job_serializer,
                    default_queue_name=self.queue_name,
                    expires_extra_ms=self.expires_extra_ms,
                )
            except REDIS_UNREACHABLE as error:
                await asyncio.sleep(self.outage.next_delay(error))
        self.outage.ended()
        await super().main()

    async def _poll_iteration(self) -> None:
        try:
            await super()._poll_iteration()
            await self._recover_when_due()
        except REDIS_UNREACHABLE as error:
            await asyncio.sleep(self.outage.next_delay(error))
            return
        self.outage.ended()

    async def _recover_when_due(self) -> None:
        if time.monotonic() < self._next_recovery or "container" not in self.ctx:
            return
        self._next_recovery = time.monotonic() + self.recovery_interval_seconds
        container: Container = self.ctx["container"]
        leases = JobLeases(container.engine, timedelta(seconds=self.settings.job_lease_seconds))
        try:
            report = await recover_jobs(self.pool, container.engine, leases)
        except REDIS_UNREACHABLE:
            raise
        except Exception:
            # The database is away: the next pass tries again; the queued jobs run meanwhile.
            logger.exception("the job recovery pass failed; the next one tries again")
            return
        if report.enqueued or report.unlocked:
            logger.warning(
                "job recovery: %d unfinished, %d running, %d unlocked, %d enqueued again",
                report.pending,
                report.running,
                report.unlocked,
                report.enqueued,
            )

    async def close(self) -> None:
        try:
            await super().close()
        except REDIS_UNREACHABLE as error:
            # Closing without Redis (it is what stopped the worker): release the ledger all the same.
            logger.warning("the worker closes without Redis: %s", error)
            if self.on_shutdown:
                await self.on_shutdown(self.ctx)
            self._pool = None


def _without_retries(settings: RedisSettings | None) -> RedisSettings:
    """arq retries a connection five times, then raises; the worker's own loop retries instead."""
    return replace(settings or RedisSettings(), conn_retries=0)


def run_worker(settings: Settings, options: dict[str, Any]) -> None:
    """Run the worker until a signal stops it; RedisUnavailableError after the outage limit."""
    LedgerWorker(settings, **options).run()
