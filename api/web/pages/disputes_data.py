"""What the disputes pages show (/ui/disputes): lists by state, category, community and age with
the overdue ones marked, the overdue lists, the service-level figures, and one dispute with its
steps and what may be done with it next.

Every read is the API's own (``projections.dispute_queries``, ``projections.dispute_service_levels``,
``domain.dispute_service_levels``): a page shows what ``GET /disputes…`` answers, laid out for a
person. Whether a dispute is overdue is the domain's judgement of its clocks against the targets
in the settings, never a rule of the page.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any
from uuid import UUID

from api.routers.households import require_household
from domain.dispute import CLOSED_STATES, DisputeState
from domain.dispute_service_levels import (
    DisputeTimes,
    Judgement,
    ServiceClock,
    ServiceLevelFigures,
    ServiceLevelReport,
    ServiceTargets,
    service_levels,
)
from domain.errors import NotFoundError
from infrastructure.container import Container
from projections.billing_queries import BillingQueries, BillRecord
from projections.dispute_queries import DisputeFilter, DisputeQueries, DisputeRecord, DisputeStepRecord
from projections.dispute_service_levels import DisputeServiceLevelQueries, OverdueDispute, OverdueFilter
from projections.payment_queries import PaymentQueries, PaymentRecord
from projections.queries import HouseholdRecord, LedgerQueries

PAGE_SIZE = 50
# The bills a recompute may be attached to are the household's; a household has a handful a season.
MAXIMUM_BILLS_OFFERED = 100
# A dispute resolved (in full or in part) or rejected has a resolution letter; a withdrawal has none.
LETTER_STATES = frozenset(CLOSED_STATES - {DisputeState.WITHDRAWN})


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


@dataclass(frozen=True)
class DisputeRow:
    """A dispute in a list: its row, its age in days, and the clocks it is overdue on."""

    record: DisputeRecord
    age_days: int
    overdue: tuple[str, ...]

    @property
    def is_overdue(self) -> bool:
        return bool(self.overdue)


@dataclass(frozen=True)
class DisputeList:
    """A page of disputes under a filter."""

    rows: list[DisputeRow]
    paging: Paging


@dataclass(frozen=True)
class StepField:
    """One detail of a step as shown: its name (for the label), its value and how to format it."""

    name: str
    value: Any
    format: str  # "money", "date", "datetime", "bool", "text", "code"


@dataclass(frozen=True)
class StepView:
    """One step of a dispute, with the details worth reading."""

    record: DisputeStepRecord
    fields: list[StepField]


@dataclass(frozen=True)
class DisputeView:
    """One dispute: its row, its steps, the household's bills and meters the forms offer, and
    which actions its state allows (the role is asked separately, by ``may`` in the template)."""

    row: DisputeRow
    steps: list[StepView]
    bills: list[BillRecord]
    meter_serials: list[str]

    @property
    def record(self) -> DisputeRecord:
        return self.row.record

    @property
    def awaiting_approval(self) -> bool:
        return self.record.state == DisputeState.RESOLUTION_PROPOSED.value

    @property
    def investigable(self) -> bool:
        """Steps, a resolution or a withdrawal may be recorded (open, not awaiting approval)."""
        return self.record.state in (DisputeState.OPEN.value, DisputeState.INVESTIGATING.value)

    @property
    def has_letter(self) -> bool:
        return self.record.state in {state.value for state in LETTER_STATES}


# -- lists --------------------------------------------------------------------------------------


def overdue_clocks(record: DisputeRecord, targets: ServiceTargets, now: datetime) -> tuple[str, ...]:
    """The clocks of an open dispute still running past their target (as ``GET /disputes/overdue``
    lists them): the first response not yet given, the resolution not yet reached."""
    if record.state in {state.value for state in CLOSED_STATES}:
        return ()
    times = DisputeTimes(
        record.category, record.state, record.opened_on, record.opened_at, record.first_response_at, record.closed_at
    )
    target = targets.of(record.category)
    return tuple(
        clock.value
        for clock in ServiceClock
        if times.stopped_at(clock) is None and times.judge(clock, target.of(clock), now) is Judgement.MISSED
    )


def dispute_row(record: DisputeRecord, targets: ServiceTargets, today: date, now: datetime) -> DisputeRow:
    return DisputeRow(record, record.age_days(today), overdue_clocks(record, targets, now))


def dispute_list(container: Container, selection: DisputeFilter, page: int, today: date, now: datetime) -> DisputeList:
    """A page of disputes matching ``selection``, the oldest opened first (``GET /disputes``)."""
    reads = DisputeQueries(container.engine)
    offset = (max(page, 1) - 1) * PAGE_SIZE
    found = reads.disputes(selection, today, PAGE_SIZE, offset)
    targets = container.settings.dispute_service_targets()
    rows = [dispute_row(record, targets, today, now) for record in found.items]
    return DisputeList(rows, Paging(max(page, 1), found.total))


@dataclass(frozen=True)
class OverdueList:
    """A page of the disputes overdue on one clock, the most overdue first."""

    clock: str
    items: list[OverdueDispute]
    paging: Paging


def overdue_list(
    container: Container, clock: ServiceClock, selection: OverdueFilter, page: int, now: datetime
) -> OverdueList:
    """The disputes overdue for ``clock`` (``GET /disputes/overdue``)."""
    targets = container.settings.dispute_service_targets()
    offset = (max(page, 1) - 1) * PAGE_SIZE
    found = DisputeServiceLevelQueries(container.engine).overdue(clock, targets, now, selection, PAGE_SIZE, offset)
    return OverdueList(clock.value, found.items, Paging(max(page, 1), found.total))


@dataclass(frozen=True)
class ServiceLevelView:
    """The service-level report of a period, and a chart of the share within target by month."""

    report: ServiceLevelReport
    chart: dict[str, Any]


def service_level_view(
    container: Container, first_day: date, last_day: date, now: datetime, labels: dict[str, str]
) -> ServiceLevelView:
    """``GET /disputes/service-levels``: the figures by month and category, by month, by category
    and in all (a reversed or too long period raises the domain's InvalidInputError)."""
    targets = container.settings.dispute_service_targets()
    times = DisputeServiceLevelQueries(container.engine).times(first_day, last_day)
    report = service_levels(times, targets, first_day, last_day, now)
    return ServiceLevelView(report, within_target_chart(report.by_month, labels))


def within_target_chart(by_month: dict[str, ServiceLevelFigures], labels: dict[str, str]) -> dict[str, Any]:
    """An ECharts option: per month, the share of first responses and resolutions within target
    (%). ``labels`` names the two series in the reader's language."""
    months = sorted(by_month)

    def series(clock: str) -> dict[str, Any]:
        values = [_percent_or_none(getattr(by_month[month], clock).within_target_percent) for month in months]
        return {"name": labels[clock], "type": "bar", "data": values}

    return {
        "tooltip": {"trigger": "axis"},
        "legend": {"data": [labels["first_response"], labels["resolution"]]},
        "xAxis": {"type": "category", "data": months},
        "yAxis": {"type": "value", "min": 0, "max": 100, "axisLabel": {"formatter": "{value} %"}},
        "series": [series("first_response"), series("resolution")],
    }


def _percent_or_none(value: Decimal | None) -> float | None:
    # ECharts takes numbers; a share is already rounded to 0.1 %, so a float shows it exactly.
    return float(value) if value is not None else None


# -- one dispute --------------------------------------------------------------------------------

# The details of each kind of step worth reading, in order, with how to show them.
STEP_FIELDS: dict[str, tuple[tuple[str, str], ...]] = {
    "opened": (("category", "code"), ("description", "text"), ("disputed_amount_yuan", "money"), ("channel", "code")),
    "verification_requested": (("meter_serial", "text"),),
    "verification_result_recorded": (
        ("meter_serial", "text"),
        ("verified_on", "date"),
        ("certificate", "text"),
        ("passed", "bool"),
    ),
    "site_visited": (("visited_on", "date"), ("visited_by", "text"), ("findings", "text")),
    "reading_corrected": (("meter_serial", "text"), ("measured_at", "datetime")),
    "estimate_replaced": (("meter_serial", "text"), ("measured_at", "datetime")),
    "recompute_attached": (
        ("bill_number", "text"),
        ("issued_amount_yuan", "money"),
        ("recomputed_amount_yuan", "money"),
        ("difference_yuan", "money"),
    ),
    "household_informed": (("message", "text"), ("channel", "code")),
    "resolution_proposed": (("outcome", "code"), ("note_amount_yuan", "money")),
    "resolution_approved": (("note_amount_yuan", "money"), ("note_number", "text")),
    "resolved": (("outcome", "code"), ("note_amount_yuan", "money"), ("note_number", "text")),
}


def step_view(step: DisputeStepRecord) -> StepView:
    """A step with its details typed back (the read model keeps them as JSON text)."""
    fields = [
        StepField(name, _typed(step.details[name], kind), kind)
        for name, kind in STEP_FIELDS.get(step.kind, ())
        if step.details.get(name) not in (None, "")
    ]
    return StepView(step, fields)


def _typed(value: Any, kind: str) -> Any:
    if kind == "money":
        return Decimal(str(value))
    if kind == "date":
        return date.fromisoformat(str(value))
    if kind == "datetime":
        return datetime.fromisoformat(str(value))
    return value


def dispute_view(container: Container, dispute_id: UUID, today: date, now: datetime) -> DisputeView:
    """One dispute with every step (``GET /disputes/{id}``), and the household's bills and meters
    its forms offer; NotFoundError (a 404 page) when there is none."""
    reads = DisputeQueries(container.engine)
    record = reads.dispute(dispute_id)
    if record is None:
        raise NotFoundError(f"no dispute {dispute_id}", kind="dispute", key=str(dispute_id))
    targets = container.settings.dispute_service_targets()
    steps = [step_view(step) for step in reads.steps(dispute_id)]
    bills = BillingQueries(container.engine).bills_of_household(record.household_id, limit=MAXIMUM_BILLS_OFFERED)
    meters = LedgerQueries(container.engine).meters_of_household(record.household_id)
    serials = sorted({meter.serial for meter in meters} | ({record.meter_serial} if record.meter_serial else set()))
    return DisputeView(dispute_row(record, targets, today, now), steps, bills.items, serials)


# -- the opening form ---------------------------------------------------------------------------

# The payments offered to dispute: the latest few (an older one is named by its receipt number).
MAXIMUM_PAYMENTS_OFFERED = 50


@dataclass(frozen=True)
class OpeningChoices:
    """What the opening form offers for one household: its bills, meters and latest payments."""

    household: HouseholdRecord
    bills: list[BillRecord]
    meter_serials: list[str]
    payments: list[PaymentRecord]


def opening_choices(container: Container, account_number: str) -> OpeningChoices:
    """The household's bills, meters and payments to pick the disputed one from; NotFoundError
    (shown on the form) for an unknown account."""
    queries = LedgerQueries(container.engine)
    household = require_household(queries, account_number)
    bills = BillingQueries(container.engine).bills_of_household(household.household_id, limit=MAXIMUM_BILLS_OFFERED)
    meters = queries.meters_of_household(household.household_id)
    payments = PaymentQueries(container.engine).payments_of_household(
        household.household_id, limit=MAXIMUM_PAYMENTS_OFFERED
    )
    return OpeningChoices(household, bills.items, sorted({meter.serial for meter in meters}), payments.items)
