"""The Dispute aggregate: what opens one, the investigation's states and first response, the note a
resolution books (in full, in part, what earlier disputes booked, the second person's threshold),
the second person's rule, and replay."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal
from uuid import UUID, uuid4

import pytest
from hypothesis import given
from hypothesis import strategies as st

from domain import ids
from domain.billing import BillKind
from domain.billing_period import BillingPeriod
from domain.dispute import (
    Dispute,
    DisputeCategory,
    DisputeChannel,
    DisputeClaim,
    DisputedHousehold,
    DisputeState,
    DisputeSubject,
    LineChange,
    RecomputeSnapshot,
    ResolutionOutcome,
    SubjectKind,
    VerificationResult,
    dispute_notes_booked_yuan,
)
from domain.errors import ConflictError, InvalidInputError, PermissionDeniedError
from domain.settlement import BillLine
from domain.verification import JudgedPoint
from tests.strategies import context, memory_ledger
from tests.unit.domain.test_billing_period import ACCOUNT, SEASON, open_period, whole_season

D = Decimal
TODAY = date(2026, 4, 16)
HOUSEHOLD = DisputedHousehold(ids.household_id(ACCOUNT), ACCOUNT, "碧桂园", "3")
NO_THRESHOLD = D("1000000")


def settled_period() -> BillingPeriod:
    period = open_period()
    period.invoice_prepayment(False, SEASON.first_day, context())
    period.settle(whole_season("30", period.prepaid_yuan), date(2026, 4, 10), context())
    return period


def settlement_of(period: BillingPeriod) -> tuple[UUID, str]:
    (bill,) = period.issued(BillKind.SETTLEMENT)
    return bill.bill_id, bill.number


def new_dispute(
    amount: str = "120.00",
    category: DisputeCategory = DisputeCategory.READING_WRONG,
    reference: str = "KF-1",
    subject: DisputeSubject | None = None,
) -> Dispute:
    claim = DisputeClaim(category, "the reading is too high", D(amount), DisputeChannel.PHONE)
    chosen = subject or DisputeSubject(SubjectKind.BILL, SEASON.code, uuid4(), "2025-2026-S-x")
    return Dispute.open(reference, HOUSEHOLD, chosen, claim, date(2026, 4, 15), context("service-chen"))


def recompute(period: BillingPeriod, difference: str) -> RecomputeSnapshot:
    bill_id, number = settlement_of(period)
    (bill,) = period.issued(BillKind.SETTLEMENT)
    issued_line = BillLine("energy_part", D("1317.00"), {"energy_gj": "30"})
    recomputed_line = BillLine("energy_part", D("1317.00") + D(difference), {"energy_gj": "29.9"})
    return RecomputeSnapshot(
        bill_id,
        number,
        BillKind.SETTLEMENT.value,
        SEASON.code,
        ACCOUNT,
        bill.amount_yuan,
        bill.amount_yuan + D(difference),
        (LineChange(3, issued_line, recomputed_line),),
        (uuid4(),),
    )


# -- opening ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("amount", "category", "reference", "message_key"),
    [
        ("0", DisputeCategory.READING_WRONG, "KF-1", "disputed_amount_required"),
        ("-1.00", DisputeCategory.AREA_WRONG, "KF-1", "disputed_amount_out_of_range"),
        ("1000000.01", DisputeCategory.AREA_WRONG, "KF-1", "disputed_amount_out_of_range"),
        ("1.005", DisputeCategory.AREA_WRONG, "KF-1", "amount_too_precise"),
        ("1.00", DisputeCategory.AREA_WRONG, "KF 1", "dispute_reference_invalid"),
        ("1.00", DisputeCategory.AREA_WRONG, "K" * 25, "dispute_reference_invalid"),
        ("1.00", DisputeCategory.AREA_WRONG, "-KF", "dispute_reference_invalid"),
    ],
)
def test_an_opening_that_breaks_a_rule_is_refused(
    amount: str, category: DisputeCategory, reference: str, message_key: str
) -> None:
    with pytest.raises(InvalidInputError) as refused:
        new_dispute(amount, category, reference)
    assert refused.value.message_key == message_key


def test_poor_heating_disputes_no_amount_and_a_dispute_opens_open() -> None:
    dispute = new_dispute("0", DisputeCategory.POOR_HEATING)
    assert (dispute.state, dispute.disputed_amount_yuan, dispute.first_response_at) == (
        DisputeState.OPEN,
        D("0.00"),
        None,
    )
    assert dispute.id == ids.dispute_id(ACCOUNT, "KF-1") and dispute.is_open
    assert dispute.note_label == "dispute:KF-1" and len(f"dispute:{'K' * 24}") <= 32  # a bill label's width


# -- investigation ---------------------------------------------------------------------------------


def test_the_first_step_is_the_first_response_and_later_steps_keep_it() -> None:
    dispute = new_dispute()
    dispute.request_verification("HM-1", context())
    first = dispute.first_response_at
    assert first is not None and dispute.state is DisputeState.INVESTIGATING
    dispute.record_site_visit(TODAY, "fitter-ma", "the display shows 129.9 GJ", context())
    dispute.inform_household("we read the meter on Thursday", DisputeChannel.WECHAT, context())
    assert dispute.first_response_at == first and dispute.last_step_at is not None
    assert dispute.last_step_at >= first and dispute.steps == 3


def test_a_note_to_the_household_is_a_first_response_too() -> None:
    dispute = new_dispute()
    dispute.inform_household("received, we call back tomorrow", DisputeChannel.PHONE, context())
    assert dispute.first_response_at is not None and dispute.state is DisputeState.INVESTIGATING


def test_a_verification_result_is_linked_to_the_meters_recorded_verification() -> None:
    dispute = new_dispute(category=DisputeCategory.METER_FAULTY)
    points = (
        JudgedPoint(D("0.25"), D(20), D("1.10"), D("4.20"), True),
        JudgedPoint(D("2.5"), D(40), D("-5.00"), D("2.58"), False),
    )
    result = VerificationResult("HM-1", TODAY, "JD-42", False, points, 17)
    dispute.record_verification_result(result, context())
    assert dispute.verification == result and result.worst_point == points[1]
    with pytest.raises(InvalidInputError) as unlinked:
        dispute.record_verification_result(VerificationResult("HM-1", TODAY, "JD-43", True, points, 0), context())
    assert unlinked.value.message_key == "dispute_verification_unlinked"


def test_a_recompute_of_another_households_bill_is_refused() -> None:
    period = settled_period()
    snapshot = recompute(period, "-4.39")
    other = RecomputeSnapshot(**{**vars(snapshot), "account_number": "WZ-0002"})
    with pytest.raises(InvalidInputError) as refused:
        new_dispute().attach_recompute(other, context())
    assert refused.value.message_key == "dispute_bill_other_household"


# -- resolution ------------------------------------------------------------------------------------


def test_upheld_in_full_books_the_difference_as_a_credit_note_in_the_period() -> None:
    period = settled_period()
    dispute = new_dispute()
    snapshot = recompute(period, "-4.39")
    dispute.attach_recompute(snapshot, context())
    decision = dispute.decide(ResolutionOutcome.UPHELD, None, D(0), D("500.00"))
    assert (decision.amount_yuan, decision.needs_second_person) == (D("-4.39"), False)

    note = dispute.resolve(decision, period, TODAY, context("service-chen", "the reading was wrong"))

    assert note is not None and period.issued(BillKind.ADJUSTMENT) == [note]
    assert (note.amount_yuan, note.issued_on, note.label) == (D("-4.39"), TODAY, "dispute:KF-1")
    assert note.lines[1:-1] == snapshot.justification()
    assert note.lines[1].figures["issued_amount_yuan"] == "1317.00"
    assert note.lines[0].figures["adjusted_bill"] == snapshot.bill_number
    assert (dispute.state, dispute.note_bill_id, dispute.note_number, dispute.closed_on) == (
        DisputeState.RESOLVED_UPHELD,
        note.bill_id,
        note.number,
        TODAY,
    )
    assert not dispute.is_open and dispute.days_open(date(2026, 5, 1)) == 1


def test_in_part_takes_an_amount_of_the_same_sign_and_no_larger() -> None:
    period = settled_period()
    dispute = new_dispute()
    dispute.attach_recompute(recompute(period, "-40.00"), context())
    for amount, message_key in (
        (None, "dispute_part_amount_required"),
        (D("10.00"), "dispute_part_exceeds_difference"),
        (D("-40.01"), "dispute_part_exceeds_difference"),
        (D("0"), "adjustment_amount_invalid"),
        (D("-1.001"), "adjustment_amount_invalid"),
    ):
        with pytest.raises(InvalidInputError) as refused:
            dispute.decide(ResolutionOutcome.PARTLY, amount, D(0), NO_THRESHOLD)
        assert refused.value.message_key == message_key, amount
    with pytest.raises(InvalidInputError) as in_full:
        dispute.decide(ResolutionOutcome.UPHELD, D("-1.00"), D(0), NO_THRESHOLD)
    assert in_full.value.message_key == "dispute_amount_only_in_part"
    decision = dispute.decide(ResolutionOutcome.PARTLY, D("-40.00"), D(0), NO_THRESHOLD)
    dispute.resolve(decision, period, TODAY, context())
    assert dispute.state is DisputeState.RESOLVED_PARTLY and dispute.note_amount_yuan == D("-40.00")


def test_a_second_dispute_about_the_same_bill_books_only_what_is_left() -> None:
    period = settled_period()
    first, second = new_dispute(reference="KF-1"), new_dispute(reference="KF-2")
    for dispute in (first, second):
        dispute.attach_recompute(recompute(period, "-40.00"), context())
    first.resolve(first.decide(ResolutionOutcome.PARTLY, D("-15.00"), D(0), NO_THRESHOLD), period, TODAY, context())
    _, number = settlement_of(period)
    booked = dispute_notes_booked_yuan(period, number, second.note_label)
    assert booked == D("-15.00")
    assert second.decide(ResolutionOutcome.UPHELD, None, booked, NO_THRESHOLD).amount_yuan == D("-25.00")


def test_upholding_needs_a_recompute_except_where_the_fix_is_made_elsewhere() -> None:
    with pytest.raises(ConflictError) as refused:
        new_dispute().decide(ResolutionOutcome.UPHELD, None, D(0), NO_THRESHOLD)
    assert refused.value.message_key == "dispute_recompute_required"
    payment = new_dispute("1944.00", DisputeCategory.PAYMENT_NOT_CREDITED)
    decision = payment.decide(ResolutionOutcome.UPHELD, None, D(0), NO_THRESHOLD)
    assert payment.resolve(decision, None, TODAY, context()) is None
    assert (payment.state, payment.note_bill_id) == (DisputeState.RESOLVED_UPHELD, None)
    with pytest.raises(ConflictError):
        new_dispute("0", DisputeCategory.POOR_HEATING).decide(ResolutionOutcome.PARTLY, D("-5"), D(0), NO_THRESHOLD)


@given(st.integers(min_value=1, max_value=100_000), st.integers(min_value=0, max_value=100_000))
def test_a_second_person_is_needed_exactly_above_the_threshold(difference_fen: int, threshold_fen: int) -> None:
    period = settled_period()
    dispute = new_dispute()
    dispute.attach_recompute(recompute(period, str(-D(difference_fen) / 100)), context())
    decision = dispute.decide(ResolutionOutcome.UPHELD, None, D(0), D(threshold_fen) / 100)
    assert decision.needs_second_person == (difference_fen > threshold_fen)


def test_a_proposal_is_approved_or_refused_by_a_second_person_only() -> None:
    period = settled_period()
    dispute = new_dispute()
    dispute.attach_recompute(recompute(period, "-600.00"), context())
    decision = dispute.decide(ResolutionOutcome.UPHELD, None, D(0), D("500.00"))
    with pytest.raises(ConflictError) as needs:
        dispute.resolve(decision, period, TODAY, context())
    assert needs.value.message_key == "dispute_needs_second_person"
    dispute.propose(decision, context("service-chen"))
    assert dispute.state is DisputeState.RESOLUTION_PROPOSED and period.issued(BillKind.ADJUSTMENT) == []
    for command in (
        lambda: dispute.request_verification("HM-1", context()),
        lambda: dispute.reject(TODAY, context()),
        lambda: dispute.propose(decision, context()),
    ):
        with pytest.raises(ConflictError):
            command()
    for command in (
        lambda: dispute.approve(period, TODAY, context("service-chen")),
        lambda: dispute.refuse(context("service-chen")),
    ):
        with pytest.raises(PermissionDeniedError) as same:
            command()
        assert same.value.message_key == "second_person_required"
    dispute.refuse(context("clerk-li", "measure again"))
    assert (dispute.state, dispute.proposal) == (DisputeState.INVESTIGATING, None)
    dispute.propose(decision, context("service-chen"))
    note = dispute.approve(period, TODAY, context("clerk-li"))
    assert note is not None and note.amount_yuan == D("-600.00")
    assert (dispute.state, dispute.approved_by) == (DisputeState.RESOLVED_UPHELD, "clerk-li")


def test_an_approval_is_refused_when_another_dispute_booked_the_difference_meanwhile() -> None:
    period = settled_period()
    big, small = new_dispute(reference="KF-1"), new_dispute(reference="KF-2")
    for dispute in (big, small):
        dispute.attach_recompute(recompute(period, "-600.00"), context())
    big.propose(big.decide(ResolutionOutcome.UPHELD, None, D(0), D("500.00")), context("service-chen"))
    small.resolve(small.decide(ResolutionOutcome.PARTLY, D("-100.00"), D(0), D("500.00")), period, TODAY, context())
    with pytest.raises(ConflictError) as meanwhile:
        big.approve(period, TODAY, context("clerk-li"))
    assert meanwhile.value.message_key == "dispute_difference_booked_meanwhile"
    assert [bill.amount_yuan for bill in period.issued(BillKind.ADJUSTMENT)] == [D("-100.00")]


def test_closed_disputes_take_no_more_steps() -> None:
    rejected, withdrawn = new_dispute(reference="KF-1"), new_dispute(reference="KF-2")
    rejected.reject(TODAY, context("service-chen", "the meter passed its verification"))
    withdrawn.withdraw(TODAY, context("service-chen", "the household agrees"))
    assert (rejected.state, withdrawn.state) == (DisputeState.REJECTED, DisputeState.WITHDRAWN)
    assert rejected.first_response_at is not None and withdrawn.first_response_at is None
    assert rejected.closing_reason == "the meter passed its verification"
    for dispute in (rejected, withdrawn):
        with pytest.raises(ConflictError) as closed:
            dispute.inform_household("too late", DisputeChannel.PHONE, context())
        assert closed.value.message_key == "dispute_state_conflict"
        with pytest.raises(ConflictError):
            dispute.withdraw(TODAY, context())


def test_a_dispute_replays_from_its_events() -> None:
    period = settled_period()
    measured_at = datetime(2026, 3, 31, 16, tzinfo=UTC)
    dispute = new_dispute(
        subject=DisputeSubject(SubjectKind.READING, SEASON.code, meter_serial="HM-1", measured_at=measured_at)
    )
    dispute.link_reading_correction("HM-1", measured_at, uuid4(), context())
    dispute.link_estimate_replacement("HM-1", measured_at, uuid4(), context())
    dispute.attach_recompute(recompute(period, "-4.39"), context())
    dispute.resolve(dispute.decide(ResolutionOutcome.UPHELD, None, D(0), NO_THRESHOLD), period, TODAY, context())
    replayed = None
    for domain_event in dispute.collect_events():
        replayed = domain_event.mutate(replayed)
    assert isinstance(replayed, Dispute)
    for name in (
        "state",
        "subject",
        "recompute",
        "first_response_at",
        "closed_at",
        "closed_on",
        "note_number",
        "steps",
    ):
        assert getattr(replayed, name) == getattr(dispute, name), name


def test_every_dispute_event_comes_back_from_the_store_as_it_went_in() -> None:
    period = settled_period()
    dispute = new_dispute(category=DisputeCategory.METER_FAULTY)
    points = (JudgedPoint(D("0.25"), D(20), D("1.10"), D("4.20"), True),)
    dispute.request_verification("HM-1", context())
    dispute.record_verification_result(VerificationResult("HM-1", TODAY, "JD-42", True, points, 17), context())
    dispute.record_site_visit(TODAY, "", "the valve was half closed", context())
    dispute.inform_household("please open the valve", DisputeChannel.WECHAT, context())
    dispute.attach_recompute(recompute(period, "-600.00"), context())
    dispute.propose(dispute.decide(ResolutionOutcome.UPHELD, None, D(0), D("500.00")), context("service-chen"))
    dispute.refuse(context("clerk-li", "not yet"))
    dispute.propose(dispute.decide(ResolutionOutcome.PARTLY, D("-550.00"), D(0), D("500.00")), context("service-chen"))
    dispute.approve(period, TODAY, context("clerk-li"))
    written = list(dispute.pending_events)
    ledger = memory_ledger()
    ledger.save(dispute, period)
    read = list(ledger.events.get(dispute.id))
    assert [type(event) for event in read] == [type(event) for event in written]
    for before, after in zip(written, read, strict=True):
        assert after == before, type(before).__qualname__
    stored = ledger.repository.get(dispute.id)
    assert (stored.state, stored.verification, stored.note_amount_yuan) == (
        DisputeState.RESOLVED_PARTLY,
        dispute.verification,
        D("-550.00"),
    )
