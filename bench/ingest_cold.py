"""A fresh process's first batch: meters the aggregate cache lacks, loaded one by one or at once.

``python -m bench.ingest_cold --backend sqlite|postgres --meters 2000`` sets up ``--meters`` meters
with three daily readings each, then, in a fresh container over the same store (an empty aggregate
cache, as a new worker process or a city with more meters than the cache keeps), records one
batch of a reading per meter (cold) and two more (warm), printing each batch's CPU and wall
seconds: once with the meters loaded one by one (the library's load: a snapshot query and an
events query per meter), once with ``HeatLedger.stored_meters_of`` (``infrastructure/meter_selection.py``:
two reads for the batch), which the bench wires itself when the composition root does not.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

from bench.ingest import DEVICE, _set_up_ledger, daily_batches, store_settings
from infrastructure.container import bootstrap
from infrastructure.meter_selection import meter_selection_of
from infrastructure.settings import Backend

SET_UP_DAYS = 3


def measure(backend: Backend, meters: int, at_once: bool) -> None:
    """Set up a store, then time the cold batch and two warm ones in a fresh container."""
    batches = daily_batches(meters, SET_UP_DAYS + 3)
    with (
        tempfile.TemporaryDirectory(prefix="heatledger-cold-") as folder,
        store_settings(backend, Path(folder), "cold") as store,
    ):
        settings = store.model_copy(update={"catch_up_after_command": False})
        container = bootstrap(settings)
        _set_up_ledger(container.ledger, meters)
        for batch in batches[:SET_UP_DAYS]:
            container.ledger.record_readings(DEVICE, batch, "set-up")
        container.close()
        container = bootstrap(settings)  # an empty aggregate cache
        ledger = container.ledger
        if at_once and ledger.stored_meters_of is None:
            ledger.stored_meters_of = meter_selection_of(
                ledger.recorder, ledger.snapshots and ledger.snapshots.recorder
            )
        way = "at once" if ledger.stored_meters_of is not None else "one by one"
        try:
            for label, batch in zip(("cold", "warm", "warm"), batches[SET_UP_DAYS:], strict=True):
                cpu, wall = time.process_time(), time.perf_counter()
                report = ledger.record_readings(DEVICE, batch, "benchmark")
                assert report.accepted == len(batch), "the benchmark's readings are all accepted"
                print(
                    f"{backend.value} {way:10s} {label}: {len(batch)} readings, CPU {time.process_time() - cpu:.2f} s, "
                    f"wall {time.perf_counter() - wall:.2f} s, load {os.getloadavg()[0]:.1f}",
                    flush=True,
                )
        finally:
            container.close()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--backend", choices=("sqlite", "postgres"), default="sqlite")
    parser.add_argument("--meters", type=int, default=2000)
    arguments = parser.parse_args(argv)
    for at_once in (False, True):
        measure(Backend(arguments.backend), arguments.meters, at_once)


if __name__ == "__main__":
    main()
