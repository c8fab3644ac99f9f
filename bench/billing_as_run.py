"""The PostgreSQL settlement as a user runs it, round after round on the same prepaid city, with the
database server's CPU beside the process's.

``python -m bench.billing_as_run --database NAME [--rounds N] [--py-spy OUT] [--kind settlement]``:
``NAME`` is a city ``bench.billing --keep … --keep-database NAME`` kept. The first call makes
``NAME_prepaid`` from it (the prepayment run as a user runs it, in a fresh process, its catch-up
included), once, then analyses it (``ANALYZE``: the statistics autovacuum gives a server in
service between the two runs; the development server runs without autovacuum); every round
copies that database (as a template) and runs ``heatledger billing run
settlement`` in a fresh process through ``bench.billing_cli_process``, as ``bench.billing`` does,
optionally under ``py-spy record`` (``--py-spy OUT``: a speedscope file per round). While it runs,
the server processes connected to the copy are sampled every 50 ms (``/proc/<pid>/stat``): their
CPU seconds are the server's share, which the process's own figures leave out. ``--kind
prepayment`` times the prepayment on copies of the city instead.

With ``CODE_ROOT=/path/to/checkout`` the fresh process imports that checkout's modules first (a
before-and-after pair on the same city: ``git archive HEAD | tar -x -C DIR``). Figures only.
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
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psycopg

from bench.billing import SEASON, cli_environment
from bench.ingest import POSTGRES_HOST, POSTGRES_PORT, POSTGRES_USER, _admin_connection
from bench.kept_store import copy_database, database_exists, postgres_settings
from infrastructure.settings import Backend, Environment, Settings

CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
SAMPLE_SECONDS = 0.05


def _drop(name: str) -> None:
    with _admin_connection() as connection:
        connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _cpu_seconds(pid: int) -> float | None:
    """utime + stime of ``pid`` (None once it has gone)."""
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii") as stat:
            fields = stat.read().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS


class ServerCpu:
    """Samples the CPU of the server processes connected to ``database`` until stopped: the last
    sample of each process is its total (a backend that exits between samples loses < 50 ms)."""

    def __init__(self, database: str) -> None:
        self.database = database
        self.latest: dict[int, float] = {}
        self.started: dict[int, float] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)

    def __enter__(self) -> ServerCpu:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()

    def _sample(self) -> None:
        with _admin_connection() as connection:
            while not self._stop.is_set():
                rows = connection.execute(
                    "SELECT pid FROM pg_stat_activity WHERE datname = %s", (self.database,)
                ).fetchall()
                for (pid,) in rows:
                    seconds = _cpu_seconds(pid)
                    if seconds is not None:
                        self.started.setdefault(pid, seconds)
                        self.latest[pid] = seconds
                self._stop.wait(SAMPLE_SECONDS)

    @property
    def seconds(self) -> float:
        # A backend seen for the first time mid-run had already worked since it connected (a
        # pooled connection opened at start-up): counted from its first sample, a small undercount.
        return sum(self.latest[pid] - self.started[pid] for pid in self.latest)


@dataclass(frozen=True)
class Round:
    wall_seconds: float
    process_cpu_seconds: float
    server_cpu_seconds: float
    figures: dict[str, Any]

    def line(self) -> str:
        f = self.figures
        bills = f["summary"]["bills_issued"]
        start_up = f["store_opened_at"] - f["entered_at"]
        run = f["run_seconds"] - f["catch_up_during_run_seconds"]
        return (
            f"{bills} bills in {self.wall_seconds:.2f} s = {bills / self.wall_seconds:,.0f} bills/s | "
            f"run {run:.2f} s (CPU {f['run_cpu_seconds']:.2f}) catch-up {f['catch_up_seconds']:.2f} "
            f"notices {f['notices_seconds']:.2f} start-up(after entry) {start_up:.2f} | "
            f"process CPU {self.process_cpu_seconds:.2f} s{self._children()}, "
            f"server CPU {self.server_cpu_seconds:.2f} s | "
            f"charged {f['summary']['charged_yuan']} credited {f['summary']['credited_yuan']} "
            f"peak {f['peak_rss_mb']:.0f} MB{self._children_peak()}"
        )

    def _children_peak(self) -> str:
        """A split run's largest run process's peak memory beside the parent's (0: none forked)."""
        peak = self.figures.get("children_peak_rss_mb") or 0.0
        return f" (run processes: {peak:.0f} MB at most)" if peak and self.figures.get("children_cpu_seconds") else ""

    def _children(self) -> str:
        """A split run's (--processes N) CPU: the billing processes' beside the parent's own."""
        children = self.figures.get("children_cpu_seconds")
        if not children:
            return ""
        return f" (parent {self.process_cpu_seconds - children:.2f} + run processes {children:.2f})"


def run_round(database: str | Path, kind: str, scratch: Path, py_spy: str | None, processes: int = 1) -> Round:
    """``heatledger billing run KIND`` in a fresh process on ``database`` (a PostgreSQL database,
    or a SQLite store's folder), with the PostgreSQL server's CPU; ``processes`` > 1 splits the run
    (``--processes``): "process CPU" then counts its processes too (waited for by the command)."""
    result = scratch / f"{kind}.json"
    result.unlink(missing_ok=True)
    command = [sys.executable, "-m", "bench.billing_cli_process", str(result), "billing", "run", kind]
    command += ["--season", SEASON.code]
    if processes > 1:
        command += ["--processes", str(processes)]
    if py_spy:
        spy = [str(Path(sys.executable).with_name("py-spy")), "record", "-o", py_spy, "--format", "speedscope"]
        command = [*spy, "-r", "100", "--threads", "--idle", "--", *command]
    if isinstance(database, Path):
        settings = Settings(environment=Environment.TEST, backend=Backend.SQLITE, data_dir=database)
    else:
        settings = postgres_settings(database)
    environment = cli_environment(settings)
    if os.environ.get("CODE_ROOT"):
        environment["PYTHONPATH"] = os.environ["CODE_ROOT"]
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    with ServerCpu(str(database)) as server, (scratch / f"{kind}.log").open("w") as log:
        started = time.perf_counter()
        finished = subprocess.run(command, env=environment, cwd=scratch, stdout=log, stderr=log)
        wall = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if not result.exists():
        raise RuntimeError(f"failed ({finished.returncode}): {(scratch / f'{kind}.log').read_text()[-3000:]}")
    process_cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return Round(wall, process_cpu, server.seconds, json.loads(result.read_text()))


def _analyze(database: str) -> None:
    """Planner statistics for the prepaid city, as autovacuum gives a server in service between the
    prepayment and the settlement (months apart). The development server runs with autovacuum
    off: at 100,000 households the settlement's catch-up took 72 s on the prepayment's stale
    statistics and 52 s with them, its notices 24 s and 6 s. A template copy keeps them."""
    with psycopg.connect(host=POSTGRES_HOST, port=POSTGRES_PORT, user=POSTGRES_USER, dbname=database) as connection:
        connection.execute("ANALYZE")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--database", help="the kept city (bench.billing --keep-database)")
    parser.add_argument(
        "--sqlite-city", type=Path, help="a kept SQLite city instead (bench.billing --keep DIR: DIR/city-N)"
    )
    parser.add_argument("--rounds", type=int, default=1)
    parser.add_argument("--kind", choices=("settlement", "prepayment"), default="settlement")
    parser.add_argument("--py-spy", help="speedscope output (round number appended)")
    parser.add_argument(
        "--processes",
        type=int,
        action="append",
        help="split each round's run over N processes (heatledger billing run --processes N); given "
        "more than once, the rounds alternate between the values (--processes 1 --processes 2)",
    )
    parser.add_argument(
        "--database-setting", action="append", default=[], help="NAME=VALUE set on each copy (a probe: jit=off)"
    )
    arguments = parser.parse_args(argv)
    processes = arguments.processes or [1]
    if arguments.sqlite_city is not None:
        sqlite_rounds(arguments.sqlite_city, arguments.rounds, arguments.py_spy, processes)
        return
    city = arguments.database
    with tempfile.TemporaryDirectory(prefix="billing-as-run-") as folder:
        scratch = Path(folder)
        template = city
        if arguments.kind == "settlement":
            template = f"{city}_prepaid"
            if not database_exists(template):
                copy_database(city, f"{template}_making")
                made = run_round(f"{template}_making", "prepayment", scratch, None)
                print("prepaid:", made.line(), flush=True)
                _analyze(f"{template}_making")
                with _admin_connection() as connection:
                    connection.execute(f'ALTER DATABASE "{template}_making" RENAME TO "{template}"')
        copy = f"{city}_asrun"
        for number in range(1, arguments.rounds + 1):
            copy_database(template, copy)
            with _admin_connection() as connection:
                for setting in arguments.database_setting:
                    name, value = setting.split("=", 1)
                    connection.execute(f"ALTER DATABASE \"{copy}\" SET {name} = '{value}'")
            try:
                spy = f"{arguments.py_spy}.{number}" if arguments.py_spy else None
                split = processes[(number - 1) % len(processes)]
                print(
                    f"{arguments.kind} round {number}{_processes_label(split)}:",
                    run_round(copy, arguments.kind, scratch, spy, split).line(),
                    flush=True,
                )
            finally:
                _drop(copy)


def _processes_label(processes: int) -> str:
    return f" ({processes} processes)" if processes > 1 else ""


def sqlite_rounds(city: Path, rounds: int, py_spy: str | None, processes: list[int] | None = None) -> None:
    """The settlement as run on copies of a prepaid SQLite city (made once beside ``city``)."""
    with tempfile.TemporaryDirectory(prefix="billing-as-run-") as folder:
        scratch = Path(folder)
        prepaid = city.with_name(f"{city.name}-prepaid")
        if not prepaid.exists():
            making = city.with_name(f"{city.name}-prepaid-making")
            shutil.rmtree(making, ignore_errors=True)
            shutil.copytree(city, making)
            print("prepaid:", run_round(making, "prepayment", scratch, None).line(), flush=True)
            making.rename(prepaid)
        for number in range(1, rounds + 1):
            copy = scratch / "asrun"
            shutil.copytree(prepaid, copy)
            try:
                spy = f"{py_spy}.{number}" if py_spy else None
                split = (processes or [1])[(number - 1) % len(processes or [1])]
                line = run_round(copy, "settlement", scratch, spy, split).line()
                print(f"settlement round {number}{_processes_label(split)}:", line, flush=True)
            finally:
                shutil.rmtree(copy)


if __name__ == "__main__":
    main()
