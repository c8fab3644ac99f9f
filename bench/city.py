"""City benchmark: a whole season of a city on PostgreSQL, end to end, step by step (issue 17).

Run ``python -m bench.city`` with ``--households`` (100,000 by default) in ``--buildings`` (500),
``--hourly-share`` of the meters read hourly (0.10) over the season's last ``--hourly-days`` days
(the whole season, 151, by default; daily before), ``--payers`` (0.70) and ``--backend``
(PostgreSQL by default; SQLite for a quick look). One process, the ledger's clock standing after
the season, a fresh store; each step is timed with its read-model catch-up (production's workers
would run it beside the writes; here it is timed apart and added to the step's wall time):

1. households and meters: registered, commissioned and attached by the domain's own commands
   (``Household.register``, ``Meter.commission``, ``attach_to``/``attach_meter``; 3 % suspended
   before the season (报停), 2 % passing to a new holder in the middle of it (过户)), 1,000
   aggregates per save: the bulk path a migration from a legacy system takes;
2. readings: every meter's register at each local midnight of the season (1 November to the
   closing midnight of 1 April), the hourly meters every hour of their hourly days, through
   ``HeatLedger.record_readings`` (the ingestion service: rules, plausibility, one save per batch)
   in batches of 5,000, generated lazily so memory stays bounded;
   then ``ANALYZE`` on PostgreSQL (a step of its own: the development server runs without
   autovacuum, and a planner without the season's statistics made the billing runs wait on it);
3. the season by decree and a city-wide tariff (Xuchang-like, ``bench.billing``'s);
4. the prepayment run; 5. the five monthly statements; 6. the settlement: ``BillingRuns.run``;
7. payments from ``--payers`` of the households (the prepayment's amount at the counter,
   ``Payments.receive_at_counter``: one save each, the product has no bulk payment path).

It prints per step the wall time (its catch-up beside it), what it made and its rate, the slowest
step, the total, the events stored (the notification log's last id), the database's size
(``pg_database_size``, or the SQLite file) and the peak RSS of the process; and each step's time
scaled linearly (by households, or by readings for step 2) to the issue's city (100,000
households, daily readings, 10 % hourly all season), beside the 30-minute target.
Figures only: nothing is asserted, but a step that fails stops the run.
"""

from __future__ import annotations

import argparse
import resource
import tempfile
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from functools import partial
from pathlib import Path

from eventsourcing.domain import Aggregate
from rich.console import Console
from rich.progress import Progress
from rich.table import Table

from application.authorization import SYSTEM, Principal, Role
from application.billing_runs import RunRequest, RunSummary
from application.ingestion import ReadingItem
from bench.billing import (
    AFTER_SEASON,
    CLERK,
    DEVICE,
    SEASON,
    SEASON_DECREE,
    TERMS,
    _bench_settings,
    analyze,
    area_of,
    changes_owner,
    is_suspended,
)
from bench.ingest import _admin_connection, _progress, backends_to_measure, bench_console, store_settings
from domain.billing import BillKind
from domain.day_split import BUSINESS_TIME_ZONE
from domain.household import Household
from domain.meter import Meter
from domain.payment import PaymentChannel
from domain.readings import ReadingValues
from domain.tariff import CITY_SCOPE
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
from infrastructure.settings import Backend, Settings

REGISTERED_ON = date(2025, 9, 1)
COMMISSIONED_AT = datetime(2025, 10, 1, tzinfo=UTC)
SUSPENDED_ON = date(2025, 10, 20)
OWNER_CHANGED_ON = date(2026, 1, 16)
BUILDINGS_PER_COMMUNITY = 10
ENTRANCES = 4
SETUP_SAVE = 1_000  # aggregates per save while registering
READING_BATCH = 5_000
PROGRESS_EVERY = 1_000
MONTHS = ("2025-11", "2025-12", "2026-01", "2026-02", "2026-03")
CASHIER = Principal("bench-cashier", Role.CLERK)
# The city, to which every step is scaled.
CITY_HOUSEHOLDS = 100_000
CITY_HOURLY_SHARE = 0.10
TARGET_MINUTES = 30
# Colder months draw more heat: a factor on each household's daily draw, per calendar month.
MONTH_FACTORS = {11: Decimal("0.8"), 12: Decimal("1.1"), 1: Decimal("1.25"), 2: Decimal("1.1"), 3: Decimal("0.75")}


@dataclass(frozen=True)
class City:
    households: int
    buildings: int
    hourly_share: float
    hourly_days: int
    payers: float

    @property
    def per_building(self) -> int:
        return -(-self.households // self.buildings)

    def is_hourly(self, number: int) -> bool:
        # Spread over the buildings: every k-th household, k = 1 / share.
        return self.hourly_share > 0 and number % round(1 / self.hourly_share) == 0

    def pays(self, number: int) -> bool:
        return number % 100 < round(self.payers * 100)

    @property
    def hourly_from(self) -> date:
        """The first day read hourly (the season's last ``hourly_days`` days)."""
        return SEASON.last_day - timedelta(days=self.hourly_days - 1)

    def readings(self) -> int:
        """How many readings step 2 records."""
        return reading_count(self.households, self.hourly_share, self.hourly_days)


def reading_count(households: int, hourly_share: float, hourly_days: int) -> int:
    days = (SEASON.last_day - SEASON.first_day).days + 2  # midnights, the closing one included
    hourly = round(households * hourly_share)
    return households * days + hourly * hourly_days * 23  # an hourly day adds 23 readings


def account_of(number: int) -> str:
    return f"CITY-{number:06d}"


def serial_of(number: int) -> str:
    return f"CM-{number:06d}"


def daily_gj(number: int, day: date) -> Decimal:
    """A household's heat on a day: 0.0018–0.0030 GJ per m², by the month's cold; none while suspended."""
    if is_suspended(number):
        return Decimal(0)
    per_m2_day = Decimal("0.0018") + Decimal(number % 13) / 10_000
    return area_of(number) * per_m2_day * MONTH_FACTORS[day.month]


def place_of(city: City, number: int) -> tuple[Address, Position]:
    building, in_building = divmod(number, city.per_building)
    community = building // BUILDINGS_PER_COMMUNITY
    floors = -(-city.per_building // (ENTRANCES * 2))
    entrance, in_entrance = divmod(in_building, floors * 2)
    floor, flat = divmod(in_entrance, 2)
    floor += 1
    vertical = (
        VerticalPosition.TOP if floor == floors else VerticalPosition.BOTTOM if floor == 1 else VerticalPosition.MIDDLE
    )
    horizontal = HorizontalPosition.WEST_END if flat == 0 and entrance == 0 else HorizontalPosition.MIDDLE
    address = Address(f"City-{community + 1:03d}", str(building + 1), str(entrance + 1), floor, f"{floor}0{flat + 1}")
    return address, Position(vertical, horizontal)


# -- the steps --------------------------------------------------------------------------------


def register(container: Container, city: City, tick: Callable[[int], None]) -> int:
    """Households and meters by the domain's commands, ``SETUP_SAVE`` aggregates per save."""
    aggregates: list[Aggregate] = []
    for number in range(city.households):
        aggregates += city_household(city, number)
        if len(aggregates) >= SETUP_SAVE or number + 1 == city.households:
            container.ledger.save(*aggregates)
            aggregates = []
            tick(number + 1)
    return city.households


def city_household(city: City, number: int) -> tuple[Household, Meter]:
    """Household ``number`` registered, its meter commissioned, the two attached, and the
    household suspended before the season or passed to a new holder in it as ``number`` says.
    One context (one correlation id) for both aggregates: the legacy system's record of one
    household migrated. (One context for the whole city tied 200,000 aggregates to one
    correlation id.)"""
    context = CommandContext("bench-city", "migration from the legacy billing system", uuid.uuid4())
    address, position = place_of(city, number)
    area = area_of(number)
    household = Household.register(
        account_of(number),
        address,
        Areas(area, area - Decimal(number % 5)),
        CustomerClass.RESIDENTIAL,
        position,
        REGISTERED_ON,
        context,
    )
    meter = Meter.commission(
        serial_of(number),
        "Bench",
        "B1",
        AccuracyClass.CLASS_2,
        FlowSensorSide.RETURN,
        MeterKind.HOUSEHOLD,
        COMMISSIONED_AT,
        context,
    )
    meter.attach_to(household.id, COMMISSIONED_AT, context)
    household.attach_meter(meter.id, meter.serial, COMMISSIONED_AT, context)
    if is_suspended(number):
        household.suspend_heating(SUSPENDED_ON, context)
    if changes_owner(number):
        household.change_owner(OWNER_CHANGED_ON, context)
    return household, meter


def _midnight(day: date) -> datetime:
    return datetime(day.year, day.month, day.day, tzinfo=BUSINESS_TIME_ZONE).astimezone(UTC)


def reading_batches(city: City) -> Iterator[list[ReadingItem]]:
    """Every meter at each local midnight, the hourly ones every hour of their hourly days, in time
    order, in batches of at most ``READING_BATCH`` (generated as they are recorded)."""
    registers = [Decimal(100 + number % 500) for number in range(city.households)]
    hourly = [number for number in range(city.households) if city.is_hourly(number)]
    batch: list[ReadingItem] = []
    day = SEASON.first_day
    while day <= SEASON.last_day + timedelta(days=1):
        midnight = _midnight(day)
        for number in range(city.households):
            batch.append(_item(number, midnight, registers[number]))
            if len(batch) == READING_BATCH:
                yield batch
                batch = []
        if day > SEASON.last_day:
            break
        for number in range(city.households):
            registers[number] += daily_gj(number, day).quantize(Decimal("0.001"))
        if day >= city.hourly_from:
            for hour in range(1, 24):
                at = midnight + timedelta(hours=hour)
                for number in hourly:
                    share = daily_gj(number, day) * hour / 24
                    batch.append(_item(number, at, registers[number] - daily_gj(number, day) + share))
                    if len(batch) == READING_BATCH:
                        yield batch
                        batch = []
        day += timedelta(days=1)
    if batch:
        yield batch


def _item(number: int, at: datetime, register_gj: Decimal) -> ReadingItem:
    return ReadingItem(
        serial_of(number), ReadingValues(at, register_gj.quantize(Decimal("0.001")), source=ReadingSource.NBIOT)
    )


def record_readings(container: Container, city: City, tick: Callable[[int], None]) -> int:
    recorded = 0
    for batch in reading_batches(city):
        report = container.ledger.record_readings(DEVICE, batch, "benchmark")
        if report.accepted != len(batch):
            reasons = Counter(outcome.reason for outcome in report.outcomes if outcome.reason)
            raise RuntimeError(f"the city's readings were not all accepted: {dict(reasons)}")
        recorded += len(batch)
        tick(recorded)
    return recorded


def analyze_store(container: Container) -> int:
    """``ANALYZE`` on PostgreSQL, as autovacuum would have run it (bench.billing's)."""
    analyze(container)
    return 1


def tariff_and_season(container: Container) -> int:
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
    return 2


def billing_run(container: Container, request: RunRequest, tick: Callable[[int], None]) -> RunSummary:
    summary = container.billing_runs.run(CLERK, request, lambda done, total: tick(done))
    if summary.exceptions:
        reasons = Counter(exception.message_key for exception in summary.exceptions)
        raise RuntimeError(f"the {request.kind.value} run had exceptions: {dict(reasons)}")
    return summary


def bills_of_run(container: Container, request: RunRequest, tick: Callable[[int], None]) -> int:
    return billing_run(container, request, tick).bills_issued


def payments(container: Container, city: City, tick: Callable[[int], None]) -> int:
    paid = 0
    for number in range(city.households):
        if not city.pays(number):
            continue
        amount = (area_of(number) * TERMS.price.area_price_yuan_per_m2).quantize(Decimal("0.01"))
        container.payments.receive_at_counter(
            CASHIER, account_of(number), amount, PaymentChannel.CASH, f"CITY-R-{number:06d}"
        )
        paid += 1
        if paid % PROGRESS_EVERY == 0:
            tick(number + 1)
    tick(city.households)
    return paid


# -- running ----------------------------------------------------------------------------------


@dataclass
class Step:
    name: str
    made: int  # households, readings, bills, payments
    unit: str
    seconds: float
    catch_up_seconds: float
    catch_up_events: int
    scales_with_readings: bool = False
    cpu_seconds: float = 0.0  # this process's (on PostgreSQL the server's are not in it)
    catch_up_cpu_seconds: float = 0.0

    @property
    def wall_seconds(self) -> float:
        return self.seconds + self.catch_up_seconds

    def city_seconds(self, city: City) -> float:
        """The step's wall time scaled linearly to the issue's city."""
        if self.scales_with_readings:
            factor = reading_count(CITY_HOUSEHOLDS, CITY_HOURLY_SHARE, SEASON.days) / city.readings()
        else:
            factor = CITY_HOUSEHOLDS / city.households
        return self.wall_seconds * factor


@dataclass
class Run:
    city: City
    backend: Backend
    steps: list[Step] = field(default_factory=list)
    events: int = 0
    database_bytes: int = 0
    peak_rss_mb: float = 0.0


def _step(
    run: Run,
    container: Container,
    progress: Progress,
    name: str,
    unit: str,
    total: int | None,
    work: Callable[[Callable[[int], None]], int],
    scales_with_readings: bool = False,
) -> None:
    task = progress.add_task(name, total=total)
    started, cpu_started = time.perf_counter(), time.process_time()
    made = work(lambda done: progress.update(task, completed=done))
    seconds, cpu_seconds = time.perf_counter() - started, time.process_time() - cpu_started
    progress.update(task, completed=total or made, total=total or made)
    caught = progress.add_task(f"{name}: read-model catch-up", total=None)
    started, cpu_started = time.perf_counter(), time.process_time()
    events = container.runner.catch_up(
        progress=lambda done, target: progress.update(caught, completed=done, total=target)
    )
    catch_up_seconds, catch_up_cpu = time.perf_counter() - started, time.process_time() - cpu_started
    step = Step(name, made, unit, seconds, catch_up_seconds, events, scales_with_readings, cpu_seconds, catch_up_cpu)
    run.steps.append(step)
    progress.console.print(
        f"{name}: {made:,} {unit} in {seconds:.1f} s ({cpu_seconds:.1f} CPU s), catch-up {events:,} events in "
        f"{catch_up_seconds:.1f} s ({catch_up_cpu:.1f} CPU s; {events / max(catch_up_cpu, 1e-9):,.0f} events/CPU s) "
        f"(peak RSS {_peak_rss_mb():,.0f} MB)"
    )


def _peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def run_city(settings: Settings, city: City, progress: Progress) -> Run:
    run = Run(city, settings.backend)
    container = bootstrap(_bench_settings(settings))
    try:
        container.ledger.clock = lambda: AFTER_SEASON
        _step(
            run,
            container,
            progress,
            "households and meters",
            "households",
            city.households,
            lambda tick: register(container, city, tick),
        )
        _step(
            run,
            container,
            progress,
            "readings",
            "readings",
            city.readings(),
            lambda tick: record_readings(container, city, tick),
            scales_with_readings=True,
        )
        # The development server runs with autovacuum off, so nothing gave the planner the season's
        # statistics: without them (2,000 households, 2026-12-05) the statements' runs took 3-5
        # times their own CPU in wall time and the settlement 5 times (22 s, 4.4 CPU s); after
        # ANALYZE 1.9-2.8 times and 4 times (14 s), at a higher load. A server in service has
        # them from autovacuum.
        _step(run, container, progress, "planner statistics", "ANALYZE", None, lambda tick: analyze_store(container))
        _step(run, container, progress, "season and tariff", "decrees", None, lambda tick: tariff_and_season(container))
        requests = [RunRequest(BillKind.PREPAYMENT, SEASON)]
        requests += [RunRequest(BillKind.STATEMENT, SEASON, month=month) for month in MONTHS]
        requests += [RunRequest(BillKind.SETTLEMENT, SEASON)]
        for request in requests:
            name = request.kind.value + (f" {request.month}" if request.month else "")
            _step(
                run,
                container,
                progress,
                name,
                "bills",
                city.households,
                partial(bills_of_run, container, request),
            )
        _step(
            run,
            container,
            progress,
            "payments",
            "payments",
            city.households,
            lambda tick: payments(container, city, tick),
        )
        run.events = int(container.ledger.recorder.max_notification_id() or 0)
        run.database_bytes = _database_bytes(settings)
    finally:
        container.close()
    run.peak_rss_mb = _peak_rss_mb()
    return run


def _database_bytes(settings: Settings) -> int:
    if settings.backend is Backend.SQLITE:
        return sum(path.stat().st_size for path in Path(settings.data_dir).glob("*") if path.is_file())
    with _admin_connection() as connection:
        return int(connection.execute("SELECT pg_database_size(%s)", (settings.postgres_dbname,)).fetchone()[0])


def report(console: Console, run: Run) -> None:
    city = run.city
    title = (
        f"City on {run.backend.value}: {city.households:,} households in {city.buildings:,} buildings, "
        f"{city.hourly_share:.0%} hourly over {city.hourly_days} days, {city.payers:.0%} paying"
    )
    table = Table(title=title)
    for column in ("step", "made", "seconds (CPU)", "catch-up s (CPU)", "wall s", "per second", "city* min"):
        table.add_column(column, justify="left" if column == "step" else "right")
    slowest = max(run.steps, key=lambda step: step.wall_seconds)
    for step in run.steps:
        style = "bold" if step is slowest else None
        table.add_row(
            step.name,
            f"{step.made:,} {step.unit}",
            f"{step.seconds:.1f} ({step.cpu_seconds:.1f})",
            f"{step.catch_up_seconds:.1f} ({step.catch_up_cpu_seconds:.1f}; {step.catch_up_events:,} ev)",
            f"{step.wall_seconds:.1f}",
            f"{step.made / step.wall_seconds:,.0f}",
            f"{step.city_seconds(city) / 60:.1f}",
            style=style,
        )
    total = sum(step.wall_seconds for step in run.steps)
    city_total = sum(step.city_seconds(city) for step in run.steps)
    table.add_row("total", "", "", "", f"{total:.1f}", "", f"{city_total / 60:.1f}", end_section=True)
    console.print(table)
    console.print(
        f"total wall {total / 60:.1f} min; slowest step: {slowest.name} ({slowest.wall_seconds:.1f} s, "
        f"{slowest.wall_seconds / total:.0%}); events stored {run.events:,}; database size "
        f"{run.database_bytes / 2**30:.2f} GiB ({run.database_bytes / max(run.events, 1):,.0f} bytes an event); "
        f"readings {city.readings():,}; peak RSS {run.peak_rss_mb:,.0f} MB"
    )
    city_readings = reading_count(CITY_HOUSEHOLDS, CITY_HOURLY_SHARE, SEASON.days)
    console.print(
        f"* city: each step's wall time scaled linearly to {CITY_HOUSEHOLDS:,} households with daily readings and "
        f"{CITY_HOURLY_SHARE:.0%} hourly all season ({city_readings:,} "
        f"readings; the readings step by readings, the others by households): {city_total / 60:.0f} min against "
        f"the {TARGET_MINUTES}-minute target"
    )


def parse_arguments(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--households", type=int, default=CITY_HOUSEHOLDS)
    parser.add_argument("--buildings", type=int, default=500)
    parser.add_argument("--hourly-share", type=float, default=CITY_HOURLY_SHARE)
    parser.add_argument("--hourly-days", type=int, default=SEASON.days, help="the season's last days read hourly")
    parser.add_argument("--payers", type=float, default=0.7)
    parser.add_argument("--backend", choices=("sqlite", "postgres"), default="postgres")
    arguments = parser.parse_args(argv)
    if not 1 <= arguments.households <= 1_000_000 or not 1 <= arguments.buildings <= arguments.households:
        parser.error("--households in 1…1,000,000 and --buildings in 1…households")
    if not 0 <= arguments.hourly_share <= 1 or not 0 <= arguments.payers <= 1:
        parser.error("--hourly-share and --payers lie in 0…1")
    if not 0 <= arguments.hourly_days <= SEASON.days:
        parser.error(f"--hourly-days lies in 0…{SEASON.days}")
    return arguments


def main(argv: list[str] | None = None) -> None:
    arguments = parse_arguments(argv)
    console = bench_console()
    city = City(
        arguments.households, arguments.buildings, arguments.hourly_share, arguments.hourly_days, arguments.payers
    )
    backends = backends_to_measure(arguments.backend, console)
    if not backends:
        return
    started = datetime.now(UTC)
    with (
        tempfile.TemporaryDirectory(prefix="heatledger-bench-city-") as folder,
        _progress(console) as progress,
        store_settings(backends[0], Path(folder), "city") as settings,
    ):
        run = run_city(settings, city, progress)
    report(console, run)
    console.print(f"Measured from {started:%Y-%m-%d %H:%M} to {datetime.now(UTC):%H:%M} UTC.")


if __name__ == "__main__":
    main()
