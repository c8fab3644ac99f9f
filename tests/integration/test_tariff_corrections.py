"""Retroactive tariff corrections end to end on SQLite and PostgreSQL: a season settled under a
tariff, the price bureau revises a price afterwards, the preview (a stored scenario and the notes),
a second person's approval, the run that books a note per settlement bill against the original
period; balances, arrears and dunning follow the notes; running again books nothing more.

The season is test_billing_runs': 2025-2026, Xuchang-like prices 21.6 元/m², base 30 %, 43.9 元/GJ,
both ways; A-1 uses 30.2 GJ, A-2 15.1 GJ, 90 m² each.
"""

from __future__ import annotations

import asyncio
import itertools
import warnings
from datetime import UTC, date, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import Any
from uuid import UUID

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from arq.worker import Worker
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from sqlalchemy import select

from application.authorization import SYSTEM, Principal, Role
from application.tariff_corrections import TariffCorrections
from domain import ids
from domain.billing import BillKind
from domain.dunning import DunningPolicy
from domain.errors import ConflictError, NotFoundError, PermissionDeniedError
from domain.tariff_correction import CorrectionProposal, CorrectionState
from domain.values import CustomerClass
from infrastructure.container import Container, bootstrap
from infrastructure.jobs import open_redis, worker_options
from infrastructure.scenarios import TotalsLevel
from infrastructure.settings import Settings
from infrastructure.tariff_corrections import (
    PREVIEW_TARIFF_CORRECTION,
    RUN_TARIFF_CORRECTION,
    CorrectionJobRecord,
    JobStatus,
    correction_store_of,
    submit_preview,
    submit_run,
    tariff_corrections_of,
)
from infrastructure.tariff_corrections import metadata as job_metadata
from projections.arrears_queries import ArrearsQueries
from projections.billing_queries import BillingQueries
from projections.tables import bills
from projections.tables import metadata as projection_metadata
from projections.tariff_corrections import TariffCorrectionQueries, tariff_corrections
from tests.integration import test_billing_runs
from tests.integration.test_billing_runs import AFTER_SEASON, SEASON, TERMS, midnight, publish, read_daily, run
from tests.integration.test_jobs_arq import redis_settings
from tests.strategies import commission_meter, household_with_meter, item, register_household

D = Decimal
CENT = D("0.01")
billed = test_billing_runs.billed
__all__ = ["redis_settings"]  # the fixture, imported for the test on an arq worker
PROPOSER = Principal("admin-zhao", Role.ADMIN)
APPROVER = Principal("admin-qian", Role.ADMIN)
DOCUMENT = "许发改价格〔2026〕12号"
_documents = itertools.count(100)


def settled(container: Container) -> Container:
    run(container, BillKind.PREPAYMENT)
    run(container, BillKind.SETTLEMENT)
    return container


def propose(container: Container, document: str = DOCUMENT, **overrides: Any) -> UUID:
    proposal = CorrectionProposal(
        "residential",
        "*",
        1,
        overrides or {"energy_price_yuan_per_gj": D("40")},
        document,
        date(2026, 4, 10),
        (SEASON.code,),
    )
    return corrections(container).propose(PROPOSER, proposal, "物价局更正 2025-2026 采暖季计量热价").correction_id


def corrections(container: Container) -> TariffCorrections:
    return tariff_corrections_of(container)


def preview(container: Container, correction_id: UUID) -> CorrectionJobRecord:
    job_id = submit_preview(container, PROPOSER, correction_id, "preview")
    container.jobs.enqueue(PREVIEW_TARIFF_CORRECTION, job_id=str(job_id))
    return correction_store_of(container).get(job_id)


def book(container: Container, correction_id: UUID) -> CorrectionJobRecord:
    job_id = submit_run(container, PROPOSER, correction_id, "run")
    container.jobs.enqueue(RUN_TARIFF_CORRECTION, job_id=str(job_id))
    return correction_store_of(container).get(job_id)


def approved(container: Container, document: str = DOCUMENT, **overrides: Any) -> UUID:
    correction_id = propose(container, document, **overrides)
    assert preview(container, correction_id).status is JobStatus.DONE
    corrections(container).approve(APPROVER, correction_id, "checked the preview against the document")
    return correction_id


def balance(container: Container, account: str) -> Decimal:
    found = BillingQueries(container.engine).balance(ids.household_id(account))
    assert found is not None
    return found.balance_yuan


def notes_of(container: Container, account: str) -> list[Any]:
    return container.billing.period(account, SEASON).issued(BillKind.ADJUSTMENT)


# -- the whole way -------------------------------------------------------------------------------


def test_a_lower_energy_price_credits_each_household_its_difference_once(billed: Container) -> None:
    # 43.9 → 40 元/GJ: A-1 30.2 GJ × 3.9 = 117.78 back, A-2 15.1 GJ × 3.9 = 58.89 back.
    settled(billed)
    before = {account: balance(billed, account) for account in ("A-1", "A-2")}
    correction_id = propose(billed)
    job = preview(billed, correction_id)
    assert job.status is JobStatus.DONE, job.error
    correction = corrections(billed).correction(correction_id)
    totals = correction.preview_totals
    assert totals is not None
    assert (totals.households, totals.notes, totals.credit_notes, totals.debit_notes) == (2, 2, 2, 0)
    assert (totals.credit_yuan, totals.debit_yuan, totals.net_yuan) == (D("-176.67"), D("0"), D("-176.67"))
    assert (totals.held_out, totals.issued_differ, totals.unchanged) == (0, 0, 0)
    # The preview is a scenario like any: its corrected column changes the season by the notes.
    (scenario_id,) = correction.scenario_ids
    (whole,) = [row for row in billed.scenario_store.totals(UUID(scenario_id), TotalsLevel.ALL) if row.variant == 1]
    assert D(whole.totals["change_yuan"]) == D("-176.67")

    with pytest.raises(PermissionDeniedError):
        corrections(billed).approve(PROPOSER, correction_id, "my own")
    corrections(billed).approve(APPROVER, correction_id, "checked")
    record = book(billed, correction_id)
    assert record.status is JobStatus.DONE, record.error
    assert record.summary is not None
    assert (record.summary["notes_booked"], record.summary["credit_yuan"], record.summary["completed"]) == (
        2,
        "-176.67",
        True,
    )
    # Preview totals = the notes booked, to the fen; each balance moves by exactly its note.
    (note_1,) = notes_of(billed, "A-1")
    (note_2,) = notes_of(billed, "A-2")
    assert (note_1.amount_yuan, note_2.amount_yuan) == (D("-117.78"), D("-58.89"))
    assert note_1.amount_yuan + note_2.amount_yuan == totals.net_yuan
    assert balance(billed, "A-1") == before["A-1"] + note_1.amount_yuan
    assert balance(billed, "A-2") == before["A-2"] + note_2.amount_yuan
    source = note_1.lines[0]
    assert source.code == "adjustment_source"
    assert (source.figures["source"], source.figures["document_number"]) == ("tariff_correction", DOCUMENT)
    assert source.figures["adjusted_bill"] == "2025-2026-S-A-1-1"
    codes = [line.code for line in note_1.lines]
    assert {"tariff", "energy_part", "metered_fee", "settlement_amount"} <= set(codes)
    assert "base_part" not in codes  # only the lines the corrected price moves
    tariff_line = next(line for line in note_1.lines if line.code == "tariff")
    assert (tariff_line.figures["energy_price_yuan_per_gj"], tariff_line.figures["document_number"]) == (
        "40",
        DOCUMENT,
    )

    # The version stays as published; the tariff records the correction.
    tariff = billed.billing.tariff(CustomerClass.RESIDENTIAL, "*")
    assert tariff.version_numbered(1).terms == TERMS
    (recorded,) = tariff.corrections_of(1)
    assert (recorded.correction_id, recorded.document_number) == (correction_id, DOCUMENT)

    (row,) = TariffCorrectionQueries(billed.engine).list()
    assert (row.state, row.notes_booked, row.credit_yuan, row.approved_by) == (
        CorrectionState.COMPLETED,
        2,
        D("-176.67"),
        "admin-qian",
    )
    notes = correction_store_of(billed).notes_page(correction_id, 1, booked=True)
    assert [(item.note.account_number, item.booked_amount_yuan) for item in notes] == [
        ("A-1", D("-117.78")),
        ("A-2", D("-58.89")),
    ]

    # Running again books nothing more.
    again = book(billed, correction_id)
    assert again.summary is not None
    assert (again.summary["notes_booked"], again.summary["already_booked"]) == (0, 2)
    assert len(notes_of(billed, "A-1")) == 1
    assert balance(billed, "A-1") == before["A-1"] + note_1.amount_yuan


def test_a_killed_run_run_again_books_only_what_is_missing(billed: Container) -> None:
    settled(billed)
    correction_id = approved(billed)
    store = correction_store_of(billed)
    job_id = store.submit(PROPOSER, correction_id, "run", 1, "the run that dies")  # type: ignore[arg-type]
    service = corrections(billed)
    assert service.start_run(PROPOSER, correction_id, store.digest(correction_id, 1), job_id)
    (chunk,) = list(store.note_chunks(correction_id, 1))
    first = service.book_chunk(PROPOSER, correction_id, chunk[:1], job_id)  # … and the process dies
    assert first.booked_yuan == [D("-117.78")]
    assert corrections(billed).correction(correction_id).state is CorrectionState.RUNNING
    record = book(billed, correction_id)
    assert record.summary is not None
    assert (record.summary["notes_booked"], record.summary["already_booked"], record.summary["completed"]) == (
        1,
        1,
        True,
    )
    assert [len(notes_of(billed, account)) for account in ("A-1", "A-2")] == [1, 1]
    correction = corrections(billed).correction(correction_id)
    assert (correction.booked.notes, correction.booked.credit_yuan) == (2, D("-176.67"))


def test_no_run_before_approval_and_none_after_refusal(billed: Container) -> None:
    settled(billed)
    correction_id = propose(billed)
    with pytest.raises(ConflictError):
        submit_run(billed, PROPOSER, correction_id, "too early")
    preview(billed, correction_id)
    with pytest.raises(ConflictError):
        submit_run(billed, PROPOSER, correction_id, "not approved")
    corrections(billed).refuse(APPROVER, correction_id, "the document names another tariff")
    with pytest.raises(ConflictError):
        submit_run(billed, PROPOSER, correction_id, "refused")
    with billed.engine.connect() as connection:
        assert connection.execute(select(bills).where(bills.c.kind == "adjustment")).first() is None


def test_an_owner_change_gets_a_note_per_owner_bill(billed: Container) -> None:
    # A-1 changes hands on 16 January: 15.2 GJ before, 15.0 after; 3.9 元/GJ less on each.
    billed.ledger.change_owner(SYSTEM, "A-1", date(2026, 1, 16), "过户")
    settled(billed)
    correction_id = approved(billed)
    book(billed, correction_id)
    first, second = notes_of(billed, "A-1")
    assert (first.amount_yuan, second.amount_yuan) == (D("-59.28"), D("-58.50"))
    assert [bill.lines[0].figures["adjusted_bill"] for bill in (first, second)] == [
        "2025-2026-S-A-1-1",
        "2025-2026-S-A-1-2",
    ]


def test_an_area_price_correction_reaches_what_the_prepayment_charged(billed: Container) -> None:
    # 21.6 → 20 元/m²: the area fee 1944.00 → 1800.00. A-3 has no meter: billed by area, its
    # prepayment was the whole charge, so 144.00 back although its invoice is never issued again.
    # are metered: their base part (30 % of the area fee) falls 583.20 → 540.00.
    register_household(billed.ledger, "A-3")
    settled(billed)
    (settlement,) = billed.billing.period("A-3", SEASON).issued(BillKind.SETTLEMENT)
    assert settlement.amount_yuan == 0
    correction_id = approved(billed, area_price_yuan_per_m2=D("20"))
    book(billed, correction_id)
    amounts = {account: notes_of(billed, account)[0].amount_yuan for account in ("A-1", "A-2", "A-3")}
    assert amounts == {"A-1": D("-43.20"), "A-2": D("-43.20"), "A-3": D("-144.00")}


def test_arrears_and_dunning_follow_the_notes(billed: Container) -> None:
    # Nothing paid: A-1 owes its prepayment less its settlement credit, then less the note too.
    settled(billed)
    day = date(2026, 12, 31)
    before = {record.account_number: record.past_due_yuan for record in ArrearsQueries(billed.engine).past_due(day)}
    policy = DunningPolicy.of([30], D("0.01"))
    reminded = {item.account_number: item.amount_yuan for item in billed.dunning.remind(SYSTEM, policy, day).outcomes}
    book(billed, approved(billed))
    after = {record.account_number: record.past_due_yuan for record in ArrearsQueries(billed.engine).past_due(day)}
    assert after == {"A-1": before["A-1"] - D("117.78"), "A-2": before["A-2"] - D("58.89")}
    now = {item.account_number: item.amount_yuan for item in billed.dunning.remind(SYSTEM, policy, day).outcomes}
    assert now == {"A-1": reminded["A-1"] - D("117.78"), "A-2": reminded["A-2"] - D("58.89")}


def test_a_second_correction_moves_from_where_the_first_left_the_price(billed: Container) -> None:
    # 43.9 → 40 (first), then 40 → 41 (second): A-1 pays 30.2 × 1 = 30.20 back of the 117.78.
    settled(billed)
    book(billed, approved(billed))
    second = approved(billed, "许发改价格〔2026〕20号", energy_price_yuan_per_gj=D("41"))
    book(billed, second)
    assert [bill.amount_yuan for bill in notes_of(billed, "A-1")] == [D("-117.78"), D("30.20")]
    assert len(billed.billing.tariff(CustomerClass.RESIDENTIAL, "*").corrections_of(1)) == 2


def test_a_household_whose_season_is_not_settled_is_held_out_with_the_reason(billed: Container) -> None:
    # A-3's meter M-3 is read for 140 of 151 days only: its settlement cannot be issued (11 days
    # without data), so the correction cannot say what it changes; once the readings are in, it
    # could be settled but is not yet: still held out. get their notes.
    register_household(billed.ledger, "A-3")
    commission_meter(billed.ledger, "M-3")
    billed.ledger.attach_meter(SYSTEM, "A-3", "M-3", datetime(2025, 10, 1, tzinfo=UTC))
    read_daily(billed, "M-3", D("0.1"), days=140)
    settled(billed)
    correction_id = propose(billed)
    first = preview(billed, correction_id)
    assert first.summary is not None
    assert [(item["account_number"], item["message_key"]) for item in first.summary["held_out"]] == [
        ("A-3", "season_not_covered")
    ]
    late = [
        item("M-3", midnight(SEASON.first_day + timedelta(days=day)), D(100) + D("0.1") * day)
        for day in range(140, SEASON.days + 1)
    ]
    billed.ledger.record_readings(SYSTEM, late)
    second = preview(billed, correction_id)
    assert second.summary is not None
    assert [(item["account_number"], item["message_key"]) for item in second.summary["held_out"]] == [
        ("A-3", "correction_period_not_settled")
    ]
    totals = corrections(billed).correction(correction_id).preview_totals
    assert totals is not None and (totals.households, totals.held_out, totals.notes) == (3, 1, 2)


def test_a_tariff_the_ledger_does_not_have_is_not_found(billed: Container) -> None:
    proposal = CorrectionProposal(
        "residential", "碧桂园", 1, {"energy_price_yuan_per_gj": "40"}, DOCUMENT, date(2026, 4, 10), (SEASON.code,)
    )
    with pytest.raises(NotFoundError):
        corrections(billed).propose(PROPOSER, proposal, "no such tariff")


# -- the property -------------------------------------------------------------------------------


def _rounded(value: Decimal) -> Decimal:
    return value.quantize(CENT, rounding=ROUND_HALF_UP)


def _due(area_price: Decimal, base_percent: Decimal, energy_price: Decimal, energy_gj: Decimal) -> Decimal:
    """What a metered household of 90 m² owes for the whole season, both ways, by hand (domain.md §6)."""
    area_fee = _rounded(D(90) * area_price)
    return _rounded(area_fee * base_percent / 100) + _rounded(energy_gj * energy_price)


@settings(max_examples=6, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    area_price=st.decimals(min_value=D("15"), max_value=D("30"), places=2),
    base_percent=st.integers(min_value=20, max_value=60).map(D),
    energy_price=st.decimals(min_value=D("30"), max_value=D("60"), places=2),
)
def test_the_notes_sum_to_the_difference_of_the_settlements_recomputed(
    billed_once: Container, area_price: Decimal, base_percent: Decimal, energy_price: Decimal
) -> None:
    corrected = {
        "area_price_yuan_per_m2": area_price,
        "base_share_percent": base_percent,
        "energy_price_yuan_per_gj": energy_price,
    }
    assume((area_price, base_percent, energy_price) != (D("21.6"), D(30), D("43.9")))
    # Every example corrects the published version afresh: the earlier examples' corrections
    # never run (they stay approved), so each builds on the version as published.
    correction_id = propose(billed_once, f"许发改价格〔2026〕{next(_documents)}号", **corrected)
    preview(billed_once, correction_id)
    notes = correction_store_of(billed_once).notes_page(correction_id, 1, limit=10)
    expected = sum(
        _due(area_price, base_percent, energy_price, gj) - _due(D("21.6"), D(30), D("43.9"), gj)
        for gj in (D("30.2"), D("15.1"))
    )
    totals = corrections(billed_once).correction(correction_id).preview_totals
    assert totals is not None
    assert sum((item.note.amount_yuan for item in notes), D(0)) == expected == totals.net_yuan


@pytest.fixture
def billed_once(billed: Container) -> Container:
    return settled(billed)


# -- the tables ------------------------------------------------------------------------------------


def test_the_read_model_rebuilds_to_the_rows_built_event_by_event(billed: Container) -> None:
    settled(billed)
    book(billed, approved(billed))
    propose(billed, "许发改价格〔2026〕30号", base_share_percent=D(40))

    def rows() -> list[Any]:
        with billed.engine.connect() as connection:
            return sorted(connection.execute(select(tariff_corrections)).all(), key=str)

    built = rows()
    assert len(built) == 2
    billed.runner.rebuild()
    assert rows() == built


def test_the_migration_creates_the_tables_as_declared(billed: Container) -> None:
    names = {"tariff_corrections", "tariff_correction_jobs", "tariff_correction_notes"}
    with billed.engine.connect() as connection:
        context = MigrationContext.configure(connection)
        differences = compare_metadata(context, [projection_metadata, job_metadata])  # type: ignore[arg-type]

    def concerns_corrections(difference: Any) -> bool:
        flat = difference if isinstance(difference, tuple) else difference[0]
        return any(
            getattr(part, "name", part) in names or getattr(getattr(part, "table", None), "name", None) in names
            for part in flat
        )

    assert [difference for difference in differences if concerns_corrections(difference)] == []


# -- on an arq worker ------------------------------------------------------------------------------


def test_an_arq_worker_previews_and_runs_a_correction(redis_settings: Settings) -> None:
    # As in production: the read models catch up only when a job does.
    container = bootstrap(redis_settings)
    try:
        container.ledger.clock = lambda: AFTER_SEASON
        household_with_meter(container.ledger, "A-1", "M-1")
        read_daily(container, "M-1", D("0.2"))
        publish(container)
        container.catch_up()
        settled(container)
        correction_id = propose(container)
        preview_id = submit_preview(container, PROPOSER, correction_id, "preview")
        assert _on_a_worker(container, redis_settings, PREVIEW_TARIFF_CORRECTION, preview_id)["status"] == "done"
        corrections(container).approve(APPROVER, correction_id, "checked")
        run_id = submit_run(container, PROPOSER, correction_id, "run")
        result = _on_a_worker(container, redis_settings, RUN_TARIFF_CORRECTION, run_id)
        assert result["status"] == "done" and result["summary"]["notes_booked"] == 1
        assert balance(container, "A-1") == D("1944.00") - D("35.02") - D("117.78")
    finally:
        container.close()


def _on_a_worker(container: Container, settings: Settings, name: str, job_id: UUID) -> dict[str, Any]:
    async def scenario() -> dict[str, Any]:
        redis = await open_redis(settings)
        await redis.flushdb()
        job = await redis.enqueue_job(name, job_id=str(job_id))
        assert job is not None
        options = worker_options(settings) | {"cron_jobs": []}
        worker = Worker(
            **options, burst=True, handle_signals=False, ctx={"container": container, "owns_container": False}
        )
        await worker.main()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)
            await worker.close()
        result: dict[str, Any] = await job.result(timeout=5)
        await redis.aclose()
        return result

    return asyncio.run(scenario())
