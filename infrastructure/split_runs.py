"""A billing run split over processes by building (issue 17: one process's Python bills about
600 bills/s, bound to one core by the GIL; the settlement's target is 1,000 bills/s on 2 cores).

``run_split`` is ``BillingRuns.run`` over ``processes`` disjoint shares of the households, a
building's households all in one share (``application.billing_runs.share_of``: a CRC-32 of the
community and building modulo the number of shares):

1. A process per share, started with the ``spawn`` context (a fresh interpreter: no database
   connection of this process is reused), each opening its own container with
   ``catch_up_after_command`` off (two processes must not catch the read models up at once), one
   after another (see ``_run_share``), then waiting.
2. Meanwhile, here, the checks of the whole, unsplit run (``BillingRuns.check``: a month outside
   the season, households without a tariff, no households at all): a refusal stops the processes
   before any books anything, and is raised here.
3. Once the checks pass, each process runs ``BillingRuns.run`` on its share under the run's id,
   reporting its progress and then its summary on a queue.
4. Here, once every process has ended, the shares' summaries merged (``merged_summary``). The caller
   catches the read models up once and sends the notices, as after a run in one process.

A process that fails (an error, or killed) is reported in ``SplitOutcome.failures`` once the
others have finished; what they booked stays booked. Runs are idempotent (a bill is keyed by its
household, season, kind and label): running the run again bills what the failed share left.
"""

from __future__ import annotations

import contextlib
import queue
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from multiprocessing import get_context
from typing import Any
from uuid import UUID, uuid4

from application.authorization import Principal
from application.billing_runs import RunProgress, RunRequest, RunShare, RunSummary, merged_summary
from domain.errors import LedgerError
from infrastructure.container import Container, bootstrap
from infrastructure.settings import Settings

# How long the parent waits on the queue before looking whether every process has ended.
POLL_SECONDS = 0.2


@dataclass(frozen=True)
class ShareFailure:
    """A share whose process did not finish its run: which, and why (one line)."""

    index: int
    message: str


@dataclass
class SplitOutcome:
    """The merged summary of the shares that finished, and the shares that failed."""

    summary: RunSummary
    failures: list[ShareFailure] = field(default_factory=list)


def run_split(
    container: Container,
    principal: Principal,
    request: RunRequest,
    processes: int,
    progress: RunProgress | None = None,
    run_id: UUID | None = None,
    reason: str = "billing run",
) -> SplitOutcome:
    """Run ``request`` in ``processes`` processes, one share of its buildings each, after checking
    it whole here (raises, booking nothing, as ``BillingRuns.run`` refuses). The processes start
    (import, open the store) while the checks run, and wait for them before billing."""
    if processes < 1:
        raise ValueError("a run needs at least one process")
    run_id = run_id or uuid4()
    settings = container.settings.model_copy(update={"catch_up_after_command": False})
    context = get_context("spawn")
    messages: Any = context.Queue()
    opening, go, cancelled = context.Lock(), context.Event(), context.Event()
    workers = [
        context.Process(
            target=_run_share,
            args=(
                settings,
                principal,
                replace(request, share=RunShare(index, processes)),
                run_id,
                reason,
                (messages, opening, go, cancelled),
            ),
            name=f"billing-run-share-{index}",
        )
        for index in range(processes)
    ]
    for worker in workers:
        worker.start()
    try:
        checked = container.billing_runs.check(principal, request, run_id)
    except BaseException:
        cancelled.set()
        go.set()
        _wait(workers, messages, lambda message: None)
        raise
    go.set()
    done = [0] * processes
    summaries: dict[int, RunSummary] = {}
    failures: dict[int, str] = {}

    def receive(message: tuple[Any, ...]) -> None:
        what, index = message[0], message[1]
        if what == "progress":
            done[index] = message[2]
            if progress is not None:
                progress(sum(done), checked.households)
        elif what == "done":
            summaries[index] = message[2]
        else:
            failures[index] = message[2]

    _wait(workers, messages, receive)
    for index, worker in enumerate(workers):
        if index not in summaries and index not in failures:
            failures[index] = f"the process ended without a summary (exit code {worker.exitcode})"
    summary = merged_summary(checked, (summaries[index] for index in sorted(summaries)))
    return SplitOutcome(summary, [ShareFailure(index, failures[index]) for index in sorted(failures)])


def _wait(workers: list[Any], messages: Any, receive: Callable[[tuple[Any, ...]], None]) -> None:
    """Receive the processes' messages until every one has ended, then what is left."""
    try:
        while any(worker.is_alive() for worker in workers):
            with contextlib.suppress(queue.Empty):
                receive(messages.get(timeout=POLL_SECONDS))
        # A process flushes its queue before it exits: what is left is read without waiting long.
        while True:
            try:
                receive(messages.get(timeout=POLL_SECONDS))
            except queue.Empty:
                break
    finally:
        for worker in workers:
            worker.join()


def _run_share(
    settings: Settings,
    principal: Principal,
    request: RunRequest,
    run_id: UUID,
    reason: str,
    channels: tuple[Any, Any, Any, Any],
) -> None:
    """A share's run in its own process, with its own container; progress, then the summary or
    the failure, on ``messages``. It bills once the parent's checks passed (``go`` without
    ``cancelled``). The processes open the store one at a time (``opening``): on PostgreSQL opening
    it replaces the event store's functions (``CREATE OR REPLACE FUNCTION``), which two sessions
    at once fail ("tuple concurrently updated", seen in the tests)."""
    messages, opening, go, cancelled = channels
    assert request.share is not None
    index = request.share.index
    try:
        with opening:
            container = bootstrap(settings)
    except Exception as error:
        messages.put(("failed", index, f"cannot open the store: {_one_line(error)}"))
        return
    try:
        go.wait()
        if cancelled.is_set():
            return

        def report(done: int, total: int) -> None:
            messages.put(("progress", index, done, total))

        summary = container.billing_runs.run(principal, request, progress=report, run_id=run_id, reason=reason)
        messages.put(("done", index, summary))
    except LedgerError as error:
        messages.put(("failed", index, error.message))
    except Exception as error:
        traceback.print_exc()
        messages.put(("failed", index, _one_line(error)))
    finally:
        container.close()


def _one_line(error: BaseException) -> str:
    text = str(error).strip().splitlines()
    return f"{error.__class__.__name__}: {text[0] if text else ''}"
