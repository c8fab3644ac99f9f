"""UI benchmark: concurrent logged-in sessions over the demo's pages, beside a bare ASGI baseline.

Run ``python -m bench.ui`` (``--sessions`` 20, ``--rounds`` 4, ``--buildings`` 3 and ``--days``
as ``heatledger demo`` takes them; ``--data-dir`` reuses a store loaded by an earlier run;
``--think-seconds`` 1; ``--workers`` as ``heatledger serve`` takes it, by default one per core).

What "20 concurrent sessions" means here. A back office's twenty sessions are twenty people logged
in and working: each opens a page, reads it, then clicks. The target (p95 < 200 ms) is judged on
that, the **realistic** phase: every session pauses ``--think-seconds`` after each page (between
half and one and a half times that, at random). One second is a person clicking through pages as
fast as they can; a clerk reading a household's bills takes far longer, so this is the heavy end of
real use (twenty such people ask about 18 pages/s). Beside it, labelled, the **saturation** phase:
the same sessions never pausing (a closed loop: twenty requests in the server at every moment, far
more than twenty people can ask), which measures what the server can take (pages/s); there the
latency is the queue, by Little's law twenty over the throughput, not the page's own time.
``--think-seconds 0`` runs the saturation phase alone.

Set-up (not timed): ``heatledger demo`` into a fresh SQLite store, one account per role with
``heatledger user create --password-stdin``, and ``heatledger serve --workers N`` on a free loopback
port: the embedded default as a utility runs it, one worker process per core over the SQLite store
(docs/operations.md, "Serving"). Each session logs in through the real form (GET /ui/login for its
CSRF token, POST), as one of the roles in turn (20 sessions: 4 per role), and finds its pages the way
a person does: the links of its navigation, and on each area's page the first link to one of the
area's own records (a household, a billing run; ids shown as ``{id}``). The pages are fetched once
to warm the processes up.

Timed: every session, all at once, requests each of its pages ``--rounds`` times in a shuffled
order, one request at a time (a person waits for the page); the time is from sending the request to
having read the whole body. Per page: how many, p50, p95, p99 and the slowest, against the target
p95 < 200 ms, and the saturation phase's p95 beside. The baseline: a bare ASGI handler (a fixed page
of the dashboard's size) under one uvicorn process, requested by the same client with the same
concurrency and pauses in the same run: the floor that the client, the loopback and uvicorn cost
before the ledger does anything. Figures only; nothing is asserted. Every loop is bounded: rounds ×
pages per session, 30 s per request, at most ``BASELINE_PACED_REQUESTS`` paced baseline requests a
session.

What a page costs the server apart from the queue: ``bench/ui_cost.py`` (server CPU per page) and
``bench/ui_profile.py`` (SQL statements per page); docs/ui.md "Performance".
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import re
import secrets
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections import defaultdict
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx2
from rich.console import Console
from rich.table import Table

from bench.replay import percentile

ROOT = Path(__file__).resolve().parents[1]
ROLES = ("admin", "clerk", "customer_service", "auditor", "regulator")
TARGET_P95_MS = 200.0
REQUEST_TIMEOUT_SECONDS = 30.0
# The paced baseline's requests per session (its pauses, not its requests, take the time).
BASELINE_PACED_REQUESTS = 20
SERVER_START_SECONDS = 120.0
NAVIGATION = re.compile(r'<nav class="mainnav".*?</nav>', re.DOTALL)
LINK = re.compile(r'href="(/ui/[^"?#]*)"')
ID_SEGMENT = re.compile(r"\d")
CSRF_FIELD = re.compile(r'name="csrf_token" value="([^"]+)"')
# The baseline's answer: about the size of a rendered page.
BARE_BODY = b"<!doctype html><title>baseline</title>" + b"<p>" + b"x" * 12_000 + b"</p>"


async def bare_app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    """The baseline: an ASGI handler that answers every request with the same fixed page."""
    if scope["type"] == "lifespan":
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await send({"type": "lifespan.shutdown.complete"})
                return
    headers = [(b"content-type", b"text/html; charset=utf-8"), (b"content-length", str(len(BARE_BODY)).encode())]
    await send({"type": "http.response.start", "status": 200, "headers": headers})
    await send({"type": "http.response.body", "body": BARE_BODY})


@dataclass(frozen=True)
class Account:
    username: str
    password: str
    role: str


@dataclass(frozen=True)
class Session:
    """A logged-in client and the pages its role reaches."""

    client: httpx2.AsyncClient
    role: str
    pages: dict[str, str]  # name (a path, ids as {id}) → the path fetched


# -- set-up ---------------------------------------------------------------------------------------


def heatledger(data_dir: Path, *arguments: str, stdin: str | None = None) -> None:
    """One ``heatledger`` command against ``data_dir``, failing loudly."""
    result = subprocess.run(
        [*_heatledger_command(), *arguments],
        env=_environment(data_dir),
        cwd=data_dir.parent,
        input=stdin,
        capture_output=True,
        text=True,
        check=False,
    )
    if result.returncode != 0:
        raise SystemExit(f"heatledger {' '.join(arguments[:2])} failed:\n{result.stdout}\n{result.stderr}")


def _heatledger_command() -> list[str]:
    script = Path(sys.executable).parent / "heatledger"
    return [str(script)] if script.is_file() else [sys.executable, "-c", "from api.cli import main; main()"]


def _environment(data_dir: Path) -> dict[str, str]:
    environment = {name: value for name, value in os.environ.items() if not name.startswith("HEATLEDGER_")}
    environment.update(
        HEATLEDGER_DATA_DIR=str(data_dir),
        HEATLEDGER_BACKEND="sqlite",
        HEATLEDGER_ENVIRONMENT="development",
        # Twenty sessions log in from one address at once: no login here fails, but keep the
        # address limit out of the way of a rerun against the same store.
        HEATLEDGER_LOGIN_ADDRESS_MAX_FAILURES="10000",
        COLUMNS="200",
    )
    return environment


def prepare_store(data_dir: Path, buildings: int, days: int | None, console: Console) -> dict[str, Account]:
    """The demo store with one bench account per role (made again on every run: new passwords)."""
    started = time.perf_counter()
    data_dir.parent.mkdir(parents=True, exist_ok=True)
    demo_options = ["--buildings", str(buildings), *(["--days", str(days)] if days is not None else [])]
    heatledger(data_dir, "demo", *demo_options)
    accounts = bench_accounts(data_dir)
    console.print(f"store ready in {time.perf_counter() - started:.1f} s: {data_dir}")
    return accounts


def bench_accounts(data_dir: Path) -> dict[str, Account]:
    """One new account per role (a new name each run, so a store may be reused)."""
    accounts = {}
    for role in ROLES:
        suffix = secrets.token_hex(3)
        account = Account(f"bench-{role.replace('_', '-')}-{suffix}", "Bench-" + secrets.token_urlsafe(12), role)
        arguments = ("user", "create", account.username, "--role", role, "--password-stdin")
        heatledger(data_dir, *arguments, stdin=account.password + "\n")
        accounts[role] = account
    return accounts


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@contextmanager
def served(command: list[str], environment: dict[str, str], cwd: Path, logs: Path, health_path: str) -> Iterator[str]:
    """A server process on a free loopback port until the block ends; yields its base URL."""
    port = free_port()
    log_path = logs / f"server-{port}.log"
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [*command, "--host", "127.0.0.1", "--port", str(port)],
            env=environment,
            cwd=cwd,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        try:
            base_url = f"http://127.0.0.1:{port}"
            _wait_until_answering(base_url + health_path, process, log_path)
            yield base_url
        finally:
            process.terminate()
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=15)


def _wait_until_answering(url: str, process: subprocess.Popen[bytes], log_path: Path) -> None:
    deadline = time.monotonic() + SERVER_START_SECONDS
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(
                f"the server exited ({process.returncode}):\n{log_path.read_text(errors='replace')[-3000:]}"
            )
        try:
            with urllib.request.urlopen(url, timeout=2):
                return
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            time.sleep(0.2)
    raise SystemExit(f"the server did not answer {url} within {SERVER_START_SECONDS:.0f} s")


# -- sessions -------------------------------------------------------------------------------------


async def log_in(base_url: str, account: Account) -> Session:
    """A client logged in through the form, with the pages its role reaches."""
    client = httpx2.AsyncClient(base_url=base_url, timeout=REQUEST_TIMEOUT_SECONDS)
    form = await client.get("/ui/login")
    token = CSRF_FIELD.search(form.text)
    assert token is not None, "the login form has no CSRF token"
    answer = await client.post(
        "/ui/login",
        data={"username": account.username, "password": account.password, "csrf_token": token[1], "next": "/ui/"},
    )
    assert answer.status_code == 303, f"{account.role} could not log in: {answer.status_code}"
    return Session(client, account.role, await _pages(client))


async def _pages(client: httpx2.AsyncClient) -> dict[str, str]:
    """The navigation's pages, and on each the first link to one of that area's own records."""
    dashboard = await client.get("/ui/")
    navigation = NAVIGATION.search(dashboard.text)
    areas = sorted(set(LINK.findall(navigation[0] if navigation else "")) | {"/ui/"})
    pages = {area: area for area in areas}
    for area in areas:
        if area == "/ui/":
            continue
        listing = await client.get(area)
        records = [link for link in LINK.findall(listing.text) if link.startswith(area.rstrip("/") + "/")]
        if records and (await client.get(records[0])).status_code == 200:
            pages[page_name(records[0])] = records[0]
    return pages


def page_name(path: str) -> str:
    """A path with its record ids (any segment holding a digit) as ``{id}``: one row per kind of page."""
    return "/".join("{id}" if ID_SEGMENT.search(segment) else segment for segment in path.split("/"))


async def browse(session: Session, rounds: int, seed: int, think_seconds: float = 0.0) -> dict[str, list[float]]:
    """Each page of the session ``rounds`` times, shuffled; the milliseconds of each, by page."""
    order = random.Random(seed)
    timings: dict[str, list[float]] = defaultdict(list)
    for _ in range(rounds):
        names = list(session.pages)
        order.shuffle(names)
        for name in names:
            started = time.perf_counter()
            response = await session.client.get(session.pages[name])
            _ = response.content
            spent_ms = (time.perf_counter() - started) * 1000
            # A page that did not answer 200 is counted apart: its time says nothing of the page.
            timings[name if response.status_code == 200 else f"({name}: status {response.status_code})"].append(
                spent_ms
            )
            if think_seconds:
                await asyncio.sleep(think_seconds * order.uniform(0.5, 1.5))
    return timings


async def measure_ui(
    base_url: str, accounts: dict[str, Account], sessions: int, rounds: int, think_seconds: float
) -> dict[str, list[float]]:
    logged_in = [await log_in(base_url, accounts[ROLES[number % len(ROLES)]]) for number in range(sessions)]
    try:
        for session in logged_in:  # warm-up, not timed
            await browse(session, 1, seed=0)
        started = time.perf_counter()
        results = await asyncio.gather(
            *(browse(session, rounds, seed, think_seconds) for seed, session in enumerate(logged_in, 1))
        )
        elapsed = time.perf_counter() - started
    finally:
        for session in logged_in:
            await session.client.aclose()
    merged: dict[str, list[float]] = defaultdict(list)
    for result in results:
        for name, values in result.items():
            merged[name].extend(values)
    merged["(all pages)"] = [value for name, values in merged.items() if not name.startswith("(") for value in values]
    merged["(requests per second)"] = [len(merged["(all pages)"]) / elapsed]
    return merged


async def measure_baseline(
    base_url: str, sessions: int, requests_per_session: int, think_seconds: float
) -> list[float]:
    """The bare handler, as the pages were measured: the same clients, requests and pauses."""

    async def one_client(seed: int) -> list[float]:
        order = random.Random(seed)
        async with httpx2.AsyncClient(base_url=base_url, timeout=REQUEST_TIMEOUT_SECONDS) as client:
            await client.get("/")
            spent = []
            for _ in range(requests_per_session):
                started = time.perf_counter()
                _ = (await client.get("/")).content
                spent.append((time.perf_counter() - started) * 1000)
                if think_seconds:
                    await asyncio.sleep(think_seconds * order.uniform(0.5, 1.5))
            return spent

    results = await asyncio.gather(*(one_client(seed) for seed in range(1, sessions + 1)))
    return [value for values in results for value in values]


# -- report ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Phase:
    """One measured phase: the pages' timings and the baseline's, at one think time."""

    think_seconds: float
    timings: dict[str, list[float]]
    baseline: list[float]

    @property
    def label(self) -> str:
        if self.think_seconds:
            return f"realistic: a person reads each page about {self.think_seconds:g} s"
        return "saturation: no pause between pages (closed loop, twenty requests always in the server)"


def report(console: Console, phases: list[Phase], sessions: int, workers: str) -> None:
    """The first phase against the target; the saturation phase's p95 and throughput beside it."""
    judged, others = phases[0], phases[1:]
    table = Table(title=f"UI pages, {sessions} concurrent sessions, {workers} worker processes (ms)\n{judged.label}")
    columns = ["page", "requests", "p50", "p95", "p99", "max", f"p95 < {TARGET_P95_MS:.0f}"]
    columns += ["saturation p95" for _ in others]
    for column in columns:
        table.add_column(column, justify="left" if column == "page" else "right")
    rows = {name: values for name, values in judged.timings.items() if not name.startswith("(requests")}
    for name, values in sorted(rows.items(), key=lambda item: (item[0].startswith("("), item[0])):
        beside = [_p95(other.timings.get(name, [])) for other in others]
        table.add_row(name, *_figures(values), *beside)
    table.add_row("bare ASGI (baseline)", *_figures(judged.baseline), *(_p95(other.baseline) for other in others))
    console.print(table)
    for phase in phases:
        pages_per_second = phase.timings["(requests per second)"][0]
        console.print(f"{phase.label}: {pages_per_second:.0f} pages/s over {sessions} sessions")
    # Other work on the machine moves every figure: say how busy it was.
    console.print("load average over the last 1, 5, 15 minutes: {:.1f} {:.1f} {:.1f}".format(*os.getloadavg()))


def _p95(values: list[float]) -> str:
    return f"{percentile(values, 0.95):.1f}" if values else "-"


def _figures(values: list[float]) -> list[str]:
    p95 = percentile(values, 0.95)
    return [
        str(len(values)),
        f"{percentile(values, 0.50):.1f}",
        f"{p95:.1f}",
        f"{percentile(values, 0.99):.1f}",
        f"{max(values):.1f}",
        "yes" if p95 < TARGET_P95_MS else "NO",
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sessions", type=int, default=20)
    parser.add_argument("--rounds", type=int, default=4)
    parser.add_argument("--buildings", type=int, default=3)
    parser.add_argument("--days", type=int, default=None)
    parser.add_argument("--think-seconds", type=float, default=1.0, help="0: the saturation phase alone.")
    parser.add_argument("--workers", type=int, default=None, help="heatledger serve --workers (default: its own).")
    parser.add_argument("--data-dir", type=Path, default=None, help="A store from an earlier run (not loaded again).")
    arguments = parser.parse_args()
    assert 1 <= arguments.sessions <= 200 and 1 <= arguments.rounds <= 1000, "bounded runs only"
    assert 0 <= arguments.think_seconds <= 60, "a think time of at most a minute"
    console = Console(width=150)
    think_times = [arguments.think_seconds, 0.0] if arguments.think_seconds else [0.0]
    with tempfile.TemporaryDirectory(prefix="bench-ui-") as folder:
        data_dir = arguments.data_dir or Path(folder) / "store"
        if arguments.data_dir is not None and (data_dir / "heatledger.sqlite").is_file():
            console.print(f"reusing the store at {data_dir}")
            accounts = bench_accounts(data_dir)
        else:
            accounts = prepare_store(data_dir, arguments.buildings, arguments.days, console)
        logs = Path(folder)
        serve = [*_heatledger_command(), "serve", *(["--workers", str(arguments.workers)] if arguments.workers else [])]
        with served(serve, _environment(data_dir), data_dir.parent, logs, "/health") as base_url:
            timings = [
                asyncio.run(measure_ui(base_url, accounts, arguments.sessions, arguments.rounds, think))
                for think in think_times
            ]
        bare = [sys.executable, "-m", "uvicorn", "bench.ui:bare_app"]
        with served(bare, dict(os.environ), ROOT, logs, "/") as base_url:
            phases = []
            for think, pages in zip(think_times, timings, strict=True):
                per_session = max(1, len(pages["(all pages)"]) // arguments.sessions)
                if think:
                    per_session = min(per_session, BASELINE_PACED_REQUESTS)
                baseline = asyncio.run(measure_baseline(base_url, arguments.sessions, per_session, think))
                phases.append(Phase(think, pages, baseline))
    workers = str(arguments.workers or f"{_default_workers()} (one per core)")
    report(console, phases, arguments.sessions, workers)


def _default_workers() -> int:
    from api.serving import default_workers

    return default_workers()


if __name__ == "__main__":
    main()
