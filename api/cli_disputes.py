"""The ``heatledger disputes`` commands: list disputes (by state, category, community, age) and
show one with every step, for customer service at a terminal.

Registered on the main ``heatledger`` app by ``api.cli``; it uses that module's plumbing. Both
commands read the read models (caught up first). Exit codes as in ``api.cli``: 2 for a bad
option or a dispute that does not exist.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated
from uuid import UUID

import typer
from rich.markup import escape
from rich.table import Table

from api.cli import MAXIMUM_TABLE_ROWS, app, fail, opened_container, out
from domain import ids
from domain.day_split import BUSINESS_TIME_ZONE, business_day
from domain.dispute import DisputeCategory, DisputeState
from domain.dispute_service_levels import ClockFigures, ServiceClock, ServiceLevelFigures, service_levels
from domain.errors import NotFoundError
from projections.dispute_queries import MAXIMUM_AGE_DAYS, DisputeFilter, DisputeQueries, DisputeRecord
from projections.dispute_service_levels import (
    MAXIMUM_OVERDUE_OFFSET,
    MAXIMUM_OVERDUE_PAGE,
    DisputeServiceLevelQueries,
    OverdueFilter,
)

disputes_app = typer.Typer(
    help="Disputes (客服): list them, show one with its steps, the overdue ones and the service levels.",
    no_args_is_help=True,
)
app.add_typer(disputes_app, name="disputes")


@disputes_app.command("list")
def disputes_list(
    state: Annotated[DisputeState | None, typer.Option(help="One state.")] = None,
    open_only: Annotated[bool, typer.Option("--open", help="Only disputes not yet closed.")] = False,
    category: Annotated[DisputeCategory | None, typer.Option(help="One category.")] = None,
    community: Annotated[str | None, typer.Option(help="One community.")] = None,
    account: Annotated[str | None, typer.Option(help="One household (account number).")] = None,
    min_days: Annotated[int | None, typer.Option(min=0, max=MAXIMUM_AGE_DAYS, help="Open at least this long.")] = None,
    max_days: Annotated[int | None, typer.Option(min=0, max=MAXIMUM_AGE_DAYS, help="Open at most this long.")] = None,
    limit: Annotated[int, typer.Option(min=1, max=MAXIMUM_TABLE_ROWS, help="Disputes per page.")] = 100,
    offset: Annotated[int, typer.Option(min=0, help="Disputes to skip.")] = 0,
) -> None:
    """Disputes, the oldest opened first: reference, household, category, amount, state, days open."""
    with opened_container() as container:
        container.catch_up()
        today = business_day(container.ledger.clock())
        selection = DisputeFilter(
            state=state.value if state else None,
            open_only=open_only,
            category=category.value if category else None,
            community=community,
            household_id=ids.household_id(account) if account else None,
            minimum_age_days=min_days,
            maximum_age_days=max_days,
        )
        page = DisputeQueries(container.engine).disputes(selection, today, limit, offset)
    table = Table(title=f"disputes on {today} ({page.total} in all)")
    for column in ("dispute", "reference", "household", "category", "disputed 元", "state", "days open", "note 元"):
        table.add_column(column, justify="right" if "元" in column or column == "days open" else "left")
    for record in page.items:
        note = "" if record.note_amount_yuan is None else str(record.note_amount_yuan)
        table.add_row(
            str(record.dispute_id),
            escape(record.reference),
            escape(record.account_number),
            record.category,
            str(record.disputed_amount_yuan),
            record.state,
            str(record.age_days(today)),
            note,
        )
    out().print(table)
    if page.has_more:
        out().print(f"{page.total - offset - len(page.items)} more: --offset {offset + len(page.items)}")


@disputes_app.command("show")
def disputes_show(
    dispute: Annotated[str, typer.Argument(help="The dispute's id, or its reference with --account.")],
    account: Annotated[str | None, typer.Option(help="The household, when DISPUTE is a reference.")] = None,
) -> None:
    """One dispute as it stands, and every step in order: when, who, why, what it found."""
    dispute_id = _dispute_id(dispute, account)
    with opened_container() as container:
        container.catch_up()
        today = business_day(container.ledger.clock())
        queries = DisputeQueries(container.engine)
        record = queries.dispute(dispute_id)
        if record is None:
            raise NotFoundError(f"no dispute {dispute}", kind="dispute", key=dispute)
        steps = queries.steps(dispute_id)
    console = out()
    console.print(_summary(record, today))
    table = Table(title="steps")
    for column in ("#", "recorded (Beijing time)", "step", "by", "why"):
        table.add_column(column)
    for step in steps:
        recorded = step.recorded_at.astimezone(BUSINESS_TIME_ZONE).strftime("%Y-%m-%d %H:%M")
        table.add_row(str(step.version), recorded, step.kind, escape(step.actor), escape(step.reason))
    console.print(table)


def _dispute_id(dispute: str, account: str | None) -> UUID:
    if account is not None:
        return ids.dispute_id(account, dispute)
    try:
        return UUID(dispute)
    except ValueError:
        fail(f"{dispute} is not a dispute id; give --account ACCOUNT to look it up by its reference")


def _summary(record: DisputeRecord, today: date) -> Table:
    table = Table(title=f"dispute {escape(record.reference)}", show_header=False)
    subject = {
        "bill": record.bill_number,
        "reading": f"{record.meter_serial} {record.measured_at.isoformat() if record.measured_at else ''}",
        "payment": record.payment_reference or str(record.payment_id or ""),
    }[record.subject_kind]
    rows = [
        ("id", str(record.dispute_id)),
        ("household", f"{record.account_number} ({record.community} {record.building})"),
        ("about", f"{record.subject_kind} {subject}"),
        ("category", record.category),
        ("disputed", f"{record.disputed_amount_yuan} 元"),
        ("channel", record.channel),
        ("opened", f"{record.opened_on} by {record.opened_by}"),
        ("state", record.state),
        ("days open", str(record.age_days(today))),
        ("first response", record.first_response_at.isoformat() if record.first_response_at else "—"),
        ("recompute", f"{record.recompute_bill_number} {record.recompute_difference_yuan} 元")
        if record.recompute_bill_number
        else ("recompute", "—"),
        ("note", f"{record.note_number} {record.note_amount_yuan} 元") if record.note_number else ("note", "—"),
        ("closed", f"{record.closed_at.isoformat()} by {record.closed_by}: {record.closing_reason}")
        if record.closed_at
        else ("closed", "—"),
        ("description", record.description),
    ]
    for name, value in rows:
        table.add_row(name, escape(value))
    return table


@disputes_app.command("overdue")
def disputes_overdue(
    kind: Annotated[ServiceClock, typer.Argument(help="first_response or resolution.")],
    category: Annotated[DisputeCategory | None, typer.Option(help="One category.")] = None,
    community: Annotated[str | None, typer.Option(help="One community.")] = None,
    limit: Annotated[int, typer.Option(min=1, max=MAXIMUM_OVERDUE_PAGE, help="Disputes per page.")] = 100,
    offset: Annotated[int, typer.Option(min=0, max=MAXIMUM_OVERDUE_OFFSET, help="Disputes to skip.")] = 0,
) -> None:
    """Open disputes past their target for the first response or the resolution, the most overdue first."""
    with opened_container() as container:
        container.catch_up()
        now = container.ledger.clock()
        targets = container.settings.dispute_service_targets()
        selection = OverdueFilter(category=category.value if category else None, community=community)
        page = DisputeServiceLevelQueries(container.engine).overdue(kind, targets, now, selection, limit, offset)
    as_of = now.astimezone(BUSINESS_TIME_ZONE).strftime("%Y-%m-%d %H:%M")
    table = Table(title=f"disputes overdue for the {kind.value.replace('_', ' ')} at {as_of} ({page.total} in all)")
    for column in ("reference", "household", "category", "state", "opened", "due", "overdue h", "target h"):
        table.add_column(column, justify="right" if column.endswith(" h") else "left")
    for item in page.items:
        table.add_row(
            escape(item.reference),
            escape(f"{item.account_number} ({item.community})"),
            item.category,
            item.state,
            _beijing(item.opened_at),
            _beijing(item.due_at),
            str(item.overdue_hours),
            str(item.target_hours),
        )
    out().print(table)
    if page.has_more:
        out().print(f"{page.total - offset - len(page.items)} more: --offset {offset + len(page.items)}")


@disputes_app.command("service-levels")
def disputes_service_levels(
    first_day: Annotated[str, typer.Option("--from", help="First opening day, e.g. 2026-01-01.")],
    last_day: Annotated[str | None, typer.Option("--to", help="Last opening day (default: today).")] = None,
) -> None:
    """Service levels of the disputes opened in the period, by month and category: opened, resolved,
    median and 90th-percentile times to the first response (hours) and the resolution (days), and
    the share within target."""
    first, last = _day(first_day, "--from"), _day(last_day, "--to") if last_day else None
    with opened_container() as container:
        container.catch_up()
        now = container.ledger.clock()
        last = last or business_day(now)
        targets = container.settings.dispute_service_targets()
        times = DisputeServiceLevelQueries(container.engine).times(first, last)
        report = service_levels(times, targets, first, last, now)
    table = Table(title=f"dispute service levels, opened {first} to {last}")
    for column in _LEVEL_COLUMNS:
        table.add_column(column, justify="left" if column in ("month", "category") else "right")
    for (month, category), figures in report.by_month_and_category.items():
        table.add_row(month, category, *_level_cells(figures))
    table.add_section()
    for month, figures in report.by_month.items():
        table.add_row(month, "all", *_level_cells(figures))
    table.add_section()
    for category, figures in report.by_category.items():
        table.add_row("all", category, *_level_cells(figures))
    table.add_section()
    table.add_row("all", "all", *_level_cells(report.total), style="bold")
    out().print(table)
    general = targets.default
    own = ", ".join(
        f"{category.value} {target.first_response_hours} h / {target.resolution_days} d"
        for category, target in targets.by_category.items()
    )
    out().print(
        f"targets: first response {general.first_response_hours} h, resolution {general.resolution_days} d"
        + (f"; {own}" if own else "")
    )


_LEVEL_COLUMNS = (
    "month",
    "category",
    "opened",
    "resolved",
    "withdrawn",
    "open",
    "response median h",
    "response p90 h",
    "response in target",
    "resolution median d",
    "resolution p90 d",
    "resolution in target",
)


def _level_cells(figures: ServiceLevelFigures) -> list[str]:
    return [
        str(figures.opened),
        str(figures.resolved),
        str(figures.withdrawn),
        str(figures.still_open),
        *_clock_cells(figures.first_response),
        *_clock_cells(figures.resolution),
    ]


def _clock_cells(clock: ClockFigures) -> list[str]:
    share = clock.within_target_percent
    judged = clock.met + clock.missed
    return [
        "—" if clock.median is None else str(clock.median),
        "—" if clock.p90 is None else str(clock.p90),
        "—" if share is None else f"{share} % ({clock.met}/{judged})",
    ]


def _beijing(moment: datetime) -> str:
    return moment.astimezone(BUSINESS_TIME_ZONE).strftime("%Y-%m-%d %H:%M")


def _day(text: str, option: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        fail(f"{option} {text}: give a day as 2026-01-31")
