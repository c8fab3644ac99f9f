"""Billing runs profiled in a cold process, before and after a change, on the same city.

``python -m bench.billing_profile --backend sqlite|postgres --households N [--profile]``: the first
time, ``bench.billing``'s city is built and kept (a folder under ``--keep``, or a PostgreSQL
database ``billing_profile_city_N``, named by ``--database-prefix``); every run copies it (a folder
copy, or a database made from it as a template), then runs the prepayment and the settlement in
this process with a cold aggregate cache, each followed by its catch-up timed apart, and prints per
run the bills, wall and process CPU seconds, the totals (to compare bills before and after) and the
peak RSS; with ``--profile`` the settlement runs under cProfile and its top functions are printed.
With ``--settlement-only`` the prepayment is run once on a second kept city (``…-prepaid``, its
catch-up included) and every later call copies that one and runs the settlement alone: quicker
rounds, and a process that does nothing else (for ``py-spy record -- python -m …``). With
``--as-run`` the read models catch up after every save, as the embedded default does when a user
runs ``heatledger billing run`` (the bench otherwise catches up once after the run): the catch-ups
inside the run are timed apart, wall and the calling thread's CPU (the reader thread of the next
chunk runs meanwhile and takes the GIL from them on SQLite: their wall time is not all theirs).
With ``--catch-up-only prepayment|settlement`` a city where that run was made and its read models
not caught up is kept (``…-prepayment-billed``, ``…-settlement-billed``, made once) and every call
copies it and times the catch-up alone in a fresh process: the one a billing run makes when it
ends, for before-and-after rounds and ``py-spy``. With ``--statements`` (PostgreSQL) that catch-up's
statements are timed as the process waits on them (wall, by the statement's shape: its IN lists
and literals folded; each COPY by its table) and the server's backends' CPU is sampled from
``/proc`` beside the process's: where a catch-up's server time goes, and which statement grows
with the city (compare two sizes).

To compare with another checkout of the code (a ``git worktree`` of the commit before a change),
run it with ``CODE_ROOT=/path/to/checkout``: that checkout's modules are imported first, the city
is the same. Figures only; the machine's load goes into the wall time, the CPU time is steadier.
"""

from __future__ import annotations

import os
import sys

if os.environ.get("CODE_ROOT"):
    sys.path.insert(0, os.environ["CODE_ROOT"])

import argparse
import cProfile
import pstats
import re
import resource
import shutil
import time
from collections import defaultdict
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, event

from bench.billing import AFTER_SEASON, _bench_settings, analyze, build_city, catch_up, run_billing
from bench.ingest import _admin_connection, _progress, bench_console
from bench.kept_store import copy_database, database_exists, postgres_settings
from domain.billing import BillKind
from infrastructure.container import Container, bootstrap
from infrastructure.settings import Backend, Environment, Settings


def _sqlite_settings(folder: Path) -> Settings:
    return Settings(environment=Environment.TEST, backend=Backend.SQLITE, data_dir=folder)


def _prepay(settings: Settings) -> None:
    """Run the prepayment and its catch-up on a kept city (once: the settlement-only rounds copy it)."""
    container = bootstrap(_bench_settings(settings))
    try:
        container.ledger.clock = lambda: AFTER_SEASON
        with _progress(bench_console()) as progress:
            run_billing(container, BillKind.PREPAYMENT, progress, "prepaid city")
            catch_up(container, progress, "catch-up")
        analyze(container)
    finally:
        container.close()


def _bill_without_catch_up(kind: BillKind) -> Callable[[Settings], None]:
    """Run ``kind`` on a kept city and leave its events for a catch-up to come (``--catch-up-only``)."""

    def bill(settings: Settings) -> None:
        container = bootstrap(_bench_settings(settings))
        try:
            container.ledger.clock = lambda: AFTER_SEASON
            with _progress(bench_console()) as progress:
                run_billing(container, kind, progress, f"{kind.value} billed")
        finally:
            container.close()

    return bill


# The kept stages of the city after the one it is built from: (the stage before, what makes it
# from a copy of that one). "city" is bench.billing's city as set up.
STAGES: dict[str, tuple[str, Callable[[Settings], None]]] = {
    "prepaid": ("city", _prepay),
    "prepayment-billed": ("city", _bill_without_catch_up(BillKind.PREPAYMENT)),
    "settlement-billed": ("prepaid", _bill_without_catch_up(BillKind.SETTLEMENT)),
}


def _sqlite_stage(stage: str, households: int, keep: Path) -> Path:
    """The kept folder of ``stage``, made first (and the stages before it) when missing."""
    folder = keep / (f"city-{households}" if stage == "city" else f"city-{households}-{stage}")
    if folder.exists():
        return folder
    if stage == "city":
        with _progress(bench_console()) as progress:
            print(f"set-up {build_city(_sqlite_settings(folder), households, progress, 'set-up'):.1f} s")
        return folder
    before, make = STAGES[stage]
    shutil.copytree(_sqlite_stage(before, households, keep), folder)
    make(_sqlite_settings(folder))
    return folder


def _sqlite_city(households: int, keep: Path, stage: str) -> Settings:
    work = keep / f"work-{households}"
    shutil.rmtree(work, ignore_errors=True)
    shutil.copytree(_sqlite_stage(stage, households, keep), work)
    return _sqlite_settings(work)


def _postgres_stage(stage: str, households: int, prefix: str) -> str:
    """The kept database of ``stage``, made first (and the stages before it) when missing."""
    name = f"{prefix}_{households}" if stage == "city" else f"{prefix}_{households}_{stage.replace('-', '_')}"
    if database_exists(name):
        return name
    if stage == "city":
        with _admin_connection() as connection:
            connection.execute(f'CREATE DATABASE "{name}"')
        with _progress(bench_console()) as progress:
            print(f"set-up {build_city(postgres_settings(name), households, progress, 'set-up'):.1f} s")
        return name
    before, make = STAGES[stage]
    copy_database(_postgres_stage(before, households, prefix), name)
    make(postgres_settings(name))
    return name


def _postgres_city(households: int, stage: str, prefix: str) -> Settings:
    work = f"{prefix}_{households}_work"
    copy_database(_postgres_stage(stage, households, prefix), work)
    return postgres_settings(work)


def _catch_up_only(settings: Settings, label: str, statements: bool = False) -> None:
    """Catch a billed city's read models up in this process, alone: wall, process and thread CPU;
    with ``statements``, the time waited on each kind of statement and the server's CPU."""
    container = bootstrap(_bench_settings(settings))
    timed: dict[str, list[float]] = defaultdict(lambda: [0, 0.0])
    server_seconds: float | None = None
    try:
        with _progress(bench_console()) as progress, _statements_timed(container.engine, timed, statements):
            server = _server_cpu(settings.postgres_dbname) if statements else None
            if server is not None:
                server.__enter__()
            started, cpu_started, thread_started = time.perf_counter(), time.process_time(), time.thread_time()
            events = catch_up(container, progress, "catch-up")
            wall = time.perf_counter() - started
            cpu, thread = time.process_time() - cpu_started, time.thread_time() - thread_started
            if server is not None:
                server.__exit__(None, None, None)
                server_seconds = server.seconds
    finally:
        container.close()
    server_part = "" if server_seconds is None else f", server CPU {server_seconds:.2f} s"
    print(
        f"{label} catch-up alone: {events:,} events in {wall:.2f} s wall, process CPU {cpu:.2f} s "
        f"(main thread {thread:.2f} s){server_part}, {events / cpu:,.0f} events/CPU s; "
        f"load {os.getloadavg()[0]:.1f}"
    )
    if statements:
        print(f"{'waited s':>9} {'count':>7} {'ms each':>8}  statement")
        for shape, (count, seconds) in sorted(timed.items(), key=lambda item: -item[1][1])[:30]:
            print(f"{seconds:9.3f} {count:7.0f} {1000 * seconds / count:8.2f}  {shape}")


def _server_cpu(database: str) -> Any:
    from bench.billing_as_run import ServerCpu  # samples /proc of the database's backends

    return ServerCpu(database)


def _shape(statement: str) -> str:
    """A statement with its IN lists, placeholders and literals folded, cut to a line."""
    shape = re.sub(r"\s+", " ", statement)
    shape = re.sub(r"IN \((?:__\[POSTCOMPILE_\w+\]|[^()]*)\)", "IN (…)", shape)
    shape = re.sub(r"%\(\w+\)s|\$\d+|'[^']*'|\b\d+\b", "?", shape)
    return shape[:150]


@contextmanager
def _statements_timed(engine: Engine, timed: dict[str, list[float]], enabled: bool) -> Iterator[None]:
    """Time every statement the engine runs, and every COPY of ``RowsInserter``, into ``timed``."""
    if not enabled:
        yield
        return
    from projections import bulk_insert

    def before(connection: Any, cursor: Any, statement: str, parameters: Any, context: Any, many: bool) -> None:
        connection.info.setdefault("statement_started", []).append(time.perf_counter())

    def after(connection: Any, cursor: Any, statement: str, parameters: Any, context: Any, many: bool) -> None:
        seconds = time.perf_counter() - connection.info["statement_started"].pop()
        entry = timed[("executemany " if many else "") + _shape(statement)]
        entry[0] += 1
        entry[1] += seconds

    plain_copy = bulk_insert._copy

    def copy(connection: Any, copy_sql: str, *arguments: Any) -> None:
        started = time.perf_counter()
        try:
            plain_copy(connection, copy_sql, *arguments)
        finally:
            entry = timed[copy_sql.split(" (", 1)[0]]
            entry[0] += 1
            entry[1] += time.perf_counter() - started

    event.listen(engine, "before_cursor_execute", before)
    event.listen(engine, "after_cursor_execute", after)
    bulk_insert._copy = copy  # type: ignore[assignment]  # insert() looks it up at each call
    try:
        yield
    finally:
        bulk_insert._copy = plain_copy
        event.remove(engine, "before_cursor_execute", before)
        event.remove(engine, "after_cursor_execute", after)


def _time_catch_ups(container: Container, profiler: cProfile.Profile | None) -> list[float]:
    """[count, wall seconds, calling thread's CPU seconds] of the runner's catch-ups from now on
    (the after-save hook calls ``runner.catch_up`` by name: the instance's attribute wraps it);
    ``profiler`` profiles them (cProfile sees only the thread that enables it: the catch-ups alone)."""
    totals = [0.0, 0.0, 0.0]
    plain = container.runner.catch_up

    def timed(*arguments: Any, **keywords: Any) -> int:
        started, thread_started = time.perf_counter(), time.thread_time()
        if profiler is not None:
            profiler.enable()
        try:
            return plain(*arguments, **keywords)
        finally:
            if profiler is not None:
                profiler.disable()
            totals[0] += 1
            totals[1] += time.perf_counter() - started
            totals[2] += time.thread_time() - thread_started

    container.runner.catch_up = timed  # type: ignore[method-assign]
    return totals


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--backend", choices=("sqlite", "postgres"), default="sqlite")
    parser.add_argument("--households", type=int, default=10_000)
    parser.add_argument("--keep", type=Path, default=Path("/tmp/heatledger-billing-profile"))
    parser.add_argument(
        "--database-prefix", default="billing_profile_city", help="PostgreSQL: the kept cities' database names"
    )
    parser.add_argument("--profile", action="store_true", help="profile the settlement")
    parser.add_argument("--settlement-only", action="store_true", help="copy the prepaid city, run the settlement")
    parser.add_argument("--as-run", action="store_true", help="catch up after every save, as a user's run does")
    parser.add_argument("--profile-catch-ups", action="store_true", help="profile the catch-ups alone")
    parser.add_argument(
        "--catch-up-only",
        choices=("prepayment", "settlement"),
        help="copy a city billed and not caught up (kept), and time its catch-up alone in this process",
    )
    parser.add_argument(
        "--statements",
        action="store_true",
        help="with --catch-up-only on PostgreSQL: time the catch-up's statements and the server's CPU",
    )
    arguments = parser.parse_args(argv)
    prepaid = arguments.settlement_only
    stage = f"{arguments.catch_up_only}-billed" if arguments.catch_up_only else "prepaid" if prepaid else "city"
    if Backend(arguments.backend) is Backend.SQLITE:
        settings = _sqlite_city(arguments.households, arguments.keep, stage)
    else:
        settings = _postgres_city(arguments.households, stage, arguments.database_prefix)
    if arguments.catch_up_only:
        statements = arguments.statements and Backend(arguments.backend) is Backend.POSTGRES
        _catch_up_only(settings, f"{arguments.backend} {arguments.catch_up_only}", statements)
        return
    kinds = (BillKind.SETTLEMENT,) if prepaid else (BillKind.PREPAYMENT, BillKind.SETTLEMENT)
    for kind in kinds:
        container = bootstrap(settings if arguments.as_run else _bench_settings(settings))
        catch_up_profiler = cProfile.Profile() if arguments.profile_catch_ups else None
        during_run = _time_catch_ups(container, catch_up_profiler)
        try:
            container.ledger.clock = lambda: AFTER_SEASON
            profiler = cProfile.Profile() if arguments.profile and kind is BillKind.SETTLEMENT else None
            with _progress(bench_console()) as progress:
                cpu_started, thread_started = time.process_time(), time.thread_time()
                if profiler is not None:
                    profiler.enable()
                seconds, summary = run_billing(container, kind, progress, kind.value)
                if profiler is not None:
                    profiler.disable()
                cpu_seconds = time.process_time() - cpu_started
                # The main thread's own CPU: the run's computing and saving, without the next
                # chunk's reads made meanwhile in the reader thread (on SQLite they are in-process).
                thread_seconds = time.thread_time() - thread_started
                catch_ups_in_run = during_run.copy()
                started = time.perf_counter()
                events = catch_up(container, progress, "catch-up")
                catch_up_seconds = time.perf_counter() - started
        finally:
            container.close()
        bills = summary.bills_issued
        rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        print(
            f"{arguments.backend} {kind.value}: {bills:,} bills in {seconds:.2f} s = {bills / seconds:,.0f} bills/s; "
            f"process CPU {cpu_seconds:.1f} s = {bills / cpu_seconds:,.0f} bills/CPU s "
            f"(main thread {thread_seconds:.1f} s); "
            f"charged {summary.charged_yuan}, credited {summary.credited_yuan}, "
            f"exceptions {len(summary.exceptions)}; catch-up {events:,} events in {catch_up_seconds:.1f} s; "
            f"peak RSS {rss_mb:,.0f} MB"
        )
        if arguments.as_run:
            print(
                f"  catch-ups after each save, inside the run: {catch_ups_in_run[0]:.0f} of them, "
                f"{catch_ups_in_run[1]:.1f} s wall, {catch_ups_in_run[2]:.1f} s CPU of their thread"
            )
        if catch_up_profiler is not None:
            print("catch-ups:")
            pstats.Stats(catch_up_profiler).sort_stats("cumulative").print_stats(45)
        if profiler is not None:
            statistics = pstats.Stats(profiler)
            statistics.sort_stats("cumulative").print_stats(40)
            statistics.sort_stats("tottime").print_stats(25)


if __name__ == "__main__":
    main()
