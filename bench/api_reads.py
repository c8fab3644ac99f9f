"""API reads benchmark: 50 concurrent clients on a household's read endpoints, beside a bare ASGI handler.

Run ``python -m bench.api_reads`` (``--clients`` 50, ``--requests`` 20 per client and endpoint,
``--buildings`` 3 and ``--days`` as ``heatledger demo`` takes them, ``--workers`` as
``heatledger serve`` takes it (by default one per core); ``--data-dir`` reuses a store loaded by
an earlier run).

The store: the demo community (``heatledger demo``, 3 buildings by default: 144 households with a
season of daily readings, their bills and payments) in a fresh SQLite file, the embedded default;
with ``--postgres DBNAME`` in that PostgreSQL database (empty, or loaded by an earlier run with the
same ``--data-dir``; ``HEATLEDGER_POSTGRES_HOST`` and the like from the environment).
Served by ``heatledger serve --workers N --no-access-log`` on a free loopback port, as
docs/operations.md ("Serving", "API reads") describes the set-up: N uvicorn worker processes
(httptools and uvloop, installed with the project), each with its own pools (FastAPI's threadpool of
40 threads, a SQLAlchemy pool of 5 kept and 10 more on demand), no access log (a proxy in front logs
the requests). The requests are asked plainly (no query string), so the server answers them by its
fast path for the four hot reads (``api/hot_reads.py``: on the SQLite file, on the event loop; on
PostgreSQL in 8 threads of their own per worker over 8 read-only autocommit sessions, one statement
a read);
the same reads with query parameters (``known_at``, ``from``, ``season``) are routed through FastAPI
and cost what they cost before it (about twice the CPU).

The endpoints, each for a household drawn at random from the store's first
``MAXIMUM_HOUSEHOLDS``, as a clerk (a bearer token of ``heatledger token create``):

- household:   ``GET /households/{account_number}``, master data, meters and the season's total;
- consumption: ``GET /households/{account_number}/consumption``, the season to date by day;
- bills:       ``GET /households/{account_number}/bills``;
- account:     ``GET /households/{account_number}/account``, charged, paid, owed, allocations.

The client (``--client``): by default a bounded asyncio HTTP/1.1 keep-alive client on uvloop (one
write per request, the head and a ``Content-Length`` body read back), about 0.05–0.10 ms of CPU per
request; ``--client httpx2`` is the earlier client, about 0.5 ms, which on two shared cores took a
third of the server's own CPU from it. Either asks the bare handler exactly as it asks the ledger.

Timed, one endpoint after the other: ``--clients`` clients at once, each with its own connection,
each sending ``--requests`` requests one after the other with no pause (a closed loop: the clients
are always all in the server, so this is the heaviest load fifty clients can make; by Little's law
the mean latency is the clients over the throughput). A request's time runs from sending it to
having read the whole body. Per endpoint: p50, p95, p99, the slowest, requests/s, and the CPU
seconds the server's processes and the client spent per request (read from /proc before and after
the endpoint's run), and on PostgreSQL the CPU of the database's backends serving the store's
database (by their process titles; the database server must run on this machine) and how many
sessions were opened meanwhile (a backend that ended took its CPU out of the count). The CPU time
is the figure to compare across runs on a machine shared with other work: the wall times include
waiting for a core that others hold.

The baseline, in the same run and with the same server set-up: a bare ASGI handler (no FastAPI,
no ledger) answering each request with a JSON body of the endpoint's mean size, under
``uvicorn --workers N --no-access-log``, asked by the same clients in the same way. It is the floor
the client, the loopback and uvicorn cost before the ledger does anything. Figures only; nothing is asserted.
Every loop is bounded: clients × requests per endpoint, 30 s per request, 120 s for a server start.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Coroutine, Iterator
from contextlib import AsyncExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx2
import psycopg
import uvloop
from rich.console import Console
from rich.table import Table

from bench.replay import percentile
from bench.ui import free_port

ROOT = Path(__file__).resolve().parents[1]
TARGET_P99_MS = 100.0
REQUEST_TIMEOUT_SECONDS = 30.0
SERVER_START_SECONDS = 120.0
# The households requests are spread over (the demo's 3 buildings hold 144).
MAXIMUM_HOUSEHOLDS = 500
# The largest body the bare handler makes (a bound on what a path can ask of it).
MAXIMUM_BARE_BODY_BYTES = 1_000_000
# The largest body the client reads (a household's season by day is a few kB).
MAXIMUM_BODY_BYTES = 10_000_000
ENDPOINTS = {
    "household": "/households/{account}",
    "consumption": "/households/{account}/consumption",
    "bills": "/households/{account}/bills",
    "account": "/households/{account}/account",
}
CLOCK_TICKS_PER_SECOND = os.sysconf("SC_CLK_TCK")


# -- the baseline ---------------------------------------------------------------------------------

_bare_bodies: dict[int, bytes] = {}


def bare_body(size_bytes: int) -> bytes:
    """A JSON document of exactly ``size_bytes`` (at least 12), made once per size."""
    body = _bare_bodies.get(size_bytes)
    if body is None:
        body = b'{"pad":"' + b"x" * max(0, size_bytes - 10) + b'"}'
        _bare_bodies[size_bytes] = body
    return body


async def bare_app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    """The baseline: ``GET /{n}`` answers a JSON body of n bytes, with no framework and no ledger."""
    if scope["type"] == "lifespan":
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await send({"type": "lifespan.shutdown.complete"})
                return
    digits = scope["path"].strip("/")
    size_bytes = min(int(digits), MAXIMUM_BARE_BODY_BYTES) if digits.isdigit() else 2
    body = bare_body(size_bytes)
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    await send({"type": "http.response.start", "status": 200, "headers": headers})
    await send({"type": "http.response.body", "body": body})


# -- set-up ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Store:
    """The store the server reads: the demo's SQLite file in ``data_dir``, or the PostgreSQL
    database ``postgres_dbname`` (the other ``HEATLEDGER_POSTGRES_*`` settings from the
    environment), with ``data_dir`` as its data directory."""

    data_dir: Path
    postgres_dbname: str | None = None

    def environment(self) -> dict[str, str]:
        """The process environment of every ``heatledger`` command here."""
        variables = {name: value for name, value in os.environ.items() if self._inherited(name)}
        variables.update(
            HEATLEDGER_DATA_DIR=str(self.data_dir),
            HEATLEDGER_BACKEND="postgres" if self.postgres_dbname else "sqlite",
            HEATLEDGER_ENVIRONMENT="development",
            COLUMNS="200",
        )
        if self.postgres_dbname:
            variables["HEATLEDGER_POSTGRES_DBNAME"] = self.postgres_dbname
        return variables

    def _inherited(self, name: str) -> bool:
        """Settings of the ledger come from here, but PostgreSQL's server and user when it is used."""
        if not name.startswith("HEATLEDGER_"):
            return True
        return self.postgres_dbname is not None and name.startswith("HEATLEDGER_POSTGRES_")

    @property
    def backend(self) -> str:
        return "PostgreSQL" if self.postgres_dbname else "SQLite"

    def is_loaded(self) -> bool:
        """Whether an earlier run loaded the demo (on PostgreSQL: it left its accounts file)."""
        marker = "demo-accounts.txt" if self.postgres_dbname else "heatledger.sqlite"
        return (self.data_dir / marker).is_file()


def heatledger(store: Store, *arguments: str) -> str:
    """One ``heatledger`` command against ``store``; its output, or a loud failure."""
    script = Path(sys.executable).parent / "heatledger"
    command = [str(script)] if script.is_file() else [sys.executable, "-c", "from api.cli import main; main()"]
    result = subprocess.run(
        [*command, *arguments], env=store.environment(), capture_output=True, text=True, check=False
    )
    if result.returncode != 0:
        raise SystemExit(f"heatledger {' '.join(arguments[:2])} failed:\n{result.stdout}\n{result.stderr}")
    return result.stdout


def clerk_token(store: Store) -> str:
    """A new clerk token (the line after "It is shown once:")."""
    lines = heatledger(store, "token", "create", "--role", "clerk", "--name", "bench api reads").splitlines()
    for number, line in enumerate(lines[:-1]):
        if "shown once" in line:
            return lines[number + 1].strip()
    raise SystemExit("heatledger token create printed no token")


@dataclass
class Server:
    """A server process (and the worker processes it starts) on a loopback port; on PostgreSQL
    also the database's server processes that serve ``database`` (their CPU is the read's too)."""

    base_url: str
    process: subprocess.Popen[bytes]
    database: str | None = None

    def cpu_seconds(self) -> float:
        """User and system CPU time of the process and all its descendants (from /proc)."""
        return tree_cpu_seconds(self.process.pid)

    def database_cpu_ticks(self) -> dict[int, int]:
        """User and system CPU ticks of each PostgreSQL backend connected to ``database`` (none on
        SQLite, whose work is in the server's own processes)."""
        return backends_cpu_ticks(self.database) if self.database else {}

    def database_sessions(self) -> int:
        """How many sessions PostgreSQL has opened to ``database`` so far (0 on SQLite): a pool
        that closes connections it took beyond its size opens new ones under load, each a new
        backend process, whose CPU the backends' figure misses once it has ended."""
        return sessions_opened(self.database) if self.database else 0


@contextmanager
def served(
    command: list[str], variables: dict[str, str], logs: Path, health_path: str, database: str | None = None
) -> Iterator[Server]:
    """``command`` serving on a free loopback port until the block ends (from PostgreSQL's
    ``database``, whose backends' CPU is then counted too)."""
    port = free_port()
    log_path = logs / f"server-{port}.log"
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [*command, "--host", "127.0.0.1", "--port", str(port)],
            env=variables,
            cwd=ROOT,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        try:
            server = Server(f"http://127.0.0.1:{port}", process, database)
            wait_until_answering(server.base_url + health_path, process, log_path)
            yield server
        finally:
            process.terminate()
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=15)


def wait_until_answering(url: str, process: subprocess.Popen[bytes], log_path: Path) -> None:
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


def backends_cpu_ticks(database: str) -> dict[int, int]:
    """CPU ticks (user + system) of each PostgreSQL backend now connected to ``database``, by
    their process titles (``backend_database``; the server must run on this machine)."""
    ticks = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            title = Path(f"/proc/{entry}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
            text = Path(f"/proc/{entry}/stat").read_text()
        except OSError:  # the process ended meanwhile, or is not ours to read
            continue
        if backend_database(title) == database:
            fields = text[text.rindex(")") + 2 :].split()
            ticks[int(entry)] = int(fields[11]) + int(fields[12])
    return ticks


def backend_database(title: str) -> str | None:
    """The database of a PostgreSQL backend by its process title (``postgres: USER DATABASE …``,
    with the cluster's name after ``postgres:`` where it has one: ``postgres: 15/main: USER …``)."""
    words = title.split()
    if not words or words[0] != "postgres:":
        return None
    words = words[2:] if len(words) > 1 and words[1].endswith(":") else words[1:]
    return words[1] if len(words) >= 2 else None


def sessions_opened(database: str) -> int:
    """``pg_stat_database.sessions`` of ``database`` (PostgreSQL 14 and later), the server and
    user as the ledger's settings say (``HEATLEDGER_POSTGRES_*`` of this environment)."""
    from infrastructure.settings import Backend, Settings

    settings = Settings(backend=Backend.POSTGRES, postgres_dbname=database)
    url = settings.database_url.replace("postgresql+psycopg://", "postgresql://")
    with psycopg.connect(url, autocommit=True) as connection:
        connection.execute("SELECT pg_stat_clear_snapshot()")
        row = connection.execute("SELECT sessions FROM pg_stat_database WHERE datname = %s", (database,)).fetchone()
    return int(row[0]) if row else 0


def ticks_spent_seconds(before: dict[int, int], after: dict[int, int]) -> float:
    """The CPU seconds processes spent between two readings: those started meanwhile count from
    zero; one that ended meanwhile is missed (the ledger's pools keep theirs for the whole run)."""
    return sum(ticks - before.get(pid, 0) for pid, ticks in after.items()) / CLOCK_TICKS_PER_SECOND


def tree_cpu_seconds(root_pid: int) -> float:
    """CPU seconds (user + system) of ``root_pid`` and its descendants, read from /proc/*/stat."""
    parents: dict[int, int] = {}
    ticks: dict[int, int] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            text = Path(f"/proc/{entry}/stat").read_text()
        except OSError:  # the process ended meanwhile
            continue
        fields = text[text.rindex(")") + 2 :].split()  # after "pid (name) "; a name may hold spaces
        parents[int(entry)] = int(fields[1])
        ticks[int(entry)] = int(fields[11]) + int(fields[12])  # utime, stime
    tree, frontier = {root_pid}, [root_pid]
    while frontier:
        parent = frontier.pop()
        children = [pid for pid, ppid in parents.items() if ppid == parent and pid not in tree]
        tree.update(children)
        frontier.extend(children)
    return sum(ticks.get(pid, 0) for pid in tree) / CLOCK_TICKS_PER_SECOND


# -- clients --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Run:
    """One endpoint's measured run."""

    timings_ms: list[float]
    failures: int
    elapsed_seconds: float
    server_cpu_seconds: float
    client_cpu_seconds: float
    database_cpu_seconds: float
    database_sessions: int
    body_bytes: int

    @property
    def requests(self) -> int:
        return len(self.timings_ms) + self.failures


class KeepAliveConnection:
    """One HTTP/1.1 keep-alive connection to the server: a GET at a time, its status and body.

    The bench's default client (``--client raw``): a request is one write of a few prepared bytes
    and a response one read of its head and one of its ``Content-Length`` body, on uvloop. httpx2
    spent about 0.5 ms of CPU per request on the same 2 cores the server runs on (a third of the
    server's own), which took that share of the two cores from the server under test; this one
    spends 0.05–0.10 ms. Both clients ask the bare handler as they ask the ledger."""

    def __init__(self, base_url: str, headers: dict[str, str]) -> None:
        host_port = base_url.removeprefix("http://")
        self.host, port = host_port.split(":")
        self.port = int(port)
        lines = [f"Host: {host_port}", *(f"{name}: {value}" for name, value in headers.items())]
        self._head_lines = "".join(f"{line}\r\n" for line in lines).encode("latin-1")
        self._reader: asyncio.StreamReader | None = None
        self._writer: asyncio.StreamWriter | None = None

    async def __aenter__(self) -> KeepAliveConnection:
        self._reader, self._writer = await asyncio.open_connection(self.host, self.port)
        return self

    async def __aexit__(self, *_: object) -> None:
        assert self._writer is not None
        self._writer.close()
        await self._writer.wait_closed()

    async def get(self, path: str) -> tuple[int, bytes]:
        """``GET path``: the status and the whole body (read by its Content-Length)."""
        assert self._reader is not None and self._writer is not None, "open the connection first"
        self._writer.write(b"GET " + path.encode("ascii") + b" HTTP/1.1\r\n" + self._head_lines + b"\r\n")
        head = await asyncio.wait_for(self._reader.readuntil(b"\r\n\r\n"), REQUEST_TIMEOUT_SECONDS)
        status_line, _, header_block = head.partition(b"\r\n")
        length = content_length(header_block)
        body = await asyncio.wait_for(self._reader.readexactly(length), REQUEST_TIMEOUT_SECONDS)
        return int(status_line.split(b" ", 2)[1]), body


def content_length(header_block: bytes) -> int:
    """The Content-Length of a response head; a loud failure without one (the server under test
    answers every read with a length, never chunked)."""
    for line in header_block.split(b"\r\n"):
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            length = int(value.strip())
            assert 0 <= length <= MAXIMUM_BODY_BYTES, f"a body of {length} bytes"
            return length
    raise AssertionError(f"a response without Content-Length: {header_block[:200]!r}")


class Httpx2Connection:
    """The same GET over an ``httpx2.AsyncClient`` (``--client httpx2``, the bench's earlier client)."""

    def __init__(self, base_url: str, headers: dict[str, str]) -> None:
        self._client = httpx2.AsyncClient(base_url=base_url, headers=headers, timeout=REQUEST_TIMEOUT_SECONDS)

    async def __aenter__(self) -> Httpx2Connection:
        await self._client.__aenter__()
        return self

    async def __aexit__(self, *details: Any) -> None:
        await self._client.__aexit__(*details)

    async def get(self, path: str) -> tuple[int, bytes]:
        response = await self._client.get(path)
        return response.status_code, response.content


Connection = KeepAliveConnection | Httpx2Connection
CLIENTS: dict[str, type[Connection]] = {"raw": KeepAliveConnection, "httpx2": Httpx2Connection}


async def one_client(connection: Connection, paths: list[str]) -> tuple[list[float], int, int]:
    """``paths`` one after the other over the client's connection: times (ms), failures, bytes read."""
    spent, failures, body_bytes = [], 0, 0
    for path in paths:
        started = time.perf_counter()
        status, body = await connection.get(path)
        if status == 200:
            spent.append((time.perf_counter() - started) * 1000)
            body_bytes += len(body)
        else:  # counted apart: its time says nothing of the endpoint
            failures += 1
    return spent, failures, body_bytes


async def run_clients(server: Server, client_paths: list[list[str]], headers: dict[str, str], client: str) -> Run:
    """Every client at once; the run's timings and the CPU the server and this client spent.

    Each client first opens its connection with one untimed request (its first path), so the
    timed run measures requests, not TCP handshakes."""
    async with AsyncExitStack() as stack:
        connections: list[Connection] = [
            await stack.enter_async_context(CLIENTS[client](server.base_url, headers)) for _ in client_paths
        ]
        await asyncio.gather(
            *(connection.get(paths[0]) for connection, paths in zip(connections, client_paths, strict=True))
        )
        server_before, client_before = server.cpu_seconds(), time.process_time()
        database_before, sessions_before = server.database_cpu_ticks(), server.database_sessions()
        started = time.perf_counter()
        results = await asyncio.gather(
            *(one_client(connection, paths) for connection, paths in zip(connections, client_paths, strict=True))
        )
        elapsed = time.perf_counter() - started
        server_cpu, client_cpu = server.cpu_seconds() - server_before, time.process_time() - client_before
        database_cpu = ticks_spent_seconds(database_before, server.database_cpu_ticks())
        sessions = server.database_sessions() - sessions_before - (1 if server.database else 0)  # less our own
    timings = [value for spent, _, _ in results for value in spent]
    failures = sum(failed for _, failed, _ in results)
    body_bytes = sum(read for _, _, read in results)
    average_body_bytes = body_bytes // max(1, len(timings))
    return Run(timings, failures, elapsed, server_cpu, client_cpu, database_cpu, sessions, average_body_bytes)


def run_on_uvloop(runs: Coroutine[Any, Any, Run]) -> Run:
    """A client run on uvloop's event loop (as the server's): the client's own CPU per request is
    part of what the two shared cores pay."""
    return uvloop.run(runs)


def endpoint_paths(template: str, accounts: list[str], clients: int, requests: int, seed: int) -> list[list[str]]:
    """Each client's requests: the endpoint for households drawn at random (the same for a seed)."""
    draw = random.Random(seed)
    return [[template.format(account=draw.choice(accounts)) for _ in range(requests)] for _ in range(clients)]


def household_accounts(base_url: str, headers: dict[str, str]) -> list[str]:
    """The account numbers of the store's first households (set-up, not timed)."""
    request = urllib.request.Request(f"{base_url}/households?limit={MAXIMUM_HOUSEHOLDS}", headers=headers)
    with urllib.request.urlopen(request, timeout=REQUEST_TIMEOUT_SECONDS) as answer:
        page = json.load(answer)
    accounts = [item["account_number"] for item in page["items"]]
    assert accounts, "the store holds no households"
    return accounts


def measure_ledger(server: Server, token: str, clients: int, requests: int, client: str) -> dict[str, Run]:
    headers = {"Authorization": f"Bearer {token}"}
    accounts = household_accounts(server.base_url, headers)
    runs = {}
    for seed, (name, template) in enumerate(ENDPOINTS.items(), 1):
        warm_up = endpoint_paths(template, accounts, clients, 2, seed=-seed)
        run_on_uvloop(run_clients(server, warm_up, headers, client))
        paths = endpoint_paths(template, accounts, clients, requests, seed)
        runs[name] = run_on_uvloop(run_clients(server, paths, headers, client))
    return runs


def measure_baseline(
    server: Server, ledger_runs: dict[str, Run], clients: int, requests: int, client: str
) -> dict[str, Run]:
    """The bare handler with each endpoint's mean body size, asked as the endpoint was."""
    runs = {}
    for name, ledger_run in ledger_runs.items():
        paths = [[f"/{ledger_run.body_bytes}"] * requests for _ in range(clients)]
        run_on_uvloop(run_clients(server, [path[:2] for path in paths], {}, client))
        runs[name] = run_on_uvloop(run_clients(server, paths, {}, client))
    return runs


# -- report ---------------------------------------------------------------------------------------


def report(
    console: Console,
    ledger: dict[str, Run],
    baseline: dict[str, Run],
    clients: int,
    workers: str,
    client: str,
    backend: str,
) -> None:
    title = f"API reads on {backend}, {clients} concurrent clients (closed loop, {client} client), {workers} workers"
    table = Table(title=title)
    columns = ["endpoint", "requests", "body B", "p50 ms", "p95 ms", "p99 ms", "max ms", "req/s"]
    columns += ["server CPU ms/req", "database CPU ms/req", "client CPU ms/req", f"p99 < {TARGET_P99_MS:.0f}"]
    for column in columns:
        table.add_column(column, justify="left" if column == "endpoint" else "right")
    for name, run in ledger.items():
        table.add_row(name, *_figures(run), "yes" if percentile(run.timings_ms, 0.99) < TARGET_P99_MS else "NO")
        table.add_row(f"  bare ASGI, {baseline[name].body_bytes} B", *_figures(baseline[name]), "")
    console.print(table)
    for name, run in ledger.items():
        bare = baseline[name]
        console.print(
            f"{name}: {run.requests / run.elapsed_seconds:.0f} req/s = "
            f"{run.requests / run.elapsed_seconds / (bare.requests / bare.elapsed_seconds):.2f} of the bare handler's; "
            f"server CPU per request {_per_request_ms(run.server_cpu_seconds, run):.2f} ms = "
            f"{_cpu_ratio(run, bare):.1f}× the bare handler's"
            + (
                f", and the database's {_per_request_ms(run.database_cpu_seconds, run):.2f} ms "
                f"({run.database_sessions} sessions opened in the run)"
                if backend != "SQLite"
                else ""
            )
            + (f"; {run.failures} requests failed" if run.failures else "")
        )
    # Other work on the machine moves every wall-clock figure: say how busy it was.
    console.print("load average over the last 1, 5, 15 minutes: {:.1f} {:.1f} {:.1f}".format(*os.getloadavg()))


def _cpu_ratio(run: Run, bare: Run) -> float:
    """The server CPU per request over the bare handler's."""
    return (run.server_cpu_seconds / run.requests) / max(1e-9, bare.server_cpu_seconds / bare.requests)


def _per_request_ms(cpu_seconds: float, run: Run) -> float:
    return cpu_seconds * 1000 / max(1, run.requests)


def _figures(run: Run) -> list[str]:
    values = run.timings_ms or [float("nan")]
    return [
        str(run.requests),
        str(run.body_bytes),
        f"{percentile(values, 0.50):.1f}",
        f"{percentile(values, 0.95):.1f}",
        f"{percentile(values, 0.99):.1f}",
        f"{max(values):.1f}",
        f"{run.requests / run.elapsed_seconds:.0f}",
        f"{_per_request_ms(run.server_cpu_seconds, run):.2f}",
        f"{_per_request_ms(run.database_cpu_seconds, run):.2f}",
        f"{_per_request_ms(run.client_cpu_seconds, run):.2f}",
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--clients", type=int, default=50)
    parser.add_argument("--requests", type=int, default=20, help="Per client and endpoint.")
    parser.add_argument("--buildings", type=int, default=3)
    parser.add_argument("--days", type=int, default=None)
    parser.add_argument("--workers", type=int, default=None, help="heatledger serve --workers (default: its own).")
    parser.add_argument("--data-dir", type=Path, default=None, help="A store from an earlier run (not loaded again).")
    parser.add_argument(
        "--postgres",
        metavar="DBNAME",
        default=None,
        help="Serve from this PostgreSQL database (empty, or loaded by an earlier run with the same --data-dir).",
    )
    parser.add_argument(
        "--client", choices=sorted(CLIENTS), default="raw", help="raw: HTTP/1.1 on asyncio streams; httpx2: as before."
    )
    arguments = parser.parse_args()
    assert 1 <= arguments.clients <= 500 and 1 <= arguments.requests <= 10_000, "bounded runs only"
    console = Console(width=170)
    workers = arguments.workers or _default_workers()
    with tempfile.TemporaryDirectory(prefix="bench-api-reads-") as folder:
        store = Store(arguments.data_dir or Path(folder) / "store", arguments.postgres)
        if not store.is_loaded():
            started = time.perf_counter()
            days = ["--days", str(arguments.days)] if arguments.days is not None else []
            heatledger(store, "demo", "--buildings", str(arguments.buildings), *days)
            console.print(f"demo store loaded in {time.perf_counter() - started:.0f} s: {store}")
        token = clerk_token(store)
        script = Path(sys.executable).parent / "heatledger"
        serve = [str(script), "serve", "--workers", str(workers), "--no-access-log"]
        with served(serve, store.environment(), Path(folder), "/health", arguments.postgres) as server:
            ledger = measure_ledger(server, token, arguments.clients, arguments.requests, arguments.client)
        bare = [sys.executable, "-m", "uvicorn", "bench.api_reads:bare_app", "--workers", str(workers)]
        bare.append("--no-access-log")
        with served(bare, dict(os.environ), Path(folder), "/12") as server:
            baseline = measure_baseline(server, ledger, arguments.clients, arguments.requests, arguments.client)
    report(console, ledger, baseline, arguments.clients, f"{workers}", arguments.client, store.backend)


def _default_workers() -> int:
    from api.serving import default_workers

    return default_workers()


if __name__ == "__main__":
    main()
