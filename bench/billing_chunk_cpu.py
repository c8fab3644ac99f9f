"""The main thread's CPU per bill of a settlement, part by part, on a kept city: steady figures.

``python -m bench.billing_chunk_cpu [--households N] [--backend sqlite|postgres] [--chunks C]``
copies ``bench.billing_profile``'s prepaid city (``--settlement-only`` makes it), reads C chunks'
inputs once (not timed), then times, with the thread's CPU clock and the best of ``--rounds``, what
the run's main thread does per chunk: the periods loaded in bulk from a cold cache
(``_RunJob._periods``), each settled (``_RunJob._period`` and ``_issue``: the domain and its
events) and the new events made stored events (the transcoder: what a save encodes). Nothing is
saved: every round evicts what it loaded. Figures in microseconds per bill; the machine's load
barely moves them, which is what this is for (before and after a change, with ``CODE_ROOT``).
"""

from __future__ import annotations

import os
import sys

if os.environ.get("CODE_ROOT"):
    sys.path.insert(0, os.environ["CODE_ROOT"])

import argparse
import time
import uuid
from collections import defaultdict
from itertools import islice
from pathlib import Path

from application.billing_runs import RunRequest, RunSummary
from bench.billing import AFTER_SEASON, CLERK, SEASON, _bench_settings
from bench.billing_profile import _postgres_city, _sqlite_city
from domain import ids
from domain.billing import BillKind
from domain.day_split import business_day
from domain.values import CommandContext
from infrastructure.container import Container, bootstrap
from infrastructure.settings import Backend


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--backend", choices=("sqlite", "postgres"), default="sqlite")
    parser.add_argument("--households", type=int, default=10_000)
    parser.add_argument("--keep", type=Path, default=Path("/tmp/heatledger-billing-profile"))
    parser.add_argument("--chunks", type=int, default=8)
    parser.add_argument("--rounds", type=int, default=3)
    arguments = parser.parse_args(argv)
    if Backend(arguments.backend) is Backend.SQLITE:
        settings = _sqlite_city(arguments.households, arguments.keep, "prepaid")
    else:
        settings = _postgres_city(arguments.households, "prepaid", "billing_profile_city")
    container = bootstrap(_bench_settings(settings))
    try:
        container.ledger.clock = lambda: AFTER_SEASON
        print(_measure(container, arguments.chunks, arguments.rounds))
    finally:
        container.close()


def _measure(container: Container, chunk_count: int, rounds: int) -> str:
    """The best round's CPU per bill of each part, as a line to print."""
    runs, ledger = container.billing_runs, container.ledger
    request = RunRequest(BillKind.SETTLEMENT, SEASON)
    context = CommandContext(CLERK.name, "chunk cpu", uuid.uuid4())
    summary = RunSummary(context.correlation_id, request.kind, SEASON.code, None, None)
    today = business_day(AFTER_SEASON)
    # The run's own two passes: its checked job per season (one here), then its chunks.
    jobs = runs._checked_jobs(request, today, context, summary)
    chunked = list(islice(runs._chunks(request, jobs), chunk_count))
    job = chunked[0][0]
    chunks = [chunk for _, chunk in chunked]
    reads = [job.read(chunk) for chunk in chunks]
    best: dict[str, float] = {}
    bills = 0
    for round_number in range(rounds):
        seconds: dict[str, float] = defaultdict(float)
        bills = 0
        for chunk, read in zip(chunks, reads, strict=True):
            assert read is not None, "nothing else writes to the copied city"
            ledger.evict_ids([ids.billing_period_id(household.account_number, SEASON.code) for household in chunk])
            started = time.thread_time()
            loaded = job._periods(chunk)
            seconds["load"] += time.thread_time() - started
            started = time.thread_time()
            periods = []
            for household in chunk:
                period = job._period(household, loaded)
                periods.append(period)
                record = read.records.get(household.household_id)
                issued = job._issue(period, household, record, read.readers, read.position)
                bills += len(issued or ())
            seconds["settle"] += time.thread_time() - started
            started = time.thread_time()
            for period in periods:
                for event in period.pending_events:
                    ledger.mapper.to_stored_event(event)
            seconds["encode"] += time.thread_time() - started
            ledger.evict(periods)
        for part, value in seconds.items():
            best[part] = value if round_number == 0 else min(best[part], value)
    parts = ", ".join(f"{part} {value / bills * 1e6:.0f}" for part, value in best.items())
    return f"{bills:,} bills, µs of main-thread CPU per bill: {parts}; sum {sum(best.values()) / bills * 1e6:.0f}"


if __name__ == "__main__":
    main()
