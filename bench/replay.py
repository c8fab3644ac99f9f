"""Replay benchmark: an issued settlement replayed from its events, beside reading it from the read model.

Run ``python -m bench.replay`` (``--hours`` readings, 4,368 by default: hourly from 15 October to
15 April; ``--repeats`` replays timed, 20 by default).

Set-up (not timed): a fresh SQLite store in a temporary folder (the embedded default), the city's
tariff, one household with a household meter read every hour, the season's prepayment and
settlement issued by the billing run, a suspension from 1 March recorded after them, the read
models caught up.

Timed:

1. as a user runs it: ``GET /bills/{id}/replay`` does ``BillReplays.replay`` in a server process;
   the first replay in a FRESH process (``--child``: interpreter start, imports and opening the
   store excluded and printed apart, the replay itself cold: no view, no cache) and then
   ``--repeats`` more in that process, each building its own view from the event store (what every
   request does): p50 and p95;
2. ``GET /bills/{id}/recompute`` (``BillReplays.recompute``): the replay, then the suspension
   recorded since walked as a cause (a second dry run);
3. for comparison, the replay over the projected view (``projected_view``: the household's events
   projected into read models in a database, the design before the billing fold);
4. the baseline, in the same process: the same bill read from the billing read model
   (``BillingQueries.bill``, what ``GET /bills/{id}`` does): p50 and p95, and the ratio.

Wall time is what a user waits; on a machine shared with other work it includes waiting for a
core, so each row also gives the process's CPU time (equal to the wall time on an idle machine).
Figures only: nothing is asserted.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from application.authorization import SYSTEM
from application.billing_runs import RunRequest
from application.ingestion import ReadingItem
from domain.billing import BillKind
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
from infrastructure.bill_replay import BillReplays, projected_view
from infrastructure.container import Container, bootstrap
from infrastructure.settings import Backend, Environment, Settings
from projections.billing_queries import BillingQueries

SEASON = Season.default_starting(2025)
FIRST_READING = datetime(2025, 10, 15, tzinfo=UTC)
AFTER_SEASON = datetime(2026, 4, 20, tzinfo=UTC)
BATCH = 1_000
SUSPENDED_FROM = date(2026, 3, 1)


def settings_for(folder: Path) -> Settings:
    return Settings(environment=Environment.DEVELOPMENT, backend=Backend.SQLITE, data_dir=folder)


def build_store(folder: Path, hours: int) -> str:
    """The household's hourly season, prepaid and settled; returns the settlement's bill id."""
    container = bootstrap(settings_for(folder))
    try:
        container.ledger.clock = lambda: AFTER_SEASON
        _household_with_meter(container)
        readings = [
            ReadingItem(
                "HM-1",
                ReadingValues(
                    FIRST_READING + timedelta(hours=hour),
                    Decimal(100) + Decimal("0.0075") * hour,
                    source=ReadingSource.MANUAL,
                ),
            )
            for hour in range(hours)
        ]
        for start in range(0, hours, BATCH):
            report = container.ledger.record_readings(SYSTEM, readings[start : start + BATCH])
            assert report.accepted == len(readings[start : start + BATCH]), "every reading is accepted"
        _publish(container)
        for kind in (BillKind.PREPAYMENT, BillKind.SETTLEMENT):
            container.billing_runs.run(SYSTEM, RunRequest(kind, SEASON))
        # Recorded after the bills: the replay leaves it out, the recompute finds it as a cause.
        container.ledger.suspend_heating(SYSTEM, "BGY-1", SUSPENDED_FROM, "报停, recorded after the settlement")
        container.catch_up()
        (bill,) = container.billing.period("BGY-1", SEASON).issued(BillKind.SETTLEMENT)
        return str(bill.bill_id)
    finally:
        container.close()


def _household_with_meter(container: Container) -> None:
    ledger = container.ledger
    ledger.register_household(
        SYSTEM,
        "BGY-1",
        Address("碧桂园", "1", "1", 6, "601"),
        Areas(Decimal("98.50"), Decimal("98.50")),
        CustomerClass.RESIDENTIAL,
        Position(VerticalPosition.MIDDLE, HorizontalPosition.MIDDLE),
        date(2025, 1, 1),
    )
    ledger.commission_meter(
        SYSTEM,
        "HM-1",
        "Kamstrup",
        "Multical 603",
        AccuracyClass.CLASS_2,
        FlowSensorSide.RETURN,
        MeterKind.HOUSEHOLD,
        FIRST_READING - timedelta(days=1),
    )
    ledger.attach_meter(SYSTEM, "BGY-1", "HM-1", FIRST_READING - timedelta(days=1))


def _publish(container: Container) -> None:
    price = TwoPartPrice(
        Decimal("21.6"),
        Decimal(30),
        Decimal("43.9"),
        SettlementPolicy.BOTH_WAYS,
        position_correction=PositionCorrection.NONE,
    )
    container.billing.publish_tariff(
        SYSTEM,
        CustomerClass.RESIDENTIAL,
        "*",
        TariffTerms(price),
        date(2025, 10, 1),
        None,
        "许发改价格〔2025〕7号",
        date(2025, 9, 20),
    )


def child(folder: Path, bill_id: str, repeats: int) -> dict[str, Any]:
    """In a fresh process: open the store, replay cold once, then ``repeats`` times; recompute,
    replay over the projected view and read the bill from the read model as often."""
    from uuid import UUID

    started = time.perf_counter()
    container = bootstrap(settings_for(folder))
    opened_s = time.perf_counter() - started
    target = UUID(bill_id)
    cold_started = time.perf_counter()
    first = BillReplays(container.ledger, container.engine).replay(target)
    cold_s = time.perf_counter() - cold_started

    def replay() -> None:
        assert BillReplays(container.ledger, container.engine).replay(target).matches == first.matches

    def recompute() -> None:
        outcome = BillReplays(container.ledger, container.engine).recompute(target)
        assert len(outcome.causes) == 1, "the suspension moved the bill"

    def projected() -> None:
        assert BillReplays(container.ledger, container.engine, view=projected_view).replay(target).matches

    queries = BillingQueries(container.engine)
    timed = {
        name: _timed(action, repeats)
        for name, action in (
            ("replay", replay),
            ("recompute", recompute),
            ("projected", projected),
            ("read", lambda: queries.bill(target)),
        )
    }
    container.close()
    return {"opened_s": opened_s, "cold_s": cold_s, "matches": first.matches, "events": first.events_used} | timed


def _timed(action: Any, repeats: int) -> dict[str, list[float]]:
    """Wall and CPU seconds of ``repeats`` calls."""
    wall: list[float] = []
    cpu: list[float] = []
    for _ in range(repeats):
        began, began_cpu = time.perf_counter(), time.process_time()
        action()
        wall.append(time.perf_counter() - began)
        cpu.append(time.process_time() - began_cpu)
    return {"wall_s": wall, "cpu_s": cpu}


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(share * (len(ordered) - 1))))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--hours", type=int, default=4_368)
    parser.add_argument("--repeats", type=int, default=20)
    parser.add_argument("--child", nargs=2, metavar=("FOLDER", "BILL"), help=argparse.SUPPRESS)
    arguments = parser.parse_args()
    if arguments.child:
        print(json.dumps(child(Path(arguments.child[0]), arguments.child[1], arguments.repeats)))
        return
    console = Console()
    with tempfile.TemporaryDirectory(prefix="bench-replay-") as folder:
        console.print(f"set-up: one household, {arguments.hours:,} hourly readings, prepayment and settlement …")
        bill_id = build_store(Path(folder), arguments.hours)
        command = [
            sys.executable,
            "-m",
            "bench.replay",
            "--repeats",
            str(arguments.repeats),
            "--child",
            folder,
            bill_id,
        ]
        result = json.loads(subprocess.run(command, check=True, capture_output=True, text=True).stdout)
    report(console, arguments.hours, result)


ROWS = (
    ("replay", "replay, each with its own view"),
    ("recompute", "recompute (a suspension since: two dry runs)"),
    ("projected", "for comparison: replay over the projected view"),
    ("read", "baseline: the bill from the read model"),
)


def report(console: Console, hours: int, result: dict[str, Any]) -> None:
    table = Table(title=f"Replay of a settlement: {hours:,} hourly readings, {result['events']:,} events (SQLite)")
    for column in ("what", "p50 ms", "p95 ms", "CPU p50 ms", "CPU p95 ms"):
        table.add_column(column, justify="left" if column == "what" else "right")
    table.add_row("replay, first in a fresh process (cold)", f"{result['cold_s'] * 1000:.1f}", "", "", "")
    for key, label in ROWS:
        wall, cpu = result[key]["wall_s"], result[key]["cpu_s"]
        table.add_row(
            f"{label} (n={len(wall)})",
            _ms(statistics.median(wall)),
            _ms(percentile(wall, 0.95)),
            _ms(statistics.median(cpu)),
            _ms(percentile(cpu, 0.95)),
        )
    table.add_row("ratio replay / read model (p95)", _ratio(result, "wall_s"), "", _ratio(result, "cpu_s"), "")
    console.print(table)
    console.print(f"opening the store in the fresh process (not counted above): {result['opened_s']:.2f} s")
    console.print(f"replay matches the issued bill: {result['matches']}")


def _ratio(result: dict[str, Any], kind: str) -> str:
    replay, read = percentile(result["replay"][kind], 0.95), percentile(result["read"][kind], 0.95)
    return f"{replay / max(read, 1e-9):,.0f}×"


def _ms(seconds: float) -> str:
    return f"{seconds * 1000:.1f}"


if __name__ == "__main__":
    main()
