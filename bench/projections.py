"""Projection benchmark: the ledger projection's rebuild and catch-up over a season's mix of events,
in events/s, beside a raw SQL insert of the same rows (issue 17).

Run ``python -m bench.projections`` with ``--households`` (1,000 by default), ``--days`` (daily
readings, 152 by default: the season's first midnight to its closing one) and
``--backend sqlite|postgres|both``. For each backend:

set-up (not timed, in this process, no catch-up after each save): the households of
``bench.billing`` (3 % suspended, 2 % passing to a new holder), one household meter each, a reading
a day per meter (one batch a day), the city's season and tariff, the prepayment run, counter
payments from 70 % of the households, then the settlement run: the mix a season leaves in the store
(mostly readings; bills, payments and the households' own events beside them). The projection is
caught up after each phase, as a worker would (the billing runs read the read models).

Timed, in this order, each on the same store:

1. as a user runs it: ``heatledger projections rebuild --processes 1`` in a FRESH process
   (``bench.billing_cli_process`` runs the CLI's own app with timers): interpreter start, imports,
   opening the store, verifying the hash chain (the command does so before rebuilding), then the
   rebuild; events/s of the whole command, its parts under it, and the child's CPU seconds (user +
   system) beside its wall time. (Without ``--processes`` the command splits a PostgreSQL store of
   200,000 events or more over the machine's cores: step 3b's figure.)
2. catch-up in a FRESH process: the read models emptied and the tracking reset by this process
   (not timed), then a new interpreter opens the store and calls ``ProjectionRunner.catch_up``
   (a worker starting with a projection behind by the whole season: a new read-model database, the
   first start after a migration that emptied the read models). From nothing, with 100,000 events
   or more to apply, it takes a rebuild's path on PostgreSQL (``CATCH_UP_AS_REBUILD_FROM_EVENTS``);
2b. ``heatledger projections catch-up`` in a FRESH process, the read models emptied as in step 2:
   the command a user (or a worker, at its start) runs; on a PostgreSQL store of 200,000 events or
   more, with nothing applied, it splits the catch-up by building over the machine's cores;
3. beside them, kinder: ``ProjectionRunner.rebuild`` in this warm process (modules imported, the
   store open, the database's pages cached), labelled so;
3b. the rebuild split by building (``--processes``, 2 by default; infrastructure/parallel_rebuild.py):
   ``heatledger projections rebuild --processes N`` in a fresh process (after step 1), and
   ``rebuild_split`` forked from this warm process (after step 3); their CPU seconds include the
   forked processes';
4. the baseline: every row the rebuild wrote (read back from the read models), inserted again into
   the emptied tables by the driver alone: ``executemany`` of one INSERT per table on SQLite,
   ``COPY … FROM STDIN`` on PostgreSQL, one transaction. The ratio raw seconds / rebuild seconds is
   the share of the rebuild the rows' writing alone needs.

The machine may be shared: each timed step prints its CPU seconds beside its wall seconds (the
process's own and its children's); on PostgreSQL the server processes connected to the store are
sampled while a step runs (``bench.billing_as_run.ServerCpu``) and their CPU seconds printed beside.
PostgreSQL is used when it answers at 127.0.0.1:5432 (trust auth, user postgres), as in
``bench.ingest``. Figures only: nothing is asserted.

Larger stores (``--households 3000``: about 480,000 events) take minutes to set up. With ``--keep
DIR`` the built season is kept (SQLite in ``DIR/season-N-D``, PostgreSQL in the database
``--keep-database`` names, else ``rebuild_season_N_D``, built without the WAL flush as
``bench.kept_store`` does) and reused by later runs with the same ``--keep``: each run times its
steps on a copy of it (``bench.billing.copied_store``). ``--only`` times some steps alone (e.g.
``--only as-run,split-as-run``). With ``CODE_ROOT=/path/to/checkout`` the fresh processes import that
checkout's modules first (a before-and-after pair on the same store: ``git archive HEAD | tar -x -C
DIR``).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager, nullcontext
from dataclasses import dataclass, replace
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path

from rich.console import Console
from rich.progress import Progress
from rich.table import Table
from sqlalchemy import Engine, delete

from application.authorization import SYSTEM
from application.billing_runs import RunRequest
from application.ingestion import ReadingItem
from bench.billing import (
    AFTER_SEASON,
    CLERK,
    DEVICE,
    MONTH_FACTORS,
    OWNER_CHANGED_ON,
    SEASON,
    SEASON_DECREE,
    TERMS,
    _midnight,
    account_of,
    area_of,
    changes_owner,
    cli_environment,
    copied_store,
    is_suspended,
    register_by_commands,
    serial_of,
)
from bench.billing_as_run import ServerCpu
from bench.ingest import _progress, backends_to_measure, bench_console, store_settings
from bench.kept_store import ensure_kept_city
from domain.billing import BillKind
from domain.payment import PaymentChannel
from domain.readings import ReadingValues
from domain.tariff import CITY_SCOPE
from domain.values import CustomerClass, ReadingSource
from infrastructure.container import Container, bootstrap
from infrastructure.parallel_rebuild import StoreOpener, rebuild_split
from infrastructure.settings import Backend, Environment, Settings
from projections.ledger_projection import LedgerProjection
from projections.runner import empty_tables
from projections.tables import projection_tracking

FIRST_DAY = SEASON.first_day
PAYMENT_YUAN = Decimal("1200.00")
RESULT_PREFIX = "CATCH-UP RESULT "
STEPS = ("as-run", "split-as-run", "catch-up", "catch-up-as-run", "warm", "split-warm", "raw")


def pays(number: int) -> bool:
    return number % 10 < 7  # 70 %


# -- the season -------------------------------------------------------------------------------


def daily_batches(households: int, days: int) -> list[list[ReadingItem]]:
    """One batch a day: each meter's register at the day's midnight (nothing drawn while suspended)."""
    registers = [Decimal(100 + number % 500) for number in range(households)]
    batches = []
    for day_index in range(days):
        day = FIRST_DAY + timedelta(days=day_index)
        if day_index > 0:
            factor = MONTH_FACTORS[min((day - FIRST_DAY).days // 30, len(MONTH_FACTORS) - 1)]
            for number in range(households):
                if not is_suspended(number):
                    per_m2_day = Decimal("0.0018") + Decimal(number % 13) / 10_000
                    registers[number] += (area_of(number) * per_m2_day * factor).quantize(Decimal("0.001"))
        measured_at = _midnight(day)
        batches.append(
            [
                ReadingItem(
                    serial_of(number), ReadingValues(measured_at, registers[number], source=ReadingSource.NBIOT)
                )
                for number in range(households)
            ]
        )
    return batches


def set_up(container: Container, households: int, days: int, progress: Progress, label: str) -> None:
    """The season's events through the application, the projection caught up after each phase."""
    ledger = container.ledger
    task = progress.add_task(f"{label}: households, meters", total=households)
    for number in range(households):
        register_by_commands(ledger, number)
        progress.advance(task)
    task = progress.add_task(f"{label}: daily readings", total=days)
    for batch in daily_batches(households, days):
        report = ledger.record_readings(DEVICE, batch, "benchmark")
        if report.accepted != len(batch):
            reasons = Counter(outcome.reason for outcome in report.outcomes if outcome.reason)
            raise RuntimeError(f"the benchmark's readings were not all accepted: {dict(reasons)}")
        progress.advance(task)
    for number in range(households):
        if changes_owner(number):
            ledger.change_owner(SYSTEM, account_of(number), OWNER_CHANGED_ON, "过户 with the sale of the flat")
    container.seasons.declare(
        SYSTEM, CITY_SCOPE, SEASON.code, SEASON.first_day, SEASON.last_day, SEASON_DECREE, "the city's season"
    )
    container.billing.publish_tariff(
        SYSTEM,
        CustomerClass.RESIDENTIAL,
        "*",
        TERMS,
        date(2025, 10, 1),
        None,
        "许发改价格〔2025〕7号",
        date(2025, 9, 20),
    )
    _catch_up(container, progress, f"{label}: catch-up of the readings")
    container.billing_runs.run(CLERK, RunRequest(BillKind.PREPAYMENT, SEASON))
    _catch_up(container, progress, f"{label}: catch-up of the prepayment")
    task = progress.add_task(f"{label}: payments", total=households)
    for number in range(households):
        if pays(number):
            container.payments.receive_at_counter(
                CLERK, account_of(number), PAYMENT_YUAN, PaymentChannel.CASH, f"BENCH-R-{number:07d}"
            )
        progress.advance(task)
    container.billing_runs.run(CLERK, RunRequest(BillKind.SETTLEMENT, SEASON))
    _catch_up(container, progress, f"{label}: catch-up of the payments and the settlement")


def _catch_up(container: Container, progress: Progress, description: str) -> int:
    task = progress.add_task(description, total=None)
    return container.runner.catch_up(
        progress=lambda position, target: progress.update(task, completed=position, total=target)
    )


def build_season(settings: Settings, households: int, days: int, progress: Progress, label: str) -> float:
    """The season set up on the store of ``settings``; its wall seconds."""
    started = time.perf_counter()
    container = bootstrap(settings.model_copy(update={"catch_up_after_command": False}))
    try:
        container.ledger.clock = lambda: AFTER_SEASON
        set_up(container, households, days, progress, label)
    finally:
        container.close()
    return time.perf_counter() - started


@dataclass(frozen=True)
class Keep:
    """Where a built season is kept between runs (``--keep``): SQLite in ``folder``/season-N-D,
    PostgreSQL in the database ``database`` (or ``rebuild_season_N_D``)."""

    folder: Path
    database: str | None = None

    def sqlite_season(self, households: int, days: int) -> Path:
        return self.folder / f"season-{households}-{days}"

    def postgres_season(self, households: int, days: int) -> str:
        return self.database or f"rebuild_season_{households}_{days}"


@contextmanager
def season_store(
    backend: Backend, households: int, days: int, scratch: Path, progress: Progress, keep: Keep | None
) -> Iterator[Settings]:
    """A store holding the season, for the timed steps to change: built in ``scratch``, or a copy
    of the kept season (built first when it is missing or was left half-built)."""
    label = backend.value
    if keep is None:
        with store_settings(backend, scratch, "season") as store:
            build_season(store, households, days, progress, label)
            yield store
        return
    if backend is Backend.SQLITE:
        kept = Settings(environment=Environment.TEST, backend=backend, data_dir=keep.sqlite_season(households, days))
        ready = kept.data_dir.with_name(kept.data_dir.name + ".ready")
        if not ready.exists():
            shutil.rmtree(kept.data_dir, ignore_errors=True)
            build_season(kept, households, days, progress, label)
            ready.touch()
    else:
        kept, _ = ensure_kept_city(
            keep.postgres_season(households, days),
            lambda settings: build_season(settings, households, days, progress, label),
        )
    with copied_store(kept, scratch, "run") as store:
        yield store


# -- the timed steps --------------------------------------------------------------------------


@dataclass(frozen=True)
class Timed:
    """One timed step: what it processed, its wall and CPU seconds, and its parts."""

    path: str
    events: int
    wall_seconds: float
    cpu_seconds: float
    parts: tuple[tuple[str, float], ...] = ()
    server_cpu_seconds: float | None = None  # PostgreSQL's processes on the store, when sampled

    @property
    def rate(self) -> float:
        return self.events / self.wall_seconds

    @property
    def cpu_rate(self) -> float:
        return self.events / self.cpu_seconds


def _children_cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def server_cpu(settings: Settings) -> AbstractContextManager[ServerCpu | None]:
    """The PostgreSQL server processes on the store sampled while the block runs (None on SQLite)."""
    if settings.backend is Backend.POSTGRES:
        return ServerCpu(settings.postgres_dbname)
    return nullcontext()


def _spawn(command: list[str], settings: Settings, scratch: Path, name: str) -> tuple[float, float, float | None]:
    """Run ``command`` in a new interpreter on the store of ``settings`` (``CODE_ROOT``'s modules
    first when it is set): its wall and CPU seconds, and the PostgreSQL server's CPU seconds."""
    log_path = scratch / f"{name}.log"
    environment = cli_environment(settings)
    if os.environ.get("CODE_ROOT"):
        environment["PYTHONPATH"] = os.environ["CODE_ROOT"] + os.pathsep + environment["PYTHONPATH"]
    with log_path.open("w", encoding="utf-8") as log, server_cpu(settings) as server:
        cpu_before, started = _children_cpu_seconds(), time.perf_counter()
        finished = subprocess.run(command, env=environment, cwd=scratch, stdout=log, stderr=log)
        wall, cpu = time.perf_counter() - started, _children_cpu_seconds() - cpu_before
    if finished.returncode != 0:
        raise RuntimeError(f"{name} failed ({finished.returncode}):\n{log_path.read_text(encoding='utf-8')[-3000:]}")
    return wall, cpu, None if server is None else server.seconds


def rebuild_as_run(settings: Settings, events: int, scratch: Path) -> Timed:
    """``heatledger projections rebuild --processes 1`` in a fresh process, with its parts (one
    process: since issue 17's eighth pass the command splits a large PostgreSQL store by default)."""
    result_path = scratch / "rebuild.json"
    command = [sys.executable, "-m", "bench.billing_cli_process", str(result_path), "projections", "rebuild"]
    command += ["--processes", "1"]
    spawned_at = time.time()
    wall, cpu, server = _spawn(command, settings, scratch, "rebuild")
    figures = json.loads(result_path.read_text(encoding="utf-8"))
    startup = figures["store_opened_at"] - spawned_at
    # The tables emptied, every event applied, the summaries written (a checkout from before the
    # rebuild was timed, CODE_ROOT: its catch-up from zero, the tables emptied apart).
    rebuild = figures.get("rebuild_seconds") or figures["catch_up_seconds"]
    parts = (
        ("start-up: interpreter, imports, store opened", startup),
        ("hash chain verified, the rest", wall - startup - rebuild),
        ("the rebuild proper: tables emptied, events applied, summaries", rebuild),
    )
    return Timed("`heatledger projections rebuild --processes 1`, fresh process", events, wall, cpu, parts, server)


def split_rebuild_as_run(settings: Settings, events: int, scratch: Path, processes: int) -> Timed:
    """``heatledger projections rebuild --processes N`` in a fresh process (its CPU seconds
    include the processes it forks), with its start-up apart."""
    arguments = ("projections", "rebuild", "--processes", str(processes))
    path = f"`heatledger projections rebuild --processes {processes}`, fresh process"
    return _command_as_run(settings, events, scratch, arguments, path, "hash chain verified, then the split rebuild")


def _command_as_run(
    settings: Settings, events: int, scratch: Path, arguments: tuple[str, ...], path: str, after_start_up: str
) -> Timed:
    """``heatledger ARGUMENTS`` in a fresh process (``bench.billing_cli_process``), timed with its
    start-up apart from the rest (``after_start_up``); CPU seconds include the processes it forks."""
    name = "-".join(argument.strip("-") for argument in arguments[:2])
    result_path = scratch / f"{name}.json"
    command = [sys.executable, "-m", "bench.billing_cli_process", str(result_path), *arguments]
    spawned_at = time.time()
    wall, cpu, server = _spawn(command, settings, scratch, name)
    figures = json.loads(result_path.read_text(encoding="utf-8"))
    startup = figures["store_opened_at"] - spawned_at
    parts = (("start-up: interpreter, imports, store opened", startup), (after_start_up, wall - startup))
    return Timed(path, events, wall, cpu, parts, server)


def catch_up_as_run(settings: Settings, events: int, scratch: Path) -> Timed:
    """Empty the read models here, then ``ProjectionRunner.catch_up`` in a fresh process."""
    forget_applied(settings)
    command = [sys.executable, "-m", "bench.projections", "--child-catch-up"]
    wall, cpu, server = _spawn(command, settings, scratch, "catch-up")
    log = (scratch / "catch-up.log").read_text(encoding="utf-8")
    result = json.loads(log.split(RESULT_PREFIX, 1)[1].splitlines()[0])
    assert result["applied"] == events, f"the catch-up applied {result['applied']} of {events} events"
    parts = (("catch_up() alone, in the child", result["seconds"]),)
    return Timed("ProjectionRunner.catch_up from zero, fresh process", events, wall, cpu, parts, server)


def catch_up_command_as_run(settings: Settings, events: int, scratch: Path) -> Timed:
    """Empty the read models here, then ``heatledger projections catch-up`` in a fresh process:
    with nothing applied on a PostgreSQL store of 200,000 events or more it splits the catch-up
    over the machine's cores (``default_processes``), as a worker does at its start."""
    forget_applied(settings)
    path = "`heatledger projections catch-up` from nothing, fresh process"
    arguments = ("projections", "catch-up")
    return _command_as_run(
        settings, events, scratch, arguments, path, "the catch-up from nothing, its processes included"
    )


def child_catch_up() -> None:
    """In the fresh process: open the store the environment names and catch the projection up."""
    container = bootstrap(Settings())
    try:
        started = time.perf_counter()
        applied = container.runner.catch_up()
        seconds = time.perf_counter() - started
    finally:
        container.close()
    print(RESULT_PREFIX + json.dumps({"applied": applied, "seconds": seconds}))


def rebuild_warm(container: Container, events: int) -> Timed:
    cpu_before, started = time.process_time(), time.perf_counter()
    applied = container.runner.rebuild()
    wall, cpu = time.perf_counter() - started, time.process_time() - cpu_before
    assert applied == events, f"the rebuild applied {applied} of {events} events"
    return Timed("ProjectionRunner.rebuild, warm process (kinder)", events, wall, cpu)


def split_rebuild_warm(container: Container, events: int, processes: int) -> Timed:
    """``rebuild_split`` over ``processes`` forked from this warm process; CPU seconds are this
    process's and its children's (the forked processes, counted once they have ended)."""
    opener = StoreOpener(container.settings)
    cpu_before, children_before = time.process_time(), _children_cpu_seconds()
    started = time.perf_counter()
    done = rebuild_split(container.ledger, container.engine, LedgerProjection(), processes, open_store=opener)
    wall = time.perf_counter() - started
    cpu = time.process_time() - cpu_before + _children_cpu_seconds() - children_before
    assert done.applied == events, f"the split rebuild applied {done.applied} of {events} events"
    shares = ", ".join(f"{share:,}" for share in done.plan.events)
    path = f"rebuild split by building, {processes} processes forked from a warm one (events each: {shares})"
    own_cpu = cpu - sum(work.cpu_seconds for work in done.groups)
    slowest = max(work.cpu_seconds for work in done.groups)
    parts = (
        ("this process: empty, plan, city-wide, finish (CPU s)", own_cpu),
        ("each group's process (CPU s): " + ", ".join(f"{work.cpu_seconds:.2f}" for work in done.groups), slowest),
        (
            "held SQLite's write lock (wall s, all processes)" if container.engine.dialect.name == "sqlite" else "",
            sum(work.locked_seconds for work in done.groups),
        ),
        ("critical path: this process + the slowest group (CPU s)", own_cpu + slowest),
    )
    return Timed(path, events, wall, cpu, tuple(part for part in parts if part[0]))


def forget_applied(settings: Settings) -> None:
    """The read models of the store of ``settings`` emptied by this process (``empty_read_models``)."""
    container = bootstrap(settings)
    try:
        empty_read_models(container.engine)
    finally:
        container.close()


def empty_read_models(engine: Engine) -> None:
    """The read models emptied as a rebuild empties them (``empty_tables``: TRUNCATE on PostgreSQL,
    as a new read-model database starts; DELETE would leave every row dead in the tables and their
    indexes, and the catch-up's inserts would step over them: 10 s more of the server's CPU here)
    and the projection's tracking row removed: nothing applied."""
    with engine.begin() as connection:
        empty_tables(connection, LedgerProjection.tables)
        connection.execute(
            delete(projection_tracking).where(projection_tracking.c.projection_name == LedgerProjection.name)
        )


def raw_insert(engine: Engine) -> tuple[Timed, Counter[str]]:
    """Every row of the read models read back, the tables emptied, and the rows inserted again by
    the driver alone (executemany on SQLite, COPY on PostgreSQL), timed; rows per table."""
    tables = [table for table in LedgerProjection.tables]
    counts: Counter[str] = Counter()
    with engine.connect() as connection:
        raw = connection.connection.dbapi_connection
        assert raw is not None
        cursor = raw.cursor()
        contents = {}
        for table in tables:
            names = [column.name for column in table.columns]
            quoted = ", ".join(f'"{name}"' for name in names)
            cursor.execute(f'SELECT {quoted} FROM "{table.name}"')
            rows = cursor.fetchall()
            if rows:
                contents[table.name] = (names, rows)
                counts[table.name] = len(rows)
        connection.rollback()
    with engine.begin() as connection:
        for table in reversed(tables):
            connection.execute(delete(table))
    rows_total = sum(counts.values())
    with engine.begin() as connection:
        raw = connection.connection.dbapi_connection
        assert raw is not None
        cpu_before, started = time.process_time(), time.perf_counter()
        cursor = raw.cursor()
        for table_name, (names, rows) in contents.items():
            quoted = ", ".join(f'"{name}"' for name in names)
            if engine.dialect.name == "postgresql":
                with cursor.copy(f'COPY "{table_name}" ({quoted}) FROM STDIN') as copy:
                    for row in rows:
                        copy.write_row(row)
            else:
                marks = ", ".join("?" for _ in names)
                cursor.executemany(f'INSERT INTO "{table_name}" ({quoted}) VALUES ({marks})', rows)
    wall, cpu = time.perf_counter() - started, time.process_time() - cpu_before  # commit included
    kind = "COPY" if engine.dialect.name == "postgresql" else "executemany"
    return Timed(f"raw SQL: the same rows by {kind} (baseline)", rows_total, wall, cpu), counts


# -- running and reporting --------------------------------------------------------------------


@dataclass(frozen=True)
class Figures:
    backend: Backend
    events: int
    rows: Counter[str]
    steps: tuple[Timed, ...]
    raw: Timed | None

    def ratio(self, step: Timed) -> str:
        """Raw insert seconds / the step's seconds: the share the rows' writing alone needs."""
        return "" if self.raw is None else f"{self.raw.wall_seconds / step.wall_seconds:.2f}"


def _warm(step: Callable[[], Timed], settings: Settings) -> Timed:
    """A step in this process, with the PostgreSQL server's CPU sampled beside it."""
    with server_cpu(settings) as server:
        timed = step()
    return timed if server is None else replace(timed, server_cpu_seconds=server.seconds)


def measure(
    backend: Backend,
    households: int,
    days: int,
    processes: int,
    console: Console,
    keep: Keep | None = None,
    only: frozenset[str] = frozenset(STEPS),
) -> Figures:
    label = backend.value
    steps: list[Timed] = []
    raw: Timed | None = None
    rows: Counter[str] = Counter()
    with tempfile.TemporaryDirectory(prefix="heatledger-bench-") as folder, _progress(console) as progress:
        scratch = Path(folder)
        with season_store(backend, households, days, scratch, progress, keep) as store:
            task = progress.add_task(f"{label}: timed rebuilds and catch-up", total=len(only))
            container = bootstrap(store.model_copy(update={"catch_up_after_command": False}))
            events = int(container.ledger.recorder.max_notification_id() or 0)
            container.close()
            spawned: dict[str, Callable[[], Timed]] = {
                "as-run": lambda: rebuild_as_run(store, events, scratch),
                "split-as-run": lambda: split_rebuild_as_run(store, events, scratch, processes),
                "catch-up": lambda: catch_up_as_run(store, events, scratch),
                "catch-up-as-run": lambda: catch_up_command_as_run(store, events, scratch),
            }
            for name, step in spawned.items():
                if name in only:
                    steps.append(step())
                    progress.advance(task)
            container = bootstrap(store.model_copy(update={"catch_up_after_command": False}))
            try:
                if "warm" in only:
                    steps.append(_warm(lambda: rebuild_warm(container, events), store))
                    progress.advance(task)
                if "split-warm" in only:
                    steps.append(_warm(lambda: split_rebuild_warm(container, events, processes), store))
                    progress.advance(task)
                if "raw" in only:
                    raw, rows = raw_insert(container.engine)
                    progress.advance(task)
            finally:
                container.close()
    return Figures(backend, events, rows, tuple(steps), raw)


def report(console: Console, figures: Figures, households: int, days: int) -> None:
    name = figures.backend.value
    rows = sum(figures.rows.values())
    table = Table(
        title=f"{name}: {households:,} households, {days} daily readings each: {figures.events:,} events, {rows:,} rows"
    )
    columns = ("path", "events", "wall s", "events/s", "CPU s", "events/CPU s", "server CPU s", "raw / this")
    for column in columns:
        table.add_column(column, justify="left" if column == "path" else "right")
    for step in figures.steps:
        table.add_row(
            step.path,
            f"{step.events:,}",
            f"{step.wall_seconds:.2f}",
            f"{step.rate:,.0f}",
            f"{step.cpu_seconds:.2f}",
            f"{step.cpu_rate:,.0f}",
            "" if step.server_cpu_seconds is None else f"{step.server_cpu_seconds:.2f}",
            figures.ratio(step),
        )
        for part, seconds in step.parts:
            rated = any(word in part for word in ("catch", "critical", "rebuild proper"))
            rate = f"{step.events / seconds:,.0f}" if rated else ""
            table.add_row(f"  {part}", "", f"{seconds:.2f}", rate)
    raw = figures.raw
    if raw is not None:
        table.add_row(
            raw.path,
            f"{raw.events:,} rows",
            f"{raw.wall_seconds:.2f}",
            f"{raw.rate:,.0f} rows/s",
            f"{raw.cpu_seconds:.2f}",
            "",
            "",
            "1.00",
        )
    console.print(table)
    if figures.rows:
        console.print(
            f"{name}: rows per table: " + ", ".join(f"{table} {count:,}" for table, count in figures.rows.most_common())
        )
    for step in figures.steps:
        if "split" in step.path or "catch-up" in step.path:
            verdict = "meets" if step.rate >= 20_000 else "is below"
            console.print(
                f"{name}: {step.path.split(' (')[0]}: {step.rate:,.0f} events/s ({verdict} the 20,000 target)"
            )
    first = figures.steps[0] if figures.steps else None
    if first is not None and first.path.startswith("`heatledger projections rebuild --processes 1`"):
        verdict = "meets" if first.rate >= 20_000 else "is below"
        console.print(
            f"{name}: `heatledger projections rebuild --processes 1` as run: {first.rate:,.0f} events/s ({verdict} "
            f"the 20,000 target), the rebuild proper {first.events / first.parts[-1][1]:,.0f} events/s; "
            f"raw SQL of the same rows / rebuild as run = {figures.ratio(first) or 'not measured'}"
        )


def parse_arguments(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--households", type=int, default=1_000, help="households, one meter each")
    parser.add_argument("--days", type=int, default=152, help="daily readings per meter, from the season's first day")
    parser.add_argument("--backend", choices=("sqlite", "postgres", "both"), default="both")
    parser.add_argument("--processes", type=int, default=2, help="processes of the rebuild split by building")
    parser.add_argument(
        "--keep",
        type=Path,
        metavar="DIR",
        help="keep the built season and reuse it on later runs (SQLite in DIR/season-N-D, PostgreSQL in a database)",
    )
    parser.add_argument("--keep-database", metavar="NAME", help="with --keep: the PostgreSQL database it is kept in")
    parser.add_argument(
        "--only", default=",".join(STEPS), help="the steps to time, comma-separated, of: " + ", ".join(STEPS)
    )
    parser.add_argument("--child-catch-up", action="store_true", help=argparse.SUPPRESS)
    arguments = parser.parse_args(argv)
    if not 10 <= arguments.households <= 10_000 or not 2 <= arguments.days <= 152:
        parser.error("--households must lie in 10…10,000 and --days in 2…152")
    if not 1 <= arguments.processes <= 16:
        parser.error("--processes must lie in 1…16")
    if arguments.keep_database and not arguments.keep:
        parser.error("--keep-database needs --keep")
    arguments.only = frozenset(step.strip() for step in arguments.only.split(",") if step.strip())
    if not arguments.only or not arguments.only <= set(STEPS):
        parser.error("--only takes steps of: " + ", ".join(STEPS))
    return arguments


def main(argv: list[str] | None = None) -> None:
    arguments = parse_arguments(argv)
    if arguments.child_catch_up:
        child_catch_up()
        return
    console = bench_console()
    keep = Keep(arguments.keep, arguments.keep_database) if arguments.keep else None
    for backend in backends_to_measure(arguments.backend, console):
        figures = measure(
            backend, arguments.households, arguments.days, arguments.processes, console, keep, arguments.only
        )
        report(console, figures, arguments.households, arguments.days)


if __name__ == "__main__":
    main()
