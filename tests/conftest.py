"""Fixtures shared by every tier: settings and a wired container on each backend."""

from __future__ import annotations

import contextlib
import functools
import json
import os
import shutil
import time
from collections.abc import Iterator
from datetime import date, datetime
from pathlib import Path

import freezegun
import pytest
from argon2 import PasswordHasher
from eventsourcing.persistence import Transcoding
from freezegun.api import FakeDate, FakeDatetime
from hypothesis import HealthCheck, settings
from sqlalchemy import Engine, create_engine
from sqlalchemy.pool import StaticPool

from application.transcodings import add_transcoding
from infrastructure import container as container_module
from infrastructure.container import Container, bootstrap
from infrastructure.passwords import Argon2Passwords
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
# test, phase, start and stop in epoch seconds, the worker's CPU seconds in it), to see per file
# and per worker where a run's time goes and which worker finishes last (the suite's speed notes
# are measured with it: on a shared machine CPU seconds compare where wall seconds do not).
TIMELINE = os.environ.get("HEATLEDGER_TEST_TIMELINE")
_PHASE_CPU = pytest.StashKey[float]()


def _cpu_of_phase(item: pytest.Item) -> Iterator[None]:
    started = time.process_time()
    try:
        yield
    finally:
        item.stash[_PHASE_CPU] = time.process_time() - started


pytest_runtest_setup = pytest.hookimpl(wrapper=True)(_cpu_of_phase)
pytest_runtest_call = pytest.hookimpl(wrapper=True)(_cpu_of_phase)
pytest_runtest_teardown = pytest.hookimpl(wrapper=True)(_cpu_of_phase)


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    if TIMELINE:
        worker = os.environ.get("PYTEST_XDIST_WORKER", "main")
        line: dict[str, object] = {"worker": worker, "test": report.nodeid, "phase": report.when}
        line["outcome"] = report.outcome
        line |= {"start": report.start, "stop": report.stop, "cpu": getattr(report, "cpu_seconds", None)}
        with open(TIMELINE, "a", encoding="utf-8") as timeline:
            timeline.write(json.dumps(line) + "\n")


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Iterator[None]:
    report = yield
    report.cpu_seconds = item.stash.get(_PHASE_CPU, None)  # type: ignore[attr-defined]
    return report


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


@contextlib.contextmanager
def migrated_postgres_engine() -> Iterator[Engine]:
    """A fresh, migrated PostgreSQL store's read models over one connection (a StaticPool)."""
    with fresh_postgres_database() as database:
        settings_ = postgres_settings(database)
        bootstrap(settings_).close()
        host = f"{settings_.postgres_user}@{settings_.postgres_host}:{settings_.postgres_port}"
        built = create_engine(f"postgresql+psycopg://{host}/{database}", poolclass=StaticPool)
        try:
            yield built
        finally:
            built.dispose()


@pytest.fixture(autouse=True, scope="session")
def light_password_hashing() -> Iterator[None]:
    """Containers built in the tests hash staff passwords with argon2id at one pass over 1 MiB
    instead of production's three over 64 MiB (about 50 ms a hash, and a web test logs in, fails
    and changes passwords many times: tests/e2e/web/test_login.py spent seconds a test hashing).
    Still argon2id through ``Argon2Passwords``, salted and verified the same way; a server the
    tests start as a process of its own hashes at production's parameters."""
    light = functools.partial(Argon2Passwords, PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1))
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(container_module, "Argon2Passwords", light)
        yield


@pytest.fixture(scope="session")
def migrated_sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A SQLite store bootstrapped once per worker (every migration run, then closed): the
    empty store each test gets is a copy of it. Migrating a new file costs ~0.2 s of CPU (31
    migrations, each with its commit); copying the 0.8 MB file a millisecond, and bootstrapping
    on the copy finds it at head. What the copy holds is what bootstrapping a new folder makes."""
    folder = tmp_path_factory.mktemp("migrated-sqlite-store")
    bootstrap(sqlite_settings(folder)).close()
    return folder


def empty_sqlite_settings(template: Path, folder: Path) -> Settings:
    """Settings for an empty, migrated SQLite store in ``folder``: a copy of ``template``."""
    for stored in template.iterdir():
        shutil.copyfile(stored, folder / stored.name)
    return sqlite_settings(folder)


@pytest.fixture(params=[Backend.SQLITE, Backend.POSTGRES], ids=["sqlite", "postgres"])
def backend_settings(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Settings]:
    """Settings for an empty store, once per backend."""
    if request.param is Backend.SQLITE:
        yield empty_sqlite_settings(request.getfixturevalue("migrated_sqlite_template"), tmp_path)
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
def sqlite_container(tmp_path: Path, migrated_sqlite_template: Path) -> Iterator[Container]:
    """A fully wired ledger on an empty SQLite store (for tests that need one backend only)."""
    built = bootstrap(empty_sqlite_settings(migrated_sqlite_template, tmp_path))
    yield built
    built.close()
