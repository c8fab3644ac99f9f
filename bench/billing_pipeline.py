"""The settlement's run with its chunks' saves pipelined (the writer thread saves chunk N while the
run's thread computes chunk N + 1) and one chunk at a time, alternated, on copies of a prepaid kept
city: the run's wall and CPU, where the saves' time went, and how long the run's thread waited on them.

``python -m bench.billing_pipeline --sqlite-city DIR | --database NAME [--rounds N]``: ``DIR`` and
``NAME`` as ``bench.billing_as_run`` takes them (its ``DIR-prepaid`` / ``NAME_prepaid`` is used;
run ``bench.billing_as_run`` once first to make it). Each round copies the prepaid city and runs
the settlement in this process (a new container: a cold aggregate cache; no catch-up, which the
bench leaves out), once each way, the order alternating. Printed per run: the run's wall, the
process's CPU and the run thread's, the saves' wall and CPU (in whichever thread made them), and
the run thread's wait for the writer (``_RunJob.finish``: the wait for a chunk's save, its evictions
and counting). With ``CODE_ROOT=DIR`` another checkout's modules are imported first. Figures only.
"""

from __future__ import annotations

import os
import sys

if os.environ.get("CODE_ROOT"):
    sys.path.insert(0, os.environ["CODE_ROOT"])

import argparse
import shutil
import tempfile
import threading
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

from application import billing_runs
from application.billing_runs import RunRequest
from bench.billing import AFTER_SEASON, CLERK, SEASON, _bench_settings
from bench.ingest import _admin_connection
from bench.kept_store import copy_database, postgres_settings
from domain.billing import BillKind
from infrastructure.container import bootstrap
from infrastructure.settings import Backend, Environment, Settings


def _timed_run(settings: Settings, pipelined: bool) -> dict[str, float]:
    container = bootstrap(_bench_settings(settings))
    figures: dict[str, float] = defaultdict(float)
    try:
        container.ledger.clock = lambda: AFTER_SEASON
        ledger = container.ledger
        save = ledger.save

        def timed_save(*objs: Any, **kwargs: Any) -> Any:
            wall, cpu = time.perf_counter(), time.thread_time()
            try:
                return save(*objs, **kwargs)
            finally:
                figures["saves_wall"] += time.perf_counter() - wall
                figures["saves_cpu"] += time.thread_time() - cpu
                figures["saves"] += 1

        ledger.save = timed_save  # type: ignore[method-assign]
        finish = getattr(billing_runs._RunJob, "finish", None)
        if finish is not None:

            def timed_finish(self: Any, *arguments: Any) -> None:
                started = time.perf_counter()
                try:
                    finish(self, *arguments)
                finally:
                    figures["waited"] += time.perf_counter() - started

            billing_runs._RunJob.finish = timed_finish  # type: ignore[method-assign, assignment]
        if hasattr(container.billing_runs, "pipelined"):
            container.billing_runs.pipelined = pipelined
        elif pipelined:
            raise SystemExit("this checkout has no pipelined run")
        wall, cpu, thread_cpu = time.perf_counter(), time.process_time(), time.thread_time()
        summary = container.billing_runs.run(CLERK, RunRequest(BillKind.SETTLEMENT, SEASON))
        figures["run_wall"] = time.perf_counter() - wall
        figures["process_cpu"] = time.process_time() - cpu
        figures["run_thread_cpu"] = time.thread_time() - thread_cpu
        figures["bills"] = summary.bills_issued
        if finish is not None:
            billing_runs._RunJob.finish = finish  # type: ignore[method-assign]
    finally:
        container.close()
    return figures


def _line(label: str, figures: dict[str, float]) -> str:
    bills = figures["bills"]
    return (
        f"{label:<14} {bills:,.0f} bills: run {figures['run_wall']:.2f} s = {bills / figures['run_wall']:,.0f} bills/s"
        f" | process CPU {figures['process_cpu']:.2f} s, run thread CPU {figures['run_thread_cpu']:.2f} s"
        f" | {figures['saves']:.0f} saves: wall {figures['saves_wall']:.2f} s, CPU {figures['saves_cpu']:.2f} s"
        f" | run thread waited on the writer {figures['waited']:.2f} s"
    )


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sqlite-city", type=Path, help="a kept SQLite city (its DIR-prepaid is used)")
    parser.add_argument("--database", help="a kept PostgreSQL city (its NAME_prepaid is used)")
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument(
        "--only", choices=("pipelined", "one-at-a-time"), help="one way only (a tree without the pipeline)"
    )
    arguments = parser.parse_args(argv)
    print(f"load {os.getloadavg()[0]:.1f} at {time.strftime('%H:%M:%S')}", flush=True)
    for number in range(1, arguments.rounds + 1):
        order = (True, False) if number % 2 else (False, True)
        for pipelined in order:
            if arguments.only is not None and pipelined != (arguments.only == "pipelined"):
                continue
            label = "pipelined" if pipelined else "one at a time"
            with _copy(arguments) as settings:
                figures = _timed_run(settings, pipelined)
            print(f"round {number} {_line(label, figures)} (load {os.getloadavg()[0]:.1f})", flush=True)
    print(f"threads left: {threading.active_count()}")


class _copy:
    """A copy of the prepaid city for one run, removed afterwards."""

    def __init__(self, arguments: argparse.Namespace) -> None:
        self.arguments = arguments
        self.folder: tempfile.TemporaryDirectory[str] | None = None
        self.database: str | None = None

    def __enter__(self) -> Settings:
        if self.arguments.sqlite_city is not None:
            city: Path = self.arguments.sqlite_city
            self.folder = tempfile.TemporaryDirectory(prefix="billing-pipeline-")
            copy = Path(self.folder.name) / "city"
            shutil.copytree(city.with_name(f"{city.name}-prepaid"), copy)
            return Settings(environment=Environment.TEST, backend=Backend.SQLITE, data_dir=copy)
        self.database = f"{self.arguments.database}_pipeline"
        copy_database(f"{self.arguments.database}_prepaid", self.database)
        return postgres_settings(self.database)

    def __exit__(self, *exc: object) -> None:
        if self.folder is not None:
            self.folder.cleanup()
        if self.database is not None:
            with _admin_connection() as connection:
                connection.execute(f'DROP DATABASE IF EXISTS "{self.database}" WITH (FORCE)')


if __name__ == "__main__":
    main()
