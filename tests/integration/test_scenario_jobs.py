"""A scenario as a job on a real Redis with an arq worker, as production runs it (the embedded
default runs the same function in process: tests/e2e/test_api_scenarios.py)."""

from __future__ import annotations

import asyncio
import warnings
from collections.abc import Iterator
from decimal import Decimal

import pytest
from arq.worker import Worker

from application.authorization import Principal, Role
from application.scenarios import ScenarioRequest
from domain.billing import BillKind
from domain.scenario import TariffVariant
from infrastructure.container import Container, bootstrap
from infrastructure.jobs import JOBS, open_redis, worker_options
from infrastructure.scenarios import RUN_SCENARIO
from infrastructure.settings import Settings
from tests.integration.test_billing_runs import AFTER_SEASON, SEASON, publish, read_daily, run
from tests.integration.test_jobs_arq import redis_settings
from tests.strategies import household_with_meter

__all__ = ["redis_settings"]  # the fixture, imported for these tests


@pytest.fixture
def settled(redis_settings: Settings) -> Iterator[Container]:
    container = bootstrap(redis_settings)
    container.ledger.clock = lambda: AFTER_SEASON
    household_with_meter(container.ledger, "A-1", "M-1")
    read_daily(container, "M-1", Decimal("0.2"))
    publish(container)
    container.catch_up()
    for kind in (BillKind.PREPAYMENT, BillKind.SETTLEMENT):
        run(container, kind)
    yield container
    container.close()


def test_an_arq_worker_computes_a_submitted_scenario(settled: Container, redis_settings: Settings) -> None:
    assert RUN_SCENARIO in JOBS
    request = ScenarioRequest(SEASON.code, (TariffVariant("50 元/GJ", {"energy_price_yuan_per_gj": "50"}),))
    scenario_id = settled.scenario_store.submit(Principal("price-bureau", Role.REGULATOR), request)

    async def work() -> dict[str, object]:
        redis = await open_redis(redis_settings)
        await redis.flushdb()
        job = await redis.enqueue_job(RUN_SCENARIO, scenario_id=str(scenario_id))
        assert job is not None
        options = worker_options(redis_settings) | {"cron_jobs": []}
        worker = Worker(
            **options, burst=True, handle_signals=False, ctx={"container": settled, "owns_container": False}
        )
        await worker.main()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)
            await worker.close()
        result: dict[str, object] = await job.result(timeout=5)
        await redis.aclose()
        return result

    result = asyncio.run(work())

    record = settled.scenario_store.get(scenario_id)
    assert result["status"] == record.status.value == "done"
    assert (record.households_done, record.households_total) == (1, 1)
    assert record.summary is not None
    assert record.summary["columns"][1]["totals"]["change_yuan"] == "184.22"  # 30.2 GJ × 6.1 元/GJ
