"""What the dashboard (/ui/) shows (issue 13): the season's billing progress, its collection rate,
the arrears by age, the flags awaiting a second person, the silent and faulty meters, the open
disputes and (for the roles that may read the outbox) the messages that could not be delivered.

Each figure is the answer of an API route (``GET /billing/progress``, ``/collection-rates``,
``/arrears/aging``, ``/arrears/flags``, ``/monitoring/silent-meters``, ``/monitoring/faulty-meters``,
``/disputes?open=true``, ``/notifications``), read by calling its function with the page's
principal; the dashboard only adds up and draws.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import date
from decimal import Decimal
from typing import Any

from api.dependencies import get_monitoring
from api.routers import arrears as arrears_api
from api.routers import bills as bills_api
from api.routers import disputes as disputes_api
from api.routers import dunning as dunning_api
from api.routers import monitoring as monitoring_api
from api.routers import payment_reports
from api.schemas.billing import BillingProgress
from api.schemas.payments import AgingTotalsOutput
from api.web.pages.arrears_data import (
    CommunityRate,
    aging_chart,
    business_today,
    by_community,
    collection_rates,
    current_season_code,
    past_due_yuan,
    rate_chart,
    rate_percent,
    summed,
)
from application.authorization import Permission, Principal
from infrastructure.container import Container
from projections.billing_queries import BillingQueries
from projections.dispute_queries import DisputeQueries
from projections.page_queries import MonitoringCounts

# Meters count as silent on the dashboard as on the monitoring list by default: 3 days quiet.
SILENT_DAYS = monitoring_api.DEFAULT_SILENT_DAYS
# The aging bands past due for more than 90 days (the dashboard's "long overdue").
OVER_90_DAYS_BANDS = ("days_91_180_yuan", "days_181_365_yuan", "over_365_yuan")
# The communities a chart draws, the most households first: more bars than this cannot be read.
MAXIMUM_CHART_COMMUNITIES = 30


@dataclass(frozen=True)
class Dashboard:
    """The figures of the dashboard's tiles and its charts (ECharts options)."""

    season: str
    today: date
    progress: BillingProgress
    collection: CommunityRate
    aging: AgingTotalsOutput
    raised_flags: int
    silent_meters: int
    faulty_meters: int
    open_disputes: int
    dead_messages: int | None  # None: the role may not read the outbox
    charts: dict[str, dict[str, Any]]
    silent_days: int = SILENT_DAYS

    @property
    def past_due_yuan(self) -> Decimal:
        return past_due_yuan(self.aging)

    @property
    def over_90_days_yuan(self) -> Decimal:
        """What has been past due for more than 90 days (the bands from 91 days on)."""
        return sum((Decimal(getattr(self.aging, band)) for band in OVER_90_DAYS_BANDS), Decimal("0.00"))

    @property
    def prepaid_percent(self) -> Decimal | None:
        return _share(self.progress.prepaid, self.progress.households)

    @property
    def settled_percent(self) -> Decimal | None:
        return _share(self.progress.settled, self.progress.households)


def _share(part: int, whole: int) -> Decimal | None:
    return rate_percent(Decimal(part), Decimal(whole)) if whole else None


# How long the dashboard's read-model figures are reused while no event has been applied since.
KEPT_SECONDS = 10.0
# A bound on the figures kept (one per store, role, language, season and day: a handful).
MAXIMUM_KEPT = 64


@dataclass(frozen=True)
class _Kept:
    """The figures computed for one key, and the read models' position they were computed at."""

    engine: Any  # the store's engine, held: an entry never answers for another store
    position: int
    kept_at: float
    board: Dashboard


_kept: dict[tuple[Any, ...], _Kept] = {}
_kept_lock = threading.Lock()


def dashboard(container: Container, principal: Principal, names: Mapping[str, str]) -> Dashboard:
    """Every figure of the dashboard as of today; ``names`` holds the charts' words in the reader's
    language (the aging bands by field, ``rate``, ``households``, ``prepaid``, ``settled``).

    The read models' figures (everything but the outbox's dead letters) are computed once and
    reused for up to ``KEPT_SECONDS`` by the same role, in the same language, season and business
    day, while the read models have applied no event since: every event the ledger records moves
    their position (``ProjectionRunner.position``, one indexed read), and the next dashboard
    computes them again. What moves without an event is the clock: a meter passing its third
    silent day is counted up to ``KEPT_SECONDS`` late. The dead letters are the outbox's (written
    by deliveries, not events): read on every request."""
    today = business_today(container)
    season = current_season_code(container)
    key = (id(container.engine), principal.role, season, today, tuple(sorted(names.items())))
    position = container.runner.position()
    now = time.monotonic()
    with _kept_lock:
        kept = _kept.get(key)
    if not _still_true(kept, container, position, now):
        kept = _Kept(container.engine, position, now, _figures(container, principal, names, today, season))
        _keep(key, kept)
    assert kept is not None
    return replace(kept.board, dead_messages=_dead_messages(container, principal))


def _still_true(kept: _Kept | None, container: Container, position: int, now: float) -> bool:
    """Whether kept figures still answer: same store, no event applied since, young enough."""
    if kept is None or kept.engine is not container.engine or kept.position != position:
        return False
    return 0 <= now - kept.kept_at <= KEPT_SECONDS


def _keep(key: tuple[Any, ...], kept: _Kept) -> None:
    with _kept_lock:
        if key not in _kept and len(_kept) >= MAXIMUM_KEPT:
            _kept.pop(min(_kept, key=lambda old: _kept[old].kept_at))
        _kept[key] = kept


def _figures(
    container: Container, principal: Principal, names: Mapping[str, str], today: date, season: str
) -> Dashboard:
    """The figures from the read models, each through its API function with the reader."""
    progress = bills_api.get_billing_progress(principal, BillingQueries(container.engine), container, season)
    rates = collection_rates(container, principal, season, None)
    communities = by_community(rates)
    aging = _aging_totals(container, principal, today)
    return Dashboard(
        season=season,
        today=today,
        progress=progress,
        collection=summed("", rates),
        aging=aging,
        raised_flags=arrears_api.list_arrears_flags(principal, container, None, None, 1, 0).counts.get("raised", 0),
        silent_meters=_silent_meters(container, principal),
        faulty_meters=monitoring_api.list_faulty_meters(principal, _monitoring_counts(container), None, 1, 0).total,
        open_disputes=_open_disputes(container, principal, today),
        dead_messages=None,  # the outbox's: read per request (dashboard)
        charts={
            "aging": aging_chart(aging, names),
            "rates": rate_chart(_largest(communities), names["rate"]),
            "progress": progress_chart(progress, names),
        },
    )


def _aging_totals(container: Container, principal: Principal, today: date) -> AgingTotalsOutput:
    report = payment_reports.get_arrears_aging(
        reader=principal, reads=container.as_known.live(), today=today, community=None, as_of=None, limit=1, offset=0
    )
    return report.totals


def _monitoring_counts(container: Container) -> MonitoringCounts:
    """The monitoring lists' totals only (a tile shows a count, not the list's first row)."""
    return MonitoringCounts(container.engine, get_monitoring(container).intake_log)


def _silent_meters(container: Container, principal: Principal) -> int:
    now = container.ledger.clock()
    return monitoring_api.list_silent_meters(
        principal, _monitoring_counts(container), now, SILENT_DAYS, None, 1, 0
    ).total


def _open_disputes(container: Container, principal: Principal, today: date) -> int:
    reads = DisputeQueries(container.engine)
    found = disputes_api.list_disputes(principal, reads, today, None, True, None, None, None, None, 1, 0)
    return found.total


def _dead_messages(container: Container, principal: Principal) -> int | None:
    """The outbox's dead letters, for the roles that may read the outbox (addresses are personal)."""
    if not principal.may(Permission.MANAGE_HOUSEHOLDS):
        return None
    return dunning_api.list_notifications(principal, container, None, None, 1, 0).counts.get("dead", 0)


def _largest(communities: list[CommunityRate]) -> list[CommunityRate]:
    """The communities a chart draws: the largest by households, shown by name."""
    largest = sorted(communities, key=lambda item: -item.households)[:MAXIMUM_CHART_COMMUNITIES]
    return sorted(largest, key=lambda item: item.community)


def progress_chart(progress: BillingProgress, names: Mapping[str, str]) -> dict[str, Any]:
    """An ECharts option: per community, its households and how many have the prepayment and the
    settlement bill of the season."""
    items = sorted(progress.items, key=lambda item: -item.households)[:MAXIMUM_CHART_COMMUNITIES]
    items.sort(key=lambda item: item.community)

    def series(field: str, colour: str) -> dict[str, Any]:
        data = [getattr(item, field) for item in items]
        return {"name": names[field], "type": "bar", "data": data, "itemStyle": {"color": colour}}

    return {
        "tooltip": {"trigger": "axis"},
        "legend": {"data": [names["households"], names["prepaid"], names["settled"]]},
        "grid": {"left": 60, "right": 20, "top": 40, "bottom": 60},
        "xAxis": {"type": "category", "data": [item.community for item in items], "axisLabel": {"rotate": 30}},
        "yAxis": {"type": "value"},
        "series": [series("households", "#6b7280"), series("prepaid", "#9a3412"), series("settled", "#166534")],
    }
