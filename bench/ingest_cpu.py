"""CPU seconds of ingestion: ``record_readings`` against the bare library, in one process, interleaved.

``python -m bench.ingest_cpu --meters 2000 --days 10 --rounds 3 --backend sqlite`` records the
readings of ``bench.ingest`` (``daily_batches``) through ``HeatLedger.record_readings`` (no catch-up,
a fresh store each round) and saves the equivalent events with the bare library (``run_bare``),
alternately, and prints the process CPU seconds of each round beside the wall seconds and the
load average. The machine is shared: CPU seconds are the steadier figure (the database server's
CPU is not in them, which favours neither side on SQLite and both alike on PostgreSQL).
``--py-spy`` is left to the caller: ``py-spy record --native -o x.svg -- python -m bench.ingest_cpu
--only ours``.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from bench.ingest import bare_payloads, daily_batches, run_bare, run_ours, store_settings
from infrastructure.event_store import event_store_environment
from infrastructure.settings import Backend


def _ticker(clock: list[float]) -> Callable[[], None]:
    """A progress callback that notes the process CPU time after each batch."""

    def tick() -> None:
        clock.append(time.process_time())

    return tick


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--meters", type=int, default=2000)
    parser.add_argument("--days", type=int, default=10)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--backend", choices=("sqlite", "postgres"), default="sqlite")
    parser.add_argument("--only", choices=("ours", "bare", "both"), default="both")
    arguments = parser.parse_args(argv)
    backend = Backend(arguments.backend)
    batches = daily_batches(arguments.meters, arguments.days)
    payloads = bare_payloads(batches)
    readings = sum(len(batch) for batch in batches)
    sides = ("ours", "bare") if arguments.only == "both" else (arguments.only,)
    with tempfile.TemporaryDirectory(prefix="heatledger-cpu-") as folder:
        for number in range(arguments.rounds):
            for side in sides:
                with store_settings(backend, Path(folder), f"{side}{number}") as store:
                    settings = store.model_copy(update={"catch_up_after_command": False})
                    cpu_clock: list[float] = []
                    tick = _ticker(cpu_clock)

                    if side == "ours":
                        wall = run_ours(settings, batches, tick)
                    else:
                        environment = event_store_environment(settings, event_chain=False)
                        wall = run_bare(environment, payloads, tick)
                    # The batches after the first (the first opens each meter: no intervals yet).
                    cpu = cpu_clock[-1] - cpu_clock[0]
                    later = readings - len(batches[0])
                    load = os.getloadavg()[0]
                    print(
                        f"round {number} {side:4s} {backend.value}: batches 2-{len(batches)}: {later} readings, "
                        f"CPU {cpu:.2f} s ({later / cpu:,.0f} per CPU s); all batches wall {wall:.2f} s "
                        f"({readings / wall:,.0f}/s), load {load:.1f}",
                        flush=True,
                    )


if __name__ == "__main__":
    main()
