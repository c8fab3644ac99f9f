"""Jobs through a real Redis and an arq worker: the same functions the embedded default runs."""

from __future__ import annotations

import asyncio
import json
import warnings
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from uuid import uuid4

import pytest
from arq.worker import Worker
from sqlalchemy import func, select

from application.authorization import SYSTEM, Principal, Role
from application.billing_runs import RunRequest
from application.ingestion import ReadingItem
from domain.billing import BillKind
from domain.readings import ReadingValues
from domain.season import Season
from domain.settlement import SettlementPolicy, TwoPartPrice
from domain.tariff import TariffTerms
from domain.values import (
    AccuracyClass,
    Address,
    Areas,
    CustomerClass,
    FlowSensorSide,
    HorizontalPosition,
    MeterKind,
    Position,
    ReadingSource,
    VerticalPosition,
)
from infrastructure.container import Container, bootstrap
from infrastructure.jobs import InProcessJobs, open_redis, worker_options
from infrastructure.settings import Settings
from infrastructure.uploads import reading_item_from_payload, reading_item_to_payload
from projections.tables import meter_readings
from tests.conftest import sqlite_settings
from tests.services import REDIS_URL, port_open, unavailable

START = datetime(2025, 11, 1, 2, tzinfo=UTC)


@pytest.fixture
def redis_settings(tmp_path) -> Settings:  # type: ignore[no-untyped-def]
    if not port_open("127.0.0.1", 6379):
        unavailable("Redis", "nothing listens on 127.0.0.1:6379")
    settings = sqlite_settings(tmp_path)
    return settings.model_copy(update={"redis_url": REDIS_URL, "catch_up_after_command": False})


@pytest.fixture
def quiet_container(redis_settings: Settings) -> Iterator[Container]:
    """A ledger that does not catch up after commands, as in production: only jobs do."""
    built = bootstrap(redis_settings)
    built.ledger.commission_meter(
        SYSTEM,
        "B-1",
        "Kamstrup",
        "Multical 803",
        AccuracyClass.CLASS_2,
        FlowSensorSide.RETURN,
        MeterKind.BUILDING,
        START - timedelta(days=1),
        community="碧桂园",
        building="1",
    )
    yield built
    built.close()


def _payloads(count: int) -> list[dict[str, object]]:
    return [
        reading_item_to_payload(
            ReadingItem(
                "B-1", ReadingValues(START + timedelta(days=day), Decimal("1.5") * day, source=ReadingSource.MBUS)
            )
        )
        for day in range(count)
    ]


def _recorded_readings(container: Container) -> int:
    with container.engine.connect() as connection:
        return int(connection.execute(select(func.count()).select_from(meter_readings)).scalar_one())


def test_payload_round_trip_keeps_every_value() -> None:
    item = ReadingItem(
        "M-9",
        ReadingValues(
            START,
            Decimal("12.345678"),
            Decimal("1.5"),
            None,
            Decimal("55.2"),
            Decimal("41.0"),
            error_flags=4,
            source=ReadingSource.NBIOT,
            faulty=True,
        ),
    )
    assert reading_item_from_payload(reading_item_to_payload(item)) == item


def test_in_process_job_records_and_catches_up(quiet_container: Container) -> None:
    result = InProcessJobs(quiet_container).enqueue(
        "record_reading_batch",
        items=_payloads(3),
        actor="concentrator-7",
        role=Role.DEVICE.value,
        reason="upload",
        batch_id=str(uuid4()),
    )
    assert result["accepted"] == 3
    assert _recorded_readings(quiet_container) == 3


def test_arq_worker_runs_a_queued_batch(quiet_container: Container, redis_settings: Settings) -> None:
    async def scenario() -> dict[str, object]:
        redis = await open_redis(redis_settings)
        await redis.flushdb()
        job = await redis.enqueue_job(
            "record_reading_batch",
            items=_payloads(4),
            actor="concentrator-7",
            role=Role.DEVICE.value,
            reason="upload",
            batch_id=str(uuid4()),
        )
        assert job is not None
        options = worker_options(redis_settings) | {"cron_jobs": []}
        worker = Worker(
            **options, burst=True, handle_signals=False, ctx={"container": quiet_container, "owns_container": False}
        )
        await worker.main()
        with warnings.catch_warnings():
            # arq 0.28 closes its pool with redis-py's deprecated close(); nothing of ours.
            warnings.simplefilter("ignore", DeprecationWarning)
            await worker.close()
        result = await job.result(timeout=5)
        await redis.aclose()
        return result

    result = asyncio.run(scenario())
    assert result["accepted"] == 4
    assert _recorded_readings(quiet_container) == 4


def test_without_a_job_the_read_models_wait(quiet_container: Container) -> None:
    quiet_container.ledger.record_readings(SYSTEM, [reading_item_from_payload(p) for p in _payloads(2)])
    assert _recorded_readings(quiet_container) == 0
    assert InProcessJobs(quiet_container).enqueue("catch_up_projections") > 0
    assert _recorded_readings(quiet_container) == 2


def test_arq_worker_runs_a_billing_run_and_records_its_summary(
    quiet_container: Container, redis_settings: Settings
) -> None:
    # A household in building 1 and a city tariff; the prepayment run is queued and a worker runs it.
    container = quiet_container
    container.ledger.register_household(
        SYSTEM,
        "WZ-0001",
        Address("碧桂园", "1", "1", 3, "301"),
        Areas(Decimal("90.00"), Decimal("90.00")),
        CustomerClass.RESIDENTIAL,
        Position(VerticalPosition.MIDDLE, HorizontalPosition.MIDDLE),
        START.date(),
    )
    price = TwoPartPrice(Decimal("21.6"), Decimal(30), Decimal("43.9"), SettlementPolicy.REFUND_ONLY)
    container.billing.publish_tariff(
        SYSTEM, CustomerClass.RESIDENTIAL, "*", TariffTerms(price), START.date(), None, "DOC-1", START.date()
    )
    container.catch_up()
    request = RunRequest(BillKind.PREPAYMENT, Season.default_starting(2025))
    run_id = container.run_store.submit(SYSTEM, request, "prepayment")

    async def scenario() -> dict[str, object]:
        redis = await open_redis(redis_settings)
        await redis.flushdb()
        job = await redis.enqueue_job("run_billing", run_id=str(run_id))
        assert job is not None
        options = worker_options(redis_settings) | {"cron_jobs": []}
        worker = Worker(
            **options, burst=True, handle_signals=False, ctx={"container": container, "owns_container": False}
        )
        await worker.main()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)
            await worker.close()
        result = await job.result(timeout=5)
        await redis.aclose()
        return result

    result = asyncio.run(scenario())
    record = container.run_store.get(run_id)
    assert result["status"] == record.status.value == "done"
    assert record.summary is not None and record.summary["bills_issued"] == 1
    assert record.summary["charged_yuan"] == "1944.00"  # 90 m² × 21.6 元/m²
    assert (record.households_done, record.households_total) == (1, 1)


def test_arq_worker_runs_dunning_and_delivers_to_the_gateway(
    quiet_container: Container, redis_settings: Settings
) -> None:
    # WZ-0001's prepayment of 2025-2026 was due 1 Nov 2025 and never paid: by today (real time) it
    # is past every stage; the worker's run writes the final reminder and delivers it to a receiver.
    from application.notifications import Contact, ContactChannel, MessageLanguage
    from tests.integration.test_payment_read_models import prepaid_period
    from tests.receivers import webhook_receiver
    from tests.strategies import register_household

    container = quiet_container
    register_household(container.ledger, "WZ-0001")
    container.ledger.save(prepaid_period(container, "WZ-0001"))
    container.catch_up()
    container.contacts.set_contact(
        Contact("WZ-0001", ContactChannel.WEBHOOK, "13800138000", MessageLanguage.ZH), "service-chen"
    )

    with webhook_receiver() as receiver:
        settings = redis_settings.model_copy(update={"notification_webhook_url": receiver.url})
        container.settings = settings

        async def scenario() -> dict[str, object]:
            redis = await open_redis(settings)
            await redis.flushdb()
            job = await redis.enqueue_job("run_dunning")
            assert job is not None
            options = worker_options(settings) | {"cron_jobs": []}
            worker = Worker(
                **options, burst=True, handle_signals=False, ctx={"container": container, "owns_container": False}
            )
            await worker.main()
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", DeprecationWarning)
                await worker.close()
            result = await job.result(timeout=5)
            await redis.aclose()
            return result

        result = asyncio.run(scenario())
        assert (result["queued"], result["delivered"], result["retried"], result["dead"]) == (1, 1, 0, 0)
        [request] = receiver.received
    [message] = container.outbox.messages()
    assert (message.status, message.stage_days, message.created_by) == ("delivered", 90, "dunning")
    assert message.subject.endswith("供热费最后催缴通知")
    assert json.loads(request.body)["message_id"] == str(message.message_id)


def test_the_worker_delivers_every_minute_and_runs_dunning_at_the_hour_set(redis_settings: Settings) -> None:
    def cron_names(settings: Settings) -> list[str]:
        return [job.name for job in worker_options(settings)["cron_jobs"]]

    assert "cron:deliver_notifications" in cron_names(redis_settings)
    assert "cron:run_dunning" not in cron_names(redis_settings)
    daily = redis_settings.model_copy(update={"dunning_daily_hour": 9})
    [dunning] = [job for job in worker_options(daily)["cron_jobs"] if job.name == "cron:run_dunning"]
    assert (dunning.hour, dunning.minute) == ({9}, {0})


def test_arq_worker_s_billing_run_brings_each_bill_to_its_household(
    quiet_container: Container, redis_settings: Settings
) -> None:
    # The worker runs the prepayment of WZ-0001 (90 m² × 21.6 = 1944.00 元), writes its notice and
    # delivers it to the gateway in the same job; a second job for the same run writes nothing.
    from application.notifications import Contact, ContactChannel, MessageLanguage
    from tests.receivers import webhook_receiver
    from tests.strategies import register_household

    container = quiet_container
    register_household(container.ledger, "WZ-0001")
    price = TwoPartPrice(Decimal("21.6"), Decimal(30), Decimal("43.9"), SettlementPolicy.REFUND_ONLY)
    container.billing.publish_tariff(
        SYSTEM, CustomerClass.RESIDENTIAL, "*", TariffTerms(price), START.date(), None, "DOC-1", START.date()
    )
    container.contacts.set_contact(
        Contact("WZ-0001", ContactChannel.WEBHOOK, "13800138000", MessageLanguage.ZH), "service-chen"
    )
    container.catch_up()
    clerk = Principal("clerk-li", Role.CLERK)
    run_id = container.run_store.submit(clerk, RunRequest(BillKind.PREPAYMENT, Season.default_starting(2025)), "x")

    with webhook_receiver() as receiver:
        settings = redis_settings.model_copy(update={"notification_webhook_url": receiver.url})
        container.settings = settings

        async def scenario() -> list[dict[str, object]]:
            redis = await open_redis(settings)
            await redis.flushdb()
            jobs = [await redis.enqueue_job("run_billing", run_id=str(run_id), _job_id=f"r{n}") for n in range(2)]
            options = worker_options(settings) | {"cron_jobs": [], "max_jobs": 1}
            worker = Worker(
                **options, burst=True, handle_signals=False, ctx={"container": container, "owns_container": False}
            )
            await worker.main()
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", DeprecationWarning)
                await worker.close()
            results = [await job.result(timeout=5) for job in jobs if job is not None]
            await redis.aclose()
            return results

        first, again = asyncio.run(scenario())
        [request] = receiver.received
    assert first["notices"] == {
        "season": "2025-2026",
        "bills": 1,
        "written": 1,
        "already_written": 0,
        "skipped": [],
        "delivered": 1,
        "retried": 0,
        "dead": 0,
    }
    assert again["notices"]["written"] == 0 and again["notices"]["already_written"] == 1
    [message] = container.outbox.messages()
    assert (message.kind, message.status, message.created_by, message.amount_yuan) == (
        "prepayment",
        "delivered",
        "clerk-li",
        Decimal("1944.00"),
    )
    assert json.loads(request.body)["message_id"] == str(message.message_id)
