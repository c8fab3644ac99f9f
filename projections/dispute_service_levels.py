"""Reads of disputes' service levels from the ``disputes`` read model: the times of the disputes
opened in a period (the figures are computed over them by ``domain.dispute_service_levels``, the
same code on SQLite and PostgreSQL), and the disputes overdue for their first response or their
resolution, the most overdue first.

Overdue: the dispute is not closed, the clock has not stopped (for the first response: none
recorded yet), and its target has passed: ``opened_at < now − target``. Categories may have
targets of their own, so the list is merged from one ordered read per distinct target (the
disputes sharing a target are due in the order they were opened): a page of ``limit`` after
``offset`` reads at most ``offset + limit`` rows per target.
"""

from __future__ import annotations

import heapq
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any
from uuid import UUID

from sqlalchemy import ColumnElement, Engine, func, select

from domain.dispute import OPEN_STATES
from domain.dispute_service_levels import DisputeTimes, ServiceClock, ServiceTargets, overdue_of, report_period
from projections.queries import Page
from projections.tables import disputes

# The disputes a report reads at most: a city's utility takes a few thousand a season.
MAXIMUM_REPORT_DISPUTES = 1_000_000
# Rows read per round trip while a report streams its disputes.
REPORT_BATCH = 5000
MAXIMUM_OVERDUE_PAGE = 1000
MAXIMUM_OVERDUE_OFFSET = 100_000


@dataclass(frozen=True)
class OverdueFilter:
    """Which overdue disputes a list shows (each criterion optional)."""

    category: str | None = None
    community: str | None = None


@dataclass(frozen=True)
class OverdueDispute:
    """A dispute overdue for ``clock``: when it fell due, and how long ago (as of ``now``)."""

    dispute_id: UUID
    reference: str
    account_number: str
    community: str
    building: str
    category: str
    state: str
    disputed_amount_yuan: Decimal
    opened_by: str
    opened_at: datetime
    first_response_at: datetime | None
    last_step_at: datetime
    target_hours: int
    due_at: datetime
    overdue_hours: Decimal


_OVERDUE_COLUMNS = (
    disputes.c.dispute_id,
    disputes.c.reference,
    disputes.c.account_number,
    disputes.c.community,
    disputes.c.building,
    disputes.c.category,
    disputes.c.state,
    disputes.c.disputed_amount_yuan,
    disputes.c.opened_by,
    disputes.c.opened_at,
    disputes.c.first_response_at,
    disputes.c.last_step_at,
)


class DisputeServiceLevelQueries:
    """Service-level reads of the dispute read model on ``engine``."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def times(self, first_day: date, last_day: date) -> Iterator[DisputeTimes]:
        """The times of the disputes opened from ``first_day`` to ``last_day`` (business days),
        streamed in batches; InvalidInputError for a period the report refuses."""
        report_period(first_day, last_day)
        columns = disputes.c
        statement = (
            select(
                columns.category,
                columns.state,
                columns.opened_on,
                columns.opened_at,
                columns.first_response_at,
                columns.closed_at,
            )
            .where(columns.opened_on >= first_day, columns.opened_on <= last_day)
            .order_by(columns.opened_on, columns.dispute_id)
            .limit(MAXIMUM_REPORT_DISPUTES)
            .execution_options(yield_per=REPORT_BATCH)
        )
        with self.engine.connect() as connection:
            for row in connection.execute(statement):
                yield DisputeTimes(*row)

    def overdue(
        self,
        clock: ServiceClock,
        targets: ServiceTargets,
        now: datetime,
        selection: OverdueFilter = OverdueFilter(),
        limit: int = 100,
        offset: int = 0,
    ) -> Page[OverdueDispute]:
        """Open disputes whose ``clock`` target passed before ``now``, the most overdue first
        (then the earliest opened, then by id)."""
        assert 1 <= limit <= MAXIMUM_OVERDUE_PAGE, f"a page holds 1 to {MAXIMUM_OVERDUE_PAGE} disputes"
        assert 0 <= offset <= MAXIMUM_OVERDUE_OFFSET, f"an offset of at most {MAXIMUM_OVERDUE_OFFSET}"
        groups = [
            (target, categories)
            for target, categories in targets.grouped(clock).items()
            if selection.category is None or selection.category in categories
        ]
        total = 0
        ordered_reads: list[list[OverdueDispute]] = []
        with self.engine.connect() as connection:
            for target, categories in groups:
                wanted = [category.value for category in categories if selection.category in (None, category)]
                conditions = _overdue_conditions(clock, wanted, now - target, selection)
                total += int(
                    connection.execute(select(func.count()).select_from(disputes).where(*conditions)).scalar_one()
                )
                statement = (
                    select(*_OVERDUE_COLUMNS)
                    .where(*conditions)
                    .order_by(disputes.c.opened_at, disputes.c.dispute_id)
                    .limit(offset + limit)
                )
                ordered_reads.append([_overdue(row, target, now) for row in connection.execute(statement)])
        merged = heapq.merge(*ordered_reads, key=lambda item: (item.due_at, item.opened_at, item.dispute_id))
        items = list(merged)[offset : offset + limit]
        return Page(items, total, has_more=offset + len(items) < total)


def _overdue_conditions(
    clock: ServiceClock, categories: list[str], opened_before: datetime, selection: OverdueFilter
) -> list[ColumnElement[bool]]:
    columns = disputes.c
    conditions: list[ColumnElement[bool]] = [
        columns.state.in_(sorted(state.value for state in OPEN_STATES)),
        columns.category.in_(sorted(categories)),
        columns.opened_at < opened_before,
    ]
    if clock is ServiceClock.FIRST_RESPONSE:
        conditions.append(columns.first_response_at.is_(None))
    if selection.community is not None:
        conditions.append(columns.community == selection.community)
    return conditions


def _overdue(row: Any, target: timedelta, now: datetime) -> OverdueDispute:
    values = dict(row._mapping)
    overdue = overdue_of(values["opened_at"], target, now)
    assert overdue.overdue > timedelta(0), "only a dispute past its target is overdue"
    return OverdueDispute(
        **values,
        target_hours=int(target / timedelta(hours=1)),
        due_at=overdue.due_at,
        overdue_hours=overdue.overdue_hours,
    )
