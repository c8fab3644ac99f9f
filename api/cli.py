"""The ``heatledger`` command line: serve the API, load the demo, issue tokens, rebuild read models,
import readings from CSV.

Settings come from the ``HEATLEDGER_*`` environment. Commands that change the ledger act as the
local operator ``cli:<login name>`` with the admin role, so every event records who ran them.
Exit codes: 0 done; 1 done but some rows were not recorded, or the store cannot be reached;
2 bad input (a missing file, a bad CSV header, an unknown role, a value the ledger refuses);
3 the events' hash chain is broken (`audit verify`, `audit checkpoint`, `projections rebuild`).
"""

from __future__ import annotations

import csv
import getpass
import importlib
import logging
import os
import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import replace
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, NoReturn
from uuid import uuid4

import typer
import typer.main
from eventsourcing.persistence import PersistenceError
from pydantic import ValidationError
from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TaskProgressColumn, TextColumn, TimeElapsedColumn
from rich.table import Table
from sqlalchemy import func, select
from sqlalchemy.exc import SQLAlchemyError
from typer.core import TyperGroup

from application.authorization import Principal, Role
from application.ingestion import MAXIMUM_BATCH_SIZE, ItemOutcome, ItemStatus, judge_batch
from application.ledger import HeatLedger
from domain.errors import LedgerError, NotFoundError
from domain.meter import Meter
from infrastructure.container import Container, bootstrap
from infrastructure.csv_readings import CsvHeaderError, ParsedReadings, RowError, parse_readings_csv
from infrastructure.delivery_loop import PeriodicDelivery
from infrastructure.demo.community import DEFAULT_BUILDINGS, DEFAULT_SEED, business_today, generate_community
from infrastructure.demo.loader import LoadReport, is_loaded, load_community
from infrastructure.demo.model import DemoCommunity
from infrastructure.demo.room_controllers import RoomControllersReport, record_demo_room_controllers
from infrastructure.intake import Channel, ReadingIntake
from infrastructure.nbiot import NbiotChannels
from infrastructure.parallel_rebuild import DEFAULT_MOST_PROCESSES as DEFAULT_REBUILD_PROCESSES
from infrastructure.parallel_rebuild import MOST_PROCESSES as MOST_REBUILD_PROCESSES
from infrastructure.parallel_rebuild import (
    SPLIT_FROM_EVENTS,
    StoreOpener,
    catch_up_split_from_nothing,
    default_processes,
    plan_split,
    rebuild_split,
)
from infrastructure.settings import Backend, JobQueueKind, Settings
from projections.tables import households

if TYPE_CHECKING:
    from infrastructure.modbus import ModbusPoller, PollerConfig, PollReport
    from projections.rebuild_plan import RebuildPlan

# Every command imports this module (each of them opens the store), so what only some commands
# use is imported in them: the demo's billing, payments and notices (arq and Redis, 0.2 s), Modbus
# (pymodbus). The start-up a `heatledger projections rebuild` pays is measured in docs/scaling.md.

BAD_INPUT = 2
NOT_ALL_RECORDED = 1
STORE_UNAVAILABLE = 1
POSTGRES_CONNECT_TIMEOUT_S = 5
# Tables longer than this are cut, with a count of the rows left out (the totals cover every row).
MAXIMUM_TABLE_ROWS = 1000

# The commands that live in modules of their own, which register them on ``app`` when imported:
# a module is imported when one of its commands is asked for (or the help lists them all), so a
# command pays for its own imports only (billing's arq and Redis, the audit bundles' replay, the
# gateway's MQTT, the scenarios' xlsxwriter: about 0.5 s of start-up, issue 17).
COMMAND_MODULES = {  # in the order the help lists them
    "gateway": "api.cli_gateway",
    "simulate-devices": "api.cli_gateway",
    "tariff-corrections": "api.cli_tariff_corrections",
    "audit": "api.cli_audit",
    "tariff": "api.cli_billing",
    "billing": "api.cli_billing",
    "disputes": "api.cli_disputes",
    "dunning": "api.cli_dunning",
    "notifications": "api.cli_dunning",
    "payments": "api.cli_payments",
    "scenarios": "api.cli_scenarios",
    "season": "api.cli_seasons",
    "user": "api.cli_users",
}


class CommandsOnDemand(TyperGroup):
    """The ``heatledger`` group: a command of ``COMMAND_MODULES`` is added when first asked for."""

    def get_command(self, ctx: Any, cmd_name: str) -> Any:
        command = super().get_command(ctx, cmd_name)
        if command is None and cmd_name in COMMAND_MODULES:
            self._add_commands_of(COMMAND_MODULES[cmd_name])
            command = super().get_command(ctx, cmd_name)
        return command

    def resolve_command(self, ctx: Any, args: list[str]) -> Any:
        if args and args[0] not in self.commands and args[0] not in COMMAND_MODULES:
            self.list_commands(ctx)  # a name no command has: all of them, for "Did you mean …?"
        return super().resolve_command(ctx, args)

    def list_commands(self, ctx: Any) -> list[str]:
        for module in dict.fromkeys(COMMAND_MODULES.values()):
            importlib.import_module(module)
        return self._add_commands_of(None)

    def _add_commands_of(self, module: str | None) -> list[str]:
        """Import ``module``, add what it registered; every name, in Typer's order (commands
        first, then groups, each as registered)."""
        if module is not None:
            importlib.import_module(module)
        built = typer.main.get_command(app)
        assert isinstance(built, TyperGroup), "heatledger is a group of commands"
        for name, command in built.commands.items():
            self.commands.setdefault(name, command)
        return list(built.commands)


app = typer.Typer(
    cls=CommandsOnDemand,
    name="heatledger",
    help="Heat Ledger: the event-sourced billing and metering ledger of a district-heating company.",
    no_args_is_help=True,
    add_completion=False,
)
token_app = typer.Typer(help="API tokens for clerks, devices and other callers.", no_args_is_help=True)
projections_app = typer.Typer(help="The read models built from the ledger's events.", no_args_is_help=True)
readings_app = typer.Typer(help="Meter readings.", no_args_is_help=True)
app.add_typer(token_app, name="token")
app.add_typer(projections_app, name="projections")
app.add_typer(readings_app, name="readings")


def main() -> None:
    """The console entry point ``heatledger``."""
    app()


# -- plumbing ---------------------------------------------------------------------------------


def out() -> Console:
    """The console commands print to (stdout, no automatic highlighting of numbers and paths)."""
    return Console(highlight=False)


def fail(message: str, code: int = BAD_INPUT) -> NoReturn:
    """Print one line to stderr and leave with ``code``: no traceback for a user's mistake."""
    Console(stderr=True, highlight=False, soft_wrap=True).print(f"[bold red]error:[/] {escape(message)}")
    raise typer.Exit(code)


def operator() -> Principal:
    """The local operator running the command, recorded as the actor of what it changes."""
    try:
        user = getpass.getuser()
    except (KeyError, OSError):  # no login name in a bare container
        user = "unknown"
    return Principal(name=f"cli:{user}", role=Role.ADMIN)


def load_settings() -> Settings:
    try:
        return Settings()
    except ValidationError as error:
        details = "; ".join(str(problem["msg"]) for problem in error.errors())
        fail(f"bad HEATLEDGER_* settings: {details}")


@contextmanager
def opened_container() -> Iterator[Container]:
    """The wired ledger for one command, closed afterwards; store and ledger errors become one line."""
    settings = load_settings()
    if settings.backend is Backend.POSTGRES:
        _require_postgres(settings)
    try:
        container = bootstrap(settings)
    except (SQLAlchemyError, PersistenceError, OSError) as error:
        fail(f"cannot open the {settings.backend.value} store: {_first_line(error)}", STORE_UNAVAILABLE)
    try:
        yield container
    except LedgerError as error:
        fail(error.message)
    except (SQLAlchemyError, PersistenceError) as error:
        fail(f"the {settings.backend.value} store failed: {_first_line(error)}", STORE_UNAVAILABLE)
    finally:
        container.close()


def _require_postgres(settings: Settings) -> None:
    """Fail at once with the server's own reason, rather than after the event store's pool timeout."""
    import psycopg

    try:
        psycopg.connect(
            host=settings.postgres_host,
            port=settings.postgres_port,
            user=settings.postgres_user,
            password=settings.postgres_password or None,
            dbname=settings.postgres_dbname,
            connect_timeout=POSTGRES_CONNECT_TIMEOUT_S,
        ).close()
    except psycopg.Error as error:
        fail(f"cannot open the postgres store: {_first_line(error)}", STORE_UNAVAILABLE)


def _first_line(error: BaseException) -> str:
    text = str(error).strip()
    return text.splitlines()[0] if text else type(error).__name__


def progress_bar(console: Console) -> Progress:
    return Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TaskProgressColumn(),
        TimeElapsedColumn(),
        console=console,
    )


# -- serve ------------------------------------------------------------------------------------


@app.command()
def serve(
    host: Annotated[str, typer.Option(help="Interface to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(min=1, max=65535, help="Port to listen on.")] = 8000,
    demo: Annotated[
        bool, typer.Option("--demo", help="Load the demo community first if the store has no households.")
    ] = False,
    room_reports: RoomReports = False,
    workers: Annotated[
        int | None,
        typer.Option(min=1, max=32, help="Worker processes (default: one per core; see docs/operations.md)."),
    ] = None,
    access_log: Annotated[
        bool,
        typer.Option(
            "--access-log/--no-access-log",
            help="A log line per request (uvicorn's access log); behind a proxy that logs requests it is a "
            "second copy, worth about 0.2 ms of CPU per API read (docs/operations.md).",
        ),
    ] = True,
) -> None:
    """Run the HTTP API (and its /docs page), printing a fresh clerk token to call it with."""
    from api.serving import (
        WORKER_START_TIMEOUT_SECONDS,
        default_workers,
        prepare_worker_environment,
        settle_heap,
    )

    processes = workers or default_workers()
    console = out()
    with opened_container() as container:
        if demo:
            _load_demo_if_empty(container, console, room_reports)
        issued = container.tokens.create(
            f"clerk (serve {datetime.now(UTC):%Y-%m-%d %H:%M})", Role.CLERK, operator().name
        )
        _print_serve_help(console, issued.secret, host, port)
        if demo:
            _print_demo_accounts(container, f"http://{host}:{port}/ui/")
        # Imported here: the web stack is not needed by the other commands and slows their start.
        import uvicorn

        from api.app import create_app

        delivery = _start_periodic_delivery(container)
        try:
            if processes == 1:
                served = create_app(container)
                settle_heap()
                uvicorn.run(served, host=host, port=port, access_log=access_log)
            else:
                # Each worker builds its own container from the settings (api/serving.py).
                prepare_worker_environment(processes)
                factory = "api.serving:app_from_environment"
                uvicorn.run(
                    factory,
                    factory=True,
                    workers=processes,
                    host=host,
                    port=port,
                    timeout_worker_healthcheck=WORKER_START_TIMEOUT_SECONDS,
                    access_log=access_log,
                )
        finally:
            if delivery is not None:
                delivery.stop()


def _start_periodic_delivery(container: Container) -> PeriodicDelivery | None:
    """On the inline job queue no worker delivers the outbox's retries: this process does, every
    minute. With arq, `heatledger worker` does."""
    if JobQueueKind(container.settings.job_queue) is not JobQueueKind.INLINE:
        return None
    from infrastructure.jobs import deliver_notifications

    return PeriodicDelivery(lambda: deliver_notifications(container)).start()


@app.command()
def worker() -> None:
    """Run the arq worker: queued jobs from Redis and a projection catch-up every 5 seconds. It
    reconnects to a lost Redis, enqueues again what Redis lost, and takes over a dead worker's jobs."""
    from api.serving import share_the_store
    from infrastructure.jobs import worker_options
    from infrastructure.worker import REDIS_UNAVAILABLE_EXIT_STATUS, RedisUnavailableError, run_worker

    share_the_store()
    settings = load_settings()
    if settings.catch_up_after_command:
        out().print("Note: HEATLEDGER_CATCH_UP_AFTER_COMMAND is on; in production set it to false.")
    # Each job, chunk, reconnection attempt and recovery on stderr (a supervisor's journal).
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    if settings.backend is Backend.POSTGRES:
        # A new read-model database beside a large store: caught up split by building before the
        # jobs start, as `projections catch-up` does (one worker claims it; the others' catch-ups
        # wait for it). On SQLite the processes would write one at a time: the jobs' catch-up does it.
        with opened_container() as container:
            _split_catch_up_from_nothing(container, out(), None)
    try:
        run_worker(settings, worker_options(settings))
    except RedisUnavailableError as error:
        # Redis stayed away longer than HEATLEDGER_WORKER_REDIS_OUTAGE_LIMIT_SECONDS: a supervisor
        # (systemd's Restart=on-failure) starts the worker again.
        fail(f"Redis is unavailable: {error}", REDIS_UNAVAILABLE_EXIT_STATUS)


def _load_demo_if_empty(container: Container, console: Console, room_reports: bool = False) -> None:
    container.catch_up()
    with container.engine.connect() as connection:
        count = connection.execute(select(func.count()).select_from(households)).scalar_one()
    if count:
        console.print(f"The store already holds {count} households: the demo is not loaded again.")
        return
    _load_demo(container, console, generate_community(today=business_today()), room_reports)


def _print_serve_help(console: Console, secret: str, host: str, port: int) -> None:
    base = f"http://{host}:{port}"
    console.print("A clerk token for this session (shown once, store it now):", style="bold")
    console.print(secret, soft_wrap=True, markup=False)
    console.print("Call the API with it, for example:", markup=False)
    console.print(
        f"  curl -H 'Authorization: Bearer {secret}' '{base}/households?limit=5'", soft_wrap=True, markup=False
    )
    console.print(
        f"Or open {base}/docs in a browser, choose Authorize and paste the token.", soft_wrap=True, markup=False
    )


# -- demo -------------------------------------------------------------------------------------

RoomReports = Annotated[
    bool,
    typer.Option(
        "--room-reports",
        help="Also install a room controller in every heated demo flat and record its room temperatures and "
        "valve hours of the season so far (twice a day; adds about 7 s a building to the load on SQLite).",
    ),
]


def _record_room_reports(container: Container, console: Console, community: DemoCommunity) -> None:
    """The demo's room controllers and their reports, for a demo loaded without them."""
    with progress_bar(console) as progress:
        task = progress.add_task("room controllers", total=None)

        def advance(what: str, done: int, total: int) -> None:
            progress.update(task, description=what, completed=done, total=total)

        rooms = record_demo_room_controllers(
            container.room_controllers, community, operator(), datetime.now(UTC), advance
        )
    _print_room_reports(console, rooms)


def _print_room_reports(console: Console, rooms: RoomControllersReport) -> None:
    console.print(
        f"Room controllers: {rooms.controllers} ({rooms.installed} installed now), {rooms.recorded} new reports "
        f"of {rooms.reports}: GET /room-telemetry/under-heated, /ui/valves."
    )


@app.command("demo")
def demo_command(
    buildings: Annotated[int, typer.Option(min=1, max=99, help="How many six-floor buildings.")] = DEFAULT_BUILDINGS,
    days: Annotated[int | None, typer.Option(min=0, help="Load at most this many days of the season.")] = None,
    seed: Annotated[
        int, typer.Option(help="The seed of the community; the same seed gives the same community.")
    ] = DEFAULT_SEED,
    room_reports: RoomReports = False,
) -> None:
    """Load the demo community 碧桂园 into the configured store (skipped when already loaded)."""
    console = out()
    community = generate_community(today=business_today(), buildings=buildings, days=days, seed=seed)
    with opened_container() as container:
        if is_loaded(container.ledger, community):
            console.print(f"The demo community {community.name} is already loaded: nothing to do.")
            _print_demo_summary(console, container, community, None)
            if room_reports:  # a demo loaded without them gets them now (each recorded once)
                _record_room_reports(container, console, community)
        else:
            _load_demo(container, console, community, room_reports)
        _print_demo_accounts(container, DEMO_UI_URL)


# Where `heatledger serve` (its default host and port) serves the web UI.
DEMO_UI_URL = "http://127.0.0.1:8000/ui/"


def _print_demo_accounts(container: Container, url: str) -> None:
    """One staff account per role for the web UI, made once and shown again on later starts."""
    from api.cli_users import print_demo_accounts
    from infrastructure.demo.accounts import accounts_file, demo_accounts

    data_dir = container.settings.data_dir
    made = demo_accounts(container.staff_accounts, operator(), data_dir)
    print_demo_accounts(made, url, str(accounts_file(data_dir)))


def _load_demo(container: Container, console: Console, community: DemoCommunity, room_reports: bool = False) -> None:
    from application.bill_notices import BillSelection
    from infrastructure.demo.billing import bill_demo_season, declare_demo_season
    from infrastructure.demo.contacts import record_demo_contacts
    from infrastructure.demo.payments import pay_demo_bills
    from infrastructure.jobs import notify_bills

    console.print(
        f"Loading {community.name}: {_count(len(community.buildings), 'building')}, "
        f"{len(community.households)} households, {_count(community.days, 'day')} of season {community.season.code} "
        f"({community.readings_count} readings)."
    )
    with progress_bar(console) as progress:
        task = progress.add_task("setting up", total=None)

        def advance(what: str, done: int, total: int) -> None:
            progress.update(task, description=what, completed=done, total=total)

        report = load_community(container.ledger, community, operator(), advance)
        container.catch_up()
        declare_demo_season(container.seasons, operator(), community.season)
        summaries = bill_demo_season(
            container.billing,
            container.billing_runs,
            operator(),
            community.season,
            community.name,
            business_today(),
            advance,
        )
        paid = pay_demo_bills(container, community, business_today(), advance)
        contacts = record_demo_contacts(container.contacts, community, operator().name, advance)
        rooms = (
            record_demo_room_controllers(container.room_controllers, community, operator(), datetime.now(UTC), advance)
            if room_reports
            else None
        )
        # The bills reach the households with a contact; `serve` or the worker delivers them.
        notices = notify_bills(
            container, operator(), BillSelection(community.season.code, community=community.name), "demo", deliver=False
        )
    _print_demo_summary(console, container, community, report)
    for summary in summaries:
        console.print(
            f"Billing {summary.kind.value} {summary.month or summary.season_code}: {summary.bills_issued} bills, "
            f"charged {summary.charged_yuan:.2f} 元, credited {summary.credited_yuan:.2f} 元, "
            f"{len(summary.exceptions)} exceptions."
        )
    channels = ", ".join(f"{channel} {count}" for channel, count in sorted(paid.by_channel.items()))
    console.print(
        f"Payments: {paid.households_paid} of {paid.households} households paid ({paid.paid_in_part} in part), "
        f"{paid.amount_yuan:.2f} 元 ({channels or 'none'}); {paid.booked} booked now, {paid.booked_before} before."
    )
    console.print(
        f"Contacts: {contacts.webhook} SMS (webhook), {contacts.email} e-mail, {contacts.without_contact} households "
        f"without; {contacts.recorded} recorded now."
    )
    console.print(
        f"Bill notices: {notices['written']} written to the outbox, {len(notices['skipped'])} bills of households "
        "without a contact skipped."
    )
    if rooms is not None:
        _print_room_reports(console, rooms)


def _count(number: int, noun: str) -> str:
    return f"{number} {noun}" if number == 1 else f"{number} {noun}s"


def _print_demo_summary(
    console: Console, container: Container, community: DemoCommunity, report: LoadReport | None
) -> None:
    from infrastructure.demo.summary import summarise_community

    container.catch_up()
    summary = summarise_community(container.engine, community.name)
    table = Table(title=f"{community.name}, season {community.season.code}", show_header=False)
    table.add_row("households", str(summary.households))
    table.add_row("meters", str(summary.meters))
    if report is not None:
        table.add_row("readings accepted", str(report.accepted))
        table.add_row("readings duplicate", str(report.duplicates))
        table.add_row("readings rejected", str(report.rejected))
    table.add_row("readings held", str(summary.readings))
    table.add_row("GJ so far (household meters)", f"{summary.household_energy_gj:.3f}")
    table.add_row("GJ so far (building meters)", f"{summary.building_energy_gj:.3f}")
    loss = summary.network_loss_percent
    table.add_row("network loss", "-" if loss is None else f"{loss} %")
    console.print(table)
    if report is not None and report.rejection_reasons:
        reasons = ", ".join(f"{reason} ×{count}" for reason, count in report.rejection_reasons.most_common())
        console.print(f"Rejected readings by rule: {reasons}")


# -- tokens -----------------------------------------------------------------------------------


@token_app.command("create")
def token_create(
    role: Annotated[str, typer.Option(help="One of: " + ", ".join(member.value for member in Role))],
    name: Annotated[str, typer.Option(help="Who or what uses the token; recorded as the actor of its events.")],
) -> None:
    """Issue an API token. It is printed once and stored only as a keyed hash."""
    try:
        parsed_role = Role(role.strip().lower())
    except ValueError:
        fail(f"unknown role {role!r}; choose one of {', '.join(member.value for member in Role)}")
    console = out()
    with opened_container() as container:
        issued = container.tokens.create(name, parsed_role, created_by=operator().name)
    console.print(f"Token for {issued.name} ({issued.role.value}), id {issued.token_id}. It is shown once:")
    console.print(issued.secret, soft_wrap=True, markup=False)
    console.print("Send it as the header  Authorization: Bearer <token>", markup=False)


# -- projections ------------------------------------------------------------------------------


@projections_app.command("rebuild")
def projections_rebuild(
    ignore_broken_chain: Annotated[
        bool,
        typer.Option("--ignore-broken-chain", help="Rebuild even when the events' hash chain is broken (warns)."),
    ] = False,
    processes: Annotated[
        int | None,
        typer.Option(
            "--processes",
            min=1,
            max=MOST_REBUILD_PROCESSES,
            help="Split the rebuild by building over this many processes (PostgreSQL: they write side by "
            "side; SQLite: they decode side by side and write one at a time). Default: on PostgreSQL, "
            f"one per core (at most {DEFAULT_REBUILD_PROCESSES}) for a store of {SPLIT_FROM_EVENTS:,} "
            "events or more; otherwise one.",
        ),
    ] = None,
) -> None:
    """Verify the events' hash chain, then empty the read models and rebuild them from every event
    in the store. A broken chain stops the rebuild (exit 3) unless --ignore-broken-chain."""
    from api.cli_chain import guard_rebuild  # not api.cli_audit: it brings the audit bundles along

    console = out()
    with opened_container() as container:
        if processes is None:
            on_postgresql = container.settings.backend is Backend.POSTGRES
            processes = default_processes(on_postgresql, container.runner.max_notification_id(), os.cpu_count())
        if processes == 1:
            guard_rebuild(container, console, ignore_broken_chain)
            _rebuild(container, console)
        else:
            plan = _plan_while_guarding(container, console, ignore_broken_chain, processes)
            _rebuild_split(container, console, processes, plan)


def _plan_while_guarding(
    container: Container, console: Console, ignore_broken_chain: bool, processes: int
) -> RebuildPlan:
    """The split rebuild's plan (``plan_split``), once the chain is verified (``guard_rebuild``).
    On PostgreSQL, which hashes the chain itself while this process waits, the plan (reads only)
    is made meanwhile, the verification in a thread; nothing is written before the verdict, and a
    broken chain stops the command as before. On SQLite this process hashes: one after the other."""
    from api.cli_chain import guard_rebuild

    if container.settings.backend is not Backend.POSTGRES:
        guard_rebuild(container, console, ignore_broken_chain, processes)
        return plan_split(container.ledger, processes)
    with ThreadPoolExecutor(1, thread_name_prefix="chain-guard") as guard:
        verdict = guard.submit(guard_rebuild, container, console, ignore_broken_chain, processes)
        try:
            plan = plan_split(container.ledger, processes)
        finally:
            verdict.result()  # a broken chain stops the command here (exit 3), before any write
    return plan


def _rebuild(container: Container, console: Console) -> None:
    applied = _with_progress(container, console, "rebuilding", container.runner.rebuild)
    console.print(f"Read models rebuilt: {applied} events applied.")


def _with_progress(container: Container, console: Console, description: str, apply: Callable[..., int]) -> int:
    """``apply(progress=…)`` (the runner's rebuild or catch-up) under a progress bar of the store's events."""
    with progress_bar(console) as progress:
        task = progress.add_task(description, total=container.runner.max_notification_id())

        def advance(position: int, target: int) -> None:
            progress.update(task, completed=position, total=max(target, position))

        return apply(progress=advance)


@projections_app.command("catch-up")
def projections_catch_up(
    processes: Annotated[
        int | None,
        typer.Option(
            "--processes",
            min=1,
            max=MOST_REBUILD_PROCESSES,
            help="When nothing is applied yet (a new read-model database): split the catch-up by building "
            "over this many processes, as a rebuild. Default: as `projections rebuild`.",
        ),
    ] = None,
) -> None:
    """Apply to the read models every event they have not applied yet, with progress (a worker does
    this every 5 seconds). With nothing applied yet on a PostgreSQL store of 200,000 events or more,
    the catch-up is split by building over processes, as `projections rebuild` is."""
    console = out()
    with opened_container() as container:
        if _split_catch_up_from_nothing(container, console, processes):
            return
        applied = _with_progress(container, console, "catching up", container.runner.catch_up)
    console.print(f"Read models caught up: {applied} events applied.")


def _split_catch_up_from_nothing(container: Container, console: Console, processes: int | None) -> bool:
    """Read models with nothing applied, caught up split by building over ``processes`` processes
    (None: ``default_processes``; one: not split); False when not done so (something applied,
    one process, or another runner claimed the catch-up first)."""
    runner = container.runner
    if not runner.applied_nothing():
        return False
    if processes is None:
        on_postgresql = container.settings.backend is Backend.POSTGRES
        processes = default_processes(on_postgresql, runner.max_notification_id(), os.cpu_count())
    if processes == 1:
        return False
    with console.status(f"catching up from nothing in {processes} processes, split by building"):
        done = catch_up_split_from_nothing(
            container.ledger, container.engine, runner.projection, processes, open_store=StoreOpener(container.settings)
        )
    if done is None:
        return False
    shares = ", ".join(f"{events:,}" for events in done.plan.events)
    console.print(f"Read models caught up from nothing: {done.applied} events applied (events per process: {shares}).")
    return True


def _rebuild_split(container: Container, console: Console, processes: int, plan: RebuildPlan) -> None:
    with console.status(f"rebuilding in {processes} processes, split by building"):
        done = rebuild_split(
            container.ledger,
            container.engine,
            container.runner.projection,
            processes,
            open_store=StoreOpener(container.settings),
            plan=plan,
        )
    shares = ", ".join(f"{events:,}" for events in done.plan.events)
    console.print(
        f"Read models rebuilt: {done.applied} events applied "
        f"({len(done.plan.city_wide)} city-wide aggregates first; events per process: {shares})."
    )
    if container.settings.backend is Backend.SQLITE:
        console.print(
            "On SQLite the processes decode side by side but write one at a time (one writer per "
            "database): measured no faster than one process (docs/scaling.md)."
        )


# -- readings import --------------------------------------------------------------------------


@readings_app.command("import")
def readings_import(
    file: Annotated[Path, typer.Argument(help="CSV file with a header row (see docs).", show_default=False)],
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Show what every row would get; record nothing.")] = False,
    reason: Annotated[str | None, typer.Option(help="Why the readings are entered; recorded on each.")] = None,
) -> None:
    """Import meter readings from CSV, in batches of up to 10,000 through the ledger's reading rules.

    Exits 1 when any row was not recorded (unparsable or rejected), 2 when the file is unusable.
    """
    parsed = _parse_file(file)
    console = out()
    _print_row_errors(console, parsed.errors)
    why = (reason or f"CSV import of {file.name}").strip()
    if not why:
        fail("the reason must not be blank")
    with opened_container() as container:
        if dry_run:
            outcomes = preview_readings(container.ledger, parsed, operator(), why)
        else:
            outcomes = _import(container.intake, parsed, operator(), why, console)
    _print_outcomes(console, parsed, outcomes, dry_run)
    if parsed.errors or any(outcome.status is ItemStatus.REJECTED for outcome in outcomes):
        raise typer.Exit(NOT_ALL_RECORDED)


def _parse_file(file: Path) -> ParsedReadings:
    if not file.is_file():
        fail(f"no such file: {file}")
    try:
        with file.open(encoding="utf-8-sig", newline="") as lines:
            return parse_readings_csv(lines)
    except CsvHeaderError as error:
        fail(f"{file}: {error}")
    except UnicodeDecodeError:
        fail(f"{file} is not UTF-8 text")
    except OSError as error:
        fail(f"cannot read {file}: {error.strerror or error}")


def preview_readings(
    ledger: HeatLedger, parsed: ParsedReadings, principal: Principal, reason: str
) -> list[ItemOutcome]:
    """The outcome each parsed row would get, judged against copies of the meters: nothing is saved.

    The rows are judged in one pass in file order, as the real import's consecutive batches would.
    """
    copies: dict[str, Meter | None] = {}

    def meter_for(serial: str) -> Meter | None:
        if serial not in copies:
            try:
                copies[serial] = ledger.meter(serial)  # the repository hands out a copy
            except NotFoundError:
                copies[serial] = None
        return copies[serial]

    outcomes, _ = judge_batch(parsed.items, meter_for, ledger.clock(), uuid4(), principal.name, reason)
    return outcomes


def _import(
    intake: ReadingIntake, parsed: ParsedReadings, principal: Principal, reason: str, console: Console
) -> list[ItemOutcome]:
    """Record the parsed rows in batches; outcomes are renumbered to the rows' place in ``parsed``."""
    items = parsed.items
    outcomes: list[ItemOutcome] = []
    with progress_bar(console) as progress:
        task = progress.add_task("importing", total=len(items))
        for start in range(0, len(items), MAXIMUM_BATCH_SIZE):
            chunk = items[start : start + MAXIMUM_BATCH_SIZE]
            report = intake.submit(principal, chunk, Channel.CSV, reason)
            outcomes.extend(_shifted(outcome, start) for outcome in report.outcomes)
            progress.update(task, completed=len(outcomes))
    return outcomes


def _shifted(outcome: ItemOutcome, offset: int) -> ItemOutcome:
    return replace(outcome, index=outcome.index + offset)


def _print_row_errors(console: Console, errors: Sequence[RowError]) -> None:
    if not errors:
        return
    table = Table(title=f"Rows that could not be read, not sent: {len(errors)}")
    for column in ("row", "column", "problem"):
        table.add_column(column, overflow="fold")
    for error in errors[:MAXIMUM_TABLE_ROWS]:
        table.add_row(str(error.row), error.column or "-", escape(error.message))  # cells quote the file
    console.print(table)
    _print_cut(console, len(errors))


def _print_cut(console: Console, count: int) -> None:
    if count > MAXIMUM_TABLE_ROWS:
        console.print(f"… and {count - MAXIMUM_TABLE_ROWS} more rows not shown.")


def _print_outcomes(console: Console, parsed: ParsedReadings, outcomes: Sequence[ItemOutcome], dry_run: bool) -> None:
    shown = list(outcomes) if dry_run else [outcome for outcome in outcomes if outcome.status is ItemStatus.REJECTED]
    if shown:
        title = "What each row would get (nothing recorded)" if dry_run else "Rejected rows"
        table = Table(title=title)
        for column in ("row", "meter", "measured at", "outcome", "why"):
            table.add_column(column, overflow="fold")
        for outcome in shown[:MAXIMUM_TABLE_ROWS]:
            table.add_row(
                str(parsed.rows[outcome.index].row),
                escape(outcome.meter_serial),
                outcome.measured_at.isoformat(),
                outcome.status.value,
                escape(f"{outcome.reason}: {outcome.message}") if outcome.reason else "",
            )
        console.print(table)
        _print_cut(console, len(shown))
    counts = {status: sum(1 for outcome in outcomes if outcome.status is status) for status in ItemStatus}
    heading = "Dry run, nothing recorded" if dry_run else "Imported"
    console.print(
        f"{heading}: rows {len(parsed.rows) + len(parsed.errors)}, unreadable {len(parsed.errors)}, "
        f"accepted {counts[ItemStatus.ACCEPTED]}, duplicate {counts[ItemStatus.DUPLICATE]}, "
        f"rejected {counts[ItemStatus.REJECTED]}."
    )


# -- NB-IoT channels ---------------------------------------------------------------------------

channel_app = typer.Typer(
    help="NB-IoT push channels (platforms and concentrators) and their signing secrets.", no_args_is_help=True
)
app.add_typer(channel_app, name="channel")


def _nbiot_channels(container: Container) -> NbiotChannels:
    return NbiotChannels(container.engine, container.settings.secret_key, container.ledger.clock)


@channel_app.command("create")
def channel_create(
    name: Annotated[str, typer.Argument(help="The channel: letters, digits, '.', '_', '-'; part of the push URL.")],
) -> None:
    """Issue a channel's signing secret (again, after a revocation: a new key version). Shown once."""
    console = out()
    with opened_container() as container:
        issued = _nbiot_channels(container).create(name, created_by=operator().name)
    console.print(
        f"Channel {issued.name}, key version {issued.key_version}, acting as {issued.role.value}. "
        "Its secret is shown once:"
    )
    console.print(issued.secret, soft_wrap=True, markup=False)
    console.print(
        f"Push to POST /ingest/nbiot/{issued.name}, signing each body as docs/nbiot.md explains.", markup=False
    )


@channel_app.command("revoke")
def channel_revoke(name: Annotated[str, typer.Argument(help="The channel to revoke.")]) -> None:
    """Revoke a channel: its pushes are refused at once. `channel create` issues a new secret."""
    with opened_container() as container:
        record = _nbiot_channels(container).revoke(name)
    out().print(f"Channel {record.name} (key version {record.key_version}) revoked.", markup=False)


@channel_app.command("list")
def channel_list() -> None:
    """Every issued key version of every channel, active or revoked."""
    console = out()
    with opened_container() as container:
        records = _nbiot_channels(container).channels()
    if not records:
        console.print("No channels yet: heatledger channel create NAME", markup=False)
        return
    table = Table(title="NB-IoT channels")
    for column in ("name", "key version", "role", "created", "by", "revoked"):
        table.add_column(column, overflow="fold")
    for record in records:
        revoked = f"{record.revoked_at:%Y-%m-%d %H:%M}" if record.revoked_at else "-"
        table.add_row(
            escape(record.name),
            str(record.key_version),
            record.role,
            f"{record.created_at:%Y-%m-%d %H:%M}",
            escape(record.created_by),
            revoked,
        )
    console.print(table)


# -- Modbus polling ----------------------------------------------------------------------------


@app.command()
def poll(
    config: Annotated[
        Path, typer.Option("--config", help="The poller's TOML or JSON file (docs/modbus.md).", show_default=False)
    ],
    once: Annotated[bool, typer.Option("--once", help="Run one round and stop.")] = False,
    interval: Annotated[
        int | None, typer.Option(min=1, help="Seconds from the start of one round to the next (default: the file's).")
    ] = None,
) -> None:
    """Read Modbus TCP meters by their register maps and record their readings, round after round.

    A device that does not answer is reported and skipped. With --once, exits 1 when a device
    failed or a reading was rejected.
    """
    from infrastructure.modbus import ConfigError, ModbusPoller, load_config

    try:
        settings = load_config(config)
    except ConfigError as error:
        console = Console(stderr=True, highlight=False, soft_wrap=True)
        console.print(f"[bold red]error:[/] {escape(error.source)} cannot be used:")
        for problem in error.problems:
            console.print(f"  {escape(problem)}")
        raise typer.Exit(BAD_INPUT) from None
    console = out()
    seconds = interval or settings.poller.interval_s
    with _quiet_pymodbus(), opened_container() as container:
        poller = ModbusPoller(settings, container.intake, clock=container.ledger.clock)
        try:
            while True:
                started = time.monotonic()
                report = _poll_round(console, poller, settings)
                if once:
                    break
                pause = max(0.0, seconds - (time.monotonic() - started))
                console.print(f"Next round in {pause:.0f} s (Ctrl-C stops).")
                time.sleep(pause)
        except KeyboardInterrupt:
            console.print("Stopped.")
            return
    if report.failed or (report.batch is not None and report.batch.rejected):
        raise typer.Exit(NOT_ALL_RECORDED)


@contextmanager
def _quiet_pymodbus() -> Iterator[None]:
    """pymodbus logs each refused connection itself; the poller's own report says it once, per device."""
    library = logging.getLogger("pymodbus")
    level = library.level
    library.setLevel(logging.CRITICAL)
    try:
        yield
    finally:
        library.setLevel(level)


def _poll_round(console: Console, poller: ModbusPoller, settings: PollerConfig) -> PollReport:
    with progress_bar(console) as progress:
        task = progress.add_task("polling", total=len(settings.devices))

        def advance(result: object) -> None:
            progress.advance(task)

        report = poller.poll_once(on_device=advance)
    _print_poll_report(console, report)
    return report


def _print_poll_report(console: Console, report: PollReport) -> None:
    from infrastructure.modbus import DeviceStatus

    table = Table(title=f"Modbus round of {report.started_at:%Y-%m-%d %H:%M:%S} UTC")
    for column in ("device", "address", "meter", "energy GJ", "outcome"):
        table.add_column(column, overflow="fold")
    for result in report.devices[:MAXIMUM_TABLE_ROWS]:
        if result.status is DeviceStatus.FAILED:
            energy, outcome = "-", f"[red]failed[/]: {escape(result.error or '')}"
        else:
            energy = str(result.values.energy_gj) if result.values else "-"
            outcome = result.outcome.status.value if result.outcome else "-"
            if result.outcome and result.outcome.reason:
                outcome += f": {escape(result.outcome.reason)}"
        device = result.device
        table.add_row(escape(device.label), escape(device.address), escape(device.meter_serial), energy, outcome)
    console.print(table)
    _print_cut(console, len(report.devices))
    batch = report.batch
    accepted, duplicates, rejected = (batch.accepted, batch.duplicates, batch.rejected) if batch else (0, 0, 0)
    console.print(
        f"Devices {len(report.devices)}: read {len(report.read)}, failed {len(report.failed)}. "
        f"Readings accepted {accepted}, duplicate {duplicates}, rejected {rejected}."
    )
    if report.rejection_reasons:
        reasons = ", ".join(f"{reason} ×{count}" for reason, count in sorted(report.rejection_reasons.items()))
        console.print(f"Rejected readings by rule: {escape(reasons)}")


# -- estimates --------------------------------------------------------------------------------


@app.command()
def estimate() -> None:
    """Estimate the missing days of household meters silent for a whole day or more (docs/estimation.md)."""
    console = out()
    with opened_container() as container:
        report = container.estimator.run(operator(), container.ledger.clock())
    console.print(
        f"Silent meters {report.meters_silent}: readings estimated {report.readings_estimated}, "
        f"recorded {report.readings_accepted}; faulty intervals estimated {report.faulty_intervals_estimated}."
    )
    for serial, reason in report.skipped[:MAXIMUM_TABLE_ROWS]:
        console.print(f"  skipped {escape(serial)}: {escape(reason)}")


# -- weather ----------------------------------------------------------------------------------

weather_app = typer.Typer(help="Daily mean outdoor temperatures, for degree-day estimates.", no_args_is_help=True)
app.add_typer(weather_app, name="weather")


@weather_app.command("import")
def weather_import(
    file: Annotated[Path, typer.Argument(help="CSV with the columns day (YYYY-MM-DD) and mean_temperature_c.")],
    source: Annotated[str, typer.Option(help="Where the figures come from, kept with them.")] = "weather service",
) -> None:
    """Record the daily mean outdoor temperatures of a CSV file (a day given again is replaced)."""
    temperatures = _read_temperatures(file)
    with opened_container() as container:
        count = container.weather.record(temperatures, source)
    out().print(f"Recorded the mean outdoor temperature of {count} days.")


def _read_temperatures(file: Path) -> dict[date, Decimal]:
    try:
        with file.open(encoding="utf-8", newline="") as handle:
            rows = list(csv.DictReader(handle))
    except (OSError, UnicodeDecodeError) as error:
        fail(f"cannot read {file}: {_first_line(error)}")
    temperatures: dict[date, Decimal] = {}
    for line, row in enumerate(rows, start=2):
        try:
            temperatures[date.fromisoformat(row["day"].strip())] = Decimal(row["mean_temperature_c"].strip())
        except (KeyError, AttributeError, ValueError, ArithmeticError):
            fail(f"{file}, line {line}: need a day (YYYY-MM-DD) and a mean_temperature_c number")
    return temperatures
