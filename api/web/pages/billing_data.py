"""What the billing pages show and do: tariffs, heating seasons and billing runs (issue 13).

Plain functions over the container, called by the page routes (``api.web.pages.billing``). Each
reads what the API's routers read (``api/routers/tariffs.py``, ``seasons.py``, ``billing.py``,
``history.py``), and writes by calling the API's own endpoint functions with the request the
API's pydantic schema reads from the form, so a page can do exactly what the API can and nothing
else: permissions are checked by the services (``principal.require``; here first as well, so a
role that may not act is refused before its form is even read), rules by the domain. Form input
arrives as text; the schemas read it as the API reads JSON, and what they refuse comes back as
``FormErrors`` in the user's language for the form to show beside its fields.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any, Generic, TypeVar
from uuid import UUID

from fastapi import BackgroundTasks, Response

from api.history_text import summarize
from api.messages import Language
from api.routers import billing as billing_api
from api.routers import seasons as seasons_api
from api.routers import tariffs as tariffs_api
from api.routers.billing import MAXIMUM_RECENT_RUNS, run_output, season_of
from api.schemas.billing import (
    BillingRunOutput,
    BillingRunRequest,
    RunExceptionOutput,
    TariffPublication,
    TariffVersionOutput,
)
from api.schemas.seasons import SeasonDays, SeasonDeclaration, SeasonInForceOutput, SeasonOutput
from api.web.forms import filled
from application.authorization import Permission, Principal
from application.history import Histories, HistoryQuery
from domain.billing import BillKind
from domain.day_split import business_day
from domain.errors import NotFoundError
from domain.season import Season, current_or_last_season
from domain.settlement import ALLOWED_QUANTA_YUAN
from domain.tariff import CITY_SCOPE
from domain.values import CustomerClass
from infrastructure.access_log import SqlAccessLog
from infrastructure.billing_runs import RunStatus
from infrastructure.container import Container
from projections.billing_queries import BillingQueries
from projections.queries import LedgerQueries

PAGE_SIZE = 50
# The kinds of run a clerk starts; credit and debit notes come from disputes and corrections.
RUN_KINDS = (BillKind.PREPAYMENT, BillKind.STATEMENT, BillKind.SETTLEMENT)
# A run is watched until it is done or failed; the progress fragment stops polling then.
FINISHED_STATUSES = frozenset({RunStatus.DONE.value, RunStatus.FAILED.value})
# The most events of a tariff shown on its page (a tariff has a version or two a year).
TARIFF_HISTORY_LIMIT = 200

# The fields of the publication form, in the order the form shows them.
TARIFF_FIELDS = (
    "customer_class",
    "scope",
    "area_price_yuan_per_m2",
    "base_share_percent",
    "energy_price_yuan_per_gj",
    "policy",
    "cap_percent",
    "suspension_share_percent",
    "position_correction",
    "minimum_charge_yuan",
    "rounding_mode",
    "rounding_quantum_yuan",
    "billed_area",
    "broken_meter_share_percent",
    "broken_meter_method",
    "effective_from",
    "effective_until",
    "document_number",
    "approved_on",
    "reason",
)
SEASON_FIELDS = ("scope", "season", "first_day", "last_day", "decree_number", "reason")
EXTENSION_FIELDS = ("first_day", "last_day", "decree_number", "reason")
RUN_FIELDS = ("kind", "season", "month", "community", "reason")

T = TypeVar("T")


# -- paging and form errors ---------------------------------------------------------------------


@dataclass(frozen=True)
class Paged(Generic[T]):
    """One page of a list: its items, its number (from 1) and how many there are in all."""

    items: list[T]
    page: int
    total: int
    page_size: int = PAGE_SIZE

    @property
    def pages(self) -> int:
        return max(1, -(-self.total // self.page_size))

    @property
    def has_previous(self) -> bool:
        return self.page > 1

    @property
    def has_next(self) -> bool:
        return self.page < self.pages


def page_of(items: Sequence[T], page: int, page_size: int = PAGE_SIZE) -> Paged[T]:
    """The ``page``-th slice of ``items`` (a page past the last shows the last)."""
    assert page_size > 0, "a page holds at least one item"
    last_page = max(1, -(-len(items) // page_size))
    number = min(max(1, page), last_page)
    start = (number - 1) * page_size
    return Paged(list(items[start : start + page_size]), number, len(items), page_size)


def business_today(container: Container) -> date:
    """Today in Asia/Shanghai by the ledger's clock (the API's ``BusinessToday``)."""
    return business_day(container.ledger.clock())


def communities(container: Container) -> list[str]:
    """The communities households are registered in, by name (choices for a scope)."""
    return LedgerQueries(container.engine).communities()


# -- tariffs ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class TariffSummary:
    """One tariff (a customer class in a scope) with its latest version."""

    customer_class: str
    scope: str
    versions: int
    latest: TariffVersionOutput


def tariff_summaries(container: Container, search: str = "") -> list[TariffSummary]:
    """Every tariff, by class and scope, with its latest version; ``search`` keeps those whose
    scope or a version's document number contains it."""
    grouped: dict[tuple[str, str], list[TariffVersionOutput]] = {}
    for record in BillingQueries(container.engine).tariffs():
        grouped.setdefault((record.customer_class, record.scope), []).append(TariffVersionOutput.from_record(record))
    needle = search.strip().casefold()
    return [
        TariffSummary(customer_class, scope, len(versions), versions[-1])
        for (customer_class, scope), versions in grouped.items()
        if not needle or _tariff_matches(scope, versions, needle)
    ]


def _tariff_matches(scope: str, versions: list[TariffVersionOutput], needle: str) -> bool:
    texts = [scope, *(version.document_number for version in versions)]
    return any(needle in text.casefold() for text in texts)


def tariff_versions(container: Container, customer_class: CustomerClass, scope: str) -> list[TariffVersionOutput]:
    """The versions of one tariff, oldest first; NotFoundError (a 404 page) when it has none."""
    records = BillingQueries(container.engine).tariff_versions(customer_class.value, scope)
    if not records:
        raise NotFoundError(
            f"no tariff for {customer_class.value} in {scope}", kind="tariff", key=f"{customer_class.value} {scope}"
        )
    return [TariffVersionOutput.from_record(record) for record in records]


@dataclass(frozen=True)
class HistoryRow:
    """An event of a tariff as its page lists it."""

    recorded_at: datetime
    event_type: str
    actor: str
    reason: str
    summary: str


def tariff_history(
    container: Container, viewer: Principal, customer_class: CustomerClass, scope: str, language: Language
) -> list[HistoryRow]:
    """A tariff's events, oldest first, summarised in ``language`` (``GET /tariffs/…/history``)."""
    histories = Histories(container.ledger, SqlAccessLog(container.engine), container.ledger.clock)
    page = histories.tariff(viewer, customer_class.value, scope, HistoryQuery(limit=TARIFF_HISTORY_LIMIT))
    return [
        HistoryRow(entry.recorded_at, entry.event_type, entry.actor, entry.reason, summarize(entry, language))
        for entry in page.entries
    ]


def publication_defaults(container: Container, customer_class: str = "", scope: str = "") -> dict[str, str]:
    """The publication form's starting values: the latest version of the tariff named (a new
    version usually changes a price or two), else the schema's defaults for the city."""
    defaults = {
        "customer_class": CustomerClass.RESIDENTIAL.value,
        "scope": CITY_SCOPE,
        "suspension_share_percent": "0",
        "position_correction": "none",
        "minimum_charge_yuan": "0",
        "rounding_mode": "half_up",
        "rounding_quantum_yuan": "0.01",
        "billed_area": "connected",
        "broken_meter_share_percent": "10",
        "broken_meter_method": "area",
    }
    if customer_class not in {member.value for member in CustomerClass} or not scope:
        return defaults
    records = BillingQueries(container.engine).tariff_versions(customer_class, scope)
    if not records:
        return {**defaults, "customer_class": customer_class, "scope": scope}
    return {**defaults, **_terms_as_form(TariffVersionOutput.from_record(records[-1]))}


def _terms_as_form(version: TariffVersionOutput) -> dict[str, str]:
    terms = version.terms.model_dump(mode="json", exclude={"position_coefficients"})
    values = {name: "" if value is None else str(value) for name, value in terms.items()}
    quantum = Decimal(values["rounding_quantum_yuan"])
    # The form offers the quanta as the domain writes them (0.01, 0.1, 1), not as shown (1.00).
    values["rounding_quantum_yuan"] = next((str(allowed) for allowed in ALLOWED_QUANTA_YUAN if allowed == quantum), "")
    return {**values, "customer_class": version.customer_class, "scope": version.scope}


def publish_tariff(container: Container, principal: Principal, form: Mapping[str, Any]) -> TariffVersionOutput:
    """Publish the version the form describes, through the API's own ``POST /tariffs``:
    ValidationError or a LedgerError for what the schema or the ledger refuses;
    PermissionDeniedError for a role that may not publish (before the form is read)."""
    principal.require(Permission.MANAGE_TARIFFS)
    publication = TariffPublication.model_validate(filled(form, TARIFF_FIELDS))
    return tariffs_api.publish_tariff(publication, principal, container, Response())


# -- heating seasons ----------------------------------------------------------------------------


def season_code_or_current(container: Container, code: str | None) -> str:
    """The season asked for, or the one today falls in (out of season: the last one); a
    malformed code is a 422 problem on ``season``, as in the API."""
    if code:
        return season_of(code, "query").code
    return current_or_last_season(business_today(container)).code


def neighbouring_seasons(code: str) -> tuple[str, str]:
    """The season before and after ``code`` (the page's links)."""
    season = Season.from_code(code)
    before = Season.default_starting(season.first_day.year - 1).code
    after = Season.default_starting(season.first_day.year + 1).code
    return before, after


def season_records(container: Container, code: str) -> list[SeasonOutput]:
    """A season's records: the city's first, then the communities' own (``GET /seasons``)."""
    return [SeasonOutput.from_record(record) for record in container.seasons.records(code, communities(container))]


def season_record(container: Container, scope: str, code: str) -> SeasonOutput:
    """A scope's record of a season with every decree; NotFoundError when none was declared."""
    return SeasonOutput.from_record(container.seasons.record(scope, season_of(code, "path").code))


def season_in_force(container: Container, community: str, code: str) -> SeasonInForceOutput:
    """The days a community heats in a season and where they come from (community, city, default)."""
    found, source = container.seasons.in_force_with_source(code, community)
    return SeasonInForceOutput.of(community, code, found, source)


def declare_season(container: Container, principal: Principal, form: Mapping[str, Any]) -> SeasonOutput:
    """Declare a scope's season by decree, through the API's own ``POST /seasons``."""
    principal.require(Permission.MANAGE_TARIFFS)
    declaration = SeasonDeclaration.model_validate(filled(form, SEASON_FIELDS))
    return seasons_api.declare_season(declaration, principal, container, Response())


def extend_season(
    container: Container, principal: Principal, scope: str, code: str, form: Mapping[str, Any]
) -> SeasonOutput:
    """Extend a declared season by decree, through the API's own
    ``POST /seasons/{scope}/{season}/extension``."""
    principal.require(Permission.MANAGE_TARIFFS)
    extension = SeasonDays.model_validate(filled(form, EXTENSION_FIELDS))
    return seasons_api.extend_season(scope, code, extension, principal, container)


# -- billing runs -------------------------------------------------------------------------------


def runs_page(container: Container, language: Language, page: int) -> Paged[BillingRunOutput]:
    """A page of the latest runs, newest first (the store keeps the latest 200 within reach)."""
    wanted = min(MAXIMUM_RECENT_RUNS, max(1, page) * PAGE_SIZE + 1)
    records = container.run_store.recent(wanted)
    return page_of([run_output(record, language) for record in records], page)


@dataclass(frozen=True)
class RunView:
    """A run as its page shows it: where it stands, and a page of the households it refused."""

    run: BillingRunOutput
    exceptions: Paged[RunExceptionOutput]

    @property
    def finished(self) -> bool:
        return self.run.status in FINISHED_STATUSES

    @property
    def percent(self) -> int:
        """How far the run came, in whole percent (a finished run is at 100)."""
        progress = self.run.progress
        if self.run.status == RunStatus.DONE.value:
            return 100
        if progress.total <= 0:
            return 0
        return min(100, progress.done * 100 // progress.total)


def run_view(container: Container, run_id: UUID, language: Language, exceptions_page: int = 1) -> RunView:
    """A run (``GET /billing/runs/{id}``); NotFoundError when there is none."""
    run = run_output(container.run_store.get(run_id), language)
    exceptions = run.summary.exceptions if run.summary is not None else []
    return RunView(run, page_of(exceptions, exceptions_page))


def run_defaults(container: Container) -> dict[str, str]:
    """The run form's starting values: a statement of the season today falls in."""
    return {"kind": BillKind.STATEMENT.value, "season": current_or_last_season(business_today(container)).code}


def submit_run(
    container: Container, principal: Principal, form: Mapping[str, Any], language: Language, background: BackgroundTasks
) -> BillingRunOutput:
    """Submit the run the form asks for, through the API's own ``POST /billing/runs``: the run is
    recorded and started (inline: by ``background``, after the answer is sent). What would stop it
    before it reads anything (a settlement before the season's end, a month not over) is refused
    as in the API, before the run is recorded."""
    principal.require(Permission.RUN_BILLING)
    body = BillingRunRequest.model_validate(filled(form, RUN_FIELDS))
    today = business_today(container)
    return billing_api.submit_billing_run(body, principal, container, today, language, background, Response())
