"""Dunning benchmark: reminders written and delivered per second against raw SQL and bare POSTs.

Run ``python -m bench.dunning`` (or ``python bench/dunning.py``) with ``--households`` (default
5,000) and ``--backend sqlite|postgres|both``. For each backend, in one process:

set-up (not timed, with progress): a loopback webhook receiver (a ``ThreadingHTTPServer`` answering
200, like ``tests/receivers.py``); a fresh store built by ``bootstrap`` with the webhook pointed at
it; a city-wide tariff; the households (90 m², communities of 1,000), each registered and its
2025-2026 prepayment of 1,944.00 元 invoiced (issued 25 Oct, due 1 Nov 2025), household and period
saved together, 500 households per ``save``; a webhook contact (zh) for each through
``contacts.set_contact``; one projection catch-up.

Timed, in this order:

a. the dunning run: ``Dunning.remind`` under the policy 15/45/90 days, 50 元, on 10 Jan 2026
   (70 days past due: every household is due its 45-day reminder); reminders written/s. It reads
   what is past due, loads each household (open disputes), renders the message and writes it to
   the outbox, one transaction per message. Then the same run again, when every reminder has been
   written already (each insert clashes on the dedup key): households checked/s;
c. delivery: ``deliver_notifications`` with a limit of every message: claim one, POST it signed
   with the webhook channel's one ``httpx2.Client`` (kept for the whole delivery pass), record the
   attempt; messages delivered/s;
d. bare POSTs, the baseline of (c): the same messages encoded, signed and POSTed straight to the
   same receiver with one ``httpx2.Client``, no outbox; POSTs/s. The receiver speaks HTTP/1.0, so
   both open a connection per message, and (c) / (d) is what claiming, recording each attempt and
   the outbox bookkeeping cost;
b. raw SQL, the baseline of (a): the same number of outbox rows (the run's rows, with fresh ids
   and keys) inserted with SQLAlchemy Core ``insert(notification_outbox)``, executemany, one
   transaction per 250 rows, on the same engine; rows/s. It runs last, so delivery never sees
   its rows.

The ratios ours / baseline say what the policy check, the aggregate loads and the rendering cost
(a / b), and what claiming, recording each attempt and the outbox bookkeeping cost (c / d).
PostgreSQL is used when it answers at 127.0.0.1:5432 (trust auth, user postgres), on a throw-away
database dropped afterwards, as in ``bench.ingest``. Figures only: nothing is asserted.
"""

from __future__ import annotations

import argparse
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx2
from eventsourcing.domain import Aggregate
from rich.console import Console
from rich.progress import Progress
from rich.table import Table
from sqlalchemy import Engine, insert, select

from application.authorization import Principal, Role
from application.dunning import DunningRunSummary
from application.notifications import Contact, ContactChannel, MessageLanguage
from bench.ingest import _progress, backends_to_measure, bench_console, store_settings
from domain import ids
from domain.billing_period import BillingPeriod
from domain.dunning import DunningPolicy, ReminderSkip
from domain.household import Household
from domain.season import Season
from domain.settlement import PositionCorrection, SettlementPolicy, TwoPartPrice
from domain.tariff import CITY_SCOPE, Tariff, TariffTerms
from domain.values import (
    Address,
    Areas,
    CommandContext,
    CustomerClass,
    HorizontalPosition,
    Position,
    VerticalPosition,
)
from infrastructure.container import Container, bootstrap
from infrastructure.jobs import deliver_notifications
from infrastructure.notifications.outbox import MAXIMUM_PAGE, QueuedMessage
from infrastructure.notifications.tables import notification_outbox
from infrastructure.notifications.webhook import (
    MESSAGE_ID_HEADER,
    SIGNATURE_HEADER,
    TIMESTAMP_HEADER,
    encode,
    sign,
    webhook_secret,
)
from infrastructure.settings import Backend, Settings

SEASON = Season.default_starting(2025)
REGISTERED_ON = date(2025, 10, 1)
PREPAYMENT_ISSUED_ON = SEASON.first_day - timedelta(days=7)  # 25 Oct, due on the season's first day
TODAY = date(2026, 1, 10)  # 70 days past due: the 45-day stage
POLICY = DunningPolicy.of([15, 45, 90], Decimal("50"))
AREA_M2 = Decimal("90.00")
COMMUNITY_SIZE = 1_000
BUILDING_SIZE = 48
SETUP_CHUNK = 500  # households (each with its period) per save
RAW_CHUNK = 250  # outbox rows per transaction of the raw-SQL baseline
WEBHOOK_SECRET = "bench-webhook-secret"
CLERK = Principal("bench-clerk", Role.CLERK)
TERMS = TariffTerms(
    TwoPartPrice(
        Decimal("21.6"),
        Decimal(30),
        Decimal("43.9"),
        SettlementPolicy.BOTH_WAYS,
        position_correction=PositionCorrection.NONE,
    )
)

# -- the receiver -----------------------------------------------------------------------------


@dataclass
class Receiver:
    """A loopback webhook receiver: its URL and how many requests it has taken."""

    url: str = ""
    received: int = 0


@contextmanager
def webhook_receiver() -> Iterator[Receiver]:
    """An HTTP server on 127.0.0.1 (a free port) answering every POST with 200, for the block:
    the equivalent of ``tests/receivers.py`` that counts instead of keeping the requests."""
    lock = threading.Lock()
    receiver = Receiver()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            self.rfile.read(int(self.headers.get("Content-Length", "0")))
            with lock:
                receiver.received += 1
            self.send_response(200)
            self.send_header("Content-Length", "2")
            self.end_headers()
            self.wfile.write(b"ok")

        def log_message(self, format: str, *args: object) -> None:  # keep the figures readable
            return

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    receiver.url = f"http://127.0.0.1:{server.server_address[1]}/reminders"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield receiver
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


# -- the households ---------------------------------------------------------------------------


def account_of(number: int) -> str:
    """The account number of the ``number``-th household."""
    return f"DN-{number:06d}"


def _context() -> CommandContext:
    return CommandContext("bench", "benchmark set-up", uuid.uuid4())


def _address(number: int) -> Address:
    community, in_community = divmod(number, COMMUNITY_SIZE)
    building, in_building = divmod(in_community, BUILDING_SIZE)
    floor = in_building // 4 + 1
    return Address(f"Bench-{community + 1:03d}", str(building + 1), "1", floor, f"{floor}0{in_building % 4 + 1}")


def _city_tariff() -> Tariff:
    tariff = Tariff.open(CustomerClass.RESIDENTIAL, CITY_SCOPE, _context())
    tariff.publish(TERMS, date(2025, 10, 1), None, "宁价商〔2025〕12号", date(2025, 9, 20), _context())
    return tariff


def _household_and_period(number: int, tariff: Tariff) -> list[Aggregate]:
    """A household and its season with the prepayment invoiced, as ``register_household`` and
    ``invoice_prepayment`` make them (the same events, without a save per command)."""
    account = account_of(number)
    address = _address(number)
    position = Position(VerticalPosition.MIDDLE, HorizontalPosition.MIDDLE)
    household = Household.register(
        account, address, Areas(AREA_M2, AREA_M2), CustomerClass.RESIDENTIAL, position, REGISTERED_ON, _context()
    )
    period = BillingPeriod.open(
        ids.household_id(account),
        account,
        address.community,
        address.building,
        SEASON,
        tariff.id,
        CITY_SCOPE,
        tariff.versions[0],
        AREA_M2,
        Decimal("1.000"),
        _context(),
    )
    period.invoice_prepayment(False, PREPAYMENT_ISSUED_ON, _context())
    return [household, period]


def set_up(container: Container, households: int, progress: Progress, label: str) -> None:
    """The tariff, the households with their prepayments past due, a contact each, one catch-up."""
    tariff = _city_tariff()
    container.ledger.save(tariff)
    task = progress.add_task(f"{label}: households and prepayments", total=households)
    for start in range(0, households, SETUP_CHUNK):
        numbers = range(start, min(start + SETUP_CHUNK, households))
        container.ledger.save(*(aggregate for number in numbers for aggregate in _household_and_period(number, tariff)))
        progress.update(task, completed=numbers.stop)
    task = progress.add_task(f"{label}: contacts", total=households)
    for number in range(households):
        contact = Contact(account_of(number), ContactChannel.WEBHOOK, f"139{number:08d}", MessageLanguage.ZH)
        container.contacts.set_contact(contact, "bench")
        progress.advance(task)
    task = progress.add_task(f"{label}: projection catch-up", total=None)
    container.catch_up()
    progress.update(task, total=1, completed=1)


def outbox_messages(container: Container) -> list[QueuedMessage]:
    """Every message in the outbox, a page at a time."""
    messages: list[QueuedMessage] = []
    while page := container.outbox.messages(limit=MAXIMUM_PAGE, offset=len(messages)):
        messages += page
    return messages


# -- the timed parts --------------------------------------------------------------------------


def timed(work: Callable[[], Any]) -> tuple[float, Any]:
    """Seconds ``work`` took, and what it returned."""
    started = time.perf_counter()
    result = work()
    return time.perf_counter() - started, result


def raw_rows(engine: Engine) -> list[dict[str, Any]]:
    """The outbox's rows as the run wrote them (pending, no attempt), with fresh ids and keys."""
    with engine.connect() as connection:
        rows = [dict(row) for row in connection.execute(select(notification_outbox)).mappings()]
    for row in rows:
        row.update(
            message_id=uuid.uuid4(),
            dedup_key="raw:" + row["dedup_key"],
            status="pending",
            attempts=0,
            next_attempt_at=row["created_at"],
            claimed_until=None,
            delivered_at=None,
            last_error=None,
        )
    return rows


def insert_raw(engine: Engine, rows: list[dict[str, Any]]) -> None:
    """Insert the rows with SQLAlchemy Core, executemany, one transaction per ``RAW_CHUNK``."""
    for start in range(0, len(rows), RAW_CHUNK):
        with engine.begin() as connection:
            connection.execute(insert(notification_outbox), rows[start : start + RAW_CHUNK])


def _client() -> httpx2.Client:
    return httpx2.Client(timeout=10.0, follow_redirects=False)


def _post_signed(client: httpx2.Client, url: str, secret: str, message: QueuedMessage) -> bool:
    """Encode, sign and POST one message as the webhook channel does; whether it was taken (2xx)."""
    body = encode(message)
    timestamp = str(int(time.time()))
    headers = {
        "Content-Type": "application/json; charset=utf-8",
        MESSAGE_ID_HEADER: str(message.message_id),
        TIMESTAMP_HEADER: timestamp,
        SIGNATURE_HEADER: sign(secret, timestamp, body),
    }
    return client.post(url, content=body, headers=headers).is_success


def post_bare(url: str, secret: str, messages: list[QueuedMessage]) -> int:
    """POST each message signed with one client; how many the receiver took."""
    with _client() as client:
        return sum(_post_signed(client, url, secret, message) for message in messages)


# -- running and reporting --------------------------------------------------------------------


@dataclass(frozen=True)
class Figures:
    """One backend's counts and seconds."""

    backend: Backend
    households: int
    setup_seconds: float
    reminders: int
    run_seconds: float
    rerun_checked: int
    rerun_already_sent: int
    rerun_seconds: float
    raw_rows: int
    raw_seconds: float
    delivered: int
    retried_or_dead: int
    delivery_seconds: float
    bare_posts: int
    bare_seconds: float
    received: int

    @property
    def run_rate(self) -> float:
        return self.reminders / self.run_seconds

    @property
    def rerun_rate(self) -> float:
        return self.rerun_checked / self.rerun_seconds

    @property
    def raw_rate(self) -> float:
        return self.raw_rows / self.raw_seconds

    @property
    def delivery_rate(self) -> float:
        return self.delivered / self.delivery_seconds

    @property
    def bare_rate(self) -> float:
        return self.bare_posts / self.bare_seconds


def _bench_settings(settings: Settings, webhook_url: str) -> Settings:
    """The store's settings with the webhook at the receiver, and no catch-up after every save
    (the bench catches up once itself)."""
    update = {
        "catch_up_after_command": False,
        "notification_webhook_url": webhook_url,
        "notification_webhook_secret": WEBHOOK_SECRET,
    }
    return settings.model_copy(update=update)


def _spinner(progress: Progress, description: str, work: Callable[[], Any]) -> tuple[float, Any]:
    task = progress.add_task(description, total=None)
    seconds, result = timed(work)
    progress.update(task, total=1, completed=1)
    return seconds, result


def time_runs(container: Container, progress: Progress, label: str) -> dict[str, Any]:
    """(a): the dunning run, then the same run again when every reminder is written already."""

    def remind() -> DunningRunSummary:
        return container.dunning.remind(CLERK, POLICY, TODAY)

    run_seconds, run = _spinner(progress, f"{label}: (a) dunning run", remind)
    rerun_seconds, rerun = _spinner(progress, f"{label}: (a) dunning run again", remind)
    return {
        "reminders": run.queued,
        "run_seconds": run_seconds,
        "rerun_checked": len(rerun.outcomes),
        "rerun_already_sent": sum(outcome.skip == ReminderSkip.ALREADY_SENT for outcome in rerun.outcomes),
        "rerun_seconds": rerun_seconds,
    }


def time_delivery(container: Container, url: str, progress: Progress, label: str) -> dict[str, Any]:
    """(c) the delivery job over every message, then (d) the bare POSTs of them."""
    due = sum(container.outbox.counts().values())
    delivery_seconds, delivery = _spinner(
        progress, f"{label}: (c) deliver_notifications", lambda: deliver_notifications(container, limit=max(due, 1))
    )
    messages = outbox_messages(container)
    secret = webhook_secret(container.settings)
    bare_seconds, bare_posts = _spinner(
        progress, f"{label}: (d) bare signed POSTs", lambda: post_bare(url, secret, messages)
    )
    return {
        "delivered": delivery["delivered"],
        "retried_or_dead": delivery["retried"] + delivery["dead"],
        "delivery_seconds": delivery_seconds,
        "bare_posts": bare_posts,
        "bare_seconds": bare_seconds,
    }


def time_raw(container: Container, progress: Progress, label: str) -> dict[str, Any]:
    """(b): the outbox's rows again, inserted with raw SQL (after delivery, which never sees them)."""
    rows = raw_rows(container.engine)
    raw_seconds, _ = _spinner(progress, f"{label}: (b) raw SQL inserts", lambda: insert_raw(container.engine, rows))
    return {"raw_rows": len(rows), "raw_seconds": raw_seconds}


def measure(backend: Backend, households: int, console: Console) -> Figures:
    """Set up a fresh store of ``backend`` with a receiver, and time (a), (c), (d) and (b) on it."""
    label = backend.value
    with (
        tempfile.TemporaryDirectory(prefix="heatledger-bench-") as folder,
        webhook_receiver() as receiver,
        store_settings(backend, Path(folder), "dunning") as store,
        _progress(console) as progress,
    ):
        container = bootstrap(_bench_settings(store, receiver.url))
        try:
            setup_seconds, _ = timed(lambda: set_up(container, households, progress, label))
            runs = time_runs(container, progress, label)
            delivery = time_delivery(container, receiver.url, progress, label)
            raw = time_raw(container, progress, label)
        finally:
            container.close()
    return Figures(backend, households, setup_seconds, **runs, **raw, **delivery, received=receiver.received)


def report(console: Console, figures: Figures) -> None:
    """One table of the backend's rates and ratios, and a line of counts to read them by."""
    table = Table(title=f"Dunning {figures.households:,} households on {figures.backend.value}")
    for column in ("measure", "of", "seconds", "per second"):
        table.add_column(column, justify="left" if column == "measure" else "right", no_wrap=True)
    table.add_row(
        "(a) dunning run",
        f"{figures.reminders:,} reminders",
        f"{figures.run_seconds:.2f}",
        f"{figures.run_rate:,.0f} reminders/s",
    )
    table.add_row(
        "(a) again, all sent",
        f"{figures.rerun_checked:,} households",
        f"{figures.rerun_seconds:.2f}",
        f"{figures.rerun_rate:,.0f} households/s",
    )
    table.add_row(
        "(b) raw SQL insert",
        f"{figures.raw_rows:,} rows",
        f"{figures.raw_seconds:.2f}",
        f"{figures.raw_rate:,.0f} rows/s",
    )
    table.add_row("(a) ÷ (b) rate", "", "", f"{figures.run_rate / figures.raw_rate:.3f}", end_section=True)
    table.add_row(
        "(c) deliver_notifications",
        f"{figures.delivered:,} messages",
        f"{figures.delivery_seconds:.2f}",
        f"{figures.delivery_rate:,.0f} delivered/s",
    )
    table.add_row(
        "(d) bare signed POST",
        f"{figures.bare_posts:,} POSTs",
        f"{figures.bare_seconds:.2f}",
        f"{figures.bare_rate:,.0f} POSTs/s",
    )
    table.add_row("(c) ÷ (d) rate", "", "", f"{figures.delivery_rate / figures.bare_rate:.3f}", end_section=True)
    table.add_row("set-up (untimed)", f"{figures.households:,} households", f"{figures.setup_seconds:.1f}", "")
    console.print(table)
    console.print(
        f"{figures.backend.value}: {figures.reminders:,} reminders written, "
        f"{figures.rerun_already_sent:,} already sent on the second run; "
        f"{figures.delivered:,} delivered, {figures.retried_or_dead:,} not; "
        f"the receiver took {figures.received:,} POSTs"
    )


def parse_arguments(argv: list[str] | None) -> argparse.Namespace:
    """The command line: ``--households`` and ``--backend``."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--households", type=int, default=5_000, help="households in arrears, one contact each")
    parser.add_argument("--backend", choices=("sqlite", "postgres", "both"), default="both")
    arguments = parser.parse_args(argv)
    if not 1 <= arguments.households <= 100_000:
        parser.error("--households must lie in 1…100,000")
    return arguments


def main(argv: list[str] | None = None) -> None:
    """Measure each backend asked for (PostgreSQL only when it answers) and print its table."""
    arguments = parse_arguments(argv)
    console = bench_console()
    backends = backends_to_measure(arguments.backend, console)
    for backend in backends:
        report(console, measure(backend, arguments.households, console))


if __name__ == "__main__":
    main()
