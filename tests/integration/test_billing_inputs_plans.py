"""The settlement's evidence reads plan serially on PostgreSQL (no JIT, no parallel workers, sorts
in memory) for their own transaction only: the pooled connection they used goes back with the
server's settings (issue 17)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date

import pytest
from sqlalchemy import Engine, text

from domain import ids
from domain.season import Season
from projections import billing_inputs
from projections.billing_inputs import SqlBillingInputs
from tests.conftest import migrated_postgres_engine

SETTINGS = ("jit", "max_parallel_workers_per_gather", "work_mem")
SERIAL = {"jit": "off", "max_parallel_workers_per_gather": "0", "work_mem": "32MB"}


@pytest.fixture
def one_connection_engine() -> Iterator[Engine]:
    """A migrated PostgreSQL store's read models over one connection, so the reads and the checks
    share it (a pool of several could hand the check another one)."""
    with migrated_postgres_engine() as engine:
        yield engine


def _shown(engine: Engine) -> dict[str, str]:
    with engine.connect() as connection:
        return {name: connection.execute(text(f"SHOW {name}")).scalar_one() for name in SETTINGS}


def test_the_evidence_reads_plan_serially_and_leave_the_connection_as_it_was(one_connection_engine: Engine) -> None:
    engine = one_connection_engine
    before = _shown(engine)
    assert before["jit"] != "off" or before["max_parallel_workers_per_gather"] != "0", "the server's defaults"
    with billing_inputs._bulk_read(engine) as connection:
        inside = {name: connection.execute(text(f"SHOW {name}")).scalar_one() for name in SETTINGS}
    assert inside == SERIAL
    assert _shown(engine) == before
    households = [ids.household_id("WZ-1"), ids.household_id("WZ-2")]
    inputs = SqlBillingInputs(engine)
    assert inputs.meter_evidence(households, date(2025, 11, 1), date(2026, 3, 31)) == {}
    assert inputs.monthly_energy(households, Season.from_code("2025-2026")) == {}
    assert _shown(engine) == before
