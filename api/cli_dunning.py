"""The ``heatledger dunning`` and ``heatledger notifications`` commands: run dunning (reminders into
the outbox), write the notices of issued bills, deliver what the outbox has due, and list the outbox.

Registered on the main ``heatledger`` app by ``api.cli``; it uses that module's plumbing.
"""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from typing import Annotated

import typer
from rich.markup import escape
from rich.table import Table

from api.cli import MAXIMUM_TABLE_ROWS, app, fail, opened_container, operator, out
from application.bill_notices import BillSelection
from domain.billing import BillKind
from domain.errors import LedgerError
from domain.season import Season
from infrastructure.jobs import deliver_notifications, dunning_policy, notify_bills
from infrastructure.notifications.outbox import MessageStatus

dunning_app = typer.Typer(help="Dunning: payment reminders for households in arrears.", no_args_is_help=True)
notifications_app = typer.Typer(help="The notification outbox: delivery and what it holds.", no_args_is_help=True)
app.add_typer(dunning_app, name="dunning")
app.add_typer(notifications_app, name="notifications")


@dunning_app.command("run")
def dunning_run(
    community: Annotated[str | None, typer.Option(help="One community; default: the whole city.")] = None,
    stages: Annotated[
        str | None, typer.Option(help="Reminder stages in days past due, e.g. 15,45,90; default: the settings'.")
    ] = None,
    minimum_yuan: Annotated[
        str | None, typer.Option(help="No reminder below this amount past due (元); default: the settings'.")
    ] = None,
    deliver: Annotated[bool, typer.Option(help="Deliver the reminders at once.")] = True,
) -> None:
    """Write the reminder each household in arrears is due today to the outbox (once per charge and
    stage, however often it runs), then deliver what is due."""
    with opened_container() as container:
        try:
            stage_days = [int(part) for part in stages.split(",")] if stages else None
            amount = Decimal(minimum_yuan) if minimum_yuan else None
            policy = dunning_policy(container.settings, stage_days, amount)
        except (ValueError, InvalidOperation) as error:
            fail(f"stages look like 15,45,90 and the amount like 50.00: {error}")
        except LedgerError as error:
            fail(error.message)
        summary = container.dunning.remind(operator(), policy, community=community, reason="dunning run (CLI)")
        report = deliver_notifications(container) if deliver else None
    console = out()
    table = Table(title=f"dunning {summary.today} {summary.community or ''}".strip(), show_header=False)
    table.add_row("households in arrears", str(len(summary.outcomes)))
    table.add_row("reminders written", str(summary.queued))
    skips: dict[str, int] = {}
    for outcome in summary.outcomes:
        if outcome.skip:
            skips[outcome.skip] = skips.get(outcome.skip, 0) + 1
    for skip, count in sorted(skips.items()):
        table.add_row(f"skipped: {skip}", str(count))
    if report is not None:
        for name, count in report.items():
            table.add_row(name, str(count))
    console.print(table)


@notifications_app.command("bills")
def notifications_bills(
    season: Annotated[str, typer.Option(help="The season, e.g. 2025-2026.")],
    kind: Annotated[BillKind | None, typer.Option(help="prepayment, statement or settlement; default: all.")] = None,
    month: Annotated[str | None, typer.Option(help="One statement month, e.g. 2025-12.")] = None,
    community: Annotated[str | None, typer.Option(help="One community; default: the whole city.")] = None,
    deliver: Annotated[bool, typer.Option(help="Deliver the notices at once.")] = True,
) -> None:
    """Write a notice for every issued bill of the season that has none yet (once per bill, however
    often it runs) to the outbox, then deliver what is due. Households without a contact are listed."""
    try:
        Season.from_code(season)
    except ValueError as error:
        fail(str(error))
    selection = BillSelection(season, kind, month, community)
    with opened_container() as container:
        container.catch_up()
        report = notify_bills(container, operator(), selection, "bill notices (CLI)", deliver)
    print_notice_report(report)


def print_notice_report(report: dict[str, object]) -> None:
    """A notice pass's figures, then the bills skipped with the reason (cut at a bound)."""
    skipped = report["skipped"]
    assert isinstance(skipped, list)
    console = out()
    table = Table(title=f"bill notices {report['season']}", show_header=False)
    table.add_row("bills", str(report["bills"]))
    table.add_row("notices written", str(report["written"]))
    table.add_row("written before", str(report["already_written"]))
    table.add_row("skipped: no contact", str(len(skipped)))
    for name in ("delivered", "retried", "dead"):
        if name in report:
            table.add_row(name, str(report[name]))
    console.print(table)
    for item in skipped[:MAXIMUM_TABLE_ROWS]:
        console.print(f"  {escape(item['account_number'])} {escape(item['bill_number'])}: {item['reason']}")
    if len(skipped) > MAXIMUM_TABLE_ROWS:
        console.print(f"  … and {len(skipped) - MAXIMUM_TABLE_ROWS} more")


@notifications_app.command("deliver")
def notifications_deliver() -> None:
    """Send what the outbox has due now (new messages and retries whose time has come)."""
    with opened_container() as container:
        report = deliver_notifications(container)
    out().print(", ".join(f"{name} {count}" for name, count in report.items()))


@notifications_app.command("list")
def notifications_list(
    status: Annotated[MessageStatus | None, typer.Option(help="pending, sending, delivered or dead")] = None,
    account: Annotated[str | None, typer.Option(help="One household's account number.")] = None,
) -> None:
    """The outbox, newest first, with each message's status and last error."""
    with opened_container() as container:
        messages = container.outbox.messages(status.value if status else None, account, MAXIMUM_TABLE_ROWS, 0)
        counts = container.outbox.counts()
    table = Table("created", "kind", "account", "channel", "stage", "status", "attempts", "last error")
    for message in messages:
        table.add_row(
            f"{message.created_at:%Y-%m-%d %H:%M}",
            message.kind,
            escape(message.account_number),
            message.channel,
            str(message.stage_days),
            message.status,
            str(message.attempts),
            escape(message.last_error or ""),
        )
    console = out()
    console.print(table)
    console.print(", ".join(f"{name} {count}" for name, count in sorted(counts.items())) or "the outbox is empty")
