"""Payment read models on each backend: payments, refund payouts, the allocation of credits to
charges (oldest due first unless the payer names a bill; what is left carried as credit), open
charges, balances as of a day, arrears aging, collection rates, the payment journal, rebuilds and
their migration.

The scenario (tariff 21.6 元/m², base 30 %, 43.9 元/GJ; season 2025-2026 from 1 Nov 2025):

| household | building | bills of 2025-2026                                      | payments                          |
|-----------|----------|---------------------------------------------------------|-----------------------------------|
| WZ-1      | 1        | prepayment 1944.00 (25 Oct, due 1 Nov); settlement      | 1000.00 cash, clerk-li, 5 Nov;    |
|           |          | +395.20 (40 GJ: 583.20 + 1756.00 − 1944.00; 10 Apr,     | 1500.00 transfer, clerk-wang,     |
|           |          | due 10 May)                                             | 20 Apr 2026                       |
| WZ-2      | 1        | prepayment 1296.00 (60 m²)                              | 500.00 online, 5 Nov 09:00;       |
|           |          |                                                         | 300.00 cash, clerk-li, 5 Nov 11:00|
| WZ-3      | 2        | prepayment 1944.00; settlement −482.80 (20 GJ: 583.20 + | none                              |
|           |          | 878.00 − 1944.00), a credit note, 10 Apr                |                                   |
"""

from __future__ import annotations

import itertools
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from typing import Any
from uuid import UUID

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy import select

from domain import ids
from domain.billing import MeterEvidence, SegmentInputs, SettlementInputs
from domain.billing_period import BillingPeriod
from domain.day_split import BUSINESS_TIME_ZONE
from domain.payment import COUNTER, Payment, PaymentChannel, RefundPayout, ReversalKind
from domain.season import Season
from domain.settlement import PositionCorrection, SettlementPolicy, TwoPartPrice
from domain.tariff import CITY_SCOPE, Tariff, TariffTerms
from domain.values import CustomerClass
from infrastructure.container import Container
from projections.billing_queries import BillingQueries
from projections.ledger_projection import LedgerProjection
from projections.payment_queries import (
    AgingRecord,
    AgingTotals,
    AllocationRecord,
    BalanceAsOf,
    CollectionRateRecord,
    JournalRecord,
    PaymentQueries,
)
from projections.runner import ProjectionRunner
from projections.tables import (
    PAYMENT_TABLES,
    balances,
    household_credits,
    metadata,
    open_charges,
    payment_allocations,
)
from tests.strategies import COMMUNITY, context, register_household

D = Decimal
SEASON = Season.default_starting(2025)
NEXT_SEASON = Season.default_starting(2026)
TERMS = TariffTerms(
    TwoPartPrice(D("21.6"), D(30), D("43.9"), SettlementPolicy.BOTH_WAYS, position_correction=PositionCorrection.NONE)
)
PREPAYMENT_ISSUED_ON = date(2025, 10, 25)
SETTLED_ON = date(2026, 4, 10)
ONLINE_PROVIDER = "alipay"
ONLINE_ACTOR = "alipay-notify"


def at(day: date, hour: int = 10) -> datetime:
    """``hour`` o'clock in Shanghai on ``day``, in UTC."""
    return datetime.combine(day, time(hour), BUSINESS_TIME_ZONE).astimezone(UTC)


def household(account_number: str) -> UUID:
    return ids.household_id(account_number)


def bill_id(account_number: str, kind: str = "prepayment", season: Season = SEASON) -> UUID:
    label = "season" if kind == "prepayment" else "1"
    return ids.bill_id(account_number, season.code, kind, label)


def bill_number(account_number: str, kind: str = "prepayment", season: Season = SEASON) -> str:
    letter = "P" if kind == "prepayment" else "S"
    return f"{season.code}-{letter}-{account_number}-{'season' if kind == 'prepayment' else '1'}"


def tariff_of(container: Container) -> Tariff:
    """The city's residential tariff, opened and published once per store."""
    existing = container.ledger.load_or_none(Tariff, ids.tariff_id(CustomerClass.RESIDENTIAL, CITY_SCOPE))
    if existing is not None:
        return existing
    tariff = Tariff.open(CustomerClass.RESIDENTIAL, CITY_SCOPE, context())
    tariff.publish(TERMS, date(2025, 10, 1), None, "宁价商〔2025〕12号", date(2025, 9, 20), context())
    container.ledger.save(tariff)
    return tariff


def prepaid_period(
    container: Container, account_number: str, building: str = "1", area: str = "90.00", season: Season = SEASON
) -> BillingPeriod:
    tariff = tariff_of(container)
    period = BillingPeriod.open(
        household(account_number),
        account_number,
        COMMUNITY,
        building,
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


def settle(period: BillingPeriod, measured_gj: str) -> None:
    evidence = MeterEvidence(D(measured_gj), D(0), SEASON.days, 0, 0, ("M-1",))
    segment = SegmentInputs(SEASON.first_day, SEASON.last_day, 0, evidence)
    period.settle(SettlementInputs((segment,), None, period.prepaid_yuan), SETTLED_ON, context())


def pay(
    container: Container,
    account_number: str,
    amount: str,
    received_at: datetime,
    reference: str,
    channel: PaymentChannel = PaymentChannel.CASH,
    actor: str = "clerk-li",
    named_bill_id: UUID | None = None,
    save: bool = True,
) -> Payment:
    online = channel is PaymentChannel.ONLINE
    payment = Payment.receive(
        household(account_number),
        account_number,
        D(amount),
        channel,
        ONLINE_PROVIDER if online else COUNTER,
        reference,
        received_at,
        received_at.astimezone(BUSINESS_TIME_ZONE).date(),
        named_bill_id,
        context(ONLINE_ACTOR if online else actor),
    )
    if save:
        container.ledger.save(payment)
    return payment


def reverse(container: Container, reference: str, reversed_on: date, actor: str = "clerk-wang") -> None:
    payment = container.ledger.load_or_none(Payment, ids.payment_id(COUNTER, reference))
    assert payment is not None
    payment.reverse(ReversalKind.ERROR, reversed_on, context(actor, "recorded against the wrong flat"))
    container.ledger.save(payment)
    container.catch_up()


def issue_next_prepayment(container: Container, account_number: str, area: str = "90.00") -> None:
    container.ledger.save(prepaid_period(container, account_number, area=area, season=NEXT_SEASON))
    container.catch_up()


@pytest.fixture
def paid(container: Container) -> Container:
    """The scenario of the module docstring."""
    ledger = container.ledger
    register_household(ledger, "WZ-1")
    register_household(ledger, "WZ-2", connected_area_m2="60.00")
    register_household(ledger, "WZ-3", building="2")
    wz_1 = prepaid_period(container, "WZ-1")
    settle(wz_1, "40.000")
    wz_3 = prepaid_period(container, "WZ-3", building="2")
    settle(wz_3, "20.000")
    ledger.save(wz_1, wz_3, prepaid_period(container, "WZ-2", area="60.00"))
    nov_5 = date(2025, 11, 5)
    pay(container, "WZ-1", "1000.00", at(nov_5), "R-0001")
    pay(container, "WZ-2", "500.00", at(nov_5, 9), "MO-7731", channel=PaymentChannel.ONLINE)
    pay(container, "WZ-2", "300.00", at(nov_5, 11), "R-0002")
    pay(container, "WZ-1", "1500.00", at(date(2026, 4, 20)), "B-0001", PaymentChannel.BANK_TRANSFER, actor="clerk-wang")
    container.catch_up()
    return container


def allocations(container: Container, account_number: str) -> list[tuple[UUID, UUID, Decimal]]:
    records = PaymentQueries(container.engine).allocations_of_household(household(account_number))
    return [(record.credit_id, record.charge_id, record.amount_yuan) for record in records]


def open_amounts(container: Container, account_number: str) -> dict[UUID, Decimal]:
    records = PaymentQueries(container.engine).open_charges_of_household(household(account_number))
    return {record.charge_id: record.open_yuan for record in records}


def payment_id(reference: str, source: str = COUNTER) -> UUID:
    return ids.payment_id(source, reference)


# -- allocation -----------------------------------------------------------------------------------


def test_the_settlement_amounts_are_as_the_scenario_says(paid: Container) -> None:
    billing = BillingQueries(paid.engine)
    amounts = {
        (bill.number, bill.amount_yuan)
        for account in ("WZ-1", "WZ-3")
        for bill in billing.bills_of_household(household(account)).items
    }
    assert amounts == {
        (bill_number("WZ-1"), D("1944.00")),
        (bill_number("WZ-1", "settlement"), D("395.20")),
        (bill_number("WZ-3"), D("1944.00")),
        (bill_number("WZ-3", "settlement"), D("-482.80")),
    }


def test_payments_settle_the_oldest_due_charge_first(paid: Container) -> None:
    # 1000.00 on 5 Nov settles the prepayment (the only charge); 1500.00 on 20 Apr settles the rest
    # of the prepayment (due 1 Nov) before the settlement (due 10 May), and 160.80 is left over.
    queries = PaymentQueries(paid.engine)
    records = queries.allocations_of_household(household("WZ-1"))
    assert records == [
        AllocationRecord(
            0, payment_id("R-0001"), "payment", "R-0001", bill_id("WZ-1"), "bill", bill_number("WZ-1"), D("1000.00")
        ),
        AllocationRecord(
            1, payment_id("B-0001"), "payment", "B-0001", bill_id("WZ-1"), "bill", bill_number("WZ-1"), D("944.00")
        ),
        AllocationRecord(
            2,
            payment_id("B-0001"),
            "payment",
            "B-0001",
            bill_id("WZ-1", "settlement"),
            "bill",
            bill_number("WZ-1", "settlement"),
            D("395.20"),
        ),
    ]
    assert open_amounts(paid, "WZ-1") == {}
    assert queries.unallocated_credit_yuan(household("WZ-1")) == D("160.80")
    # WZ-2: both payments of 5 Nov, in the order received, on the prepayment.
    assert allocations(paid, "WZ-2") == [
        (payment_id("MO-7731", ONLINE_PROVIDER), bill_id("WZ-2"), D("500.00")),
        (payment_id("R-0002"), bill_id("WZ-2"), D("300.00")),
    ]
    assert open_amounts(paid, "WZ-2") == {bill_id("WZ-2"): D("496.00")}
    assert queries.unallocated_credit_yuan(household("WZ-2")) == D("0.00")


def test_a_credit_note_settles_open_charges_like_a_payment(paid: Container) -> None:
    records = PaymentQueries(paid.engine).allocations_of_household(household("WZ-3"))
    assert [
        (record.credit_kind, record.credit_reference, record.bill_number, record.amount_yuan) for record in records
    ] == [("settlement_credit", bill_number("WZ-3", "settlement"), bill_number("WZ-3"), D("482.80"))]
    (charge,) = PaymentQueries(paid.engine).open_charges_of_household(household("WZ-3"))
    assert (charge.kind, charge.season_code, charge.building, charge.due_on) == (
        "prepayment",
        SEASON.code,
        "2",
        SEASON.first_day,
    )
    assert (charge.amount_yuan, charge.open_yuan) == (D("1944.00"), D("1461.20"))


def test_a_named_bill_is_settled_first(paid: Container) -> None:
    # WZ-2 owes 496.00 of 2025's prepayment; next season's 1296.00 is issued; 1500.00 naming it
    # settles it in full and gives the remaining 204.00 to the oldest charge.
    issue_next_prepayment(paid, "WZ-2", area="60.00")
    named = bill_id("WZ-2", season=NEXT_SEASON)
    pay(paid, "WZ-2", "1500.00", at(date(2026, 11, 2)), "R-0100", named_bill_id=named)
    paid.catch_up()
    assert allocations(paid, "WZ-2")[2:] == [
        (payment_id("R-0100"), named, D("1296.00")),
        (payment_id("R-0100"), bill_id("WZ-2"), D("204.00")),
    ]
    assert open_amounts(paid, "WZ-2") == {bill_id("WZ-2"): D("292.00")}
    (payment,) = [
        record
        for record in PaymentQueries(paid.engine).payments_of_household(household("WZ-2")).items
        if record.reference == "R-0100"
    ]
    assert payment.named_bill_id == named


def test_an_overpayment_is_carried_to_the_next_season(paid: Container) -> None:
    queries = PaymentQueries(paid.engine)
    assert queries.unallocated_credit_yuan(household("WZ-1")) == D("160.80")
    issue_next_prepayment(paid, "WZ-1")
    assert allocations(paid, "WZ-1")[3:] == [(payment_id("B-0001"), bill_id("WZ-1", season=NEXT_SEASON), D("160.80"))]
    assert queries.unallocated_credit_yuan(household("WZ-1")) == D("0.00")
    assert open_amounts(paid, "WZ-1") == {bill_id("WZ-1", season=NEXT_SEASON): D("1783.20")}
    with paid.engine.connect() as connection:
        assert connection.execute(select(household_credits)).all() == []


def test_a_reversal_moves_the_allocation_back(paid: Container) -> None:
    reverse(paid, "R-0002", date(2025, 11, 6))
    assert allocations(paid, "WZ-2") == [(payment_id("MO-7731", ONLINE_PROVIDER), bill_id("WZ-2"), D("500.00"))]
    assert open_amounts(paid, "WZ-2") == {bill_id("WZ-2"): D("796.00")}
    balance = BillingQueries(paid.engine).balance(household("WZ-2"))
    assert balance is not None
    assert (balance.charged_yuan, balance.paid_yuan, balance.balance_yuan) == (D("1296.00"), D("500.00"), D("796.00"))
    page = PaymentQueries(paid.engine).payments_of_household(household("WZ-2"), limit=1)
    assert (page.total, page.has_more) == (2, True)
    (latest,) = page.items  # the latest received first
    assert (latest.reference, latest.reversed_on, latest.reversal_kind, latest.reversed_by) == (
        "R-0002",
        date(2025, 11, 6),
        "error",
        "clerk-wang",
    )
    assert (latest.channel, latest.actor, latest.amount_yuan, latest.community) == (
        "cash",
        "clerk-li",
        D("300.00"),
        COMMUNITY,
    )


def test_a_refund_paid_out_is_a_charge_the_credit_settles(paid: Container) -> None:
    # WZ-3 pays its 1461.20 and 100.00 more; the 100.00 credit is paid back out.
    pay(paid, "WZ-3", "1561.20", at(date(2026, 4, 25)), "R-0200")
    paid.catch_up()
    queries = PaymentQueries(paid.engine)
    assert queries.unallocated_credit_yuan(household("WZ-3")) == D("100.00")
    refund = RefundPayout.request(
        household("WZ-3"), "WZ-3", "RF-1", D("100.00"), date(2026, 4, 26), context("clerk-li")
    )
    paid.ledger.save(refund)
    refund.approve(context("supervisor-zhao"))
    paid.ledger.save(refund)
    paid.catch_up()
    assert queries.unallocated_credit_yuan(household("WZ-3")) == D("100.00")  # not paid out yet
    refund.pay_out(date(2026, 4, 28), "BK-77", context("clerk-li"))
    paid.ledger.save(refund)
    paid.catch_up()
    assert queries.unallocated_credit_yuan(household("WZ-3")) == D("0.00")
    assert allocations(paid, "WZ-3")[-1] == (payment_id("R-0200"), refund.id, D("100.00"))
    records = queries.allocations_of_household(household("WZ-3"))
    assert (records[-1].charge_kind, records[-1].bill_number) == ("refund_payout", None)
    assert open_amounts(paid, "WZ-3") == {}
    balance = BillingQueries(paid.engine).balance(household("WZ-3"))
    assert balance is not None
    # Charged: 1944.00 − 482.80 + 100.00 paid out; paid 1561.20.
    assert (balance.charged_yuan, balance.paid_yuan, balance.balance_yuan) == (D("1561.20"), D("1561.20"), D("0.00"))
    assert queries.balance_as_of(household("WZ-3"), date(2026, 4, 28)) == BalanceAsOf(
        household("WZ-3"), date(2026, 4, 28), D("1461.20"), D("1561.20"), D("0.00"), D("100.00"), D("0.00")
    )


def test_a_payment_before_any_bill_opens_the_balance_as_credit(container: Container) -> None:
    register_household(container.ledger, "WZ-9", building="3")
    pay(container, "WZ-9", "200.00", at(date(2025, 10, 20)), "R-0900")
    container.catch_up()
    balance = BillingQueries(container.engine).balance(household("WZ-9"))
    assert balance is not None
    assert (balance.charged_yuan, balance.paid_yuan, balance.balance_yuan) == (D("0.00"), D("200.00"), D("-200.00"))
    # No bill yet: the row's last_bill_at is None (BalanceRecord still types it as a datetime).
    assert not balance.last_bill_at
    assert (balance.account_number, balance.building) == ("WZ-9", "3")
    assert PaymentQueries(container.engine).unallocated_credit_yuan(household("WZ-9")) == D("200.00")
    container.ledger.save(prepaid_period(container, "WZ-9", building="3"))
    container.catch_up()
    assert allocations(container, "WZ-9") == [(payment_id("R-0900"), bill_id("WZ-9"), D("200.00"))]
    balance = BillingQueries(container.engine).balance(household("WZ-9"))
    assert balance is not None and balance.balance_yuan == D("1744.00") and balance.last_bill_at is not None


# -- balance as of a day, aging, collection rates, journal ---------------------------------------


def test_the_balance_as_of_a_day_counts_what_happened_by_then(paid: Container) -> None:
    reverse(paid, "R-0002", date(2025, 11, 6))
    queries = PaymentQueries(paid.engine)
    wz_1, wz_2 = household("WZ-1"), household("WZ-2")

    def figures(household_id: UUID, day: date) -> tuple[Decimal, ...]:
        balance = queries.balance_as_of(household_id, day)
        return (
            balance.charged_yuan,
            balance.paid_yuan,
            balance.reversed_yuan,
            balance.refunded_yuan,
            balance.balance_yuan,
        )

    zero = D("0.00")
    assert figures(wz_1, date(2025, 10, 24)) == (zero, zero, zero, zero, zero)
    assert figures(wz_1, PREPAYMENT_ISSUED_ON) == (D("1944.00"), zero, zero, zero, D("1944.00"))
    assert figures(wz_1, date(2025, 11, 5)) == (D("1944.00"), D("1000.00"), zero, zero, D("944.00"))
    assert figures(wz_1, SETTLED_ON) == (D("2339.20"), D("1000.00"), zero, zero, D("1339.20"))
    assert figures(wz_1, date(2026, 4, 20)) == (D("2339.20"), D("2500.00"), zero, zero, D("-160.80"))
    assert figures(wz_2, date(2025, 11, 5)) == (D("1296.00"), D("800.00"), zero, zero, D("496.00"))
    assert figures(wz_2, date(2025, 11, 6)) == (D("1296.00"), D("800.00"), D("300.00"), zero, D("796.00"))
    # Far ahead, the balance as of a day is the balance.
    for account in ("WZ-1", "WZ-2", "WZ-3"):
        balance = BillingQueries(paid.engine).balance(household(account))
        assert balance is not None
        assert queries.balance_as_of(household(account), date(2030, 1, 1)).balance_yuan == balance.balance_yuan


def aging_of(container: Container, as_of: date) -> dict[str, tuple[Decimal, ...]]:
    return {
        record.account_number: (
            record.current_yuan,
            record.days_0_30_yuan,
            record.days_31_90_yuan,
            record.days_91_180_yuan,
            record.days_181_365_yuan,
            record.over_365_yuan,
        )
        for record in PaymentQueries(container.engine).aging(as_of)
    }


@pytest.mark.parametrize(
    ("as_of", "bucket"),
    [
        (date(2025, 10, 31), 0),  # issued, not yet due
        (date(2025, 11, 1), 1),  # due today: 0 days past due
        (date(2025, 12, 1), 1),  # 30 days
        (date(2025, 12, 2), 2),  # 31 days
        (date(2026, 1, 30), 2),  # 90 days
        (date(2026, 1, 31), 3),  # 91 days
        (date(2026, 4, 30), 3),  # 180 days
        (date(2026, 5, 1), 4),  # 181 days
        (date(2026, 11, 1), 4),  # 365 days
        (date(2026, 11, 2), 5),  # 366 days
    ],
)
def test_aging_puts_an_open_charge_in_the_bucket_of_its_days_past_due(
    paid: Container, as_of: date, bucket: int
) -> None:
    expected = [D("0.00")] * 6
    expected[bucket] = D("496.00")
    assert aging_of(paid, as_of)["WZ-2"] == tuple(expected)


def test_aging_sums_each_household_and_the_community(paid: Container) -> None:
    issue_next_prepayment(paid, "WZ-2", area="60.00")
    zero = D("0.00")
    queries = PaymentQueries(paid.engine)
    # 28 Oct 2026: next season's prepayment is not yet due; 2025's is 361 days past due.
    assert aging_of(paid, date(2026, 10, 28)) == {
        "WZ-2": (D("1296.00"), zero, zero, zero, D("496.00"), zero),
        "WZ-3": (zero, zero, zero, zero, D("1461.20"), zero),
    }
    # 10 Nov 2026: 9 and 374 days.
    assert aging_of(paid, date(2026, 11, 10)) == {
        "WZ-2": (zero, D("1296.00"), zero, zero, zero, D("496.00")),
        "WZ-3": (zero, zero, zero, zero, zero, D("1461.20")),
    }
    (wz_2,) = queries.aging(date(2026, 11, 10), limit=1)
    assert wz_2 == AgingRecord(
        household("WZ-2"), "WZ-2", COMMUNITY, "1", zero, D("1296.00"), zero, zero, zero, D("496.00"), D("1792.00")
    )
    # Before next season's prepayment was issued, only 2025's charges count.
    assert aging_of(paid, date(2026, 10, 20))["WZ-2"] == (zero, zero, zero, zero, D("496.00"), zero)
    assert queries.aging_totals(date(2026, 11, 10), COMMUNITY) == AgingTotals(
        date(2026, 11, 10), COMMUNITY, 2, zero, D("1296.00"), zero, zero, zero, D("1957.20"), D("3253.20")
    )
    assert queries.aging(date(2026, 11, 10), "阅水秦韵") == []
    assert queries.aging_totals(date(2026, 11, 10), "阅水秦韵").households == 0


def test_collection_rates_per_building(paid: Container) -> None:
    queries = PaymentQueries(paid.engine)
    # Building 1: WZ-1 1944.00 + 395.20 and WZ-2 1296.00 charged; 2339.20 + 800.00 settled.
    # Building 2: WZ-3 1944.00 charged (the credit note is no charge); 482.80 settled by it.
    building_1 = CollectionRateRecord(
        SEASON.code, COMMUNITY, "1", 2, D("3635.20"), D("3139.20"), D("0.00"), D("496.00"), D("86.36")
    )
    building_2 = CollectionRateRecord(
        SEASON.code, COMMUNITY, "2", 1, D("1944.00"), D("482.80"), D("482.80"), D("1461.20"), D("24.84")
    )
    assert queries.collection_rates(SEASON.code) == [building_1, building_2]
    reverse(paid, "R-0002", date(2025, 11, 6))
    # 2839.20 / 3635.20 = 78.1029…%
    (after,) = queries.collection_rates(SEASON.code, COMMUNITY, limit=1)
    assert (after.collected_yuan, after.open_yuan, after.rate_percent) == (D("2839.20"), D("796.00"), D("78.10"))
    # WZ-1's overpayment settles next season's prepayment: 160.80 of 1944.00 = 8.27 %.
    issue_next_prepayment(paid, "WZ-1")
    (next_season,) = queries.collection_rates(NEXT_SEASON.code)
    assert (next_season.building, next_season.charged_yuan, next_season.collected_yuan, next_season.rate_percent) == (
        "1",
        D("1944.00"),
        D("160.80"),
        D("8.27"),
    )
    assert queries.collection_rates("2030-2031") == []


def test_the_journal_gives_each_clerks_cash_up(paid: Container) -> None:
    queries = PaymentQueries(paid.engine)
    nov_5 = date(2025, 11, 5)
    zero = D("0.00")
    assert queries.journal(nov_5) == [
        JournalRecord(nov_5, "cash", "clerk-li", 2, D("1300.00"), 0, zero, D("1300.00")),
        JournalRecord(nov_5, "online", ONLINE_ACTOR, 1, D("500.00"), 0, zero, D("500.00")),
    ]
    reverse(paid, "R-0002", date(2025, 11, 6))
    assert queries.journal(nov_5, actor="clerk-li") == [
        JournalRecord(nov_5, "cash", "clerk-li", 2, D("1300.00"), 1, D("300.00"), D("1000.00"))
    ]
    assert queries.journal(nov_5, channel="online") == [
        JournalRecord(nov_5, "online", ONLINE_ACTOR, 1, D("500.00"), 0, zero, D("500.00"))
    ]
    apr_20 = date(2026, 4, 20)
    assert queries.journal(apr_20, "bank_transfer", "clerk-wang") == [
        JournalRecord(apr_20, "bank_transfer", "clerk-wang", 1, D("1500.00"), 0, zero, D("1500.00"))
    ]
    assert queries.journal(apr_20, "cash") == []
    assert queries.journal(date(2025, 11, 6)) == []  # a reversal is journalled with its payment


# -- rebuilds and the migration -------------------------------------------------------------------


def payment_rows(container: Container) -> dict[str, list[tuple[Any, ...]]]:
    with container.engine.connect() as connection:
        return {
            table.name: sorted((tuple(row) for row in connection.execute(select(table))), key=repr)
            for table in (*PAYMENT_TABLES, balances)
        }


@pytest.mark.parametrize(
    "batch_size", [None, 1, 3], ids=["default-batches", "one-event-batches", "three-event-batches"]
)
def test_rebuilding_gives_the_same_payment_rows(paid: Container, batch_size: int | None) -> None:
    reverse(paid, "R-0002", date(2025, 11, 6))
    issue_next_prepayment(paid, "WZ-2", area="60.00")  # WZ-1 keeps its 160.80 credit
    pay(paid, "WZ-3", "1561.20", at(date(2026, 4, 25)), "R-0200")
    refund = RefundPayout.request(
        household("WZ-3"), "WZ-3", "RF-1", D("100.00"), date(2026, 4, 26), context("clerk-li")
    )
    refund.approve(context("supervisor-zhao"))
    refund.pay_out(date(2026, 4, 28), "BK-77", context("clerk-li"))
    rejected = RefundPayout.request(household("WZ-1"), "WZ-1", "RF-2", D("10.00"), date(2026, 4, 26), context())
    rejected.reject(context("supervisor-zhao"))
    paid.ledger.save(refund, rejected)
    paid.catch_up()
    live = payment_rows(paid)
    assert all(live.values()), "rows to compare in every table"
    with paid.engine.connect() as connection:
        statuses = sorted(row.status for row in connection.execute(select(PAYMENT_TABLES[1])))
    assert statuses == ["paid", "rejected"]

    runner = paid.runner
    if batch_size is not None:
        runner = ProjectionRunner(paid.ledger, paid.engine, LedgerProjection(), batch_size=batch_size)
    assert runner.rebuild() == paid.runner.max_notification_id()
    assert payment_rows(paid) == live


def test_the_migration_creates_the_payment_tables_as_declared(container: Container) -> None:
    names = {table.name for table in (*PAYMENT_TABLES, balances)}
    with container.engine.connect() as connection:
        differences = compare_metadata(MigrationContext.configure(connection), metadata)

    def concerns_payments(difference: Any) -> bool:
        flat = difference if isinstance(difference, tuple) else difference[0]
        return any(
            getattr(part, "name", part) in names or getattr(getattr(part, "table", None), "name", None) in names
            for part in flat
        )

    assert [difference for difference in differences if concerns_payments(difference)] == []


# -- properties -----------------------------------------------------------------------------------

PROPERTY_ACCOUNTS = itertools.count(1)
FIRST_PAYMENT_DAY = date(2025, 10, 1)


@st.composite
def payment_histories(draw: st.DrawFn) -> list[tuple[str, int, int, int | None]]:
    """Steps of one household's history: ("pay", cents, day offset, named bill 0/1 or None) or
    ("reverse", index of an earlier payment, days after it was received, unused)."""
    steps: list[tuple[str, int, int, int | None]] = []
    payments_made = 0
    for _ in range(draw(st.integers(1, 12))):
        if payments_made and draw(st.booleans()) and draw(st.booleans()):
            steps.append(("reverse", draw(st.integers(0, payments_made - 1)), draw(st.integers(0, 60)), None))
            continue
        cents = draw(st.integers(1, 300_000))
        named = draw(st.one_of(st.none(), st.integers(0, 1)))
        steps.append(("pay", cents, draw(st.integers(0, 300)), named))
        payments_made += 1
    return steps


@settings(max_examples=25, deadline=None)
@given(history=payment_histories())
def test_allocation_and_balance_invariants_hold_for_any_history(
    sqlite_container: Container, history: list[tuple[str, int, int, int | None]]
) -> None:
    container = sqlite_container
    account = f"HP-{next(PROPERTY_ACCOUNTS)}"
    register_household(container.ledger, account)
    period = prepaid_period(container, account)
    settle(period, "40.000")  # a prepayment of 1944.00 and a settlement of +395.20
    container.ledger.save(period)
    bills = [bill.bill_id for bill in period.issued()]
    charged = D("2339.20")

    made: list[Payment] = []
    reversed_ids: set[UUID] = set()
    for step, first, second, named in history:
        if step == "pay":
            day = FIRST_PAYMENT_DAY + timedelta(days=second)
            received_at = at(day, 8) + timedelta(seconds=len(made))
            named_bill = None if named is None else bills[named]
            made.append(
                pay(
                    container,
                    account,
                    str(D(first) / 100),
                    received_at,
                    f"{account}-{len(made)}",
                    named_bill_id=named_bill,
                    save=False,
                )
            )
            continue
        payment = made[first]
        if payment.is_reversed:
            continue
        payment.reverse(ReversalKind.BOUNCED, payment.received_on + timedelta(days=second), context())
        reversed_ids.add(payment.id)
    container.ledger.save(*made)
    container.catch_up()

    paid = sum((payment.amount_yuan for payment in made), D(0))
    reversed_ = sum((payment.amount_yuan for payment in made if payment.id in reversed_ids), D(0))
    household_id = household(account)
    with container.engine.connect() as connection:
        balance = connection.execute(select(balances).where(balances.c.household_id == household_id)).one()
        lines = connection.execute(
            select(payment_allocations).where(payment_allocations.c.household_id == household_id)
        ).all()
        open_rows = connection.execute(select(open_charges).where(open_charges.c.household_id == household_id)).all()
    assert balance.balance_yuan == charged - paid + reversed_
    assert balance.charged_yuan - balance.paid_yuan == balance.balance_yuan
    queries = PaymentQueries(container.engine)
    assert queries.balance_as_of(household_id, date(2030, 1, 1)).balance_yuan == balance.balance_yuan

    for payment in made:
        allocated = sum((line.amount_yuan for line in lines if line.credit_id == payment.id), D(0))
        assert allocated <= (0 if payment.id in reversed_ids else payment.amount_yuan)
    for bill in period.issued():
        allocated = sum((line.amount_yuan for line in lines if line.charge_id == bill.bill_id), D(0))
        still_open = sum((row.open_yuan for row in open_rows if row.charge_id == bill.bill_id), D(0))
        assert allocated + still_open == bill.amount_yuan
    allocated_total = sum((line.amount_yuan for line in lines), D(0))
    assert queries.unallocated_credit_yuan(household_id) == paid - reversed_ - allocated_total
    # Money owed minus credit held is the balance.
    credit = queries.unallocated_credit_yuan(household_id)
    assert sum((row.open_yuan for row in open_rows), D(0)) - credit == balance.balance_yuan

    live = payment_rows(container)
    container.runner.rebuild()
    assert payment_rows(container) == live
