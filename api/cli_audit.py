"""The ``heatledger audit`` commands: verify the tamper-evident hash chain over the stored events,
take checkpoints of it, and export them to be kept elsewhere (docs/audit.md, "Tamper evidence").

Registered on the main ``heatledger`` app by ``api.cli``; it uses that module's plumbing (the
opened container, one-line failures, the progress bar). Exit codes: 0 the chain is intact (or the
checkpoint was taken); 3 the chain is broken (``CHAIN_BROKEN``: every problem found is listed, the
first first); 1 the store cannot be reached; 2 a checkpoints file that cannot be read.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from api.cli import (
    BAD_INPUT,
    MAXIMUM_TABLE_ROWS,
    _count,
    app,
    fail,
    opened_container,
    out,
    progress_bar,
)
from api.cli_chain import CHAIN_BROKEN, chained_recorder, verify_with_progress
from infrastructure.audit_chain import (
    ChainBrokenError,
    Checkpoint,
    CheckpointFileError,
    VerificationResult,
    read_checkpoint_file,
    take_checkpoint,
    write_checkpoint_file,
)

audit_app = typer.Typer(
    help="Audit: the tamper-evident hash chain over the ledger's events, and its checkpoints.", no_args_is_help=True
)
app.add_typer(audit_app, name="audit")


# -- verify -----------------------------------------------------------------------------------


@audit_app.command("verify")
def audit_verify(
    checkpoints: Annotated[
        Path | None,
        typer.Option(
            "--checkpoints",
            help="A checkpoints file kept elsewhere (JSON Lines, from `audit checkpoints --export`).",
            show_default=False,
        ),
    ] = None,
) -> None:
    """Walk the whole chain in notification order, recompute every hash, compare with the stored
    checkpoints (and a file's), and name the first altered, deleted, inserted or reordered event.

    Exits 0 when the chain is intact, 3 when it is broken.
    """
    external = _read_checkpoints(checkpoints) if checkpoints is not None else []
    console = out()
    with opened_container() as container:
        recorder = chained_recorder(container)
        stored = recorder.select_checkpoints()
        result = verify_with_progress(console, recorder, [*stored, *external])
    print_verification(console, result, stored=len(stored), from_file=len(external))
    if not result.intact:
        raise typer.Exit(CHAIN_BROKEN)


def _read_checkpoints(path: Path) -> list[Checkpoint]:
    try:
        return read_checkpoint_file(path)
    except CheckpointFileError as error:
        fail(str(error), BAD_INPUT)


def print_verification(console: Console, result: VerificationResult, stored: int = 0, from_file: int = 0) -> None:
    """The verdict, and when broken the first problem and a table of every problem listed."""
    checked = (
        f"{result.events_checked} events up to position {result.last_position}; "
        f"{result.checkpoints_matched} of {result.checkpoints_checked} checkpoints match "
        f"({stored} stored, {from_file} from the file)"
    )
    if result.intact:
        console.print(f"[bold green]The hash chain is intact[/]: {checked}.")
        console.print(f"Head hash: {result.head_hash.hex()}", markup=False)
        return
    first = result.first_problem
    assert first is not None, "a broken chain has a first problem"
    console.print(f"[bold red]The hash chain is broken[/]: {_count(result.problems_found, 'problem')}; {checked}.")
    console.print(f"[bold]First:[/] {escape(first.describe())}")
    table = Table(title=f"Problems, in position order ({len(result.problems)} listed)")
    for column in ("position", "aggregate", "version", "what", "detail"):
        table.add_column(column, overflow="fold")
    for problem in result.problems[:MAXIMUM_TABLE_ROWS]:
        table.add_row(
            str(problem.notification_id),
            problem.originator_id or "-",
            "-" if problem.originator_version is None else str(problem.originator_version),
            problem.kind.value,
            escape(problem.detail),
        )
    console.print(table)


# -- checkpoints ------------------------------------------------------------------------------


@audit_app.command("checkpoint")
def audit_checkpoint() -> None:
    """Verify the chain and store a checkpoint of its head (position, hash, time). A broken chain
    gets none: exits 3."""
    console = out()
    with opened_container() as container:
        recorder = chained_recorder(container)
        try:
            with progress_bar(console) as progress:
                task = progress.add_task("verifying the hash chain", total=None)
                checkpoint, new = take_checkpoint(
                    recorder,
                    container.ledger.clock(),
                    lambda position, stop: progress.update(task, completed=position, total=stop),
                )
        except ChainBrokenError as error:
            print_verification(console, error.result)
            console.print("No checkpoint taken: a broken chain is never vouched for.")
            raise typer.Exit(CHAIN_BROKEN) from None
        except ValueError as error:
            console.print(f"No checkpoint taken: {error}.")
            return
    state = "taken" if new else "already taken earlier (no event since)"
    console.print(f"Checkpoint at position {checkpoint.position} {state}.", markup=False)
    console.print(f"Hash: {checkpoint.record_hash.hex()}", markup=False)
    console.print("Keep the checkpoints elsewhere too: heatledger audit checkpoints --export FILE", markup=False)


@audit_app.command("checkpoints")
def audit_checkpoints(
    export: Annotated[
        Path | None,
        typer.Option("--export", help="Write them to this file as JSON Lines, to keep elsewhere.", show_default=False),
    ] = None,
) -> None:
    """List the stored checkpoints, or export them to a file to keep away from the database."""
    console = out()
    with opened_container() as container:
        checkpoints = chained_recorder(container).select_checkpoints()
    if export is not None:
        try:
            written = write_checkpoint_file(export, checkpoints)
        except OSError as error:
            fail(f"cannot write {export}: {error.strerror or error}", BAD_INPUT)
        console.print(f"Wrote {_count(written, 'checkpoint')} to {export}.", markup=False)
        return
    if not checkpoints:
        console.print("No checkpoints yet: heatledger audit checkpoint", markup=False)
        return
    table = Table(title="Checkpoints of the hash chain")
    for column in ("position", "hash", "recorded at"):
        table.add_column(column, overflow="fold")
    for checkpoint in checkpoints[-MAXIMUM_TABLE_ROWS:]:
        table.add_row(str(checkpoint.position), checkpoint.record_hash.hex(), checkpoint.recorded_at.isoformat())
    console.print(table)
    if len(checkpoints) > MAXIMUM_TABLE_ROWS:
        console.print(f"… and {len(checkpoints) - MAXIMUM_TABLE_ROWS} older ones not shown (--export writes all).")


# The bundle commands (keygen, export, replay) register themselves on ``audit_app``: imported here,
# where the sub-app exists whichever of api.cli and this module is imported first.
from api import cli_audit_bundles  # noqa: E402, F401
