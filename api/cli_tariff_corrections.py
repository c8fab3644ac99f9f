"""The ``heatledger tariff-corrections`` commands: a price the price bureau revised after the
season, proposed from a JSON file, previewed and run with a progress bar, approved or refused by a
second person, shown (docs/tariff-rules.md, "Tariff corrections").

The JSON file of ``propose`` is shaped like the API's ``POST /tariff-corrections`` body. The
local operator is ``cli:<login name>``: the approval must come from another login than the
proposal's. Exit codes as ``api.cli`` says: 0 done; 1 done but some households were held out or
some notes not booked (listed); 2 bad input or a refusal by a rule (one line).

Registered on the main ``heatledger`` app by ``api.cli``; it uses that module's plumbing.
"""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path
from typing import Annotated, Any
from uuid import UUID

import typer
from pydantic import ValidationError
from rich.markup import escape
from rich.table import Table

from api.cli import MAXIMUM_TABLE_ROWS, app, fail, opened_container, operator, out, progress_bar
from api.schemas.tariff_corrections import TariffCorrectionProposal
from domain.tariff_correction import CorrectionState, PreviewTotals, TariffCorrection
from infrastructure.tariff_corrections import (
    CorrectionJobRecord,
    JobStatus,
    correction_store_of,
    execute_preview,
    execute_run,
    submit_preview,
    submit_run,
    tariff_corrections_of,
)
from projections.tariff_corrections import TariffCorrectionQueries

corrections_app = typer.Typer(
    help="Tariff corrections: a price revised after the season, booked as credit and debit notes.",
    no_args_is_help=True,
)
app.add_typer(corrections_app, name="tariff-corrections")

SOME_HELD_OUT = 1
CorrectionId = Annotated[str, typer.Argument(help="The correction's id (from propose or show).")]
ReasonOption = Annotated[str, typer.Option("--reason", help="Why (recorded on the correction).")]


@corrections_app.command("propose")
def corrections_propose(
    file: Annotated[Path, typer.Argument(help="JSON file shaped like the API's POST /tariff-corrections body.")],
) -> None:
    """Propose the correction of a tariff version (or find it: the same file again is a retry)."""
    body = _proposal(file)
    with opened_container() as container:
        corrections = tariff_corrections_of(container)
        proposed = corrections.propose(operator(), body.proposal(), body.reason)
        correction = corrections.correction(proposed.correction_id)
    verb = "Proposed" if proposed.created else ("Proposed again" if proposed.changed else "Found (proposed before)")
    out().print(f"{verb}: correction {correction.id} ({correction.code}), {correction.state.value}.")


def _proposal(file: Path) -> TariffCorrectionProposal:
    try:
        document = json.loads(file.read_text(encoding="utf-8"), parse_float=Decimal)
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
        fail(f"cannot read {file}: {error}")
    try:
        return TariffCorrectionProposal.model_validate(document)
    except ValidationError as error:
        first = error.errors()[0]
        where = ".".join(str(part) for part in first["loc"])
        fail(f"{file}: {where}: {first['msg']}")


@corrections_app.command("preview")
def corrections_preview(correction_id: CorrectionId, reason: ReasonOption = "preview") -> None:
    """Preview the correction with a progress bar: the scenario per season and each household's note."""
    identifier = _id(correction_id)
    console = out()
    with opened_container() as container, progress_bar(console) as progress:
        job_id = submit_preview(container, operator(), identifier, reason)
        task = progress.add_task("preview", total=None)
        record = execute_preview(
            correction_store_of(container),
            tariff_corrections_of(container),
            container.scenario_store,
            job_id,
            lambda done, total: progress.update(task, completed=done, total=total),
        )
        container.catch_up()
        correction = tariff_corrections_of(container).correction(identifier)
    _require_done(record)
    summary = record.summary or {}
    _print_correction(correction)
    held_out = summary.get("held_out", [])
    for item in held_out[:MAXIMUM_TABLE_ROWS]:
        console.print(f"  held out {escape(item['account_number'])}: {escape(item['message'])}")
    if held_out:
        raise typer.Exit(SOME_HELD_OUT)


@corrections_app.command("approve")
def corrections_approve(correction_id: CorrectionId, reason: ReasonOption) -> None:
    """Approve the latest preview (another login than the proposer's)."""
    identifier = _id(correction_id)
    with opened_container() as container:
        corrections = tariff_corrections_of(container)
        corrections.approve(operator(), identifier, reason)
        correction = corrections.correction(identifier)
    out().print(f"Approved by {escape(correction.approved_by)}: preview {correction.approved_preview}.")


@corrections_app.command("refuse")
def corrections_refuse(correction_id: CorrectionId, reason: ReasonOption) -> None:
    """Refuse the correction, with why (before its run starts)."""
    identifier = _id(correction_id)
    with opened_container() as container:
        tariff_corrections_of(container).refuse(operator(), identifier, reason)
    out().print(f"Refused: correction {identifier}.")


@corrections_app.command("run")
def corrections_run(correction_id: CorrectionId, reason: ReasonOption = "run") -> None:
    """Book the approved notes with a progress bar; run again, it books only what is missing."""
    identifier = _id(correction_id)
    console = out()
    with opened_container() as container, progress_bar(console) as progress:
        job_id = submit_run(container, operator(), identifier, reason)
        task = progress.add_task("notes", total=None)
        record = execute_run(
            correction_store_of(container),
            tariff_corrections_of(container),
            job_id,
            lambda done, total: progress.update(task, completed=done, total=total),
        )
        container.catch_up()
    _require_done(record)
    summary = record.summary or {}
    table = Table(title=f"run of {identifier}", show_header=False)
    for key, text in (
        ("notes_booked", "notes booked"),
        ("already_booked", "booked before"),
        ("debit_yuan", "debit (元)"),
        ("credit_yuan", "credit (元)"),
        ("net_yuan", "net (元)"),
        ("completed", "completed"),
    ):
        table.add_row(text, str(summary.get(key, "")))
    console.print(table)
    exceptions = summary.get("exceptions", [])
    for item in exceptions[:MAXIMUM_TABLE_ROWS]:
        console.print(f"  {escape(item['account_number'])}: {escape(item['message'])}")
    if exceptions or not summary.get("completed"):
        raise typer.Exit(SOME_HELD_OUT)


@corrections_app.command("show")
def corrections_show(
    correction_id: Annotated[str | None, typer.Argument(help="One correction; without it, the latest ones.")] = None,
    state: Annotated[CorrectionState | None, typer.Option(help="Only corrections in this state.")] = None,
) -> None:
    """Show one correction (its figures and jobs), or list the latest."""
    console = out()
    if correction_id is None:
        with opened_container() as container:
            container.catch_up()
            rows = TariffCorrectionQueries(container.engine).list(state)
        table = Table(title="Tariff corrections")
        for column in ("id", "tariff", "document", "seasons", "state", "notes", "net (元)"):
            table.add_column(column)
        for row in rows[:MAXIMUM_TABLE_ROWS]:
            table.add_row(
                str(row.correction_id),
                escape(f"{row.customer_class} {row.scope} v{row.tariff_version}"),
                escape(row.document_number),
                ", ".join(row.seasons),
                row.state.value,
                str(row.notes_booked),
                str(row.debit_yuan + row.credit_yuan),
            )
        console.print(table)
        return
    identifier = _id(correction_id)
    with opened_container() as container:
        correction = tariff_corrections_of(container).correction(identifier)
        jobs = correction_store_of(container).jobs_of(identifier)
    _print_correction(correction)
    for job in jobs:
        console.print(
            f"  {job.kind.value} {job.job_id}: {job.status.value} ({job.done}/{job.total}) by {escape(job.actor)}"
        )


def _print_correction(correction: TariffCorrection) -> None:
    proposal = correction.proposal
    table = Table(title=f"correction {correction.id} ({correction.code})", show_header=False)
    table.add_row("tariff", escape(f"{proposal.customer_class} {proposal.scope} version {proposal.tariff_version}"))
    table.add_row("document", escape(f"{proposal.document_number} (approved on {proposal.approved_on})"))
    table.add_row("seasons", ", ".join(proposal.seasons))
    table.add_row("corrected", escape(", ".join(f"{name} = {value}" for name, value in proposal.overrides.items())))
    table.add_row("state", correction.state.value)
    table.add_row("proposed by", escape(correction.proposed_by))
    if correction.approved_by:
        table.add_row("approved by", escape(correction.approved_by))
    totals = correction.preview_totals
    if totals is not None:
        _add_totals(table, totals)
    if correction.scenario_ids:
        table.add_row("scenarios", ", ".join(correction.scenario_ids))
    table.add_row("notes booked", f"{correction.booked.notes} ({correction.booked.net_yuan} 元)")
    out().print(table)


def _add_totals(table: Table, totals: PreviewTotals) -> None:
    rows: tuple[tuple[str, Any], ...] = (
        ("households", totals.households),
        ("notes", totals.notes),
        ("debit notes", f"{totals.debit_notes} ({totals.debit_yuan} 元)"),
        ("credit notes", f"{totals.credit_notes} ({totals.credit_yuan} 元)"),
        ("net (元)", totals.net_yuan),
        ("unchanged", totals.unchanged),
        ("held out", totals.held_out),
        ("issued bills that differ", totals.issued_differ),
    )
    for text, value in rows:
        table.add_row(text, str(value))


def _require_done(record: CorrectionJobRecord) -> None:
    if record.status is not JobStatus.DONE:
        fail(record.error or f"the job ended {record.status.value}")


def _id(text: str) -> UUID:
    try:
        return UUID(text)
    except ValueError:
        fail(f"not a correction id: {text}")
