"""Households: register, list, read, correct areas, suspend and resume heating, attach meters."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Annotated, Any
from urllib.parse import quote
from uuid import UUID, uuid4

from fastapi import Path, Query, Response
from starlette.concurrency import run_in_threadpool

from api.auth import Caller, Reader
from api.dependencies import BusinessToday, ContainerDependency, Ledger, Queries
from api.problems import RequestRuleError, problem_responses
from api.routers import resource_router
from api.schemas.common import KEY_MAX_LENGTH, CommandReceipt
from api.schemas.households import (
    AreaCorrection,
    AttachedMeter,
    HeatingChange,
    HouseholdDeregistration,
    HouseholdDetail,
    HouseholdFilter,
    HouseholdPage,
    HouseholdRegistered,
    HouseholdRegistration,
    HouseholdSummary,
    MeterAttachment,
    SeasonConsumption,
)
from application.authorization import Permission, Principal
from domain.errors import NotFoundError
from domain.season import current_or_last_season
from infrastructure.container import Container
from projections.household_search import HouseholdSearch, search_households, search_terms
from projections.queries import HouseholdRecord, LedgerQueries, Page

router = resource_router("/households", "households")

# The household's hot reads (issue 17: get_household here, its consumption, bills and account) are
# async routes that run their database reads in the threadpool themselves: a plain def endpoint
# costs FastAPI two hand-overs to a thread and back, one for the endpoint and one more to validate
# its answer; an async one validates on the event loop, so a read costs one.

AccountNumberPath = Annotated[str, Path(max_length=KEY_MAX_LENGTH, description="The household's account number (户号)")]
MAXIMUM_HOUSEHOLD_PAGE = 500
MAXIMUM_OFFSET = 10_000_000
# 报停 is notified for this season or the next, not years ahead: a later date is a typing error
# (9999-12-31 was once accepted and suspended the flat for good).
MAXIMUM_SUSPENSION_LEAD_DAYS = 366


def household_location(account_number: str) -> str:
    """The URL path of a household."""
    return f"/households/{quote(account_number, safe='')}"


def require_household(queries: LedgerQueries, account_number: str) -> HouseholdRecord:
    """The household's record, or a 404 problem."""
    record = queries.household(account_number)
    if record is None:
        raise no_household(account_number)
    return record


def require_registered(queries: LedgerQueries, account_number: str, *, rows_found: bool) -> None:
    """The 404 problem unless a household has this account number, asked of the read models only
    when a read by its id found nothing (one round trip less a read otherwise, issue 17): a
    household's id is made from its account number, its rows come only from its own events, and
    its own row is never deleted, so a row of its found by that id says it is registered."""
    if not rows_found:
        require_household(queries, account_number)


def no_household(account_number: str) -> NotFoundError:
    """The 404 problem of an account number no household has."""
    return NotFoundError(f"no household {account_number}", kind="household", key=account_number)


def require_within_notice(effective_on: date, today: date) -> None:
    """A 422 problem when a suspension or resumption date lies more than a year after today."""
    latest = today + timedelta(days=MAXIMUM_SUSPENSION_LEAD_DAYS)
    if effective_on > latest:
        raise RequestRuleError(
            "suspension_too_far_ahead",
            f"the date {effective_on} lies more than a year after today; the latest is {latest}",
            location="body",
            field="effective_on",
            value=effective_on.isoformat(),
            latest=latest.isoformat(),
        )


def find_households(
    container: Container, reader: Principal, filters: HouseholdFilter, limit: int, offset: int
) -> Page[HouseholdRecord]:
    """The households matching ``filters``. A phone or a holder's name is looked up in the
    contact book, which holds personal data: only a reader who manages households may search by
    them (403)."""
    reached = []
    if filters.phone is not None or filters.holder is not None:
        reader.require(Permission.MANAGE_HOUSEHOLDS)
    if filters.phone is not None:
        reached.append(container.contacts.accounts_reached_at(filters.phone))
    if filters.holder is not None:
        reached.append(container.contacts.accounts_held_by(filters.holder))
    search = HouseholdSearch(
        terms=search_terms(filters.search or ""),
        community=filters.community,
        building=filters.building,
        entrance=filters.entrance,
        floor=filters.floor,
        account_numbers=tuple(reached),
    )
    return search_households(container.engine, search, limit, offset)


def reason_argument(reason: str | None) -> dict[str, Any]:
    """The reason to pass to the application; the application's default when none was given."""
    return {"reason": reason} if reason is not None else {}


@router.post(
    "",
    status_code=201,
    operation_id="register_household",
    response_model=HouseholdRegistered,
    responses=problem_responses(401, 403, 409, 422),
)
def register_household(
    registration: HouseholdRegistration, caller: Caller, ledger: Ledger, response: Response
) -> HouseholdRegistered:
    """Register a household (开户).

    Areas are m² with at most two decimals; the heated area may not exceed the connected area.
    The account number is the household's key for good: a second registration under the same
    number is a 409. Answers 201 with the household's address in `Location`.
    """
    correlation_id = uuid4()
    ledger.register_household(
        caller,
        registration.account_number,
        registration.address.to_domain(),
        registration.areas(),
        registration.customer_class,
        registration.position_value(),
        registration.registered_on,
        correlation_id=correlation_id,
        **reason_argument(registration.reason),
    )
    account_number = registration.account_number.strip()
    response.headers["Location"] = household_location(account_number)
    return HouseholdRegistered(account_number=account_number, correlation_id=correlation_id)


@router.get(
    "", operation_id="list_households", response_model=HouseholdPage, responses=problem_responses(401, 403, 422)
)
def list_households(
    reader: Reader,
    container: ContainerDependency,
    filters: Annotated[HouseholdFilter, Query()],
    limit: Annotated[int, Query(ge=1, le=MAXIMUM_HOUSEHOLD_PAGE)] = 50,
    offset: Annotated[int, Query(ge=0, le=MAXIMUM_OFFSET)] = 0,
) -> HouseholdPage:
    """Households by account number, optionally of one community and building, found by words or
    by phone, a page at a time.

    `total` counts every household matching the filters.
    """
    page = find_households(container, reader, filters, limit, offset)
    items = [HouseholdSummary.from_record(record) for record in page.items]
    return HouseholdPage(items=items, total=page.total, limit=limit, offset=offset)


@router.get(
    "/{account_number}",
    operation_id="get_household",
    name="get_household",
    response_model=HouseholdDetail,
    responses=problem_responses(401, 403, 404, 422),
)
async def get_household_route(
    account_number: AccountNumberPath, reader: Reader, queries: Queries, today: BusinessToday
) -> HouseholdDetail:
    """A household: master data, suspension, the meters serving it, and this season's consumption.

    The season is the one today (Asia/Shanghai) falls in, or the last one out of season; it is
    counted from its first day through today (or its last day). Energy per m² uses today's
    heated area.
    """
    return await run_in_threadpool(get_household, account_number, reader, queries, today)


def get_household(account_number: str, reader: Principal, queries: LedgerQueries, today: date) -> HouseholdDetail:
    """The answer of ``GET /households/{account_number}`` (the web pages call it as a function)."""
    season = current_or_last_season(today)
    through_day = min(season.last_day, today)
    # The household, its season's total and its meters in one statement (issue 17: one round
    # trip, where a read of three statements took three).
    found = queries.household_with_total_and_meters(account_number, season.first_day, through_day)
    if found is None:
        raise no_household(account_number)
    record, total, meters = found
    return HouseholdDetail.model_validate(
        {
            **HouseholdSummary.fields_of(record),
            "meters": [AttachedMeter.from_record(meter) for meter in meters],
            "season": SeasonConsumption.from_total(season, through_day, total, record.heated_area_m2),
        }
    )


@router.post(
    "/{account_number}/area-corrections",
    operation_id="correct_household_area",
    response_model=CommandReceipt,
    responses=problem_responses(401, 403, 404, 409, 422),
)
def correct_household_area(
    account_number: AccountNumberPath, correction: AreaCorrection, caller: Caller, ledger: Ledger
) -> CommandReceipt:
    """Record corrected connected and heated areas from `effective_on` on, with a reason.

    The old areas stay in the history; correcting to the areas the household already has is a 409.
    """
    correlation_id = uuid4()
    ledger.correct_area(
        caller, account_number, correction.areas(), correction.effective_on, correction.reason, correlation_id
    )
    return CommandReceipt(correlation_id=correlation_id)


@router.post(
    "/{account_number}/suspensions",
    operation_id="suspend_household_heating",
    response_model=CommandReceipt,
    responses=problem_responses(401, 403, 404, 409, 422),
)
def suspend_household_heating(
    account_number: AccountNumberPath, change: HeatingChange, caller: Caller, ledger: Ledger, today: BusinessToday
) -> CommandReceipt:
    """Suspend heating (报停) from `effective_on`. Suspending a suspended household is a 409.

    `effective_on` lies on or after the registration, and at most a year after today (422).
    """
    require_within_notice(change.effective_on, today)
    correlation_id = uuid4()
    ledger.suspend_heating(caller, account_number, change.effective_on, change.reason, correlation_id)
    return CommandReceipt(correlation_id=correlation_id)


@router.post(
    "/{account_number}/resumptions",
    operation_id="resume_household_heating",
    response_model=CommandReceipt,
    responses=problem_responses(401, 403, 404, 409, 422),
)
def resume_household_heating(
    account_number: AccountNumberPath, change: HeatingChange, caller: Caller, ledger: Ledger, today: BusinessToday
) -> CommandReceipt:
    """Resume heating from `effective_on`, not before the suspension began and at most a year
    after today (422). Resuming a household that is not suspended is a 409."""
    require_within_notice(change.effective_on, today)
    correlation_id = uuid4()
    ledger.resume_heating(caller, account_number, change.effective_on, change.reason, correlation_id)
    return CommandReceipt(correlation_id=correlation_id)


@router.post(
    "/{account_number}/deregistration",
    operation_id="deregister_household",
    response_model=CommandReceipt,
    responses=problem_responses(401, 403, 404, 409, 422),
)
def deregister_household(
    account_number: AccountNumberPath, deregistration: HouseholdDeregistration, caller: Caller, ledger: Ledger
) -> CommandReceipt:
    """Deregister the household (销户/拆网) from `effective_on`, its first day neither supplied nor
    billed, with a reason.

    `effective_on` follows the registration and every owner change, does not precede the last
    suspension or resumption, and lies at most a year after today (422). A second deregistration
    is a 409, and so is any later change of the supply (suspension, resumption, owner change, a
    meter attached or swapped); reading the household and detaching its meters still work.
    """
    correlation_id = uuid4()
    ledger.deregister_household(
        caller, account_number, deregistration.effective_on, deregistration.reason, correlation_id
    )
    return CommandReceipt(correlation_id=correlation_id)


@router.post(
    "/{account_number}/meters",
    operation_id="attach_meter",
    response_model=CommandReceipt,
    responses=problem_responses(401, 403, 404, 409, 422),
)
def attach_meter(
    account_number: AccountNumberPath, attachment: MeterAttachment, caller: Caller, ledger: Ledger
) -> CommandReceipt:
    """Attach a commissioned household meter to the household from `attached_at` on.

    A meter serves one household at a time: attaching one that serves another is a 409 (detach
    it first). Building and substation meters cannot be attached (409).
    """
    correlation_id: UUID = uuid4()
    ledger.attach_meter(
        caller,
        account_number,
        attachment.serial,
        attachment.attached_at,
        correlation_id=correlation_id,
        **reason_argument(attachment.reason),
    )
    return CommandReceipt(correlation_id=correlation_id)
