"""Queued reading uploads as jobs: through a real arq worker on Redis (submitted over the API, or
enqueued with their readings), and a run that fails after some chunks keeps them and is re-run
to completion without recording anything twice."""

from __future__ import annotations

import asyncio
import warnings
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any
from uuid import UUID, uuid4

import pytest
from arq.worker import Worker
from sqlalchemy import func, select
from starlette.testclient import TestClient

from api.app import create_app
from application.authorization import SYSTEM, Principal, Role
from application.ingestion import BatchReport, ReadingItem
from domain.values import AccuracyClass, FlowSensorSide, MeterKind
from infrastructure.container import Container, bootstrap
from infrastructure.intake import Channel, ReadingIntake
from infrastructure.jobs import ArqJobs, InProcessJobs, open_redis, worker_options
from infrastructure.settings import JobQueueKind, Settings
from infrastructure.uploads import (
    CHUNK_SIZE,
    PROCESS_READING_UPLOAD,
    UploadStatus,
    UploadStore,
    chunk_batch_id,
    process_reading_upload,
)
from projections.tables import meter_readings
from tests.conftest import sqlite_settings
from tests.services import REDIS_URL, port_open, unavailable

START = datetime(2025, 9, 1, 16, tzinfo=UTC)  # midnight of 2 September in Asia/Shanghai


def payloads(meters: int, days: int) -> list[dict[str, Any]]:
    """Daily readings of ``meters`` meters over ``days`` days in the API's JSON format, day by day."""
    return [
        {
            "meter_serial": f"U-{meter:03d}",
            "measured_at": (START + timedelta(days=day)).isoformat(),
            "energy_gj": str(Decimal("1.25") + Decimal("0.3") * day),
            "source": "nbiot",
        }
        for day in range(days)
        for meter in range(meters)
    ]


def commission(container: Container, meters: int) -> None:
    for meter in range(meters):
        container.ledger.commission_meter(
            SYSTEM,
            f"U-{meter:03d}",
            "Landis+Gyr",
            "T550",
            AccuracyClass.CLASS_2,
            FlowSensorSide.RETURN,
            MeterKind.HOUSEHOLD,
            START - timedelta(days=1),
        )


def recorded_readings(container: Container) -> int:
    with container.engine.connect() as connection:
        return int(connection.execute(select(func.count()).select_from(meter_readings)).scalar_one())


def run_worker_until_idle(container: Container, settings: Settings) -> None:
    """One burst of an arq worker over the queue: it runs every job queued, then stops."""

    async def burst() -> None:
        options = worker_options(settings) | {"cron_jobs": []}
        worker = Worker(
            **options, burst=True, handle_signals=False, ctx={"container": container, "owns_container": False}
        )
        await worker.main()
        with warnings.catch_warnings():
            # arq 0.28 closes its pool with redis-py's deprecated close(); nothing of ours.
            warnings.simplefilter("ignore", DeprecationWarning)
            await worker.close()

    asyncio.run(burst())


def flush_queue(settings: Settings) -> None:
    async def flush() -> None:
        redis = await open_redis(settings)
        await redis.flushdb()
        await redis.aclose()

    asyncio.run(flush())


@pytest.fixture
def arq_settings(tmp_path) -> Settings:  # type: ignore[no-untyped-def]
    if not port_open("127.0.0.1", 6379):
        unavailable("Redis", "nothing listens on 127.0.0.1:6379")
    settings = sqlite_settings(tmp_path).model_copy(
        update={"redis_url": REDIS_URL, "catch_up_after_command": False, "job_queue": JobQueueKind.ARQ}
    )
    flush_queue(settings)
    return settings


@pytest.fixture
def arq_container(arq_settings: Settings) -> Iterator[Container]:
    """A ledger as in production: jobs go to Redis, only jobs and workers catch the read models up."""
    built = bootstrap(arq_settings)
    yield built
    built.close()


# -- through arq ------------------------------------------------------------------------------------


def test_an_upload_submitted_over_the_api_is_run_by_an_arq_worker(
    arq_container: Container, arq_settings: Settings
) -> None:
    assert isinstance(arq_container.jobs, ArqJobs)
    commission(arq_container, 30)
    readings = payloads(meters=30, days=100)  # 3,000 readings: two chunks
    device = arq_container.tokens.create("concentrator-7", Role.DEVICE).secret
    headers = {"Authorization": f"Bearer {device}"}

    with TestClient(create_app(arq_container)) as client:
        response = client.post("/readings/uploads", json={"readings": readings}, headers=headers)
        assert response.status_code == 202, response.text
        location = response.headers["location"]
        queued = client.get(location, headers=headers).json()
        run_worker_until_idle(arq_container, arq_settings)
        done = client.get(location, headers=headers).json()

    assert queued["status"] == "queued"
    assert queued["progress"]["processed"] == 0
    assert done["status"] == "done"
    assert done["progress"] == {"processed": 3000, "total": 3000, "chunks_done": 2, "chunks_total": 2}
    assert done["counts"] == {"accepted": 3000, "duplicates": 0, "rejected": 0}
    assert recorded_readings(arq_container) == 3000  # the job caught the read models up


def test_a_job_enqueued_with_its_readings_is_deduplicated_by_its_id(
    arq_container: Container, arq_settings: Settings
) -> None:
    commission(arq_container, 5)
    upload_id = str(uuid4())
    job = {
        "upload_id": upload_id,
        "items": payloads(meters=5, days=10),
        "actor": "poller-modbus-1",
        "role": Role.DEVICE.value,
        "reason": "Modbus poll",
    }

    first = arq_container.jobs.enqueue(PROCESS_READING_UPLOAD, _job_id=f"upload-{upload_id}", **job)
    second = arq_container.jobs.enqueue(PROCESS_READING_UPLOAD, _job_id=f"upload-{upload_id}", **job)
    run_worker_until_idle(arq_container, arq_settings)

    assert (first, second) == (f"upload-{upload_id}", None)
    upload = UploadStore(arq_container.engine).require(UUID(upload_id))
    assert (upload.status, upload.actor, upload.reason) == (UploadStatus.DONE, "poller-modbus-1", "Modbus poll")
    assert (upload.accepted, upload.duplicates, upload.rejected) == (50, 0, 0)
    assert recorded_readings(arq_container) == 50


# -- failure mid-way, and a second run --------------------------------------------------------------


class FailsAfterSaving:
    """The real intake; the run stops with an error right after chunk ``fail_after`` (from 0) is
    saved and before its progress is kept: the worst moment, as when a worker is killed."""

    def __init__(self, intake: ReadingIntake, fail_after: int) -> None:
        self.intake = intake
        self.fail_after = fail_after
        self.batch_ids: list[UUID | None] = []

    def submit(self, principal: Principal, items: Sequence[ReadingItem], *args: Any, **kwargs: Any) -> BatchReport:
        report = self.intake.submit(principal, items, *args, **kwargs)
        self.batch_ids.append(kwargs.get("batch_id"))
        if len(self.batch_ids) - 1 == self.fail_after:
            raise ConnectionError("the worker lost its database connection")
        return report


def test_a_run_that_fails_keeps_the_chunks_it_saved_and_a_second_run_completes(container: Container) -> None:
    commission(container, 100)
    items = payloads(meters=100, days=45)  # 4,500 readings: chunks of 2,000, 2,000 and 500
    upload_id = uuid4()
    store = UploadStore(container.engine)
    store.submit(upload_id, items, "concentrator-9", Role.DEVICE.value, "burst")
    real_intake = container.intake
    failing = FailsAfterSaving(real_intake, fail_after=1)
    container.intake = failing  # type: ignore[assignment]

    with pytest.raises(ConnectionError):
        process_reading_upload(container, str(upload_id))

    failed = store.require(upload_id)
    assert failed.status is UploadStatus.FAILED
    assert (failed.chunks_done, failed.processed, failed.accepted) == (1, CHUNK_SIZE, CHUNK_SIZE)
    assert failed.error_key == "upload_failed"
    assert failed.error is not None and "lost its database connection" in failed.error
    assert recorded_readings(container) == 2 * CHUNK_SIZE  # the second chunk was saved: its readings are real
    assert failing.batch_ids == [chunk_batch_id(upload_id, 0), chunk_batch_id(upload_id, 1)]

    container.intake = real_intake
    result = InProcessJobs(container).enqueue(PROCESS_READING_UPLOAD, upload_id=str(upload_id))

    assert result["status"] == "done"
    done = store.require(upload_id)
    assert (done.chunks_done, done.processed, done.total_items) == (3, 4500, 4500)
    # The saved chunk came back as duplicates (its batch id was the same): nothing recorded twice.
    assert (done.accepted, done.duplicates, done.rejected) == (2500, 2000, 0)
    assert done.error_key is None and done.finished_at is not None
    assert recorded_readings(container) == 4500
    assert process_reading_upload(container, str(upload_id))["status"] == "done"  # a third run does nothing
    assert recorded_readings(container) == 4500


def test_a_chunk_is_counted_once_however_many_runs_record_it(sqlite_container: Container) -> None:
    commission(sqlite_container, 2)
    upload_id = uuid4()
    store = UploadStore(sqlite_container.engine)
    store.submit(upload_id, payloads(meters=2, days=3), "clerk-1", Role.CLERK.value, "import")
    chunk = store.next_chunk(upload_id)
    assert chunk is not None
    principal = Principal("clerk-1", Role.CLERK)
    report = sqlite_container.intake.submit(
        principal, chunk.items, Channel.UPLOAD, batch_id=chunk_batch_id(upload_id, 0)
    )

    assert store.record_chunk(upload_id, chunk, report) is True
    assert store.record_chunk(upload_id, chunk, report) is False  # a second run got there too

    upload = store.require(upload_id)
    assert (upload.chunks_done, upload.processed, upload.accepted) == (1, 6, 6)
    assert store.next_chunk(upload_id) is None


def test_resubmitting_a_failed_upload_queues_one_new_attempt(sqlite_container: Container) -> None:
    upload_id = uuid4()
    store = UploadStore(sqlite_container.engine)
    items = payloads(meters=1, days=2)
    first = store.submit(upload_id, items, "clerk-1", Role.CLERK.value, "import")
    store.fail(upload_id, RuntimeError("boom"))

    again = store.submit(upload_id, items, "clerk-1", Role.CLERK.value, "import")
    once_more = store.submit(upload_id, items, "clerk-1", Role.CLERK.value, "import")

    assert (first.start_run, first.upload.attempt) == (True, 1)
    assert (again.start_run, again.upload.attempt, again.upload.status) == (True, 2, UploadStatus.QUEUED)
    assert (once_more.start_run, once_more.upload.attempt) == (False, 2)
    assert again.upload.job_id != first.upload.job_id


def test_a_stalled_run_can_be_submitted_again(sqlite_container: Container) -> None:
    upload_id = uuid4()
    items = payloads(meters=1, days=2)
    now = [START]
    store = UploadStore(sqlite_container.engine, clock=lambda: now[0])
    store.submit(upload_id, items, "clerk-1", Role.CLERK.value, "import")
    store.start(upload_id)  # running since START; its process then died

    now[0] = START + timedelta(minutes=5)
    assert store.submit(upload_id, items, "clerk-1", Role.CLERK.value, "import").start_run is False
    now[0] = START + timedelta(minutes=11)
    resubmitted = store.submit(upload_id, items, "clerk-1", Role.CLERK.value, "import")
    assert (resubmitted.start_run, resubmitted.upload.status) == (True, UploadStatus.QUEUED)
