"""Fault injection (issue 16): each test starts a Redis of its own on a free port and real
``heatledger worker`` processes, then stops, kills and restarts them as operations would see it.

Redis runs without persistence (``--save "" --appendonly no``, the common setting), so a restart
is a Redis that lost every queue. Workers run with a lease of 2 s and a recovery pass every
second, so a test waits seconds, not the production defaults' tens of seconds.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from infrastructure.settings import JobQueueKind, Settings
from tests.conftest import sqlite_settings
from tests.services import port_open, unavailable

PROJECT_ROOT = Path(__file__).resolve().parents[2]
LEASE_SECONDS = 2
RECOVERY_INTERVAL_SECONDS = 1


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def eventually(condition: Callable[[], bool], what: str, timeout_seconds: float = 30) -> float:
    """Wait until ``condition`` holds; the seconds it took. Fails naming ``what`` after the timeout."""
    started = time.monotonic()
    while not condition():
        assert time.monotonic() - started < timeout_seconds, f"not within {timeout_seconds} s: {what}"
        time.sleep(0.1)
    return time.monotonic() - started


class OwnRedis:
    """A redis-server of the test's own, without persistence: stopping it loses every queue."""

    def __init__(self, folder: Path) -> None:
        self.port = free_port()
        self.folder = folder
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        command = ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"]
        self.process = subprocess.Popen(command, cwd=self.folder, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        eventually(lambda: port_open("127.0.0.1", self.port), "the test's own Redis started", 10)

    def stop(self) -> None:
        """Stop it (as a crash would: SIGKILL); with no persistence, its data is gone."""
        if self.process is not None:
            self.process.kill()
            self.process.wait(10)
            self.process = None

    def restart_empty(self) -> None:
        self.stop()
        self.start()


class WorkerProcess:
    """``heatledger worker`` in a process of its own, its log in a file."""

    def __init__(self, settings: Settings, log: Path, **overrides: object) -> None:
        self.log = log
        self.environment = {**os.environ, **_environment(settings), **_variables(overrides)}
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> WorkerProcess:
        program = Path(sys.executable).parent / "heatledger"
        with self.log.open("ab") as log:
            self.process = subprocess.Popen(
                [str(program), "worker"], cwd=PROJECT_ROOT, env=self.environment, stdout=log, stderr=log
            )
        return self

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def kill(self) -> None:
        """``kill -9``: no handler runs, arq's lock and the job's lease stay behind."""
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait(10)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(15)
            except subprocess.TimeoutExpired:
                self.kill()

    def text(self) -> str:
        return self.log.read_text(errors="replace") if self.log.exists() else ""


def _variables(values: dict[str, object]) -> dict[str, str]:
    return {f"HEATLEDGER_{name.upper()}": str(value) for name, value in values.items()}


def _environment(settings: Settings) -> dict[str, str]:
    return _variables(
        {
            "environment": settings.environment.value,
            "backend": settings.backend.value,
            "data_dir": settings.data_dir,
            "postgres_host": settings.postgres_host,
            "postgres_port": settings.postgres_port,
            "postgres_user": settings.postgres_user,
            "postgres_dbname": settings.postgres_dbname,
            "redis_url": settings.redis_url,
            "job_queue": JobQueueKind.ARQ.value,
            "catch_up_after_command": "false",
            "job_lease_seconds": settings.job_lease_seconds,
            "job_recovery_interval_seconds": settings.job_recovery_interval_seconds,
            "worker_redis_outage_limit_seconds": settings.worker_redis_outage_limit_seconds,
        }
    )


@pytest.fixture
def own_redis(tmp_path: Path) -> Iterator[OwnRedis]:
    if shutil.which("redis-server") is None:
        unavailable("Redis", "no redis-server program to start a Redis of the test's own")
    redis = OwnRedis(tmp_path)
    redis.start()
    yield redis
    redis.stop()


@pytest.fixture
def fault_settings(tmp_path: Path, own_redis: OwnRedis) -> Settings:
    """The ledger as in production, on SQLite in the test's folder: jobs on the test's own Redis."""
    return sqlite_settings(tmp_path).model_copy(
        update={
            "redis_url": own_redis.url,
            "job_queue": JobQueueKind.ARQ,
            "catch_up_after_command": False,
            "job_lease_seconds": LEASE_SECONDS,
            "job_recovery_interval_seconds": RECOVERY_INTERVAL_SECONDS,
            "worker_redis_outage_limit_seconds": 120,
        }
    )


@pytest.fixture
def workers(fault_settings: Settings, tmp_path: Path) -> Iterator[Callable[..., WorkerProcess]]:
    """Start workers (``workers(**setting_overrides)``); every one is stopped at the end."""
    started: list[WorkerProcess] = []

    def start(**overrides: object) -> WorkerProcess:
        worker = WorkerProcess(fault_settings, tmp_path / f"worker-{len(started) + 1}.log", **overrides)
        started.append(worker.start())
        return worker

    yield start
    for worker in started:
        worker.stop()
