"""Regulator scenarios (物价局测算): a season recomputed under other tariffs, side by side with what
it cost, per household and in totals, exported as CSV or XLSX. A scenario books nothing.

Submitting one is a job like a billing run: inline (``HEATLEDGER_JOB_QUEUE=inline``, the
default) it is computed in this process after the 202 is sent; with ``arq`` it is enqueued on
Redis for ``heatledger worker``. Either way the job is ``run_scenario``
(``infrastructure.scenarios.execute_scenario``) and the scenario's row says how far it came.

Regulators and administrators may submit scenarios (``run_scenarios``); whoever reads the ledger
may read them. ``POST /scenarios`` declares its permission to ``api.read_only.ReadOnlyRoleGuard``,
which lets a read-only role through to it only when the role holds that permission.
"""

from __future__ import annotations

import logging
from datetime import date
from typing import Annotated, Any
from urllib.parse import quote
from uuid import UUID

from fastapi import BackgroundTasks, Path, Query, Response
from fastapi.responses import StreamingResponse

from api.auth import Caller, Reader
from api.dependencies import BusinessToday, ContainerDependency, PreferredLanguage
from api.messages import Language, render, title
from api.problems import PROBLEM_TYPE_BASE, problem_responses
from api.read_only import requires_permission
from api.routers import resource_router
from api.routers.billing import season_in_force
from api.schemas.billing import RunExceptionOutput, RunProblem
from api.schemas.scenarios import (
    ScenarioGroupList,
    ScenarioGroupOutput,
    ScenarioHouseholdOutput,
    ScenarioHouseholdPage,
    ScenarioList,
    ScenarioOutput,
    ScenarioSubmission,
    summary_output,
)
from application.authorization import Permission
from application.scenarios import ScenarioRequest, last_day_counted
from domain.errors import ConflictError
from domain.tariff import CITY_SCOPE
from infrastructure.container import Container
from infrastructure.scenario_export import csv_lines, xlsx_bytes
from infrastructure.scenarios import MAXIMUM_PAGE, RUN_SCENARIO, ScenarioRecord, ScenarioStatus, TotalsLevel
from infrastructure.settings import JobQueueKind

router = resource_router("", "scenarios")
logger = logging.getLogger("heatledger.api.scenarios")

MAXIMUM_RECENT = 200
XLSX_MEDIA_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"

ScenarioIdPath = Annotated[UUID, Path(description="The scenario's id, from the answer to `POST /scenarios`")]


def scenario_location(scenario_id: UUID) -> str:
    """The URL path of a scenario."""
    return f"/scenarios/{scenario_id}"


@router.post(
    "/scenarios",
    status_code=202,
    operation_id="submit_scenario",
    response_model=ScenarioOutput,
    responses=problem_responses(401, 403, 422),
    openapi_extra=requires_permission(Permission.RUN_SCENARIOS),
)
def submit_scenario(
    body: ScenarioSubmission,
    caller: Caller,
    container: ContainerDependency,
    today: BusinessToday,
    language: PreferredLanguage,
    background: BackgroundTasks,
    response: Response,
) -> ScenarioOutput:
    """Compute a season under 1 to 5 tariff variants beside what it cost (regulators and
    administrators): a past season against its issued settlements, or the current season to the
    day before today (or `as_of`). Scope: the city, a `community`, a `building` within it, a
    `customer_class`. Nothing is booked: no bill, no billing period, no balance changes.

    Answers 202 at once with the scenario and its address in `Location`; follow its progress and
    summary there, its households at `…/households`, its totals at `…/totals`, the file at
    `…/export?format=csv|xlsx`. A season not begun, or a day counted outside the season, is a 422
    here; households that cannot be settled are listed in the summary's exceptions.
    """
    caller.require(Permission.RUN_SCENARIOS)
    request = body.request()
    _check_days(container, request, today)
    scenario_id = container.scenario_store.submit(caller, request)
    _start(container, scenario_id, background)
    response.headers["Location"] = scenario_location(scenario_id)
    return scenario_output(container.scenario_store.get(scenario_id), language)


@router.get(
    "/scenarios", operation_id="list_scenarios", response_model=ScenarioList, responses=problem_responses(401, 403, 422)
)
def list_scenarios(
    reader: Reader,
    container: ContainerDependency,
    language: PreferredLanguage,
    limit: Annotated[int, Query(ge=1, le=MAXIMUM_RECENT, description="Scenarios shown, newest first")] = 20,
) -> ScenarioList:
    """The latest scenarios, newest first."""
    return ScenarioList(items=[scenario_output(record, language) for record in container.scenario_store.recent(limit)])


@router.get(
    "/scenarios/{scenario_id}",
    operation_id="get_scenario",
    response_model=ScenarioOutput,
    responses=problem_responses(401, 403, 404, 422),
)
def get_scenario(
    scenario_id: ScenarioIdPath, reader: Reader, container: ContainerDependency, language: PreferredLanguage
) -> ScenarioOutput:
    """A scenario: `status` (queued, running, done, failed), `progress`, and when done its
    `summary`: per column (0 the actual, then each variant) the totals (what is due, the revenue
    change, gainers and losers with their shares and amounts, 元/m² and 元/GJ) and the households
    per band of change in 元 and in %."""
    return scenario_output(container.scenario_store.get(scenario_id), language)


@router.get(
    "/scenarios/{scenario_id}/households",
    operation_id="list_scenario_households",
    response_model=ScenarioHouseholdPage,
    responses=problem_responses(401, 403, 404, 422),
)
def list_scenario_households(
    scenario_id: ScenarioIdPath,
    reader: Reader,
    container: ContainerDependency,
    variant: Annotated[int | None, Query(ge=0, description="One column: 0 the actual, 1… a variant")] = None,
    community: Annotated[str | None, Query(min_length=1, max_length=128)] = None,
    building: Annotated[str | None, Query(min_length=1, max_length=64)] = None,
    limit: Annotated[int, Query(ge=1, le=MAXIMUM_PAGE)] = 100,
    offset: Annotated[int, Query(ge=0)] = 0,
) -> ScenarioHouseholdPage:
    """Each household under each column (or one), by account number: area fee, metered fee, what
    is due, the settlement bills, the change against the actual column."""
    record = container.scenario_store.get(scenario_id)
    rows = container.scenario_store.results(scenario_id, variant, community, building, limit, offset)
    labels = record.variant_labels
    return ScenarioHouseholdPage(
        items=[ScenarioHouseholdOutput.from_row(row, labels) for row in rows], limit=limit, offset=offset
    )


@router.get(
    "/scenarios/{scenario_id}/totals",
    operation_id="list_scenario_totals",
    response_model=ScenarioGroupList,
    responses=problem_responses(401, 403, 404, 422),
)
def list_scenario_totals(
    scenario_id: ScenarioIdPath,
    reader: Reader,
    container: ContainerDependency,
    level: Annotated[TotalsLevel | None, Query(description="all, community, building or class")] = None,
) -> ScenarioGroupList:
    """Totals per column of the whole scope and of each community, building and customer class."""
    record = container.scenario_store.get(scenario_id)
    rows = container.scenario_store.totals(scenario_id, level)
    return ScenarioGroupList(items=[ScenarioGroupOutput.from_row(row, record.variant_labels) for row in rows])


@router.get(
    "/scenarios/{scenario_id}/export",
    operation_id="export_scenario",
    responses={
        200: {"content": {"text/csv": {}, XLSX_MEDIA_TYPE: {}}, "description": "The file"},
        **problem_responses(401, 403, 404, 409, 422),
    },
    response_class=Response,
)
def export_scenario(
    scenario_id: ScenarioIdPath,
    reader: Reader,
    container: ContainerDependency,
    file_format: Annotated[str, Query(alias="format", pattern="^(csv|xlsx)$", description="csv or xlsx")] = "csv",
) -> Response:
    """The scenario's households side by side (Chinese headers) as CSV (UTF-8 with a byte-order
    mark), or as XLSX with number formats and the totals (汇总, 小区, 楼栋, 用户类别) and the bands
    (分布). A scenario not done yet is a 409."""
    store = container.scenario_store
    record = store.get(scenario_id)
    _require_done(record)
    name = f"scenario-{record.request.season_code}-{scenario_id}"
    if file_format == "xlsx":
        return Response(
            xlsx_bytes(store, record),
            media_type=XLSX_MEDIA_TYPE,
            headers={"Content-Disposition": f'attachment; filename="{name}.xlsx"'},
        )
    return StreamingResponse(
        (line.encode("utf-8") for line in csv_lines(store, record)),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{quote(name)}.csv"'},
    )


# -- helpers -------------------------------------------------------------------------------------


def _check_days(container: Container, request: ScenarioRequest, today: date) -> None:
    """A 422 now for what would stop the scenario before it reads anything, on the season in force
    in the scope's community (or the city's); the job checks each community again."""
    season = season_in_force(container, request.season_code, request.scope.community or CITY_SCOPE)
    last_day_counted(season, request.as_of, today)


def run_in_background(container: Container, scenario_id: UUID) -> None:
    """Compute a scenario in this process (the inline job queue); a failure is logged and the
    scenario's status says why it stopped."""
    try:
        container.jobs.enqueue(RUN_SCENARIO, scenario_id=str(scenario_id))
    except Exception:
        logger.exception("the scenario %s stopped; GET /scenarios/%s says why", scenario_id, scenario_id)


def _start(container: Container, scenario_id: UUID, background: BackgroundTasks) -> None:
    if JobQueueKind(container.settings.job_queue) is JobQueueKind.INLINE:
        background.add_task(run_in_background, container, scenario_id)
        return
    try:
        container.jobs.enqueue(RUN_SCENARIO, scenario_id=str(scenario_id), _job_id=f"{RUN_SCENARIO}:{scenario_id}")
    except Exception as error:
        container.scenario_store.failed(scenario_id, error)
        raise


def _require_done(record: ScenarioRecord) -> None:
    if record.status is not ScenarioStatus.DONE:
        raise ConflictError(
            "the scenario is not computed yet: export it once it is done",
            message_key="scenario_not_done",
            status=record.status.value,
        )


def scenario_output(record: ScenarioRecord, language: Language) -> ScenarioOutput:
    summary = None
    if record.summary is not None:
        exceptions = [_exception(item, language) for item in record.summary.get("exceptions", [])]
        skipped = [_exception(item, language) for item in record.summary.get("skipped", [])]
        summary = summary_output(record.summary, exceptions, skipped)
    return ScenarioOutput.from_record(record, summary, _problem(record, language))


def _exception(item: dict[str, Any], language: Language) -> RunExceptionOutput:
    params = {str(name): str(value) for name, value in item.get("params", {}).items()}
    key = str(item.get("message_key", ""))
    message = render([key], params, language, str(item.get("message", key)))
    return RunExceptionOutput(
        account_number=str(item["account_number"]), message_key=key, message=message, params=params
    )


def _problem(record: ScenarioRecord, language: Language) -> RunProblem | None:
    if record.error_key is None:
        return None
    params = dict(record.error_params)
    detail = render([record.error_key, "scenario_failed"], params, language, record.error or record.error_key)
    return RunProblem(
        type=PROBLEM_TYPE_BASE + record.error_key,
        title=title("scenario_failed", language),
        detail=detail,
        code=record.error_key,
        params=params,
    )
