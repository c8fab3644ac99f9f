"""Billing benchmark: a city's billing runs as a user runs them, beside the run alone in a warm
process, its inputs alone and the bare eventsourcing library.

Run ``python -m bench.billing`` (or ``python bench/billing.py``) with ``--households`` and
``--backend sqlite|postgres|both`` (``--city`` names the households whose settlement time is
extrapolated, 150,000 by default). For each backend:

set-up (not timed, with progress, in this process): a fresh store; the households (communities of
about 1,000, buildings of 48, 60–140 m², varied positions) registered, one household meter each,
commissioned and attached, about 3 % of them suspended (报停) before the season, all by the
domain's own commands 1,000 aggregates per save (``bench.city``'s bulk path, a migration's: the
same events, actors and reasons as ``HeatLedger.register_household``, ``commission_meter``,
``attach_meter`` and ``suspend_heating``, one correlation id a command); midnight readings
(Asia/Shanghai) on the season's first day, the 1st of each month and the closing midnight of
1 April through ``HeatLedger.record_readings``, in batches of at most 5,000; then 2 % of the
households passing to a new holder in the middle of the season; the city's season declared by
decree (runs look the season in force up per community); a city-wide tariff; one projection
catch-up (and ``ANALYZE`` on PostgreSQL). The store is then copied (the SQLite folder, or a
PostgreSQL database made from it as a template), so both ways below start from the same city.
With ``--keep DIR`` the built city is kept (SQLite in ``DIR/city-N``, PostgreSQL in the database
``--keep-database`` names, else ``bench.kept_store``'s, built without the WAL flush) and a later
run with the same ``--keep`` reuses it: each way then runs on a copy of it, the set-up reported as
reused. With ``--processes N`` the runs as a user runs them are ``heatledger billing run …
--processes N`` (split by building over N processes); their CPU is then the command's and its run
processes' together (the warm runs stay in one process).

Timed, in this order:

1. as a user runs it, on the store: ``heatledger billing run prepayment --season 2025-2026``, then
   ``… settlement …``, each in a FRESH process (``bench.billing_cli_process``, which calls the
   CLI's own app with timers around its parts): interpreter start, imports and opening the store,
   a cold aggregate cache, the run, the read-model catch-up the embedded default runs after every
   save and the CLI once more after the run, the bills' notices (the households have no contact,
   so the notice pass only reads) and the summary. The settings are the defaults a user starts
   from, but for the store (on PostgreSQL too: production turns the catch-up after each save off
   and runs workers, and then the CLI's one catch-up after the run does the same work). The CLI
   runs on today's clock, so the bench refuses to run before the season has ended. Bills/s are
   of the whole command; its parts are printed under it;
2. beside it, flattering, on the copy: the runs in this process, timed alone (no start-up, no
   catch-up, no notices), the settlement right after the prepayment (the bench's figure before
   issue 18: every period it loaded was then in the aggregate cache; since issue 17 a run evicts
   each chunk's periods once saved, so the settlement rebuilds them as a fresh process does, and
   what stays warm is the interpreter, the imports and the database's pages). Their catch-ups
   are timed apart, and between them:
   a. inputs alone: what the settlement reads from the read models, as it reads it: every household
      (``SqlBillingInputs.households``), then per chunk of 250 ``season_records`` and
      ``meter_evidence`` over the season;
3. bare: a minimal ``Aggregate`` whose one event carries a Decimal amount and a few dict lines (the
   fields of a bill), created per household and saved in the same chunks of 250 by a bare
   ``Application`` on its own fresh store of the same backend (the (c) of the tables).

It prints a table per backend (each run as a user runs it with its parts, the warm figures beside
them, the baselines, the ratios settlement / inputs-alone time and settlement / bare rate, as run
and warm), a line per run with its counts and whether both ways issued the same bills and totals,
and a summary table of the figures to quote, with the extrapolated time of a city's settlement.
PostgreSQL is used when it answers at 127.0.0.1:5432 (trust auth, user postgres), as in
``bench.ingest``. Figures only: nothing is asserted.
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
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any
from uuid import UUID

from eventsourcing.application import Application
from eventsourcing.domain import Aggregate
from eventsourcing.persistence import JSONTranscoder
from rich.console import Console
from rich.progress import Progress
from rich.table import Table

from application.authorization import SYSTEM, Principal, Role
from application.billing_runs import CHUNK_SIZE, MAXIMUM_HOUSEHOLDS_PER_RUN, RunRequest, RunSummary
from application.ingestion import ReadingItem
from application.ledger import HeatLedger
from application.transcodings import DateAsISO
from bench.ingest import _admin_connection, _progress, backends_to_measure, bench_console, store_settings
from bench.kept_store import create_copy, ensure_kept_city, kept_city_name
from domain.billing import BillKind
from domain.day_split import BUSINESS_TIME_ZONE
from domain.household import Household
from domain.meter import Meter
from domain.readings import ReadingValues
from domain.season import Season
from domain.settlement import PositionCorrection, SettlementPolicy, TwoPartPrice
from domain.tariff import CITY_SCOPE, TariffTerms
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
from infrastructure.container import Container, bootstrap
from infrastructure.event_store import event_store_environment
from infrastructure.settings import Backend, Environment, Settings
from projections.billing_inputs import SqlBillingInputs

PROJECT_ROOT = Path(__file__).resolve().parent.parent
SEASON = Season.default_starting(2025)
SEASON_DECREE = "许政〔2025〕31号"
# The ledger's clock stands after the season, so the settlement may run.
AFTER_SEASON = datetime(2026, 4, 15, 2, tzinfo=UTC)
REGISTERED_ON = date(2025, 9, 1)
COMMISSIONED_AT = datetime(2025, 10, 1, tzinfo=UTC)
SUSPENDED_ON = date(2025, 10, 20)  # 报停 before the season
OWNER_CHANGED_ON = date(2026, 1, 16)  # 过户 in the middle of it
# The midnights the meters are read at: the season's first, the 1st of each month, the closing one.
READING_DAYS = (
    date(2025, 11, 1),
    date(2025, 12, 1),
    date(2026, 1, 1),
    date(2026, 2, 1),
    date(2026, 3, 1),
    date(2026, 4, 1),
)
# Colder months draw more heat: a factor on each household's daily draw, per month read.
MONTH_FACTORS = (Decimal("0.8"), Decimal("1.1"), Decimal("1.25"), Decimal("1.1"), Decimal("0.75"))
COMMUNITY_SIZE = 1_000
BUILDING_SIZE = 48  # 2 entrances × 12 floors × 2 flats
FLOORS = 12
READING_BATCH = 5_000
SETUP_SAVE = 1_000  # aggregates per save while registering (bench.city's)
CLERK = Principal("bench-clerk", Role.CLERK)
DEVICE = Principal("bench-concentrator", Role.DEVICE)
# Xuchang-like prices (domain.md §6): 21.6 元/m² a season, base 30 %, 43.9 元/GJ, 20 % while suspended.
TERMS = TariffTerms(
    TwoPartPrice(
        Decimal("21.6"),
        Decimal(30),
        Decimal("43.9"),
        SettlementPolicy.BOTH_WAYS,
        suspension_share_percent=Decimal(20),
        position_correction=PositionCorrection.NONE,
    )
)

# -- the city ---------------------------------------------------------------------------------


def account_of(number: int) -> str:
    return f"HL-{number:06d}"


def serial_of(number: int) -> str:
    return f"HM-{number:06d}"


def is_suspended(number: int) -> bool:
    return number % 100 in (7, 41, 73)  # 3 %


def changes_owner(number: int) -> bool:
    return number % 100 in (19, 88)  # 2 %


def area_of(number: int) -> Decimal:
    """60…140 m², spread evenly (37 is coprime with 81)."""
    return Decimal(60 + number * 37 % 81).quantize(Decimal("0.01"))


def _address_and_position(number: int) -> tuple[Address, Position]:
    community, in_community = divmod(number, COMMUNITY_SIZE)
    building, in_building = divmod(in_community, BUILDING_SIZE)
    entrance, in_entrance = divmod(in_building, 2 * FLOORS)
    floor, flat = divmod(in_entrance, 2)
    floor += 1
    vertical = (
        VerticalPosition.TOP if floor == FLOORS else VerticalPosition.BOTTOM if floor == 1 else VerticalPosition.MIDDLE
    )
    if entrance == 0 and flat == 0:
        horizontal = HorizontalPosition.WEST_END
    elif entrance == 1 and flat == 1:
        horizontal = HorizontalPosition.EAST_END
    else:
        horizontal = HorizontalPosition.MIDDLE
    address = Address(f"Bench-{community + 1:03d}", str(building + 1), str(entrance + 1), floor, f"{floor}0{flat + 1}")
    return address, Position(vertical, horizontal)


def _midnight(day: date) -> datetime:
    return datetime(day.year, day.month, day.day, tzinfo=BUSINESS_TIME_ZONE).astimezone(UTC)


def reading_batches(households: int) -> Iterator[list[ReadingItem]]:
    """Each meter's register at each reading midnight, in batches of at most ``READING_BATCH``:
    0.0018–0.0030 GJ per m² a day (about 0.3–0.45 GJ/m² a season), nothing while suspended.
    Made as they are recorded: a city's 600,000 items held at once were the set-up's peak memory."""
    registers = [Decimal(100 + number % 500) for number in range(households)]
    for index, day in enumerate(READING_DAYS):
        if index > 0:
            days = (day - READING_DAYS[index - 1]).days
            for number in range(households):
                if is_suspended(number):
                    continue
                per_m2_day = Decimal("0.0018") + Decimal(number % 13) / 10_000
                increase = area_of(number) * per_m2_day * days * MONTH_FACTORS[index - 1]
                registers[number] += increase.quantize(Decimal("0.001"))
        measured_at = _midnight(day)
        for start in range(0, households, READING_BATCH):
            numbers = range(start, min(start + READING_BATCH, households))
            yield [
                ReadingItem(
                    serial_of(number), ReadingValues(measured_at, registers[number], source=ReadingSource.NBIOT)
                )
                for number in numbers
            ]


def _reading(number: int, measured_at: datetime, register_gj: Decimal) -> ReadingItem:
    return ReadingItem(serial_of(number), ReadingValues(measured_at, register_gj, source=ReadingSource.NBIOT))


def _context(reason: str) -> CommandContext:
    """What ``HeatLedger``'s commands record when SYSTEM runs them: one correlation id a command."""
    return CommandContext(SYSTEM.name, reason, uuid.uuid4())


def register_by_commands(ledger: HeatLedger, number: int) -> None:
    """Household ``number`` and its meter by the ledger's commands, one save each: what
    ``register_city`` makes in bulk (tests/integration/test_bench_billing_setup.py compares them)."""
    account, serial = account_of(number), serial_of(number)
    address, position = _address_and_position(number)
    area = area_of(number)
    areas = Areas(area, area - Decimal(number % 5))
    ledger.register_household(SYSTEM, account, address, areas, CustomerClass.RESIDENTIAL, position, REGISTERED_ON)
    ledger.commission_meter(
        SYSTEM,
        serial,
        "Bench",
        "B1",
        AccuracyClass.CLASS_2,
        FlowSensorSide.RETURN,
        MeterKind.HOUSEHOLD,
        COMMISSIONED_AT,
    )
    ledger.attach_meter(SYSTEM, account, serial, COMMISSIONED_AT)
    if is_suspended(number):
        ledger.suspend_heating(SYSTEM, account, SUSPENDED_ON, "报停 for the season")


def register_city(container: Container, households: int, tick: Callable[[int], None]) -> None:
    """Households and meters registered, commissioned, attached and suspended by the domain's own
    commands, ``SETUP_SAVE`` aggregates per save (``bench.city``'s bulk path, a migration's): the
    same events, actors and reasons as ``HeatLedger.register_household``, ``commission_meter``,
    ``attach_meter`` and ``suspend_heating`` record one save at a time (registering a household by
    its command took three commits, hours for 100,000)."""
    aggregates: list[Aggregate] = []
    for number in range(households):
        address, position = _address_and_position(number)
        area = area_of(number)
        household = Household.register(
            account_of(number),
            address,
            Areas(area, area - Decimal(number % 5)),
            CustomerClass.RESIDENTIAL,
            position,
            REGISTERED_ON,
            _context("registration"),
        )
        meter = Meter.commission(
            serial_of(number),
            "Bench",
            "B1",
            AccuracyClass.CLASS_2,
            FlowSensorSide.RETURN,
            MeterKind.HOUSEHOLD,
            COMMISSIONED_AT,
            _context("commissioning"),
        )
        installation = _context("installation")
        meter.attach_to(household.id, COMMISSIONED_AT, installation)
        household.attach_meter(meter.id, meter.serial, COMMISSIONED_AT, installation)
        if is_suspended(number):
            household.suspend_heating(SUSPENDED_ON, _context("报停 for the season"))
        aggregates += [household, meter]
        if len(aggregates) >= SETUP_SAVE or number + 1 == households:
            container.ledger.save(*aggregates)
            aggregates = []
            tick(number + 1)


def change_owners(container: Container, households: int) -> None:
    """过户 in the middle of the season for 2 % of the households, after their readings, each
    household loaded, changed and saved ``SETUP_SAVE`` at a time (as ``HeatLedger.change_owner``
    records it, one save each)."""
    changing = [number for number in range(households) if changes_owner(number)]
    for start in range(0, len(changing), SETUP_SAVE):
        changed = []
        for number in changing[start : start + SETUP_SAVE]:
            household = container.ledger.household(account_of(number))
            household.change_owner(OWNER_CHANGED_ON, _context("过户 with the sale of the flat"))
            changed.append(household)
        container.ledger.save(*changed)


def set_up(container: Container, households: int, progress: Progress, label: str) -> None:
    """Households, meters, readings, suspensions, owner changes and the tariff, then one catch-up."""
    ledger = container.ledger
    task = progress.add_task(f"{label}: households, meters", total=households)
    register_city(container, households, lambda done: progress.update(task, completed=done))
    task = progress.add_task(f"{label}: readings", total=households * len(READING_DAYS))
    for batch in reading_batches(households):
        report = ledger.record_readings(DEVICE, batch, "benchmark")
        if report.accepted != len(batch):
            reasons = Counter(outcome.reason for outcome in report.outcomes if outcome.reason)
            raise RuntimeError(f"the benchmark's readings were not all accepted: {dict(reasons)}")
        progress.advance(task, len(batch))
    change_owners(container, households)
    # The city's season by decree, as a utility declares it (and the demo does): each run looks the
    # season in force up per community.
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
    catch_up(container, progress, f"{label}: projection catch-up")
    analyze(container)


def analyze(container: Container) -> None:
    """Give PostgreSQL's planner the city's statistics, as autovacuum would on a server in service.

    The development server runs with autovacuum off: a city made in one go had none, and the
    planner, taking every table for empty, scanned the whole event table for a chunk's 250 billing
    periods (53 ms against 11 ms by its key, EXPLAIN ANALYZE at 10,000 households). SQLite's
    planner needs no statistics for these queries."""
    if container.settings.backend is Backend.POSTGRES:
        with container.engine.begin() as connection:
            connection.exec_driver_sql("ANALYZE")


def catch_up(container: Container, progress: Progress, description: str) -> int:
    task = progress.add_task(description, total=None)

    def advance(position: int, target: int) -> None:
        progress.update(task, completed=position, total=target)

    return container.runner.catch_up(progress=advance)


def run_billing(container: Container, kind: BillKind, progress: Progress, label: str) -> tuple[float, RunSummary]:
    """Seconds for a city-wide run of ``kind``, and its summary."""
    task = progress.add_task(f"{label}: {kind.value} run", total=None)

    def advance(done: int, total: int) -> None:
        progress.update(task, completed=done, total=total)

    started = time.perf_counter()
    summary = container.billing_runs.run(CLERK, RunRequest(kind, SEASON), advance)
    return time.perf_counter() - started, summary


def read_inputs(inputs: SqlBillingInputs, progress: Progress, label: str) -> tuple[float, int]:
    """Seconds to read what the settlement reads, as it reads it, and how many households."""
    task = progress.add_task(f"{label}: inputs alone", total=None)
    started = time.perf_counter()
    households = inputs.households(None, MAXIMUM_HOUSEHOLDS_PER_RUN)
    progress.update(task, total=len(households))
    for start in range(0, len(households), CHUNK_SIZE):
        ids = [household.household_id for household in households[start : start + CHUNK_SIZE]]
        inputs.season_records(ids, SEASON)
        inputs.meter_evidence(ids, SEASON.first_day, SEASON.last_day)
        progress.update(task, completed=start + len(ids))
    return time.perf_counter() - started, len(households)


# -- bare -------------------------------------------------------------------------------------


class BareBill(Aggregate):
    """The least an event-sourced bill can be: created with the fields a settlement bill carries."""

    def __init__(
        self,
        account_number: str,
        bill_id: UUID,
        kind: str,
        label: str,
        number: str,
        issued_on: date,
        first_day: date,
        last_day: date,
        amount_yuan: Decimal,
        basis: str,
        lines: list[dict[str, Any]],
        actor: str,
        reason: str,
    ) -> None:
        self.account_number = account_number
        self.amount_yuan = amount_yuan
        self.lines = lines


class BareBills(Application[UUID]):
    name = "barebills"

    def register_transcodings(self, transcoder: JSONTranscoder) -> None:
        super().register_transcodings(transcoder)
        transcoder.register(DateAsISO())  # the library has datetimes, not dates


def bare_payloads(households: int) -> list[dict[str, Any]]:
    """A settlement bill's fields per household, with five lines like ours, made before timing."""
    payloads = []
    for number in range(households):
        area = area_of(number)
        area_fee = (area * Decimal("21.6")).quantize(Decimal("0.01"))
        base = (area_fee * Decimal("0.3")).quantize(Decimal("0.01"))
        heat = Decimal(30) + Decimal(number % 97) / 10
        energy = (heat * Decimal("43.9")).quantize(Decimal("0.01"))
        lines = [
            {"code": "area_fee_share", "amount_yuan": area_fee, "figures": {"area_m2": f"{area}", "days": "151"}},
            {"code": "base_fee", "amount_yuan": base, "figures": {"base_share_percent": "30"}},
            {
                "code": "energy_metered",
                "amount_yuan": energy,
                "figures": {"measured_gj": f"{heat}", "meters": serial_of(number), "days_measured": "151"},
            },
            {"code": "metered_fee", "amount_yuan": base + energy, "figures": {}},
            {"code": "prepaid", "amount_yuan": -area_fee, "figures": {"prepaid_yuan": f"{area_fee}"}},
        ]
        payloads.append(
            {
                "account_number": account_of(number),
                "bill_id": uuid.uuid4(),
                "kind": BillKind.SETTLEMENT.value,
                "label": "2025-2026 settlement",
                "number": f"S-2025-{number:06d}",
                "issued_on": AFTER_SEASON.date(),
                "first_day": SEASON.first_day,
                "last_day": SEASON.last_day,
                "amount_yuan": base + energy - area_fee,
                "basis": "metered",
                "lines": lines,
                "actor": CLERK.name,
                "reason": "billing run",
            }
        )
    return payloads


def run_bare(env: dict[str, str], payloads: list[dict[str, Any]], tick: Callable[[int], None]) -> float:
    """Seconds for a bare Application to create and save one bill per household, 250 per save."""
    app = BareBills(env=env)
    try:
        started = time.perf_counter()
        for start in range(0, len(payloads), CHUNK_SIZE):
            chunk = payloads[start : start + CHUNK_SIZE]
            app.save(*(BareBill(**fields) for fields in chunk))
            tick(start + len(chunk))
        return time.perf_counter() - started
    finally:
        app.close()


# -- the stores -------------------------------------------------------------------------------


def build_city(settings: Settings, households: int, progress: Progress, label: str) -> float:
    """Seconds to set the city up on the store of ``settings`` (in this process, closed after).

    Every household and meter stays in the aggregate cache while the set-up runs: the readings go
    day by day over all meters, and with the default cache (20,000 aggregates) a city of 100,000
    meters missed it on every batch (245 readings/s at 100,000 against about 1,000 at 10,000, at
    load ~13). About 15 KB an aggregate: 3 GB for 100,000 households, only while setting up."""
    cache_size = max(settings.aggregate_cache_size, 2 * households + 1_000)
    container = bootstrap(_bench_settings(settings).model_copy(update={"aggregate_cache_size": cache_size}))
    try:
        container.ledger.clock = lambda: AFTER_SEASON
        started = time.perf_counter()
        set_up(container, households, progress, label)
        return time.perf_counter() - started
    finally:
        container.close()


@contextmanager
def copied_store(settings: Settings, scratch: Path, label: str) -> Iterator[Settings]:
    """Settings of a copy of the (closed) store of ``settings``: the SQLite folder copied, or a
    PostgreSQL database made from it as a template; the copy is dropped afterwards."""
    if settings.backend is Backend.SQLITE:
        folder = scratch / label
        shutil.copytree(settings.data_dir, folder)
        yield settings.model_copy(update={"data_dir": folder})
        return
    source, name = settings.postgres_dbname, f"{settings.postgres_dbname}_{label}"
    with _admin_connection() as connection:
        # A template must have no sessions: the closed container's pools may still hold some.
        connection.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s AND pid <> pg_backend_pid()",
            (source,),
        )
        create_copy(connection, source, name)
    try:
        yield settings.model_copy(update={"postgres_dbname": name})
    finally:
        with _admin_connection() as connection:
            connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


# -- as a user runs it: `heatledger billing run` in a fresh process ----------------------------


@dataclass(frozen=True)
class ProcessRun:
    """One ``heatledger billing run`` in a fresh process: its wall time, its parts, its summary."""

    kind: BillKind
    wall_seconds: float
    startup_seconds: float  # from the spawn to the store opened: interpreter, imports, migrations check
    run_seconds: float  # BillingRuns.run without the catch-ups inside it
    catch_up_seconds: float  # after each save (the embedded default) and once after the run
    notices_seconds: float
    exit_code: int
    summary: dict[str, Any]
    run_cpu_seconds: float  # the process's CPU in BillingRuns.run (catch-ups inside it included)
    peak_rss_mb: float  # the process's peak resident memory
    processes: int = 1  # the run split over this many processes (``--processes``)
    command_cpu_seconds: float = 0.0  # the command's CPU and its run processes', start to exit

    @property
    def bills(self) -> int:
        return int(self.summary["bills_issued"])

    @property
    def rate(self) -> float:
        return self.bills / self.wall_seconds

    @property
    def rest_seconds(self) -> float:
        """Printing the summary, closing the store, leaving the interpreter."""
        parts = self.startup_seconds + self.run_seconds + self.catch_up_seconds + self.notices_seconds
        return self.wall_seconds - parts


def cli_environment(settings: Settings) -> dict[str, str]:
    """This process's environment without its ``HEATLEDGER_*`` variables, plus those that open
    the store of ``settings``: every other setting is the default a user starts from (the
    embedded default's catch-up after every save included)."""
    environment = {name: value for name, value in os.environ.items() if not name.startswith("HEATLEDGER_")}
    environment["PYTHONPATH"] = str(PROJECT_ROOT)
    environment["HEATLEDGER_BACKEND"] = settings.backend.value
    if settings.backend is Backend.SQLITE:
        environment["HEATLEDGER_DATA_DIR"] = str(settings.data_dir)
        return environment
    environment |= {
        "HEATLEDGER_POSTGRES_HOST": settings.postgres_host,
        "HEATLEDGER_POSTGRES_PORT": str(settings.postgres_port),
        "HEATLEDGER_POSTGRES_USER": settings.postgres_user,
        "HEATLEDGER_POSTGRES_DBNAME": settings.postgres_dbname,
    }
    return environment


def run_in_fresh_process(
    settings: Settings, kind: BillKind, scratch: Path, progress: Progress, label: str, processes: int = 1
) -> ProcessRun:
    """``heatledger billing run KIND --season …`` in a new interpreter (through
    ``bench.billing_cli_process``, which times its parts), on the store of ``settings``; split over
    ``processes`` processes by building when more than one (``--processes``)."""
    result_path, log_path = scratch / f"{kind.value}.json", scratch / f"{kind.value}.log"
    command = [sys.executable, "-m", "bench.billing_cli_process", str(result_path)]
    command += ["billing", "run", kind.value, "--season", SEASON.code]
    if processes > 1:
        command += ["--processes", str(processes)]
    children_before = resource.getrusage(resource.RUSAGE_CHILDREN)
    task = progress.add_task(f"{label}: {kind.value}, `heatledger billing run` in a fresh process", total=None)
    with log_path.open("w", encoding="utf-8") as log:
        spawned_at, started = time.time(), time.perf_counter()
        # The child's folder holds no .env: only the environment speaks to its settings.
        finished = subprocess.run(command, env=cli_environment(settings), cwd=scratch, stdout=log, stderr=log)
        wall_seconds = time.perf_counter() - started
    children_after = resource.getrusage(resource.RUSAGE_CHILDREN)
    # The command waits for its run processes, so their CPU is in its children's, and so in ours.
    command_cpu_seconds = (children_after.ru_utime - children_before.ru_utime) + (
        children_after.ru_stime - children_before.ru_stime
    )
    progress.update(task, total=1, completed=1)
    figures = json.loads(result_path.read_text(encoding="utf-8")) if result_path.exists() else {}
    # Exit code 1 with a summary: households with exceptions (the run went through); else a failure.
    if finished.returncode not in (0, 1) or not figures.get("summary") or figures.get("store_opened_at") is None:
        tail = log_path.read_text(encoding="utf-8")[-3000:]
        raise RuntimeError(f"`heatledger billing run {kind.value}` failed ({finished.returncode}):\n{tail}")
    return ProcessRun(
        kind,
        wall_seconds,
        figures["store_opened_at"] - spawned_at,
        figures["run_seconds"] - figures["catch_up_during_run_seconds"],
        figures["catch_up_seconds"],
        figures["notices_seconds"],
        figures["exit_code"],
        figures["summary"],
        figures["run_cpu_seconds"],
        figures["peak_rss_mb"],
        processes,
        command_cpu_seconds,
    )


# -- beside it: the run alone, in a warm process ------------------------------------------------


@dataclass(frozen=True)
class WarmRuns:
    """The runs in the bench's own long-lived process, timed alone: no catch-up, no notices, no
    start-up, and the settlement right after the prepayment, so its periods are in the cache."""

    prepayment_seconds: float
    prepayment: RunSummary
    prepayment_catch_up_seconds: float
    prepayment_events: int
    inputs_seconds: float
    inputs_households: int
    settlement_seconds: float
    settlement: RunSummary
    settlement_catch_up_seconds: float
    settlement_events: int

    @property
    def prepayment_rate(self) -> float:
        return self.prepayment.bills_issued / self.prepayment_seconds

    @property
    def settlement_rate(self) -> float:
        return self.settlement.bills_issued / self.settlement_seconds

    @property
    def inputs_rate(self) -> float:
        return self.inputs_households / self.inputs_seconds


def timed_catch_up(container: Container, progress: Progress, description: str) -> tuple[float, int]:
    started = time.perf_counter()
    events = catch_up(container, progress, description)
    return time.perf_counter() - started, events


def run_warm(settings: Settings, progress: Progress, label: str) -> WarmRuns:
    """The prepayment, its catch-up apart, the inputs alone, then the settlement and its catch-up
    apart, in this process, on the store of ``settings`` (the bench's old and flattering way)."""
    container = bootstrap(_bench_settings(settings))
    try:
        container.ledger.clock = lambda: AFTER_SEASON
        prepayment_seconds, prepayment = run_billing(container, BillKind.PREPAYMENT, progress, f"{label} warm")
        prepayment_catch_up = timed_catch_up(container, progress, f"{label} warm: catch-up of the prepayment")
        inputs_seconds, inputs_households = read_inputs(SqlBillingInputs(container.engine), progress, label)
        settlement_seconds, settlement = run_billing(container, BillKind.SETTLEMENT, progress, f"{label} warm")
        settlement_catch_up = timed_catch_up(container, progress, f"{label} warm: catch-up of the settlement")
    finally:
        container.close()
    return WarmRuns(
        prepayment_seconds,
        prepayment,
        *prepayment_catch_up,
        inputs_seconds,
        inputs_households,
        settlement_seconds,
        settlement,
        *settlement_catch_up,
    )


# -- running and reporting --------------------------------------------------------------------


@dataclass(frozen=True)
class Figures:
    backend: Backend
    households: int
    setup_seconds: float | None  # None: a kept city was reused
    prepayment: ProcessRun
    settlement: ProcessRun
    warm: WarmRuns
    bare_seconds: float
    bare_bills: int

    @property
    def bare_rate(self) -> float:
        return self.bare_bills / self.bare_seconds

    def city_minutes(self, city_households: int) -> float:
        """Minutes a settlement of ``city_households`` would take as a user runs it: the start-up
        and the rest once, the run, its catch-up and its notices growing linearly with households."""
        settlement = self.settlement
        once = settlement.startup_seconds + settlement.rest_seconds
        scale = city_households / int(settlement.summary["households"])
        return (once + (settlement.wall_seconds - once) * scale) / 60


def _bench_settings(settings: Settings) -> Settings:
    """The store's settings without a catch-up after every save (the bench catches up itself)."""
    return settings.model_copy(update={"catch_up_after_command": False})


@dataclass(frozen=True)
class Keep:
    """Where a built city is kept between runs (``--keep``): SQLite in ``folder``/city-N, PostgreSQL
    in the database ``database`` (or ``bench.kept_store``'s name for the bench and its size)."""

    folder: Path
    database: str | None = None

    def sqlite_city(self, households: int) -> Path:
        return self.folder / f"city-{households}"

    def postgres_city(self, households: int) -> str:
        return self.database or kept_city_name("billing", households)


@contextmanager
def city_store(
    backend: Backend, households: int, scratch: Path, progress: Progress, keep: Keep | None
) -> Iterator[tuple[Settings, float | None]]:
    """A store holding the city, to be changed by what is timed, and the set-up's seconds (None
    when a kept city was reused). Without ``keep`` the city is built in ``scratch``; with it, the
    kept city is built first if missing (or left half-built) and the store is a copy of it."""
    label = backend.value
    if keep is None:
        with store_settings(backend, scratch, "city") as store:
            yield store, build_city(store, households, progress, label)
        return
    seconds: float | None = None
    if backend is Backend.SQLITE:
        kept = Settings(environment=Environment.TEST, backend=backend, data_dir=keep.sqlite_city(households))
        ready = kept.data_dir.with_name(kept.data_dir.name + ".ready")
        if not ready.exists():
            shutil.rmtree(kept.data_dir, ignore_errors=True)
            seconds = build_city(kept, households, progress, label)
            ready.touch()
    else:
        kept, seconds = ensure_kept_city(
            keep.postgres_city(households), lambda settings: build_city(settings, households, progress, label)
        )
    with copied_store(kept, scratch, "run") as store:
        yield store, seconds


def measure(
    backend: Backend,
    households: int,
    payloads: list[dict[str, Any]],
    console: Console,
    keep: Keep | None = None,
    processes: int = 1,
) -> Figures:
    """Set the city up once (or take the kept one), copy it, run the prepayment and the settlement
    as a user does on the store and the bench's old way on the copy, then time the bare library on
    a store of its own."""
    label = backend.value
    with tempfile.TemporaryDirectory(prefix="heatledger-bench-") as folder, _progress(console) as progress:
        scratch = Path(folder)
        with (
            city_store(backend, households, scratch, progress, keep) as (store, setup_seconds),
            copied_store(store, scratch, "warm") as copy,
        ):
            prepayment = run_in_fresh_process(store, BillKind.PREPAYMENT, scratch, progress, label, processes)
            settlement = run_in_fresh_process(store, BillKind.SETTLEMENT, scratch, progress, label, processes)
            warm = run_warm(copy, progress, label)
        with store_settings(backend, scratch, "bare") as store:
            task = progress.add_task(f"{label}: bare eventsourcing", total=len(payloads))
            bare_seconds = run_bare(
                event_store_environment(store), payloads, lambda done: progress.update(task, completed=done)
            )
    return Figures(backend, households, setup_seconds, prepayment, settlement, warm, bare_seconds, len(payloads))


def _process_rows(table: Table, run: ProcessRun) -> None:
    table.add_row(
        f"{run.kind.value}: `heatledger billing run`, fresh process",
        f"{run.bills:,} bills",
        f"{run.wall_seconds:.2f}",
        f"{run.rate:,.0f} bills/s",
    )
    parts = (
        ("start-up: interpreter, imports, opening the store", run.startup_seconds),
        ("the run: reads, loads, bills, saves", run.run_seconds),
        ("read-model catch-up: after each save and at the end", run.catch_up_seconds),
        ("bill notices (no contacts: a read pass)", run.notices_seconds),
        ("the rest: summary, closing, exit", run.rest_seconds),
    )
    for part, seconds in parts:
        table.add_row(f"  {part}", "", f"{seconds:.2f}", "")
    if run.processes > 1:
        table.add_row(
            f"  CPU of the command and its {run.processes} run processes (not the database server's)",
            f"peak RSS {run.peak_rss_mb:,.0f} MB (the command's)",
            f"{run.command_cpu_seconds:.2f}",
            f"{run.bills / run.command_cpu_seconds:,.0f} bills/CPU s",
            end_section=True,
        )
        return
    table.add_row(
        "  the run's CPU in this process (not the database server's)",
        f"peak RSS {run.peak_rss_mb:,.0f} MB",
        f"{run.run_cpu_seconds:.2f}",
        f"{run.bills / run.run_cpu_seconds:,.0f} bills/CPU s",
        end_section=True,
    )


def _warm_rows(table: Table, warm: WarmRuns) -> None:
    table.add_row("[italic]beside it, flattering: the run alone in a warm process[/]", "", "", "")
    table.add_row(
        "  prepayment alone (no catch-up, no notices)",
        f"{warm.prepayment.bills_issued:,} bills",
        f"{warm.prepayment_seconds:.2f}",
        f"{warm.prepayment_rate:,.0f} bills/s",
    )
    table.add_row(
        "  settlement alone, right after it (periods rebuilt)",
        f"{warm.settlement.bills_issued:,} bills",
        f"{warm.settlement_seconds:.2f}",
        f"{warm.settlement_rate:,.0f} bills/s",
    )
    table.add_row(
        "  their catch-ups, apart (not in the figures above)",
        f"{warm.prepayment_events + warm.settlement_events:,} events",
        f"{warm.prepayment_catch_up_seconds + warm.settlement_catch_up_seconds:.2f}",
        "",
        end_section=True,
    )


def _baseline_rows(table: Table, figures: Figures) -> None:
    warm, settlement = figures.warm, figures.settlement
    table.add_row(
        "(a) settlement inputs alone",
        f"{warm.inputs_households:,} households",
        f"{warm.inputs_seconds:.2f}",
        f"{warm.inputs_rate:,.0f} households/s",
    )
    table.add_row(
        "(c) bare eventsourcing save",
        f"{figures.bare_bills:,} bills",
        f"{figures.bare_seconds:.2f}",
        f"{figures.bare_rate:,.0f} bills/s",
    )
    table.add_row(
        "settlement ÷ (a), time: as run · warm alone",
        "",
        f"{settlement.wall_seconds / warm.inputs_seconds:.2f}× · {warm.settlement_seconds / warm.inputs_seconds:.2f}×",
        "",
    )
    table.add_row(
        "settlement ÷ (c), rate: as run · warm alone",
        "",
        "",
        f"{settlement.rate / figures.bare_rate:.3f} · {warm.settlement_rate / figures.bare_rate:.3f}",
        end_section=True,
    )


def report(console: Console, figures: Figures) -> None:
    """One backend's table: the runs as a user runs them, the warm figures beside them, the
    baselines and ratios; then the runs' counts and whether both ways issued the same bills."""
    title = f"Billing {figures.households:,} households on {figures.backend.value}, chunks of {CHUNK_SIZE}"
    table = Table(title=title)
    for column in ("measure", "of", "seconds", "per second"):
        table.add_column(column, justify="left" if column == "measure" else "right", no_wrap=True)
    _process_rows(table, figures.prepayment)
    _process_rows(table, figures.settlement)
    _warm_rows(table, figures.warm)
    _baseline_rows(table, figures)
    setup = "kept city reused" if figures.setup_seconds is None else f"{figures.setup_seconds:.1f}"
    table.add_row("set-up (untimed)", f"{figures.households:,} households", setup, "")
    console.print(table)
    for run, warm in ((figures.prepayment, figures.warm.prepayment), (figures.settlement, figures.warm.settlement)):
        console.print(_summary_line(figures.backend, run, warm))


def _summary_line(backend: Backend, run: ProcessRun, warm: RunSummary) -> str:
    summary = run.summary
    charged, credited = Decimal(summary["charged_yuan"]), Decimal(summary["credited_yuan"])
    bases = ", ".join(f"{basis} {count:,}" for basis, count in sorted(summary["by_basis"].items()))
    same = (
        summary["bills_issued"] == warm.bills_issued and charged == warm.charged_yuan and credited == warm.credited_yuan
    )
    return (
        f"{backend.value} {run.kind.value}: {summary['households']:,} households, {summary['bills_issued']:,} bills "
        f"({bases}); charged {charged:,} 元, credited {credited:,} 元, "
        f"exceptions {summary['exceptions']:,}, skipped {summary['skipped']:,}; "
        f"the warm run issued {'the same bills and totals' if same else 'DIFFERENT bills or totals'}"
    )


def report_summary(console: Console, all_figures: list[Figures], city_households: int) -> None:
    """The figures to quote, a row per backend: as a user runs it first, the flattering one labelled."""
    table = Table(title="Billing as a user runs it: fresh process, cold cache, catch-up and notices included")
    columns = ("backend", "prepayment", "settlement", "warm settlement*", "(a) inputs", "(c) bare", "÷ (c)", "city**")
    for column in columns:
        table.add_column(column, justify="left" if column == "backend" else "right")
    for figures in all_figures:
        prepayment, settlement, warm = figures.prepayment, figures.settlement, figures.warm
        table.add_row(
            figures.backend.value,
            f"{prepayment.rate:,.0f} ({prepayment.wall_seconds:.1f} s)",
            f"{settlement.rate:,.0f} ({settlement.wall_seconds:.1f} s)",
            f"{warm.settlement_rate:,.0f} ({warm.settlement_seconds:.1f} s)",
            f"{warm.inputs_rate:,.0f}",
            f"{figures.bare_rate:,.0f}",
            f"{settlement.rate / figures.bare_rate:.3f}",
            f"≈ {figures.city_minutes(city_households):.0f} min",
        )
    console.print(table)
    legend = (
        "prepayment, settlement: bills/s of `heatledger billing run` in a fresh process (its seconds)",
        "* warm settlement: the run alone in a warm process, no catch-up (flattering: not what a user waits for)",
        "(a) settlement inputs alone, households/s; (c) bare eventsourcing save, bills/s",
        "÷ (c): the settlement as run ÷ the bare rate",
        f"** city: {city_households:,} households' settlement as run, extrapolated linearly (start-up once)",
    )
    for line in legend:
        console.print(line)


def parse_arguments(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--households", type=int, default=10_000, help="households, one meter each")
    parser.add_argument("--backend", choices=("sqlite", "postgres", "both"), default="both")
    parser.add_argument(
        "--city", type=int, default=150_000, help="households of the city whose settlement time is extrapolated"
    )
    parser.add_argument(
        "--keep",
        type=Path,
        metavar="DIR",
        help="keep the built city and reuse it on later runs: SQLite in DIR/city-N, PostgreSQL in a kept database",
    )
    parser.add_argument(
        "--keep-database", metavar="NAME", help="with --keep: the PostgreSQL database the city is kept in"
    )
    parser.add_argument(
        "--processes",
        type=int,
        default=1,
        help="split the runs as a user runs them over N processes by building (heatledger billing run --processes)",
    )
    arguments = parser.parse_args(argv)
    if arguments.keep_database and not arguments.keep:
        parser.error("--keep-database needs --keep")
    if not 1 <= arguments.processes <= 32:
        parser.error("--processes must lie in 1…32")
    if not 1 <= arguments.households <= 300_000:
        parser.error("--households must lie in 1…300,000")
    if datetime.now(UTC).astimezone(BUSINESS_TIME_ZONE).date() <= SEASON.last_day:
        parser.error(f"`heatledger billing run settlement` runs on today's clock: season {SEASON.code} has not ended")
    return arguments


def main(argv: list[str] | None = None) -> None:
    arguments = parse_arguments(argv)
    console = bench_console()
    backends = backends_to_measure(arguments.backend, console)
    payloads = bare_payloads(arguments.households)
    started = datetime.now(UTC)
    all_figures = []
    for backend in backends:
        keep = Keep(arguments.keep, arguments.keep_database) if arguments.keep else None
        figures = measure(backend, arguments.households, payloads, console, keep, arguments.processes)
        report(console, figures)
        all_figures.append(figures)
    report_summary(console, all_figures, arguments.city)
    console.print(f"Measured from {started:%Y-%m-%d %H:%M} to {datetime.now(UTC):%H:%M} UTC.")


if __name__ == "__main__":
    main()
