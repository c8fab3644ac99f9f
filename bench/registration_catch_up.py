"""The catch-up of a city's registration and payments, in events per CPU second (issue 17).

Run ``python -m bench.registration_catch_up`` with ``--households`` (2,000), ``--rounds`` (3) and
``--backend sqlite|postgres``. Set-up (not timed): ``bench.city``'s first step (households and
meters by the domain's commands, 1,000 aggregates a save: registered, commissioned, attached, 3 %
suspended, 2 % passing to a new holder), one catch-up, then counter payments from 70 % of the
households (one save each, as ``bench.city``'s last step). Timed, ``--rounds`` times, alternating:
the ledger projection rebuilt in this process over those events (its set-based writers) and, with
``--compare``, rebuilt with every event by its handler one at a time (the writers switched off as
the tests switch them off), so the two are measured side by side on a shared machine. CPU seconds
are this process's (on PostgreSQL the server's are not in them). Figures only.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager, nullcontext
from decimal import Decimal
from pathlib import Path

from rich.progress import Progress

from bench.billing import AFTER_SEASON, TERMS, _bench_settings, area_of
from bench.city import CASHIER, City, account_of, register
from bench.ingest import backends_to_measure, bench_console, store_settings
from domain.payment import PaymentChannel
from infrastructure.container import Container, bootstrap
from projections import ledger_projection
from projections.ledger_projection import LedgerProjection
from projections.runner import ProjectionRunner


def set_up(container: Container, households: int) -> tuple[int, int]:
    """The city's registration, then its payments; how many events each made."""
    city = City(households, max(1, households // 200), 0.0, 0, 0.7)
    with Progress(disable=True) as progress:
        task = progress.add_task("registration", total=households)
        register(container, city, lambda done: progress.update(task, completed=done))
    registration = container.runner.catch_up()
    paid = 0
    for number in range(households):
        if city.pays(number):
            amount = (area_of(number) * TERMS.price.area_price_yuan_per_m2).quantize(Decimal("0.01"))
            container.payments.receive_at_counter(
                CASHIER, account_of(number), amount, PaymentChannel.CASH, f"R-{number:06d}"
            )
            paid += 1
    container.runner.catch_up()
    return registration, paid


@contextmanager
def one_by_one() -> Iterator[None]:
    """Every event by its handler, as before the set-based writers (what the tests compare with)."""
    switched_off = {
        "bill_issued": object(),
        "billing_period_opened": object(),
        "REGISTRATION_KINDS": frozenset(),
        "PAYMENT_KINDS": frozenset(),
    }
    saved = {name: getattr(ledger_projection, name) for name in switched_off}
    for name, value in switched_off.items():
        setattr(ledger_projection, name, value)
    try:
        yield
    finally:
        for name, value in saved.items():
            setattr(ledger_projection, name, value)


def timed_rebuild(container: Container) -> tuple[float, float, int]:
    runner = ProjectionRunner(container.ledger, container.engine, LedgerProjection())
    wall, cpu = time.perf_counter(), time.process_time()
    events = runner.rebuild()
    return time.perf_counter() - wall, time.process_time() - cpu, events


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--households", type=int, default=2_000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--backend", choices=("sqlite", "postgres"), default="sqlite")
    parser.add_argument("--compare", action="store_true", help="also rebuild one event at a time, interleaved")
    arguments = parser.parse_args(argv)
    console = bench_console()
    backends = backends_to_measure(arguments.backend, console)
    variants: list[tuple[str, Callable[[], AbstractContextManager[None]]]] = [("set-based", nullcontext)]
    if arguments.compare:
        variants.append(("one at a time", one_by_one))
    with (
        tempfile.TemporaryDirectory(prefix="heatledger-bench-registration-") as folder,
        store_settings(backends[0], Path(folder), "registration") as settings,
    ):
        container = bootstrap(_bench_settings(settings))
        try:
            container.ledger.clock = lambda: AFTER_SEASON
            registration, paid = set_up(container, arguments.households)
            console.print(f"{backends[0].value}: {registration:,} registration events, {paid:,} payments")
            for round_number in range(arguments.rounds):
                for label, variant in variants:
                    with variant():
                        wall, cpu, events = timed_rebuild(container)
                    console.print(
                        f"round {round_number + 1} {label}: {events:,} events, wall {wall:.2f} s, "
                        f"CPU {cpu:.2f} s, {events / cpu:,.0f} events/CPU s"
                    )
        finally:
            container.close()


if __name__ == "__main__":
    main()
