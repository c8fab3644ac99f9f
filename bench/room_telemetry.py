"""Room telemetry catch-up benchmark (issue 14): how fast the ledger projection turns recorded room
controller reports into its read models (room temperatures and valve hours per household and
day, device health), beside the same projection written one report at a time.

Run ``python -m bench.room_telemetry`` with ``--controllers`` (200), ``--reports`` (20,000) and
``--backend sqlite|postgres|both``. Set-up (not timed): a fresh store (a SQLite file, or a
throw-away PostgreSQL database), the controllers installed in households of their own, and the
reports recorded as a gateway records them (batches of 1,000, in time order across the
controllers, one an hour each: temperatures, a valve-open counter that grows, battery, signal).

Timed, each on the same store, each a rebuild of the whole ledger projection in this warm process
(the households' and installations' few events included; the reports are nearly all of them):

1. batched: ``ProjectionRunner.rebuild`` as it runs (batches of 500 events doubling to 5,000; a
   batch's reports written together by ``RoomTelemetryWriter``);
2. one at a time: the same rebuild with each report written alone (the writer flushed after every
   report: a look-up and a write per table per report, as the projection worked before it was
   batched), the baseline.

It prints reports/s of both, CPU seconds beside wall seconds (the machine may be shared; on
PostgreSQL the server's work is not in the CPU figure) and the ratio; the rows of both are compared
and must be equal. Figures only: nothing is asserted beyond that.
"""

from __future__ import annotations

import argparse
import contextlib
import tempfile
import time
from collections.abc import Sequence
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table
from sqlalchemy import Connection, select

from application.authorization import Principal, Role
from application.valves import MAXIMUM_REPORT_BATCH, ReportItem
from bench.ingest import backends_to_measure, store_settings
from domain.values import Address, Areas, CustomerClass, HorizontalPosition, Position, VerticalPosition
from domain.valve import DeviceReport, ReportSource, RoomController
from infrastructure.container import Container, bootstrap
from infrastructure.settings import Backend
from projections.ledger_projection import LedgerProjection
from projections.room_telemetry import ROOM_TELEMETRY_HANDLERS, ROOM_TELEMETRY_TABLES
from projections.runner import ProjectionRunner

CLERK = Principal("bench", Role.CLERK)
GATEWAY = Principal("gateway:bench", Role.DEVICE)
START = datetime(2025, 11, 15, tzinfo=UTC)


class ReportByReport(LedgerProjection):
    """The ledger projection with every report written alone (the baseline)."""

    def apply_batch(self, connection: Connection, domain_events: Sequence[Any], **options: Any) -> None:
        others: list[Any] = []
        write_one = ROOM_TELEMETRY_HANDLERS[RoomController.ReportRecorded]
        for domain_event in domain_events:
            if isinstance(domain_event, RoomController.ReportRecorded):
                super().apply_batch(connection, others, **options)
                others = []
                write_one(connection, domain_event)
            else:
                others.append(domain_event)
        super().apply_batch(connection, others, **options)


def set_up(container: Container, controllers: int, reports: int) -> None:
    """Households with a controller each, and ``reports`` reports recorded in time order."""
    for number in range(1, controllers + 1):
        account = f"RT-{number:06d}"
        container.ledger.register_household(
            CLERK,
            account,
            Address("BENCH", str(number // 100 + 1), "1", 1, f"{number % 100 + 1:03d}"),
            Areas(Decimal("90.00"), Decimal("90.00")),
            CustomerClass.RESIDENTIAL,
            Position(VerticalPosition.MIDDLE, HorizontalPosition.MIDDLE),
            date(2025, 10, 1),
        )
        container.room_controllers.install(f"RC-{number:06d}", account, 5, CLERK)
    items = [_report(number, controllers) for number in range(reports)]
    for start in range(0, len(items), MAXIMUM_REPORT_BATCH):
        container.room_controllers.record_reports(items[start : start + MAXIMUM_REPORT_BATCH], GATEWAY)


def _report(number: int, controllers: int) -> ReportItem:
    hour = number // controllers
    device = number % controllers
    report = DeviceReport(
        report_id=f"R-{number}",
        measured_at=START + timedelta(hours=hour, minutes=device % 60),
        room_temperature_c=Decimal(160 + (number * 7) % 60) / 10,
        humidity_percent=Decimal(40),
        set_temperature_c=Decimal(20),
        valve_gear=3,
        valve_state="partial",
        valve_open_hours_total=Decimal(hour * 6 // 10) + Decimal(device % 7),
        signal_dbm=-70 - device % 30,
        battery_percent=95 - hour // 100,
    )
    return ReportItem(f"RC-{device + 1:06d}", report, ReportSource.MQTT)


def timed_rebuild(container: Container, projection: LedgerProjection) -> tuple[float, float, dict[str, Any]]:
    """Wall and CPU seconds of a rebuild, and the rows it left."""
    runner = ProjectionRunner(container.ledger, container.engine, projection)
    cpu_before, started = time.process_time(), time.perf_counter()
    runner.rebuild()
    wall, cpu = time.perf_counter() - started, time.process_time() - cpu_before
    with container.engine.connect() as connection:
        rows = {table.name: sorted(map(tuple, connection.execute(select(table)))) for table in ROOM_TELEMETRY_TABLES}
    return wall, cpu, rows


def measure(backend: Backend, controllers: int, reports: int, console: Console) -> list[tuple[str, float, float]]:
    with tempfile.TemporaryDirectory() as folder, contextlib.ExitStack() as stack:
        store = stack.enter_context(store_settings(backend, Path(folder), "telemetry"))
        container = bootstrap(store.model_copy(update={"catch_up_after_command": False}))
        stack.callback(container.close)
        console.print(f"{backend.value}: recording {reports:,} reports of {controllers} controllers (not timed)")
        set_up(container, controllers, reports)
        batched_wall, batched_cpu, batched_rows = timed_rebuild(container, LedgerProjection())
        single_wall, single_cpu, single_rows = timed_rebuild(container, ReportByReport())
        assert batched_rows == single_rows, "the batched rows differ from the rows written one by one"
        return [("batched", batched_wall, batched_cpu), ("one report at a time", single_wall, single_cpu)]


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--controllers", type=int, default=200)
    parser.add_argument("--reports", type=int, default=20_000)
    parser.add_argument("--backend", choices=["sqlite", "postgres", "both"], default="both")
    arguments = parser.parse_args(argv)
    console = Console(highlight=False, width=120)
    table = Table(title=f"Room telemetry rebuild: {arguments.reports:,} reports of {arguments.controllers} controllers")
    for column in ("backend", "written", "wall s", "CPU s", "reports/s", "reports/CPU s", "× one at a time"):
        table.add_column(column, justify="right")
    for backend in backends_to_measure(arguments.backend, console):
        figures = measure(backend, arguments.controllers, arguments.reports, console)
        baseline_wall = figures[-1][1]
        for label, wall, cpu in figures:
            table.add_row(
                backend.value,
                label,
                f"{wall:.2f}",
                f"{cpu:.2f}",
                f"{arguments.reports / wall:,.0f}",
                f"{arguments.reports / cpu:,.0f}",
                f"{baseline_wall / wall:.1f}",
            )
    console.print(table)


if __name__ == "__main__":
    main()
