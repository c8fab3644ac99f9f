"""A billing run saves chunk N in its writer thread while it computes chunk N + 1 (issue 17). On
SQLite and PostgreSQL: the pipelined run issues exactly the bills, the events (in order) and the
summary of the run that computes and saves one chunk at a time; a chunk whose save another writer
refused is billed again from fresh state; a failure part-way stops the run with the earlier
chunks saved whole and nothing of the later ones; while a chunk is saved no other command of the
process runs, and between chunks no unsaved change is left in the aggregate cache."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from dataclasses import asdict
from decimal import Decimal
from typing import Any
from uuid import UUID

import pytest
from eventsourcing.persistence import IntegrityError
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select

from application import billing_runs as billing_run_module
from application.billing_runs import RunRequest, RunSummary, _RunJob
from domain import ids
from domain.billing import BillKind
from domain.billing_period import BillingPeriod
from infrastructure.container import Container
from infrastructure.settings import Backend
from projections.tables import bills
from tests.integration.test_bill_replay_properties import FlatPlan, allocated_flat, flat_plans, metered_flat
from tests.integration.test_billing_runs import AFTER_SEASON, CLERK, SEASON, publish
from tests.integration.test_scenario_properties import empty_store
from tests.strategies import register_household

RUN_IDS = {
    BillKind.PREPAYMENT: UUID("00000000-0000-4000-8000-000000000001"),
    BillKind.STATEMENT: UUID("00000000-0000-4000-8000-000000000002"),
    BillKind.SETTLEMENT: UUID("00000000-0000-4000-8000-000000000003"),
}
WRITER_THREAD = "billing-writes"
saved_at: list[float] = []  # when each of the writer's saves ended (reset by ``five``)


def _history(container: Container, flats: list[FlatPlan], allocated: bool) -> None:
    publish(container)
    for index, plan in enumerate(flats):
        metered_flat(container, f"A-{index}", f"M-{index}", plan)
    if allocated:
        allocated_flat(container)
    container.catch_up()


def _runs(container: Container, pipelined: bool, month: str) -> tuple[list[Any], list[tuple[Any, ...]], list[Any]]:
    """The three runs of a season: their summaries, the events they stored (without the wall-clock
    timestamp each event carries) in notification order, and the bills' read-model rows (without
    it either)."""
    container.billing_runs.pipelined = pipelined
    start = container.ledger.recorder.max_notification_id() or 0
    summaries: list[Any] = []
    for kind, label in ((BillKind.PREPAYMENT, None), (BillKind.STATEMENT, month), (BillKind.SETTLEMENT, None)):
        progress: list[tuple[int, int]] = []
        summary = container.billing_runs.run(
            CLERK, RunRequest(kind, SEASON, label), _appending_to(progress), run_id=RUN_IDS[kind]
        )
        summaries.append((asdict(summary), progress))
        container.catch_up()
    events = [
        (event.originator_id, event.originator_version, event.topic, _without_timestamp(event.state))
        for event in container.ledger.recorder.select_notifications(start + 1, 100_000)
    ]
    # Every column but the event's wall-clock time (``issued_at``).
    columns = [column for column in bills.c if column.name != "issued_at"]
    with container.engine.connect() as connection:
        rows = [tuple(row) for row in connection.execute(select(*columns).order_by(bills.c.bill_id))]
    return summaries, events, rows


def _appending_to(progress: list[tuple[int, int]]) -> Callable[[int, int], None]:
    return lambda done, total: progress.append((done, total))


def _without_timestamp(state: bytes) -> dict[str, Any]:
    decoded: dict[str, Any] = json.loads(state)
    decoded.pop("timestamp", None)
    return decoded


@pytest.mark.parametrize("backend", [Backend.SQLITE, Backend.POSTGRES], ids=["sqlite", "postgres"])
@settings(max_examples=4, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    flats=st.lists(flat_plans, min_size=1, max_size=2),
    allocated=st.booleans(),
    chunk_size=st.integers(min_value=1, max_value=3),
    month=st.sampled_from(["2025-12", "2026-02"]),
)
def test_the_pipelined_run_issues_what_one_chunk_at_a_time_issues(
    backend: Backend, flats: list[FlatPlan], allocated: bool, chunk_size: int, month: str
) -> None:
    results = []
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(billing_run_module, "CHUNK_SIZE", chunk_size)
        for pipelined in (False, True):
            with empty_store(backend) as container:
                _history(container, flats, allocated)
                results.append(_runs(container, pipelined, month))
    (one_at_a_time, pipelined_run) = results
    assert pipelined_run[0] == one_at_a_time[0]  # summaries and progress
    assert pipelined_run[1] == one_at_a_time[1]  # the events, in order
    assert pipelined_run[2] == one_at_a_time[2]  # the bills' rows
    assert any(summary["bills_issued"] for summary, _ in one_at_a_time[0])


@pytest.fixture
def five(container: Container, monkeypatch: pytest.MonkeyPatch) -> Container:
    """Five households, one a chunk: five chunks, five saves, pipelined."""
    monkeypatch.setattr(billing_run_module, "CHUNK_SIZE", 1)
    container.billing_runs.pipelined = True
    container.ledger.clock = lambda: AFTER_SEASON
    saved_at.clear()
    for number in range(1, 6):
        register_household(container.ledger, f"P-{number}")
    publish(container)
    container.catch_up()
    return container


def _saves_in_writer(
    container: Container, monkeypatch: pytest.MonkeyPatch, instead: Callable[[int, tuple[Any, ...]], None]
) -> list[list[str]]:
    """Wrap the ledger's save: each save the writer thread makes is recorded by the accounts of its
    periods (and when it ended, in ``saved_at``), after ``instead(number, periods)`` (which may
    raise: nothing saved) is called with the number of the call."""
    saves: list[list[str]] = []
    calls = [0]
    save = container.ledger.save

    def spied(*objs: Any, **kwargs: Any) -> Any:
        if threading.current_thread().name != WRITER_THREAD:
            return save(*objs, **kwargs)
        accounts = [obj.account_number for obj in objs if isinstance(obj, BillingPeriod)]
        calls[0] += 1
        instead(calls[0], objs)
        saved = save(*objs, **kwargs)
        saves.append(accounts)
        saved_at.append(time.monotonic())
        return saved

    monkeypatch.setattr(container.ledger, "save", spied)
    return saves


def _prepaid_accounts(container: Container) -> list[str]:
    found = []
    for number in range(1, 6):
        account = f"P-{number}"
        period = container.ledger.load_or_none(BillingPeriod, ids.billing_period_id(account, SEASON.code))
        if period is not None and period.issued(BillKind.PREPAYMENT):
            found.append(account)
            assert len(period.issued(BillKind.PREPAYMENT)) == 1
    return found


def test_a_chunk_whose_save_another_writer_refused_is_billed_again(
    five: Container, monkeypatch: pytest.MonkeyPatch
) -> None:
    def refuse_the_second(number: int, _: tuple[Any, ...]) -> None:
        if number == 2:  # as if another process had saved one of its periods first
            raise IntegrityError("duplicate key value violates unique constraint")

    saves = _saves_in_writer(five, monkeypatch, refuse_the_second)
    fresh: list[bool] = []
    bill_each = _RunJob._bill_each

    def counting(self: _RunJob, *arguments: Any, **keywords: Any) -> bool:
        fresh.append(arguments[-1] is None)  # billed without the reads made ahead?
        return bill_each(self, *arguments, **keywords)

    monkeypatch.setattr(_RunJob, "_bill_each", counting)
    progress: list[int] = []

    summary = five.billing_runs.run(
        CLERK, RunRequest(BillKind.PREPAYMENT, SEASON), lambda done, _: progress.append(done)
    )

    # P-2's save was refused (not recorded), P-3 computed meanwhile; P-2 again, from fresh state,
    # saved before P-3.
    assert saves == [["P-1"], ["P-2"], ["P-3"], ["P-4"], ["P-5"]]
    assert fresh == [False, False, False, True, False, False]
    assert (summary.bills_issued, summary.already_issued, summary.exceptions) == (5, 0, [])
    assert summary.charged_yuan == 5 * _one_prepayment(five, "P-1")
    assert progress == [1, 2, 3, 4, 5]
    assert _prepaid_accounts(five) == ["P-1", "P-2", "P-3", "P-4", "P-5"]


def _one_prepayment(container: Container, account: str) -> Decimal:
    period = container.billing.period(account, SEASON)
    (bill,) = period.issued(BillKind.PREPAYMENT)
    return bill.amount_yuan


class Broken(RuntimeError):
    """Not a version conflict: the run stops."""


def test_a_save_failing_part_way_stops_the_run_with_whole_chunks_saved(
    five: Container, monkeypatch: pytest.MonkeyPatch
) -> None:
    def break_the_third(number: int, _: tuple[Any, ...]) -> None:
        if number == 3:
            raise Broken("the disk is full")

    _saves_in_writer(five, monkeypatch, break_the_third)
    progress: list[int] = []
    with pytest.raises(Broken):
        five.billing_runs.run(CLERK, RunRequest(BillKind.PREPAYMENT, SEASON), lambda done, _: progress.append(done))

    assert progress == [1, 2]
    _no_unsaved_changes_cached(five)
    assert _prepaid_accounts(five) == ["P-1", "P-2"]  # P-3 refused, P-4 computed and dropped
    five.catch_up()
    with five.engine.connect() as connection:
        assert sorted(row.account_number for row in connection.execute(select(bills.c.account_number))) == [
            "P-1",
            "P-2",
        ]
    monkeypatch.undo()
    monkeypatch.setattr(billing_run_module, "CHUNK_SIZE", 1)
    again = five.billing_runs.run(CLERK, RunRequest(BillKind.PREPAYMENT, SEASON))
    assert (again.bills_issued, again.already_issued) == (3, 2)


def test_a_chunk_failing_to_compute_stops_the_run_after_the_chunk_being_saved(
    five: Container, monkeypatch: pytest.MonkeyPatch
) -> None:
    issue = _RunJob._issue

    def failing(self: _RunJob, period: BillingPeriod, *arguments: Any) -> Any:
        if period.account_number == "P-3":
            raise Broken("a defect")
        return issue(self, period, *arguments)

    monkeypatch.setattr(_RunJob, "_issue", failing)
    with pytest.raises(Broken):
        five.billing_runs.run(CLERK, RunRequest(BillKind.PREPAYMENT, SEASON))

    _no_unsaved_changes_cached(five)
    assert _prepaid_accounts(five) == ["P-1", "P-2"]  # P-2 was being saved while P-3 failed


def _no_unsaved_changes_cached(container: Container) -> None:
    cache = container.ledger.repository.cache
    assert cache is not None
    for number in range(1, 6):
        try:
            period = cache.get(ids.billing_period_id(f"P-{number}", SEASON.code))
        except KeyError:
            continue
        assert isinstance(period, BillingPeriod) and not period.pending_events, f"P-{number}"


def test_no_other_command_runs_while_a_chunk_is_saved_nor_sees_an_unsaved_chunk(
    five: Container, monkeypatch: pytest.MonkeyPatch
) -> None:
    answered: dict[int, float] = {}
    others: list[threading.Thread] = []

    def beside(number: int, _: tuple[Any, ...]) -> None:
        # Another command (a household's read, under the shared lock) asks as the save starts.
        def command() -> None:
            five.ledger.household("P-5")
            answered[number] = time.monotonic()

        other = threading.Thread(target=command)
        other.start()
        others.append(other)
        time.sleep(0.1)  # time enough for it to run, were it let in

    _saves_in_writer(five, monkeypatch, beside)

    def between_chunks(done: int, total: int) -> None:
        _no_unsaved_changes_cached(five)  # the lock is free here: nothing unsaved in the cache

    summary = five.billing_runs.run(CLERK, RunRequest(BillKind.PREPAYMENT, SEASON), between_chunks)
    for other in others:
        other.join()

    assert summary.bills_issued == 5
    assert sorted(answered) == [1, 2, 3, 4, 5]
    for number in range(1, 6):
        assert answered[number] > saved_at[number - 1], number


def test_a_summary_of_the_pipelined_run_counts_each_bill_once(five: Container) -> None:
    summary: RunSummary = five.billing_runs.run(CLERK, RunRequest(BillKind.PREPAYMENT, SEASON))
    again = five.billing_runs.run(CLERK, RunRequest(BillKind.PREPAYMENT, SEASON))
    assert (summary.bills_issued, again.bills_issued, again.already_issued) == (5, 0, 5)
