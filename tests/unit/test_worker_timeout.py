"""arq's job timeout in ``heatledger worker`` (issue 16): long enough for the longest job, set by
``HEATLEDGER_JOB_TIMEOUT_SECONDS``; arq's lock on a running job lasts as long, plus 10 s."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from contextlib import contextmanager

import pytest

from infrastructure.jobs import worker_options
from infrastructure.settings import Settings
from infrastructure.worker import LedgerWorker

ARQ_DEFAULT_SECONDS = 300
# A billing run for 100,000 households at the slowest rate measured (37 bills/s on PostgreSQL,
# README) takes 45 minutes: the default must allow it.
SLOWEST_CITY_RUN_SECONDS = 100_000 / 37


@contextmanager
def worker_with(settings: Settings) -> Iterator[LedgerWorker]:
    """A worker on an event loop of its own, closed after: arq's Worker takes the thread's current
    loop (making one when there is none), and a loop left open is garbage once a later
    ``asyncio.run`` replaces it: its ResourceWarning then fails whichever test is running."""
    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    try:
        yield LedgerWorker(settings, **worker_options(settings))
    finally:
        asyncio.set_event_loop(None)
        loop.close()


def test_the_default_timeout_outlasts_a_city_billing_run() -> None:
    with worker_with(Settings()) as worker:
        assert worker.job_timeout_s == Settings().job_timeout_seconds
        assert worker.job_timeout_s > SLOWEST_CITY_RUN_SECONDS > ARQ_DEFAULT_SECONDS
        # No function narrows it: every job, a billing run's and an upload's included, gets it.
        assert all(function.timeout_s is None for function in worker.functions.values())


def test_the_timeout_is_a_setting(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HEATLEDGER_JOB_TIMEOUT_SECONDS", "900")
    settings = Settings()
    with worker_with(settings) as worker:
        assert worker.job_timeout_s == 900
        assert worker.in_progress_timeout_s == 910  # arq's lock: the timeout plus its 10 s


def test_a_timeout_too_short_for_any_job_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HEATLEDGER_JOB_TIMEOUT_SECONDS", "5")
    with pytest.raises(ValueError, match="job_timeout_seconds"):
        Settings()
