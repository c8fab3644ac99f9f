"""What the arrears pages show and do (issue 13): the aging table, the collection rates, the flags
(a run, the list, one flag with its history, approval by a second person, withdrawal) and the
households marked vulnerable.

Plain functions over the container, called by ``api.web.pages.arrears``. Each reads and writes by
calling the API's own route function (``api.routers.arrears``, ``payment_reports``) with the page's
principal and the API's request model read from the form, so a page does exactly what the API does:
the services check permissions (a flag's raiser may not approve it: the domain refuses), the
domain checks the rules. Figures are laid out for a person here, never decided.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from decimal import ROUND_HALF_UP, Decimal
from typing import Annotated, Any, cast
from uuid import UUID

from pydantic import Field

from api.routers import arrears as arrears_api
from api.routers import payment_reports
from api.schemas.arrears import (
    ArrearsFlagDetail,
    ArrearsFlagOutput,
    CandidateOutput,
    FlagDecision,
    FlagRun,
    FlagRunOutput,
    FlagWithdrawal,
    ProtectionChange,
    VulnerableHouseholdOutput,
)
from api.schemas.common import KEY_MAX_LENGTH
from api.schemas.payments import AgingReport, AgingTotalsOutput, CollectionRateOutput
from api.web.forms import filled
from application.authorization import Principal
from domain.arrears import FlagStatus
from domain.day_split import business_day
from domain.season import current_or_last_season
from infrastructure.container import Container
from projections.payment_queries import PaymentQueries

PAGE_SIZE = 50
# The aging bands, in order: the fields of the API's aging rows and their names' keys.
AGING_BANDS = (
    "current_yuan",
    "days_0_30_yuan",
    "days_31_90_yuan",
    "days_91_180_yuan",
    "days_181_365_yuan",
    "over_365_yuan",
)
# The bands already past due (``current_yuan`` is not yet due).
PAST_DUE_BANDS = AGING_BANDS[1:]
FLAG_RUN_FIELDS = ("minimum_amount_yuan", "minimum_days_past_due", "window_start", "window_end", "community", "reason")
WITHDRAWAL_FIELDS = ("kind", "reason")
PROTECTION_FIELDS = ("account_number", "reason")
# A run's flagged households are listed on its summary (each needs a second person's look); more
# than this is a policy to narrow, and the flags list pages through them all anyway.
MAXIMUM_RUN_ROWS_SHOWN = 500
PERCENT = Decimal("0.01")


@dataclass(frozen=True)
class Pages:
    """Where a page of ``PAGE_SIZE`` rows sits: its number, and whether others come before or after
    (``total`` when it is known; a list read one row ahead knows only whether more follow)."""

    page: int
    has_next: bool
    total: int | None = None

    @property
    def has_previous(self) -> bool:
        return self.page > 1

    @property
    def pages(self) -> int | None:
        return None if self.total is None else max(1, -(-self.total // PAGE_SIZE))

    @property
    def offset(self) -> int:
        return offset_of(self.page)


def offset_of(page: int) -> int:
    """The rows before page ``page`` (from 1)."""
    return (max(page, 1) - 1) * PAGE_SIZE


def business_today(container: Container) -> date:
    """Today in Asia/Shanghai by the ledger's clock (the API's ``BusinessToday``)."""
    return business_day(container.ledger.clock())


def current_season_code(container: Container) -> str:
    """The season today falls in, or the one that ended last (the dashboard's and the rates' default)."""
    return current_or_last_season(business_today(container)).code


# -- aging ----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class AgingView:
    """A page of the aging table, its totals, and the chart of the totals by band."""

    report: AgingReport
    pages: Pages
    chart: dict[str, Any]


def aging_view(
    container: Container,
    principal: Principal,
    filters: Mapping[str, Any],
    page: int,
    band_names: Mapping[str, str],
) -> AgingView:
    """``GET /arrears/aging`` for one page: ``filters`` holds community, building and as_of (or None)."""
    report = payment_reports.get_arrears_aging(
        reader=principal,
        reads=container.as_known.live(),
        today=business_today(container),
        community=filters.get("community"),
        as_of=filters.get("as_of"),
        limit=PAGE_SIZE,
        offset=offset_of(page),
        building=filters.get("building"),
    )
    pages = Pages(page, offset_of(page) + len(report.items) < report.totals.households, report.totals.households)
    return AgingView(report, pages, aging_chart(report.totals, band_names))


def past_due_yuan(totals: AgingTotalsOutput) -> Decimal:
    """What the totals hold past due: every band but the one not yet due."""
    return sum((Decimal(getattr(totals, band)) for band in PAST_DUE_BANDS), Decimal("0.00"))


def aging_chart(totals: AgingTotalsOutput, band_names: Mapping[str, str]) -> dict[str, Any]:
    """An ECharts option: the open amount in each band (元), oldest on the right."""
    return {
        "tooltip": {"trigger": "axis"},
        "grid": {"left": 90, "right": 20, "top": 20, "bottom": 40},
        "xAxis": {"type": "category", "data": [band_names[band] for band in AGING_BANDS]},
        "yAxis": {"type": "value", "name": "元"},
        "series": [
            {
                "type": "bar",
                "data": [_chart_number(getattr(totals, band)) for band in AGING_BANDS],
                "itemStyle": {"color": "#9a3412"},
                "barMaxWidth": 80,
            }
        ],
    }


def _chart_number(value: Decimal | None) -> float | None:
    # ECharts takes numbers; the figures it draws are rounded to the 分 already, the table shows them exactly.
    return None if value is None else float(value)


# -- collection rates ---------------------------------------------------------------------------


@dataclass(frozen=True)
class CommunityRate:
    """A community's season summed over its buildings: charged, collected, open and the rate."""

    community: str
    households: int
    charged_yuan: Decimal
    collected_yuan: Decimal
    open_yuan: Decimal

    @property
    def rate_percent(self) -> Decimal | None:
        return rate_percent(self.collected_yuan, self.charged_yuan)


def rate_percent(collected_yuan: Decimal, charged_yuan: Decimal) -> Decimal | None:
    """Collected as a share of charged, in % to 0.01 (half up, as the API's building rates); none
    when nothing was charged."""
    if charged_yuan <= 0:
        return None
    return (collected_yuan * 100 / charged_yuan).quantize(PERCENT, rounding=ROUND_HALF_UP)


@dataclass(frozen=True)
class CollectionView:
    """A season's collection rates: per building (paged), per community and for the city."""

    season: str
    buildings: list[CollectionRateOutput]
    pages: Pages
    communities: list[CommunityRate]
    city: CommunityRate
    chart: dict[str, Any]


def collection_rates(container: Container, principal: Principal, season: str, community: str | None) -> list[Any]:
    """``GET /collection-rates``: per community and building, the season's charged and collected."""
    payments = PaymentQueries(container.engine)
    return payment_reports.get_collection_rates(principal, payments, season, community).items


def collection_view(
    container: Container, principal: Principal, season: str, community: str | None, page: int, rate_name: str
) -> CollectionView:
    """The rates of ``season`` (of one community if given), the buildings' ``page``-th page."""
    rows = collection_rates(container, principal, season, community)
    communities = by_community(rows)
    city = summed("", rows)
    shown = rows[offset_of(page) : offset_of(page) + PAGE_SIZE]
    pages = Pages(page, offset_of(page) + len(shown) < len(rows), len(rows))
    return CollectionView(season, shown, pages, communities, city, rate_chart(communities, rate_name))


def by_community(rows: list[CollectionRateOutput]) -> list[CommunityRate]:
    """The buildings' figures summed per community, by name."""
    grouped: dict[str, list[CollectionRateOutput]] = {}
    for row in rows:
        grouped.setdefault(row.community, []).append(row)
    return [summed(community, grouped[community]) for community in sorted(grouped)]


def summed(community: str, rows: list[CollectionRateOutput]) -> CommunityRate:
    """The figures of ``rows`` added up (households are per building, so they add up too)."""
    zero = Decimal("0.00")
    return CommunityRate(
        community,
        sum(row.households for row in rows),
        sum((Decimal(row.charged_yuan) for row in rows), zero),
        sum((Decimal(row.collected_yuan) for row in rows), zero),
        sum((Decimal(row.open_yuan) for row in rows), zero),
    )


def rate_chart(communities: list[CommunityRate], rate_name: str) -> dict[str, Any]:
    """An ECharts option: each community's collection rate (%)."""
    return {
        "tooltip": {"trigger": "axis"},
        "grid": {"left": 60, "right": 20, "top": 20, "bottom": 60},
        "xAxis": {"type": "category", "data": [item.community for item in communities], "axisLabel": {"rotate": 30}},
        "yAxis": {"type": "value", "min": 0, "max": 100, "axisLabel": {"formatter": "{value} %"}},
        "series": [
            {
                "name": rate_name,
                "type": "bar",
                "data": [_chart_number(item.rate_percent) for item in communities],
                "itemStyle": {"color": "#166534"},
                "barMaxWidth": 80,
            }
        ],
    }


# -- flags ----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class FlagList:
    """A page of flags of one status (or all), and how many flags there are of each status."""

    items: list[ArrearsFlagOutput]
    counts: dict[str, int]
    pages: Pages


def flag_list(
    container: Container, principal: Principal, status: FlagStatus | None, community: str | None, page: int
) -> FlagList:
    """``GET /arrears/flags`` for one page (read one row ahead, to know whether more follow)."""
    found = arrears_api.list_arrears_flags(principal, container, status, community, PAGE_SIZE + 1, offset_of(page))
    # The counts are of the community asked for: the flags of the status shown are the list's rows.
    total = found.counts.get(status.value, 0) if status is not None else sum(found.counts.values())
    pages = Pages(page, len(found.items) > PAGE_SIZE, total)
    return FlagList(found.items[:PAGE_SIZE], found.counts, pages)


def flag_detail(container: Container, principal: Principal, flag_id: UUID) -> ArrearsFlagDetail:
    """``GET /arrears/flags/{id}``: the flag as the ledger holds it, with its history (404 if none)."""
    return arrears_api.get_arrears_flag(flag_id, principal, container)


def flag_run_values() -> dict[str, str]:
    """What the run form starts with: the policy of the API's documented example (FlagRun's), for
    the whole city; the ledger keeps no policy of its own, the clerk names it on every run."""
    extra = cast(dict[str, list[dict[str, Any]]], FlagRun.model_config.get("json_schema_extra"))
    return {name: str(value) for name, value in extra["examples"][0].items()}


def run_flags(container: Container, principal: Principal, form: Mapping[str, str]) -> FlagRunOutput:
    """``POST /arrears/flags/run`` with the policy the form names (ValidationError, LedgerError)."""
    run = FlagRun.model_validate(filled(form, FLAG_RUN_FIELDS))
    return arrears_api.run_arrears_flags(run, principal, container, business_today(container))


@dataclass(frozen=True)
class RunSummary:
    """A flag run as its page shows it: the flags raised (listed), and the households not flagged
    counted by the reasons why (a household may have several)."""

    output: FlagRunOutput
    flagged: list[CandidateOutput]
    reasons: list[tuple[str, int]]

    @property
    def flagged_hidden(self) -> int:
        return max(0, self.output.flagged - len(self.flagged))


def run_summary(output: FlagRunOutput) -> RunSummary:
    """The run's outcomes grouped for reading: flagged households first, then why the rest were not."""
    flagged = [outcome for outcome in output.outcomes if outcome.flagged]
    reasons = Counter(reason for outcome in output.outcomes if not outcome.flagged for reason in outcome.reasons)
    return RunSummary(output, flagged[:MAXIMUM_RUN_ROWS_SHOWN], sorted(reasons.items(), key=lambda item: -item[1]))


def approve_flag(container: Container, principal: Principal, flag_id: UUID, form: Mapping[str, str]) -> None:
    """``POST /arrears/flags/{id}/approval``: the second person's approval, with an optional reason."""
    decision = FlagDecision.model_validate(filled(form, ("reason",)))
    arrears_api.approve_arrears_flag(flag_id, decision, principal, container)


def withdraw_flag(container: Container, principal: Principal, flag_id: UUID, form: Mapping[str, str]) -> None:
    """``POST /arrears/flags/{id}/withdrawal``: take the flag back, with its kind and why."""
    withdrawal = FlagWithdrawal.model_validate(filled(form, WITHDRAWAL_FIELDS))
    arrears_api.withdraw_arrears_flag(flag_id, withdrawal, principal, container)


# -- households marked vulnerable -----------------------------------------------------------------


@dataclass(frozen=True)
class VulnerableList:
    """A page of the households marked vulnerable."""

    items: list[VulnerableHouseholdOutput]
    pages: Pages


def vulnerable_list(container: Container, principal: Principal, community: str | None, page: int) -> VulnerableList:
    """``GET /arrears/vulnerable-households`` for one page (403 for roles not managing households)."""
    found = arrears_api.list_vulnerable_households(principal, container, community, PAGE_SIZE, offset_of(page))
    return VulnerableList(found.items, Pages(page, offset_of(page) + len(found.items) < found.total, found.total))


class VulnerabilityMark(ProtectionChange):
    """The marking form: ``POST /households/{account_number}/vulnerability``'s path and body."""

    account_number: Annotated[str, Field(min_length=1, max_length=KEY_MAX_LENGTH)]


def mark_vulnerable(container: Container, principal: Principal, form: Mapping[str, str]) -> str:
    """``POST /households/{account}/vulnerability`` for the account the form names; the account."""
    mark = VulnerabilityMark.model_validate(filled(form, PROTECTION_FIELDS))
    change = ProtectionChange(reason=mark.reason)
    arrears_api.mark_household_vulnerable(mark.account_number, change, principal, container)
    return mark.account_number


def clear_vulnerability(
    container: Container, principal: Principal, account_number: str, form: Mapping[str, str]
) -> None:
    """``POST /households/{account}/vulnerability/clearance``, with why."""
    change = ProtectionChange.model_validate(filled(form, ("reason",)))
    arrears_api.clear_household_vulnerability(account_number, change, principal, container)
