"""What each UI page costs the server: CPU milliseconds per request, one request at a time.

Run ``python -m bench.ui_cost --data-dir STORE`` over a store ``heatledger demo`` loaded (``python
-m bench.ui --data-dir STORE`` leaves one; its ``demo-accounts.txt`` gives the logins). It starts
``heatledger serve --workers 1`` on a free loopback port, logs in as each of ``--roles``, finds the
pages as ``bench/ui.py`` does, warms each up, then asks each page ``--repeats`` times in a row from
one client and reads the server process's CPU time (every thread's, from ``/proc/<pid>/task/*/
schedstat``, nanoseconds) before and after: the CPU the server spent per page, whatever else the
machine runs. Wall times beside it are the client's, one request at a time (they do move with the
machine's load). Why CPU: under twenty sessions on two shared cores a page's p95 is mostly its
wait for a core, which grows with what each page costs; the CPU per page is the figure that does
not move with the neighbours. ``--baseline`` adds the bare ASGI handler of ``bench/ui.py`` under
one uvicorn process, measured the same way. Figures only; nothing is asserted.
"""

from __future__ import annotations

import argparse
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx2
from rich.console import Console
from rich.table import Table

from bench.ui import CSRF_FIELD, LINK, NAVIGATION, ROLES, _environment, _heatledger_command, page_name, served
from bench.ui_profile import demo_accounts

MAXIMUM_REPEATS = 1_000
# Requests per CPU reading: a neighbour's burst spoils a batch, not the page's figure (the least
# disturbed batch is printed beside the mean).
BATCH = 10


def process_cpu_ns(pid: int) -> int:
    """The CPU time of every thread of ``pid`` so far (nanoseconds; threads that ended are lost,
    which is why the server is measured once warm: its threads then live on)."""
    total = 0
    for task in Path(f"/proc/{pid}/task").iterdir():
        try:
            total += int((task / "schedstat").read_text().split()[0])
        except (FileNotFoundError, ProcessLookupError):
            continue
    return total


def server_pid(port: int) -> int:
    """The process listening on ``port`` (the served app: ``--workers 1`` serves in one process)."""
    found = subprocess.run(["ss", "-ltnpH", f"sport = :{port}"], capture_output=True, text=True, check=True)
    match = re.search(r"pid=(\d+)", found.stdout)
    assert match is not None, f"nothing listens on {port}: {found.stdout!r}"
    return int(match[1])


def logged_in(base_url: str, username: str, password: str) -> httpx2.Client:
    client = httpx2.Client(base_url=base_url, timeout=30.0)
    token = CSRF_FIELD.search(client.get("/ui/login").text)
    assert token is not None
    form = {"username": username, "password": password, "csrf_token": token[1], "next": "/ui/"}
    answer = client.post("/ui/login", data=form)
    assert answer.status_code == 303, answer.status_code
    return client


def pages_of(client: httpx2.Client) -> dict[str, str]:
    dashboard = client.get("/ui/")
    navigation = NAVIGATION.search(dashboard.text)
    areas = sorted(set(LINK.findall(navigation[0] if navigation else "")) | {"/ui/"})
    pages = {area: area for area in areas}
    for area in areas:
        if area == "/ui/":
            continue
        records = [link for link in LINK.findall(client.get(area).text) if link.startswith(area.rstrip("/") + "/")]
        if records and client.get(records[0]).status_code == 200:
            pages[page_name(records[0])] = records[0]
    return pages


def measure(client: httpx2.Client, pid: int, path: str, repeats: int) -> tuple[float, float, float]:
    """Server CPU ms per request (the mean of all ``repeats``, and of the least disturbed batch of
    ``BATCH`` requests) and the client's median wall ms."""
    for _ in range(3):  # warm-up: templates, statement caches, the threadpool's threads
        client.get(path)
    walls, batches = [], []
    for start in range(0, repeats, BATCH):
        size = min(BATCH, repeats - start)
        cpu_before = process_cpu_ns(pid)
        for _ in range(size):
            started = time.perf_counter()
            response = client.get(path)
            walls.append((time.perf_counter() - started) * 1000)
            assert response.status_code == 200, (path, response.status_code)
        batches.append(((process_cpu_ns(pid) - cpu_before) / 1e6, size))
    mean_ms = sum(spent for spent, _ in batches) / repeats
    least_ms = min(spent / size for spent, size in batches)
    return mean_ms, least_ms, statistics.median(walls)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data-dir", type=Path, required=True)
    parser.add_argument("--repeats", type=int, default=40)
    parser.add_argument("--roles", default="admin,clerk", help="comma-separated roles; each page is measured once")
    parser.add_argument("--only", default=None, help="a regular expression: only the pages it matches")
    parser.add_argument("--baseline", action="store_true", help="also the bare ASGI handler")
    arguments = parser.parse_args()
    assert 1 <= arguments.repeats <= MAXIMUM_REPEATS, "bounded runs only"
    console = Console(width=150)
    accounts = demo_accounts(arguments.data_dir)
    rows: dict[str, tuple[str, float, float, float]] = {}
    with tempfile.TemporaryDirectory(prefix="bench-ui-cost-") as folder:
        serve = [*_heatledger_command(), "serve", "--workers", "1"]
        environment = _environment(arguments.data_dir)
        with served(serve, environment, arguments.data_dir.parent, Path(folder), "/health") as base_url:
            pid = server_pid(int(base_url.rsplit(":", 1)[1]))
            for role in arguments.roles.split(","):
                assert role in ROLES, role
                client = logged_in(base_url, *accounts[role])
                for name, path in pages_of(client).items():
                    if name in rows or (arguments.only and not re.search(arguments.only, name)):
                        continue
                    rows[name] = (role, *measure(client, pid, path, arguments.repeats))
                client.close()
        if arguments.baseline:
            bare = [sys.executable, "-m", "uvicorn", "bench.ui:bare_app"]
            with served(bare, dict(os.environ), Path(__file__).resolve().parents[1], Path(folder), "/") as base_url:
                pid = server_pid(int(base_url.rsplit(":", 1)[1]))
                with httpx2.Client(base_url=base_url) as client:
                    rows["bare ASGI (baseline)"] = ("-", *measure(client, pid, "/", arguments.repeats))
    table = Table(title=f"Server CPU per page, heatledger serve --workers 1, {arguments.repeats} requests each (ms)")
    for column in ("page", "role", "server CPU mean", f"least of batches of {BATCH}", "client wall p50"):
        table.add_column(column, justify="left" if column in ("page", "role") else "right")
    for name, (role, cpu_ms, least_ms, wall_ms) in sorted(rows.items()):
        table.add_row(name, role, f"{cpu_ms:.1f}", f"{least_ms:.1f}", f"{wall_ms:.1f}")
    pages = [(cpu, least) for name, (_, cpu, least, _) in rows.items() if name.startswith("/")]
    if pages:
        means = [statistics.mean(column) for column in zip(*pages, strict=True)]
        table.add_row("(mean over pages)", "", f"{means[0]:.1f}", f"{means[1]:.1f}", "")
    console.print(table)
    console.print("load average: {:.1f} {:.1f} {:.1f}".format(*os.getloadavg()))


if __name__ == "__main__":
    main()
