"""The monitoring pages (数据监控), ``/ui/monitoring``: the lists a clerk works through each morning,
each a paged table linking to the meter or the household — meters silent, intervals whose heat is
implausible, readings beyond their meter's rated limits, faulty meters, quarantined frames, unknown
meters, rejected readings — and an overview counting each; the gap estimation run from there.

Whoever reads the ledger may read them. Each list is the API's own route function
(``api.routers.monitoring``) with the page's principal; the filters are read by models with the
API's own bounds, and a refused filter is said beside its field. Running the estimator needs
``submit_readings`` and ``manage_meters``, as ``POST /estimates/runs`` does (clerks, customer
service, admins).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import APIRouter, Request
from pydantic import BaseModel, ConfigDict, Field, ValidationError
from starlette.responses import Response

from api.dependencies import get_monitoring
from api.routers import estimates as estimate_routes
from api.routers import monitoring as monitoring_routes
from api.schemas.common import KEY_MAX_LENGTH, NAME_MAX_LENGTH, IsoDate
from api.web.pages.casework_common import FormRefusal, WebContainer, blank_to_none, page_number, query_without_page
from api.web.pages.disputes_data import Paging
from api.web.pages.meter_forms import refusal_of
from api.web.pages.meters import naming
from api.web.rendering import render
from api.web.session import CsrfChecked, WebUser, request_language
from application.authorization import Permission, Principal
from domain.errors import LedgerError
from infrastructure.container import Container
from infrastructure.intake import Channel
from projections.monitoring_queries import MonitoringQueries
from projections.page_queries import MonitoringCounts

router = APIRouter(prefix="/ui/monitoring", include_in_schema=False)

BASE = "/ui/monitoring"
PAGE_SIZE = 50
Community = Annotated[str | None, Field(default=None, max_length=NAME_MAX_LENGTH)]


# -- the filters, with the API's bounds --------------------------------------------------------------


class _Filters(BaseModel):
    model_config = ConfigDict(extra="ignore", populate_by_name=True)


class SilentFilters(_Filters):
    """``GET /monitoring/silent-meters``'s filters."""

    days: int = Field(default=monitoring_routes.DEFAULT_SILENT_DAYS, ge=1, le=monitoring_routes.MAXIMUM_SILENT_DAYS)
    community: Community = None


class RangeFilters(_Filters):
    """The business days and community of ``…/implausible-intervals`` and ``…/limit-breaches``."""

    from_day: IsoDate | None = Field(default=None, alias="from")
    to_day: IsoDate | None = Field(default=None, alias="to")
    community: Community = None


class CommunityFilters(_Filters):
    """``GET /monitoring/faulty-meters``'s filter."""

    community: Community = None


class RejectedFilters(_Filters):
    """``GET /monitoring/rejected-readings``'s filters."""

    meter_serial: str | None = Field(default=None, max_length=KEY_MAX_LENGTH)
    reason: str | None = Field(default=None, max_length=monitoring_routes.REASON_MAX_LENGTH)
    channel: Channel | None = None


class NoFilters(_Filters):
    """The quarantine and the unknown meters take no filter."""


# -- the lists -----------------------------------------------------------------------------------------

# (reader, container, the monitoring read model, filters, language, limit, offset) → a page
Lister = Callable[[Principal, Container, MonitoringQueries, Any, Any, int, int], Any]


@dataclass(frozen=True)
class Listing:
    """One monitoring list: its key (URL and message keys), filters, and the API call giving a page."""

    key: str
    filters: type[_Filters]
    fetch: Lister

    @property
    def path(self) -> str:
        return f"{BASE}/{self.key}"


def _silent(
    reader: Principal,
    container: Container,
    monitoring: MonitoringQueries,
    filters: Any,
    language: Any,
    limit: int,
    offset: int,
) -> Any:
    now = container.ledger.clock()
    return monitoring_routes.list_silent_meters(reader, monitoring, now, filters.days, filters.community, limit, offset)


def _implausible(
    reader: Principal,
    container: Container,
    monitoring: MonitoringQueries,
    filters: Any,
    language: Any,
    limit: int,
    offset: int,
) -> Any:
    return monitoring_routes.list_implausible_intervals(
        reader, monitoring, filters.from_day, filters.to_day, filters.community, limit, offset
    )


def _limit_breaches(
    reader: Principal,
    container: Container,
    monitoring: MonitoringQueries,
    filters: Any,
    language: Any,
    limit: int,
    offset: int,
) -> Any:
    return monitoring_routes.list_limit_breaches(
        reader, monitoring, filters.from_day, filters.to_day, filters.community, limit, offset
    )


def _faulty(
    reader: Principal,
    container: Container,
    monitoring: MonitoringQueries,
    filters: Any,
    language: Any,
    limit: int,
    offset: int,
) -> Any:
    return monitoring_routes.list_faulty_meters(reader, monitoring, filters.community, limit, offset)


def _quarantine(
    reader: Principal,
    container: Container,
    monitoring: MonitoringQueries,
    filters: Any,
    language: Any,
    limit: int,
    offset: int,
) -> Any:
    return monitoring_routes.list_quarantined_frames(reader, container.intake, limit, offset)


def _unknown(
    reader: Principal,
    container: Container,
    monitoring: MonitoringQueries,
    filters: Any,
    language: Any,
    limit: int,
    offset: int,
) -> Any:
    return monitoring_routes.list_unknown_meters(reader, monitoring, limit, offset)


def _rejected(
    reader: Principal,
    container: Container,
    monitoring: MonitoringQueries,
    filters: Any,
    language: Any,
    limit: int,
    offset: int,
) -> Any:
    channel = filters.channel
    return monitoring_routes.list_rejected_readings(
        reader,
        monitoring,
        language,
        Response(),
        filters.meter_serial,
        filters.reason,
        channel,
        limit,
        offset,
    )


# In the overview's order: what needs a visit first, then what did not get in.
LISTINGS = (
    Listing("silent", SilentFilters, _silent),
    Listing("faulty", CommunityFilters, _faulty),
    Listing("implausible", RangeFilters, _implausible),
    Listing("limit-breaches", RangeFilters, _limit_breaches),
    Listing("rejected", RejectedFilters, _rejected),
    Listing("quarantine", NoFilters, _quarantine),
    Listing("unknown-meters", NoFilters, _unknown),
)
_BY_KEY = {listing.key: listing for listing in LISTINGS}


@dataclass(frozen=True)
class ListPage:
    """A page of one list, the filters as typed, and why they were refused, if they were."""

    listing: Listing
    values: dict[str, str]
    rows: list[Any]
    paging: Paging
    refusal: FormRefusal


def list_page(request: Request, container: Container, reader: Principal, listing: Listing) -> ListPage:
    """The page of ``listing`` the query asks for; refused filters find nothing and say why."""
    language = request_language(request)
    values = blank_to_none({name: value for name, value in request.query_params.items() if name != "page"})
    page = page_number(request.query_params.get("page"))
    try:
        filters = listing.filters.model_validate(values)
        offset = (page - 1) * PAGE_SIZE
        found = listing.fetch(reader, container, get_monitoring(container), filters, language, PAGE_SIZE, offset)
    except (ValidationError, LedgerError) as error:
        return ListPage(listing, values, [], Paging(1, 0), refusal_of(error, language))
    return ListPage(listing, values, found.items, Paging(page, found.total), FormRefusal(status=200))


def _render_list(request: Request, container: Container, reader: Principal, key: str) -> Response:
    found = list_page(request, container, reader, _BY_KEY[key])
    context = {
        "found": found,
        "key": key,
        "listings": LISTINGS,
        "filters": query_without_page(request),
        "channels": [channel.value for channel in Channel],
        **naming(request_language(request)),
    }
    status = found.refusal.status if found.refusal.fields or found.refusal.message else 200
    return render(request, "monitoring/list.html", context, status_code=status)


# -- the pages ---------------------------------------------------------------------------------------------


@router.get("")
def overview(request: Request, user: WebUser, container: WebContainer) -> Response:
    """How many entries each list holds now (silent: the default days), each linking to its list."""
    return _overview(request, container, user.principal)


def _overview(request: Request, container: Container, reader: Principal, report: Any = None) -> Response:
    language = request_language(request)
    # Totals only: each list's own count, no rows fetched (projections.page_queries).
    counts = MonitoringCounts(container.engine, get_monitoring(container).intake_log)
    totals = {
        listing.key: listing.fetch(reader, container, counts, listing.filters(), language, 1, 0).total
        for listing in LISTINGS
    }
    context = {
        "listings": LISTINGS,
        "totals": totals,
        "silent_days": monitoring_routes.DEFAULT_SILENT_DAYS,
        "report": report,
        "may_estimate": reader.may(Permission.SUBMIT_READINGS) and reader.may(Permission.MANAGE_METERS),
    }
    return render(request, "monitoring/index.html", context)


@router.post("/estimates")
def run_estimation(request: Request, user: CsrfChecked, container: WebContainer) -> Response:
    """Estimate the missing days of silent meters and the faulty intervals now
    (``POST /estimates/runs``, normally a nightly job); the overview shows what it did."""
    principal = user.principal
    principal.require(Permission.SUBMIT_READINGS)
    principal.require(Permission.MANAGE_METERS)
    report = estimate_routes.run_gap_estimation(principal, container)
    return _overview(request, container, principal, report)


@router.get("/silent")
def silent_meters(request: Request, user: WebUser, container: WebContainer) -> Response:
    """Meters in service quiet for more than the days asked (default 3), the most recently silent first."""
    return _render_list(request, container, user.principal, "silent")


@router.get("/faulty")
def faulty_meters(request: Request, user: WebUser, container: WebContainer) -> Response:
    """Meters reporting error flags or a faulty newest reading, the most recent fault first."""
    return _render_list(request, container, user.principal, "faulty")


@router.get("/implausible")
def implausible_intervals(request: Request, user: WebUser, container: WebContainer) -> Response:
    """Intervals whose heat disagrees with k·Δθ·ΔV by more than the meter's permissible error."""
    return _render_list(request, container, user.principal, "implausible")


@router.get("/limit-breaches")
def limit_breaches(request: Request, user: WebUser, container: WebContainer) -> Response:
    """Readings and intervals beyond their meter model's rated limits."""
    return _render_list(request, container, user.principal, "limit-breaches")


@router.get("/rejected")
def rejected_readings(request: Request, user: WebUser, container: WebContainer) -> Response:
    """Readings the ledger refused, with the rule each broke in the user's language."""
    return _render_list(request, container, user.principal, "rejected")


@router.get("/quarantine")
def quarantined_frames(request: Request, user: WebUser, container: WebContainer) -> Response:
    """Data that reached the ledger but did not become a reading, newest first."""
    return _render_list(request, container, user.principal, "quarantine")


@router.get("/unknown-meters")
def unknown_meters(request: Request, user: WebUser, container: WebContainer) -> Response:
    """Meter identifications the quarantined frames name, most recently seen first."""
    return _render_list(request, container, user.principal, "unknown-meters")
