"""Every read model that sums households (per season, community, building, day) agrees with the
households' own accounts, for any history, on each backend.

Hypothesis draws a community of households, each with its bills (the 2025-2026 prepayment, maybe
its settlement, maybe the next season's prepayment and settlement; settlements are supplements or
credit notes), counter and online payments (some naming a bill), a refund of part of its credit
(approved and maybe paid out) and reversals of payments, some after the refund. Then:

- per household and season, what its account allocates to the season's charges and leaves open
  adds up to what they charged (money is conserved);
- the season's community balances, collection rates and bill totals are the sums of those
  per-household figures; the all-season balances are the sums of the households' balances, and
  each balance is what the account leaves open less the credit held;
- arrears aging, its totals and what is past due are the sums of the open charges bucketed by
  hand; the day journal is the sum of the payments taken that day.

Each example uses its own community, clerk and online actor, so one store serves them all.
"""

from __future__ import annotations

import itertools
from collections import defaultdict
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from decimal import ROUND_HALF_UP, Decimal
from uuid import UUID

from hypothesis import example, given, settings
from hypothesis import strategies as st

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
from projections.arrears_queries import ArrearsQueries
from projections.billing_queries import BalanceRecord, BillingQueries, BillRecord
from projections.payment_queries import (
    AGING_BUCKET_LAST_DAYS,
    AllocationRecord,
    OpenChargeRecord,
    PaymentQueries,
    PaymentRecord,
)
from tests.strategies import context, register_household

D = Decimal
ZERO = D("0.00")
SEASONS = (Season.default_starting(2025), Season.default_starting(2026))
TERMS = TariffTerms(
    TwoPartPrice(D("21.6"), D(30), D("43.9"), SettlementPolicy.BOTH_WAYS, position_correction=PositionCorrection.NONE)
)
FIRST_PAYMENT_DAY = date(2025, 10, 1)
REFUND_DAY = date(2027, 6, 1)
FAR_AHEAD = date(2040, 1, 1)
EXAMPLES = itertools.count(1)
PAYMENT_CREDIT = "payment"
NOTE_CREDIT = "settlement_credit"


# -- what hypothesis draws ------------------------------------------------------------------------


@dataclass(frozen=True)
class PaymentPlan:
    cents: int
    day_offset: int  # days after FIRST_PAYMENT_DAY
    named_bill: int | None  # index into the household's bills, modulo their number
    online: bool
    reversed_after_days: int | None


@dataclass(frozen=True)
class HouseholdPlan:
    building: str
    area_m2: int
    settled_gj: tuple[int | None, int | None]  # per season; None: not settled
    next_season: bool
    payments: tuple[PaymentPlan, ...]
    refund_cents: int | None
    refund_paid_out: bool


payment_plans = st.builds(
    PaymentPlan,
    cents=st.integers(1, 400_000),
    day_offset=st.integers(0, 900),
    named_bill=st.none() | st.integers(0, 3),
    online=st.booleans(),
    reversed_after_days=st.none() | st.none() | st.integers(0, 400),
)
household_plans = st.builds(
    HouseholdPlan,
    building=st.sampled_from(("1", "2")),
    area_m2=st.integers(30, 150),
    settled_gj=st.tuples(st.none() | st.integers(0, 80), st.none() | st.integers(0, 80)),
    next_season=st.booleans(),
    payments=st.lists(payment_plans, max_size=5).map(tuple),
    refund_cents=st.none() | st.integers(1, 200_000),
    refund_paid_out=st.booleans(),
)
report_days = st.lists(st.dates(date(2025, 10, 20), date(2028, 6, 30)), min_size=1, max_size=3)


# -- building the history -------------------------------------------------------------------------


@dataclass(frozen=True)
class Example:
    community: str
    clerk: str
    online_actor: str
    accounts: dict[str, HouseholdPlan]


def at(day: date, hour: int) -> datetime:
    return datetime.combine(day, time(hour), BUSINESS_TIME_ZONE).astimezone(UTC)


def tariff_of(container: Container) -> Tariff:
    """The city's residential tariff, opened and published once per store."""
    existing = container.ledger.load_or_none(Tariff, ids.tariff_id(CustomerClass.RESIDENTIAL, CITY_SCOPE))
    if existing is not None:
        return existing
    tariff = Tariff.open(CustomerClass.RESIDENTIAL, CITY_SCOPE, context())
    tariff.publish(TERMS, date(2025, 10, 1), None, "宁价商〔2025〕12号", date(2025, 9, 20), context())
    container.ledger.save(tariff)
    return tariff


def billed_periods(container: Container, example: Example, account: str, plan: HouseholdPlan) -> list[BillingPeriod]:
    """The prepayment a week before each season billed, and its settlement ten days after it."""
    tariff = tariff_of(container)
    periods = []
    for season, settled_gj in zip(SEASONS[: 1 + plan.next_season], plan.settled_gj, strict=False):
        period = BillingPeriod.open(
            ids.household_id(account),
            account,
            example.community,
            plan.building,
            season,
            tariff.id,
            CITY_SCOPE,
            tariff.versions[0],
            D(plan.area_m2),
            D("1.000"),
            context(),
        )
        period.invoice_prepayment(False, season.first_day - timedelta(days=7), context())
        if settled_gj is not None:
            evidence = MeterEvidence(D(settled_gj), D(0), season.days, 0, 0, ("M-1",))
            segment = SegmentInputs(season.first_day, season.last_day, 0, evidence)
            inputs = SettlementInputs((segment,), None, period.prepaid_yuan)
            period.settle(inputs, season.last_day + timedelta(days=10), context())
        periods.append(period)
    return periods


def received_payments(example: Example, account: str, plan: HouseholdPlan, bills: list[UUID]) -> list[Payment]:
    made = []
    for number, payment in enumerate(plan.payments):
        day = FIRST_PAYMENT_DAY + timedelta(days=payment.day_offset)
        channel = PaymentChannel.ONLINE if payment.online else PaymentChannel.CASH
        named = None if payment.named_bill is None else bills[payment.named_bill % len(bills)]
        made.append(
            Payment.receive(
                ids.household_id(account),
                account,
                D(payment.cents) / 100,
                channel,
                "alipay" if payment.online else COUNTER,
                f"{account}-P{number}",
                at(day, 8 + number),
                day,
                named,
                context(example.online_actor if payment.online else example.clerk),
            )
        )
    return made


def record_history(container: Container, example: Example) -> None:
    """Bills and payments; then a refund of part of each household's credit; then reversals (so a
    payment may bounce after the credit it gave was paid out)."""
    made: dict[str, list[Payment]] = {}
    for account, plan in example.accounts.items():
        register_household(
            container.ledger, account, example.community, plan.building, connected_area_m2=f"{plan.area_m2}.00"
        )
        periods = billed_periods(container, example, account, plan)
        bills = [bill.bill_id for period in periods for bill in period.issued()]
        made[account] = received_payments(example, account, plan, bills)
        container.ledger.save(*periods, *made[account])
    container.catch_up()
    credits = PaymentQueries(container.engine)
    for account, plan in example.accounts.items():
        credit = credits.unallocated_credit_yuan(ids.household_id(account))
        if plan.refund_cents is None or credit <= 0:
            continue
        refund = RefundPayout.request(
            ids.household_id(account),
            account,
            f"RF-{account}",
            min(D(plan.refund_cents) / 100, credit),
            REFUND_DAY,
            context(example.clerk),
        )
        refund.approve(context("supervisor-zhao"))
        if plan.refund_paid_out:
            refund.pay_out(REFUND_DAY + timedelta(days=2), f"BK-{account}", context(example.clerk))
        container.ledger.save(refund)
    container.catch_up()
    for account, plan in example.accounts.items():
        for payment, payment_plan in zip(made[account], plan.payments, strict=True):
            if payment_plan.reversed_after_days is not None:
                reversed_on = payment.received_on + timedelta(days=payment_plan.reversed_after_days)
                payment.reverse(ReversalKind.BOUNCED, reversed_on, context(example.clerk, "bounced"))
        container.ledger.save(*made[account])
    container.catch_up()


# -- the households' own figures ------------------------------------------------------------------


@dataclass(frozen=True)
class Account:
    """A household as its own reads show it."""

    household_id: UUID
    building: str
    bills: list[BillRecord]
    allocations: list[AllocationRecord]
    open_charges: list[OpenChargeRecord]
    credit_yuan: Decimal
    balance: BalanceRecord | None
    payments: list[PaymentRecord]

    def season_charges(self, season_code: str) -> dict[UUID, Decimal]:
        return {
            bill.bill_id: bill.amount_yuan
            for bill in self.bills
            if bill.season_code == season_code and bill.amount_yuan > 0
        }

    def season_figures(self, season_code: str) -> tuple[Decimal, Decimal, Decimal, Decimal]:
        """Charged, settled by payments, settled by credit notes, still open, of the season."""
        charges = self.season_charges(season_code)
        settling = [line for line in self.allocations if line.charge_id in charges]
        return (
            sum(charges.values(), ZERO),
            sum((line.amount_yuan for line in settling if line.credit_kind == PAYMENT_CREDIT), ZERO),
            sum((line.amount_yuan for line in settling if line.credit_kind == NOTE_CREDIT), ZERO),
            sum((charge.open_yuan for charge in self.open_charges if charge.charge_id in charges), ZERO),
        )

    def has_bill_of(self, season_code: str) -> bool:
        return any(bill.season_code == season_code for bill in self.bills)


def read_accounts(container: Container, example: Example) -> dict[str, Account]:
    billing, payments = BillingQueries(container.engine), PaymentQueries(container.engine)
    accounts = {}
    for account, plan in example.accounts.items():
        household_id = ids.household_id(account)
        bills = billing.bills_of_household(household_id, limit=100)
        paid = payments.payments_of_household(household_id, limit=100)
        assert not bills.has_more and not paid.has_more
        accounts[account] = Account(
            household_id,
            plan.building,
            bills.items,
            payments.allocations_of_household(household_id),
            payments.open_charges_of_household(household_id),
            payments.unallocated_credit_yuan(household_id),
            billing.balance(household_id),
            paid.items,
        )
    return accounts


def total(values: list[Decimal]) -> Decimal:
    return sum(values, ZERO)


# -- the property ---------------------------------------------------------------------------------


# A 2025 credit note (0 GJ: 583.20 − 1944.00 = −1360.80) left as credit after the prepayment was
# paid, settling the 2026 prepayment: a season's charges settled by another season's note.
CROSS_SEASON_NOTE = HouseholdPlan("1", 90, (0, None), True, (PaymentPlan(194_400, 35, None, False, None),), None, False)
# 3000.00 paid against 2339.20 (40 GJ: 1944.00 + 395.20); the 660.80 credit paid out as a refund;
# then the payment bounces: the bills and the payout are open again.
BOUNCED_AFTER_REFUND = HouseholdPlan(
    "2", 90, (40, None), False, (PaymentPlan(300_000, 35, 0, False, 700),), 100_000, True
)


@settings(max_examples=15, deadline=None)
@example(plans=[CROSS_SEASON_NOTE, BOUNCED_AFTER_REFUND], days=[date(2026, 11, 2), date(2027, 11, 1)])
@given(plans=st.lists(household_plans, min_size=1, max_size=3), days=report_days)
def test_every_summing_read_model_agrees_with_the_households_accounts(
    container: Container, plans: list[HouseholdPlan], days: list[date]
) -> None:
    number = next(EXAMPLES)
    example = Example(
        community=f"PB-{number}",
        clerk=f"clerk-pb-{number}",
        online_actor=f"alipay-pb-{number}",
        accounts={f"PB-{number}-{index}": plan for index, plan in enumerate(plans)},
    )
    record_history(container, example)
    accounts = read_accounts(container, example)

    for account in accounts.values():
        assert_the_account_conserves_money(container, account)
    for season in SEASONS:
        assert_season_balances_sum_the_accounts(container, example, accounts, season.code)
        assert_collection_rates_sum_the_accounts(container, example, accounts, season.code)
        assert_season_totals_sum_the_bills(container, example, accounts, season.code)
    assert_all_season_balances_sum_the_accounts(container, example, accounts)
    for day in days:
        assert_aging_sums_the_open_charges(container, example, accounts, day)
        assert_past_due_sums_the_open_charges(container, example, accounts, day)
        assert_the_balance_on_a_day_counts_what_happened_by_then(container, accounts, day)
    assert_the_journal_sums_the_payments(container, example, accounts)


def assert_the_account_conserves_money(container: Container, account: Account) -> None:
    """Allocated + open = charges; allocated + credit = credits; balance = open − credit."""
    kept = [payment for payment in account.payments if payment.reversed_on is None]
    notes = [-bill.amount_yuan for bill in account.bills if bill.amount_yuan < 0]
    charges = [bill.amount_yuan for bill in account.bills if bill.amount_yuan > 0]
    payouts = [line.amount_yuan for line in account.allocations if line.charge_kind == "refund_payout"]
    payouts += [charge.open_yuan for charge in account.open_charges if charge.kind == "refund_payout"]
    allocated = total([line.amount_yuan for line in account.allocations])
    open_yuan = total([charge.open_yuan for charge in account.open_charges])
    assert allocated + open_yuan == total(charges) + total(payouts)
    assert allocated + account.credit_yuan == total([payment.amount_yuan for payment in kept]) + total(notes)
    for season in SEASONS:
        charged, paid, from_notes, still_open = account.season_figures(season.code)
        assert paid + from_notes + still_open == charged
    assert {charge.season_code for charge in account.open_charges if charge.kind != "refund_payout"} <= {
        season.code for season in SEASONS
    }
    if account.balance is None:
        assert not account.bills and not account.payments
        return
    balance = account.balance
    assert balance.charged_yuan == total([bill.amount_yuan for bill in account.bills]) + total(payouts)
    assert balance.paid_yuan == total([payment.amount_yuan for payment in kept])
    assert balance.balance_yuan == balance.charged_yuan - balance.paid_yuan == open_yuan - account.credit_yuan
    far = PaymentQueries(container.engine).balance_as_of(account.household_id, FAR_AHEAD)
    assert far.balance_yuan == balance.balance_yuan
    assert (far.charged_yuan + far.refunded_yuan, far.paid_yuan - far.reversed_yuan) == (
        balance.charged_yuan,
        balance.paid_yuan,
    )


def assert_season_balances_sum_the_accounts(
    container: Container, example: Example, accounts: dict[str, Account], season_code: str
) -> None:
    billed = [account for account in accounts.values() if account.has_bill_of(season_code)]
    rows = [
        row
        for row in BillingQueries(container.engine).community_balances(season_code)
        if row.community == example.community
    ]
    if not billed:
        assert rows == []
        return
    (row,) = rows
    figures = [account.season_figures(season_code) for account in billed]
    charged, paid, from_notes, still_open = (total([figure[index] for figure in figures]) for index in range(4))
    assert (row.households, row.charged_yuan, row.paid_yuan, row.from_credit_notes_yuan, row.balance_yuan) == (
        len(billed),
        charged,
        paid,
        from_notes,
        still_open,
    )


def assert_collection_rates_sum_the_accounts(
    container: Container, example: Example, accounts: dict[str, Account], season_code: str
) -> None:
    records = PaymentQueries(container.engine).collection_rates(season_code, example.community)
    expected = []
    for building in sorted({account.building for account in accounts.values()}):
        charged_here = [
            account
            for account in accounts.values()
            if account.building == building and account.season_charges(season_code)
        ]
        if not charged_here:
            continue
        figures = [account.season_figures(season_code) for account in charged_here]
        charged, paid, from_notes, still_open = (total([figure[index] for figure in figures]) for index in range(4))
        rate = (100 * (paid + from_notes) / charged).quantize(D("0.01"), ROUND_HALF_UP)
        expected.append((building, len(charged_here), charged, paid + from_notes, from_notes, still_open, rate))
    assert [
        (
            record.building,
            record.households,
            record.charged_yuan,
            record.collected_yuan,
            record.from_credit_notes_yuan,
            record.open_yuan,
            record.rate_percent,
        )
        for record in records
    ] == expected


def assert_season_totals_sum_the_bills(
    container: Container, example: Example, accounts: dict[str, Account], season_code: str
) -> None:
    expected: dict[str, tuple[int, Decimal]] = {}
    for account in accounts.values():
        for bill in account.bills:
            if bill.season_code == season_code:
                count, amount = expected.get(bill.kind, (0, ZERO))
                expected[bill.kind] = (count + 1, amount + bill.amount_yuan)
    totals = BillingQueries(container.engine).season_totals(season_code, example.community)
    assert {kind: (figure.bills, figure.amount_yuan) for kind, figure in totals.items()} == expected


def assert_all_season_balances_sum_the_accounts(
    container: Container, example: Example, accounts: dict[str, Account]
) -> None:
    balances = [account.balance for account in accounts.values() if account.balance is not None]
    (row,) = [
        row for row in BillingQueries(container.engine).community_balances() if row.community == example.community
    ]
    assert (row.households, row.charged_yuan, row.paid_yuan, row.balance_yuan, row.from_credit_notes_yuan) == (
        len(balances),
        total([balance.charged_yuan for balance in balances]),
        total([balance.paid_yuan for balance in balances]),
        total([balance.balance_yuan for balance in balances]),
        None,
    )


def bucket_of(charge: OpenChargeRecord, as_of: date) -> int:
    """0: not yet due; then one bucket per AGING_BUCKET_LAST_DAYS range, the last open-ended."""
    days_past_due = (as_of - charge.due_on).days
    if days_past_due < 0:
        return 0
    for index, last_day in enumerate(AGING_BUCKET_LAST_DAYS):
        if days_past_due <= last_day:
            return index + 1
    return len(AGING_BUCKET_LAST_DAYS) + 1


def assert_aging_sums_the_open_charges(
    container: Container, example: Example, accounts: dict[str, Account], as_of: date
) -> None:
    expected = {}
    for account_number, account in sorted(accounts.items()):
        buckets = [ZERO] * (len(AGING_BUCKET_LAST_DAYS) + 2)
        issued = [charge for charge in account.open_charges if charge.issued_on <= as_of]
        for charge in issued:
            buckets[bucket_of(charge, as_of)] += charge.open_yuan
        if issued:
            expected[account_number] = (*buckets, total(buckets))
    queries = PaymentQueries(container.engine)
    aging = queries.aging(as_of, example.community)
    assert {
        record.account_number: (
            record.current_yuan,
            record.days_0_30_yuan,
            record.days_31_90_yuan,
            record.days_91_180_yuan,
            record.days_181_365_yuan,
            record.over_365_yuan,
            record.total_yuan,
        )
        for record in aging
    } == expected
    totals = queries.aging_totals(as_of, example.community)
    sums = tuple(total([figures[index] for figures in expected.values()]) for index in range(7))
    assert (
        totals.households,
        totals.current_yuan,
        totals.days_0_30_yuan,
        totals.days_31_90_yuan,
        totals.days_91_180_yuan,
        totals.days_181_365_yuan,
        totals.over_365_yuan,
        totals.total_yuan,
    ) == (len(expected), *sums)


def assert_past_due_sums_the_open_charges(
    container: Container, example: Example, accounts: dict[str, Account], as_of: date
) -> None:
    expected = {}
    for account_number, account in sorted(accounts.items()):
        due = [charge for charge in account.open_charges if charge.issued_on <= as_of and charge.due_on <= as_of]
        if due:
            expected[account_number] = (total([charge.open_yuan for charge in due]), min(c.due_on for c in due))
    records = ArrearsQueries(container.engine).past_due(as_of, example.community)
    assert {record.account_number: (record.past_due_yuan, record.oldest_due_on) for record in records} == expected


def assert_the_balance_on_a_day_counts_what_happened_by_then(
    container: Container, accounts: dict[str, Account], day: date
) -> None:
    queries = PaymentQueries(container.engine)
    for account in accounts.values():
        payouts = [
            charge for charge in account.open_charges if charge.kind == "refund_payout" and charge.issued_on <= day
        ]
        payout_ids = {line.charge_id for line in account.allocations if line.charge_kind == "refund_payout"}
        refunded = total([charge.amount_yuan for charge in payouts])
        if payout_ids:
            # A payout settled in full shows only in the allocations; its day is the refund's.
            settled = total([line.amount_yuan for line in account.allocations if line.charge_id in payout_ids])
            open_part = total([charge.open_yuan for charge in account.open_charges if charge.charge_id in payout_ids])
            refunded = settled + open_part if REFUND_DAY + timedelta(days=2) <= day else ZERO
        expected = (
            total([bill.amount_yuan for bill in account.bills if bill.issued_on <= day]),
            total([payment.amount_yuan for payment in account.payments if payment.received_on <= day]),
            total(
                [
                    payment.amount_yuan
                    for payment in account.payments
                    if payment.reversed_on is not None and payment.reversed_on <= day
                ]
            ),
            refunded,
        )
        balance = queries.balance_as_of(account.household_id, day)
        assert (balance.charged_yuan, balance.paid_yuan, balance.reversed_yuan, balance.refunded_yuan) == expected
        assert balance.balance_yuan == expected[0] - expected[1] + expected[2] + expected[3]


def assert_the_journal_sums_the_payments(container: Container, example: Example, accounts: dict[str, Account]) -> None:
    by_day: dict[tuple[date, str, str], list[PaymentRecord]] = defaultdict(list)
    for account in accounts.values():
        for payment in account.payments:
            by_day[(payment.received_on, payment.channel, payment.actor)].append(payment)
    queries = PaymentQueries(container.engine)
    for actor in (example.clerk, example.online_actor):
        for day in sorted({key[0] for key in by_day if key[2] == actor}):
            journal = queries.journal(day, actor=actor)
            expected = []
            for (received_on, channel, clerk), taken in sorted(by_day.items()):
                if received_on != day or clerk != actor:
                    continue
                reversed_ = [payment for payment in taken if payment.reversed_on is not None]
                amount = total([payment.amount_yuan for payment in taken])
                reversed_amount = total([payment.amount_yuan for payment in reversed_])
                expected.append(
                    (channel, len(taken), amount, len(reversed_), reversed_amount, amount - reversed_amount)
                )
            assert [
                (
                    record.channel,
                    record.payments,
                    record.total_yuan,
                    record.reversed_payments,
                    record.reversed_yuan,
                    record.net_yuan,
                )
                for record in journal
            ] == expected
