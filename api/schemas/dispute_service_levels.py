"""Response models of disputes' service levels: the overdue lists and the figures by month and
category (docs/disputes.md, "Service levels")."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Annotated, Any
from uuid import UUID

from pydantic import BaseModel, Field, PlainSerializer

from api.schemas.billing import MoneyText
from api.schemas.common import decimal_text
from domain.dispute import DisputeCategory, DisputeState
from domain.dispute_service_levels import ClockFigures, ServiceClock, ServiceLevelFigures, ServiceTarget

# Hours and days to two decimals, shares in percent to one: as text, exactly.
DurationText = Annotated[
    Decimal, PlainSerializer(lambda value: decimal_text(value, 2), return_type=str, when_used="json")
]
ShareText = Annotated[Decimal, PlainSerializer(lambda value: decimal_text(value, 1), return_type=str, when_used="json")]


class OverdueDisputeOutput(BaseModel):
    """An open dispute past its target: when it fell due and by how many hours it is overdue."""

    dispute_id: UUID
    reference: str
    account_number: str
    community: str
    building: str
    category: DisputeCategory
    state: DisputeState
    disputed_amount_yuan: MoneyText
    opened_by: str
    opened_at: datetime
    first_response_at: datetime | None
    last_step_at: datetime
    target_hours: int = Field(description="The category's target for this clock, in hours")
    due_at: datetime = Field(description="The opening's recording time plus the target")
    overdue_hours: DurationText = Field(description="Hours from the due moment to now (the ledger's clock)")


class OverduePage(BaseModel):
    """Disputes overdue for their first response or their resolution, the most overdue first."""

    kind: ServiceClock
    as_of: datetime
    items: list[OverdueDisputeOutput]
    total: int
    limit: int
    offset: int


class FirstResponseFigures(BaseModel):
    """The first-response clock of a group: times in hours over the disputes answered, and how
    many met, missed (answered late, or not yet and past the target) or still wait within it."""

    measured: int = Field(description="Disputes with a first response")
    median_hours: DurationText | None
    p90_hours: DurationText | None
    met: int
    missed: int
    pending: int
    within_target_percent: ShareText | None = Field(description="met / (met + missed); null when none is judged")

    @classmethod
    def of(cls, figures: ClockFigures) -> FirstResponseFigures:
        return cls(
            measured=figures.measured,
            median_hours=figures.median,
            p90_hours=figures.p90,
            met=figures.met,
            missed=figures.missed,
            pending=figures.pending,
            within_target_percent=figures.within_target_percent,
        )


class ResolutionFigures(BaseModel):
    """The resolution clock of a group: times in days over the disputes resolved or rejected, and
    how many met, missed (settled late, or not yet and past the target) or still run within it."""

    measured: int = Field(description="Disputes resolved (upheld, in part) or rejected")
    median_days: DurationText | None
    p90_days: DurationText | None
    met: int
    missed: int
    pending: int
    within_target_percent: ShareText | None = Field(description="met / (met + missed); null when none is judged")

    @classmethod
    def of(cls, figures: ClockFigures) -> ResolutionFigures:
        return cls(
            measured=figures.measured,
            median_days=figures.median,
            p90_days=figures.p90,
            met=figures.met,
            missed=figures.missed,
            pending=figures.pending,
            within_target_percent=figures.within_target_percent,
        )


class ServiceLevelFiguresOutput(BaseModel):
    """The figures of a group of disputes opened in the period."""

    opened: int
    resolved: int = Field(description="Of those opened: resolved (upheld, in part) or rejected so far")
    withdrawn: int
    still_open: int
    first_response: FirstResponseFigures
    resolution: ResolutionFigures

    @classmethod
    def fields_of(cls, figures: ServiceLevelFigures) -> dict[str, Any]:
        return {
            "opened": figures.opened,
            "resolved": figures.resolved,
            "withdrawn": figures.withdrawn,
            "still_open": figures.still_open,
            "first_response": FirstResponseFigures.of(figures.first_response),
            "resolution": ResolutionFigures.of(figures.resolution),
        }


class MonthFigures(ServiceLevelFiguresOutput):
    month: str = Field(description="The month of opening, Asia/Shanghai (2026-01)")


class CategoryFigures(ServiceLevelFiguresOutput):
    category: DisputeCategory


class MonthCategoryFigures(ServiceLevelFiguresOutput):
    month: str
    category: DisputeCategory


class TargetOutput(BaseModel):
    """A category's targets."""

    category: DisputeCategory
    first_response_hours: int
    resolution_days: int

    @classmethod
    def of(cls, category: DisputeCategory, target: ServiceTarget) -> TargetOutput:
        return cls(
            category=category,
            first_response_hours=target.first_response_hours,
            resolution_days=target.resolution_days,
        )


class ServiceLevelReportOutput(BaseModel):
    """Service levels of the disputes opened from ``first_day`` to ``last_day``, as of now."""

    first_day: date
    last_day: date
    as_of: datetime
    targets: list[TargetOutput]
    by_month_and_category: list[MonthCategoryFigures]
    by_month: list[MonthFigures]
    by_category: list[CategoryFigures]
    total: ServiceLevelFiguresOutput
