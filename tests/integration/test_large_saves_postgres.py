"""Large saves and timeouts on the real PostgreSQL (issue 18, "The hang").

psycopg 3.3.9's pipeline mode can hang forever on one large save (infrastructure/
postgres_event_store.py says why); the ledger's recorder avoids it. Every save here runs under a
watchdog, so a hang fails the test instead of stopping the suite.
"""

from __future__ import annotations

import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

import psycopg
import pytest
import sqlalchemy.exc
from eventsourcing.persistence import OperationalError
from sqlalchemy import text

from application.authorization import SYSTEM
from application.billing_runs import CHUNK_SIZE
from application.ingestion import MAXIMUM_BATCH_SIZE, ReadingItem
from application.ledger import HeatLedger
from domain import ids
from domain.billing import MeterEvidence, MonthInputs, SegmentInputs, SettlementInputs
from domain.billing_period import BillingPeriod
from domain.household import Household
from domain.meter import Meter
from domain.readings import ReadingValues
from domain.season import Season
from domain.settlement import SettlementPolicy, TwoPartPrice
from domain.tariff import Tariff, TariffTerms
from domain.values import (
    AccuracyClass,
    Address,
    Areas,
    CommandContext,
    CustomerClass,
    FlowSensorSide,
    HorizontalPosition,
    MeterKind,
    Position,
    VerticalPosition,
)
from infrastructure.container import bootstrap
from infrastructure.database import is_database_timeout
from infrastructure.event_store import event_store_environment
from infrastructure.settings import Settings
from tests.conftest import postgres_settings
from tests.integration.large_save_process import LargeSaves, environment
from tests.services import POSTGRES_HOST, POSTGRES_PORT, POSTGRES_USER, fresh_postgres_database
from tests.watchdog import in_thread_with_watchdog

pytestmark = pytest.mark.postgres
CONTEXT = CommandContext("billing-run", "season settlement", uuid.uuid4())

# The save the issue saw hang: 5,000 new aggregates of about 1.4 KB each in one save().
LARGE_SAVE_AGGREGATES = 5000
LARGE_SAVE_PAYLOAD_BYTES = 1300
# A backend that has waited this long, mid-statement, for the rest of a message from a client on
# the same machine is waiting for bytes that will never come: the hang.
STALLED_READ_SECONDS = 5.0
WATCHDOG_SECONDS = 120.0
LARGE_SAVE_COMMAND = [sys.executable, "-m", "tests.integration.large_save_process"]


def connection_string(database: str) -> str:
    return f"host={POSTGRES_HOST} port={POSTGRES_PORT} user={POSTGRES_USER} dbname={database}"


@pytest.fixture
def database() -> Iterator[str]:
    with fresh_postgres_database() as name:
        yield name


@contextmanager
def table_locked(database: str, table: str) -> Iterator[psycopg.Connection[Any]]:
    """Another writer's EXCLUSIVE lock on ``table`` (the lock every event insert takes)."""
    with psycopg.connect(connection_string(database)) as holder:
        holder.execute(f"LOCK TABLE {table} IN EXCLUSIVE MODE")
        yield holder
        holder.rollback()


def wait_until(condition: Callable[[], bool], seconds: float, what: str) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail(f"{what} did not happen within {seconds} s")
        time.sleep(0.05)


def waits_for_lock(watcher: psycopg.Connection[Any], table: str) -> Callable[[], bool]:
    query = "SELECT 1 FROM pg_locks WHERE NOT granted AND relation = %s::regclass"
    return lambda: watcher.execute(query, (table,)).fetchone() is not None


def stalled_reading(watcher: psycopg.Connection[Any], database: str) -> bool:
    """Whether some backend of ``database`` is in a statement, waiting for its client's bytes."""
    query = (
        "SELECT 1 FROM pg_stat_activity WHERE datname = %s AND pid <> pg_backend_pid() "
        "AND state = 'active' AND wait_event = 'ClientRead'"
    )
    return watcher.execute(query, (database,)).fetchone() is not None


def finish_or_fail(child: subprocess.Popen[str], watcher: psycopg.Connection[Any], database: str) -> str:
    """The child's output once it ends; kill it and fail on a stalled read or the watchdog."""
    started = time.monotonic()
    stalled_since: float | None = None
    while child.poll() is None:
        now = time.monotonic()
        stalled_since = (stalled_since or now) if stalled_reading(watcher, database) else None
        if stalled_since is not None and now - stalled_since > STALLED_READ_SECONDS:
            child.kill()
            pytest.fail(f"the save hung: its backend waited {STALLED_READ_SECONDS} s for the rest of the INSERT")
        if now - started > WATCHDOG_SECONDS:
            child.kill()
            pytest.fail(f"the save did not finish within {WATCHDOG_SECONDS} s")
        time.sleep(0.1)
    output, _ = child.communicate()
    assert child.returncode == 0, output
    return output


def test_a_save_of_5000_large_events_finishes_while_another_writer_holds_the_lock(database: str) -> None:
    """The issue's save (5,000 aggregates of about 1.4 KB), started while another writer holds the
    events table: with psycopg's pipeline (the library's recorder) it hung in 2 of 3 runs here;
    the ledger's recorder saves it every time, whole."""
    LargeSaves(env=environment(database, "ledger")).close()  # creates largesaves_events
    with psycopg.connect(connection_string(database), autocommit=True) as watcher:
        with table_locked(database, "largesaves_events") as holder:
            child = subprocess.Popen(
                [*LARGE_SAVE_COMMAND, database, "ledger", str(LARGE_SAVE_AGGREGATES), str(LARGE_SAVE_PAYLOAD_BYTES)],
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                text=True,
            )
            try:
                wait_until(waits_for_lock(watcher, "largesaves_events"), WATCHDOG_SECONDS, "the save's lock wait")
            except BaseException:
                child.kill()
                raise
            holder.commit()
        output = finish_or_fail(child, watcher, database)
        saved = watcher.execute("SELECT count(*), max(notification_id) FROM largesaves_events").fetchone()
    assert output.startswith(f"saved {LARGE_SAVE_AGGREGATES}")
    assert saved == (LARGE_SAVE_AGGREGATES, LARGE_SAVE_AGGREGATES)


# -- timeouts ---------------------------------------------------------------------------------


def register(ledger: HeatLedger, account: str) -> None:
    ledger.register_household(
        SYSTEM,
        account,
        Address("碧桂园", "1", "1", 6, "601"),
        Areas(Decimal("90.00"), Decimal("85.50")),
        CustomerClass.RESIDENTIAL,
        Position(VerticalPosition.TOP, HorizontalPosition.WEST_END),
        datetime(2025, 10, 1, tzinfo=UTC).date(),
    )


def count_events(database: str) -> int:
    with psycopg.connect(connection_string(database)) as connection:
        row = connection.execute("SELECT count(*) FROM heatledger_events").fetchone()
    assert row is not None
    return int(row[0])


def test_a_save_blocked_by_another_writer_is_refused_within_the_lock_timeout(database: str) -> None:
    settings = postgres_settings(database).model_copy(update={"database_lock_timeout_seconds": 1.0})
    ledger = HeatLedger(env=event_store_environment(settings))
    try:
        register(ledger, "WZ-0001")
        before = count_events(database)
        with table_locked(database, "heatledger_events") as holder:
            started = time.monotonic()
            error = in_thread_with_watchdog(lambda: register(ledger, "WZ-0002"), 10.0, holder.rollback)
            waited = time.monotonic() - started
        assert isinstance(error, OperationalError) and is_database_timeout(error), error
        # Two attempts of one second each, and the pause between them: refused, not hanging.
        assert 1.0 <= waited < 5.0
        assert count_events(database) == before  # nothing half-written
        register(ledger, "WZ-0002")  # the lock gone, the same save goes through
        assert count_events(database) == before + 1
    finally:
        ledger.close()


def test_every_connection_has_the_statement_and_lock_timeouts(database: str) -> None:
    settings = postgres_settings(database).model_copy(
        update={"database_statement_timeout_seconds": 0.5, "database_lock_timeout_seconds": 0.25}
    )
    container = bootstrap(settings)
    try:
        recorder = container.ledger.recorder
        with recorder.datastore.get_connection() as connection:  # type: ignore[attr-defined]
            shown = [connection.execute(f"SHOW {name}").fetchone() for name in ("statement_timeout", "lock_timeout")]
        assert [next(iter(row.values())) for row in shown if row] == ["500ms", "250ms"]
        with container.engine.connect() as connection:
            assert connection.execute(text("SHOW statement_timeout")).scalar() == "500ms"
            assert connection.execute(text("SHOW lock_timeout")).scalar() == "250ms"
            with pytest.raises(sqlalchemy.exc.OperationalError) as cancelled:
                connection.execute(text("SELECT pg_sleep(5)"))
        assert is_database_timeout(cancelled.value)
    finally:
        container.close()


# -- the largest batch the API accepts ----------------------------------------------------------

METERS_IN_LARGEST_BATCH = 500
READINGS_PER_METER = MAXIMUM_BATCH_SIZE // METERS_IN_LARGEST_BATCH


def set_up_meters(ledger: HeatLedger, count: int, since: datetime) -> list[str]:
    """Households with an attached meter each, saved in one save; the meters' serials."""
    context = CommandContext("test", "large batch set-up", uuid.uuid4())
    position = Position(VerticalPosition.MIDDLE, HorizontalPosition.MIDDLE)
    aggregates: list[Any] = []
    serials = []
    for number in range(count):
        household = Household.register(
            f"BIG-{number:05d}",
            Address("大批量", str(number // 48 + 1), "1", number % 6 + 1, str(number)),
            Areas(Decimal("90.00"), Decimal("85.00")),
            CustomerClass.RESIDENTIAL,
            position,
            (since - timedelta(days=30)).date(),
            context,
        )
        meter = Meter.commission(
            f"BIG-M-{number:05d}",
            "Kamstrup",
            "Multical 603",
            AccuracyClass.CLASS_2,
            FlowSensorSide.RETURN,
            MeterKind.HOUSEHOLD,
            since,
            context,
        )
        meter.attach_to(household.id, since, context)
        household.attach_meter(meter.id, meter.serial, since, context)
        aggregates += [household, meter]
        serials.append(meter.serial)
    ledger.save(*aggregates)
    return serials


def test_the_largest_batch_the_api_accepts_is_saved_whole(database: str) -> None:
    """10,000 readings (MAXIMUM_BATCH_SIZE) in one record_readings: one save of 10,000 events."""
    settings: Settings = postgres_settings(database).model_copy(update={"catch_up_after_command": False})
    ledger = HeatLedger(env=event_store_environment(settings))
    try:
        start = datetime(2025, 11, 1, 16, tzinfo=UTC)
        serials = set_up_meters(ledger, METERS_IN_LARGEST_BATCH, start - timedelta(days=1))
        items = [
            ReadingItem(serial, ReadingValues(start + timedelta(days=day), Decimal("0.25") * day))
            for serial in serials
            for day in range(READINGS_PER_METER)
        ]
        assert len(items) == MAXIMUM_BATCH_SIZE
        before = count_events(database)
        report = in_thread_with_watchdog(lambda: ledger.record_readings(SYSTEM, items), WATCHDOG_SECONDS, lambda: None)
        assert report.accepted == MAXIMUM_BATCH_SIZE, report
        assert count_events(database) == before + MAXIMUM_BATCH_SIZE
    finally:
        ledger.close()


# -- the largest billing chunk ------------------------------------------------------------------


def season_of_bills(account_number: str) -> BillingPeriod:
    """A billing period that issued the prepayment, five statements and the settlement: the most a
    billing run adds to one household's period in one chunk."""
    season = Season.default_starting(2025)
    price = TwoPartPrice(Decimal("21.6"), Decimal(30), Decimal("43.9"), SettlementPolicy.BOTH_WAYS)
    tariff = Tariff.open(CustomerClass.RESIDENTIAL, "*", CONTEXT)
    tariff.publish(TariffTerms(price), date(2025, 10, 1), None, "许发改价格〔2025〕7号", date(2025, 9, 20), CONTEXT)
    period = BillingPeriod.open(
        ids.household_id(account_number), account_number, "碧桂园", "1", season, tariff.id, "*",
        tariff.versions[0], Decimal("90.00"), Decimal("0.687"), CONTEXT,
    )  # fmt: skip
    period.invoice_prepayment(False, date(2025, 11, 1), CONTEXT)
    for month, first, last in (
        ("2025-11", date(2025, 11, 1), date(2025, 11, 30)),
        ("2025-12", date(2025, 12, 1), date(2025, 12, 31)),
        ("2026-01", date(2026, 1, 1), date(2026, 1, 31)),
        ("2026-02", date(2026, 2, 1), date(2026, 2, 28)),
        ("2026-03", date(2026, 3, 1), date(2026, 3, 31)),
    ):
        inputs = MonthInputs(month, first, last, Decimal("6.2"), Decimal("12.2"), Decimal("6.0"), Decimal("0.05"))
        period.issue_statement(inputs, last + timedelta(days=1), CONTEXT)
    evidence = MeterEvidence(Decimal("30.2"), Decimal("0.4"), 149, 2, 0, ("M-1",), "M-1 first", "M-1 last")
    segments = (SegmentInputs(season.first_day, season.last_day, 0, evidence),)
    period.settle(SettlementInputs(segments, None, period.prepaid_yuan), date(2026, 4, 2), CONTEXT)
    return period


def test_the_largest_billing_chunk_is_saved_whole(database: str) -> None:
    """A billing run saves CHUNK_SIZE (250) households' periods in one save: 250 × 8 events here."""
    settings: Settings = postgres_settings(database).model_copy(update={"catch_up_after_command": False})
    ledger = HeatLedger(env=event_store_environment(settings))
    try:
        periods = [season_of_bills(f"WZ-{number:04d}") for number in range(CHUNK_SIZE)]
        events = sum(len(period.pending_events) for period in periods)
        assert events == CHUNK_SIZE * 8
        before = count_events(database)
        in_thread_with_watchdog(lambda: ledger.save(*periods), WATCHDOG_SECONDS, lambda: None)
        assert count_events(database) == before + events
    finally:
        ledger.close()
