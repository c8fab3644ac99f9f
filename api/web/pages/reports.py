"""The community analytics pages (分析报表, issue 15), ``/ui/reports``: a season and a community
chosen, the places report (unit consumption against the company's average, saving against
area-based supply, revenue both ways with purchase cost and margins, who pays more or less, with
charts), network heat loss per substation and building meter per day (flagged days), position
fairness and collection season against season; each with its CSV and XLSX export.

Every role that reads the ledger reads them (auditors and regulators too); the season's settings
form is offered to those who may set them (``manage_tariffs``: administrators) and posts through
the API's own route function, so the same checks refuse a crafted post (403) and a bad value
(shown beside its field). Reads are the API's route functions (``api.web.pages.reports_data``).
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path, Query, Request
from pydantic import BaseModel, ConfigDict, Field, ValidationError
from starlette.responses import RedirectResponse, Response

from api.i18n import Language
from api.routers import reports as reports_api
from api.schemas.common import NAME_MAX_LENGTH, SeasonCode
from api.schemas.reports import SettingInput
from api.web.forms import FormErrors, form_errors
from api.web.pages import reports_data as data
from api.web.pages.arrears_data import current_season_code
from api.web.pages.billing_common import FormFields, WebContainer, refusal_status
from api.web.pages.billing_data import communities
from api.web.pages.casework_common import blank_to_none, invalid_query, page_number, query_without_page
from api.web.rendering import render, translate
from api.web.session import CsrfChecked, WebSession, WebUser, request_language
from application.authorization import Permission, Principal
from domain.analytics_baseline import BaselineSetting
from domain.errors import LedgerError

router = APIRouter(prefix="/ui/reports", include_in_schema=False)

BASE = "/ui/reports"
SETTING_FIELDS = ("setting", "value", "heat_source", "effective_on", "reason")


class ReportQuery(BaseModel):
    """The chooser: a season (default: today's, or the last one), a community, a grouping."""

    model_config = ConfigDict(extra="ignore")

    season: SeasonCode | None = None
    community: str | None = Field(default=None, max_length=NAME_MAX_LENGTH)
    grouping: str = Field(default="community", pattern="^(community|building|customer_class)$")
    name: str | None = Field(default=None, max_length=NAME_MAX_LENGTH)


def chosen(request: Request, container: WebContainer) -> tuple[ReportQuery, str]:
    """The query read by ``ReportQuery`` (a 422 page for what it refuses) and the season's code."""
    try:
        query = ReportQuery.model_validate(blank_to_none(dict(request.query_params)))
    except ValidationError as error:
        raise invalid_query(error) from None
    return query, query.season or current_season_code(container)


def reading(user: WebSession) -> Principal:
    user.principal.require(Permission.READ_LEDGER)
    return user.principal


def names(language: Language, *keys: str) -> dict[str, str]:
    """The charts' series names in the user's language."""
    return {key: translate(f"web.reports.{key}", language) for key in keys}


def _context(request: Request, container: WebContainer, query: ReportQuery, season: str, **more: Any) -> dict[str, Any]:
    return {
        "query": query,
        "season": season,
        "communities": communities(container),
        "groupings": data.GROUPINGS,
        "filters": query_without_page(request),
        **more,
    }


@router.get("")
def places(request: Request, user: WebUser, container: WebContainer) -> Response:
    """The places report of a season, per community (building, customer class) and the city."""
    query, season = chosen(request, container)
    page = page_number(request.query_params.get("page"))
    series = names(
        request_language(request),
        "paying_less",
        "paying_the_same",
        "paying_more",
        "households",
        "metered",
        "area_based",
        "unit_consumption",
        "average",
    )
    view = data.places_view(container, reading(user), season, query.grouping, query.community, page, series)
    return _places_page(request, user, container, query, season, view)


def _places_page(
    request: Request,
    user: WebSession,
    container: WebContainer,
    query: ReportQuery,
    season: str,
    view: data.PlacesView,
    values: dict[str, str] | None = None,
    errors: FormErrors | None = None,
    status_code: int = 200,
) -> Response:
    context = _context(
        request,
        container,
        query,
        season,
        view=view,
        baseline=data.settings_of(container, user.principal, season),
        setting_options=[
            (setting.value, translate(f"web.reports.setting.{setting.value}", request_language(request)))
            for setting in BaselineSetting
        ],
        values=values or {"effective_on": f"{season[:4]}-11-01"},
        errors=errors,
        done=request.query_params.get("done") == "setting",
    )
    return render(request, "reports/places.html", context, status_code=status_code)


@router.post("/settings")
def record_setting(
    request: Request, user: WebUser, container: WebContainer, fields: FormFields, _csrf: CsrfChecked
) -> Response:
    """Record a season's setting (``POST /reports/settings/{season}``): refused beside its field,
    a 403 page for a role that may not set it."""
    user.principal.require(Permission.MANAGE_TARIFFS)
    query, season = chosen(request, container)
    season = fields.get("season") or season
    try:
        body = SettingInput.model_validate({name: fields.get(name, "") for name in SETTING_FIELDS})
        reports_api.record_report_setting(season, body, user.principal, container)
    except (ValidationError, LedgerError) as error:
        errors = form_errors(error, request_language(request), SETTING_FIELDS)
        query = query.model_copy(update={"season": season})
        series = names(request_language(request), "paying_less", "paying_the_same", "paying_more", "households")
        series |= names(request_language(request), "metered", "area_based", "unit_consumption", "average")
        view = data.places_view(container, user.principal, season, query.grouping, query.community, 1, series)
        return _places_page(request, user, container, query, season, view, fields, errors, refusal_status(error))
    return RedirectResponse(f"{BASE}?season={season}&done=setting", status_code=303)


@router.get("/heat-loss")
def heat_loss(request: Request, user: WebUser, container: WebContainer) -> Response:
    """Each substation's and building meter's loss over the season; one meter's days charted."""
    query, season = chosen(request, container)
    page = page_number(request.query_params.get("page"))
    series = names(request_language(request), "loss_percent", "threshold")
    view = data.heat_loss_view(container, reading(user), season, query.name, page, series)
    return render(request, "reports/heat_loss.html", _context(request, container, query, season, view=view))


@router.get("/position-fairness")
def position_fairness(request: Request, user: WebUser, container: WebContainer) -> Response:
    """Heat per m² by position and floor against the tariff's coefficient table."""
    query, season = chosen(request, container)
    series = names(request_language(request), "table_coefficient", "suggested_coefficient")
    view = data.fairness_view(container, reading(user), season, query.community, series)
    return render(request, "reports/fairness.html", _context(request, container, query, season, view=view))


@router.get("/collection")
def collection(request: Request, user: WebUser, container: WebContainer) -> Response:
    """Collection rate and arrears per community and building, beside the season before."""
    query, season = chosen(request, container)
    page = page_number(request.query_params.get("page"))
    series = names(request_language(request), "season", "previous_season")
    view = data.collection_view(container, reading(user), season, page, series)
    return render(request, "reports/collection.html", _context(request, container, query, season, view=view))


@router.get("/{report}/{season}/export")
def export(
    report: Annotated[reports_api.ReportName, Path()],
    season: Annotated[SeasonCode, Path()],
    user: WebUser,
    container: WebContainer,
    file_format: Annotated[reports_api.ExportFormat, Query(alias="format")] = reports_api.ExportFormat.CSV,
    grouping: Annotated[reports_api.Grouping, Query()] = reports_api.Grouping.COMMUNITY,
) -> Response:
    """The report as CSV or XLSX, Chinese headers (``GET /reports/{report}/{season}/export``)."""
    return reports_api.export_report(report, season, reading(user), container, file_format, grouping)
