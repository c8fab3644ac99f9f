"""The ``heatledger scenarios`` commands: regulator scenarios (物价局测算) run with a progress bar,
listed, shown and exported as CSV or XLSX. A scenario books nothing.

Variants come from a JSON file (``--variants FILE``: a list of objects shaped like the API's, or
``{"variants": [...]}``) or inline (``--variant "能量价 50: energy_price_yuan_per_gj=50"``, fields
separated by commas; a variant starts from the actual tariff unless ``from_actual=false``).

Registered on the main ``heatledger`` app by ``api.cli``; it uses that module's plumbing (the
opened container, the local operator, one-line failures).
"""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path
from typing import Annotated, Any
from uuid import UUID

import typer
from rich.markup import escape
from rich.table import Table

from api.cli import MAXIMUM_TABLE_ROWS, app, fail, opened_container, operator, out, progress_bar
from application.scenarios import ScenarioRequest, ScenarioScope
from domain.errors import LedgerError
from domain.scenario import TariffVariant
from domain.values import CustomerClass
from infrastructure.scenario_export import csv_lines, xlsx_bytes
from infrastructure.scenarios import ScenarioRecord, ScenarioStatus, execute_scenario

scenarios_app = typer.Typer(
    help="Regulator scenarios: a season recomputed under other tariffs, side by side. Books nothing.",
    no_args_is_help=True,
)
app.add_typer(scenarios_app, name="scenarios")

SOME_EXCEPTIONS = 1
TOTALS_SHOWN = (
    ("households", "households"),
    ("due_yuan", "due (元)"),
    ("change_yuan", "revenue change (元)"),
    ("revenue_change_percent", "revenue change (%)"),
    ("gainers", "pay less"),
    ("gainers_percent", "pay less (%)"),
    ("gain_yuan", "less by (元)"),
    ("losers", "pay more"),
    ("losers_percent", "pay more (%)"),
    ("loss_yuan", "more by (元)"),
    ("yuan_per_m2", "元/m²"),
    ("yuan_per_gj", "元/GJ"),
)


@scenarios_app.command("run")
def scenarios_run(
    season: Annotated[str, typer.Option(help="The season, e.g. 2025-2026 (past, or the current one to date).")],
    variants_file: Annotated[
        Path | None, typer.Option("--variants", help="JSON file of the variants (as the API takes them).")
    ] = None,
    variant: Annotated[
        list[str] | None, typer.Option(help='Inline: "LABEL: field=value, field=value" (repeatable).')
    ] = None,
    community: Annotated[str | None, typer.Option(help="One community; default: the whole city.")] = None,
    building: Annotated[str | None, typer.Option(help="One building of --community.")] = None,
    customer_class: Annotated[
        CustomerClass | None, typer.Option("--class", help="residential or non_residential")
    ] = None,
    as_of: Annotated[str | None, typer.Option(help="The current season: the last day counted (YYYY-MM-DD).")] = None,
    title: Annotated[str, typer.Option(help="A title to find it by.")] = "",
) -> None:
    """Compute a scenario with a progress bar, store it and print its totals per column."""
    try:
        variants = _variants(variants_file, variant or [])
        scope = ScenarioScope(community, building, customer_class)
        request = ScenarioRequest(season, variants, scope, date.fromisoformat(as_of) if as_of else None, title)
    except ValueError as error:
        fail(str(error))
    except LedgerError as error:
        fail(error.message)
    console = out()
    with opened_container() as container, progress_bar(console) as progress:
        container.catch_up()
        store = container.scenario_store
        scenario_id = store.submit(operator(), request)
        task = progress.add_task(f"scenario {season}", total=None)
        record = execute_scenario(
            store,
            container.scenarios,
            scenario_id,
            on_progress=lambda done, total: progress.update(task, completed=done, total=total),
        )
    print_scenario(record)
    if record.status is ScenarioStatus.FAILED:
        fail(record.error or "the scenario failed")
    if record.summary and record.summary["exceptions"]:
        raise typer.Exit(SOME_EXCEPTIONS)


@scenarios_app.command("list")
def scenarios_list(limit: Annotated[int, typer.Option(min=1, max=200)] = 20) -> None:
    """The latest scenarios, newest first."""
    with opened_container() as container:
        records = container.scenario_store.recent(limit)
    table = Table(title="Scenarios")
    for column in ("id", "season", "scope", "variants", "status", "households", "by", "submitted"):
        table.add_column(column)
    for record in records:
        scope = record.request.scope
        table.add_row(
            str(record.scenario_id),
            record.request.season_code,
            escape("/".join(part for part in (scope.community, scope.building, scope.customer_class) if part) or "*"),
            escape(", ".join(variant.label for variant in record.request.variants)),
            record.status.value,
            f"{record.households_done}/{record.households_total}",
            escape(record.actor),
            f"{record.submitted_at:%Y-%m-%d %H:%M}",
        )
    out().print(table)


@scenarios_app.command("show")
def scenarios_show(
    scenario_id: Annotated[str, typer.Argument(help="The scenario's id.")],
    households: Annotated[int, typer.Option(min=0, max=MAXIMUM_TABLE_ROWS, help="Households listed.")] = 0,
) -> None:
    """A scenario's totals per column, and optionally its first households."""
    with opened_container() as container:
        record = container.scenario_store.get(_uuid(scenario_id))
        rows = container.scenario_store.results(record.scenario_id, limit=households * 6) if households else []
    print_scenario(record)
    if rows:
        labels = record.variant_labels
        table = Table(title="Households")
        for column in ("account", "column", "basis", "area fee", "metered fee", "due", "change"):
            table.add_column(column)
        for row in rows[: households * (len(labels))]:
            table.add_row(
                escape(row.account_number),
                escape(labels[row.variant]),
                row.basis,
                f"{row.area_fee_yuan:.2f}",
                "-" if row.metered_fee_yuan is None else f"{row.metered_fee_yuan:.2f}",
                f"{row.due_yuan:.2f}",
                f"{row.change_yuan:+.2f}",
            )
        out().print(table)


@scenarios_app.command("export")
def scenarios_export(
    scenario_id: Annotated[str, typer.Argument(help="The scenario's id.")],
    file: Annotated[Path, typer.Argument(help="The file to write: .csv or .xlsx")],
) -> None:
    """Write a computed scenario to a CSV (UTF-8 with BOM) or XLSX file, Chinese headers."""
    if file.suffix.lower() not in (".csv", ".xlsx"):
        fail(f"{file}: the file must end in .csv or .xlsx")
    with opened_container() as container:
        store = container.scenario_store
        record = store.get(_uuid(scenario_id))
        if record.status is not ScenarioStatus.DONE:
            fail(f"the scenario is {record.status.value}, not done: nothing to export yet")
        try:
            if file.suffix.lower() == ".xlsx":
                file.write_bytes(xlsx_bytes(store, record))
            else:
                with file.open("w", encoding="utf-8", newline="") as stream:
                    stream.writelines(csv_lines(store, record))
        except OSError as error:
            fail(f"cannot write {file}: {error}")
    out().print(f"Wrote {escape(str(file))}.")


# -- helpers -------------------------------------------------------------------------------------


def print_scenario(record: ScenarioRecord) -> None:
    """The scenario's request, then a table of its totals, a column per column of the scenario."""
    console = out()
    scope = record.request.scope
    where = "/".join(part for part in (scope.community, scope.building, scope.customer_class) if part) or "the city"
    console.print(
        f"Scenario {record.scenario_id} ({record.status.value}): season {record.request.season_code}, "
        f"{escape(where)}; {escape(record.title)}"
    )
    summary = record.summary
    if summary is None:
        return
    table = Table(title=f"{summary['computed']} households computed of {summary['households']}")
    table.add_column("")
    for column in summary["columns"]:
        table.add_column(escape(column["label"]), justify="right")
    for field, name in TOTALS_SHOWN:
        table.add_row(name, *(str(column["totals"].get(field) or "-") for column in summary["columns"]))
    console.print(table)
    if summary["issued_differ"]:
        console.print(
            f"{summary['issued_differ']} issued settlements recompute differently today (the ledger learned "
            "something since): their variants compare with the bill as issued."
        )
    for exception in summary["exceptions"][:MAXIMUM_TABLE_ROWS]:
        console.print(f"  {escape(exception['account_number'])}: {escape(exception['message'])}")


def _variants(variants_file: Path | None, inline: list[str]) -> tuple[TariffVariant, ...]:
    records: list[dict[str, Any]] = []
    if variants_file is not None:
        try:
            document = json.loads(variants_file.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
            raise ValueError(f"cannot read {variants_file}: {error}") from None
        listed = document.get("variants") if isinstance(document, dict) else document
        if not isinstance(listed, list) or not all(isinstance(item, dict) for item in listed):
            raise ValueError(f"{variants_file}: expected a list of variants")
        records.extend(listed)
    records.extend(_inline_variant(text) for text in inline)
    if not records:
        raise ValueError("name at least one variant: --variants FILE or --variant 'LABEL: field=value'")
    return tuple(_variant(record) for record in records)


def _inline_variant(text: str) -> dict[str, Any]:
    label, _, fields = text.partition(":")
    record: dict[str, Any] = {"label": label.strip()}
    for pair in filter(None, (part.strip() for part in fields.split(","))):
        name, equals, value = pair.partition("=")
        if not equals:
            raise ValueError(f"{pair!r}: a field is written name=value")
        record[name.strip()] = value.strip()
    return record


def _variant(record: dict[str, Any]) -> TariffVariant:
    fields = dict(record)
    label = str(fields.pop("label", ""))
    from_actual = str(fields.pop("from_actual", True)).lower() not in ("false", "0", "no")
    return TariffVariant(
        label, {name: None if value is None else str(value) for name, value in fields.items()}, from_actual
    )


def _uuid(text: str) -> UUID:
    try:
        return UUID(text)
    except ValueError:
        fail(f"{text} is not a scenario id")
