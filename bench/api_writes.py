"""API writes benchmark (issue 16, item 8): 50 clients writing payments and readings to different
households over HTTP, with every command exclusive in the process (before) and side by side (after).

Run ``python -m bench.api_writes`` (``--clients`` 50, ``--requests`` 20 per client).

The store: ``--clients`` households, each with a household meter attached, in a fresh SQLite file
(the embedded default: the read models catch up after each command). Served by
``heatledger serve --workers 1``: one process, FastAPI's threadpool of 40 threads, so the process's
command lock is what decides whether two requests write at once. Each mode gets its own server:

- exclusive: ``HEATLEDGER_EXCLUSIVE_COMMANDS=true``, every command alone in the process (as before);
- shared:    the default, readings and payments beside each other, one thread per aggregate.

Per mode, two runs of the same number of requests: ``--clients`` clients at once (each its own
connection, its own household, no pause: a closed loop), then one client sending them all one
after the other. A client alternates ``POST /households/{account}/payments`` (a clerk's token, a new
receipt number each time) and ``POST /readings/batches`` (a device's token, one reading of its
household's meter, later and higher than the last); with ``--corrections`` every third request is
``POST /households/{account}/area-corrections`` (a clerk's household command, converted to run
beside others with the rest of the application's commands). Printed: requests/s, p50, p99 and the slowest,
and failures (any answer but 201/200). Figures only; nothing is asserted. Bounded: clients ×
requests per run, 30 s per request, 120 s for a server start.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import tempfile
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import httpx2
from rich.console import Console
from rich.table import Table

from application.authorization import SYSTEM
from bench.api_reads import REQUEST_TIMEOUT_SECONDS, Store, heatledger, served
from bench.replay import percentile
from domain.values import (
    AccuracyClass,
    Address,
    Areas,
    CustomerClass,
    FlowSensorSide,
    HorizontalPosition,
    MeterKind,
    Position,
    VerticalPosition,
)
from infrastructure.container import bootstrap
from infrastructure.settings import Backend, Environment, Settings

# Readings are an hour apart, from the commissioning on: a run of 10,000 requests per client
# stays well before now.
COMMISSIONED_AT = datetime.now(UTC).replace(minute=0, second=0, microsecond=0) - timedelta(days=400)
ENERGY_STEP_GJ = Decimal("0.005")
MODES = {"exclusive (before)": "true", "shared (after)": "false"}
# Each area correction names areas never sent before (the same areas again would be a 409).
_fresh_hundredths = itertools.count(1)


def account_of(client: int) -> str:
    return f"BW-{client:04d}"


def serial_of(client: int) -> str:
    return f"BWM-{client:04d}"


def build_store(data_dir: Path, clients: int) -> None:
    """One household with an attached meter per client (in-process, before the server starts)."""
    container = bootstrap(Settings(environment=Environment.DEVELOPMENT, backend=Backend.SQLITE, data_dir=data_dir))
    try:
        ledger = container.ledger
        for client in range(clients):
            account, serial = account_of(client), serial_of(client)
            ledger.register_household(
                SYSTEM,
                account,
                Address("Bench community", "1", "1", 1 + client // 4, f"{client:04d}"),
                Areas(Decimal("90.00"), Decimal("90.00")),
                CustomerClass.RESIDENTIAL,
                Position(VerticalPosition.MIDDLE, HorizontalPosition.MIDDLE),
                COMMISSIONED_AT.date(),
            )
            ledger.commission_meter(
                SYSTEM, serial, "Kamstrup", "Multical 603", AccuracyClass.CLASS_2, FlowSensorSide.RETURN,
                MeterKind.HOUSEHOLD, COMMISSIONED_AT,
            )  # fmt: skip
            ledger.attach_meter(SYSTEM, account, serial, COMMISSIONED_AT)
    finally:
        container.close()


def token(data_dir: Path, role: str) -> str:
    """A new token of ``role`` (the line after "It is shown once:")."""
    lines = heatledger(
        Store(data_dir), "token", "create", "--role", role, "--name", f"bench api writes {role}"
    ).splitlines()
    for number, line in enumerate(lines[:-1]):
        if "shown once" in line:
            return lines[number + 1].strip()
    raise SystemExit("heatledger token create printed no token")


@dataclass
class Writer:
    """What one client sends: its household's next payment and next reading."""

    client: int
    tag: str
    hour: int
    corrections: bool = False
    sent: int = 0

    def next_request(self) -> tuple[str, dict[str, object], str]:
        self.sent += 1
        if self.corrections and self.sent % 3 == 0:
            connected = Decimal(50) + Decimal(next(_fresh_hundredths)) / 100
            correction: dict[str, object] = {
                "connected_area_m2": str(connected),
                "heated_area_m2": str(connected),
                "effective_on": (COMMISSIONED_AT.date() + timedelta(days=1)).isoformat(),
                "reason": "survey",
            }
            return f"/households/{account_of(self.client)}/area-corrections", correction, "clerk"
        if self.sent % 2:
            receipt = f"{self.tag}-{self.client}-{self.sent}"
            body: dict[str, object] = {"amount_yuan": "12.34", "channel": "cash", "receipt_number": receipt}
            return f"/households/{account_of(self.client)}/payments", body, "clerk"
        self.hour += 1
        reading = {
            "meter_serial": serial_of(self.client),
            "measured_at": (COMMISSIONED_AT + timedelta(hours=self.hour)).isoformat(),
            "energy_gj": str(ENERGY_STEP_GJ * self.hour),
            "source": "manual",
        }
        return "/readings/batches", {"readings": [reading]}, "device"


@dataclass
class Run:
    timings_ms: list[float] = field(default_factory=list)
    failures: int = 0
    wall_seconds: float = 0.0


async def one_client(
    client: httpx2.AsyncClient, writer: Writer, requests: int, headers: dict[str, dict[str, str]], run: Run
) -> None:
    for _ in range(requests):
        path, body, role = writer.next_request()
        started = time.perf_counter()
        response = await client.post(path, json=body, headers=headers[role])
        run.timings_ms.append((time.perf_counter() - started) * 1000)
        if response.status_code not in (200, 201) or (role == "device" and response.json().get("accepted") != 1):
            run.failures += 1


async def run_clients(base_url: str, writers: list[Writer], requests: int, headers: dict[str, dict[str, str]]) -> Run:
    run = Run()
    limits = httpx2.Limits(max_connections=1)
    clients = [httpx2.AsyncClient(base_url=base_url, timeout=REQUEST_TIMEOUT_SECONDS, limits=limits) for _ in writers]
    try:
        started = time.perf_counter()
        await asyncio.gather(*(one_client(c, w, requests, headers, run) for c, w in zip(clients, writers, strict=True)))
        run.wall_seconds = time.perf_counter() - started
    finally:
        for client in clients:
            await client.aclose()
    return run


def measure(
    data_dir: Path, folder: Path, mode: str, clients: int, requests: int, offset: int, corrections: bool = False
) -> dict[str, Run]:
    """The concurrent run and the single-client run of the same number of requests, in ``mode``."""
    headers = {role: {"Authorization": f"Bearer {token(data_dir, role)}"} for role in ("clerk", "device")}
    variables = Store(data_dir).environment() | {"HEATLEDGER_EXCLUSIVE_COMMANDS": MODES[mode]}
    serve = [*heatledger_command(), "serve", "--workers", "1"]
    with served(serve, variables, folder, "/health") as server:
        tag = f"{mode[:4]}-{offset}"
        warm = [Writer(client, f"{tag}-w", offset, corrections) for client in range(clients)]
        asyncio.run(run_clients(server.base_url, warm, 2, headers))  # connections, caches, tokens
        concurrent = [Writer(client, f"{tag}-c", offset + 1, corrections) for client in range(clients)]
        runs = {"concurrent": asyncio.run(run_clients(server.base_url, concurrent, requests, headers))}
        # The single client writes to each household in turn, later than the concurrent run did.
        alone = Run()
        started = time.perf_counter()
        for client in range(clients):
            writer = Writer(client, f"{tag}-s", offset + requests + 2, corrections)
            partial = asyncio.run(run_clients(server.base_url, [writer], requests, headers))
            alone.timings_ms += partial.timings_ms
            alone.failures += partial.failures
        alone.wall_seconds = time.perf_counter() - started
        runs["one client"] = alone
    return runs


def heatledger_command() -> list[str]:
    import sys

    script = Path(sys.executable).parent / "heatledger"
    return [str(script)] if script.is_file() else [sys.executable, "-c", "from api.cli import main; main()"]


def report(
    console: Console, results: dict[str, dict[str, Run]], clients: int, requests: int, corrections: bool = False
) -> None:
    mix = "payments, readings and area corrections" if corrections else "payments and readings"
    table = Table(title=f"API writes: {clients} clients × {requests} requests ({mix}), --workers 1")
    for column in ("commands", "clients", "requests", "requests/s", "p50 ms", "p99 ms", "slowest ms", "failures"):
        table.add_column(column, justify="right" if column != "commands" else "left")
    for mode, runs in results.items():
        for name, run in runs.items():
            timings = run.timings_ms
            table.add_row(
                mode,
                str(clients) if name == "concurrent" else "1",
                str(len(timings)),
                f"{len(timings) / run.wall_seconds:.0f}",
                f"{percentile(timings, 0.5):.1f}",
                f"{percentile(timings, 0.99):.1f}",
                f"{max(timings):.1f}",
                str(run.failures),
            )
    console.print(table)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--clients", type=int, default=50)
    parser.add_argument("--requests", type=int, default=20, help="Per client (half payments, half readings).")
    parser.add_argument(
        "--corrections",
        action="store_true",
        help="Every third request an area correction (a household command).",
    )
    arguments = parser.parse_args()
    assert 1 <= arguments.clients <= 500 and 2 <= arguments.requests <= 10_000, "bounded runs only"
    console = Console(width=170)
    with tempfile.TemporaryDirectory(prefix="bench-api-writes-") as folder:
        data_dir = Path(folder) / "store"
        build_store(data_dir, arguments.clients)
        results: dict[str, dict[str, Run]] = {}
        for number, mode in enumerate(MODES):
            offset = number * (3 * arguments.requests + 10)  # each run's readings later than the last's
            results[mode] = measure(
                data_dir, Path(folder), mode, arguments.clients, arguments.requests, offset, arguments.corrections
            )
            console.print(f"{mode}: done")
    report(console, results, arguments.clients, arguments.requests, arguments.corrections)


if __name__ == "__main__":
    main()
