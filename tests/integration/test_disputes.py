"""Disputes through the application, on SQLite and PostgreSQL: the resolution books its note
against the original billing period in the same save, balances, open charges and the aging follow,
the second person's rule, idempotence, the read models, and hold only what is disputed in dunning
and arrears flags.

The households are those of ``test_billing_runs``: A-1 and A-2, 90 m² each, billed for 2025-2026
(prepayment 1944.00 元; settlement by meter: A-1 used 30.2 GJ, 35.02 元 back). A-1's last reading
(1 Apr 00:00) was 130.2 GJ where the meter showed 130.1: corrected, the season's heat is 30.1 GJ and
its settlement recomputed gives 0.1 × 43.9 = 4.39 元 more back (-39.41 instead of -35.02).
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any
from uuid import UUID, uuid4

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy import select

from application.authorization import SYSTEM, Principal, Role
from application.disputes import Disputes, SubjectRequest
from domain import ids
from domain.billing import BillKind
from domain.billing_period import BillingPeriod
from domain.dispute import (
    Dispute,
    DisputeCategory,
    DisputeChannel,
    DisputeClaim,
    RecomputeSnapshot,
    SubjectKind,
    dispute_notes_booked_yuan,
)
from domain.errors import ConflictError, InvalidInputError, NotFoundError, PermissionDeniedError
from domain.household import Household
from domain.verification import TestPoint
from infrastructure.container import Container
from infrastructure.dispute_recomputes import DisputeRecomputes
from projections.billing_queries import BillingQueries
from projections.dispute_queries import DisputeFilter, DisputeQueries, SqlDisputeLookups
from projections.payment_queries import PaymentQueries
from projections.tables import DISPUTE_TABLES, metadata
from tests.integration import test_billing_runs
from tests.integration.test_billing_runs import SEASON, midnight, run
from tests.strategies import item, values

D = Decimal
SERVICE = Principal("service-chen", Role.CUSTOMER_SERVICE)
SERVICE_ZHAO = Principal("service-zhao", Role.CUSTOMER_SERVICE)
CLERK = Principal("clerk-li", Role.CLERK)
AUDITOR = Principal("auditor-sun", Role.AUDITOR)
AFTER = test_billing_runs.AFTER_SEASON.date()
billed = test_billing_runs.billed


def open_bill_dispute(
    container: Container,
    account: str,
    bill_id: UUID,
    amount: str,
    reference: str = "KF-1",
    category: DisputeCategory = DisputeCategory.AREA_WRONG,
    principal: Principal = SERVICE,
) -> UUID:
    """Open a dispute about a bill of ``account`` and return its id."""
    claim = DisputeClaim(category, "the bill is too high", D(amount), DisputeChannel.PHONE)
    subject = SubjectRequest(SubjectKind.BILL, bill_id=bill_id)
    return container.disputes.open(principal, account, subject, claim, reference).dispute_id


def issued(container: Container, account: str, kind: BillKind) -> UUID:
    (bill,) = container.billing.period(account, SEASON).issued(kind)
    return bill.bill_id


def open_yuan(container: Container, account: str) -> Decimal:
    charges = PaymentQueries(container.engine).open_charges_of_household(ids.household_id(account))
    return sum((charge.open_yuan for charge in charges), D(0))


def balance(container: Container, account: str) -> Decimal:
    record = BillingQueries(container.engine).balance(ids.household_id(account))
    assert record is not None
    return record.balance_yuan


LAST_READING_AT = midnight(date(2026, 4, 1))
CORRECTION = UUID("00000000-0000-4000-8000-000000000042")


@pytest.fixture
def settled(billed: Container) -> Container:
    """A-1 and A-2 invoiced and settled; A-1's last reading corrected from 130.2 to 130.1 GJ."""
    run(billed, BillKind.PREPAYMENT)
    run(billed, BillKind.SETTLEMENT)
    corrected = values(LAST_READING_AT, "130.1")
    billed.ledger.correct_reading(CLERK, "M-1", LAST_READING_AT, corrected, "read off the display", CORRECTION)
    billed.catch_up()
    return billed


def test_an_upheld_dispute_books_a_credit_note_against_the_original_period(settled: Container) -> None:
    settlement = issued(settled, "A-1", BillKind.SETTLEMENT)
    dispute_id = open_bill_dispute(settled, "A-1", settlement, "4.39")
    disputes = settled.disputes
    disputes.record_site_visit(SERVICE, dispute_id, date(2026, 4, 16), "the display shows 130.1 GJ")
    snapshot = disputes.attach_recompute(SERVICE, dispute_id, settlement)
    assert (snapshot.issued_amount_yuan, snapshot.recomputed_amount_yuan) == (D("-35.02"), D("-39.41"))
    assert snapshot.difference_yuan == D("-4.39")
    assert [change.recomputed.code for change in snapshot.changes if change.recomputed] != []
    before = balance(settled, "A-1")
    payments = PaymentQueries(settled.engine)
    aging_before = payments.aging_totals(AFTER, "碧桂园").total_yuan
    open_before = open_yuan(settled, "A-1")

    report = disputes.resolve(SERVICE, dispute_id, "upheld", "the last reading was wrong")

    assert (report.state, report.note_amount_yuan, report.awaiting_approval) == ("resolved_upheld", D("-4.39"), False)
    period = settled.billing.period("A-1", SEASON)
    (note,) = period.issued(BillKind.ADJUSTMENT)
    assert (note.bill_id, note.number, note.amount_yuan) == (report.note_bill_id, report.note_number, D("-4.39"))
    assert note.number == "2025-2026-A-A-1-dispute:KF-1"
    source = next(line for line in note.lines if line.code == "adjustment_source")
    assert source.figures["adjusted_bill"] == snapshot.bill_number
    assert source.figures["tariff_version"] == "1"  # the period's own version, never today's
    justification = note.lines[1:-1]
    assert justification == snapshot.justification() and justification
    # Balances and the open charges follow the note.
    settled.catch_up()
    assert balance(settled, "A-1") == before - D("4.39")
    assert open_yuan(settled, "A-1") == open_before - D("4.39")  # the credit note settled part of a charge
    assert payments.aging_totals(AFTER, "碧桂园").total_yuan == aging_before - D("4.39")
    assert balance(settled, "A-2") == D("1246.09")
    household = settled.ledger.household("A-1")
    assert (household.open_disputes, household.disputed_yuan) == (0, D("0.00"))
    # The note, the dispute's resolution and the released hold were one save: the same command.
    events = settled.ledger.events
    resolved = list(events.get(dispute_id))[-1]
    closed = list(events.get(ids.household_id("A-1")))[-1]
    booked = list(events.get(ids.billing_period_id("A-1", SEASON.code)))[-1]
    assert isinstance(resolved, Dispute.Resolved) and isinstance(closed, Household.DisputeClosed)
    assert isinstance(booked, BillingPeriod.BillIssued)
    assert resolved.correlation_id == closed.correlation_id == booked.correlation_id


def test_a_resolution_is_idempotent_and_a_second_dispute_books_only_what_is_left(settled: Container) -> None:
    settlement = issued(settled, "A-1", BillKind.SETTLEMENT)
    disputes = settled.disputes
    first = open_bill_dispute(settled, "A-1", settlement, "4.39", "KF-1")
    again = disputes.open(
        SERVICE,
        "A-1",
        SubjectRequest(SubjectKind.BILL, bill_id=settlement),
        DisputeClaim(DisputeCategory.AREA_WRONG, "called again", D("4.39"), DisputeChannel.WECHAT),
        "KF-1",
    )
    assert (again.dispute_id, again.created) == (first, False)
    assert settled.ledger.household("A-1").open_disputes == 1  # held once
    with pytest.raises(ConflictError) as taken:
        open_bill_dispute(settled, "A-1", settlement, "10.00", "KF-1")
    assert taken.value.message_key == "dispute_reference_taken"

    disputes.attach_recompute(SERVICE, first, settlement)
    disputes.resolve(SERVICE, first, "partly", "agreed on part of it", D("-3.00"))
    with pytest.raises(ConflictError) as twice:
        disputes.resolve(SERVICE, first, "upheld", "once more")
    assert twice.value.message_key == "dispute_state_conflict"

    second = open_bill_dispute(settled, "A-1", settlement, "1.39", "KF-2")
    disputes.attach_recompute(SERVICE, second, settlement)
    with pytest.raises(InvalidInputError) as too_much:
        disputes.resolve(SERVICE, second, "partly", "more than is left", D("-1.40"))
    assert too_much.value.message_key == "dispute_part_exceeds_difference"
    report = disputes.resolve(SERVICE, second, "upheld", "the rest of the area difference")
    assert report.note_amount_yuan == D("-1.39")

    third = open_bill_dispute(settled, "A-1", settlement, "10.00", "KF-3")
    disputes.attach_recompute(SERVICE, third, settlement)
    nothing = disputes.resolve(SERVICE, third, "upheld", "booked in full already")
    assert (nothing.note_amount_yuan, nothing.note_bill_id) == (D("0.00"), None)
    notes = settled.billing.period("A-1", SEASON).issued(BillKind.ADJUSTMENT)
    assert sorted(note.amount_yuan for note in notes) == [D("-3.00"), D("-1.39")]


def test_a_note_above_the_threshold_needs_a_second_person(settled: Container) -> None:
    disputes = Disputes(
        settled.ledger,
        SqlDisputeLookups(settled.engine),
        DisputeRecomputes(settled.ledger, settled.engine),
        approval_threshold_yuan=D("4.00"),
    )
    settlement = issued(settled, "A-1", BillKind.SETTLEMENT)
    dispute_id = open_bill_dispute(settled, "A-1", settlement, "4.39")
    disputes.attach_recompute(SERVICE, dispute_id, settlement)

    proposed = disputes.resolve(SERVICE, dispute_id, "upheld", "the last reading was wrong")

    assert (proposed.state, proposed.note_amount_yuan, proposed.awaiting_approval) == (
        "resolution_proposed",
        D("-4.39"),
        True,
    )
    assert settled.billing.period("A-1", SEASON).issued(BillKind.ADJUSTMENT) == []
    assert settled.ledger.household("A-1").disputed_yuan == D("4.39")  # still held
    with pytest.raises(PermissionDeniedError) as proposer:
        disputes.approve(SERVICE, dispute_id, "looks right")
    assert proposer.value.params["permission"] == "approve_refunds"
    with pytest.raises(PermissionDeniedError):
        disputes.approve(SERVICE_ZHAO, dispute_id, "customer service may not approve money")
    admin_proposer = Principal("service-chen", Role.ADMIN)  # the same person, whatever the role
    with pytest.raises(PermissionDeniedError) as same_person:
        disputes.approve(admin_proposer, dispute_id, "approving my own")
    assert same_person.value.message_key == "second_person_required"
    with pytest.raises(ConflictError):
        disputes.record_site_visit(SERVICE, dispute_id, AFTER, "no steps while a proposal awaits")

    refused = disputes.refuse(CLERK, dispute_id, "measure the area again first")
    assert (refused.state, refused.awaiting_approval) == ("investigating", False)
    disputes.record_site_visit(SERVICE, dispute_id, AFTER, "read the display again: 130.1 GJ")
    disputes.resolve(SERVICE, dispute_id, "upheld", "the last reading was wrong")
    approved = disputes.approve(CLERK, dispute_id, "checked the survey")

    assert (approved.state, approved.note_amount_yuan) == ("resolved_upheld", D("-4.39"))
    (note,) = settled.billing.period("A-1", SEASON).issued(BillKind.ADJUSTMENT)
    assert note.amount_yuan == D("-4.39")
    dispute = disputes.dispute(dispute_id)
    assert (dispute.approved_by, dispute.proposed_by, dispute.note_number) == ("clerk-li", "service-chen", note.number)
    assert settled.ledger.household("A-1").open_disputes == 0


def test_upholding_needs_a_recompute_and_a_rejection_or_withdrawal_books_nothing(settled: Container) -> None:
    disputes = settled.disputes
    settlement = issued(settled, "A-1", BillKind.SETTLEMENT)
    dispute_id = open_bill_dispute(settled, "A-1", settlement, "100.00", "KF-1")
    with pytest.raises(ConflictError) as no_recompute:
        disputes.resolve(SERVICE, dispute_id, "upheld", "it is too high")
    assert no_recompute.value.message_key == "dispute_recompute_required"
    rejected = disputes.resolve(SERVICE, dispute_id, "rejected", "the meter was verified: within its class")
    assert rejected.state == "rejected"
    withdrawn_id = open_bill_dispute(settled, "A-1", settlement, "100.00", "KF-2")
    assert disputes.withdraw(SERVICE, withdrawn_id, "the household understood the bill").state == "withdrawn"
    with pytest.raises(ConflictError):
        disputes.withdraw(SERVICE, withdrawn_id, "twice")
    assert settled.billing.period("A-1", SEASON).issued(BillKind.ADJUSTMENT) == []
    assert settled.ledger.household("A-1").open_disputes == 0
    # A payment not credited is upheld without a recompute and books nothing (the payment is
    # recorded at the counter).
    claim = DisputeClaim(DisputeCategory.PAYMENT_NOT_CREDITED, "paid by bank", D("1944.00"), DisputeChannel.COUNTER)
    paid = disputes.open(SERVICE, "A-2", SubjectRequest(SubjectKind.PAYMENT, payment_reference="BANK-778"), claim)
    report = disputes.resolve(SERVICE, paid.dispute_id, "upheld", "found the transfer; recorded it")
    assert (report.state, report.note_bill_id) == ("resolved_upheld", None)


def test_who_may_do_what(settled: Container) -> None:
    settlement = issued(settled, "A-1", BillKind.SETTLEMENT)
    with pytest.raises(PermissionDeniedError):
        open_bill_dispute(settled, "A-1", settlement, "10.00", principal=AUDITOR)
    dispute_id = open_bill_dispute(settled, "A-1", settlement, "10.00", principal=CLERK)
    with pytest.raises(PermissionDeniedError):
        settled.disputes.withdraw(AUDITOR, dispute_id, "not theirs to do")
    with pytest.raises(NotFoundError):
        settled.disputes.withdraw(SERVICE, ids.dispute_id("A-1", "NOPE"), "no such dispute")


def test_the_subject_must_be_the_households(settled: Container) -> None:
    other = issued(settled, "A-2", BillKind.SETTLEMENT)
    with pytest.raises(InvalidInputError) as not_theirs:
        open_bill_dispute(settled, "A-1", other, "10.00")
    assert not_theirs.value.message_key == "dispute_bill_other_household"
    claim = DisputeClaim(DisputeCategory.READING_WRONG, "too high", D("20.00"), DisputeChannel.PHONE)
    reading = SubjectRequest(SubjectKind.READING, meter_serial="M-2", measured_at=datetime(2026, 1, 1, tzinfo=UTC))
    with pytest.raises(InvalidInputError) as meter:
        settled.disputes.open(SERVICE, "A-1", reading, claim)
    assert meter.value.message_key == "dispute_meter_other_household"
    own = SubjectRequest(SubjectKind.READING, meter_serial="M-1", measured_at=datetime(2026, 1, 1, tzinfo=UTC))
    opened = settled.disputes.open(SERVICE, "A-1", own, claim)
    assert settled.disputes.dispute(opened.dispute_id).subject.season_code == "2025-2026"
    with pytest.raises(NotFoundError):
        open_bill_dispute(settled, "NOPE", other, "10.00")


def test_a_verification_is_recorded_through_the_dispute_or_linked(settled: Container) -> None:
    settlement = issued(settled, "A-1", BillKind.SETTLEMENT)
    dispute_id = open_bill_dispute(settled, "A-1", settlement, "50.00", category=DisputeCategory.METER_FAULTY)
    disputes = settled.disputes
    disputes.request_verification(SERVICE, dispute_id, "M-1")
    points = [TestPoint(D("0.25"), D(20), D("1.10")), TestPoint(D("2.5"), D(40), D("-7.00"))]
    result = disputes.record_verification_result(SERVICE, dispute_id, "M-1", date(2026, 4, 20), "JD-42", points)
    assert not result.passed and result.worst_point.measured_error_percent == D("-7.00")
    meter_events = list(settled.ledger.events.get(ids.meter_id("M-1")))
    recorded = [event for event in meter_events if type(event).__name__ == "VerificationRecorded"]
    assert [(event.originator_version, event.passed) for event in recorded] == [(result.meter_version, False)]
    # The same verification linked from another dispute, as the meter recorded it.
    other = open_bill_dispute(settled, "A-1", settlement, "20.00", "KF-2", DisputeCategory.METER_FAULTY)
    linked = disputes.record_verification_result(SERVICE, other, "M-1", date(2026, 4, 20), "JD-42")
    assert (linked.meter_version, linked.passed, linked.points) == (result.meter_version, False, result.points)
    with pytest.raises(NotFoundError):
        disputes.record_verification_result(SERVICE, other, "M-1", date(2026, 4, 21), "JD-43")


def test_a_reading_correction_is_linked_by_its_command(settled: Container) -> None:
    measured_at = test_billing_runs.midnight(date(2026, 1, 1))
    claim = DisputeClaim(DisputeCategory.READING_WRONG, "the reading jumped", D("30.00"), DisputeChannel.WECHAT)
    subject = SubjectRequest(SubjectKind.READING, meter_serial="M-1", measured_at=measured_at)
    dispute_id = settled.disputes.open(SERVICE, "A-1", subject, claim).dispute_id
    wrong = UUID(int=7)
    with pytest.raises(NotFoundError):
        settled.disputes.link_reading_correction(SERVICE, dispute_id, "M-1", measured_at, wrong)
    correction = UUID(int=8)
    settled.ledger.void_reading(CLERK, "M-1", measured_at, "read twice", correction)
    settled.catch_up()
    settled.disputes.link_reading_correction(SERVICE, dispute_id, "M-1", measured_at, correction)
    steps = DisputeQueries(settled.engine).steps(dispute_id)
    assert [step.kind for step in steps] == ["opened", "reading_corrected"]
    assert steps[1].details["correction_correlation_id"] == str(correction)


def test_the_read_models_list_and_show_disputes(settled: Container) -> None:
    settlement = issued(settled, "A-1", BillKind.SETTLEMENT)
    prepayment = issued(settled, "A-2", BillKind.PREPAYMENT)
    disputes = settled.disputes
    area = open_bill_dispute(settled, "A-1", settlement, "4.39", "KF-1")
    heating = disputes.open(
        SERVICE,
        "A-2",
        SubjectRequest(SubjectKind.BILL, bill_id=prepayment),
        DisputeClaim(DisputeCategory.POOR_HEATING, "the flat is at 14 °C", D(0), DisputeChannel.WECHAT),
    ).dispute_id
    disputes.inform_household(SERVICE, area, "we will measure the flat on Thursday", DisputeChannel.PHONE)
    disputes.attach_recompute(SERVICE, area, settlement)
    disputes.resolve(SERVICE, area, "upheld", "the reading was wrong")
    settled.catch_up()
    queries = DisputeQueries(settled.engine)
    today = AFTER

    record = queries.dispute(area)
    assert record is not None
    assert (record.state, record.category, record.disputed_amount_yuan, record.note_amount_yuan) == (
        "resolved_upheld",
        "area_wrong",
        D("4.39"),
        D("-4.39"),
    )
    assert record.first_response_at is not None and record.first_response_at >= record.opened_at
    assert record.closed_at is not None and record.closed_at >= record.first_response_at
    assert (record.recompute_difference_yuan, record.days_open) == (D("-4.39"), 0)
    kinds = [step.kind for step in queries.steps(area)]
    assert kinds == ["opened", "household_informed", "recompute_attached", "resolved"]

    def listed(**criteria: object) -> list[UUID]:
        page = queries.disputes(DisputeFilter(**criteria), today)  # type: ignore[arg-type]
        assert page.total == len(page.items)
        return [item.dispute_id for item in page.items]

    assert listed() == [area, heating]
    assert listed(open_only=True) == [heating]
    assert listed(state="resolved_upheld") == [area]
    assert listed(category="poor_heating") == [heating]
    assert listed(community="碧桂园") == [area, heating]
    assert listed(community="阅水秦韵") == []
    assert listed(household_id=ids.household_id("A-2")) == [heating]
    assert listed(minimum_age_days=0, maximum_age_days=0) == [area, heating]
    assert listed(minimum_age_days=1) == []
    later = date(2026, 5, 15)
    assert [r.dispute_id for r in queries.disputes(DisputeFilter(minimum_age_days=30), later).items] == [heating]
    assert queries.hold_of(ids.household_id("A-2")).disputed_yuan == D("0.00")
    assert queries.hold_of(ids.household_id("A-2")).open_disputes == 1


def test_rebuilt_dispute_read_models_equal_the_live_ones(settled: Container) -> None:
    settlement = issued(settled, "A-1", BillKind.SETTLEMENT)
    first = open_bill_dispute(settled, "A-1", settlement, "4.39", "KF-1")
    open_bill_dispute(settled, "A-1", settlement, "12.00", "KF-2")
    settled.disputes.attach_recompute(SERVICE, first, settlement)
    settled.disputes.resolve(SERVICE, first, "partly", "part", D("-2.00"))
    settled.catch_up()

    def rows() -> dict[str, list[tuple[object, ...]]]:
        with settled.engine.connect() as connection:
            return {
                table.name: sorted((tuple(row) for row in connection.execute(select(table))), key=repr)
                for table in DISPUTE_TABLES
            }

    live = rows()
    assert len(live["disputes"]) == 2 and len(live["household_disputed_amounts"]) == 1
    settled.runner.rebuild()
    assert rows() == live


# -- properties ------------------------------------------------------------------------------------

RESOLUTIONS = st.sampled_from(["upheld", "partly", "rejected", "withdrawn"])
PLANS = st.lists(
    st.tuples(st.sampled_from(["A-1", "A-2"]), RESOLUTIONS, st.integers(min_value=1, max_value=100)),
    min_size=1,
    max_size=4,
)


@pytest.fixture
def both_corrected(settled: Container) -> Container:
    """Besides A-1's credit of 4.39, A-2's last reading (115.1 GJ) was read 1 GJ too low: its
    settlement recomputed charges 43.90 元 more (a debit)."""
    corrected = values(LAST_READING_AT, "116.1")
    settled.ledger.correct_reading(CLERK, "M-2", LAST_READING_AT, corrected, "read off the display")
    settled.catch_up()
    return settled


@settings(max_examples=8)
@given(plans=PLANS)
def test_money_is_conserved_the_balance_moves_by_exactly_the_notes_booked(
    both_corrected: Container, plans: list[tuple[str, str, int]]
) -> None:
    container = both_corrected
    recomputes = DisputeRecomputes(container.ledger, container.engine)
    cache: dict[UUID, RecomputeSnapshot] = {}

    def recompute(bill_id: UUID) -> RecomputeSnapshot:
        # Only dispute events and notes are recorded between examples: neither moves a bill.
        if bill_id not in cache:
            cache[bill_id] = recomputes(bill_id)
        return cache[bill_id]

    disputes = Disputes(container.ledger, SqlDisputeLookups(container.engine), recompute, D("20.00"))
    for account, resolution, percent in plans:
        settlement = issued(container, account, BillKind.SETTLEMENT)
        before = balance(container, account)
        dispute_id = open_bill_dispute(container, account, settlement, "50.00", f"P-{uuid4().hex[:12]}")
        snapshot = disputes.attach_recompute(SERVICE, dispute_id, settlement)
        period = container.billing.period(account, SEASON)
        left = snapshot.difference_yuan - dispute_notes_booked_yuan(period, snapshot.bill_number, "")
        booked = resolve(disputes, dispute_id, resolution, (left * percent / 100).quantize(D("0.01")))
        container.catch_up()
        assert balance(container, account) - before == booked
        assert container.ledger.household(account).open_disputes == 0
        period = container.billing.period(account, SEASON)
        noted = dispute_notes_booked_yuan(period, snapshot.bill_number, "")
        # Never more than the recompute's difference, and of its sign.
        assert abs(noted) <= abs(snapshot.difference_yuan) and noted * snapshot.difference_yuan >= 0
    total_notes = sum(
        (
            bill.amount_yuan
            for a in ("A-1", "A-2")
            for bill in container.billing.period(a, SEASON).issued(BillKind.ADJUSTMENT)
        ),
        D(0),
    )
    assert balance(container, "A-1") + balance(container, "A-2") == D("1908.98") + D("1246.09") + total_notes


def resolve(disputes: Disputes, dispute_id: UUID, resolution: str, part_yuan: Decimal) -> Decimal:
    """Resolve as planned (a second person approves a proposal); the amount booked."""
    if resolution == "withdrawn":
        disputes.withdraw(SERVICE, dispute_id, "withdrawn")
        return D(0)
    if resolution == "partly" and part_yuan == 0:
        resolution = "rejected"  # nothing left to uphold in part
    amount = part_yuan if resolution == "partly" else None
    report = disputes.resolve(SERVICE, dispute_id, resolution, "decided", amount)
    if report.awaiting_approval:
        report = disputes.approve(CLERK, dispute_id, "checked")
    return report.note_amount_yuan if report.note_bill_id is not None else D(0)


def test_the_migration_creates_the_dispute_tables_as_declared(container: Container) -> None:
    names = {table.name for table in DISPUTE_TABLES}
    with container.engine.connect() as connection:
        differences = compare_metadata(MigrationContext.configure(connection), metadata)

    def concerns_disputes(difference: Any) -> bool:
        flat = difference if isinstance(difference, tuple) else difference[0]
        return any(
            getattr(part, "name", part) in names or getattr(getattr(part, "table", None), "name", None) in names
            for part in flat
        )

    assert [difference for difference in differences if concerns_disputes(difference)] == []


def test_an_estimate_replaced_by_a_real_reading_is_linked(container: Container) -> None:
    from tests.integration.test_estimation import COLD_DAYS, REFERENCE_DAYS, build_building
    from tests.integration.test_estimation import midnight as day_start

    build_building(container)
    container.estimator.run(SYSTEM, day_start(REFERENCE_DAYS + COLD_DAYS) + timedelta(hours=1))
    estimated_at = day_start(17)
    claim = DisputeClaim(DisputeCategory.READING_WRONG, "estimated while away", D("12.00"), DisputeChannel.PHONE)
    subject = SubjectRequest(SubjectKind.READING, meter_serial="M-1", measured_at=estimated_at)
    dispute_id = container.disputes.open(SERVICE, "WZ-1", subject, claim).dispute_id
    with pytest.raises(NotFoundError):  # not replaced yet
        container.disputes.link_estimate_replacement(SERVICE, dispute_id, "M-1", estimated_at)
    batch = UUID("00000000-0000-4000-8000-000000000019")
    container.ledger.record_readings(SYSTEM, [item("M-1", day_start(19), "108.400")], batch_id=batch)
    container.catch_up()

    replaced_by = container.disputes.link_estimate_replacement(SERVICE, dispute_id, "M-1", estimated_at)

    assert replaced_by == batch
    [step] = [s for s in DisputeQueries(container.engine).steps(dispute_id) if s.kind == "estimate_replaced"]
    assert step.details["replacement_correlation_id"] == str(batch)
    with pytest.raises(NotFoundError):  # another command did not replace it
        container.disputes.link_estimate_replacement(SERVICE, dispute_id, "M-1", estimated_at, UUID(int=5))
