"""Reads of payments: a household's payments, allocations, open charges and balance on a day;
arrears aging, collection rates and the payment journal for the cash-up."""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated
from uuid import UUID

from fastapi import Depends, Query
from starlette.concurrency import run_in_threadpool

from api.as_known import CommunityReads, HouseholdReads, KnownCommunityQuery, known_responses
from api.auth import Reader
from api.dependencies import BusinessToday, ContainerDependency
from api.problems import problem_responses
from api.routers import resource_router
from api.routers.households import AccountNumberPath, no_household, require_household
from api.schemas.common import KEY_MAX_LENGTH, NAME_MAX_LENGTH, IsoDate, SeasonCode
from api.schemas.payments import (
    AgingOutput,
    AgingReport,
    AgingTotalsOutput,
    AllocationOutput,
    BalanceAsOfOutput,
    CollectionRateOutput,
    CollectionRates,
    DayPaymentPage,
    HouseholdAccountOutput,
    Journal,
    JournalOutput,
    OpenChargeOutput,
    PaymentDetail,
    PaymentOutput,
    PaymentPage,
    RefundOutput,
    RefundPage,
)
from application.authorization import Principal
from domain import ids
from domain.errors import NotFoundError
from domain.payment import PaymentChannel, RefundStatus
from infrastructure.as_known import KnownReads
from projections.payment_queries import PaymentQueries, PaymentRecord, RefundRecord
from projections.queries import MAXIMUM_PAGE_SIZE

router = resource_router("", "payments")

MAXIMUM_OFFSET = 1_000_000
CommunityQuery = Annotated[str | None, Query(max_length=NAME_MAX_LENGTH, description="One community; default: all")]
PageLimit = Annotated[int, Query(ge=1, le=MAXIMUM_PAGE_SIZE, description="Entries per page")]
PageOffset = Annotated[int, Query(ge=0, le=MAXIMUM_OFFSET, description="Entries to skip")]
ChannelQuery = Annotated[PaymentChannel | None, Query(description="One channel")]
ClerkQuery = Annotated[str | None, Query(max_length=KEY_MAX_LENGTH * 2, description="One clerk (actor)")]
BuildingQuery = Annotated[
    str | None, Query(min_length=1, max_length=KEY_MAX_LENGTH, description="One building (of the community)")
]


def get_payment_queries(container: ContainerDependency) -> PaymentQueries:
    """Reads of the payment read models."""
    return PaymentQueries(container.engine)


PaymentReads = Annotated[PaymentQueries, Depends(get_payment_queries)]


@router.get(
    "/households/{account_number}/payments",
    operation_id="list_household_payments",
    response_model=PaymentPage,
    responses=known_responses(401, 403, 404, 422),
)
def list_household_payments(
    account_number: AccountNumberPath,
    reader: Reader,
    reads: HouseholdReads,
    limit: Annotated[int, Query(ge=1, le=MAXIMUM_PAGE_SIZE)] = 50,
    offset: Annotated[int, Query(ge=0, le=MAXIMUM_OFFSET)] = 0,
) -> PaymentPage:
    """The household's payments, newest first, with their reversals. With `known_at`: those the
    ledger had recorded by then, with the reversals recorded by then."""
    household = require_household(reads.queries, account_number)
    page = reads.payments.payments_of_household(household.household_id, limit, offset)
    items = [PaymentOutput.model_validate(record) for record in page.items]
    return PaymentPage(items=items, total=page.total, limit=limit, offset=offset)


@router.get(
    "/households/{account_number}/account",
    operation_id="get_household_account",
    name="get_household_account",
    response_model=HouseholdAccountOutput,
    responses=known_responses(401, 403, 404, 422),
)
async def get_household_account_route(
    account_number: AccountNumberPath, reader: Reader, reads: HouseholdReads
) -> HouseholdAccountOutput:
    """Every allocation of the household's payments and credit notes to its charges (a payment
    settles the bill its payer named, then the oldest open charges), what is still open, the
    credit carried to the next charges, and how much of what is open its open disputes hold
    (`disputed_yuan`) and what is not disputed (`undisputed_yuan`). With `known_at`: as the ledger
    knew it then."""
    # The reads in the threadpool, the answer validated on the event loop: one hand-over (issue 17).
    return await run_in_threadpool(get_household_account, account_number, reader, reads)


def get_household_account(account_number: str, reader: Principal, reads: KnownReads) -> HouseholdAccountOutput:
    """The answer of ``GET /households/{account_number}/account`` (the web pages call it as a function)."""
    # One statement for the charges, allocations, credit, disputes and the household's look-up
    # (issue 17: five round trips and up to six before, each about 0.1 ms of CPU on PostgreSQL).
    account = reads.payments.account_of_household(ids.household_id(account_number), account_number)
    if not account.registered:
        raise no_household(account_number)
    open_yuan = sum((charge.open_yuan for charge in account.open_charges), Decimal("0.00"))
    held_yuan = account.hold.held_yuan(open_yuan)
    return HouseholdAccountOutput(
        account_number=account_number,
        allocations=[AllocationOutput.model_validate(line) for line in account.allocations],
        open_charges=[OpenChargeOutput.model_validate(charge) for charge in account.open_charges],
        credit_yuan=account.credit_yuan,
        disputed_yuan=held_yuan,
        undisputed_yuan=open_yuan - held_yuan,
    )


@router.get(
    "/households/{account_number}/balance/{day}",
    operation_id="get_household_balance_on",
    response_model=BalanceAsOfOutput,
    responses=known_responses(401, 403, 404, 422),
)
def get_household_balance_on(
    account_number: AccountNumberPath, day: IsoDate, reader: Reader, reads: HouseholdReads
) -> BalanceAsOfOutput:
    """The household's balance at the end of a business day: what was charged, paid, reversed and
    refunded by then. With `known_at`: as the ledger knew it then ("the balance on 31 January, as
    known on 15 February": a correction recorded later does not change it)."""
    household = require_household(reads.queries, account_number)
    return BalanceAsOfOutput.model_validate(reads.payments.balance_as_of(household.household_id, day))


@router.get(
    "/arrears/aging",
    operation_id="get_arrears_aging",
    response_model=AgingReport,
    responses=known_responses(401, 403, 422),
)
def get_arrears_aging(
    reader: Reader,
    reads: CommunityReads,
    today: BusinessToday,
    community: KnownCommunityQuery = None,
    as_of: Annotated[
        IsoDate | None, Query(description="The day the ages are counted to; default today (the day of known_at)")
    ] = None,
    limit: Annotated[int, Query(ge=1, le=MAXIMUM_PAGE_SIZE)] = 100,
    offset: Annotated[int, Query(ge=0, le=MAXIMUM_OFFSET)] = 0,
    building: BuildingQuery = None,
) -> AgingReport:
    """Open charges by days past due: not yet due, 0–30, 31–90, 91–180, 181–365, over 365; of
    one community and one building if given (`totals.households` counts the rows to page through).

    With `known_at` (and `community`, else 422): as the ledger knew them then, folded from the
    events of the community's households."""
    day = as_of or reads.today(today)
    payments = reads.payments
    records = payments.aging(day, community, limit, offset, building=building)
    return AgingReport(
        as_of=day,
        community=community,
        building=building,
        totals=AgingTotalsOutput.model_validate(payments.aging_totals(day, community, building)),
        items=[AgingOutput.model_validate(record) for record in records],
    )


@router.get(
    "/collection-rates",
    operation_id="get_collection_rates",
    response_model=CollectionRates,
    responses=problem_responses(401, 403, 422),
)
def get_collection_rates(
    reader: Reader,
    payments: PaymentReads,
    season: Annotated[SeasonCode, Query(description="A year and the next, e.g. 2025-2026")],
    community: CommunityQuery = None,
) -> CollectionRates:
    """Per community and building: what the season's bills charged, what is collected, the rate."""
    records = payments.collection_rates(season, community)
    return CollectionRates(season=season, items=[CollectionRateOutput.model_validate(record) for record in records])


@router.get(
    "/payments/journal",
    operation_id="get_payment_journal",
    response_model=Journal,
    responses=problem_responses(401, 403, 422),
)
def get_payment_journal(
    reader: Reader,
    payments: PaymentReads,
    today: BusinessToday,
    day: Annotated[IsoDate | None, Query(description="The business day; default today")] = None,
    channel: ChannelQuery = None,
    clerk: ClerkQuery = None,
) -> Journal:
    """The day's payments per channel and clerk, with reversals: the clerk's cash-up."""
    chosen = day or today
    records = payments.journal(chosen, channel.value if channel else None, clerk)
    return Journal(day=chosen, items=[JournalOutput.model_validate(record) for record in records])


@router.get(
    "/payments",
    operation_id="list_payments_of_day",
    response_model=DayPaymentPage,
    responses=problem_responses(401, 403, 422),
)
def list_payments_of_day(
    reader: Reader,
    payments: PaymentReads,
    today: BusinessToday,
    day: Annotated[IsoDate | None, Query(description="The business day; default today")] = None,
    channel: ChannelQuery = None,
    clerk: ClerkQuery = None,
    limit: PageLimit = 50,
    offset: PageOffset = 0,
) -> DayPaymentPage:
    """The payments received on a day (of one channel and clerk, if given) in the order received,
    with their reversals: the lines behind the journal's totals."""
    chosen = day or today
    page = payments.payments_of_day(chosen, channel.value if channel else None, clerk, limit, offset)
    items = [PaymentOutput.model_validate(record) for record in page.items]
    return DayPaymentPage(day=chosen, items=items, total=page.total, limit=limit, offset=offset)


@router.get(
    "/payments/{payment_id:uuid}",
    operation_id="get_payment",
    response_model=PaymentDetail,
    responses=problem_responses(401, 403, 404, 422),
)
def get_payment(payment_id: UUID, reader: Reader, payments: PaymentReads) -> PaymentDetail:
    """A payment (a receipt's facts), with the charges it settles now and what is left as credit."""
    return payment_detail(payments, require_payment(payments, payment_id))


@router.get(
    "/refunds",
    operation_id="list_refunds",
    response_model=RefundPage,
    responses=problem_responses(401, 403, 422),
)
def list_refunds(
    reader: Reader,
    payments: PaymentReads,
    status: Annotated[RefundStatus | None, Query(description="One status: requested awaits a second person")] = None,
    account_number: Annotated[str | None, Query(min_length=1, max_length=KEY_MAX_LENGTH)] = None,
    limit: PageLimit = 50,
    offset: PageOffset = 0,
) -> RefundPage:
    """Refund payouts (of one status and household, if given), the oldest request first."""
    page = payments.refunds(status.value if status else None, account_number, limit, offset)
    items = [RefundOutput.model_validate(record) for record in page.items]
    return RefundPage(items=items, total=page.total, limit=limit, offset=offset)


@router.get(
    "/refunds/{refund_id:uuid}",
    operation_id="get_refund",
    response_model=RefundOutput,
    responses=problem_responses(401, 403, 404, 422),
)
def get_refund(refund_id: UUID, reader: Reader, payments: PaymentReads) -> RefundOutput:
    """A refund payout: who asked, who approved, where it stands."""
    return RefundOutput.model_validate(require_refund(payments, refund_id))


def require_payment(payments: PaymentQueries, payment_id: UUID) -> PaymentRecord:
    """The payment's record, or a 404 problem."""
    record = payments.payment(payment_id)
    if record is None:
        raise NotFoundError(f"no payment {payment_id}", kind="payment", key=str(payment_id))
    return record


def require_refund(payments: PaymentQueries, refund_id: UUID) -> RefundRecord:
    """The refund payout's record, or a 404 problem."""
    record = payments.refund(refund_id)
    if record is None:
        raise NotFoundError(f"no refund {refund_id}", kind="refund", key=str(refund_id))
    return record


def payment_detail(payments: PaymentQueries, record: PaymentRecord) -> PaymentDetail:
    """A payment with the charges it settles now; the rest of it is credit (none once reversed:
    a reversed payment settles nothing)."""
    allocations = payments.allocations_of_credit(record.household_id, record.payment_id)
    allocated_yuan = sum((line.amount_yuan for line in allocations), Decimal("0.00"))
    credit_yuan = Decimal("0.00") if record.reversed_on is not None else record.amount_yuan - allocated_yuan
    return PaymentDetail.model_validate(
        {
            **PaymentOutput.model_validate(record).model_dump(),
            "allocations": [AllocationOutput.model_validate(line) for line in allocations],
            "credit_yuan": credit_yuan,
        }
    )
