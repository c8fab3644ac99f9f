"""The BillingPeriod aggregate: one household's season of bills, each issued once, and the same
after a replay (domain.md §6). Prices as in test_billing: a 100 m² flat at 21.6 元/m² is 2160.00."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal
from typing import Any

import pytest
from eventsourcing.persistence import DatetimeAsISO, DecimalAsStr, JSONTranscoder, Mapper, UUIDAsHex
from hypothesis import given
from hypothesis import strategies as st

from application.transcodings import register_ledger_transcodings
from domain import ids
from domain.billing import BillKind, MeterEvidence, MonthInputs, SegmentInputs, SettlementInputs
from domain.billing_period import BillingPeriod, IssuedBill, bill_number
from domain.errors import ConflictError, InvalidInputError
from domain.season import Season
from domain.settlement import SettlementPolicy, TwoPartPrice
from domain.tariff import Tariff, TariffTerms, TariffVersion
from domain.values import CustomerClass
from tests.strategies import context

D = Decimal
SEASON = Season.default_starting(2025)  # 1 Nov 2025 – 31 Mar 2026, 151 days
ACCOUNT = "0101"
COMMUNITY = "碧桂园"
AFTER_SEASON = date(2026, 4, 1)
HOUSEHOLD = ids.household_id(ACCOUNT)
TERMS = TariffTerms(
    TwoPartPrice(
        area_price_yuan_per_m2=D("21.6"),
        base_share_percent=D(30),
        energy_price_yuan_per_gj=D("43.9"),
        policy=SettlementPolicy.BOTH_WAYS,
        suspension_share_percent=D(20),
    )
)


def published(
    effective_from: date = SEASON.first_day, effective_until: date | None = None
) -> tuple[Tariff, TariffVersion]:
    tariff = Tariff.open(CustomerClass.RESIDENTIAL, COMMUNITY, context())
    number = tariff.publish(TERMS, effective_from, effective_until, "宁价〔2025〕1号", date(2025, 10, 1), context())
    return tariff, tariff.version_numbered(number)


def open_period(account_number: str = ACCOUNT, **overrides: Any) -> BillingPeriod:
    tariff, version = published()
    arguments: dict[str, Any] = {
        "household_id": ids.household_id(account_number),
        "account_number": account_number,
        "community": COMMUNITY,
        "building": "3",
        "season": SEASON,
        "tariff_id": tariff.id,
        "tariff_scope": COMMUNITY,
        "version": version,
        "billed_area_m2": D(100),
        "position_coefficient": D("0.687"),
        "context": context(),
    }
    return BillingPeriod.open(**(arguments | overrides))


def whole_season(energy_gj: str, prepaid: Decimal) -> SettlementInputs:
    evidence = MeterEvidence(D(energy_gj), D(0), SEASON.days, 0, 0, ("HM-0001",))
    return SettlementInputs((SegmentInputs(SEASON.first_day, SEASON.last_day, 0, evidence),), None, prepaid)


def owner_change(prepaid: Decimal) -> SettlementInputs:
    # 1 Nov – 15 Jan (76 days), 16 Jan – 31 Mar (75 days).
    first = SegmentInputs(date(2025, 11, 1), date(2026, 1, 15), 0, MeterEvidence(D(12), D(0), 76, 0, 0))
    second = SegmentInputs(date(2026, 1, 16), date(2026, 3, 31), 0, MeterEvidence(D(18), D(0), 75, 0, 0))
    return SettlementInputs((first, second), None, prepaid)


NOVEMBER = MonthInputs("2025-11", date(2025, 11, 1), date(2025, 11, 30), D("6.5"), D("6.5"), None, D("0.06"))


def ledger_transcoder() -> JSONTranscoder:
    """The JSON transcoder the ledger stores events with (HeatLedger.register_transcodings)."""
    transcoder = JSONTranscoder()
    for transcoding in (UUIDAsHex(), DecimalAsStr(), DatetimeAsISO()):
        transcoder.register(transcoding)
    register_ledger_transcodings(transcoder)
    return transcoder


def replayed(events: list[Any]) -> BillingPeriod:
    copy: BillingPeriod | None = None
    for pending in events:
        copy = pending.mutate(copy)
    assert copy is not None
    return copy


def stored_and_replayed(events: list[Any]) -> BillingPeriod:
    mapper = Mapper(transcoder=ledger_transcoder())
    return replayed([mapper.to_domain_event(mapper.to_stored_event(pending)) for pending in events])


# -- opening -----------------------------------------------------------------------------------


def test_a_period_is_opened_with_the_version_in_force_and_the_households_area() -> None:
    tariff, version = published()
    period = open_period()
    assert period.id == ids.billing_period_id(ACCOUNT, "2025-2026")
    assert (period.household_id, period.account_number, period.building) == (HOUSEHOLD, ACCOUNT, "3")
    assert period.season == SEASON
    assert period.tariff_id == tariff.id
    facts = period.facts
    assert (facts.tariff_version, facts.document_number, facts.approved_on) == (1, "宁价〔2025〕1号", date(2025, 10, 1))
    assert (facts.terms, facts.billed_area_m2, facts.position_coefficient) == (version.terms, D(100), D("0.687"))
    assert (facts.season_days, period.bills, period.prepaid_yuan, period.is_settled) == (151, {}, D(0), False)


@pytest.mark.parametrize(
    ("effective_from", "effective_until"),
    [
        (date(2025, 11, 2), None),  # starts a day after the season
        (date(2024, 11, 1), date(2025, 10, 31)),  # ended the day before the season
    ],
)
def test_a_version_not_in_force_on_the_seasons_first_day_is_refused(
    effective_from: date, effective_until: date | None
) -> None:
    _, version = published(effective_from, effective_until)
    with pytest.raises(InvalidInputError) as raised:
        open_period(version=version)
    assert raised.value.message_key == "tariff_version_not_in_force"
    assert raised.value.params == {"version": 1, "day": "2025-11-01"}


@pytest.mark.parametrize("area", [D(0), D("-0.01")])
def test_a_household_without_area_cannot_be_billed(area: Decimal) -> None:
    with pytest.raises(InvalidInputError) as raised:
        open_period(billed_area_m2=area)
    assert raised.value.message_key == "household_without_area"


# -- the prepayment ----------------------------------------------------------------------------


def test_the_prepayment_is_invoiced_once() -> None:
    period = open_period()
    period.collect_events()
    bill = period.invoice_prepayment(False, date(2025, 10, 20), context())
    assert bill is not None
    # 100 m² × 21.6 元/m² = 2160.00.
    assert (bill.kind, bill.label, bill.amount_yuan, bill.issued_on) == (
        BillKind.PREPAYMENT,
        "season",
        D("2160.00"),
        date(2025, 10, 20),
    )
    assert bill.bill_id == ids.bill_id(ACCOUNT, "2025-2026", "prepayment", "season")
    assert bill.number == "2025-2026-P-0101-season"
    assert period.prepaid_yuan == D("2160.00")
    # Again, even suspended now: nothing new, the first invoice stands.
    assert period.invoice_prepayment(True, date(2025, 10, 21), context()) is None
    assert len(period.collect_events()) == 1
    assert period.prepaid_yuan == D("2160.00")


def test_a_household_suspended_at_the_start_prepays_the_suspension_share() -> None:
    # 2160.00 × 20 % for every day: 100 × 21.6 × 151 × 0.2 / 151 = 432.00.
    period = open_period()
    bill = period.invoice_prepayment(True, date(2025, 10, 20), context())
    assert bill is not None
    assert (bill.amount_yuan, period.prepaid_yuan) == (D("432.00"), D("432.00"))


def test_a_prepayment_after_the_settlement_is_refused() -> None:
    period = open_period()
    period.settle(whole_season("30", D(0)), AFTER_SEASON, context())
    with pytest.raises(ConflictError) as raised:
        period.invoice_prepayment(False, AFTER_SEASON, context())
    assert raised.value.message_key == "period_settled"
    assert period.prepaid_yuan == D(0)


# -- the monthly statements --------------------------------------------------------------------


def test_a_months_statement_is_issued_once_after_the_month() -> None:
    period = open_period()
    period.collect_events()
    with pytest.raises(InvalidInputError) as raised:
        period.issue_statement(NOVEMBER, date(2025, 11, 30), context())  # the month's last day
    assert raised.value.message_key == "month_not_ended"
    bill = period.issue_statement(NOVEMBER, date(2025, 12, 1), context())
    assert bill is not None
    assert (bill.kind, bill.label, bill.amount_yuan, bill.basis) == (BillKind.STATEMENT, "2025-11", D(0), "metered")
    assert bill.number == "2025-2026-M-0101-2025-11"
    assert bill.bill_id == ids.bill_id(ACCOUNT, "2025-2026", "statement", "2025-11")
    assert period.issue_statement(NOVEMBER, date(2025, 12, 2), context()) is None
    assert len(period.collect_events()) == 1
    assert period.prepaid_yuan == D(0)  # a statement charges nothing


@pytest.mark.parametrize(
    "month",
    [
        MonthInputs("2025-10", date(2025, 10, 1), date(2025, 10, 31), D(1), D(1), None, None),
        MonthInputs("2026-04", date(2026, 4, 1), date(2026, 4, 30), D(1), D(1), None, None),
        MonthInputs("2026-03", date(2026, 3, 1), date(2026, 4, 1), D(1), D(1), None, None),  # runs past the end
    ],
)
def test_a_month_outside_the_season_is_refused(month: MonthInputs) -> None:
    period = open_period()
    with pytest.raises(InvalidInputError) as raised:
        period.issue_statement(month, date(2026, 6, 1), context())
    assert raised.value.message_key == "month_outside_season"
    assert period.bills == {}


# -- the settlement ----------------------------------------------------------------------------


def test_the_season_is_settled_only_after_its_last_day() -> None:
    period = open_period()
    with pytest.raises(InvalidInputError) as raised:
        period.settle(whole_season("30", D("2160.00")), date(2026, 3, 31), context())
    assert raised.value.message_key == "season_not_ended"
    assert not period.is_settled


def test_the_season_is_settled_once() -> None:
    period = open_period()
    period.invoice_prepayment(False, date(2025, 10, 20), context())
    period.collect_events()
    # 30 GJ, no position correction in the tariff: 648.00 + 30 × 43.9 = 648.00 + 1317.00 = 1965.00;
    # 1965.00 − 2160.00 = −195.00 refunded.
    (bill,) = period.settle(whole_season("30", period.prepaid_yuan), AFTER_SEASON, context())
    assert (bill.kind, bill.label, bill.amount_yuan, bill.basis) == (BillKind.SETTLEMENT, "1", D("-195.00"), "metered")
    assert bill.number == "2025-2026-S-0101-1"
    assert period.is_settled
    # Settling again, even with other inputs, issues nothing.
    assert period.settle(whole_season("45", period.prepaid_yuan), date(2026, 4, 2), context()) == []
    assert len(period.collect_events()) == 1
    assert period.issued(BillKind.SETTLEMENT) == [bill]


def test_an_owner_change_is_settled_as_two_numbered_bills() -> None:
    period = open_period()
    period.invoice_prepayment(False, date(2025, 10, 20), context())
    # Shares of 2160.00 by 76 : 75 days: 1087.15 and 1072.85 (see test_billing); base 326.15 and
    # 321.86; metered 326.15 + 12 × 43.9 = 852.95 and 321.86 + 18 × 43.9 = 1112.06.
    first, second = period.settle(owner_change(period.prepaid_yuan), AFTER_SEASON, context())
    assert [(bill.label, bill.number, bill.amount_yuan) for bill in (first, second)] == [
        ("1", "2025-2026-S-0101-1", D("-234.20")),
        ("2", "2025-2026-S-0101-2", D("39.21")),
    ]
    assert first.bill_id != second.bill_id
    assert second.bill_id == ids.bill_id(ACCOUNT, "2025-2026", "settlement", "2")
    assert [bill.kind for bill in period.issued()] == [BillKind.PREPAYMENT, BillKind.SETTLEMENT, BillKind.SETTLEMENT]


# -- identities and replay ---------------------------------------------------------------------


def test_periods_and_bills_have_stable_ids_and_numbers() -> None:
    first, again, other = open_period(), open_period(), open_period("0102")
    assert first.id == again.id == ids.billing_period_id(ACCOUNT, "2025-2026")
    assert other.id != first.id
    bills = [period.invoice_prepayment(False, date(2025, 10, 20), context()) for period in (first, again, other)]
    ids_and_numbers = [(bill.bill_id, bill.number) for bill in bills if bill is not None]
    # The same account and season give the same bill, a re-run cannot issue a second one.
    assert ids_and_numbers[0] == ids_and_numbers[1]
    assert ids_and_numbers[2] == (
        ids.bill_id("0102", "2025-2026", "prepayment", "season"),
        bill_number("2025-2026", "0102", BillKind.PREPAYMENT, "season"),
    )
    assert ids_and_numbers[2][0] != ids_and_numbers[0][0]
    assert ids_and_numbers[2][1] == "2025-2026-P-0102-season"


def full_season() -> tuple[BillingPeriod, list[IssuedBill]]:
    period = open_period()
    issued = [period.invoice_prepayment(False, date(2025, 10, 20), context())]
    issued.append(period.issue_statement(NOVEMBER, date(2025, 12, 1), context()))
    issued.extend(period.settle(owner_change(period.prepaid_yuan), AFTER_SEASON, context()))
    return period, [bill for bill in issued if bill is not None]


@pytest.mark.parametrize("rebuild", [replayed, stored_and_replayed])
def test_replaying_the_events_gives_the_same_bills(rebuild: Any) -> None:
    period, issued = full_season()
    copy = rebuild(period.collect_events())
    assert copy.id == period.id
    assert copy.facts == period.facts
    assert copy.bills == period.bills
    # The bills computed live are the ones the replay gives back, lines and all.
    assert copy.issued() == issued
    assert [len(bill.lines) for bill in copy.issued()] == [len(bill.lines) for bill in issued]
    assert (copy.prepaid_yuan, copy.is_settled) == (D("2160.00"), True)
    assert copy.issued(BillKind.SETTLEMENT)[1].amount_yuan == D("39.21")


@pytest.mark.parametrize("coefficient", [D(0), D("-0.687")])
def test_a_period_without_a_positive_position_coefficient_is_refused_when_opened(coefficient: Decimal) -> None:
    with pytest.raises(InvalidInputError):
        open_period(position_coefficient=coefficient)


@given(
    energy=st.decimals(min_value=0, max_value=200, places=3),
    estimated=st.decimals(min_value=0, max_value=5, places=3),
    split_day=st.integers(min_value=0, max_value=150),
    suspended=st.booleans(),
    policy=st.sampled_from(list(SettlementPolicy)),
)
def test_a_bill_is_the_same_computed_live_or_replayed_from_the_store(
    energy: Decimal, estimated: Decimal, split_day: int, suspended: bool, policy: SettlementPolicy
) -> None:
    price = TwoPartPrice(D("21.6"), D(30), D("43.9"), policy, cap_percent=D(115), suspension_share_percent=D(20))
    tariff = Tariff.open(CustomerClass.RESIDENTIAL, COMMUNITY, context())
    version = tariff.version_numbered(
        tariff.publish(TariffTerms(price), SEASON.first_day, None, "宁价〔2025〕1号", date(2025, 10, 1), context())
    )
    period = open_period(tariff_id=tariff.id, version=version)
    period.invoice_prepayment(suspended, SEASON.first_day, context())
    evidence = MeterEvidence(energy, estimated, SEASON.days - 1, 1, 0, ("HM-0001",))
    if split_day == 0:
        segments = (SegmentInputs(SEASON.first_day, SEASON.last_day, 0, evidence),)
    else:  # an owner change after split_day days, each part with its own share of the heat
        change = SEASON.first_day + timedelta(days=split_day)
        first = MeterEvidence(energy / 2, D(0), split_day, 0, 0, ("HM-0001",))
        segments = (
            SegmentInputs(SEASON.first_day, change - timedelta(days=1), 0, first),
            SegmentInputs(change, SEASON.last_day, 0, evidence),
        )
    live = period.settle(SettlementInputs(segments, None, period.prepaid_yuan), AFTER_SEASON, context())
    copy = stored_and_replayed(period.collect_events())
    assert copy.issued() == period.issued() and copy.issued(BillKind.SETTLEMENT) == live
    # Money is conserved: what the settlement bills plus the prepayment is what is due.
    due = sum(
        (D(line.figures["due_yuan"]) for bill in live for line in bill.lines if line.code == "settlement_amount"), D(0)
    )
    assert sum((bill.amount_yuan for bill in live), D(0)) + period.prepaid_yuan == due


# -- the household's days of the season, and the season's days in force ---------------------------


def test_a_household_registered_within_the_season_prepays_only_its_days() -> None:
    # Registered 1 January 2026: 31 + 28 + 31 = 90 of the season's 151 days.
    # 100 m² × 21.6 × 90 / 151 = 1287.417… → 1287.42.
    period = open_period(days=(date(2026, 1, 1), SEASON.last_day))
    bill = period.invoice_prepayment(False, date(2026, 1, 2), context())
    assert bill is not None
    assert (bill.first_day, bill.amount_yuan) == (date(2026, 1, 1), D("1287.42"))
    season = next(line for line in bill.lines if line.code == "season_days")
    assert (season.figures["season_days"], season.figures["period_days"], season.figures["partial"]) == (
        "151",
        "90",
        "1",
    )


def test_a_partial_period_settles_its_own_days_against_its_prepayment() -> None:
    # 90 days, 12 GJ, both ways: area fee 1287.42; base 30 % = 386.226 → 386.23; energy 12 × 43.9
    # = 526.80; due 913.03; against 1287.42 prepaid: −374.39.
    period = open_period(days=(date(2026, 1, 1), SEASON.last_day))
    period.invoice_prepayment(False, date(2026, 1, 2), context())
    evidence = MeterEvidence(D(12), D(0), 90, 0, 0, ("HM-0001",))
    inputs = SettlementInputs((SegmentInputs(date(2026, 1, 1), SEASON.last_day, 0, evidence),), None, D("1287.42"))
    (bill,) = period.settle(inputs, AFTER_SEASON, context())
    assert bill.amount_yuan == D("-374.39")


def test_days_outside_the_season_are_refused() -> None:
    with pytest.raises(InvalidInputError) as refused:
        open_period(days=(date(2026, 3, 1), date(2026, 4, 30)))
    assert refused.value.message_key == "period_outside_season"


def test_an_extended_season_spreads_the_area_fee_over_the_days_in_force() -> None:
    # Extended by decree to 15 April: 166 days. The settlement's area fee stays 2160.00 (the
    # season's fee), and suspension weights now count against 166 days.
    period = open_period()
    period.invoice_prepayment(False, date(2025, 11, 2), context())
    extended = Season(SEASON.first_day, date(2026, 4, 15), "宁政办发〔2026〕9号")
    assert period.follow_season(extended, None, context()) is True
    assert period.follow_season(extended, None, context()) is False  # once
    assert (period.season, period.days) == (extended, (extended.first_day, extended.last_day))
    evidence = MeterEvidence(D(30), D(0), 166, 0, 0, ("HM-0001",))
    segment = SegmentInputs(extended.first_day, extended.last_day, 0, evidence)
    (bill,) = period.settle(SettlementInputs((segment,), None, D("2160.00")), date(2026, 4, 16), context())
    lines = {line.code: line for line in bill.lines}
    assert lines["area_fee_share"].amount_yuan == D("2160.00")
    assert lines["season_days"].figures["decree_number"] == "宁政办发〔2026〕9号"
    # Base 648.00 + energy 30 × 43.9 = 1317.00 = 1965.00; −195.00.
    assert bill.amount_yuan == D("-195.00")


def test_a_settled_period_keeps_the_days_it_was_settled_on() -> None:
    period = open_period()
    period.settle(whole_season("30", D("2160.00")), AFTER_SEASON, context())
    extended = Season(SEASON.first_day, date(2026, 4, 15), "宁政办发〔2026〕9号")
    assert period.follow_season(extended, None, context()) is False
    assert period.season == SEASON


def test_a_period_opened_before_seasons_had_records_reads_as_the_whole_default_season() -> None:
    state = {"first_day": SEASON.first_day, "last_day": SEASON.last_day}
    BillingPeriod.Opened.upcast_v1_v2(state)
    assert state == {
        "first_day": SEASON.first_day,
        "last_day": SEASON.last_day,
        "season_first_day": SEASON.first_day,
        "season_last_day": SEASON.last_day,
        "season_decree": "",
    }
