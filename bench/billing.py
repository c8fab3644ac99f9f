"""Billing benchmark: a city's settlement run against its inputs alone and the bare eventsourcing library.

Run ``python -m bench.billing`` (or ``python bench/billing.py``) with ``--households`` and
``--backend sqlite|postgres|both``. For each backend, in one process:

set-up (not timed, with progress): a fresh store; the households (communities of about 1,000,
buildings of 48, 60–140 m², varied positions) registered through ``HeatLedger.register_household``,
one household meter each, commissioned and attached; midnight readings (Asia/Shanghai) on the
season's first day, the 1st of each month and the closing midnight of 1 April, in batches of at most
5,000; about 3 % of the households suspended (报停) before the season and 2 % passing to a new holder
in the middle of it; a city-wide tariff; one projection catch-up. Then the prepayment run, timed
(bills/s), and a catch-up of its bills.

Timed, in this order:

a. inputs alone: what the run reads from the read models, as it reads it: every household
   (``SqlBillingInputs.households``), then per chunk of 250 ``season_records`` and ``meter_evidence``
   over the season;
b. the settlement run: ``BillingRuns.run`` of kind SETTLEMENT over the city (it reads the same inputs
   and loads, settles and saves the billing periods a chunk of 250 at a time);
c. bare: a minimal ``Aggregate`` whose one event carries a Decimal amount and a few dict lines (the
   fields of a bill), created per household and saved in the same chunks of 250 by a bare
   ``Application`` on its own fresh store of the same backend.

It prints a table per backend: households/s of the inputs alone, bills/s of the settlement and of
the bare save, the ratios settlement / inputs-alone time and ours / bare rate, the prepayment's
bills/s and the settlement's totals. PostgreSQL is used when it answers at 127.0.0.1:5432 (trust
auth, user postgres), as in ``bench.ingest``. Figures only: nothing is asserted.
"""

from __future__ import annotations

import argparse
import tempfile
import time
import uuid
from collections import Counter
from collections.abc import Callable
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
from application.transcodings import DateAsISO
from bench.ingest import _progress, backends_to_measure, store_settings
from domain.billing import BillKind
from domain.day_split import BUSINESS_TIME_ZONE
from domain.readings import ReadingValues
from domain.season import Season
from domain.settlement import PositionCorrection, SettlementPolicy, TwoPartPrice
from domain.tariff import TariffTerms
from domain.values import (
    AccuracyClass,
    Address,
    Areas,
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
from infrastructure.settings import Backend, Settings
from projections.billing_inputs import SqlBillingInputs

SEASON = Season.default_starting(2025)
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
PROGRESS_EVERY = 100
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


def _area(number: int) -> Decimal:
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


def reading_batches(households: int) -> list[list[ReadingItem]]:
    """Each meter's register at each reading midnight, in batches of at most ``READING_BATCH``:
    0.0018–0.0030 GJ per m² a day (about 0.3–0.45 GJ/m² a season), nothing while suspended."""
    registers = [Decimal(100 + number % 500) for number in range(households)]
    batches: list[list[ReadingItem]] = []
    for index, day in enumerate(READING_DAYS):
        if index > 0:
            days = (day - READING_DAYS[index - 1]).days
            for number in range(households):
                if is_suspended(number):
                    continue
                per_m2_day = Decimal("0.0018") + Decimal(number % 13) / 10_000
                increase = _area(number) * per_m2_day * days * MONTH_FACTORS[index - 1]
                registers[number] += increase.quantize(Decimal("0.001"))
        measured_at = _midnight(day)
        items = [
            ReadingItem(serial_of(number), ReadingValues(measured_at, registers[number], source=ReadingSource.NBIOT))
            for number in range(households)
        ]
        batches += [items[start : start + READING_BATCH] for start in range(0, len(items), READING_BATCH)]
    return batches


def set_up(container: Container, households: int, progress: Progress, label: str) -> None:
    """Households, meters, readings, suspensions, owner changes and the tariff, then one catch-up."""
    ledger = container.ledger
    task = progress.add_task(f"{label}: households, meters", total=households)
    for number in range(households):
        account, serial = account_of(number), serial_of(number)
        address, position = _address_and_position(number)
        area = _area(number)
        ledger.register_household(
            SYSTEM,
            account,
            address,
            Areas(area, area - Decimal(number % 5)),
            CustomerClass.RESIDENTIAL,
            position,
            REGISTERED_ON,
        )
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
        if (number + 1) % PROGRESS_EVERY == 0 or number + 1 == households:
            progress.update(task, completed=number + 1)
    batches = reading_batches(households)
    task = progress.add_task(f"{label}: readings", total=sum(len(batch) for batch in batches))
    for batch in batches:
        report = ledger.record_readings(DEVICE, batch, "benchmark")
        if report.accepted != len(batch):
            reasons = Counter(outcome.reason for outcome in report.outcomes if outcome.reason)
            raise RuntimeError(f"the benchmark's readings were not all accepted: {dict(reasons)}")
        progress.advance(task, len(batch))
    for number in range(households):
        if changes_owner(number):
            ledger.change_owner(SYSTEM, account_of(number), OWNER_CHANGED_ON, "过户 with the sale of the flat")
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
        area = _area(number)
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


# -- running and reporting --------------------------------------------------------------------


@dataclass(frozen=True)
class Figures:
    backend: Backend
    households: int
    setup_seconds: float
    prepayment_seconds: float
    prepayment: RunSummary
    inputs_seconds: float
    inputs_households: int
    settlement_seconds: float
    settlement: RunSummary
    bare_seconds: float
    bare_bills: int

    @property
    def inputs_rate(self) -> float:
        return self.inputs_households / self.inputs_seconds

    @property
    def settlement_rate(self) -> float:
        return self.settlement.bills_issued / self.settlement_seconds

    @property
    def bare_rate(self) -> float:
        return self.bare_bills / self.bare_seconds

    @property
    def prepayment_rate(self) -> float:
        return self.prepayment.bills_issued / self.prepayment_seconds


def _bench_settings(settings: Settings) -> Settings:
    """The store's settings without a catch-up after every save (the bench catches up itself)."""
    return settings.model_copy(update={"catch_up_after_command": False})


def measure(backend: Backend, households: int, payloads: list[dict[str, Any]], console: Console) -> Figures:
    label = backend.value
    with tempfile.TemporaryDirectory(prefix="heatledger-bench-") as folder, _progress(console) as progress:
        scratch = Path(folder)
        with store_settings(backend, scratch, "ours") as settings:
            container = bootstrap(_bench_settings(settings))
            try:
                container.ledger.clock = lambda: AFTER_SEASON
                started = time.perf_counter()
                set_up(container, households, progress, label)
                setup_seconds = time.perf_counter() - started
                prepayment_seconds, prepayment = run_billing(container, BillKind.PREPAYMENT, progress, label)
                catch_up(container, progress, f"{label}: catch-up of the prepayment")
                inputs_seconds, inputs_households = read_inputs(SqlBillingInputs(container.engine), progress, label)
                settlement_seconds, settlement = run_billing(container, BillKind.SETTLEMENT, progress, label)
            finally:
                container.close()
        with store_settings(backend, scratch, "bare") as settings:
            task = progress.add_task(f"{label}: bare eventsourcing", total=len(payloads))
            bare_seconds = run_bare(
                event_store_environment(settings), payloads, lambda done: progress.update(task, completed=done)
            )
    return Figures(
        backend,
        households,
        setup_seconds,
        prepayment_seconds,
        prepayment,
        inputs_seconds,
        inputs_households,
        settlement_seconds,
        settlement,
        bare_seconds,
        len(payloads),
    )


def report(console: Console, figures: Figures) -> None:
    settlement, prepayment = figures.settlement, figures.prepayment
    table = Table(title=f"Billing {figures.households:,} households on {figures.backend.value}, chunks of {CHUNK_SIZE}")
    for column in ("measure", "of", "seconds", "per second"):
        table.add_column(column, justify="left" if column == "measure" else "right", no_wrap=True)
    table.add_row(
        "(a) inputs alone",
        f"{figures.inputs_households:,} households",
        f"{figures.inputs_seconds:.2f}",
        f"{figures.inputs_rate:,.0f} households/s",
    )
    table.add_row(
        "(b) settlement run",
        f"{settlement.bills_issued:,} bills",
        f"{figures.settlement_seconds:.2f}",
        f"{figures.settlement_rate:,.0f} bills/s",
    )
    table.add_row(
        "(c) bare save",
        f"{figures.bare_bills:,} bills",
        f"{figures.bare_seconds:.2f}",
        f"{figures.bare_rate:,.0f} bills/s",
        end_section=True,
    )
    table.add_row("(b) ÷ (a) time", "", f"{figures.settlement_seconds / figures.inputs_seconds:.2f}×", "")
    table.add_row("ours ÷ bare rate", "", "", f"{figures.settlement_rate / figures.bare_rate:.3f}", end_section=True)
    table.add_row(
        "prepayment run",
        f"{prepayment.bills_issued:,} bills",
        f"{figures.prepayment_seconds:.2f}",
        f"{figures.prepayment_rate:,.0f} bills/s",
    )
    table.add_row("set-up (untimed)", f"{figures.households:,} households", f"{figures.setup_seconds:.1f}", "")
    console.print(table)
    bases = ", ".join(f"{basis} {count:,}" for basis, count in sorted(settlement.by_basis.items()))
    exceptions = Counter(exception.message_key for exception in settlement.exceptions)
    console.print(
        f"{figures.backend.value} settlement: {settlement.households:,} households, "
        f"{settlement.bills_issued:,} bills ({bases}); charged {settlement.charged_yuan:,} 元, "
        f"credited {settlement.credited_yuan:,} 元, already issued {settlement.already_issued:,}, "
        f"exceptions {len(settlement.exceptions):,}" + (f" {dict(exceptions)}" if exceptions else "")
    )
    console.print(
        f"{figures.backend.value} prepayment: {prepayment.households:,} households, "
        f"{prepayment.bills_issued:,} bills, charged {prepayment.charged_yuan:,} 元, "
        f"exceptions {len(prepayment.exceptions):,}"
    )


def parse_arguments(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--households", type=int, default=10_000, help="households, one meter each")
    parser.add_argument("--backend", choices=("sqlite", "postgres", "both"), default="both")
    arguments = parser.parse_args(argv)
    if not 1 <= arguments.households <= 300_000:
        parser.error("--households must lie in 1…300,000")
    return arguments


def main(argv: list[str] | None = None) -> None:
    arguments = parse_arguments(argv)
    console = Console()
    backends = backends_to_measure(arguments.backend, console)
    payloads = bare_payloads(arguments.households)
    for backend in backends:
        report(console, measure(backend, arguments.households, payloads, console))


if __name__ == "__main__":
    main()
