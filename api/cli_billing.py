"""The ``heatledger tariff`` and ``heatledger billing`` commands: publish tariffs, list them, and run
billing (prepayment, a month's statements, the settlement) with a progress bar and a summary.

Registered on the main ``heatledger`` app by ``api.cli``; it uses that module's plumbing (the
opened container, the local operator, one-line failures).
"""

from __future__ import annotations

import json
from datetime import date
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from api.cli import MAXIMUM_TABLE_ROWS, app, fail, opened_container, operator, out, progress_bar
from api.cli_dunning import print_notice_report
from application.bill_notices import BillSelection
from application.billing_runs import RunRequest, RunSummary
from domain.billing import BillKind
from domain.errors import LedgerError
from domain.season import Season
from domain.settlement import PositionCorrection, Rounding, RoundingMode, SettlementPolicy, TwoPartPrice
from domain.tariff import SOURCE_COEFFICIENT_TABLE, BilledArea, BrokenMeterMethod, TariffTerms
from domain.values import CustomerClass
from infrastructure.jobs import notify_bills
from infrastructure.split_runs import ShareFailure, run_split

tariff_app = typer.Typer(help="Tariffs: effective-dated versions of the two-part heat price.", no_args_is_help=True)
# A run split wider than the machine's cores only adds processes that wait for one.
MAXIMUM_RUN_PROCESSES = 32

billing_app = typer.Typer(help="Billing runs: prepayment, monthly statements, settlement.", no_args_is_help=True)
app.add_typer(tariff_app, name="tariff")
app.add_typer(billing_app, name="billing")


# -- tariffs ----------------------------------------------------------------------------------


@tariff_app.command("publish")
def tariff_publish(
    file: Annotated[Path, typer.Argument(help="JSON file of the version (see docs/tariff-rules.md).")],
) -> None:
    """Publish a tariff version from a JSON file: prices, policy, dates and the approval document."""
    document = _read_json(file)
    try:
        terms = terms_from_document(document)
        customer_class = CustomerClass(document.get("customer_class", "residential"))
        effective_from = date.fromisoformat(document["effective_from"])
        until = document.get("effective_until")
        effective_until = date.fromisoformat(until) if until else None
        approved_on = date.fromisoformat(document["approved_on"])
        number, scope = str(document["document_number"]), str(document.get("scope", "*"))
    except (KeyError, ValueError, InvalidOperation, TypeError) as error:
        fail(f"{file}: {error.__class__.__name__}: {error}")
    except LedgerError as error:
        fail(f"{file}: {error.message}")
    with opened_container() as container:
        version = container.billing.publish_tariff(
            operator(),
            customer_class,
            scope,
            terms,
            effective_from,
            effective_until,
            number,
            approved_on,
            reason=str(document.get("reason", "tariff approved by the price bureau")),
        )
    out().print(
        f"Published version {version.number} of the {customer_class.value} tariff for {escape(scope)}, "
        f"in force from {version.effective_from} ({escape(version.document_number)})."
    )


def _read_json(file: Path) -> dict[str, Any]:
    try:
        document = json.loads(file.read_text(encoding="utf-8"), parse_float=Decimal)
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
        fail(f"cannot read {file}: {error}")
    if not isinstance(document, dict):
        fail(f"{file}: expected a JSON object")
    return document


def terms_from_document(document: dict[str, Any]) -> TariffTerms:
    """Tariff terms from a JSON document's fields (numbers as JSON numbers or strings)."""
    cap = document.get("cap_percent")
    price = TwoPartPrice(
        area_price_yuan_per_m2=Decimal(str(document["area_price_yuan_per_m2"])),
        base_share_percent=Decimal(str(document["base_share_percent"])),
        energy_price_yuan_per_gj=Decimal(str(document["energy_price_yuan_per_gj"])),
        policy=SettlementPolicy(document["policy"]),
        cap_percent=Decimal(str(cap)) if cap is not None else None,
        suspension_share_percent=Decimal(str(document.get("suspension_share_percent", 0))),
        position_correction=PositionCorrection(document.get("position_correction", "none")),
        minimum_charge_yuan=Decimal(str(document.get("minimum_charge_yuan", 0))),
        rounding=Rounding(
            RoundingMode(document.get("rounding_mode", "half_up")),
            Decimal(str(document.get("rounding_quantum_yuan", "0.01"))),
        ),
    )
    coefficients = document.get("position_coefficients") or SOURCE_COEFFICIENT_TABLE
    return TariffTerms(
        price=price,
        billed_area=BilledArea(document.get("billed_area", "connected")),
        broken_meter_share_percent=Decimal(str(document.get("broken_meter_share_percent", 10))),
        broken_meter_method=BrokenMeterMethod(document.get("broken_meter_method", "area")),
        position_coefficients={key: Decimal(str(value)) for key, value in coefficients.items()},
    )


@tariff_app.command("list")
def tariff_list() -> None:
    """List every published version (class, scope, dates, prices, policy, document)."""
    from projections.billing_queries import BillingQueries

    with opened_container() as container:
        container.catch_up()
        versions = BillingQueries(container.engine).tariffs()
    table = Table(title="Tariff versions")
    for column in ("class", "scope", "version", "from", "until", "document", "approved"):
        table.add_column(column)
    for version in versions[:MAXIMUM_TABLE_ROWS]:
        table.add_row(
            version.customer_class,
            escape(version.scope),
            str(version.version),
            str(version.effective_from),
            str(version.effective_until or "-"),
            escape(version.document_number),
            str(version.approved_on),
        )
    out().print(table)


# -- billing runs -----------------------------------------------------------------------------


@billing_app.command("run")
def billing_run(
    kind: Annotated[BillKind, typer.Argument(help="prepayment, statement or settlement")],
    season: Annotated[str, typer.Option(help="The season, e.g. 2025-2026.")],
    month: Annotated[str | None, typer.Option(help="The statement month, e.g. 2025-12.")] = None,
    community: Annotated[str | None, typer.Option(help="One community; default: the whole city.")] = None,
    processes: Annotated[
        int,
        typer.Option(
            min=1,
            max=MAXIMUM_RUN_PROCESSES,
            help="Processes to bill in, each a share of the buildings (see docs/operations.md).",
        ),
    ] = 1,
) -> None:
    """Run billing with a progress bar; running it again issues nothing twice."""
    try:
        parsed_season = Season.from_code(season)
    except ValueError as error:
        fail(str(error))
    console = out()
    request = RunRequest(kind, parsed_season, month, community)
    failures: list[ShareFailure] = []
    with opened_container() as container, progress_bar(console) as progress:
        task = progress.add_task(f"{kind.value} {season}", total=None)

        def report(done: int, total: int) -> None:
            progress.update(task, completed=done, total=total)

        if processes == 1:
            summary = container.billing_runs.run(operator(), request, progress=report)
        else:
            outcome = run_split(container, operator(), request, processes, progress=report)
            summary, failures = outcome.summary, outcome.failures
        container.catch_up()
        # The households hear of their new bills: a notice per bill without one, then delivery.
        selection = BillSelection(parsed_season.code, kind, month, community)
        notices = notify_bills(container, operator(), selection, "billing run (CLI)")
    print_summary(summary)
    print_notice_report(notices)
    if failures:
        errors = Console(stderr=True, highlight=False, soft_wrap=True)
        for failure in failures:
            errors.print(
                f"[bold red]error:[/] the process of share {failure.index + 1} of {processes} failed: "
                f"{escape(failure.message)}"
            )
        errors.print(
            "The other shares' bills are booked; run the same command again to bill the rest (nothing is issued twice)."
        )
    if summary.exceptions or failures:
        raise typer.Exit(1)


def print_summary(summary: RunSummary) -> None:
    """The run's figures, then its exceptions (cut at a bound, with a count)."""
    console = out()
    table = Table(title=f"{summary.kind.value} {summary.season_code} {summary.month or ''}".strip(), show_header=False)
    table.add_row("households", str(summary.households))
    table.add_row("bills issued", str(summary.bills_issued))
    table.add_row("already issued", str(summary.already_issued))
    table.add_row("charged (元)", f"{summary.charged_yuan:.2f}")
    table.add_row("credited (元)", f"{summary.credited_yuan:.2f}")
    for basis, count in sorted(summary.by_basis.items()):
        table.add_row(f"basis {basis}", str(count))
    table.add_row("exceptions", str(len(summary.exceptions)))
    table.add_row("skipped (not supplied in the season)", str(len(summary.skipped)))
    console.print(table)
    for skipped in summary.skipped[:MAXIMUM_TABLE_ROWS]:
        console.print(f"  skipped {escape(skipped.account_number)}: {escape(skipped.message)}")
    for exception in summary.exceptions[:MAXIMUM_TABLE_ROWS]:
        console.print(f"  {escape(exception.account_number)}: {escape(exception.message)}")
    if len(summary.exceptions) > MAXIMUM_TABLE_ROWS:
        console.print(f"  … and {len(summary.exceptions) - MAXIMUM_TABLE_ROWS} more")
