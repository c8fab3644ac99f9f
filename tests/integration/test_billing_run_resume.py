"""A billing run killed part-way and run again reports everything it issued (issue 16, item 4):
its summary counts the bills issued under its id in every execution, not in the last one only."""

from __future__ import annotations

from decimal import Decimal

import pytest

from application import billing_runs as billing_run_module
from application.billing_runs import RunRequest
from domain.billing import BillKind
from infrastructure.billing_runs import RunStatus, execute_run
from infrastructure.container import Container
from tests.integration.test_billing_runs import CLERK, SEASON, publish
from tests.strategies import register_household

HOUSEHOLDS = 5


class Killed(BaseException):
    """What a ``kill -9`` does to a run: it stops between two chunks, and nothing marks the record."""


def _killing_after(chunks: int):  # type: ignore[no-untyped-def]
    calls = {"count": 0}

    def checkpoint() -> None:
        calls["count"] += 1
        if calls["count"] > chunks:  # the first call comes before any chunk
            raise Killed

    return checkpoint


@pytest.fixture
def households(container: Container, monkeypatch: pytest.MonkeyPatch) -> Container:
    monkeypatch.setattr(billing_run_module, "CHUNK_SIZE", 2)  # three chunks of five households
    for number in range(1, HOUSEHOLDS + 1):
        register_household(container.ledger, f"R-{number}")
    publish(container)
    container.catch_up()
    return container


def test_a_run_resumed_after_a_kill_counts_what_it_issued_before(households: Container) -> None:
    store, runs = households.run_store, households.billing_runs
    run_id = store.submit(CLERK, RunRequest(BillKind.PREPAYMENT, SEASON), "prepayment")

    with pytest.raises(Killed):
        execute_run(store, runs, run_id, _killing_after(chunks=1))
    assert store.get(run_id).status is RunStatus.RUNNING
    assert store.get(run_id).households_done == 2

    households.catch_up()
    record = execute_run(store, runs, run_id)
    assert record.status is RunStatus.DONE
    summary = record.summary
    assert summary is not None
    assert (summary["bills_issued"], summary["already_issued"]) == (HOUSEHOLDS, 0)
    assert summary["by_basis"] == {"area": HOUSEHOLDS}
    charged = Decimal(summary["charged_yuan"])

    # Another run finds every bill issued by the first: none is its own.
    again = store.submit(CLERK, RunRequest(BillKind.PREPAYMENT, SEASON), "prepayment again")
    repeated = execute_run(store, runs, again).summary
    assert repeated is not None
    assert (repeated["bills_issued"], repeated["already_issued"]) == (0, HOUSEHOLDS)
    assert Decimal(repeated["charged_yuan"]) == 0 < charged
