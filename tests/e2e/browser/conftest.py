"""The browser rig: the real app served by uvicorn, driven by Playwright on Debian's Chromium.

- ``live_server`` (one per test session and worker): ``heatledger serve`` in a subprocess, on a free
  loopback port, over a copy of a small demo store (one building, a week of readings, billed and
  partly paid) with one staff account per role made by ``heatledger user create --password-stdin``.
  The store is built once per run (a file lock shares it between xdist workers) and copied for each
  server, so a test file may lock accounts or take payments without touching another's data.
- ``browser_page``: a fresh browser context per test (1366×768, zh-CN, Asia/Shanghai) whose requests
  to any host but the loopback one are aborted and reported: the UI must work on an offline network.
  Such a request, a load the page's Content-Security-Policy refused, or an uncaught script error
  fails the test (at its end; a test that expects one checks and clears ``page_watch``).
- ``screenshot(name)``: a PNG of the page; into docs/ui/<name>.png with HEATLEDGER_SCREENSHOTS=1
  (the pictures docs/ui.md shows), else into the test's temporary folder (taken all the same, so
  the code path runs in CI without rewriting committed files on every run).
- ``log_in(page, role)``: through the real login form, as the role's account.

Playwright's own browser download (``playwright install``) is never used: without Chromium at
/usr/bin/chromium (or HEATLEDGER_CHROMIUM) these tests skip with the reason, and fail under
HEATLEDGER_REQUIRE_SERVICES=1 (.ci/run installs it with apt).
"""

from __future__ import annotations

import fcntl
import json
import os
import secrets
import shutil
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import pytest

from tests.services import unavailable

if TYPE_CHECKING:
    from playwright.sync_api import Browser, ConsoleMessage, Page, Request, Route, ViewportSize

ROOT = Path(__file__).resolve().parents[3]
CHROMIUM = Path(os.environ.get("HEATLEDGER_CHROMIUM", "/usr/bin/chromium"))
# Headless, and quiet: no first-run pages, no update, sync or field-trial traffic of the browser's own.
LAUNCH_ARGS = [
    "--headless",
    "--no-sandbox",  # CI runs as root, where Chromium's sandbox refuses to start
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
VIEWPORT: ViewportSize = {"width": 1366, "height": 768}
SCREENSHOT_FOLDER = ROOT / "docs" / "ui"
CHART_ANIMATION_MS = 1500
LOOPBACK_HOSTS = frozenset({"127.0.0.1", "localhost", "[::1]", "::1"})

ROLES = ("admin", "clerk", "customer_service", "auditor", "regulator")
# A clerk kept for the lock-out test, so locking it leaves the clerk account usable.
LOCKOUT_ACCOUNT = "lockout"
# Lower than the default (5), so the lock-out test types a wrong password fewer times.
LOGIN_MAX_FAILURES = 3
DEMO_OPTIONS = ("--buildings", "1", "--days", "7")
SERVER_START_SECONDS = 120.0
READY_MARKER = "accounts.json"


@dataclass(frozen=True)
class Account:
    username: str
    password: str
    role: str


@dataclass(frozen=True)
class LiveServer:
    """A running ``heatledger serve``: where it answers, its store, and who may log in."""

    base_url: str
    data_dir: Path
    accounts: Mapping[str, Account]
    login_max_failures: int

    def url(self, path: str) -> str:
        return self.base_url + path


@dataclass
class PageWatch:
    """What a page tried that it must not: requests to other hosts, uncaught script errors."""

    blocked_requests: list[str] = field(default_factory=list)
    script_errors: list[str] = field(default_factory=list)
    # Loads the page's Content-Security-Policy refused before any request was made (console errors).
    refused_by_policy: list[str] = field(default_factory=list)

    def console(self, message: ConsoleMessage) -> None:
        if message.type == "error" and "Content Security Policy" in message.text:
            self.refused_by_policy.append(message.text)


# -- Chromium -------------------------------------------------------------------------------------


@pytest.fixture(scope="session", autouse=True)
def _chromium_available() -> None:
    """Skip (or fail under HEATLEDGER_REQUIRE_SERVICES=1) before any server is started."""
    if not (CHROMIUM.is_file() and os.access(CHROMIUM, os.X_OK)):
        unavailable("Chromium", f"no executable at {CHROMIUM} (apt-get install chromium, or set HEATLEDGER_CHROMIUM)")
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError as error:
        unavailable("Playwright", f"{error} (pip install -e '.[dev]')")


# A loaded CI machine (two cores, the rest of the suite beside) is slow: assertions wait this long
# for a page to get there (Playwright's default is 5 s), actions and navigations twice as long.
EXPECT_TIMEOUT_MS = 15_000
ACTION_TIMEOUT_MS = 30_000


# Per module, not per session: Playwright's sync API keeps an asyncio loop running in the main
# thread while it is started, and under xdist's file-by-file distribution the next test file in the
# same process then finds "a running event loop" (asyncio.run() refuses: arq worker tests failed).
@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    from playwright.sync_api import expect, sync_playwright

    expect.set_options(timeout=EXPECT_TIMEOUT_MS)
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=str(CHROMIUM), args=LAUNCH_ARGS, headless=True)
        try:
            yield launched
        finally:
            launched.close()


@pytest.fixture
def page_watch() -> PageWatch:
    return PageWatch()


@pytest.fixture
def browser_page(browser: Browser, live_server: LiveServer, page_watch: PageWatch) -> Iterator[Page]:
    """A page in a fresh context (no cookies of another test), offline but for the app itself."""
    context = browser.new_context(
        viewport=VIEWPORT, base_url=live_server.base_url, locale="zh-CN", timezone_id="Asia/Shanghai"
    )
    context.set_default_timeout(ACTION_TIMEOUT_MS)
    context.route("**/*", _loopback_only(page_watch))
    page = context.new_page()
    page.on("pageerror", lambda error: page_watch.script_errors.append(str(error)))
    page.on("console", page_watch.console)
    try:
        yield page
    finally:
        context.close()
    assert page_watch.blocked_requests == [], f"the page asked other hosts: {page_watch.blocked_requests}"
    assert page_watch.script_errors == [], f"uncaught script errors: {page_watch.script_errors}"
    assert page_watch.refused_by_policy == [], f"refused by the page's policy: {page_watch.refused_by_policy}"


def _loopback_only(watch: PageWatch) -> Callable[[Route, Request], None]:
    def handle(route: Route, request: Request) -> None:
        host = urlsplit(request.url).hostname or ""
        if request.url.startswith(("data:", "blob:")) or host in LOOPBACK_HOSTS:
            route.continue_()
        else:
            watch.blocked_requests.append(request.url)
            route.abort("blockedbyclient")

    return handle


@pytest.fixture
def screenshot(browser_page: Page, tmp_path: Path) -> Callable[..., Path]:
    """``screenshot(name, page=None)``: the page (default: this test's) as <name>.png."""
    folder = SCREENSHOT_FOLDER if os.environ.get("HEATLEDGER_SCREENSHOTS") == "1" else tmp_path

    def take(name: str, page: Page | None = None) -> Path:
        shown = page or browser_page
        path = folder / f"{name}.png"
        folder.mkdir(parents=True, exist_ok=True)
        if shown.locator(".chart").count():
            shown.wait_for_timeout(CHART_ANIMATION_MS)  # ECharts draws its series in over a second
        shown.screenshot(path=str(path), full_page=False)
        assert path.stat().st_size > 1000, f"{path} is empty"
        return path

    return take


@pytest.fixture
def log_in(live_server: LiveServer) -> Callable[[Page, str], None]:
    """``log_in(page, role)``: the role's account logs in through the form and lands on the dashboard."""

    def log_in_as(page: Page, role: str) -> None:
        account = live_server.accounts[role]
        page.goto("/ui/login")
        page.locator("#username").fill(account.username)
        page.locator("#password").fill(account.password)
        page.locator("form button[type=submit]").click()
        page.wait_for_url("**/ui/")

    return log_in_as


# -- the server -----------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def live_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    template = _demo_store(tmp_path_factory)
    data_dir = tmp_path_factory.mktemp("live-server") / "data"
    shutil.copytree(template, data_dir)
    accounts = {role: Account(**fields) for role, fields in json.loads((data_dir / READY_MARKER).read_text()).items()}
    port = _free_loopback_port()
    log_path = data_dir.parent / "serve.log"
    with log_path.open("wb") as log, _served(data_dir, port, log) as process:
        base_url = f"http://127.0.0.1:{port}"
        _wait_until_healthy(base_url, process, log_path)
        yield LiveServer(base_url, data_dir, accounts, LOGIN_MAX_FAILURES)


def _server_environment(data_dir: Path) -> dict[str, str]:
    environment = {name: value for name, value in os.environ.items() if not name.startswith("HEATLEDGER_")}
    environment.update(
        HEATLEDGER_DATA_DIR=str(data_dir),
        HEATLEDGER_BACKEND="sqlite",
        HEATLEDGER_ENVIRONMENT="development",  # as `heatledger serve --demo` on a workstation: plain http
        HEATLEDGER_JOB_QUEUE="inline",
        HEATLEDGER_LOGIN_MAX_FAILURES=str(LOGIN_MAX_FAILURES),
        COLUMNS="200",
    )
    return environment


def _heatledger_command() -> list[str]:
    """The installed ``heatledger`` script beside this Python, else the same entry point by hand."""
    script = Path(sys.executable).parent / "heatledger"
    return [str(script)] if script.is_file() else [sys.executable, "-c", "from api.cli import main; main()"]


@contextmanager
def _served(data_dir: Path, port: int, log: Any) -> Iterator[subprocess.Popen[bytes]]:
    process = subprocess.Popen(
        [*_heatledger_command(), "serve", "--host", "127.0.0.1", "--port", str(port)],
        cwd=data_dir.parent,
        env=_server_environment(data_dir),
        stdin=subprocess.DEVNULL,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        yield process
    finally:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=15)


def _free_loopback_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def _wait_until_healthy(base_url: str, process: subprocess.Popen[bytes], log_path: Path) -> None:
    deadline = time.monotonic() + SERVER_START_SECONDS
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"heatledger serve exited with {process.returncode}:\n{_tail(log_path)}")
        try:
            with urllib.request.urlopen(base_url + "/health", timeout=2) as response:
                if response.status == 200:
                    return
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            pass
        time.sleep(0.2)
    pytest.fail(f"heatledger serve did not answer /health within {SERVER_START_SECONDS:.0f} s:\n{_tail(log_path)}")


def _tail(path: Path, lines: int = 40) -> str:
    return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])


# -- the demo store, built once per run -----------------------------------------------------------


def _demo_store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The run's demo store with its accounts: built by the first worker that asks, under a lock."""
    base = tmp_path_factory.getbasetemp()
    shared = base if os.environ.get("PYTEST_XDIST_WORKER") is None else base.parent
    template = shared / "browser-demo-store"
    with _file_lock(shared / "browser-demo-store.lock"):
        if not (template / READY_MARKER).is_file():
            shutil.rmtree(template, ignore_errors=True)
            _build_demo_store(template)
    return template


@contextmanager
def _file_lock(path: Path) -> Iterator[None]:
    with path.open("w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _build_demo_store(data_dir: Path) -> None:
    """``heatledger demo`` (small) and ``heatledger user create`` per role, as an operator would."""
    _heatledger(data_dir, ["demo", *DEMO_OPTIONS])
    accounts = {role: Account(f"e2e-{role.replace('_', '-')}", _password(), role) for role in ROLES}
    accounts[LOCKOUT_ACCOUNT] = Account("e2e-lockout", _password(), "clerk")
    for account in accounts.values():
        _heatledger(
            data_dir,
            ["user", "create", account.username, "--role", account.role, "--password-stdin"],
            stdin=account.password + "\n",
        )
    # Written last: its presence says the store is complete.
    (data_dir / READY_MARKER).write_text(json.dumps({key: vars(value) for key, value in accounts.items()}))


def _password() -> str:
    return "Pw-" + secrets.token_urlsafe(12)


def _heatledger(data_dir: Path, arguments: list[str], stdin: str | None = None) -> None:
    """Run one command in-process (the same Typer app the script runs, without a second start-up)."""
    from typer.testing import CliRunner

    from api import cli

    # Only this store's settings: a HEATLEDGER_ variable of the test run's own is unset meanwhile.
    environment: dict[str, str | None] = {name: None for name in os.environ if name.startswith("HEATLEDGER_")}
    environment.update(_server_environment(data_dir))
    result = CliRunner().invoke(cli.app, arguments, input=stdin, env=environment, catch_exceptions=False)
    if result.exit_code != 0:
        pytest.fail(f"heatledger {' '.join(arguments[:3])} failed ({result.exit_code}):\n{result.output}")
