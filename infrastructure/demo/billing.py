"""Bills the demo community's season as far as it has gone: the demo tariff, the prepayment, a
statement for every month that has ended and, once the season is over, the settlement.

The same billing runs a clerk starts; running it again issues nothing twice.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, timedelta

from application.authorization import Principal
from application.billing import Billing
from application.billing_runs import BillingRuns, RunRequest, RunSummary
from application.seasons import Seasons
from domain.billing import BillKind
from domain.errors import NotFoundError
from domain.season import Season
from domain.tariff import CITY_SCOPE
from infrastructure.demo.tariff import publish_demo_tariff

# The demo city's decree on the season (marked as a demo, like the tariff's document).
DEMO_SEASON_DECREE = "DEMO 宁政办发〔示例〕88号"

# (what is being billed, households done, households in all)
BillingProgress = Callable[[str, int, int], None]


def ended_months(season: Season, today: date) -> list[str]:
    """The season's months (YYYY-MM) whose last day in the season lies before ``today``."""
    months: list[str] = []
    first = season.first_day.replace(day=1)
    while first <= season.last_day:
        following = date(first.year + first.month // 12, first.month % 12 + 1, 1)
        if min(following - timedelta(days=1), season.last_day) < today:
            months.append(f"{first:%Y-%m}")
        first = following
    return months


def bill_demo_season(
    billing: Billing,
    runs: BillingRuns,
    operator: Principal,
    season: Season,
    community: str,
    today: date,
    progress: BillingProgress | None = None,
) -> list[RunSummary]:
    """Publish the demo tariff and run every billing the season's progress allows, in order."""
    publish_demo_tariff(billing, operator, season)
    requests = []
    if today >= season.first_day:
        requests.append(RunRequest(BillKind.PREPAYMENT, season, None, community))
    requests.extend(RunRequest(BillKind.STATEMENT, season, month, community) for month in ended_months(season, today))
    if today > season.last_day:
        requests.append(RunRequest(BillKind.SETTLEMENT, season, None, community))
    summaries = []
    for request in requests:
        label = f"{request.kind.value} {request.month or season.code}"
        report = (lambda done, total, label=label: progress(label, done, total)) if progress else None
        summaries.append(runs.run(operator, request, progress=report, reason="demo billing"))
    return summaries


def declare_demo_season(seasons: Seasons, operator: Principal, season: Season) -> bool:
    """Declare the demo season for the city (1 Nov – 31 Mar, as Ningxia heats); False when it was."""
    try:
        seasons.record(CITY_SCOPE, season.code)
        return False
    except NotFoundError:
        seasons.declare(
            operator, CITY_SCOPE, season.code, season.first_day, season.last_day, DEMO_SEASON_DECREE, "demo season"
        )
        return True
