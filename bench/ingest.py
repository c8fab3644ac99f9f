"""Ingestion benchmark: readings per second through the ledger against the bare eventsourcing library.

Run ``python -m bench.ingest`` (or ``python bench/ingest.py``) with ``--meters``, ``--days`` and
``--backend sqlite|postgres|both``. For each backend, in one process:

1. ours, no catch-up: ``HeatLedger.record_readings`` of the ledger ``bootstrap`` wires, on a fresh
   store, one batch per day (one reading per meter), with ``catch_up_after_command`` off, so
   ingestion alone is timed (rules, plausibility check, save): production's path, where workers
   apply the events to the read models;
2. catch-up: ``ProjectionRunner.catch_up`` of the ledger projection over the events of 1, timed apart;
3. ours with catch-up: the same batches on another fresh store with the embedded default's
   settings (``catch_up_after_command`` on), so each save is followed by the catch-up of its
   events, timed together: what a clerk or a concentrator waits for on the embedded default;
4. bare: a minimal ``Aggregate`` with one event carrying the same fields, got from the repository,
   changed and saved by a bare ``Application`` in the same batch sizes, on its own fresh store
   (the library's recorder: no hash chain);
5. the hash chain's cost: 1 without the tamper-evident hash chain (``bootstrap(event_chain=False)``,
   which exists for this baseline only) and 1 with it, each on a fresh store, alternately,
   ``--rounds`` times (3 by default); the fastest of each is kept, the least disturbed by whatever
   else runs on the machine, so the ratio compares like with like.

It prints readings/s of each, the ratios ours / bare, with and without the catch-up (the target
is 0.8 or more without it, issue 17), and ours with the chain / without it (the target is 0.8 or more).
``--profile`` runs 1 and 2 under cProfile and prints their top functions; the profiler slows only
those sides, so no ratio is printed then. PostgreSQL is used when
it answers at 127.0.0.1:5432 (trust auth, user postgres); a throw-away database is created per
store and dropped afterwards. Figures only: nothing is asserted. On a shared machine the wall
figures vary a lot between identical runs: ``bench.ingest_cpu`` gives the CPU seconds of 1 and 4
in alternating rounds, and ``bench.ingest_cold`` a fresh process's first batch (meters not cached).
"""

from __future__ import annotations

import argparse
import cProfile
import io
import pstats
import socket
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from datetime import time as clock_time
from decimal import Decimal
from pathlib import Path
from typing import Any
from uuid import UUID

from eventsourcing.application import Application
from eventsourcing.domain import Aggregate, event
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from application.authorization import Principal, Role
from application.ingestion import ReadingItem
from application.ledger import HeatLedger
from domain.day_split import BUSINESS_TIME_ZONE
from domain.heat_physics import heat_coefficient_mj_per_m3_k
from domain.household import Household
from domain.meter import Meter
from domain.readings import ReadingValues
from domain.values import (
    AccuracyClass,
    Address,
    Areas,
    CommandContext,
    CustomerClass,
    FlowSensorSide,
    HorizontalPosition,
    MeterKind,
    Position,
    ReadingSource,
    VerticalPosition,
)
from infrastructure.container import bootstrap
from infrastructure.event_store import event_store_environment
from infrastructure.settings import Backend, Environment, Settings

POSTGRES_HOST = "127.0.0.1"
POSTGRES_PORT = 5432
POSTGRES_USER = "postgres"
POSTGRES_ADMIN_DATABASES = ("postgres", "template1")
FIRST_DAY = date(2025, 11, 1)
SETUP_CHUNK = 500
REPORT_WIDTH = 120  # columns of the tables when the output is not a terminal
DEVICE = Principal(name="bench:concentrator", role=Role.DEVICE)
# Ours / bare without the catch-up that issue 17 asks for (0.5 before it).
RATIO_TARGET = 0.8

# -- the readings -----------------------------------------------------------------------------


def _midnight(day_offset: int) -> datetime:
    local = datetime.combine(FIRST_DAY + timedelta(days=day_offset), clock_time(0), BUSINESS_TIME_ZONE)
    return local.astimezone(UTC)


def serial_of(meter: int) -> str:
    return f"BENCH-{meter:06d}"


def daily_batches(meters: int, days: int) -> list[list[ReadingItem]]:
    """One batch per day, one reading per meter (the first day's opens each meter's register),
    physically consistent so every interval is checked
    and found plausible (the ledger's full path, not a shortcut for bad data)."""
    energy = [Decimal(20 + meter % 17) for meter in range(meters)]
    volume = [Decimal(400 + meter % 31) for meter in range(meters)]
    batches = []
    for day in range(days):
        measured_at = _midnight(day)
        outdoor = 5 - 14 * day / days
        batch = []
        for meter in range(meters):
            flow = Decimal(repr(45 + (5 - outdoor) * 0.75 + (meter % 21 - 10) / 10)).quantize(Decimal("0.1"))
            back = flow - Decimal(10) - Decimal(meter % 40) / 10
            if day > 0:
                increase = Decimal("0.120") + Decimal(meter % 50) / 1000 + Decimal(day % 7) / 100
                k = heat_coefficient_mj_per_m3_k(flow, back, FlowSensorSide.RETURN)
                energy[meter] += increase
                volume[meter] += (increase * 1000 / (k * (flow - back))).quantize(Decimal("0.01"))
            values = ReadingValues(
                measured_at=measured_at,
                energy_gj=energy[meter],
                volume_m3=volume[meter],
                operating_hours=Decimal(8760 + 24 * day),
                flow_temperature_c=flow,
                return_temperature_c=back,
                flow_rate_m3_h=Decimal("0.150"),
                power_kw=Decimal("1.74"),
                source=ReadingSource.NBIOT,
            )
            batch.append(ReadingItem(serial_of(meter), values))
        batches.append(batch)
    return batches


# -- ours -------------------------------------------------------------------------------------


def _set_up_ledger(ledger: HeatLedger, meters: int) -> None:
    """Households with an attached household meter each, saved a chunk at a time."""
    context = CommandContext("bench", "benchmark set-up", uuid.uuid4())
    since = _midnight(-30)
    position = Position(VerticalPosition.MIDDLE, HorizontalPosition.MIDDLE)
    for start in range(0, meters, SETUP_CHUNK):
        aggregates: list[Aggregate] = []
        for number in range(start, min(start + SETUP_CHUNK, meters)):
            address = Address("Bench", str(number // 48 + 1), "1", number % 6 + 1, str(number))
            household = Household.register(
                f"BENCH-{number:06d}",
                address,
                Areas(Decimal("90.00"), Decimal("85.00")),
                CustomerClass.RESIDENTIAL,
                position,
                FIRST_DAY - timedelta(days=60),
                context,
            )
            meter = Meter.commission(
                serial_of(number),
                "Bench",
                "B1",
                AccuracyClass.CLASS_2,
                FlowSensorSide.RETURN,
                MeterKind.HOUSEHOLD,
                since,
                context,
            )
            meter.attach_to(household.id, since, context)
            household.attach_meter(meter.id, meter.serial, since, context)
            aggregates += [household, meter]
        ledger.save(*aggregates)


def run_ours(
    settings: Settings, batches: list[list[ReadingItem]], tick: Callable[[], None], event_chain: bool = True
) -> float:
    """Seconds to record every batch through ``HeatLedger.record_readings`` of the container the
    settings build (with the catch-up after every save when they ask for it; without the hash
    chain when ``event_chain`` is off)."""
    container = bootstrap(settings, event_chain=event_chain)
    try:
        _set_up_ledger(container.ledger, len(batches[0]))
        started = time.perf_counter()
        for batch in batches:
            report = container.ledger.record_readings(DEVICE, batch, "benchmark")
            if report.accepted != len(batch):
                reasons = {outcome.reason for outcome in report.outcomes if outcome.reason}
                raise RuntimeError(f"the benchmark's readings were not all accepted: {reasons}")
            tick()
        return time.perf_counter() - started
    finally:
        container.close()


def run_catch_up(settings: Settings, tick: Callable[[int, int], None]) -> tuple[float, int]:
    """Seconds to catch the ledger projection up with every event, and how many it applied."""
    container = bootstrap(settings)
    try:
        started = time.perf_counter()
        applied = container.runner.catch_up(progress=tick)
        return time.perf_counter() - started, applied
    finally:
        container.close()


# -- bare -------------------------------------------------------------------------------------


class BareMeter(Aggregate):
    """The least an event-sourced meter can be: it records readings and remembers the last."""

    class ReadingRecorded(Aggregate.Event):
        measured_at: datetime
        energy_gj: Decimal
        volume_m3: Decimal | None
        operating_hours: Decimal | None
        flow_temperature_c: Decimal | None
        return_temperature_c: Decimal | None
        flow_rate_m3_h: Decimal | None
        power_kw: Decimal | None
        error_flags: int
        source: str
        fingerprint: str
        energy_unwrapped_gj: Decimal
        volume_unwrapped_m3: Decimal | None
        intervals: list[dict[str, Any]]
        replaced_interval_start: datetime | None
        replaced_interval_end: datetime | None
        batch_id: UUID
        actor: str
        reason: str

    def __init__(self, serial: str) -> None:
        self.serial = serial
        self.last: datetime | None = None

    @staticmethod
    def create_id(serial: str) -> UUID:
        return uuid.uuid5(uuid.NAMESPACE_URL, f"bench-meter:{serial}")

    @event(ReadingRecorded)
    def record(  # the event decorator needs every field named
        self,
        measured_at: datetime,
        energy_gj: Decimal,
        volume_m3: Decimal | None,
        operating_hours: Decimal | None,
        flow_temperature_c: Decimal | None,
        return_temperature_c: Decimal | None,
        flow_rate_m3_h: Decimal | None,
        power_kw: Decimal | None,
        error_flags: int,
        source: str,
        fingerprint: str,
        energy_unwrapped_gj: Decimal,
        volume_unwrapped_m3: Decimal | None,
        intervals: list[dict[str, Any]],
        replaced_interval_start: datetime | None,
        replaced_interval_end: datetime | None,
        batch_id: UUID,
        actor: str,
        reason: str,
    ) -> None:
        self.last = measured_at


class BareMeters(Application[UUID]):
    name = "baremeters"


def bare_payloads(batches: list[list[ReadingItem]]) -> list[list[tuple[UUID, dict[str, Any]]]]:
    """The fields of every bare event, computed before timing (the ledger computes them as it goes)."""
    payloads = []
    previous: dict[str, ReadingValues] = {}
    for batch in batches:
        batch_id = uuid.uuid4()
        day = []
        for item in batch:
            values, before = item.values, previous.get(item.meter_serial)
            intervals = []
            if before is not None:
                energy = values.energy_gj - before.energy_gj
                intervals.append(
                    {
                        "start": before.measured_at,
                        "end": values.measured_at,
                        "energy_gj": energy,
                        "volume_m3": values.volume_m3 - before.volume_m3,  # type: ignore[operator]
                        "household_id": uuid.uuid4(),
                        "expected_energy_gj": energy,
                        "deviation_percent": Decimal("0.12"),
                        "permissible_error_percent": Decimal("4.85"),
                    }
                )
            day.append(
                (
                    BareMeter.create_id(item.meter_serial),
                    {
                        "measured_at": values.measured_at,
                        "energy_gj": values.energy_gj,
                        "volume_m3": values.volume_m3,
                        "operating_hours": values.operating_hours,
                        "flow_temperature_c": values.flow_temperature_c,
                        "return_temperature_c": values.return_temperature_c,
                        "flow_rate_m3_h": values.flow_rate_m3_h,
                        "power_kw": values.power_kw,
                        "error_flags": values.error_flags,
                        "source": values.source.value,
                        "fingerprint": values.fingerprint(),
                        "energy_unwrapped_gj": values.energy_gj,
                        "volume_unwrapped_m3": values.volume_m3,
                        "intervals": intervals,
                        "replaced_interval_start": None,
                        "replaced_interval_end": None,
                        "batch_id": batch_id,
                        "actor": DEVICE.name,
                        "reason": "benchmark",
                    },
                )
            )
            previous[item.meter_serial] = values
        payloads.append(day)
    return payloads


def run_bare(env: dict[str, str], payloads: list[list[tuple[UUID, dict[str, Any]]]], tick: Callable[[], None]) -> float:
    """Seconds for a bare Application to get, change and save the same events in the same batches."""
    app = BareMeters(env=env)
    try:
        for start in range(0, len(payloads[0]), SETUP_CHUNK):
            app.save(
                *(BareMeter(serial_of(number)) for number in range(start, min(start + SETUP_CHUNK, len(payloads[0]))))
            )
        started = time.perf_counter()
        for day in payloads:
            changed: list[BareMeter] = []
            for meter_id, fields in day:
                meter: BareMeter = app.repository.get(meter_id)
                meter.record(**fields)
                changed.append(meter)
            app.save(*changed)
            tick()
        return time.perf_counter() - started
    finally:
        app.close()


# -- stores -----------------------------------------------------------------------------------


def _postgres_reachable() -> bool:
    try:
        with socket.create_connection((POSTGRES_HOST, POSTGRES_PORT), timeout=1):
            return True
    except OSError:
        return False


def backends_to_measure(choice: str, console: Console) -> list[Backend]:
    """The backends ``--backend`` names (``both``: SQLite and PostgreSQL), PostgreSQL only when it answers."""
    backends = [Backend.SQLITE, Backend.POSTGRES] if choice == "both" else [Backend(choice)]
    if Backend.POSTGRES in backends and not _postgres_reachable():
        console.print(f"PostgreSQL does not answer at {POSTGRES_HOST}:{POSTGRES_PORT}: measuring SQLite only.")
        backends = [backend for backend in backends if backend is not Backend.POSTGRES]
    return backends


def _admin_connection() -> Any:
    import psycopg

    last_error: Exception | None = None
    for database in POSTGRES_ADMIN_DATABASES:
        try:
            return psycopg.connect(
                host=POSTGRES_HOST, port=POSTGRES_PORT, user=POSTGRES_USER, dbname=database, autocommit=True
            )
        except psycopg.OperationalError as error:
            last_error = error
    raise RuntimeError(f"cannot reach PostgreSQL: {last_error}")


@contextmanager
def store_settings(backend: Backend, scratch: Path, label: str) -> Iterator[Settings]:
    """Settings of an empty store: a SQLite file in ``scratch``, or a throw-away PostgreSQL database."""
    if backend is Backend.SQLITE:
        yield Settings(environment=Environment.TEST, backend=backend, data_dir=scratch / label)
        return
    name = f"heatledger_bench_{label}_{uuid.uuid4().hex[:8]}"
    with _admin_connection() as connection:
        connection.execute(f'CREATE DATABASE "{name}"')
    try:
        yield Settings(
            environment=Environment.TEST,
            backend=backend,
            postgres_host=POSTGRES_HOST,
            postgres_port=POSTGRES_PORT,
            postgres_user=POSTGRES_USER,
            postgres_dbname=name,
        )
    finally:
        with _admin_connection() as connection:
            connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


# -- running and reporting --------------------------------------------------------------------


@dataclass(frozen=True)
class Figures:
    backend: Backend
    readings: int
    ours_seconds: float
    with_catch_up_seconds: float
    bare_seconds: float
    catch_up_seconds: float
    notifications: int
    profiled: bool
    # 5: seconds of each round with and without the hash chain (none when profiled).
    chained_samples: tuple[float, ...]
    unchained_samples: tuple[float, ...]

    @property
    def ours_rate(self) -> float:
        return self.readings / self.ours_seconds

    @property
    def with_catch_up_rate(self) -> float:
        return self.readings / self.with_catch_up_seconds

    @property
    def bare_rate(self) -> float:
        return self.readings / self.bare_seconds

    @property
    def ratio(self) -> float:
        return self.ours_rate / self.bare_rate

    @property
    def with_catch_up_ratio(self) -> float:
        return self.with_catch_up_rate / self.bare_rate

    @property
    def chained_seconds(self) -> float:
        return min(self.chained_samples)

    @property
    def unchained_seconds(self) -> float:
        return min(self.unchained_samples)

    @property
    def chain_ratio(self) -> float:
        """Readings/s with the hash chain / without it (the fastest round of each, no catch-up)."""
        return self.unchained_seconds / self.chained_seconds


def bench_console() -> Console:
    """The console the figures go to: 120 columns when it is not a terminal (a pipe, a file), so
    the tables' rows stay on one line where rich would assume 80."""
    console = Console()
    return console if console.is_terminal else Console(width=REPORT_WIDTH)


def _progress(console: Console) -> Progress:
    return Progress(
        TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(), console=console
    )


def _profiled(profile_to: Path | None, work: Callable[[], Any]) -> Any:
    """Run ``work``, under cProfile when ``profile_to`` names a file for the statistics."""
    if profile_to is None:
        return work()
    profiler = cProfile.Profile()
    try:
        return profiler.runcall(work)
    finally:
        profiler.dump_stats(profile_to)


def _catch_up_after_save(settings: Settings, on: bool) -> Settings:
    """The store's settings with the embedded default's catch-up after every save on or off."""
    return settings.model_copy(update={"catch_up_after_command": on})


def measure(
    backend: Backend,
    batches: list[list[ReadingItem]],
    payloads: list[list[tuple[UUID, dict[str, Any]]]],
    console: Console,
    profile_prefix: Path | None = None,
    rounds: int = 3,
) -> Figures:
    """Time ours without and with the catch-up after every save, the catch-up apart, bare, and ours
    with and without the hash chain ``rounds`` times, each on a fresh store of ``backend``; profile
    ours without the catch-up and the catch-up into ``<prefix>-ingest.prof`` and
    ``<prefix>-catch-up.prof`` when a prefix is given (and skip the chain's rounds)."""
    readings = sum(len(batch) for batch in batches)
    ingest_profile = profile_prefix.with_name(profile_prefix.name + "-ingest.prof") if profile_prefix else None
    catch_up_profile = profile_prefix.with_name(profile_prefix.name + "-catch-up.prof") if profile_prefix else None
    label = backend.value
    with tempfile.TemporaryDirectory(prefix="heatledger-bench-") as folder, _progress(console) as progress:
        scratch = Path(folder)
        with store_settings(backend, scratch, "ours") as store:
            settings = _catch_up_after_save(store, on=False)
            task = progress.add_task(f"{label}: record_readings, no catch-up", total=len(batches))
            ours = _profiled(ingest_profile, lambda: run_ours(settings, batches, lambda: progress.advance(task)))
            catch_up_task = progress.add_task(f"{label}: projection catch-up", total=None)

            def advance(position: int, target: int) -> None:
                progress.update(catch_up_task, completed=position, total=target)

            catch_up, notifications = _profiled(catch_up_profile, lambda: run_catch_up(settings, advance))
        with store_settings(backend, scratch, "embedded") as store:
            settings = _catch_up_after_save(store, on=True)
            task = progress.add_task(f"{label}: record_readings, catch-up after every save", total=len(batches))
            with_catch_up = run_ours(settings, batches, lambda: progress.advance(task))
        with store_settings(backend, scratch, "bare") as store:
            task = progress.add_task(f"{label}: bare eventsourcing", total=len(payloads))
            environment = event_store_environment(store, event_chain=False)
            bare = run_bare(environment, payloads, lambda: progress.advance(task))
        profiled = profile_prefix is not None
        chained, unchained = ([], []) if profiled else _chain_rounds(backend, batches, scratch, progress, rounds)
    samples = (tuple(chained), tuple(unchained))
    return Figures(backend, readings, ours, with_catch_up, bare, catch_up, notifications, profiled, *samples)


def _chain_rounds(
    backend: Backend, batches: list[list[ReadingItem]], scratch: Path, progress: Progress, rounds: int
) -> tuple[list[float], list[float]]:
    """Seconds of ``record_readings`` (no catch-up) with and without the hash chain, ``rounds`` times
    each, alternately, each on a fresh store."""
    chained: list[float] = []
    unchained: list[float] = []
    task = progress.add_task(f"{backend.value}: with and without the hash chain", total=2 * rounds * len(batches))
    for number in range(rounds):
        for event_chain, samples in ((False, unchained), (True, chained)):
            label = f"round{number}-{'chained' if event_chain else 'unchained'}"
            with store_settings(backend, scratch, label) as store:
                settings = _catch_up_after_save(store, on=False)
                samples.append(run_ours(settings, batches, lambda: progress.advance(task), event_chain=event_chain))
    return chained, unchained


def report(console: Console, figures: list[Figures], meters: int, days: int) -> None:
    table = Table(title=f"Ingestion of {meters} meters × {days} days (one batch of {meters} readings a day)")
    for column in ("backend", "path", "readings", "seconds", "per second"):
        table.add_column(column, justify="right" if column not in ("backend", "path") else "left")
    for figure in figures:
        name = figure.backend.value
        profiled = " (cProfile)" if figure.profiled else ""
        table.add_row(
            name,
            f"record_readings, no catch-up{profiled}",
            str(figure.readings),
            f"{figure.ours_seconds:.2f}",
            f"{figure.ours_rate:,.0f}",
        )
        table.add_row(
            name,
            "record_readings, catch-up per save",
            str(figure.readings),
            f"{figure.with_catch_up_seconds:.2f}",
            f"{figure.with_catch_up_rate:,.0f}",
        )
        table.add_row(
            name, "bare eventsourcing", str(figure.readings), f"{figure.bare_seconds:.2f}", f"{figure.bare_rate:,.0f}"
        )
        for chain, samples in (("hash chain", figure.chained_samples), ("no hash chain", figure.unchained_samples)):
            if samples:
                table.add_row(
                    name,
                    f"record_readings, no catch-up, {chain}, fastest of {len(samples)}",
                    str(figure.readings),
                    f"{min(samples):.2f}",
                    f"{figure.readings / min(samples):,.0f}",
                )
        table.add_row(
            name,
            f"catch-up apart, events{profiled}",
            str(figure.notifications),
            f"{figure.catch_up_seconds:.2f}",
            f"{figure.notifications / figure.catch_up_seconds:,.0f}",
        )
        table.add_row(
            name,
            f"catch-up apart, readings{profiled}",
            str(figure.readings),
            f"{figure.catch_up_seconds:.2f}",
            f"{figure.readings / figure.catch_up_seconds:,.0f}",
            end_section=True,
        )
    console.print(table)
    for figure in figures:
        console.print(_ratio_line(figure))
        console.print(_chain_ratio_line(figure))


def _ratio_line(figure: Figures) -> str:
    """The ratios ours / bare; none when our side ran under the profiler (it slows ours alone)."""
    name = figure.backend.value
    if figure.profiled:
        return f"{name}: no ratio ours / bare: cProfile slowed our side only (run without --profile for the ratios)"
    verdict = "meets" if figure.ratio >= RATIO_TARGET else "is below"
    return (
        f"{name}: ours / bare = {figure.ratio:.2f} without the catch-up ({verdict} the {RATIO_TARGET} target), "
        f"{figure.with_catch_up_ratio:.2f} with the catch-up after every save"
    )


def _chain_ratio_line(figure: Figures) -> str:
    """Ours with the hash chain / without it, with every round's seconds; none when profiled."""
    name = figure.backend.value
    if figure.profiled:
        return f"{name}: no ratio with / without the hash chain: the rounds are skipped under cProfile"
    verdict = "meets" if figure.chain_ratio >= 0.8 else "is below"
    rounds = ", ".join(
        f"{chained:.2f}/{unchained:.2f}"
        for chained, unchained in zip(figure.chained_samples, figure.unchained_samples, strict=True)
    )
    return (
        f"{name}: ours with the hash chain / without it = {figure.chain_ratio:.2f} without the catch-up, "
        f"fastest rounds ({verdict} the 0.8 target); seconds with/without per round: {rounds}"
    )


def print_profile(console: Console, path: Path, lines: int = 30) -> None:
    buffer = io.StringIO()
    pstats.Stats(str(path), stream=buffer).sort_stats("tottime").print_stats(lines)
    console.print(buffer.getvalue(), markup=False, highlight=False)


def parse_arguments(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument(
        "--meters", type=int, default=2000, help="meters, i.e. readings per daily batch (at most 10,000)"
    )
    parser.add_argument("--days", type=int, default=50, help="days, i.e. daily batches (one reading per meter each)")
    parser.add_argument("--backend", choices=("sqlite", "postgres", "both"), default="both")
    parser.add_argument(
        "--profile",
        action="store_true",
        help="profile our ingestion and the catch-up (cProfile), print the top functions and no ratio",
    )
    parser.add_argument(
        "--rounds", type=int, default=3, help="rounds with and without the hash chain (the fastest of each counts)"
    )
    arguments = parser.parse_args(argv)
    if not 1 <= arguments.meters <= 10_000 or not 2 <= arguments.days <= 1_000:
        parser.error("--meters must lie in 1…10,000 and --days in 2…1,000")
    if not 1 <= arguments.rounds <= 20:
        parser.error("--rounds must lie in 1…20")
    return arguments


def main(argv: list[str] | None = None) -> None:
    arguments = parse_arguments(argv)
    console = bench_console()
    backends = backends_to_measure(arguments.backend, console)
    console.print(f"Generating {arguments.meters} × {arguments.days} readings …")
    batches = daily_batches(arguments.meters, arguments.days)
    payloads = bare_payloads(batches)
    figures = []
    for backend in backends:
        prefix = Path(tempfile.gettempdir()) / f"heatledger-{backend.value}" if arguments.profile else None
        figures.append(measure(backend, batches, payloads, console, prefix, arguments.rounds))
        if prefix is not None:
            for phase in ("ingest", "catch-up"):
                path = prefix.with_name(f"{prefix.name}-{phase}.prof")
                console.print(f"Profile of {phase} on {backend.value} ({path}), by own time:")
                print_profile(console, path)
    report(console, figures, arguments.meters, arguments.days)


if __name__ == "__main__":
    main()
