"""As-known benchmark: a household's answers as the ledger knew them at a moment, beside the live answers.

Run ``python -m bench.as_known`` (``--hours`` readings, 4,368 by default: hourly from 15 October
to 15 April, the worst case of a household; ``--repeats``, 10 by default).

Set-up (not timed): the store of ``bench/replay.py`` (a fresh SQLite store, the city's tariff, one
household with a meter read every hour, its prepayment and settlement, the read models caught up).

Timed, in this process after opening the store: what one request with `known_at` does (find the
household's scope, select its events once, find the position known at the moment, project the
events into a fresh view, answer from the view's read models: the balance on a day and the
season's consumption by day), at a moment halfway through the readings and at now (every event);
its parts at now; and the same answers from the live read models (what the request does without
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
from infrastructure.point_in_time import empty_view, household_scope, position_known_among
from projections.queries import Granularity

ACCOUNT = "BGY-1"
FIRST_DAY, LAST_DAY = date(2025, 10, 15), date(2026, 4, 15)


def answer(reads: KnownReads) -> None:
    """What the two endpoints read: the balance on a day and the season's consumption by day."""
    household = reads.queries.household(ACCOUNT)
    assert household is not None
    reads.payments.balance_as_of(household.household_id, date(2026, 1, 31))
    reads.queries.household_consumption(household.household_id, FIRST_DAY, LAST_DAY, Granularity.DAY)


def timed(repeats: int, work: Callable[[], object]) -> list[float]:
    spent = []
    for _ in range(repeats):
        began = time.perf_counter()
        work()
        spent.append(time.perf_counter() - began)
    return spent


def as_known(container: Container, moment: datetime) -> None:
    with container.as_known.household(ACCOUNT, moment) as reads:
        answer(reads)


def parts(container: Container, repeats: int) -> dict[str, list[float]]:
    """The request's steps at now, each timed apart."""
    ledger, engine, now = container.ledger, container.engine, datetime.now(UTC)
    found: dict[str, list[float]] = {"scope": [], "select": [], "position": [], "project": [], "answer": []}
    for _ in range(repeats):
        began = time.perf_counter()
        scope = household_scope(ledger, engine, ACCOUNT, business_day(now))
        scoped = time.perf_counter()
        notifications = scoped_notifications(ledger.recorder, scope)
        selected = time.perf_counter()
        position = position_known_among(ledger, notifications, now)
        positioned = time.perf_counter()
        with empty_view(scope, lambda: now) as view:
            view.advance([n for n in notifications if n.id <= position])
            projected = time.perf_counter()
            answer(KnownReads(view.engine, now, position))
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
            steps = parts(container, arguments.repeats)
        finally:
            container.close()
    report(console, arguments.hours, events, rows, steps)


def measure(container: Container, repeats: int) -> dict[str, list[float]]:
    halfway = _halfway(container)
    now = datetime.now(UTC)
    return {
        "live read models (no known_at)": timed(repeats, lambda: answer(container.as_known.live())),
        "known_at halfway through the readings": timed(repeats, lambda: as_known(container, halfway)),
        "known_at now (every event)": timed(repeats, lambda: as_known(container, now)),
    }


def _halfway(container: Container) -> datetime:
    """The moment the event store recorded the middle event of the household's scope."""
    scope = household_scope(container.ledger, container.engine, ACCOUNT, date.today())
    notifications = scoped_notifications(container.ledger.recorder, scope)
    middle = notifications[len(notifications) // 2]
    moment: datetime = container.ledger.mapper.to_domain_event(middle).timestamp
    return moment


def report(
    console: Console, hours: int, events: int, rows: dict[str, list[float]], steps: dict[str, list[float]]
) -> None:
    table = Table(
        title=f"A household's balance on a day and consumption: {hours:,} readings, {events:,} events (SQLite)"
    )
    table.add_column("what")
    table.add_column("p50 ms", justify="right")
    table.add_column("p95 ms", justify="right")
    for name, spent in rows.items():
        table.add_row(name, _ms(statistics.median(spent)), _ms(percentile(spent, 0.95)))
    for name, spent in steps.items():
        table.add_row(f"  at now, step: {name}", _ms(statistics.median(spent)), _ms(percentile(spent, 0.95)))
    console.print(table)


def _ms(seconds: float) -> str:
    return f"{seconds * 1000:.1f}"


if __name__ == "__main__":
    main()
