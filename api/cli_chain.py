"""The hash chain's check shared by ``heatledger audit`` and ``heatledger projections rebuild``: the
chained recorder, the verification under a progress bar, and the rebuild's guard.

Apart from ``api.cli_audit`` so that a rebuild imports only this (the audit commands bring the
audit bundles and their bill replay with them: 0.1-0.2 s of start-up, issue 17). Exit code 3
(``CHAIN_BROKEN``) for a broken chain, as ``api.cli``'s docstring says.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, cast

from rich.console import Console
from rich.markup import escape

from api.cli import STORE_UNAVAILABLE, _count, fail, progress_bar
from infrastructure.audit_chain import ChainedRecorder, Checkpoint, VerificationResult, is_chained, verify_chain
from infrastructure.container import Container

if TYPE_CHECKING:
    from infrastructure.chain_pages import PagesOpener

CHAIN_BROKEN = 3


def chained_recorder(container: Container) -> ChainedRecorder:
    """The event store's recorder, which keeps the hash chain."""
    recorder = container.ledger.recorder
    if not is_chained(recorder):
        fail("this event store keeps no hash chain", STORE_UNAVAILABLE)
    return cast(ChainedRecorder, recorder)


def verify_with_progress(
    console: Console,
    recorder: ChainedRecorder,
    checkpoints: Sequence[Checkpoint] = (),
    processes: int = 1,
    open_pages: PagesOpener | None = None,
) -> VerificationResult:
    """``verify_chain`` under a progress bar over the positions walked (with ``processes`` > 1 and
    ``open_pages``, the quick check split over that many processes, its bar full when they end)."""
    with progress_bar(console) as progress:
        task = progress.add_task("verifying the hash chain", total=None)

        def advance(position: int, stop: int) -> None:
            progress.update(task, completed=position, total=stop)

        return verify_chain(recorder, checkpoints, advance, processes=processes, open_pages=open_pages)


def guard_rebuild(container: Container, console: Console, ignore_broken_chain: bool, processes: int = 1) -> None:
    """Verify the chain before ``projections rebuild``: a broken chain stops it (exit 3) unless
    ``ignore_broken_chain``, when it is reported and the rebuild goes on. A rebuild given
    ``processes`` > 1 verifies the chain with as many (the whole chain still, before any write)."""
    from infrastructure.chain_pages import PagesOpener  # the backends' drivers, only to verify

    recorder = chained_recorder(container)
    opener = PagesOpener(container.settings) if processes > 1 else None
    result = verify_with_progress(console, recorder, recorder.select_checkpoints(), processes, opener)
    if result.intact:
        return
    first = result.first_problem
    assert first is not None, "a broken chain has a first problem"
    problems = _count(result.problems_found, "problem")
    summary = f"the events' hash chain is broken ({problems}; the first: {first.describe()})"
    if ignore_broken_chain:
        warning = Console(stderr=True, highlight=False, soft_wrap=True)
        warning.print(f"[bold yellow]warning:[/] {escape(summary)}; rebuilding anyway, as --ignore-broken-chain asks")
        return
    fail(
        f"{summary}: the read models would be rebuilt from events that are not what the ledger recorded. "
        "Run `heatledger audit verify` to see every problem; --ignore-broken-chain rebuilds anyway.",
        CHAIN_BROKEN,
    )
