"""Fixtures shared by every tier: settings and a wired container on each backend."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from datetime import date, datetime
from pathlib import Path

import freezegun
import pytest
from eventsourcing.persistence import Transcoding
from freezegun.api import FakeDate, FakeDatetime
from hypothesis import HealthCheck, settings

from application.transcodings import add_transcoding
from infrastructure.container import Container, bootstrap
from infrastructure.settings import Backend, Environment, Settings
from tests.services import POSTGRES_HOST, POSTGRES_PORT, POSTGRES_USER, fresh_postgres_database

settings.register_profile(
    "ledger", deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow]
)
settings.load_profile("ledger")

# pytest times each phase with ``_pytest.timing`` (its own imports of time() and perf_counter());
# freezegun replaced them in every module it found, so a test under a frozen clock reported about
# 1.8e9 s and ``--durations`` was useless. Left alone, the durations are real.
freezegun.configure(extend_ignore_list=["_pytest.timing"])

# HEATLEDGER_TEST_TIMELINE=<file>: every phase of every test appended as one JSON line (worker,
# test, phase, start, stop in epoch seconds), to see per file and per worker where a run's wall
# time goes and which worker finishes last (the suite's speed notes are measured with it).
TIMELINE = os.environ.get("HEATLEDGER_TEST_TIMELINE")


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    if TIMELINE:
        worker = os.environ.get("PYTEST_XDIST_WORKER", "main")
        line = {"worker": worker, "test": report.nodeid, "phase": report.when}
        line |= {"start": report.start, "stop": report.stop, "outcome": report.outcome}
        with open(TIMELINE, "a", encoding="utf-8") as timeline:
            timeline.write(json.dumps(line) + "\n")


class FakeDatetimeAsISO(Transcoding):
    """freezegun's FakeDatetime, stored like a datetime, so saves work under a frozen clock."""

    type = FakeDatetime
    name = "datetime_iso"  # the library's own name for datetimes: decoding gives a real datetime

    def encode(self, obj: datetime) -> str:
        return obj.isoformat()

    def decode(self, data: str) -> datetime:
        return datetime.fromisoformat(data)


class FakeDateAsISO(Transcoding):
    """freezegun's FakeDate, stored like a date: billing issues bills on the ledger's business day,
    which under a frozen clock is a FakeDate."""

    type = FakeDate
    name = "date_iso"  # the ledger's own name for dates: decoding gives a real date

    def encode(self, obj: date) -> str:
        return obj.isoformat()

    def decode(self, data: str) -> date:
        return date.fromisoformat(data)


add_transcoding(FakeDatetimeAsISO())
add_transcoding(FakeDateAsISO())


def sqlite_settings(folder: Path) -> Settings:
    return Settings(environment=Environment.TEST, backend=Backend.SQLITE, data_dir=folder)


def postgres_settings(database: str) -> Settings:
    return Settings(
        environment=Environment.TEST,
        backend=Backend.POSTGRES,
        postgres_host=POSTGRES_HOST,
        postgres_port=POSTGRES_PORT,
        postgres_user=POSTGRES_USER,
        postgres_dbname=database,
    )


@pytest.fixture(params=[Backend.SQLITE, Backend.POSTGRES], ids=["sqlite", "postgres"])
def backend_settings(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Settings]:
    """Settings for an empty store, once per backend."""
    if request.param is Backend.SQLITE:
        yield sqlite_settings(tmp_path)
        return
    with fresh_postgres_database() as database:
        yield postgres_settings(database)


@pytest.fixture
def container(backend_settings: Settings) -> Iterator[Container]:
    """A fully wired ledger on an empty store, on each backend."""
    built = bootstrap(backend_settings)
    yield built
    built.close()


@pytest.fixture
def sqlite_container(tmp_path: Path) -> Iterator[Container]:
    """A fully wired ledger on an empty SQLite store (for tests that need one backend only)."""
    built = bootstrap(sqlite_settings(tmp_path))
    yield built
    built.close()
