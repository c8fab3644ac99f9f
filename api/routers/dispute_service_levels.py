"""Disputes' service levels (客服时效): the disputes overdue for their first response or their
resolution, and the figures by month and category against the targets in the settings
(docs/disputes.md, "Service levels"). Readers (`read_ledger`) may read both.

Included before the disputes router: ``/disputes/overdue`` would otherwise be taken for a
dispute's id.
"""

from __future__ import annotations

from datetime import date
from typing import Annotated

from fastapi import Query

from api.auth import Reader
from api.dependencies import ContainerDependency, LedgerNow
from api.problems import problem_responses
from api.routers import resource_router
from api.schemas.common import NAME_MAX_LENGTH
from api.schemas.dispute_service_levels import (
    CategoryFigures,
    MonthCategoryFigures,
    MonthFigures,
    OverdueDisputeOutput,
    OverduePage,
    ServiceLevelFiguresOutput,
    ServiceLevelReportOutput,
    TargetOutput,
)
from domain.dispute import DisputeCategory
from domain.dispute_service_levels import ServiceClock, service_levels
from projections.dispute_service_levels import (
    MAXIMUM_OVERDUE_OFFSET,
    MAXIMUM_OVERDUE_PAGE,
    DisputeServiceLevelQueries,
    OverdueFilter,
)

router = resource_router("", "disputes")


@router.get(
    "/disputes/overdue",
    operation_id="list_overdue_disputes",
    response_model=OverduePage,
    responses=problem_responses(401, 403, 422),
)
def list_overdue_disputes(
    _reader: Reader,
    container: ContainerDependency,
    now: LedgerNow,
    kind: Annotated[ServiceClock, Query(description="Overdue for the first response, or for the resolution")],
    category: Annotated[DisputeCategory | None, Query(description="One category")] = None,
    community: Annotated[str | None, Query(max_length=NAME_MAX_LENGTH, description="One community")] = None,
    limit: Annotated[int, Query(ge=1, le=MAXIMUM_OVERDUE_PAGE, description="Disputes per page")] = 100,
    offset: Annotated[int, Query(ge=0, le=MAXIMUM_OVERDUE_OFFSET, description="Disputes to skip")] = 0,
) -> OverduePage:
    """Open disputes past their target, the most overdue first: `first_response`, no step or note
    recorded yet `HEATLEDGER_DISPUTE_FIRST_RESPONSE_TARGET_HOURS` after the opening;
    `resolution`, not resolved or rejected `HEATLEDGER_DISPUTE_RESOLUTION_TARGET_DAYS` × 24 h after
    it (a category may have its own targets). Each with its due moment and the hours since."""
    targets = container.settings.dispute_service_targets()
    selection = OverdueFilter(category=category.value if category else None, community=community)
    page = DisputeServiceLevelQueries(container.engine).overdue(kind, targets, now, selection, limit, offset)
    return OverduePage(
        kind=kind,
        as_of=now,
        items=[OverdueDisputeOutput.model_validate(vars(item)) for item in page.items],
        total=page.total,
        limit=limit,
        offset=offset,
    )


@router.get(
    "/disputes/service-levels",
    operation_id="dispute_service_levels",
    response_model=ServiceLevelReportOutput,
    responses=problem_responses(401, 403, 422),
)
def dispute_service_levels(
    _reader: Reader,
    container: ContainerDependency,
    now: LedgerNow,
    first_day: Annotated[date, Query(alias="from", description="First opening day (Asia/Shanghai), e.g. 2026-01-01")],
    last_day: Annotated[date, Query(alias="to", description="Last opening day, at most 732 days after `from`")],
) -> ServiceLevelReportOutput:
    """Service levels of the disputes opened from `from` to `to`, as of now: counts opened,
    resolved (or rejected), withdrawn and still open; median and 90th-percentile hours to the first
    response and days to the resolution (over the clocks that stopped); and the share within
    target (met / judged: an open dispute past its target counts as missed). By month of opening
    and category, by month, by category and in all. A period that runs backwards or is longer than
    two years is a 422."""
    targets = container.settings.dispute_service_targets()
    times = DisputeServiceLevelQueries(container.engine).times(first_day, last_day)
    report = service_levels(times, targets, first_day, last_day, now)
    return ServiceLevelReportOutput(
        first_day=first_day,
        last_day=last_day,
        as_of=now,
        targets=[TargetOutput.of(category, targets.of(category)) for category in DisputeCategory],
        by_month_and_category=[
            MonthCategoryFigures(month=month, category=DisputeCategory(category), **figures_of(figures))
            for (month, category), figures in report.by_month_and_category.items()
        ],
        by_month=[MonthFigures(month=month, **figures_of(figures)) for month, figures in report.by_month.items()],
        by_category=[
            CategoryFigures(category=DisputeCategory(category), **figures_of(figures))
            for category, figures in report.by_category.items()
        ],
        total=ServiceLevelFiguresOutput(**figures_of(report.total)),
    )


figures_of = ServiceLevelFiguresOutput.fields_of
