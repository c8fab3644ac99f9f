"""What each UI page costs in one process: SQL statements, their time, and the page's time.

Run ``python -m bench.ui_profile --data-dir STORE`` over a store that ``heatledger demo`` loaded
(``python -m bench.ui --data-dir STORE`` leaves one there; its ``demo-accounts.txt`` gives the
logins). In-process (Starlette's TestClient, no server, no concurrency): each role logs in through
the real form, finds its pages as ``bench/ui.py`` does, fetches each once to warm up, then
``--repeats`` times. Per page: the SQL statements a request makes through SQLAlchemy (the read
models) and through sqlite3 directly (the event store: aggregate loads), the time spent in them, and
the page's wall and CPU time (median). ``--statements PAGE`` prints the statements of one page.
``--profile PAGE`` prints a cProfile of one page's requests. Figures only; nothing is asserted.
"""

from __future__ import annotations

import argparse
import cProfile
import logging
import os
import pstats
import re
import statistics
import time
from collections import Counter, defaultdict
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from bench.ui import CSRF_FIELD, LINK, NAVIGATION, ROLES, page_name

MAXIMUM_REPEATS = 200


@dataclass
class StatementLog:
    """Statements seen while ``recording`` (SQLAlchemy's cursor events)."""

    recording: bool = False
    statements: list[tuple[str, float]] = field(default_factory=list)
    _started: dict[int, float] = field(default_factory=dict)

    def before(self, conn: Any, cursor: Any, statement: str, *_: Any) -> None:
        if self.recording:
            self._started[id(cursor)] = time.perf_counter()

    def after(self, conn: Any, cursor: Any, statement: str, *_: Any) -> None:
        started = self._started.pop(id(cursor), None)
        if self.recording and started is not None:
            self.statements.append((statement, (time.perf_counter() - started) * 1000))

    @contextmanager
    def record(self) -> Iterator[list[tuple[str, float]]]:
        self.statements = []
        self.recording = True
        try:
            yield self.statements
        finally:
            self.recording = False


def build_app(data_dir: Path) -> Any:
    os.environ.update(
        HEATLEDGER_DATA_DIR=str(data_dir),
        HEATLEDGER_BACKEND="sqlite",
        HEATLEDGER_ENVIRONMENT="development",
        HEATLEDGER_LOGIN_ADDRESS_MAX_FAILURES="10000",
    )
    from api.serving import app_from_environment

    return app_from_environment()


def demo_accounts(data_dir: Path) -> dict[str, tuple[str, str]]:
    accounts = {}
    for line in (data_dir / "demo-accounts.txt").read_text().splitlines():
        if line.startswith("#") or not line.strip():
            continue
        username, role, password = line.split("\t")
        accounts[role] = (username, password)
    return accounts


def logged_in(app: Any, username: str, password: str) -> Any:
    from starlette.testclient import TestClient

    client = TestClient(app, base_url="http://testserver")
    token = CSRF_FIELD.search(client.get("/ui/login").text)
    assert token is not None
    form = {"username": username, "password": password, "csrf_token": token[1], "next": "/ui/"}
    answer = client.post("/ui/login", data=form, follow_redirects=False)
    assert answer.status_code == 303, answer.status_code
    return client


def pages_of(client: Any) -> dict[str, str]:
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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data-dir", type=Path, required=True)
    parser.add_argument("--repeats", type=int, default=10)
    parser.add_argument("--roles", default="admin", help="comma-separated roles (default admin: it sees most)")
    parser.add_argument("--statements", default=None, help="a regular expression of page names: print their statements")
    parser.add_argument("--profile", default=None, help="a page name: print a cProfile of it")
    parser.add_argument("--only", default=None, help="a regular expression: only the pages it matches")
    arguments = parser.parse_args()
    assert 1 <= arguments.repeats <= MAXIMUM_REPEATS, "bounded runs only"
    console = Console(width=160)
    logging.getLogger("httpx2").setLevel(logging.WARNING)
    app = build_app(arguments.data_dir)

    from sqlalchemy import event
    from sqlalchemy.engine import Engine

    log = StatementLog()
    event.listen(Engine, "before_cursor_execute", log.before)
    event.listen(Engine, "after_cursor_execute", log.after)
    event_store_reads = count_event_store_reads()

    accounts = demo_accounts(arguments.data_dir)
    rows: dict[str, dict[str, Any]] = {}
    for role in arguments.roles.split(","):
        assert role in ROLES, role
        client = logged_in(app, *accounts[role])
        pages = pages_of(client)
        for name, path in pages.items():
            if name in rows or (arguments.only and not re.search(arguments.only, name)):
                continue
            client.get(path)  # warm-up
            walls, cpus, counts, sql_ms, store_reads = [], [], [], [], []
            profiler = cProfile.Profile() if arguments.profile == name else None
            for _ in range(arguments.repeats):
                event_store_reads.clear()
                with log.record() as statements:
                    started, cpu_started = time.perf_counter(), time.process_time()
                    if profiler:
                        profiler.enable()
                    response = client.get(path)
                    if profiler:
                        profiler.disable()
                    walls.append((time.perf_counter() - started) * 1000)
                    cpus.append((time.process_time() - cpu_started) * 1000)
                assert response.status_code == 200, (path, response.status_code)
                counts.append(len(statements))
                sql_ms.append(sum(spent for _, spent in statements))
                store_reads.append(sum(event_store_reads.values()))
            if arguments.statements and re.search(arguments.statements, name):
                print_statements(console, name, statements)
            if profiler:
                pstats.Stats(profiler).sort_stats("cumulative").print_stats(45)
            rows[name] = {
                "role": role,
                "statements": statistics.median(counts),
                "sql_ms": statistics.median(sql_ms),
                "store": statistics.median(store_reads),
                "wall": statistics.median(walls),
                "cpu": statistics.median(cpus),
                "bytes": len(response.content),
            }
        client.close()
    table = Table(title=f"UI pages in one process, median of {arguments.repeats} (ms)")
    for column in ("page", "role", "SQL statements", "SQL ms", "event-store reads", "wall ms", "CPU ms", "KiB"):
        table.add_column(column, justify="left" if column in ("page", "role") else "right")
    for name, row in sorted(rows.items()):
        table.add_row(
            name,
            row["role"],
            f"{row['statements']:.0f}",
            f"{row['sql_ms']:.1f}",
            f"{row['store']:.0f}",
            f"{row['wall']:.1f}",
            f"{row['cpu']:.1f}",
            f"{row['bytes'] / 1024:.0f}",
        )
    console.print(table)
    console.print("load average: {:.1f} {:.1f} {:.1f}".format(*os.getloadavg()))


def count_event_store_reads() -> Counter[str]:
    """Count the event store's selects (eventsourcing's SQLite recorder), by method."""
    from eventsourcing.sqlite import SQLiteAggregateRecorder

    reads: Counter[str] = Counter()
    original = SQLiteAggregateRecorder.select_events

    def counted(self: Any, *arguments: Any, **keywords: Any) -> Any:
        reads["select_events"] += 1
        return original(self, *arguments, **keywords)

    SQLiteAggregateRecorder.select_events = counted  # type: ignore[method-assign]
    return reads


def print_statements(console: Console, name: str, statements: list[tuple[str, float]]) -> None:
    console.print(f"[bold]{name}[/bold]: {len(statements)} statements")
    shapes: dict[str, list[float]] = defaultdict(list)
    for statement, spent in statements:
        shapes[" ".join(statement.split())[:220]].append(spent)
    for shape, spent_ms in shapes.items():
        console.print(f"  {len(spent_ms)}× {sum(spent_ms):6.2f} ms  {shape}")


if __name__ == "__main__":
    main()
