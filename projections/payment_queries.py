"""Reads of the payment read models: payments, allocations, balances as of a day, arrears aging,
collection rates and the payment journal.

Like ``projections.billing_queries``: SQLAlchemy Core selects that give frozen dataclass records of
plain values; sums of the ScaledDecimal money columns are taken in SQL and stay exact on both
backends. Day arithmetic is done on dates computed here (never SQL date functions), so the same
statement runs on SQLite and PostgreSQL.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from functools import lru_cache
from typing import Any
from uuid import UUID

from sqlalchemy import (
    ColumnElement,
    CompoundSelect,
    Engine,
    Integer,
    Select,
    and_,
    bindparam,
    case,
    cast,
    exists,
    func,
    literal_column,
    null,
    select,
    union_all,
)
from sqlalchemy.types import Boolean, String, Uuid

from domain.dispute_hold import DisputeHold
from projections.queries import MAXIMUM_PAGE_SIZE, Page
from projections.season_charges import season_charges_settled
from projections.tables import (
    MONEY_SCALE,
    bills,
    household_credits,
    household_disputed_amounts,
    household_protections,
    households,
    open_charges,
    payment_allocations,
    payments,
    refund_payouts,
)

# Zero with the scale the tables store, so that empty sums look like filled ones.
ZERO_YUAN = Decimal(0).scaleb(-MONEY_SCALE)
PERCENT = Decimal("0.01")

# Arrears aging: the last day past due of each bucket (the last bucket is open-ended).
AGING_BUCKET_LAST_DAYS = (30, 90, 180, 365)


@dataclass(frozen=True)
class PaymentRecord:
    """A payment received; ``actor`` is the clerk (or the online provider's account) who took it.
    The reversal fields are None unless it was taken back."""

    payment_id: UUID
    household_id: UUID
    account_number: str
    community: str
    building: str
    amount_yuan: Decimal
    channel: str
    source: str
    reference: str
    received_at: datetime
    received_on: date
    named_bill_id: UUID | None
    actor: str
    reversed_on: date | None
    reversal_kind: str | None
    reversed_by: str | None


@dataclass(frozen=True)
class AllocationRecord:
    """Part of a credit settling part of a charge, in the order the allocation made them.

    ``credit_kind`` is ``payment`` or ``settlement_credit`` (a settlement's credit note);
    ``credit_reference`` is the payment's reference or the credit note's bill number.
    ``charge_kind`` is ``bill`` or ``refund_payout``; ``bill_number`` is the charged bill's number
    (None for a refund payout)."""

    sequence: int
    credit_id: UUID
    credit_kind: str
    credit_reference: str | None
    charge_id: UUID
    charge_kind: str
    bill_number: str | None
    amount_yuan: Decimal


@dataclass(frozen=True)
class OpenChargeRecord:
    """A charge not yet settled in full: ``open_yuan`` of its ``amount_yuan`` is still owed."""

    charge_id: UUID
    household_id: UUID
    community: str
    building: str
    season_code: str | None
    kind: str
    issued_on: date
    due_on: date
    amount_yuan: Decimal
    open_yuan: Decimal


@dataclass(frozen=True)
class HouseholdAccountRecord:
    """A household's account as ``GET /households/{account}/account`` shows it, read in one
    statement: its open charges (the first due first), its allocations (in order), its credit,
    what its open disputes hold, and whether a household has the account number at all."""

    registered: bool
    open_charges: list[OpenChargeRecord]
    allocations: list[AllocationRecord]
    credit_yuan: Decimal
    hold: DisputeHold


@dataclass(frozen=True)
class BalanceAsOf:
    """A household's account at the end of ``day``: bills issued (net of credit notes), payments
    received, payments reversed since, refunds paid out, and the balance still owed
    (charged − paid + reversed + refunded; negative: owed to the household)."""

    household_id: UUID
    day: date
    charged_yuan: Decimal
    paid_yuan: Decimal
    reversed_yuan: Decimal
    refunded_yuan: Decimal
    balance_yuan: Decimal


@dataclass(frozen=True)
class AgingRecord:
    """A household's open charges by days past due on ``as_of`` (``current``: not yet due)."""

    household_id: UUID
    account_number: str
    community: str
    building: str
    current_yuan: Decimal
    days_0_30_yuan: Decimal
    days_31_90_yuan: Decimal
    days_91_180_yuan: Decimal
    days_181_365_yuan: Decimal
    over_365_yuan: Decimal
    total_yuan: Decimal


@dataclass(frozen=True)
class AgingTotals:
    """The aging of every household with charges open (in ``community``, or the city) summed."""

    as_of: date
    community: str | None
    households: int
    current_yuan: Decimal
    days_0_30_yuan: Decimal
    days_31_90_yuan: Decimal
    days_91_180_yuan: Decimal
    days_181_365_yuan: Decimal
    over_365_yuan: Decimal
    total_yuan: Decimal


@dataclass(frozen=True)
class CollectionRateRecord:
    """What a building's households were charged for a season (its bills that charge money) and
    how much of it is settled; ``from_credit_notes_yuan`` is the part settled by settlement credit
    notes rather than payments. ``rate_percent`` is collected / charged in % (2 decimals, None when
    nothing was charged)."""

    season_code: str
    community: str
    building: str
    households: int
    charged_yuan: Decimal
    collected_yuan: Decimal
    from_credit_notes_yuan: Decimal
    open_yuan: Decimal
    rate_percent: Decimal | None


@dataclass(frozen=True)
class JournalRecord:
    """The payments one clerk took through one channel on one day (the cash-up): how many and
    their total, how many of them were reversed since and for how much, and what stands."""

    day: date
    channel: str
    actor: str
    payments: int
    total_yuan: Decimal
    reversed_payments: int
    reversed_yuan: Decimal
    net_yuan: Decimal


@dataclass(frozen=True)
class RefundRecord:
    """A refund payout and where it stands: ``requested`` (awaiting a second person), ``approved``
    (awaiting the payout), ``rejected`` or ``paid`` (on ``paid_on``, under the bank's ``reference``)."""

    refund_id: UUID
    household_id: UUID
    account_number: str
    request_number: str
    amount_yuan: Decimal
    status: str
    requested_on: date
    requested_by: str
    approved_by: str | None
    paid_on: date | None
    reference: str | None


# The bills table twice under its own names, made once: an alias made per call builds its column
# collection again on every call, which was a quarter of GET /households/{account}/account's time.
CHARGED_BILL = bills.alias("charged_bill")
CREDIT_NOTE = bills.alias("credit_note")


class PaymentQueries:
    """Payments, allocations, balances, aging, collection rates and the journal from the read
    models on ``engine``. Also the refund check's ``CreditReader``."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    # -- credit -------------------------------------------------------------------------------

    def unallocated_credit_yuan(self, household_id: UUID) -> Decimal:
        """Credit the household has (payments and settlement refunds not yet used), in 元."""
        with self.engine.connect() as connection:
            credit = connection.execute(_CREDIT_OF_HOUSEHOLD, {"household_id": household_id}).scalar_one_or_none()
        return _yuan(credit)

    def pending_refunds_yuan(self, household_id: UUID, excluding: UUID | None = None) -> Decimal:
        """Refunds requested or approved but not yet paid out (or rejected), in 元."""
        conditions = [
            refund_payouts.c.household_id == household_id,
            refund_payouts.c.status.in_(("requested", "approved")),
        ]
        if excluding is not None:
            conditions.append(refund_payouts.c.refund_id != excluding)
        statement = select(func.sum(refund_payouts.c.amount_yuan)).where(*conditions)
        with self.engine.connect() as connection:
            return _yuan(connection.execute(statement).scalar_one_or_none())

    # -- a household's payments and allocations ------------------------------------------------

    def payments_of_household(self, household_id: UUID, limit: int = 50, offset: int = 0) -> Page[PaymentRecord]:
        """A household's payments, reversed ones included, the latest received first."""
        condition = payments.c.household_id == household_id
        page = (
            select(payments)
            .where(condition)
            .order_by(payments.c.received_at.desc(), payments.c.payment_id)
            .limit(_bounded(limit))
            .offset(_offset(offset))
        )
        total = select(func.count()).select_from(payments).where(condition)
        with self.engine.connect() as connection:
            items = [PaymentRecord(**row) for row in connection.execute(page).mappings()]
            count = int(connection.execute(total).scalar_one())
        return Page(items, count, has_more=offset + len(items) < count)

    def payments_of_day(
        self, day: date, channel: str | None = None, actor: str | None = None, limit: int = 50, offset: int = 0
    ) -> Page[PaymentRecord]:
        """The payments received on ``day`` (of one channel and clerk, if given), in the order they
        were received: the lines behind the journal's totals."""
        conditions = _journal_conditions(day, channel, actor)
        page = (
            select(payments)
            .where(*conditions)
            .order_by(payments.c.received_at, payments.c.payment_id)
            .limit(_bounded(limit))
            .offset(_offset(offset))
        )
        total = select(func.count()).select_from(payments).where(*conditions)
        with self.engine.connect() as connection:
            items = [PaymentRecord(**row) for row in connection.execute(page).mappings()]
            count = int(connection.execute(total).scalar_one())
        return Page(items, count, has_more=offset + len(items) < count)

    def payment(self, payment_id: UUID) -> PaymentRecord | None:
        """The payment with this id, or None."""
        with self.engine.connect() as connection:
            row = connection.execute(select(payments).where(payments.c.payment_id == payment_id)).mappings().first()
        return PaymentRecord(**row) if row else None

    def allocations_of_household(self, household_id: UUID, limit: int = MAXIMUM_PAGE_SIZE) -> list[AllocationRecord]:
        """Which credit settles which charge, in the order the allocation made them."""
        arguments = {"household_id": household_id, "limit": _bounded(limit)}
        with self.engine.connect() as connection:
            rows = connection.execute(_ALLOCATIONS_OF_HOUSEHOLD, arguments).mappings()
            return [AllocationRecord(**row) for row in rows]

    def allocations_of_credit(self, household_id: UUID, credit_id: UUID) -> list[AllocationRecord]:
        """What one credit of the household (a payment, a credit note) settles now, in the order the
        allocation made them (a reversal or a late bill re-allocates: this is today's answer)."""
        allocations = payment_allocations.c
        return self._allocations(
            and_(allocations.household_id == household_id, allocations.credit_id == credit_id), MAXIMUM_PAGE_SIZE
        )

    def _allocations(self, condition: ColumnElement[bool], limit: int) -> list[AllocationRecord]:
        statement = _allocations_select(condition).limit(_bounded(limit))
        with self.engine.connect() as connection:
            return [AllocationRecord(**row) for row in connection.execute(statement).mappings()]

    def open_charges_of_household(self, household_id: UUID) -> list[OpenChargeRecord]:
        """The household's charges not yet settled in full, the first due first."""
        with self.engine.connect() as connection:
            rows = connection.execute(_OPEN_CHARGES_OF_HOUSEHOLD, {"household_id": household_id}).mappings()
            return [OpenChargeRecord(**row) for row in rows]

    def account_of_household(self, household_id: UUID, account_number: str) -> HouseholdAccountRecord:
        """The household's open charges, allocations, credit and dispute hold, and whether it is
        registered, in one statement: what ``open_charges_of_household``,
        ``allocations_of_household``, ``unallocated_credit_yuan``, ``DisputeQueries.hold_of`` and
        the household's look-up answer one by one in five (issue 17: each statement a round trip
        and about 0.1 ms of SQLAlchemy and psycopg; a property test holds the two to each other)."""
        arguments = {"household_id": household_id, "account_number": account_number, "limit": MAXIMUM_PAGE_SIZE}
        with self.engine.connect() as connection:
            rows = connection.execute(_ACCOUNT_OF_HOUSEHOLD, arguments).all()
        return _account_record(rows)

    # -- balance as of a day ------------------------------------------------------------------

    def balance_as_of(self, household_id: UUID, day: date) -> BalanceAsOf:
        """The household's account at the end of ``day``, from the facts dated up to it (bills by
        issue day, payments by the day received, reversals by the day reversed, refunds by the day
        paid out). What is known now is used: a payment recorded later for an earlier day counts."""
        charged = select(func.sum(bills.c.amount_yuan)).where(
            bills.c.household_id == household_id, bills.c.issued_on <= day
        )
        paid = select(func.sum(payments.c.amount_yuan)).where(
            payments.c.household_id == household_id, payments.c.received_on <= day
        )
        reversed_ = select(func.sum(payments.c.amount_yuan)).where(
            payments.c.household_id == household_id, payments.c.reversed_on <= day
        )
        refunded = select(func.sum(refund_payouts.c.amount_yuan)).where(
            refund_payouts.c.household_id == household_id, refund_payouts.c.paid_on <= day
        )
        with self.engine.connect() as connection:
            figures = [_yuan(connection.execute(query).scalar_one()) for query in (charged, paid, reversed_, refunded)]
        charged_yuan, paid_yuan, reversed_yuan, refunded_yuan = figures
        balance = charged_yuan - paid_yuan + reversed_yuan + refunded_yuan
        return BalanceAsOf(household_id, day, charged_yuan, paid_yuan, reversed_yuan, refunded_yuan, balance)

    # -- arrears aging ------------------------------------------------------------------------

    def aging(
        self,
        as_of: date,
        community: str | None = None,
        limit: int = MAXIMUM_PAGE_SIZE,
        offset: int = 0,
        building: str | None = None,
    ) -> list[AgingRecord]:
        """Per household with charges open (by community, building and account; of one community
        and building if given), what is open by days past due on ``as_of`` (days = as_of − due
        day): not yet due, 0–30, 31–90, 91–180, 181–365, over 365. Charges issued after ``as_of``
        are left out; the amounts are what is open now, so for a day in the past, payments made
        since have already reduced them."""
        place = (households.c.community, households.c.building, households.c.account_number)
        statement = (
            select(open_charges.c.household_id, *place, *_aging_sums(as_of))
            .join(households, households.c.household_id == open_charges.c.household_id)
            .where(*_aging_conditions(as_of, community, building))
            .group_by(open_charges.c.household_id, *place)
            .order_by(*place)
            .limit(_bounded(limit))
            .offset(_offset(offset))
        )
        with self.engine.connect() as connection:
            return [_aging_record(row) for row in connection.execute(statement).mappings()]

    def aging_totals(self, as_of: date, community: str | None = None, building: str | None = None) -> AgingTotals:
        """The aging of every household (of one community and building, or of the city) summed."""
        statement = select(
            func.count(open_charges.c.household_id.distinct()).label("households"), *_aging_sums(as_of)
        ).where(*_aging_conditions(as_of, community, building))
        with self.engine.connect() as connection:
            row = connection.execute(statement).mappings().one()
        figures = {name: _yuan(row[name]) for name in _AGING_AMOUNTS}
        return AgingTotals(
            as_of=as_of,
            community=community,
            households=int(row["households"]),
            total_yuan=sum(figures.values(), ZERO_YUAN),
            **figures,
        )

    # -- collection rates ---------------------------------------------------------------------

    def collection_rates(
        self, season_code: str, community: str | None = None, limit: int = MAXIMUM_PAGE_SIZE
    ) -> list[CollectionRateRecord]:
        """Per community and building (by name): what its bills of the season charged and how much
        of it credits have settled so far."""
        conditions: list[ColumnElement[bool]] = [bills.c.season_code == season_code, bills.c.amount_yuan > ZERO_YUAN]
        if community is not None:
            conditions.append(bills.c.community == community)
        statement = season_charges_settled(conditions, [bills.c.community, bills.c.building]).limit(_bounded(limit))
        with self.engine.connect() as connection:
            return [_collection_rate(season_code, row) for row in connection.execute(statement)]

    # -- the payment journal ------------------------------------------------------------------

    def journal(
        self, day: date, channel: str | None = None, actor: str | None = None, limit: int = MAXIMUM_PAGE_SIZE
    ) -> list[JournalRecord]:
        """Per channel and clerk (by name), the payments received on ``day``: how many, their total,
        and how many of them have been reversed since, for how much."""
        conditions = _journal_conditions(day, channel, actor)
        is_reversed = payments.c.reversed_on.is_not(None)
        statement = (
            select(
                payments.c.channel,
                payments.c.actor,
                func.count().label("payments"),
                func.sum(payments.c.amount_yuan).label("total_yuan"),
                func.sum(case((is_reversed, 1), else_=0)).label("reversed_payments"),
                func.sum(case((is_reversed, payments.c.amount_yuan), else_=0)).label("reversed_yuan"),
            )
            .where(*conditions)
            .group_by(payments.c.channel, payments.c.actor)
            .order_by(payments.c.channel, payments.c.actor)
            .limit(_bounded(limit))
        )
        with self.engine.connect() as connection:
            return [
                JournalRecord(
                    day=day,
                    channel=row.channel,
                    actor=row.actor,
                    payments=int(row.payments),
                    total_yuan=_yuan(row.total_yuan),
                    reversed_payments=int(row.reversed_payments or 0),
                    reversed_yuan=_yuan(row.reversed_yuan),
                    net_yuan=_yuan(row.total_yuan) - _yuan(row.reversed_yuan),
                )
                for row in connection.execute(statement)
            ]

    # -- refund payouts -----------------------------------------------------------------------

    def refunds(
        self, status: str | None = None, account_number: str | None = None, limit: int = 50, offset: int = 0
    ) -> Page[RefundRecord]:
        """Refund payouts (of one status and household, if given), the oldest request first:
        ``status="requested"`` lists those awaiting a second person."""
        conditions: list[ColumnElement[bool]] = []
        if status is not None:
            conditions.append(refund_payouts.c.status == status)
        if account_number is not None:
            conditions.append(refund_payouts.c.account_number == account_number)
        page = (
            select(refund_payouts)
            .where(*conditions)
            .order_by(refund_payouts.c.requested_on, refund_payouts.c.account_number, refund_payouts.c.request_number)
            .limit(_bounded(limit))
            .offset(_offset(offset))
        )
        total = select(func.count()).select_from(refund_payouts).where(*conditions)
        with self.engine.connect() as connection:
            items = [RefundRecord(**row) for row in connection.execute(page).mappings()]
            count = int(connection.execute(total).scalar_one())
        return Page(items, count, has_more=offset + len(items) < count)

    def refund(self, refund_id: UUID) -> RefundRecord | None:
        """The refund payout with this id, or None."""
        statement = select(refund_payouts).where(refund_payouts.c.refund_id == refund_id)
        with self.engine.connect() as connection:
            row = connection.execute(statement).mappings().first()
        return RefundRecord(**row) if row else None


def _journal_conditions(day: date, channel: str | None, actor: str | None) -> list[ColumnElement[bool]]:
    conditions: list[ColumnElement[bool]] = [payments.c.received_on == day]
    if channel is not None:
        conditions.append(payments.c.channel == channel)
    if actor is not None:
        conditions.append(payments.c.actor == actor)
    return conditions


def _aging_conditions(as_of: date, community: str | None, building: str | None) -> list[ColumnElement[bool]]:
    conditions: list[ColumnElement[bool]] = [open_charges.c.issued_on <= as_of]
    if community is not None:
        conditions.append(open_charges.c.community == community)
    if building is not None:
        conditions.append(open_charges.c.building == building)
    return conditions


# Built once per business day, not per request: each case() of SQLAlchemy 2.1 formats its own
# repr while it is built, and the six buckets cost a dashboard about 1 ms of CPU (issue 13).
@lru_cache(maxsize=8)
def _aging_sums(as_of: date) -> tuple[Any, ...]:
    """The open amount summed per aging bucket: a charge is d days past due when it fell due on
    as_of − d, so each bucket is a range of due days (no SQL date arithmetic)."""
    due_on = open_charges.c.due_on
    lows = (0, *(last + 1 for last in AGING_BUCKET_LAST_DAYS[:-1]))
    buckets: list[ColumnElement[bool]] = [due_on > as_of]
    buckets += [
        and_(due_on <= as_of - timedelta(days=low), due_on >= as_of - timedelta(days=high))
        for low, high in zip(lows, AGING_BUCKET_LAST_DAYS, strict=True)
    ]
    buckets.append(due_on < as_of - timedelta(days=AGING_BUCKET_LAST_DAYS[-1]))
    return tuple(
        func.sum(case((bucket, open_charges.c.open_yuan), else_=0)).label(name)
        for bucket, name in zip(buckets, _AGING_AMOUNTS, strict=True)
    )


_AGING_AMOUNTS = (
    "current_yuan",
    "days_0_30_yuan",
    "days_31_90_yuan",
    "days_91_180_yuan",
    "days_181_365_yuan",
    "over_365_yuan",
)


def _aging_record(row: Any) -> AgingRecord:
    figures = {name: _yuan(row[name]) for name in _AGING_AMOUNTS}
    return AgingRecord(
        household_id=row["household_id"],
        account_number=row["account_number"],
        community=row["community"],
        building=row["building"],
        total_yuan=sum(figures.values(), ZERO_YUAN),
        **figures,
    )


def _collection_rate(season_code: str, row: Any) -> CollectionRateRecord:
    charged_yuan = _yuan(row.charged_yuan)
    from_credit_notes_yuan = _yuan(row.from_credit_notes_yuan)
    collected_yuan = _yuan(row.paid_yuan) + from_credit_notes_yuan
    assert collected_yuan <= charged_yuan, "nothing is allocated beyond a charge"
    rate = None
    if charged_yuan > 0:
        rate = (collected_yuan * 100 / charged_yuan).quantize(PERCENT, rounding=ROUND_HALF_UP)
    return CollectionRateRecord(
        season_code=season_code,
        community=row.community,
        building=row.building,
        households=int(row.households),
        charged_yuan=charged_yuan,
        collected_yuan=collected_yuan,
        from_credit_notes_yuan=from_credit_notes_yuan,
        open_yuan=charged_yuan - collected_yuan,
        rate_percent=rate,
    )


def _allocations_select(condition: ColumnElement[bool]) -> Select[Any]:
    """Allocations meeting ``condition``, with the references of their credits and bills, in order."""
    allocations = payment_allocations.c
    charged_bill, credit_note = CHARGED_BILL, CREDIT_NOTE
    return (
        select(
            allocations.sequence,
            allocations.credit_id,
            allocations.credit_kind,
            func.coalesce(payments.c.reference, credit_note.c.number).label("credit_reference"),
            allocations.charge_id,
            allocations.charge_kind,
            charged_bill.c.number.label("bill_number"),
            allocations.amount_yuan,
        )
        .outerjoin(charged_bill, charged_bill.c.bill_id == allocations.charge_id)
        .outerjoin(payments, payments.c.payment_id == allocations.credit_id)
        .outerjoin(credit_note, credit_note.c.bill_id == allocations.credit_id)
        .where(condition)
        .order_by(allocations.sequence)
    )


# The statements of a household's account (GET /households/{account}/account), built once with
# bound parameters (issue 17): a statement built per call is traversed for its cache key on every
# execution, one built once is keyed once.
_ALLOCATIONS_OF_HOUSEHOLD = _allocations_select(payment_allocations.c.household_id == bindparam("household_id")).limit(
    bindparam("limit", type_=Integer)
)
_OPEN_CHARGES_OF_HOUSEHOLD = (
    select(open_charges)
    .where(open_charges.c.household_id == bindparam("household_id"))
    .order_by(open_charges.c.due_on, open_charges.c.issued_on, open_charges.c.charge_id)
    .limit(MAXIMUM_PAGE_SIZE)
)


_CREDIT_OF_HOUSEHOLD = select(household_credits.c.unallocated_yuan).where(
    household_credits.c.household_id == bindparam("household_id")
)


# GET /households/{account}/account in one statement (``account_of_household``): a UNION ALL of
# one head row (the credit, the disputes' counts and sum, whether the household is registered),
# the open charges and the allocations, told apart by ``part`` and put in each list's own order.
# Plain SQL on both backends (no JSON aggregation, whose functions differ): the as-known views on
# SQLite run the same statement as the live PostgreSQL read models. The columns a part does not
# fill are NULL, cast to their types in the first branch (the charges). Kept under psycopg's
# MAX_CACHED_STATEMENT_LENGTH (4,096 characters; 3,477 now): psycopg converts a longer query's
# placeholders again on every execution (py-spy: a tenth of the account read's CPU at 4,212).
_HEAD, _CHARGE, _ALLOCATION = 0, 1, 2
_THE_HOUSEHOLD = bindparam("household_id", type_=Uuid)


def _part(number: int) -> ColumnElement[Any]:
    return literal_column(str(number), Integer)  # written into the SQL: no parameter to type


def _untyped(type_: Any) -> ColumnElement[Any]:
    # CAST: PostgreSQL types a UNION's columns branch by branch, and NULL with NULL makes text.
    return cast(null(), type_)


def _account_charges() -> Select[Any]:
    charges = _OPEN_CHARGES_OF_HOUSEHOLD.subquery("charges").c
    return select(
        _part(_CHARGE).label("part"),
        *(charges[name] for name in _CHARGE_COLUMNS),
        _untyped(Integer).label("sequence"),
        _untyped(Uuid).label("credit_id"),
        _untyped(String).label("credit_kind"),
        _untyped(String).label("credit_reference"),
        _untyped(String).label("bill_number"),
        _untyped(household_credits.c.unallocated_yuan.type).label("credit_yuan"),
        _untyped(Integer).label("open_disputes"),
        _untyped(Integer).label("disputes_with_amount"),
        _untyped(household_disputed_amounts.c.disputed_yuan.type).label("disputed_yuan"),
        _untyped(Boolean).label("registered"),
    )


def _account_allocations() -> Select[Any]:
    lines = _ALLOCATIONS_OF_HOUSEHOLD.subquery("allocations").c
    return select(
        _part(_ALLOCATION),
        lines.charge_id,
        *(null() for _ in _CHARGE_COLUMNS[1:5]),
        lines.charge_kind,
        null(),
        null(),
        lines.amount_yuan,
        null(),
        lines.sequence,
        lines.credit_id,
        lines.credit_kind,
        lines.credit_reference,
        lines.bill_number,
        *(null() for _ in range(5)),
    )


def _account_head() -> Select[Any]:
    disputed = household_disputed_amounts.c
    return select(
        _part(_HEAD),
        *(null() for _ in range(len(_CHARGE_COLUMNS) + 5)),
        select(household_credits.c.unallocated_yuan)
        .where(household_credits.c.household_id == _THE_HOUSEHOLD)
        .scalar_subquery(),
        select(household_protections.c.open_disputes)
        .where(household_protections.c.household_id == _THE_HOUSEHOLD)
        .scalar_subquery(),
        select(func.count()).where(disputed.household_id == _THE_HOUSEHOLD).scalar_subquery(),
        select(func.sum(disputed.disputed_yuan)).where(disputed.household_id == _THE_HOUSEHOLD).scalar_subquery(),
        exists().where(households.c.account_number == bindparam("account_number")),
    )


_CHARGE_COLUMNS = (
    "charge_id",
    "household_id",
    "community",
    "building",
    "season_code",
    "kind",
    "issued_on",
    "due_on",
    "amount_yuan",
    "open_yuan",
)


def _account_statement() -> CompoundSelect[Any]:
    parts = union_all(_account_charges(), _account_allocations(), _account_head())
    part = parts.selected_columns
    # Charges by due day, issue day and id; allocations by their sequence (their days are NULL).
    return parts.order_by(part.part, part.due_on, part.issued_on, part.sequence, part.charge_id)


def _account_record(rows: Sequence[Any]) -> HouseholdAccountRecord:
    head = [row for row in rows if row.part == _HEAD]
    assert len(head) == 1, "one head row an account"
    (figures,) = head
    count, with_amount = int(figures.open_disputes or 0), int(figures.disputes_with_amount or 0)
    disputed = Decimal(figures.disputed_yuan or 0).quantize(ZERO_YUAN)
    return HouseholdAccountRecord(
        registered=bool(figures.registered),
        open_charges=[
            OpenChargeRecord(*(row[index] for index in _CHARGE_INDEXES)) for row in rows if row.part == _CHARGE
        ],
        allocations=[
            AllocationRecord(*(row[index] for index in _ALLOCATION_INDEXES)) for row in rows if row.part == _ALLOCATION
        ],
        credit_yuan=_yuan(figures.credit_yuan),
        # An open dispute without an amount row is an old dispute flag: it holds everything
        # (as DisputeQueries.hold_of reads it).
        hold=DisputeHold(count, None if count > with_amount else disputed),
    )


_ACCOUNT_OF_HOUSEHOLD = _account_statement()
_CHARGE_INDEXES = tuple(range(1, 1 + len(_CHARGE_COLUMNS)))
# AllocationRecord's fields by their places in a row: sequence, credit_id, credit_kind,
# credit_reference, charge_id, charge_kind, bill_number, amount_yuan.
_ALLOCATION_INDEXES = (11, 12, 13, 14, 1, 6, 15, 9)


def _bounded(limit: int) -> int:
    assert limit > 0, "a page holds at least one record"
    return min(limit, MAXIMUM_PAGE_SIZE)


def _offset(offset: int) -> int:
    assert offset >= 0, "an offset counts records to skip"
    return offset


def _yuan(value: Decimal | None) -> Decimal:
    return ZERO_YUAN if value is None else Decimal(value)
