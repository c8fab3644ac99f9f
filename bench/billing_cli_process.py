"""One ``heatledger billing run`` in this process, as a user runs it, with timers around its parts.

``bench.billing`` starts it in a fresh process per run (so the aggregate cache starts empty, as it
does for a user) with the store's ``HEATLEDGER_*`` settings in the environment::

    python -m bench.billing_cli_process RESULT.json billing run settlement --season 2025-2026

Everything after the result file goes to the command-line app of ``api.cli`` unchanged: the
same code path as ``heatledger billing run`` (open the container, run with a progress bar, catch
the read models up, write and deliver the bills' notices, print the summary). Before calling it,
this module wraps, without changing what they do, the functions whose time it reports:
``api.cli.bootstrap`` (opening the store), ``BillingRuns.run``, ``ProjectionRunner.catch_up``
(after every save on the embedded default, and once after the run), ``ProjectionRunner.rebuild`` and
``api.cli_billing.notify_bills``. At exit it writes their seconds, the moments the process entered
this module and finished opening the store (epoch seconds, for the parent's start-up figure), the
command's exit code and the run's summary to RESULT.json.
"""

from __future__ import annotations

import time

ENTERED_AT = time.time()  # before the heavy imports: the parent measures what came before

import json  # noqa: E402
import resource  # noqa: E402
import sys  # noqa: E402
from collections.abc import Callable  # noqa: E402
from dataclasses import dataclass, field  # noqa: E402
from functools import wraps  # noqa: E402
from pathlib import Path  # noqa: E402
from typing import Any  # noqa: E402


@dataclass
class Timings:
    """Seconds per part of the command, and what the run reported."""

    entered_at: float = ENTERED_AT
    store_opened_at: float | None = None
    run_seconds: float = 0.0
    run_cpu_seconds: float = 0.0  # this process's CPU in the run (not the database server's)
    # The CPU of this process's children, at exit: a run split over processes (--processes N) bills
    # in them, while this process only checks the run, catches up and writes the notices.
    children_cpu_seconds: float = 0.0
    peak_rss_mb: float = 0.0  # the process's peak resident memory, at exit
    # The largest peak of its children (the processes of a split run), 0 without any: forked, a
    # child's peak counts the pages it shares with this process (ru_maxrss of RUSAGE_CHILDREN).
    children_peak_rss_mb: float = 0.0
    catch_up_seconds: float = 0.0
    catch_up_during_run_seconds: float = 0.0
    # ``ProjectionRunner.rebuild`` (the tables emptied, every event applied, the summaries written;
    # in a checkout from before issue 17's eighth pass it emptied the tables and called catch_up).
    rebuild_seconds: float = 0.0
    notices_seconds: float = 0.0
    exit_code: int | None = None
    summary: dict[str, Any] = field(default_factory=dict)
    running: bool = False


TIMINGS = Timings()


def _timed(function: Callable[..., Any], record: Callable[[float, Any], None]) -> Callable[..., Any]:
    """``function`` unchanged, but ``record(seconds, result)`` is told how long each call took."""

    @wraps(function)
    def timed(*arguments: Any, **keywords: Any) -> Any:
        started = time.perf_counter()
        result = function(*arguments, **keywords)
        record(time.perf_counter() - started, result)
        return result

    return timed


def _record_store_opened(seconds: float, result: Any) -> None:
    TIMINGS.store_opened_at = time.time()


def _record_catch_up(seconds: float, result: Any) -> None:
    TIMINGS.catch_up_seconds += seconds
    if TIMINGS.running:
        TIMINGS.catch_up_during_run_seconds += seconds


def _record_rebuild(seconds: float, result: Any) -> None:
    TIMINGS.rebuild_seconds += seconds


def _record_notices(seconds: float, result: Any) -> None:
    TIMINGS.notices_seconds += seconds


def _timed_run(run: Callable[..., Any], summary_of: Callable[[Any], Any] = lambda result: result) -> Callable[..., Any]:
    """``BillingRuns.run`` (or ``run_split``: ``summary_of`` takes its outcome's summary)
    unchanged, timed, its summary kept; catch-ups inside it are told apart."""

    @wraps(run)
    def timed(*arguments: Any, **keywords: Any) -> Any:
        TIMINGS.running = True
        started, cpu_started = time.perf_counter(), time.process_time()
        try:
            summary = run(*arguments, **keywords)
        finally:
            TIMINGS.run_seconds += time.perf_counter() - started
            TIMINGS.run_cpu_seconds += time.process_time() - cpu_started
            TIMINGS.running = False
        TIMINGS.summary = summary_figures(summary_of(summary))
        return summary

    return timed


def summary_figures(summary: Any) -> dict[str, Any]:
    """A run summary's figures as JSON-safe values (amounts as strings, exact)."""
    return {
        "households": summary.households,
        "bills_issued": summary.bills_issued,
        "already_issued": summary.already_issued,
        "charged_yuan": str(summary.charged_yuan),
        "credited_yuan": str(summary.credited_yuan),
        "by_basis": dict(summary.by_basis),
        "exceptions": len(summary.exceptions),
        "skipped": len(summary.skipped),
    }


def install_timers(command: list[str] | None = None) -> None:
    """Wrap the functions the command calls; imported here, so this module's own start is cheap.
    The billing commands' module only for a billing command (another command does not import it)."""
    import api.cli as cli
    from application.billing_runs import BillingRuns
    from projections.runner import ProjectionRunner

    cli.bootstrap = _timed(cli.bootstrap, _record_store_opened)  # type: ignore[attr-defined]
    if command is None or command[:1] == ["billing"]:
        import api.cli_billing as cli_billing

        cli_billing.notify_bills = _timed(cli_billing.notify_bills, _record_notices)  # type: ignore[attr-defined]
    BillingRuns.run = _timed_run(BillingRuns.run)  # type: ignore[method-assign]
    ProjectionRunner.catch_up = _timed(ProjectionRunner.catch_up, _record_catch_up)  # type: ignore[method-assign]
    ProjectionRunner.rebuild = _timed(ProjectionRunner.rebuild, _record_rebuild)  # type: ignore[method-assign]
    if command is None or command[:1] == ["billing"]:
        try:
            import infrastructure.split_runs as split_runs
        except ImportError:  # a checkout from before split runs (CODE_ROOT)
            return
        # A split run's parent calls run_split (its processes call BillingRuns.run, untimed here).
        timed_split = _timed_run(split_runs.run_split, lambda outcome: outcome.summary)
        split_runs.run_split = timed_split
        cli_billing.run_split = timed_split  # type: ignore[attr-defined]


def main(argv: list[str]) -> int:
    """Run the command of ``argv[1:]`` through the CLI app; write the timings to ``argv[0]``."""
    result_path, command = Path(argv[0]), argv[1:]
    install_timers(command)
    from api.cli import app

    try:
        app(args=command, prog_name="heatledger")
        TIMINGS.exit_code = 0
    except SystemExit as exit_:
        TIMINGS.exit_code = exit_.code if isinstance(exit_.code, int) else 1
    finally:
        TIMINGS.peak_rss_mb = peak_rss_mb()
        children = resource.getrusage(resource.RUSAGE_CHILDREN)
        TIMINGS.children_cpu_seconds = children.ru_utime + children.ru_stime
        TIMINGS.children_peak_rss_mb = children.ru_maxrss / 1024
        figures = {name: value for name, value in vars(TIMINGS).items() if name != "running"}
        result_path.write_text(json.dumps(figures), encoding="utf-8")
    return TIMINGS.exit_code


def peak_rss_mb() -> float:
    """This process's own peak resident memory: VmHWM where Linux has it. Not ``ru_maxrss``: Linux
    carries it over fork and exec, so a child smaller than its parent reports the parent's peak
    (bench.billing's 100,000-household prepayment and settlement both reported 860 MB, the bench
    process's own size after the set-up, while the settlement's process stayed near 400 MB)."""
    try:
        with open("/proc/self/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
