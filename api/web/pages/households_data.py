"""What the households pages show (/ui/households): the search, one household with its facts,
meters, heat beside its building, bills, payments, account, disputes and contact, a bill read out,
and the household's history.

Every read is the API's own: the page calls the same endpoint functions (``api.routers.households``,
``bills``, ``payment_reports``, ``consumption``, ``disputes``, ``dunning``, ``history``) with the
signed-in user as the reader, so a page shows exactly what ``GET /households/…`` answers, laid out
for a person, and refuses exactly what the API refuses (a phone search without
``manage_households``, an unknown account). Charts are ECharts options built here as plain dicts.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any
from uuid import UUID

from fastapi import Request, Response
from pydantic import ValidationError

from api.i18n import Language, translate
from api.messages import render
from api.routers import bills as bill_routes
from api.routers import consumption as consumption_routes
from api.routers import disputes as dispute_routes
from api.routers import dunning as contact_routes
from api.routers import history as history_routes
from api.routers import households as household_routes
from api.routers import payment_reports as payment_routes
from api.schemas.billing import BalanceOutput, BillExplanationOutput, BillSummary
from api.schemas.consumption import HouseholdComparison
from api.schemas.disputes import HouseholdDisputes
from api.schemas.dunning import ContactOutput
from api.schemas.history import HistoryEvent
from api.schemas.households import HouseholdDetail, HouseholdFilter, HouseholdSummary
from api.schemas.payments import HouseholdAccountOutput, PaymentOutput
from application.authorization import Permission, Principal
from application.history import DEFAULT_PAGE_SIZE, HistoryKind
from domain.errors import NotFoundError
from infrastructure.as_known import KnownReads
from infrastructure.container import Container
from projections.billing_queries import BillingQueries
from projections.dispute_queries import DisputeQueries
from projections.page_queries import RequestLedgerQueries
from projections.queries import Granularity, LedgerQueries

PAGE_SIZE = 50
# A page number beyond this is not a person paging (50 rows a page: five million rows).
MAXIMUM_PAGE = 100_000
# The household page lists its latest disputes; the disputes area lists them all.
DISPUTES_SHOWN = 20
SEARCH_FIELDS = ("search", "community", "building", "entrance", "floor", "phone", "holder")


@dataclass(frozen=True)
class Paging:
    """Where a page of ``size`` rows sits among ``total`` (pages counted from 1)."""

    page: int
    total: int
    size: int = PAGE_SIZE

    @property
    def offset(self) -> int:
        return (self.page - 1) * self.size

    @property
    def pages(self) -> int:
        return max((self.total + self.size - 1) // self.size, 1)

    @property
    def has_previous(self) -> bool:
        return self.page > 1

    @property
    def has_next(self) -> bool:
        return self.page < self.pages


def page_number(text: str | None) -> int:
    """The ``?page=`` asked for, from 1; anything else is the first page."""
    try:
        number = int(text or "1")
    except ValueError:
        return 1
    return min(max(number, 1), MAXIMUM_PAGE)


def field_errors(error: ValidationError, language: Language) -> dict[str, str]:
    """What is wrong with each field, in ``language`` (the API's validation messages), the first
    error of a field only."""
    found: dict[str, str] = {}
    for item in error.errors():
        location = tuple(str(part) for part in item.get("loc", ()))
        params = dict(item.get("ctx") or {})
        message = render([f"validation.{item['type']}"], params, language, str(item.get("msg", "")))
        found.setdefault(location[-1] if location else "", message)
    return found


def filled(values: Mapping[str, str], names: tuple[str, ...]) -> dict[str, str]:
    """The named fields that hold text, trimmed: a form sends its blank fields as empty text, the
    API's query leaves them out."""
    found = {name: str(values.get(name, "")).strip() for name in names}
    return {name: value for name, value in found.items() if value}


# -- the search -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class SearchResult:
    """A page of households found, the filters as typed, and what was wrong with them."""

    values: dict[str, str]
    rows: list[HouseholdSummary]
    paging: Paging
    errors: dict[str, str]
    communities: list[str]
    may_search_phone: bool

    @property
    def searched(self) -> bool:
        return bool(self.values)


def search(
    container: Container, reader: Principal, values: Mapping[str, str], page: int, language: Language
) -> SearchResult:
    """The households matching the search form's ``values`` (``GET /households`` with the same
    filters); invalid filters find nothing and say why, per field."""
    typed = filled(values, SEARCH_FIELDS)
    may_search_phone = reader.may(Permission.MANAGE_HOUSEHOLDS)
    communities = LedgerQueries(container.engine).communities()
    try:
        filters = HouseholdFilter.model_validate(typed)
    except ValidationError as error:
        return SearchResult(typed, [], Paging(1, 0), field_errors(error, language), communities, may_search_phone)
    paging = Paging(page, 0)
    found = household_routes.list_households(reader, container, filters, PAGE_SIZE, paging.offset)
    return SearchResult(typed, found.items, Paging(page, found.total), {}, communities, may_search_phone)


# -- one household ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class HouseholdView:
    """One household as its page shows it (each part the answer of the API's own endpoint)."""

    detail: HouseholdDetail
    balance: BalanceOutput
    account: HouseholdAccountOutput
    disputes: HouseholdDisputes
    contact: ContactOutput | None
    may_see_contact: bool

    @property
    def account_number(self) -> str:
        return self.detail.account_number

    @property
    def state(self) -> str:
        """``deregistered``, ``suspended`` or ``supplied``: the household's supply as its record says."""
        if self.detail.deregistered_on is not None:
            return "deregistered"
        return "suspended" if self.detail.heating_suspended else "supplied"

    @property
    def open_yuan(self) -> Decimal:
        return sum((charge.open_yuan for charge in self.account.open_charges), Decimal("0.00"))


def live(container: Container) -> KnownReads:
    """The live read models (the API's reads without ``known_at``)."""
    return container.as_known.live()


@dataclass(frozen=True)
class PageReads(KnownReads):
    """The live read models for one page's request: the endpoint functions it calls share one
    ``RequestLedgerQueries``, so the household is looked up once, not once per function."""

    shared_queries: RequestLedgerQueries | None = None

    @property
    def queries(self) -> LedgerQueries:
        assert self.shared_queries is not None, "made by page_reads"
        return self.shared_queries


def page_reads(container: Container) -> PageReads:
    """The live reads of one request (make one per request: it remembers what it looked up)."""
    live_reads = live(container)
    assert live_reads.known_at is None, "a page reads the live read models"
    return PageReads(live_reads.engine, shared_queries=RequestLedgerQueries(LedgerQueries(live_reads.engine)))


def household_view(
    container: Container, reader: Principal, account_number: str, today: date, reads: PageReads | None = None
) -> HouseholdView:
    """The household's page (404 for an unknown account, as ``GET /households/{account}``)."""
    reads = reads or page_reads(container)
    queries = reads.queries
    detail = household_routes.get_household(account_number, reader, queries, today)
    balance = bill_routes.get_household_balance(account_number, reader, reads)
    account = payment_routes.get_household_account(account_number, reader, reads)
    disputes = dispute_routes.list_household_disputes(
        account_number, reader, queries, DisputeQueries(container.engine), today, False, DISPUTES_SHOWN, 0
    )
    may_see_contact = reader.may(Permission.MANAGE_HOUSEHOLDS)
    contact = household_contact(container, reader, account_number) if may_see_contact else None
    return HouseholdView(detail, balance, account, disputes, contact, may_see_contact)


def household_contact(container: Container, reader: Principal, account_number: str) -> ContactOutput | None:
    """The household's contact (``GET /households/{account}/contact``), None when it has none."""
    try:
        return contact_routes.get_household_contact(account_number, reader, container)
    except NotFoundError as error:
        if error.params.get("kind") != "contact":
            raise
        return None


def bills_page(
    container: Container, reader: Principal, account_number: str, page: int, reads: PageReads | None = None
) -> tuple[list[BillSummary], Paging]:
    """A page of the household's bills, the latest season and the latest issued first."""
    paging = Paging(page, 0)
    found = bill_routes.list_household_bills(
        account_number, reader, reads or page_reads(container), None, None, PAGE_SIZE, paging.offset
    )
    return found.items, Paging(page, found.total)


def payments_page(
    container: Container, reader: Principal, account_number: str, page: int, reads: PageReads | None = None
) -> tuple[list[PaymentOutput], Paging]:
    """A page of the household's payments, newest first, with their reversals."""
    paging = Paging(page, 0)
    reads = reads or page_reads(container)
    found = payment_routes.list_household_payments(account_number, reader, reads, PAGE_SIZE, paging.offset)
    return found.items, Paging(page, found.total)


# -- a bill read out --------------------------------------------------------------------------------


def bill_explanation(
    container: Container, reader: Principal, account_number: str, bill_id: UUID, language: Language
) -> tuple[BillSummary, BillExplanationOutput]:
    """The bill (one of this household's: another's is a 404) and ``GET /bills/{id}/explain``."""
    billing = BillingQueries(container.engine)
    record = bill_routes.require_bill(billing, bill_id)
    if record.account_number != account_number:
        raise NotFoundError(f"no bill {bill_id} of household {account_number}", kind="bill", key=str(bill_id))
    explanation = bill_routes.explain_bill_endpoint(bill_id, reader, billing, language, Response())
    return BillSummary.from_record(record), explanation


# -- heat beside the building -------------------------------------------------------------------------


def comparison(
    container: Container,
    reader: Principal,
    account_number: str,
    today: date,
    granularity: Granularity,
    reads: PageReads | None = None,
) -> HouseholdComparison:
    """``GET /households/{account}/consumption/comparison`` over the season to date."""
    day_range = consumption_routes.consumption_range(today, granularity, None, None)
    queries = (reads or page_reads(container)).queries
    return consumption_routes.compare_household_consumption(account_number, reader, queries, day_range)


def comparison_chart(compared: HouseholdComparison, language: Language) -> dict[str, Any]:
    """An ECharts option: the household's heat per m² as bars, the building's average as a line.

    The chart draws; it does not count: its values are floats of the API's exact figures, which
    the table beside it shows as they are."""
    household = translate("web.households.chart.household", language)
    building = translate("web.households.chart.building", language)

    def values(field: str) -> list[float | None]:
        return [_drawn(getattr(period, field)) for period in compared.periods]

    return {
        "aria": {"enabled": True},
        "tooltip": {"trigger": "axis"},
        "legend": {"data": [household, building], "top": 0},
        "grid": {"left": 56, "right": 16, "top": 36, "bottom": 32},
        "xAxis": {"type": "category", "data": [period.period for period in compared.periods]},
        "yAxis": {"type": "value", "name": translate("web.households.chart.unit", language)},
        "series": [
            {"name": household, "type": "bar", "data": values("energy_per_connected_area_gj_per_m2")},
            {
                "name": building,
                "type": "line",
                "data": values("building_energy_per_connected_area_gj_per_m2"),
                "connectNulls": True,
            },
        ],
    }


def _drawn(value: Decimal | None) -> float | None:
    return None if value is None else float(value)


# -- history ------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class HistoryView:
    """A page of the household's history: its events with their summaries, and where the next
    page starts (None on the last)."""

    account_number: str
    events: list[HistoryEvent]
    next_cursor: str | None
    cursor: str | None

    @property
    def masked(self) -> bool:
        """Whether personal data was hidden from this reader on this page."""
        return any(event.masked_fields for event in self.events)


def history_page(
    container: Container,
    reader: Principal,
    account_number: str,
    cursor: str | None,
    language: Language,
    request: Request,
) -> HistoryView:
    """``GET /households/{account}/history``: masked as the API masks it for the reader's role,
    and an auditor's read of personal data logged (with this page's path)."""
    asked = history_routes.HistoryRequest(
        cursor=cursor, limit=DEFAULT_PAGE_SIZE, format=history_routes.HistoryFormat.JSON
    )
    histories = history_routes.get_histories(container)
    answer = history_routes.get_household_history(
        account_number, asked, reader, histories, container, language, request, Response()
    )
    assert not isinstance(answer, Response), "a history asked without CSV is a page"
    assert answer.kind == HistoryKind.HOUSEHOLD.value
    return HistoryView(account_number, answer.items, answer.next_cursor, cursor)
