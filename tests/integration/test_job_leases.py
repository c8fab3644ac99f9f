"""Job leases by compare-and-set, on both backends; the worker's reconnection backoff; the job
serializer's exception results (issue 16, items 2, 3 and 6)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from arq.worker import JobExecutionFailed

from infrastructure.container import Container
from infrastructure.job_leases import JobLeases, LeaseHeldError, LeaseLostError, metadata
from infrastructure.jobs import _deserialize, _serialize
from infrastructure.worker import MAXIMUM_BACKOFF_SECONDS, RedisOutage, RedisUnavailableError

KEY = "run_billing:0b8f4a1e-0000-4000-8000-000000000001"


def test_the_migration_creates_the_table_as_declared(container: Container) -> None:
    with container.engine.connect() as connection:
        differences = compare_metadata(MigrationContext.configure(connection), metadata)
    ours = [difference for difference in differences if "job_leases" in repr(difference)]
    assert ours == []


class Clock:
    def __init__(self) -> None:
        self.now = datetime(2026, 1, 5, 8, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now


def test_a_lease_is_held_by_one_owner_until_it_runs_out(container: Container) -> None:
    clock = Clock()
    leases = JobLeases(container.engine, timedelta(seconds=15), clock)
    assert leases.acquire(KEY, "worker-a")
    assert not leases.acquire(KEY, "worker-b")  # held and live
    assert leases.acquire(KEY, "worker-a")  # ours already
    clock.now += timedelta(seconds=10)
    assert leases.renew(KEY, "worker-a")
    clock.now += timedelta(seconds=10)
    assert not leases.acquire(KEY, "worker-b")  # renewed 10 s ago: still live
    clock.now += timedelta(seconds=6)
    assert leases.expiries([KEY, "other"]) == {KEY: clock.now - timedelta(seconds=1)}
    assert leases.acquire(KEY, "worker-b")  # ran out: taken over
    assert not leases.renew(KEY, "worker-a")  # the first owner learns it lost it
    leases.release(KEY, "worker-a")  # not its own any more: nothing happens
    assert not leases.acquire(KEY, "worker-c")
    leases.release(KEY, "worker-b")
    assert leases.acquire(KEY, "worker-c")


def test_a_held_lease_refuses_a_second_holder_and_notices_a_takeover(container: Container) -> None:
    clock = Clock()
    leases = JobLeases(container.engine, timedelta(seconds=15), clock)
    with leases.hold(KEY) as lease:
        lease.checkpoint()
        with pytest.raises(LeaseHeldError):
            leases.hold(KEY)
        clock.now += timedelta(seconds=16)  # its worker froze: the lease ran out
        assert leases.acquire(KEY, "another-worker")
        with pytest.raises(LeaseLostError):
            lease.checkpoint()
    assert leases.expiries([KEY]) == {KEY: clock.now + timedelta(seconds=15)}  # the other's, untouched


def test_the_reconnection_backoff_doubles_and_gives_up_after_the_limit() -> None:
    now = [0.0]
    outage = RedisOutage(60, clock=lambda: now[0])
    delays = []
    for _ in range(8):
        delays.append(outage.next_delay(ConnectionError("refused")))
        now[0] += delays[-1]
    assert delays[:5] == [0.5, 1.0, 2.0, 4.0, 8.0]
    assert max(delays) == MAXIMUM_BACKOFF_SECONDS
    outage.ended()
    assert outage.next_delay(ConnectionError("refused")) == 0.5  # a new outage starts afresh
    now[0] += 61
    with pytest.raises(RedisUnavailableError):
        outage.next_delay(ConnectionError("refused"))


def test_an_expired_jobs_result_is_serialized() -> None:
    # arq stores JobExecutionFailed('job expired') for a job Redis no longer has the data of.
    result = {"f": "run_billing", "s": False, "r": JobExecutionFailed("job expired")}
    assert _deserialize(_serialize(result))["r"] == {"error": "JobExecutionFailed", "message": "job expired"}
    with pytest.raises(TypeError):
        json.loads(_serialize({"r": {1, 2}}))
