"""CPU of the reading rules alone: ``bench.ingest``'s readings judged on meters held in memory.

``python -m bench.ingest_rules --meters 2000 --days 10 --rounds 5`` commissions the meters in
memory (no store, no save), judges the first day's batch (it opens each meter), then times
``judge_batch`` over the other days' batches with the process CPU clock and prints the CPU µs a
reading of each round: the rules, the plausibility check, the rated limits, the fingerprint and
the event made, without the encoding and the insert that ``bench.ingest_cpu`` adds. The first
round also fills the k cache (an IAPWS-IF97 evaluation per new temperature); the later rounds
are the steady figure. ``--profile`` prints cProfile's top functions of one round instead (the
profiler inflates every call: compare shares, not µs).
"""

from __future__ import annotations

import argparse
import cProfile
import io
import pstats
import time
import uuid

from application.ingestion import ReadingItem, judge_batch
from bench.ingest import _midnight, daily_batches, serial_of
from domain.meter import Meter
from domain.values import AccuracyClass, CommandContext, FlowSensorSide, MeterKind


def commissioned_meters(count: int) -> dict[str, Meter]:
    """``count`` household meters as ``bench.ingest`` commissions them, each attached to a household."""
    context = CommandContext("bench", "benchmark set-up", uuid.uuid4())
    since = _midnight(-30)
    meters = {}
    for number in range(count):
        meter = Meter.commission(
            serial_of(number),
            "Bench",
            "B1",
            AccuracyClass.CLASS_2,
            FlowSensorSide.RETURN,
            MeterKind.HOUSEHOLD,
            since,
            context,
        )
        meter.attach_to(uuid.uuid4(), since, context)
        meter.collect_events()
        meters[meter.serial] = meter
    return meters


def judged_cpu(batches: list[list[ReadingItem]], profile: cProfile.Profile | None = None) -> float:
    """CPU µs a reading of judging every batch after the first on fresh meters."""
    meters = commissioned_meters(len(batches[0]))
    received_at = _midnight(len(batches) + 1)
    judge_batch(batches[0], meters.get, received_at, uuid.uuid4(), "bench", "benchmark")
    for meter in meters.values():
        meter.collect_events()
    cpu = 0.0
    for batch in batches[1:]:
        started = time.process_time()
        if profile is not None:
            profile.enable()
        outcomes, changed = judge_batch(batch, meters.get, received_at, uuid.uuid4(), "bench", "benchmark")
        if profile is not None:
            profile.disable()
        cpu += time.process_time() - started
        if any(outcome.reason for outcome in outcomes):
            raise RuntimeError("the benchmark's readings were not all accepted")
        for meter in changed:
            meter.collect_events()  # as a save would: the pending events go
    return cpu / sum(len(batch) for batch in batches[1:]) * 1e6


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--meters", type=int, default=2000)
    parser.add_argument("--days", type=int, default=10)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--profile", action="store_true", help="cProfile one round and print its top functions")
    arguments = parser.parse_args(argv)
    if not 1 <= arguments.meters <= 10_000 or not 2 <= arguments.days <= 1_000 or not 1 <= arguments.rounds <= 50:
        parser.error("--meters must lie in 1…10,000, --days in 2…1,000 and --rounds in 1…50")
    batches = daily_batches(arguments.meters, arguments.days)
    if arguments.profile:
        profile = cProfile.Profile()
        judged_cpu(batches, profile)
        buffer = io.StringIO()
        pstats.Stats(profile, stream=buffer).sort_stats("tottime").print_stats(30)
        print(buffer.getvalue())
        return
    figures = [judged_cpu(batches) for _ in range(arguments.rounds)]
    print(
        f"reading rules, {arguments.meters} meters × {arguments.days - 1} days: CPU µs a reading per round "
        + " ".join(f"{figure:.1f}" for figure in figures)
        + f" (fastest {min(figures):.1f})",
        flush=True,
    )


if __name__ == "__main__":
    main()
