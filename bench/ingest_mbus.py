"""M-Bus ingestion benchmark: frames per second through pymeterbus, our adapter and the service.

Run ``python -m bench.ingest_mbus`` with ``--meters`` and ``--days`` (default 2,000 × 10 =
20,000 frames: one RSP_UD frame per meter and day, built by a small encoder below with energy,
volume, both temperatures, flow, power, operating hours, error flags and the meter's clock).
It times, on the same frames:

1. pymeterbus alone: ``meterbus.load`` and every record's ``value`` (what a bare user of the
   library does to get the numbers out);
2. our adapter: framing and checks, pymeterbus, exact conversion and the mapping to
   ``ReadingValues`` (``check_long_frame`` → ``decode_frame`` → ``readings_of``);
3. the service: ``MbusIngestion.ingest`` on a fresh SQLite store with every meter commissioned,
   in uploads of ``--upload`` frames (a concentrator's request): decode, meter look-up, the
   reading rules and the save (the projection catch-up is left out, as in ``bench.ingest``,
   unless ``--catch-up``).

It prints frames/s for each and the ratio of each against (1). Figures only: nothing is asserted.
"""

from __future__ import annotations

import argparse
import tempfile
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import meterbus
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from application.authorization import Principal, Role
from domain.meter import Meter
from domain.values import AccuracyClass, CommandContext, FlowSensorSide, MeterKind
from infrastructure.container import bootstrap
from infrastructure.mbus.decode import decode_frame
from infrastructure.mbus.frame import check_long_frame
from infrastructure.mbus.records import readings_of
from infrastructure.mbus.service import FrameStatus, MbusIngestion
from infrastructure.settings import Backend, Environment, Settings

FIRST_DAY = date(2025, 11, 1)
DEVICE = Principal(name="bench:concentrator", role=Role.DEVICE)
SETUP_CHUNK = 500
FIRST_IDENTIFICATION = 31_000_000

# -- a small encoder of heat-meter frames ------------------------------------------------------


def identification_of(meter: int) -> str:
    return f"{FIRST_IDENTIFICATION + meter:08d}"


def _record(dif: int, vib: bytes, data: bytes) -> bytes:
    return bytes([dif]) + vib + data


def _int(value: int, size: int) -> bytes:
    return value.to_bytes(size, "little", signed=True)


def _type_f(moment: datetime) -> bytes:
    year = moment.year % 100
    return bytes([moment.minute, moment.hour, moment.day | (year & 0x07) << 5, moment.month | (year >> 3) << 4])


def heat_frame(meter: int, day: int) -> bytes:
    """Meter ``meter``'s RSP_UD long frame at local midnight of day ``day`` (medium 04, KAM)."""
    kwh = 5_000 + meter % 997 + day * (35 + meter % 11)  # about 0.15 GJ a day
    flow_centi = 6_500 + meter % 400
    records = b"".join(
        [
            _record(0x04, b"\x06", _int(kwh, 4)),  # energy, kWh
            _record(0x04, b"\x14", _int(kwh * 3, 4)),  # volume, 0.01 m³
            _record(0x02, b"\x59", _int(flow_centi, 2)),  # flow temperature, 0.01 °C
            _record(0x02, b"\x5d", _int(flow_centi - 2_000, 2)),  # return temperature
            _record(0x04, b"\x3b", _int(150, 4)),  # volume flow, l/h
            _record(0x04, b"\x2b", _int(1_740, 4)),  # power, W
            _record(0x04, b"\x22", _int(8_760 + 24 * day, 4)),  # on time, hours
            _record(0x02, b"\xfd\x17", _int(0, 2)),  # error flags
            _record(0x04, b"\x6d", _type_f(datetime.combine(FIRST_DAY + timedelta(days=day), datetime.min.time()))),
        ]
    )
    header = bytes.fromhex(identification_of(meter))[::-1] + bytes([0x2D, 0x2C, 0x01, 0x04, day % 256, 0, 0, 0])
    body = bytes([0x08, 0x01, 0x72]) + header + records
    return bytes([0x68, len(body), len(body), 0x68]) + body + bytes([sum(body) % 256, 0x16])


def frames_of(meters: int, days: int) -> list[bytes]:
    """One frame per meter and day, day by day (as concentrators upload them)."""
    return [heat_frame(meter, day) for day in range(days) for meter in range(meters)]


# -- the three paths ---------------------------------------------------------------------------


def run_pymeterbus(frames: list[bytes], tick: Callable[[int], None]) -> float:
    started = time.perf_counter()
    for index, frame in enumerate(frames):
        telegram = meterbus.load(frame)
        for record in telegram.records:
            _ = record.value
        if index % 1000 == 999:
            tick(1000)
    elapsed = time.perf_counter() - started
    tick(len(frames) % 1000)
    return elapsed


def run_adapter(frames: list[bytes], tick: Callable[[int], None]) -> float:
    received_at = datetime.now(UTC)
    started = time.perf_counter()
    for index, frame in enumerate(frames):
        readings_of(decode_frame(check_long_frame(frame)), received_at)
        if index % 1000 == 999:
            tick(1000)
    elapsed = time.perf_counter() - started
    tick(len(frames) % 1000)
    return elapsed


def _commission(container: Any, meters: int) -> None:
    context = CommandContext("bench", "benchmark set-up", uuid.uuid4())
    since = datetime.combine(FIRST_DAY - timedelta(days=30), datetime.min.time(), UTC)
    for start in range(0, meters, SETUP_CHUNK):
        container.ledger.save(
            *(
                Meter.commission(
                    identification_of(number),
                    "Kamstrup",
                    "MULTICAL",
                    AccuracyClass.CLASS_2,
                    FlowSensorSide.RETURN,
                    MeterKind.HOUSEHOLD,
                    since,
                    context,
                )
                for number in range(start, min(start + SETUP_CHUNK, meters))
            )
        )


def run_service(
    frames: list[bytes], meters: int, upload: int, catch_up: bool, tick: Callable[[int], None]
) -> tuple[float, int]:
    """Seconds to ingest every frame through the service, and how many readings were accepted."""
    with tempfile.TemporaryDirectory(prefix="heatledger-bench-mbus-") as folder:
        settings = Settings(
            environment=Environment.TEST,
            backend=Backend.SQLITE,
            data_dir=Path(folder),
            catch_up_after_command=catch_up,
        )
        container = bootstrap(settings)
        try:
            _commission(container, meters)
            if catch_up:
                container.catch_up()
            service = MbusIngestion(container.intake)
            accepted = 0
            started = time.perf_counter()
            for start in range(0, len(frames), upload):
                report = service.ingest(DEVICE, frames[start : start + upload], "benchmark")
                accepted += report.count(FrameStatus.ACCEPTED)
                tick(len(report.frames))
            return time.perf_counter() - started, accepted
        finally:
            container.close()


# -- reporting ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Figure:
    path: str
    frames: int
    seconds: float

    @property
    def rate(self) -> float:
        return self.frames / self.seconds


def report(console: Console, figures: list[Figure], meters: int, days: int, upload: int) -> None:
    table = Table(title=f"M-Bus ingestion of {meters} meters × {days} days ({meters * days} frames)")
    for column in ("path", "frames", "seconds", "frames/s", "vs pymeterbus"):
        table.add_column(column, justify="left" if column == "path" else "right")
    baseline = figures[0].rate
    for figure in figures:
        table.add_row(
            figure.path,
            f"{figure.frames:,}",
            f"{figure.seconds:.2f}",
            f"{figure.rate:,.0f}",
            f"{figure.rate / baseline:.2f}",
        )
    console.print(table)
    console.print(f"service uploads: {upload} frames each")


def _progress(console: Console) -> Progress:
    return Progress(
        TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(), console=console
    )


def parse_arguments(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--meters", type=int, default=2000, help="meters (one frame each a day)")
    parser.add_argument("--days", type=int, default=10, help="days")
    parser.add_argument("--upload", type=int, default=1000, help="frames per service call (at most 1,000)")
    parser.add_argument("--catch-up", action="store_true", help="catch the read models up after every upload")
    arguments = parser.parse_args(argv)
    if not 1 <= arguments.meters <= 90_000_000 or not 1 <= arguments.days <= 255:
        parser.error("--meters must lie in 1…90,000,000 and --days in 1…255")
    if not 1 <= arguments.upload <= 1000:
        parser.error("--upload must lie in 1…1,000")
    return arguments


def main(argv: list[str] | None = None) -> None:
    arguments = parse_arguments(argv)
    console = Console()
    frames = frames_of(arguments.meters, arguments.days)
    figures: list[Figure] = []
    with _progress(console) as progress:
        task = progress.add_task("pymeterbus alone", total=len(frames))
        figures.append(
            Figure("pymeterbus alone", len(frames), run_pymeterbus(frames, lambda n: progress.advance(task, n)))
        )
        task = progress.add_task("our adapter", total=len(frames))
        figures.append(
            Figure(
                "adapter: framing + pymeterbus + conversion",
                len(frames),
                run_adapter(frames, lambda n: progress.advance(task, n)),
            )
        )
        task = progress.add_task("service on SQLite", total=len(frames))
        seconds, accepted = run_service(
            frames, arguments.meters, arguments.upload, arguments.catch_up, lambda n: progress.advance(task, n)
        )
        label = "service: decode + record (SQLite" + (", with catch-up)" if arguments.catch_up else ")")
        figures.append(Figure(label, len(frames), seconds))
    report(console, figures, arguments.meters, arguments.days, arguments.upload)
    if accepted != len(frames):
        console.print(f"[red]only {accepted} of {len(frames)} frames were accepted[/red]")


if __name__ == "__main__":
    main()
