"""Bills and balances: a household's bills, one bill with its lines, the bill read out in words,
a household's balance and the balances per community."""

from __future__ import annotations

from datetime import date
from typing import Annotated
from uuid import UUID

from fastapi import Path, Query, Response
from starlette.concurrency import run_in_threadpool

from api.as_known import BillReads, HouseholdReads, known_responses
from api.auth import Reader
from api.bill_explanations import explain_bill
from api.dependencies import ContainerDependency, PreferredLanguage
from api.problems import problem_responses
from api.routers import resource_router
from api.routers.billing import season_in_force
from api.routers.households import AccountNumberPath, require_household, require_registered
from api.routers.monitoring import say_language
from api.routers.tariffs import BillingReads
from api.schemas.billing import (
    BalanceOutput,
    BillDetail,
    BillExplanationOutput,
    BillingProgress,
    BillPage,
    BillSummary,
    CommunityBalanceOutput,
    CommunityBalances,
    SeasonProgressOutput,
)
from api.schemas.common import IsoDate, SeasonCode
from application.authorization import Principal
from domain import ids
from domain.errors import NotFoundError
from domain.tariff import CITY_SCOPE
from infrastructure.as_known import KnownReads
from projections.billing_queries import BillingQueries, BillRecord

router = resource_router("", "bills")

MAXIMUM_BILL_PAGE = 500
MAXIMUM_OFFSET = 10_000_000

BillIdPath = Annotated[UUID, Path(description="The bill's id")]
SeasonQuery = Annotated[
    SeasonCode | None, Query(description="Only this season: a year and the next", examples=["2025-2026"])
]


def require_bill(queries: BillingQueries, bill_id: UUID) -> BillRecord:
    """The bill's record, or a 404 problem."""
    record = queries.bill(bill_id)
    if record is None:
        raise NotFoundError(f"no bill {bill_id}", kind="bill", key=str(bill_id))
    return record


@router.get(
    "/households/{account_number}/bills",
    operation_id="list_household_bills",
    name="list_household_bills",
    response_model=BillPage,
    tags=["households"],
    responses=known_responses(401, 403, 404, 422),
)
async def list_household_bills_route(
    account_number: AccountNumberPath,
    reader: Reader,
    reads: HouseholdReads,
    season: SeasonQuery = None,
    as_of: Annotated[IsoDate | None, Query(description="Only bills issued on or before this business day")] = None,
    limit: Annotated[int, Query(ge=1, le=MAXIMUM_BILL_PAGE)] = 50,
    offset: Annotated[int, Query(ge=0, le=MAXIMUM_OFFSET)] = 0,
) -> BillPage:
    """A household's bills (prepayment, statements, settlement), optionally of one season and
    issued on or before `as_of`; the latest season and the latest issued first. Read one with its
    lines at `GET /bills/{bill_id}`. With `known_at`: the bills the ledger had issued by then (404
    before the household was registered)."""
    # The reads in the threadpool, the answer validated on the event loop: one hand-over (issue 17).
    return await run_in_threadpool(list_household_bills, account_number, reader, reads, season, as_of, limit, offset)


def list_household_bills(
    account_number: str,
    reader: Principal,
    reads: KnownReads,
    season: str | None = None,
    as_of: date | None = None,
    limit: int = 50,
    offset: int = 0,
) -> BillPage:
    """The answer of ``GET /households/{account_number}/bills`` (the web pages call it as a function)."""
    page = reads.billing.bill_heads_of_household(ids.household_id(account_number), season, limit, offset, as_of)
    require_registered(reads.queries, account_number, rows_found=page.total > 0)
    return BillPage(
        items=[BillSummary.from_head(record) for record in page.items], total=page.total, limit=limit, offset=offset
    )


@router.get(
    "/bills/{bill_id}",
    operation_id="get_bill",
    response_model=BillDetail,
    responses=known_responses(401, 403, 404, 422),
)
def get_bill(bill_id: BillIdPath, reader: Reader, reads: BillReads) -> BillDetail:
    """A bill with every line: the tariff version, the heat and where it came from, the
    coefficients, each formula with its figures and the rounding. With `known_at`: a 404 if the
    bill was not yet issued then."""
    return BillDetail.from_record(require_bill(reads.billing, bill_id))


@router.get(
    "/bills/{bill_id}/explain",
    operation_id="explain_bill",
    response_model=BillExplanationOutput,
    responses=problem_responses(401, 403, 404, 422),
)
def explain_bill_endpoint(
    bill_id: BillIdPath, reader: Reader, billing: BillingReads, language: PreferredLanguage, response: Response
) -> BillExplanationOutput:
    """A bill read out: a heading (number, kind, season, days, amount) and each line as a sentence
    with its figures, in Chinese, or in English when `Accept-Language` prefers `en`, e.g.
    "面积热费 = 100.00 m² × 21.6 元/m² × (151 供热天 + 0 报停天 × 20 %) / 151 天 = 2160.00 元（四舍五入到 0.01 元）".
    """
    record = require_bill(billing, bill_id)
    explanation = explain_bill(
        record.number,
        record.kind,
        record.season_code,
        record.first_day,
        record.last_day,
        record.amount_yuan,
        record.lines,
        language,
    )
    say_language(response, language)
    return BillExplanationOutput.from_explanation(record, explanation, language.value)


@router.get(
    "/households/{account_number}/balance",
    operation_id="get_household_balance",
    response_model=BalanceOutput,
    tags=["households"],
    responses=known_responses(401, 403, 404, 422),
)
def get_household_balance(account_number: AccountNumberPath, reader: Reader, reads: HouseholdReads) -> BalanceOutput:
    """What the household was charged over all seasons (bills; a refund counts negative), has paid
    and still owes; zero before its first bill. With `known_at`: as the ledger knew it then."""
    household = require_household(reads.queries, account_number)
    record = reads.billing.balance(household.household_id)
    if record is None:
        return BalanceOutput.model_validate(
            {
                "account_number": household.account_number,
                "community": household.community,
                "building": household.building,
                "charged_yuan": 0,
                "paid_yuan": 0,
                "balance_yuan": 0,
                "last_bill_at": None,
            }
        )
    return BalanceOutput.from_record(record)


@router.get(
    "/balances",
    operation_id="list_community_balances",
    response_model=CommunityBalances,
    responses=problem_responses(401, 403, 422),
)
def list_community_balances(reader: Reader, billing: BillingReads, season: SeasonQuery = None) -> CommunityBalances:
    """Per community: its households with an account, and what they were charged, have paid and
    still owe over all seasons. With `season`: its households with a bill of the season, what those
    bills charged, what payments and settlement credit notes have settled of it (as each
    household's account allocates them) and what is still open: charged = paid + from credit
    notes + balance."""
    items = [CommunityBalanceOutput.from_record(record) for record in billing.community_balances(season)]
    return CommunityBalances(season=season, items=items)


@router.get(
    "/billing/progress",
    operation_id="get_billing_progress",
    response_model=BillingProgress,
    responses=problem_responses(401, 403, 422),
)
def get_billing_progress(
    reader: Reader,
    billing: BillingReads,
    container: ContainerDependency,
    season: Annotated[SeasonCode, Query(description="A year and the next", examples=["2025-2026"])],
) -> BillingProgress:
    """How far a season is billed, per community and over the city: the households supplied in the
    season (the city's season in force: registered by its last day, not deregistered by its
    first), and how many of them have its prepayment (area fee) bill and its settlement bill."""
    days = season_in_force(container, season, CITY_SCOPE, location="query")
    records = billing.season_progress(days.code, days.first_day, days.last_day)
    return BillingProgress(
        season=days.code,
        first_day=days.first_day,
        last_day=days.last_day,
        households=sum(record.households for record in records),
        prepaid=sum(record.prepaid for record in records),
        settled=sum(record.settled for record in records),
        items=[SeasonProgressOutput.model_validate(record) for record in records],
    )
