"""Scenario benchmark: a whole season recomputed under tariff variants, beside the billing run that
settled it, over the same city.

Run ``python -m bench.scenario`` with ``--households`` (2,000 by default: a quick run),
``--backend sqlite|postgres|both`` (PostgreSQL by default: the target is stated for it),
``--variants`` (2 by default) and ``--city`` (the households the time is extrapolated to, 100,000).
With ``--keep-city`` (PostgreSQL) the set-up is done once into a kept database and every run times
its steps on a copy of it (``bench/kept_store.py``): a 100,000-household city is paid for once.

Set-up (not timed, with progress, in this process): the city of ``bench.billing`` (communities of
about 1,000, buildings of 48, one meter each read on the 1st of each month, 3 % suspended, 2 %
passing to a new holder mid-season, the season by decree, a city-wide Xuchang-like tariff), one
projection catch-up.

Timed, in this order, in one process, the clock standing after the season:

1. the billing runs as the bench's warm figure (``bench.billing``'s "run alone"): the prepayment
   and the settlement through ``BillingRuns.run``, their catch-ups apart (the scenario reads the
   bills read model, so it needs them);
2. the scenario as its job runs it: ``execute_scenario`` of a submitted scenario over the whole
   city with ``--variants`` variants (energy price +10 %, base share 40 %, …): households in
   bulk, each chunk's inputs, every settlement under the actual tariff (the check against the
   issued bill) and each variant, the result rows written per chunk, the totals and summary;
3. beside it: the computation alone (``Scenarios.run`` without storing), the CSV and the XLSX
   exports.

It prints a table per backend with seconds, households per second and the time extrapolated
linearly to ``--city`` households, and checks that the actual-tariff recomputation matched every
issued settlement (a mismatch is printed, not hidden). Figures only: nothing is asserted.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from rich.console import Console
from rich.progress import Progress
from rich.table import Table

from application.authorization import Principal, Role
from application.scenarios import ScenarioRequest
from bench.billing import AFTER_SEASON, SEASON, _bench_settings, build_city, copied_store, run_billing, timed_catch_up
from bench.ingest import _progress, backends_to_measure, bench_console, store_settings
from bench.kept_store import ensure_kept_city, kept_city_name
from domain.billing import BillKind
from domain.scenario import TariffVariant
from infrastructure.container import bootstrap
from infrastructure.scenario_export import csv_lines, xlsx_bytes
from infrastructure.scenarios import ScenarioStatus, execute_scenario
from infrastructure.settings import Backend, Settings

REGULATOR = Principal("bench-price-bureau", Role.REGULATOR)
VARIANTS = (
    TariffVariant("能量价 +10 %", {"energy_price_yuan_per_gj": "48.29"}),
    TariffVariant("基本 40 %", {"base_share_percent": "40"}),
    TariffVariant("多退少不补", {"policy": "refund_only"}),
    TariffVariant("封顶 115 %", {"policy": "capped", "cap_percent": "115"}),
    TariffVariant("位置修正", {"position_correction": "energy"}),
)


@dataclass(frozen=True)
class Figures:
    backend: Backend
    households: int
    variants: int
    setup_seconds: float
    prepayment_seconds: float
    settlement_seconds: float
    settlement_bills: int
    catch_up_seconds: float
    job_seconds: float
    compute_seconds: float
    export_seconds: float
    xlsx_seconds: float
    computed: int
    issued_differ: int
    exceptions: int

    def rate(self, seconds: float) -> float:
        return self.households / seconds

    def city_seconds(self, seconds: float, city: int) -> float:
        return seconds * city / self.households


def measure(backend: Backend, households: int, variants: int, console: Console, *, keep_city: bool) -> Figures:
    label = backend.value
    if keep_city and backend is Backend.POSTGRES:
        return _measure_on_kept_city(households, variants, console)
    with (
        tempfile.TemporaryDirectory(prefix="heatledger-bench-scenario-") as folder,
        _progress(console) as progress,
        store_settings(backend, Path(folder), "scenario") as store,
    ):
        setup_seconds = build_city(store, households, progress, label)
        return _timed(store, backend, households, variants, setup_seconds, progress)


def _measure_on_kept_city(households: int, variants: int, console: Console) -> Figures:
    """The same steps timed on a copy of a city kept between runs (set up once, untimed)."""
    label = Backend.POSTGRES.value
    with (
        tempfile.TemporaryDirectory(prefix="heatledger-bench-scenario-") as folder,
        _progress(console) as progress,
    ):
        kept, built_seconds = ensure_kept_city(
            kept_city_name("scenario", households), lambda store: build_city(store, households, progress, label)
        )
        with copied_store(kept, Path(folder), "run") as store:
            return _timed(store, Backend.POSTGRES, households, variants, built_seconds or 0.0, progress)


def _timed(
    store: Settings, backend: Backend, households: int, variants: int, setup_seconds: float, progress: Progress
) -> Figures:
    container = bootstrap(_bench_settings(store))
    try:
        container.ledger.clock = lambda: AFTER_SEASON
        prepayment_seconds, _ = run_billing(container, BillKind.PREPAYMENT, progress, backend.value)
        first_catch_up, _ = timed_catch_up(container, progress, f"{backend.value}: catch-up")
        settlement_seconds, settlement = run_billing(container, BillKind.SETTLEMENT, progress, backend.value)
        second_catch_up, _ = timed_catch_up(container, progress, f"{backend.value}: catch-up")
        request = ScenarioRequest(SEASON.code, VARIANTS[:variants], title="bench")
        store_of = container.scenario_store
        scenario_id = store_of.submit(REGULATOR, request)
        task = progress.add_task(f"{backend.value}: scenario job", total=None)
        started = time.perf_counter()
        record = execute_scenario(
            store_of,
            container.scenarios,
            scenario_id,
            on_progress=lambda done, total: progress.update(task, completed=done, total=total),
        )
        job_seconds = time.perf_counter() - started
        assert record.status is ScenarioStatus.DONE and record.summary is not None, record.error
        started = time.perf_counter()
        container.scenarios.run(REGULATOR, request)
        compute_seconds = time.perf_counter() - started
        started = time.perf_counter()
        exported = sum(len(line) for line in csv_lines(store_of, record))
        export_seconds = time.perf_counter() - started
        started = time.perf_counter()
        exported += len(xlsx_bytes(store_of, record))
        xlsx_seconds = time.perf_counter() - started
        assert exported > 0
        summary = record.summary
        return Figures(
            backend,
            households,
            variants,
            setup_seconds,
            prepayment_seconds,
            settlement_seconds,
            settlement.bills_issued,
            first_catch_up + second_catch_up,
            job_seconds,
            compute_seconds,
            export_seconds,
            xlsx_seconds,
            summary["computed"],
            summary["issued_differ"],
            len(summary["exceptions"]),
        )
    finally:
        container.close()


def report(console: Console, figures: Figures, city: int) -> None:
    table = Table(
        title=f"Scenario of {figures.households:,} households × {figures.variants} variants on {figures.backend.value}"
    )
    for column in ("measure", "seconds", "households/s", f"at {city:,} households"):
        table.add_column(column, justify="left" if column == "measure" else "right", no_wrap=True)

    def row(name: str, seconds: float) -> None:
        minutes = figures.city_seconds(seconds, city) / 60
        table.add_row(name, f"{seconds:.2f}", f"{figures.rate(seconds):,.0f}", f"≈ {minutes:.1f} min")

    row("scenario job: compute, store rows, totals, summary", figures.job_seconds)
    row("  the computation alone (no rows stored)", figures.compute_seconds)
    row("  CSV export of its rows", figures.export_seconds)
    row("  XLSX export (households, totals, bands)", figures.xlsx_seconds)
    row("billing run: settlement alone, warm (beside it)", figures.settlement_seconds)
    row("billing run: prepayment alone, warm", figures.prepayment_seconds)
    row("read-model catch-up of both runs", figures.catch_up_seconds)
    # 0 when the city was kept from an earlier run (--keep-city).
    table.add_row("set-up (untimed)", f"{figures.setup_seconds:.1f}", "", "")
    console.print(table)
    console.print(
        f"{figures.backend.value}: {figures.computed:,} households computed, {figures.settlement_bills:,} settlement "
        f"bills issued, {figures.issued_differ} issued settlements recomputed differently (0 expected), "
        f"{figures.exceptions} exceptions; "
        f"job ÷ settlement run = {figures.job_seconds / figures.settlement_seconds:.2f}"
    )


def parse_arguments(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--households", type=int, default=2_000, help="households, one meter each")
    parser.add_argument("--backend", choices=("sqlite", "postgres", "both"), default="postgres")
    parser.add_argument("--variants", type=int, default=2, choices=range(1, len(VARIANTS) + 1))
    parser.add_argument("--city", type=int, default=100_000, help="households the times are extrapolated to")
    parser.add_argument(
        "--keep-city",
        action="store_true",
        help="PostgreSQL: set the city up once in a kept database and time each run on a copy of it",
    )
    arguments = parser.parse_args(argv)
    if not 1 <= arguments.households <= 300_000:
        parser.error("--households must lie in 1…300,000")
    return arguments


def main(argv: list[str] | None = None) -> None:
    arguments = parse_arguments(argv)
    console = bench_console()
    started = datetime.now(UTC)
    for backend in backends_to_measure(arguments.backend, console):
        figures = measure(backend, arguments.households, arguments.variants, console, keep_city=arguments.keep_city)
        report(console, figures, arguments.city)
    console.print(f"Measured from {started:%Y-%m-%d %H:%M} to {datetime.now(UTC):%H:%M} UTC.")


if __name__ == "__main__":
    main()
