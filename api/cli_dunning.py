"""The ``heatledger dunning`` and ``heatledger notifications`` commands: run dunning (reminders into
the outbox), deliver what the outbox has due, and list the outbox.

Registered on the main ``heatledger`` app by ``api.cli``; it uses that module's plumbing.
"""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from typing import Annotated

import typer
from rich.markup import escape
from rich.table import Table

from api.cli import MAXIMUM_TABLE_ROWS, app, fail, opened_container, operator, out
from domain.errors import LedgerError
from infrastructure.jobs import deliver_notifications, dunning_policy
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
    table = Table("created", "account", "channel", "stage", "status", "attempts", "last error")
    for message in messages:
        table.add_row(
            f"{message.created_at:%Y-%m-%d %H:%M}",
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
