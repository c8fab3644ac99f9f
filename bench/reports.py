"""Analytics reports benchmark (issue 15): each report over a season for a city, on PostgreSQL.

Run ``python -m bench.reports --households 20000`` (the default; ``100000`` is the issue's city).

What is measured, plainly: the reports read READ MODELS only (``households``, ``daily_consumption``,
``bills``, ``tariff_versions``, ``substation_*``, the allocation tables; the season's settings are
one small aggregate). So the set-up does not replay a season of readings through the ledger: it
writes those read models directly with ``COPY`` (households in communities of 1,000 and buildings
of 48, each with its household meter's heat for each of the season's 151 days; a building meter per
building and a substation meter per community, 1-9 % above what they feed; one settlement bill per
household with the lines the reports read; one substation per community), then what the
projection keeps beside them: the heat summaries (``summarise_daily``, the same rows the projection
keeps up as it writes the daily rows: a property test holds this) and each settlement bill's fees
(``fees_of_bill``), then ``ANALYZE``. The settings (average 0.4 GJ/m², 21 元/GJ) are recorded
through the application. Not timed. ``--keep-database`` builds the city once in
``heatledger_bench_reports_<households>`` and reuses it (~10 min of set-up at 100,000; migrations
added since fill their tables from the rows there when the next run opens it).

Timed, each report as its API route computes it (``AnalyticsReports``, through the container): the
places report by community and by building, heat loss with every day, position fairness,
collection, each twice, wall and this process's CPU seconds. Beside them, a raw SQL baseline doing
the aggregate over the daily rows alone (heat per household over the season; heat per place and
day: what the reports summed before the summaries), and EXPLAIN (ANALYZE) of both. Target: under
5 s each.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any
from uuid import NAMESPACE_URL, UUID, uuid4, uuid5

from rich.table import Table
from sqlalchemy import Engine, text

from application.authorization import Principal, Role
from bench.ingest import POSTGRES_HOST, POSTGRES_PORT, POSTGRES_USER, _admin_connection, bench_console, store_settings
from domain import ids
from domain.analytics_baseline import BaselineSetting
from domain.season import Season
from infrastructure.container import Container, bootstrap
from infrastructure.settings import Backend, Environment, Settings
from projections.analytics_summary import fees_of_bill, summarise_daily
from projections.tables import AREA_SCALE, ENERGY_SCALE, MONEY_SCALE

SEASON = Season.default_starting(2025)
ADMIN = Principal("bench-admin", Role.ADMIN)
REGULATOR = Principal("bench-regulator", Role.REGULATOR)
COMMUNITY_SIZE, BUILDING_SIZE = 1_000, 48
TARGET_SECONDS = 5.0
POSITIONS = (("top", "west_end"), ("middle", "middle"), ("bottom", "east_end"), ("middle", "west_end"))
RECORDED_AT = datetime(2026, 4, 10, tzinfo=UTC)


def scaled(value: Decimal, scale: int) -> int:
    """A Decimal as the integer the read models store (``projections.types.ScaledDecimal``)."""
    return int(value.scaleb(scale))


def days() -> list[date]:
    return [SEASON.first_day + timedelta(days=offset) for offset in range(SEASON.days)]


def city(households: int) -> Iterator[tuple[int, str, str]]:
    """(index, community, building) of each household."""
    for index in range(households):
        community = f"小区{index // COMMUNITY_SIZE:03d}"
        yield index, community, f"{(index % COMMUNITY_SIZE) // BUILDING_SIZE + 1}"


def copy_rows(engine: Engine, table: str, columns: tuple[str, ...], rows: Iterator[tuple[Any, ...]]) -> int:
    """``COPY table (columns) FROM STDIN`` with psycopg's row writer; the rows written."""
    count = 0
    connection = engine.raw_connection()
    try:
        with connection.cursor() as cursor:  # type: ignore[attr-defined]  # psycopg's cursor is a context manager
            cursor.execute("SET statement_timeout = 0")  # set-up only: the ledger's timeout guards requests
        with connection.cursor() as cursor, cursor.copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN") as copy:  # type: ignore[attr-defined]
            for row in rows:
                copy.write_row(row)
                count += 1
        connection.commit()
    finally:
        connection.close()
    return count


def household_rows(households: int) -> Iterator[tuple[Any, ...]]:
    rng = random.Random(7)
    for index, community, building in city(households):
        vertical, horizontal = POSITIONS[index % len(POSITIONS)]
        area = Decimal(rng.randint(6_000, 14_000)) / 100
        yield (
            ids.household_id(f"R-{index:06d}"), f"R-{index:06d}", community, building, "1", index % 18 + 1,
            f"{index % 18 + 1}0{index % 4 + 1}", scaled(area, AREA_SCALE), scaled(area * Decimal("0.8"), AREA_SCALE),
            "residential", vertical, horizontal,
            date(2025, 10, 1), False, None, None, 1,
        )  # fmt: skip


def daily_rows(households: int) -> Iterator[tuple[Any, ...]]:
    """Each household meter's heat per day; each building's and community's feeding meter 1-9 % above."""
    rng = random.Random(11)
    season_days = days()
    midnights = [_midnight(day) for day in season_days]
    buildings: dict[tuple[str, str], list[Decimal]] = {}
    for index, community, building in city(households):
        household_id = ids.household_id(f"R-{index:06d}")
        meter_id = ids.meter_id(f"RM-{index:06d}")
        per_day = Decimal(rng.randint(100, 400)) / 1000
        per_day_scaled = scaled(per_day, ENERGY_SCALE)
        sums = buildings.setdefault((community, building), [Decimal(0)] * len(season_days))
        for number, (day, midnight) in enumerate(zip(season_days, midnights, strict=True)):
            sums[number] += per_day
            yield meter_id, midnight, day, per_day_scaled, household_id, "household", community, building
    communities: dict[str, list[Decimal]] = {}
    for (community, building), sums in buildings.items():
        meter_id = ids.meter_id(f"BM-{community}-{building}")
        totals = communities.setdefault(community, [Decimal(0)] * len(season_days))
        for number, day in enumerate(season_days):
            fed = (sums[number] * Decimal(1 + rng.randint(1, 9) / 100)).quantize(Decimal("0.001"))
            totals[number] += fed
            yield meter_id, _midnight(day), day, scaled(fed, ENERGY_SCALE), None, "building", community, building
    for community, totals in communities.items():
        meter_id = ids.meter_id(f"SM-{community}")
        for number, day in enumerate(season_days):
            yield (
                meter_id,
                _midnight(day),
                day,
                scaled(totals[number] * Decimal("1.03"), ENERGY_SCALE),
                None,
                "substation_primary",
                community,
                "站",
            )


def _midnight(day: date) -> datetime:
    return datetime(day.year, day.month, day.day, tzinfo=UTC) - timedelta(hours=8)


def bench_bill_id(account: str) -> UUID:
    """The same bill id each time the rows are generated (the fees are written beside the bill)."""
    return uuid5(NAMESPACE_URL, f"heatledger-bench-bill/{account}")


def bill_rows(households: int) -> Iterator[tuple[Any, ...]]:
    """One settlement bill per household with the lines the reports read."""
    for index, community, building in city(households):
        account = f"R-{index:06d}"
        metered, area = Decimal(900 + index % 700), Decimal(1_300)
        lines = [
            {"code": "area_fee", "amount_yuan": str(area)},
            {"code": "metered_fee", "amount_yuan": str(metered)},
            {"code": "prepaid", "amount_yuan": str(area)},
            {"code": "settlement_amount", "amount_yuan": str(metered - area)},
        ]
        yield (
            bench_bill_id(account), uuid4(), ids.household_id(account), account, community, building, SEASON.code,
            "settlement", "结算", f"JS-{account}", date(2026, 4, 10), SEASON.first_day, SEASON.last_day,
            scaled(metered - area, MONEY_SCALE), "metered", json.dumps(lines), RECORDED_AT, "bench", "bench", uuid4(),
        )  # fmt: skip


def fee_rows(households: int) -> Iterator[tuple[Any, ...]]:
    """Each settlement bill's fees, as ``record_settlement_fees`` writes them beside the bill."""
    for bill in bill_rows(households):
        bill_id, household_id, season_code, lines = bill[0], bill[2], bill[6], bill[15]
        yield (bill_id, household_id, season_code, *map(str, fees_of_bill(json.loads(lines))))


def substation_rows(households: int) -> tuple[list[tuple[Any, ...]], list[tuple[Any, ...]]]:
    communities = sorted({community for _, community, _ in city(households)})
    configurations, feeds = [], []
    for community in communities:
        substation_id = ids.substation_id(f"站-{community}")
        serial = f"SM-{community}"
        name, meter_id = f"站-{community}", ids.meter_id(serial)
        configurations.append(
            (substation_id, date(2025, 10, 1), name, "*", serial, meter_id, RECORDED_AT, "bench", "x")
        )
        feeds.append((substation_id, date(2025, 10, 1), community, ""))
    return configurations, feeds


def build(container: Container, households: int) -> dict[str, int]:
    """The read models of the city, written directly (see the module's docstring)."""
    engine = container.engine
    counts = {
        "households": copy_rows(engine, "households", HOUSEHOLD_COLUMNS, household_rows(households)),
        "daily_consumption": copy_rows(engine, "daily_consumption", DAILY_COLUMNS, daily_rows(households)),
        "bills": copy_rows(engine, "bills", BILL_COLUMNS, bill_rows(households)),
        # What the projection writes beside each settlement bill (record_settlement_fees).
        "settlement_bill_fees": copy_rows(engine, "settlement_bill_fees", FEE_COLUMNS, fee_rows(households)),
    }
    configurations, feeds = substation_rows(households)
    copy_rows(engine, "substation_configurations", CONFIGURATION_COLUMNS, iter(configurations))
    copy_rows(engine, "substation_feeds", ("substation_id", "effective_on", "community", "building"), iter(feeds))
    with engine.begin() as connection:
        # What the projection keeps up as it writes the daily rows, summed here in one go.
        connection.execute(text("SET LOCAL statement_timeout = 0"))
        summarise_daily(connection)
    with engine.begin() as connection:
        connection.execute(text("SET LOCAL statement_timeout = 0"))
        connection.execute(text("ANALYZE"))
    for setting, value, source in (
        (BaselineSetting.AVERAGE_UNIT_CONSUMPTION, Decimal("0.4"), ""),
        (BaselineSetting.PURCHASE_PRICE, Decimal(21), "*"),
    ):
        container.analytics_settings.record_setting(
            ADMIN, SEASON.code, setting, value, SEASON.first_day, "bench", heat_source=source
        )
    return counts


HOUSEHOLD_COLUMNS = (
    "household_id", "account_number", "community", "building", "entrance", "floor", "flat", "connected_area_m2",
    "heated_area_m2", "customer_class", "vertical_position", "horizontal_position", "registered_on",
    "heating_suspended", "suspended_since", "deregistered_on", "version",
)  # fmt: skip
DAILY_COLUMNS = (
    "meter_id", "interval_start_at", "day", "energy_gj", "household_id", "meter_kind", "community", "building",
)  # fmt: skip
BILL_COLUMNS = (
    "bill_id", "period_id", "household_id", "account_number", "community", "building", "season_code", "kind",
    "label", "number", "issued_on", "first_day", "last_day", "amount_yuan", "basis", "lines", "issued_at", "actor",
    "reason", "correlation_id",
)  # fmt: skip
FEE_COLUMNS = ("bill_id", "household_id", "season_code", "metered_fee_yuan", "area_fee_yuan", "due_yuan")
CONFIGURATION_COLUMNS = (
    "substation_id", "effective_on", "name", "heat_source", "meter_serial", "meter_id", "recorded_at", "actor",
    "reason",
)  # fmt: skip

# The heavy aggregates alone, as plain SQL: the floor a report over them cannot go below.
RAW_HOUSEHOLD_HEAT = """
SELECT household_id, sum(energy_gj) FROM daily_consumption
WHERE meter_kind = 'household' AND household_id IS NOT NULL AND day BETWEEN :first AND :last
GROUP BY household_id"""
RAW_PLACE_DAYS = """
SELECT meter_kind, community, building, day, CASE WHEN meter_kind = 'household' THEN NULL ELSE meter_id END,
       sum(energy_gj)
FROM daily_consumption WHERE day BETWEEN :first AND :last
GROUP BY 1, 2, 3, 4, 5"""


def timed(work: Callable[[], Any]) -> tuple[float, float]:
    """Wall seconds and this process's CPU seconds of one run (the database's own time is in the
    wall figure only; on a loaded machine the wall figure also holds the time spent waiting for a core)."""
    started, cpu = time.perf_counter(), time.process_time()
    work()
    return time.perf_counter() - started, time.process_time() - cpu


def raw(engine: Engine, statement: str) -> Callable[[], Any]:
    def run() -> Any:
        with engine.connect() as connection:
            return connection.execute(text(statement), {"first": SEASON.first_day, "last": SEASON.last_day}).all()

    return run


def explain(engine: Engine, statement: str) -> str:
    with engine.connect() as connection:
        rows = connection.execute(
            text("EXPLAIN (ANALYZE, BUFFERS) " + statement), {"first": SEASON.first_day, "last": SEASON.last_day}
        )
        return "\n".join(row[0] for row in rows)


@contextmanager
def kept_database(households: int) -> Iterator[Settings]:
    """Settings of a PostgreSQL database kept between runs (``heatledger_bench_reports_<N>``):
    created when missing, never dropped (drop it with ``DROP DATABASE``)."""
    name = f"heatledger_bench_reports_{households}"
    with _admin_connection() as connection:
        if connection.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone() is None:
            connection.execute(f'CREATE DATABASE "{name}"')
    yield Settings(
        environment=Environment.TEST,
        backend=Backend.POSTGRES,
        postgres_host=POSTGRES_HOST,
        postgres_port=POSTGRES_PORT,
        postgres_user=POSTGRES_USER,
        postgres_dbname=name,
    )


def built_households(engine: Engine) -> int:
    with engine.connect() as connection:
        return int(connection.execute(text("SELECT count(*) FROM households")).scalar_one())


def measure(households: int, show_plans: bool, keep_database: bool) -> None:
    console = bench_console()
    with (
        tempfile.TemporaryDirectory(prefix="heatledger-bench-") as folder,
        kept_database(households)
        if keep_database
        else store_settings(Backend.POSTGRES, Path(folder), "reports") as settings,
    ):
        container = bootstrap(settings.model_copy(update={"catch_up_after_command": False}))
        try:
            started = time.perf_counter()
            if built_households(container.engine) == households:
                console.print(f"Set-up kept from an earlier run ({settings.postgres_dbname})")
            else:
                assert built_households(container.engine) == 0, "a kept database half built: drop it"
                counts = build(container, households)
                console.print(
                    f"Set-up (read models written directly with COPY, not timed): {counts} "
                    f"in {time.perf_counter() - started:.1f} s"
                )
            reports, engine, code = container.analytics_reports, container.engine, SEASON.code
            work = {
                "places by community": lambda: reports.places(REGULATOR, code, "community"),
                "places by building": lambda: reports.places(REGULATOR, code, "building"),
                "heat loss, every day": lambda: reports.heat_loss(REGULATOR, code, daily=True),
                "position fairness": lambda: reports.position_fairness(REGULATOR, code),
                "collection": lambda: reports.collection(REGULATOR, code),
                "raw SQL: heat per household": raw(engine, RAW_HOUSEHOLD_HEAT),
                "raw SQL: heat per place and day": raw(engine, RAW_PLACE_DAYS),
            }
            table = Table(title=f"Reports over {SEASON.code}, {households:,} households, PostgreSQL")
            for column in ("report", "first s", "second s", "CPU s (1st, 2nd)", f"under {TARGET_SECONDS:.0f} s"):
                table.add_column(column)
            for name, run in work.items():
                (first, first_cpu), (second, second_cpu) = timed(run), timed(run)
                console.print(f"{name}: {first:.2f} s, {second:.2f} s (CPU {first_cpu:.2f}, {second_cpu:.2f})")
                table.add_row(
                    name,
                    f"{first:.2f}",
                    f"{second:.2f}",
                    f"{first_cpu:.2f}, {second_cpu:.2f}",
                    "yes" if max(first, second) < TARGET_SECONDS else "NO",
                )
            console.print(table)
            console.print(f"Load average (1, 5, 15 min) at the end: {os.getloadavg()}")
            if show_plans:
                for statement in (RAW_HOUSEHOLD_HEAT, RAW_PLACE_DAYS):
                    console.print(explain(engine, statement), markup=False)
        finally:
            container.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--households", type=int, default=20_000)
    parser.add_argument("--plans", action="store_true", help="print EXPLAIN (ANALYZE) of the heavy aggregates")
    parser.add_argument(
        "--keep-database",
        action="store_true",
        help="build the city in heatledger_bench_reports_<households> once and reuse it on later runs",
    )
    arguments = parser.parse_args()
    measure(arguments.households, arguments.plans, arguments.keep_database)


if __name__ == "__main__":
    main()
