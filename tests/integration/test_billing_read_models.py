"""Billing read models on each backend: tariffs, billing periods, bills and balances, suspensions
and owner changes, the billing inputs read from them in bulk, and their migration.

The metered households (readings at local midnight in Shanghai, 16:00 UTC the day before):

| meter | household | readings                                         | per local day                     |
|-------|-----------|--------------------------------------------------|-----------------------------------|
| M-1   | WZ-1      | 1 Nov 10.0, 2 Nov 11.5, 3 Nov 13.5               | 1 Nov 1.5, 2 Nov 2.0 (measured)   |
| M-2   | WZ-2      | 1 Nov 10.0, 2 Nov 11.0 (faulty), 3 Nov 12.0      | 1 Nov, 2 Nov faulty; 1 Nov est. 1.2 |
| M-3   | WZ-3      | 30 Nov 5.0, 1 Dec 5.8, 2 Dec 6.5 (an estimate)   | 30 Nov 0.8, 1 Dec 0.7 (estimated) |
| B-1   | 碧桂园 / 1 | 1 Nov 100.0, 2 Nov 103.0                         | 1 Nov 3.0                         |
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from decimal import Decimal
from typing import Any
from uuid import UUID

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import select

from application.authorization import SYSTEM
from application.billing_inputs import HouseholdSeasonRecord, MonthEnergy, SuspensionSpan
from domain import ids
from domain.billing import MeterEvidence, SegmentInputs, SettlementInputs
from domain.billing_period import BillingPeriod
from domain.day_split import BUSINESS_TIME_ZONE
from domain.payment import COUNTER, Payment, PaymentChannel
from domain.season import Season
from domain.settlement import PositionCorrection, SettlementPolicy, TwoPartPrice
from domain.tariff import CITY_SCOPE, Tariff, TariffTerms
from domain.values import CustomerClass, MeterKind, ReadingSource
from infrastructure.container import Container
from projections.billing_inputs import SqlBillingInputs
from projections.billing_queries import BillingQueries, CommunityBalanceRecord, KindTotal
from projections.payment_queries import PaymentQueries
from projections.tables import (
    BILLING_TABLES,
    household_owner_changes,
    household_suspensions,
    metadata,
)
from tests.strategies import (
    COMMUNITY,
    commission_meter,
    context,
    household_with_meter,
    item,
    projection_rows,
    register_household,
)

D = Decimal
SEASON = Season.default_starting(2025)
NEXT_SEASON = Season.default_starting(2026)
NOV_1, NOV_2, NOV_3, NOV_30, DEC_1 = (
    date(2025, 11, 1),
    date(2025, 11, 2),
    date(2025, 11, 3),
    date(2025, 11, 30),
    date(2025, 12, 1),
)
TERMS = TariffTerms(
    TwoPartPrice(D("21.6"), D(30), D("43.9"), SettlementPolicy.BOTH_WAYS, position_correction=PositionCorrection.NONE)
)


def midnight(day: date) -> datetime:
    """The local (Shanghai) midnight that starts ``day``."""
    return datetime.combine(day, time(0), BUSINESS_TIME_ZONE)


def open_tariff(container: Container) -> Tariff:
    tariff = Tariff.open(CustomerClass.RESIDENTIAL, CITY_SCOPE, context())
    tariff.publish(TERMS, date(2025, 10, 1), None, "宁价商〔2025〕12号", date(2025, 9, 20), context())
    container.ledger.save(tariff)
    return tariff


def open_period(
    container: Container, tariff: Tariff, account_number: str, season: Season = SEASON, area: str = "90.00"
) -> BillingPeriod:
    period = BillingPeriod.open(
        ids.household_id(account_number),
        account_number,
        COMMUNITY,
        "1",
        season,
        tariff.id,
        CITY_SCOPE,
        tariff.versions[0],
        D(area),
        D("1.000"),
        context(),
    )
    period.invoice_prepayment(False, season.first_day - timedelta(days=7), context())
    return period


@pytest.fixture
def billed(container: Container) -> Container:
    """WZ-1 prepaid two seasons and settled the first (metered, a refund); WZ-2 prepaid one season."""
    register_household(container.ledger, "WZ-1")
    register_household(container.ledger, "WZ-2", connected_area_m2="60.00")
    tariff = open_tariff(container)
    first = open_period(container, tariff, "WZ-1")
    evidence = MeterEvidence(D("20.000"), D(0), SEASON.days, 0, 0, ("M-1",))
    segment = SegmentInputs(SEASON.first_day, SEASON.last_day, 0, evidence)
    first.settle(SettlementInputs((segment,), None, first.prepaid_yuan), date(2026, 4, 10), context())
    container.ledger.save(first)
    container.ledger.save(open_period(container, tariff, "WZ-1", NEXT_SEASON))
    container.ledger.save(open_period(container, tariff, "WZ-2", area="60.00"))
    container.catch_up()
    return container


def issued(container: Container, account_number: str, season: Season = SEASON) -> list[Any]:
    period = container.ledger.repository.get(ids.billing_period_id(account_number, season.code))
    assert isinstance(period, BillingPeriod)
    return period.issued()


def billing_rows(container: Container) -> dict[str, list[tuple[Any, ...]]]:
    rows = projection_rows(container.engine)
    return {table.name: rows[table.name] for table in BILLING_TABLES}


# -- tariffs, bills and balances ------------------------------------------------------------------


def test_tariff_versions_are_listed_with_their_terms(billed: Container) -> None:
    queries = BillingQueries(billed.engine)
    (version,) = queries.tariffs()
    assert (version.customer_class, version.scope, version.version) == ("residential", CITY_SCOPE, 1)
    assert (version.effective_from, version.effective_until, version.approved_on) == (
        date(2025, 10, 1),
        None,
        date(2025, 9, 20),
    )
    assert version.document_number == "宁价商〔2025〕12号"
    assert version.terms["area_price_yuan_per_m2"] == "21.6"
    assert TariffTerms.from_record(version.terms) == TERMS  # the stored terms read back whole
    assert queries.tariff_versions("residential", CITY_SCOPE) == [version]
    assert queries.tariff_versions("residential", "碧桂园") == []


def test_issued_bills_are_listed_with_their_lines(billed: Container) -> None:
    queries = BillingQueries(billed.engine)
    wz_1 = ids.household_id("WZ-1")
    page = queries.bills_of_household(wz_1, limit=10)
    assert page.total == 3 and not page.has_more
    # The latest first: next season's prepayment, then this season's settlement and prepayment.
    assert [(bill.season_code, bill.kind) for bill in page.items] == [
        (NEXT_SEASON.code, "prepayment"),
        (SEASON.code, "settlement"),
        (SEASON.code, "prepayment"),
    ]
    this_season = queries.bills_of_household(wz_1, SEASON.code, limit=1)
    assert (this_season.total, this_season.has_more, len(this_season.items)) == (2, True, 1)

    prepayment, settlement = issued(billed, "WZ-1")
    record = queries.bill(settlement.bill_id)
    assert record is not None
    assert (record.number, record.amount_yuan, record.basis, record.account_number) == (
        settlement.number,
        settlement.amount_yuan,
        settlement.basis,
        "WZ-1",
    )
    assert (record.first_day, record.last_day, record.issued_on) == (
        SEASON.first_day,
        SEASON.last_day,
        date(2026, 4, 10),
    )
    assert [(line.code, line.amount_yuan, line.figures) for line in record.lines] == [
        (line.code, line.amount_yuan, line.figures) for line in settlement.lines
    ]
    assert all(isinstance(line.amount_yuan, Decimal | None) for line in record.lines)
    assert prepayment.amount_yuan == D("1944.00")  # 90 m² × 21.6 元
    assert settlement.amount_yuan < 0  # 20 GJ cost less than the area fee: a refund
    assert queries.bill(ids.bill_id("WZ-9", SEASON.code, "prepayment", "season")) is None


def test_balances_add_up_every_bill_exactly(billed: Container) -> None:
    queries = BillingQueries(billed.engine)
    wz_1_bills = issued(billed, "WZ-1") + issued(billed, "WZ-1", NEXT_SEASON)
    charged = sum((bill.amount_yuan for bill in wz_1_bills), D(0))
    balance = queries.balance(ids.household_id("WZ-1"))
    assert balance is not None
    assert (balance.charged_yuan, balance.paid_yuan, balance.balance_yuan) == (charged, D(0), charged)
    assert balance.account_number == "WZ-1"
    (wz_2_prepayment,) = issued(billed, "WZ-2")
    assert wz_2_prepayment.amount_yuan == D("1296.00")  # 60 m² × 21.6 元
    assert queries.balance(ids.household_id("WZ-3")) is None

    everything = charged + D("1296.00")
    assert queries.community_balances() == [CommunityBalanceRecord(COMMUNITY, 2, everything, D(0), everything)]
    # Of the season: its charges (1944.00 + 1296.00); WZ-1's credit note (−482.80) settles part
    # of its prepayment, and the rest is open.
    credit_note = -issued(billed, "WZ-1")[1].amount_yuan
    assert queries.community_balances(SEASON.code) == [
        CommunityBalanceRecord(COMMUNITY, 2, D("3240.00"), D(0), D("3240.00") - credit_note, credit_note)
    ]
    assert queries.season_totals(SEASON.code) == {
        "prepayment": KindTotal(2, D("3240.00")),
        "settlement": KindTotal(1, issued(billed, "WZ-1")[1].amount_yuan),
    }
    assert queries.season_totals(SEASON.code, "阅水秦韵") == {}


def pay_at_the_counter(container: Container, account_number: str, amount: str, day: date, receipt: str) -> None:
    received_at = datetime.combine(day, time(10), BUSINESS_TIME_ZONE)
    payment = Payment.receive(
        ids.household_id(account_number),
        account_number,
        D(amount),
        PaymentChannel.CASH,
        COUNTER,
        receipt,
        received_at,
        day,
        None,
        context(),
    )
    container.ledger.save(payment)
    container.catch_up()


def season_account(container: Container, account_number: str, season: Season) -> tuple[Decimal, ...]:
    """What the household's account (its allocations and open charges) says of one season's bills:
    charged, settled by payments, settled by credit notes, still open."""
    household_id = ids.household_id(account_number)
    season_bills = BillingQueries(container.engine).bills_of_household(household_id, season.code).items
    charges = {bill.bill_id: bill.amount_yuan for bill in season_bills if bill.amount_yuan > 0}
    payments = PaymentQueries(container.engine)
    allocations = [line for line in payments.allocations_of_household(household_id) if line.charge_id in charges]
    paid = sum((line.amount_yuan for line in allocations if line.credit_kind == "payment"), D(0))
    from_notes = sum((line.amount_yuan for line in allocations if line.credit_kind == "settlement_credit"), D(0))
    open_charges = payments.open_charges_of_household(household_id)
    still_open = sum((charge.open_yuan for charge in open_charges if charge.charge_id in charges), D(0))
    return sum(charges.values(), D(0)), paid, from_notes, still_open


def test_a_seasons_balances_count_what_payments_settled(billed: Container) -> None:
    # 5 Nov: WZ-1 pays 500.00 of its 1944.00 prepayment, WZ-2 1000.00 of its 1296.00. WZ-1's
    # settlement of 10 Apr (20 GJ: 583.20 + 878.00 − 1944.00 = −482.80) is a credit note that
    # settles 482.80 more of the prepayment: 961.20 stays open. WZ-2 owes 296.00.
    nov_5 = date(2025, 11, 5)
    pay_at_the_counter(billed, "WZ-1", "500.00", nov_5, "R-1")
    pay_at_the_counter(billed, "WZ-2", "1000.00", nov_5, "R-2")
    assert season_account(billed, "WZ-1", SEASON) == (D("1944.00"), D("500.00"), D("482.80"), D("961.20"))
    assert season_account(billed, "WZ-2", SEASON) == (D("1296.00"), D("1000.00"), D("0.00"), D("296.00"))
    queries = BillingQueries(billed.engine)
    assert queries.community_balances(SEASON.code) == [
        CommunityBalanceRecord(COMMUNITY, 2, D("3240.00"), D("1500.00"), D("1257.20"), D("482.80"))
    ]
    # Next season only WZ-1 is billed, and nothing is left to settle its prepayment.
    assert queries.community_balances(NEXT_SEASON.code) == [
        CommunityBalanceRecord(COMMUNITY, 1, D("1944.00"), D("0.00"), D("1944.00"), D("0.00"))
    ]
    # Over all seasons: 1944.00 − 482.80 + 1944.00 + 1296.00 charged, 1500.00 paid.
    assert queries.community_balances() == [
        CommunityBalanceRecord(COMMUNITY, 2, D("4701.20"), D("1500.00"), D("3201.20"))
    ]


def test_a_credit_note_counts_in_the_season_whose_charges_it_settles(billed: Container) -> None:
    # WZ-1 pays its 1944.00 prepayment on 5 Nov; its settlement's credit note (−482.80, 10 Apr)
    # finds nothing open and stays credit until next season's prepayment (25 Oct 2026) takes it.
    pay_at_the_counter(billed, "WZ-1", "1944.00", date(2025, 11, 5), "R-1")
    assert season_account(billed, "WZ-1", SEASON) == (D("1944.00"), D("1944.00"), D("0.00"), D("0.00"))
    assert season_account(billed, "WZ-1", NEXT_SEASON) == (D("1944.00"), D("0.00"), D("482.80"), D("1461.20"))
    queries = BillingQueries(billed.engine)
    # WZ-2's 1296.00 is open in 2025-2026.
    assert queries.community_balances(SEASON.code) == [
        CommunityBalanceRecord(COMMUNITY, 2, D("3240.00"), D("1944.00"), D("1296.00"), D("0.00"))
    ]
    assert queries.community_balances(NEXT_SEASON.code) == [
        CommunityBalanceRecord(COMMUNITY, 1, D("1944.00"), D("0.00"), D("1461.20"), D("482.80"))
    ]


def test_issuing_nothing_new_changes_no_row(billed: Container) -> None:
    before = billing_rows(billed)
    period = billed.ledger.repository.get(ids.billing_period_id("WZ-2", SEASON.code))
    assert period.invoice_prepayment(False, date(2025, 10, 30), context()) is None  # issued already
    billed.ledger.save(period)
    billed.catch_up()
    assert billing_rows(billed) == before


# -- suspensions and owner changes ----------------------------------------------------------------


def suspend_and_change_owners(container: Container) -> None:
    ledger = container.ledger
    for account in ("WZ-1", "WZ-4", "WZ-5"):
        register_household(ledger, account)
    # WZ-1: suspended before the season and heated again from its first day; owner changes before and in it.
    ledger.suspend_heating(SYSTEM, "WZ-1", date(2025, 10, 5), "away")
    ledger.resume_heating(SYSTEM, "WZ-1", NOV_1, "back")
    ledger.change_owner(SYSTEM, "WZ-1", date(2025, 10, 15), "sold")
    ledger.change_owner(SYSTEM, "WZ-1", date(2026, 1, 16), "sold again")
    # WZ-4: suspended 10–30 November, and from 1 February on.
    ledger.suspend_heating(SYSTEM, "WZ-4", date(2025, 11, 10), "away")
    ledger.resume_heating(SYSTEM, "WZ-4", DEC_1, "back")
    ledger.suspend_heating(SYSTEM, "WZ-4", date(2026, 2, 1), "away again")
    # WZ-5: suspended and resumed on one day (no day suspended), then suspended from that day on.
    ledger.suspend_heating(SYSTEM, "WZ-5", date(2026, 1, 5), "away")
    ledger.resume_heating(SYSTEM, "WZ-5", date(2026, 1, 5), "changed their mind")
    ledger.suspend_heating(SYSTEM, "WZ-5", date(2026, 1, 5), "away after all")


def test_suspensions_and_owner_changes_are_recorded(container: Container) -> None:
    suspend_and_change_owners(container)
    with container.engine.connect() as connection:
        spans = connection.execute(
            select(household_suspensions).order_by(
                household_suspensions.c.household_id, household_suspensions.c.started_on
            )
        ).all()
        changes = connection.execute(
            select(
                household_owner_changes.c.household_id,
                household_owner_changes.c.effective_on,
                household_owner_changes.c.actor,
            )
        ).all()
    wz_1, wz_4, wz_5 = (ids.household_id(account) for account in ("WZ-1", "WZ-4", "WZ-5"))
    # ended_on is the first day heated again.
    assert sorted(tuple(span) for span in spans) == sorted(
        [
            (wz_1, date(2025, 10, 5), NOV_1),
            (wz_4, date(2025, 11, 10), DEC_1),
            (wz_4, date(2026, 2, 1), None),
            (wz_5, date(2026, 1, 5), None),
        ]
    )
    assert sorted(tuple(change) for change in changes) == [
        (wz_1, date(2025, 10, 15), SYSTEM.name),
        (wz_1, date(2026, 1, 16), SYSTEM.name),
    ]

    records = SqlBillingInputs(container.engine).season_records([wz_1, wz_4, wz_5, ids.household_id("WZ-9")], SEASON)
    assert records == {
        # WZ-1 was heated again on the season's first day: its suspension does not overlap the season.
        wz_1: HouseholdSeasonRecord((), (date(2026, 1, 16),)),
        wz_4: HouseholdSeasonRecord(
            (SuspensionSpan(date(2025, 11, 10), NOV_30), SuspensionSpan(date(2026, 2, 1), None)), ()
        ),
        wz_5: HouseholdSeasonRecord((SuspensionSpan(date(2026, 1, 5), None),), ()),
        ids.household_id("WZ-9"): HouseholdSeasonRecord((), ()),
    }


def test_rebuilding_gives_the_same_billing_rows(billed: Container) -> None:
    billed.ledger.suspend_heating(SYSTEM, "WZ-2", date(2025, 12, 1), "away")
    billed.ledger.resume_heating(SYSTEM, "WZ-2", date(2025, 12, 1), "back")  # a span without a day
    billed.ledger.suspend_heating(SYSTEM, "WZ-2", date(2025, 12, 1), "away after all")
    billed.ledger.change_owner(SYSTEM, "WZ-1", date(2026, 1, 16), "sold")
    incremental = projection_rows(billed.engine)
    assert all(incremental[table.name] for table in BILLING_TABLES)
    assert billed.runner.rebuild() == billed.runner.max_notification_id()
    assert projection_rows(billed.engine) == incremental


# -- billing inputs from the consumption read models ----------------------------------------------


@pytest.fixture
def metered(container: Container) -> SqlBillingInputs:
    ledger = container.ledger
    for number in (1, 2, 3):
        household_with_meter(ledger, f"WZ-{number}", f"M-{number}")
    register_household(ledger, "WZ-4")  # never had a meter
    commission_meter(ledger, "B-1", kind=MeterKind.BUILDING, community=COMMUNITY, building="1")
    readings = [
        item("M-1", midnight(NOV_1), "10.0"),
        item("M-1", midnight(NOV_2), "11.5"),
        item("M-1", midnight(NOV_3), "13.5"),
        item("M-2", midnight(NOV_1), "10.0"),
        item("M-2", midnight(NOV_2), "11.0", faulty=True),
        item("M-2", midnight(NOV_3), "12.0"),
        item("M-3", midnight(NOV_30), "5.0"),
        item("M-3", midnight(DEC_1), "5.8"),
        item("M-3", midnight(date(2025, 12, 2)), "6.5", source=ReadingSource.ESTIMATE),
        item("B-1", midnight(NOV_1), "100.0"),
        item("B-1", midnight(NOV_2), "103.0"),
    ]
    assert ledger.record_readings(SYSTEM, readings).accepted == len(readings)
    # Only M-2's first faulty interval gets an estimate.
    ledger.estimate_faulty_interval(SYSTEM, "M-2", midnight(NOV_1), D("1.2"), "own_history")
    # M-3 leaves WZ-3 after its readings; its history stays the household's.
    ledger.detach_meter(SYSTEM, "M-3", midnight(date(2025, 12, 3)), "meter removed")
    container.catch_up()
    return SqlBillingInputs(container.engine)


def household(account_number: str) -> UUID:
    return ids.household_id(account_number)


def test_meter_evidence_sums_each_quality_and_counts_the_days(metered: SqlBillingInputs) -> None:
    evidence = metered.meter_evidence([household(f"WZ-{n}") for n in (1, 2, 3, 4)], NOV_1, NOV_3)
    assert set(evidence) == {household("WZ-1"), household("WZ-2")}  # WZ-3's heat is later, WZ-4 has none
    # 11.5 - 10.0 on 1 November and 13.5 - 11.5 on 2 November; nothing covers 3 November.
    assert evidence[household("WZ-1")] == MeterEvidence(
        measured_gj=D("3.5"),
        estimated_gj=D(0),
        days_measured=2,
        days_estimated=0,
        days_without_data=1,
        meter_serials=("M-1",),
        first_reading="M-1 2025-11-01T00:00:00+08:00 10.000000000 GJ",
        last_reading="M-1 2025-11-03T00:00:00+08:00 13.500000000 GJ",
    )
    # Both of M-2's intervals are faulty: 1 November counts by its estimate, 2 November has no
    # usable data (its faulty energy is never billed), nor has 3 November.
    assert evidence[household("WZ-2")] == MeterEvidence(
        measured_gj=D(0),
        estimated_gj=D("1.2"),
        days_measured=0,
        days_estimated=1,
        days_without_data=2,
        meter_serials=("M-2",),
        first_reading="M-2 2025-11-01T00:00:00+08:00 10.000000000 GJ",
        last_reading="M-2 2025-11-03T00:00:00+08:00 12.000000000 GJ",
    )
    # A range inside the data: the readings at its ends bound it.
    (only,) = metered.meter_evidence([household("WZ-1")], NOV_2, NOV_2).values()
    assert (only.measured_gj, only.days_measured, only.days_without_data) == (D("2.0"), 1, 0)
    assert (only.first_reading, only.last_reading) == (
        "M-1 2025-11-02T00:00:00+08:00 11.500000000 GJ",
        "M-1 2025-11-03T00:00:00+08:00 13.500000000 GJ",
    )


def test_an_interval_bounded_by_an_estimated_reading_counts_as_estimated(metered: SqlBillingInputs) -> None:
    evidence = metered.meter_evidence([household("WZ-3")], NOV_30, DEC_1)
    assert evidence[household("WZ-3")] == MeterEvidence(
        measured_gj=D("0.8"),
        estimated_gj=D("0.7"),
        days_measured=1,
        days_estimated=1,
        days_without_data=0,
        meter_serials=("M-3",),
        first_reading="M-3 2025-11-30T00:00:00+08:00 5.000000000 GJ",
        last_reading="M-3 2025-12-02T00:00:00+08:00 6.500000000 GJ",
    )


def test_monthly_energy_follows_the_local_calendar(metered: SqlBillingInputs) -> None:
    energy = metered.monthly_energy([household(f"WZ-{n}") for n in (1, 2, 3, 4)], SEASON)
    assert energy == {
        household("WZ-1"): MonthEnergy({"2025-11": D("3.5")}),
        household("WZ-2"): MonthEnergy({"2025-11": D("1.2")}),  # the estimate, not the faulty energy
        household("WZ-3"): MonthEnergy({"2025-11": D("0.8"), "2025-12": D("0.7")}),
    }


def test_households_know_whether_a_meter_ever_served_them(metered: SqlBillingInputs) -> None:
    facts = metered.households(COMMUNITY, limit=10)
    assert [(fact.account_number, fact.has_meter) for fact in facts] == [
        ("WZ-1", True),
        ("WZ-2", True),
        ("WZ-3", True),  # its meter was detached, its history stays
        ("WZ-4", False),
    ]
    assert facts[0].connected_area_m2 == D("90.00") and facts[0].customer_class == "residential"
    assert [fact.account_number for fact in metered.households(None, limit=2)] == ["WZ-1", "WZ-2"]
    assert metered.households("阅水秦韵", limit=10) == []


def test_building_energy_counts_the_building_meter_only(metered: SqlBillingInputs) -> None:
    assert metered.building_energy_gj(COMMUNITY, "1", NOV_1, NOV_3) == D("3.0")
    assert metered.building_energy_gj(COMMUNITY, "1", DEC_1, DEC_1) == D(0)
    assert metered.building_energy_gj(COMMUNITY, "2", NOV_1, NOV_3) is None


def test_many_households_are_read_in_chunks(metered: SqlBillingInputs) -> None:
    ids_asked = [household(f"WZ-{n}") for n in range(1, 1200)]
    assert set(metered.meter_evidence(ids_asked, NOV_1, NOV_3)) == {household("WZ-1"), household("WZ-2")}
    assert len(metered.season_records(ids_asked, SEASON)) == len(ids_asked)


# -- the migration --------------------------------------------------------------------------------


def test_the_migration_creates_the_billing_tables_as_declared(container: Container) -> None:
    names = {table.name for table in BILLING_TABLES}
    with container.engine.connect() as connection:
        differences = compare_metadata(MigrationContext.configure(connection), metadata)

    def concerns_billing(difference: Any) -> bool:
        flat = difference if isinstance(difference, tuple) else difference[0]
        return any(
            getattr(part, "name", part) in names or getattr(getattr(part, "table", None), "name", None) in names
            for part in flat
        )

    assert [difference for difference in differences if concerns_billing(difference)] == []
