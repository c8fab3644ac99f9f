"""The arrears policy: flag runs, the second person's approval, withdrawals, and what protects a
household from a flag (marked vulnerable; open disputes hold what they dispute: api/routers/disputes.py).

A flag is a proposal to restrict a household's valve; it becomes an action only when a second
person approves it. The valve command itself is not here.
"""

from __future__ import annotations

from typing import Annotated
from uuid import UUID, uuid4

from fastapi import Query

from api.auth import Caller, Reader
from api.dependencies import BusinessToday, ContainerDependency
from api.problems import problem_responses
from api.routers import resource_router
from api.routers.households import AccountNumberPath
from api.schemas.arrears import (
    ArrearsFlagDetail,
    ArrearsFlagList,
    ArrearsFlagOutput,
    CandidateOutput,
    FlagDecision,
    FlagHistoryOutput,
    FlagReceipt,
    FlagRun,
    FlagRunOutput,
    FlagWithdrawal,
    ProtectionChange,
    VulnerableHouseholdOutput,
    VulnerableHouseholdPage,
)
from api.schemas.common import NAME_MAX_LENGTH, CommandReceipt
from application.authorization import Permission
from domain.arrears import ArrearsPolicy, FlagStatus
from projections.arrears_queries import ArrearsQueries
from projections.queries import MAXIMUM_PAGE_SIZE

router = resource_router("", "arrears")


@router.post(
    "/arrears/flags/run",
    operation_id="run_arrears_flags",
    response_model=FlagRunOutput,
    responses=problem_responses(401, 403, 422),
)
def run_arrears_flags(
    run: FlagRun, caller: Caller, container: ContainerDependency, today: BusinessToday
) -> FlagRunOutput:
    """Flag every household the policy finds eligible today and not yet flagged this season: what
    it owes past due beyond what its open disputes hold reaches the amount, its oldest open charge
    is past due for the days, it is not marked vulnerable, and today lies inside the window. A flag
    withdrawn earlier this season is raised again (`raised_again`); a raised or approved one is
    left as it is (`arrears_already_flagged`). The summary gives, for every household with
    charges past due, the flag raised or why it was not."""
    policy = ArrearsPolicy.of(run.minimum_amount_yuan, run.minimum_days_past_due, run.window_start, run.window_end)
    summary = container.arrears.flag_candidates(
        caller, policy, today, run.community, run.reason or "arrears policy run"
    )
    return FlagRunOutput(
        season_code=summary.season_code,
        today=summary.today,
        community=summary.community,
        flagged=summary.flagged,
        skipped=summary.skipped,
        outcomes=[CandidateOutput.model_validate(outcome) for outcome in summary.outcomes],
    )


@router.get(
    "/arrears/flags",
    operation_id="list_arrears_flags",
    response_model=ArrearsFlagList,
    responses=problem_responses(401, 403, 422),
)
def list_arrears_flags(
    reader: Reader,
    container: ContainerDependency,
    status: FlagStatus | None = None,
    community: Annotated[str | None, Query(max_length=NAME_MAX_LENGTH)] = None,
    limit: Annotated[int, Query(ge=1, le=MAXIMUM_PAGE_SIZE)] = 100,
    offset: Annotated[int, Query(ge=0, le=1_000_000)] = 0,
) -> ArrearsFlagList:
    """Arrears flags, of one status (raised, approved, withdrawn) and community if given, with the
    number of flags of each status (of that community)."""
    queries = ArrearsQueries(container.engine)
    records = queries.flags(status.value if status else None, community, limit, offset)
    return ArrearsFlagList(
        items=[ArrearsFlagOutput.model_validate(record) for record in records], counts=queries.flag_counts(community)
    )


@router.get(
    "/arrears/vulnerable-households",
    operation_id="list_vulnerable_households",
    response_model=VulnerableHouseholdPage,
    responses=problem_responses(401, 403, 422),
)
def list_vulnerable_households(
    caller: Caller,
    container: ContainerDependency,
    community: Annotated[str | None, Query(max_length=NAME_MAX_LENGTH)] = None,
    limit: Annotated[int, Query(ge=1, le=MAXIMUM_PAGE_SIZE)] = 100,
    offset: Annotated[int, Query(ge=0, le=1_000_000)] = 0,
) -> VulnerableHouseholdPage:
    """The households marked vulnerable (of one community if given): no flag is raised for them.
    Why a household is vulnerable (age, illness, hardship) is personal: only the roles that manage
    households read this list (the reasons are in the household's history)."""
    caller.require(Permission.MANAGE_HOUSEHOLDS)
    page = ArrearsQueries(container.engine).vulnerable_households(community, limit, offset)
    items = [VulnerableHouseholdOutput.model_validate(record) for record in page.items]
    return VulnerableHouseholdPage(items=items, total=page.total, limit=limit, offset=offset)


@router.get(
    "/arrears/flags/{flag_id:uuid}",
    operation_id="get_arrears_flag",
    response_model=ArrearsFlagDetail,
    responses=problem_responses(401, 403, 404, 422),
)
def get_arrears_flag(flag_id: UUID, _reader: Reader, container: ContainerDependency) -> ArrearsFlagDetail:
    """An arrears flag as the ledger holds it, with every raise, approval and withdrawal in order."""
    flag = container.arrears.flag(flag_id)
    history = container.arrears.history(flag_id)
    return ArrearsFlagDetail(
        flag_id=flag.id,
        account_number=flag.account_number,
        season_code=flag.season_code,
        status=flag.status,
        amount_yuan=flag.amount_yuan,
        days_past_due=flag.days_past_due,
        raised_on=flag.raised_on,
        raised_by=flag.raised_by,
        approved_by=flag.approved_by,
        withdrawal_kind=flag.withdrawal_kind,
        times_raised=flag.times_raised,
        history=[FlagHistoryOutput.model_validate(entry) for entry in history],
    )


@router.post(
    "/arrears/flags/{flag_id:uuid}/approval",
    operation_id="approve_arrears_flag",
    response_model=FlagReceipt,
    responses=problem_responses(401, 403, 404, 409, 422),
)
def approve_arrears_flag(
    flag_id: UUID, decision: FlagDecision, caller: Caller, container: ContainerDependency
) -> FlagReceipt:
    """Approve a flag: by a second person, never the one who raised it (403). A household now
    marked vulnerable, or whose open disputes now leave less than the flag's amount undisputed, is
    a 409: withdraw its flag instead."""
    container.arrears.approve(caller, flag_id, decision.reason or "approved")
    return _receipt(container, flag_id)


@router.post(
    "/arrears/flags/{flag_id:uuid}/withdrawal",
    operation_id="withdraw_arrears_flag",
    response_model=FlagReceipt,
    responses=problem_responses(401, 403, 404, 409, 422),
)
def withdraw_arrears_flag(
    flag_id: UUID, withdrawal: FlagWithdrawal, caller: Caller, container: ContainerDependency
) -> FlagReceipt:
    """Take a flag back (paid, a dispute opened, found vulnerable, a mistake), with why. Twice is a 409."""
    container.arrears.withdraw(caller, flag_id, withdrawal.kind, withdrawal.reason)
    return _receipt(container, flag_id)


def _receipt(container: ContainerDependency, flag_id: UUID) -> FlagReceipt:
    flag = container.arrears.flag(flag_id)
    return FlagReceipt(flag_id=flag.id, status=flag.status, account_number=flag.account_number)


_PROTECTION_RESPONSES = problem_responses(401, 403, 404, 409, 422)


@router.post(
    "/households/{account_number}/vulnerability",
    status_code=201,
    response_model=CommandReceipt,
    operation_id="mark_household_vulnerable",
    responses=_PROTECTION_RESPONSES,
)
def mark_household_vulnerable(
    account_number: AccountNumberPath, change: ProtectionChange, caller: Caller, container: ContainerDependency
) -> CommandReceipt:
    """Protect a household from arrears flags (elderly, ill, hardship), with why. Twice is a 409."""
    correlation_id = uuid4()
    container.arrears.mark_vulnerable(caller, account_number, change.reason, correlation_id)
    return CommandReceipt(correlation_id=correlation_id)


@router.post(
    "/households/{account_number}/vulnerability/clearance",
    status_code=201,
    response_model=CommandReceipt,
    operation_id="clear_household_vulnerability",
    responses=_PROTECTION_RESPONSES,
)
def clear_household_vulnerability(
    account_number: AccountNumberPath, change: ProtectionChange, caller: Caller, container: ContainerDependency
) -> CommandReceipt:
    """The household is no longer protected as vulnerable, with why."""
    correlation_id = uuid4()
    container.arrears.clear_vulnerability(caller, account_number, change.reason, correlation_id)
    return CommandReceipt(correlation_id=correlation_id)


@router.post(
    "/households/{account_number}/disputes/close",
    status_code=201,
    response_model=CommandReceipt,
    operation_id="close_household_dispute",
    responses=_PROTECTION_RESPONSES,
)
def close_household_dispute(
    account_number: AccountNumberPath, change: ProtectionChange, caller: Caller, container: ContainerDependency
) -> CommandReceipt:
    """Close an old dispute flag: one recorded before disputes had amounts, which holds everything
    past due until closed (the reason says how it was settled); none open is a 409. Disputes are
    opened with `POST /disputes` and closed by their resolution or withdrawal."""
    correlation_id = uuid4()
    container.arrears.close_dispute(caller, account_number, change.reason, correlation_id)
    return CommandReceipt(correlation_id=correlation_id)
