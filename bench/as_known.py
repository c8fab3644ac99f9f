"""As-known benchmark: a household's answers as the ledger knew them at a moment, beside the live answers.

Run ``python -m bench.as_known`` (``--hours`` readings, 4,368 by default: hourly from 15 October
to 15 April, the worst case of a household; ``--repeats``, 10 by default).

Set-up (not timed): the store of ``bench/replay.py`` (a fresh SQLite store, the city's tariff, one
household with a meter read every hour, its prepayment and settlement, the read models caught up).

Timed, in this process after opening the store, for two requests: the balance on a day
(``/households/{a}/balance/{day}``: its view leaves the meters out) and the season's consumption
by day (``/households/{a}/consumption``: with the meter's readings). Each as one request with
`known_at` does it (find the household's scope, select its events once, find the position known
at the moment, project the events into a fresh view, answer from the view's read models) at a
moment halfway through the readings, and at now (nothing recorded since: the live read models
answer); the consumption's steps halfway; and both from the live read models (without
`known_at`). Figures only: nothing is asserted.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, date, datetime
from pathlib import Path

from rich.console import Console
from rich.table import Table

from bench.replay import build_store, percentile, settings_for
from domain.day_split import business_day
from infrastructure.as_known import KnownReads
from infrastructure.container import Container, bootstrap
from infrastructure.event_selection import scoped_notifications
from infrastructure.point_in_time import empty_view, household_scope, position_known_among, recorded_at
from projections.queries import Granularity

ACCOUNT = "BGY-1"
FIRST_DAY, LAST_DAY = date(2025, 10, 15), date(2026, 4, 15)


def balance(reads: KnownReads) -> None:
    """What the balance on a day reads."""
    household = reads.queries.household(ACCOUNT)
    assert household is not None
    reads.payments.balance_as_of(household.household_id, date(2026, 1, 31))


def consumption(reads: KnownReads) -> None:
    """What the season's consumption by day reads."""
    household = reads.queries.household(ACCOUNT)
    assert household is not None
    reads.queries.household_consumption(household.household_id, FIRST_DAY, LAST_DAY, Granularity.DAY)


def timed(repeats: int, work: Callable[[], object]) -> list[float]:
    spent = []
    for _ in range(repeats):
        began = time.perf_counter()
        work()
        spent.append(time.perf_counter() - began)
    return spent


def as_known(container: Container, moment: datetime, meters: bool, answer: Callable[[KnownReads], None]) -> None:
    with container.as_known.household(ACCOUNT, moment, meters=meters) as reads:
        answer(reads)


def parts(container: Container, repeats: int, moment: datetime) -> dict[str, list[float]]:
    """The consumption request's steps at ``moment``, each timed apart."""
    ledger, engine = container.ledger, container.engine
    found: dict[str, list[float]] = {"scope": [], "select": [], "position": [], "project": [], "answer": []}
    for _ in range(repeats):
        began = time.perf_counter()
        scope = household_scope(ledger, engine, ACCOUNT, business_day(moment))
        scoped = time.perf_counter()
        notifications = scoped_notifications(ledger.recorder, scope)
        selected = time.perf_counter()
        position = position_known_among(ledger, notifications, moment)
        positioned = time.perf_counter()
        with empty_view(scope, lambda: moment) as view:
            view.advance([n for n in notifications if n.id <= position])
            projected = time.perf_counter()
            consumption(KnownReads(view.engine, moment, position))
            answered = time.perf_counter()
        for name, spent in zip(
            found,
            (scoped - began, selected - scoped, positioned - selected, projected - positioned, answered - projected),
            strict=True,
        ):
            found[name].append(spent)
    return found


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--hours", type=int, default=4_368)
    parser.add_argument("--repeats", type=int, default=10)
    arguments = parser.parse_args()
    console = Console()
    with tempfile.TemporaryDirectory(prefix="bench-as-known-") as folder:
        console.print(f"set-up: one household, {arguments.hours:,} hourly readings, prepayment and settlement …")
        build_store(Path(folder), arguments.hours)
        container = bootstrap(settings_for(Path(folder)))
        try:
            events = len(
                scoped_notifications(
                    container.ledger.recorder,
                    household_scope(container.ledger, container.engine, ACCOUNT, date.today()),
                )
            )
            rows = measure(container, arguments.repeats)
            steps = parts(container, arguments.repeats, _halfway(container))
        finally:
            container.close()
    report(console, arguments.hours, events, rows, steps)


def measure(container: Container, repeats: int) -> dict[str, list[float]]:
    halfway = _halfway(container)
    now = datetime.now(UTC)
    live = container.as_known.live()
    return {
        "balance on a day, live (no known_at)": timed(repeats, lambda: balance(live)),
        "balance on a day, known_at halfway": timed(repeats, lambda: as_known(container, halfway, False, balance)),
        "balance on a day, known_at now": timed(repeats, lambda: as_known(container, now, False, balance)),
        "consumption, live (no known_at)": timed(repeats, lambda: consumption(live)),
        "consumption, known_at halfway": timed(repeats, lambda: as_known(container, halfway, True, consumption)),
        "consumption, known_at now": timed(repeats, lambda: as_known(container, now, True, consumption)),
    }


def _halfway(container: Container) -> datetime:
    """The moment the event store recorded the middle event of the household's scope."""
    scope = household_scope(container.ledger, container.engine, ACCOUNT, date.today())
    notifications = scoped_notifications(container.ledger.recorder, scope)
    middle = notifications[len(notifications) // 2]
    return recorded_at(container.ledger, middle)


def report(
    console: Console, hours: int, events: int, rows: dict[str, list[float]], steps: dict[str, list[float]]
) -> None:
    table = Table(title=f"A household as known: {hours:,} readings, {events:,} events (SQLite)")
    table.add_column("what")
    table.add_column("p50 ms", justify="right")
    table.add_column("p95 ms", justify="right")
    for name, spent in rows.items():
        table.add_row(name, _ms(statistics.median(spent)), _ms(percentile(spent, 0.95)))
    for name, spent in steps.items():
        table.add_row(
            f"  consumption halfway, step: {name}", _ms(statistics.median(spent)), _ms(percentile(spent, 0.95))
        )
    console.print(table)


def _ms(seconds: float) -> str:
    return f"{seconds * 1000:.1f}"


if __name__ == "__main__":
    main()
