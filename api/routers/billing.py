"""Billing runs (202 + status), owner changes (过户) and building allocations of a season's heat.

A billing run is a job like a reading upload: on the embedded default
(``HEATLEDGER_JOB_QUEUE=inline``) it runs in this process after the 202 is sent; with ``arq`` it
is enqueued on Redis for ``heatledger worker``. Either way the job is ``run_billing``
(``infrastructure.billing_runs.execute_run``), and the run's row says how far it came.
"""

from __future__ import annotations

import logging
from datetime import date
from typing import Annotated, Any
from urllib.parse import quote
from uuid import UUID, uuid4

from fastapi import BackgroundTasks, Path, Query, Response

from api.auth import Caller, Reader
from api.dependencies import BusinessToday, ContainerDependency, Ledger, PreferredLanguage, Queries
from api.messages import Language, render, title
from api.problems import PROBLEM_TYPE_BASE, RequestRuleError, problem_responses
from api.routers import resource_router
from api.routers.consumption import BuildingPath, CommunityPath
from api.routers.households import AccountNumberPath
from api.routers.monitoring import say_language
from api.schemas.billing import (
    AllocationOutput,
    AllocationRequest,
    BillingRunList,
    BillingRunOutput,
    BillingRunRequest,
    OwnerChange,
    RunExceptionOutput,
    RunProblem,
    summary_from_payload,
)
from api.schemas.common import CommandReceipt
from application.authorization import Permission
from application.billing_runs import RunRequest, check_request
from domain.errors import NotFoundError
from domain.season import Season
from domain.tariff import CITY_SCOPE
from infrastructure.billing_runs import RUN_BILLING, BillingRunRecord
from infrastructure.container import Container
from infrastructure.settings import JobQueueKind

router = resource_router("", "billing")
logger = logging.getLogger("heatledger.api.billing")

DEFAULT_RUN_REASON = "billing run"
DEFAULT_ALLOCATION_REASON = "allocation inputs"
MAXIMUM_RECENT_RUNS = 200

RunIdPath = Annotated[UUID, Path(description="The run's id, from the answer to `POST /billing/runs`")]
SeasonPath = Annotated[str, Path(pattern=r"^\d{4}-\d{4}$", description="A heating season", examples=["2025-2026"])]


def run_location(run_id: UUID) -> str:
    """The URL path of a billing run."""
    return f"/billing/runs/{run_id}"


def allocation_location(community: str, building: str, season: Season) -> str:
    """The URL path of a building's allocation in a season."""
    return f"/buildings/{quote(community, safe='')}/{quote(building, safe='')}/allocations/{season.code}"


def season_of(code: str, location: str = "body") -> Season:
    """The season a code names (``2025-2026``), or a 422 problem on the ``season`` value."""
    try:
        return Season.from_code(code)
    except ValueError:
        raise RequestRuleError(
            "season_invalid", f"a season code looks like 2025-2026, not {code}", location, field="season", value=code
        ) from None


# -- billing runs --------------------------------------------------------------------------------


@router.post(
    "/billing/runs",
    status_code=202,
    operation_id="submit_billing_run",
    response_model=BillingRunOutput,
    responses=problem_responses(401, 403, 422),
)
def submit_billing_run(
    body: BillingRunRequest,
    caller: Caller,
    container: ContainerDependency,
    today: BusinessToday,
    language: PreferredLanguage,
    background: BackgroundTasks,
    response: Response,
) -> BillingRunOutput:
    """Bill a season (clerks and administrators): the `prepayment` (the area fee, at the season's
    start), a month's `statement` (consumption information; `month` required) or the `settlement`
    (after the season's last day), over a community or the whole city.

    Answers 202 at once with the run and its address in `Location`; follow its status, progress
    and summary there. A run is idempotent: each household's bill is issued once, so running again
    issues only what is missing. What stops a run as a whole (a season without a tariff, which
    the run's error lists by account number) fails the run; a single household that cannot be
    billed is listed in the summary's exceptions while the others are billed. A settlement before
    the season's end, or a statement for a month not yet over, is refused with a 422 here.
    """
    caller.require(Permission.RUN_BILLING)
    request = run_request(body, today, container)
    run_id = container.run_store.submit(caller, request, body.reason or DEFAULT_RUN_REASON)
    start_run(container, run_id, background)
    response.headers["Location"] = run_location(run_id)
    return run_output(container.run_store.get(run_id), language)


@router.get(
    "/billing/runs",
    operation_id="list_billing_runs",
    response_model=BillingRunList,
    responses=problem_responses(401, 403, 422),
)
def list_billing_runs(
    reader: Reader,
    container: ContainerDependency,
    language: PreferredLanguage,
    limit: Annotated[int, Query(ge=1, le=MAXIMUM_RECENT_RUNS, description="Runs shown, newest first")] = 20,
) -> BillingRunList:
    """The latest billing runs, newest first."""
    return BillingRunList(items=[run_output(record, language) for record in container.run_store.recent(limit)])


@router.get(
    "/billing/runs/{run_id}",
    operation_id="get_billing_run",
    response_model=BillingRunOutput,
    responses=problem_responses(401, 403, 404, 422),
)
def get_billing_run(
    run_id: RunIdPath, reader: Reader, container: ContainerDependency, language: PreferredLanguage, response: Response
) -> BillingRunOutput:
    """A billing run: `status` (queued, running, done, failed), `progress` (households done of the
    total), the `summary` when done (bills issued, already issued, totals, exceptions with their
    reasons in the caller's language) and the `error` when it failed, written like a problem."""
    say_language(response, language)
    return run_output(container.run_store.get(run_id), language)


def run_billing_in_background(container: Container, run_id: UUID) -> None:
    """Run a billing run in this process (the inline job queue); a failure is logged, and the run's
    status says why it stopped."""
    try:
        container.jobs.enqueue(RUN_BILLING, run_id=str(run_id))
    except Exception:
        logger.exception("the billing run %s stopped; GET /billing/runs/%s says why", run_id, run_id)


def start_run(container: Container, run_id: UUID, background: BackgroundTasks) -> None:
    """Start a submitted run: inline after the answer is sent, or enqueued on the job queue (a
    failed enqueue fails the run). The API and the web pages start runs the same way."""
    if JobQueueKind(container.settings.job_queue) is JobQueueKind.INLINE:
        background.add_task(run_billing_in_background, container, run_id)
        return
    try:
        container.jobs.enqueue(RUN_BILLING, run_id=str(run_id), _job_id=f"run_billing:{run_id}")
    except Exception as error:
        container.run_store.failed(run_id, error)
        raise


def run_request(body: BillingRunRequest, today: date, container: Container) -> RunRequest:
    """The run asked for, or a 422 for what would stop it before it reads anything (checked on
    the season in force in the community, or the city's; the run checks each community again)."""
    season = season_in_force(container, body.season, body.community or CITY_SCOPE)
    request = RunRequest(body.kind, season, body.month, body.community)
    check_request(request, today)
    return request


def season_in_force(container: Container, code: str, community: str, location: str = "body") -> Season:
    """The days of the season a code names, as in force in the community (its own record, the
    city's, or the default), or a 422 problem on the ``season`` value."""
    return container.billing_runs.season_in_force(season_of(code, location).code, community)


def run_output(record: BillingRunRecord, language: Language) -> BillingRunOutput:
    """A run as the API answers it, its exceptions and error in ``language`` (the pages show the same)."""
    summary = None
    if record.summary is not None:
        exceptions = [_exception_output(item, language) for item in record.summary.get("exceptions", [])]
        skipped = [_exception_output(item, language) for item in record.summary.get("skipped", [])]
        summary = summary_from_payload(record.summary, exceptions, skipped)
    return BillingRunOutput.from_record(record, summary, _run_problem(record, language))


def _exception_output(item: dict[str, Any], language: Language) -> RunExceptionOutput:
    params = {str(name): str(value) for name, value in item.get("params", {}).items()}
    key = str(item.get("message_key", ""))
    message = render([key], params, language, str(item.get("message", key)))
    return RunExceptionOutput(
        account_number=str(item["account_number"]), message_key=key, message=message, params=params
    )


def _run_problem(record: BillingRunRecord, language: Language) -> RunProblem | None:
    if record.error_key is None:
        return None
    params = dict(record.error_params)
    detail = render([record.error_key, "run_failed"], params, language, record.error or record.error_key)
    return RunProblem(
        type=PROBLEM_TYPE_BASE + record.error_key,
        title=title("billing_run_failed", language),
        detail=detail,
        code=record.error_key,
        params=params,
    )


# -- owner changes -------------------------------------------------------------------------------


@router.post(
    "/households/{account_number}/owner-changes",
    status_code=201,
    operation_id="change_household_owner",
    response_model=CommandReceipt,
    tags=["households"],
    responses=problem_responses(401, 403, 404, 409, 422),
)
def change_household_owner(
    account_number: AccountNumberPath, change: OwnerChange, caller: Caller, ledger: Ledger
) -> CommandReceipt:
    """过户: the flat passes to a new holder from `effective_on`, with a reason.

    The season's settlement is split at that day: one bill per holder, each with its days' share
    of the area fee and of the prepayment. A change must follow the registration and every
    earlier change (422 otherwise).
    """
    correlation_id = uuid4()
    ledger.change_owner(caller, account_number, change.effective_on, change.reason, correlation_id)
    return CommandReceipt(correlation_id=correlation_id)


# -- building allocations ------------------------------------------------------------------------


@router.post(
    "/buildings/{community}/{building}/allocations",
    status_code=201,
    operation_id="record_building_allocation",
    response_model=AllocationOutput,
    tags=["consumption"],
    responses=problem_responses(401, 403, 404, 422),
)
def record_building_allocation(
    community: CommunityPath,
    building: BuildingPath,
    body: AllocationRequest,
    caller: Caller,
    container: ContainerDependency,
    queries: Queries,
    response: Response,
) -> AllocationOutput:
    """Share a building meter's season heat among its flats (clerks and administrators): by valve
    open time × area (`on_off_time_area`), area × (room − outdoor temperature)
    (`temperature_area`) or heat cost allocator readings × K_Q × K_C (`heat_cost_allocators`).

    The shares sum exactly to the building's heat (largest remainder, in the finest unit the
    total is written in). The total is what the building meter measured over the season unless
    `building_energy_gj` gives it. Each recording is a new revision; billing uses the latest.
    """
    caller.require(Permission.RUN_BILLING)
    if not queries.place_exists(community, building):
        raise NotFoundError(f"no building {community}/{building}", kind="building", key=f"{community} {building}")
    season = season_in_force(container, body.season, community)
    revision, allocation = container.billing.record_allocation(
        caller,
        community,
        building,
        season,
        body.method,
        body.flat_inputs(),
        body.outdoor_temperature_c,
        body.building_energy_gj,
        reason=body.reason or DEFAULT_ALLOCATION_REASON,
        correlation_id=uuid4(),
    )
    source = "given" if body.building_energy_gj is not None else "building meter"
    response.headers["Location"] = allocation_location(community, building, season)
    return AllocationOutput.from_allocation(community, building, season, revision, source, allocation)


@router.get(
    "/buildings/{community}/{building}/allocations/{season}",
    operation_id="get_building_allocation",
    response_model=AllocationOutput,
    tags=["consumption"],
    responses=problem_responses(401, 403, 404, 422),
)
def get_building_allocation(
    community: CommunityPath, building: BuildingPath, season: SeasonPath, reader: Reader, container: ContainerDependency
) -> AllocationOutput:
    """The latest revision of a building's allocation for a season."""
    found_season = season_in_force(container, season, community, "path")
    record = container.billing.allocation(community, building, found_season)
    if record is None or record.latest is None:
        raise NotFoundError(
            f"no allocation for {community}/{building} in {season}",
            kind="allocation",
            key=f"{community} {building} {season}",
        )
    return AllocationOutput.from_allocation(
        community, building, found_season, record.revision, record.building_meter, record.latest
    )
