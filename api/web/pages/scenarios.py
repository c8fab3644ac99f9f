"""The regulator scenario pages (物价局测算), ``/ui/scenarios``: the latest scenarios, a new one
(season, scope, up to five tariff variants), and a scenario's page: its progress while it runs
(polled), its columns side by side, the distribution of the changes, totals by community,
building and class, its households page by page, and the CSV and XLSX exports.

Submitting needs ``run_scenarios`` (regulators, administrators); reading needs ``read_ledger``. A
scenario books nothing. The submission and the exports are the API's own route functions
(``POST /scenarios``, ``GET /scenarios/{id}/export``) with the page's principal.
"""

from __future__ import annotations

from typing import Annotated, Any
from urllib.parse import urlencode
from uuid import UUID

from fastapi import APIRouter, BackgroundTasks, Query, Request
from pydantic import BaseModel, ConfigDict, Field, ValidationError
from starlette.responses import RedirectResponse, Response

from api.routers import scenarios as scenario_routes
from api.schemas.common import NAME_MAX_LENGTH
from api.web.pages import scenarios_data
from api.web.pages.casework_common import (
    FormFields,
    FormRefusal,
    WebContainer,
    blank_to_none,
    invalid_query,
    page_number,
)
from api.web.pages.casework_forms import VARIANT_FIELDS, scenario_submission
from api.web.rendering import render, translate
from api.web.session import CsrfChecked, WebUser, is_htmx, request_language
from application.authorization import Permission
from domain.day_split import business_day
from domain.errors import LedgerError
from domain.scenario import MAXIMUM_VARIANTS
from domain.season import current_or_last_season
from domain.settlement import SettlementPolicy
from domain.values import CustomerClass
from infrastructure.container import Container
from infrastructure.scenarios import TotalsLevel

router = APIRouter(prefix="/ui/scenarios", include_in_schema=False)

BASE = "/ui/scenarios"
# The groups whose totals the page shows, as the API's ``level`` names them.
GROUP_LEVELS = (TotalsLevel.COMMUNITY, TotalsLevel.BUILDING, TotalsLevel.CLASS)


@router.get("")
def scenario_list(request: Request, user: WebUser, container: WebContainer) -> Response:
    """The latest scenarios, newest first, each with its status and progress."""
    found = scenarios_data.recent_scenarios(container, request_language(request))
    return render(request, "scenarios/list.html", {"scenarios": found, "page_size": scenarios_data.PAGE_SIZE})


# -- a new scenario ---------------------------------------------------------------------------------


@router.get("/new")
def new_scenario(request: Request, user: WebUser, container: WebContainer) -> Response:
    """The form: the season (default: the current or last one), the scope, the variants."""
    user.principal.require(Permission.RUN_SCENARIOS)
    season = current_or_last_season(business_day(container.ledger.clock())).code
    values = {"season": season, **{f"variant{index}_from_actual": "on" for index in range(1, MAXIMUM_VARIANTS + 1)}}
    return _form_page(request, values, FormRefusal(status=200))


def _form_page(request: Request, values: dict[str, str], refusal: FormRefusal) -> Response:
    context: dict[str, Any] = {
        "values": values,
        "refusal": refusal,
        "variant_numbers": range(1, MAXIMUM_VARIANTS + 1),
        "variant_fields": [name for name in VARIANT_FIELDS if name != "policy"],
        "policies": [policy.value for policy in SettlementPolicy],
        "customer_classes": [customer_class.value for customer_class in CustomerClass],
    }
    return render(request, "scenarios/new.html", context, status_code=refusal.status)


@router.post("")
def submit(
    request: Request, user: CsrfChecked, container: WebContainer, fields: FormFields, background: BackgroundTasks
) -> Response:
    """Submit the scenario (``POST /scenarios``) and follow it on its page; a refusal (a season
    not begun, a building without its community, repeated labels) shows the form again."""
    user.principal.require(Permission.RUN_SCENARIOS)
    language = request_language(request)
    today = business_day(container.ledger.clock())
    try:
        submitted = scenarios_data.submit(
            container, user.principal, scenario_submission(fields), today, language, background
        )
    except (ValidationError, LedgerError) as error:
        return _form_page(request, fields, FormRefusal.of(error, language))
    # The job starts once this answer is sent (FastAPI runs ``background`` after it).
    return RedirectResponse(f"{BASE}/{submitted.scenario_id}", status_code=303)


# -- one scenario -------------------------------------------------------------------------------------


class HouseholdQuery(BaseModel):
    """The households table's filters, as ``GET /scenarios/{id}/households`` takes them."""

    model_config = ConfigDict(extra="ignore")

    variant: int | None = Field(default=None, ge=0, le=MAXIMUM_VARIANTS)
    community: str | None = Field(default=None, max_length=NAME_MAX_LENGTH)
    level: TotalsLevel = TotalsLevel.COMMUNITY


@router.get("/{scenario_id:uuid}")
def scenario_page(scenario_id: UUID, request: Request, user: WebUser, container: WebContainer) -> Response:
    """A scenario: while it runs, its progress (polled); done, its results; failed, why."""
    try:
        query = HouseholdQuery.model_validate(blank_to_none(request.query_params))
    except ValidationError as error:
        raise invalid_query(error) from None
    found = scenarios_data.scenario(container, scenario_id, request_language(request))
    context: dict[str, Any] = {"scenario": found, "query": query, **_progress(found)}
    if found.summary is not None:
        context |= _results(request, container, scenario_id, found, query)
    block = "households" if is_htmx(request) and found.summary is not None else None
    return render(request, "scenarios/detail.html", context, block_name=block)


def _progress(found: Any) -> dict[str, Any]:
    return {
        "unfinished": scenarios_data.is_unfinished(found),
        "percent": scenarios_data.progress_percent(found),
        "poll_seconds": scenarios_data.POLL_SECONDS,
    }


def _results(
    request: Request, container: Container, scenario_id: UUID, found: Any, query: HouseholdQuery
) -> dict[str, Any]:
    language = request_language(request)
    page = page_number(request.query_params.get("page"))
    return {
        "households": scenarios_data.households(container, scenario_id, query.variant, query.community, page),
        "groups": scenarios_data.grouped_totals(container, scenario_id, query.level),
        "levels": [level.value for level in GROUP_LEVELS],
        "chart_yuan": scenarios_data.bands_chart(found, "yuan", translate("web.scenarios.chart.yuan", language)),
        "chart_percent": scenarios_data.bands_chart(
            found, "percent", translate("web.scenarios.chart.percent", language)
        ),
        "household_filters": _household_filters(query),
    }


def _household_filters(query: HouseholdQuery) -> str:
    values = {"variant": query.variant, "community": query.community, "level": query.level.value}
    return urlencode({name: value for name, value in values.items() if value is not None})


@router.get("/{scenario_id:uuid}/progress")
def progress(scenario_id: UUID, request: Request, user: WebUser, container: WebContainer) -> Response:
    """The progress block, polled while the scenario runs; once it has stopped the whole page is
    loaded again (``HX-Refresh``) to show its results or why it failed."""
    found = scenarios_data.scenario(container, scenario_id, request_language(request))
    headers = {} if scenarios_data.is_unfinished(found) else {"HX-Refresh": "true"}
    context = {"scenario": found, **_progress(found)}
    return render(request, "scenarios/detail.html", context, block_name="progress", headers=headers)


@router.get("/{scenario_id:uuid}/export")
def export(
    scenario_id: UUID,
    user: WebUser,
    container: WebContainer,
    file_format: Annotated[str, Query(alias="format", pattern="^(csv|xlsx)$")] = "csv",
) -> Response:
    """The scenario's households side by side as CSV or XLSX (``GET /scenarios/{id}/export``);
    a scenario not done yet is a 409 page."""
    user.principal.require(Permission.READ_LEDGER)
    return scenario_routes.export_scenario(scenario_id, user.principal, container, file_format)
