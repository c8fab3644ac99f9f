"""PostgreSQL stopped under the API (issue 16, item 5): 503 ``ledger_unavailable``, never a 500 or a hang.

The test starts a PostgreSQL of its own (``initdb`` into a temporary folder, its own port), serves
the API over it, stops the server with ``pg_ctl -m immediate`` (a crash: no shutdown checkpoint,
open connections cut) while clerks are registering households, and starts it again. While it is
down every request, a bad token's too, is answered 503 with ``Retry-After`` within the configured
timeouts, ``/health/live`` stays 200 and ``/health/ready`` says 503; after the restart every
acknowledged household is there, and the API serves again without being restarted itself.
"""

from __future__ import annotations

import glob
import os
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from application.authorization import Role
from infrastructure.container import Container, bootstrap
from infrastructure.settings import Backend, Environment, Settings
from infrastructure.token_store import TOKEN_PREFIX
from tests.e2e.conftest import LedgerApi, Tokens
from tests.faults.test_jobs import recorded_readings
from tests.services import unavailable
from tests.strategies import commission_meter, projection_rows

pytestmark = pytest.mark.postgres

POOL_TIMEOUT_SECONDS = 1.0
CONNECT_TIMEOUT_SECONDS = 1
# The longest a request may take while the database is down: a pooled connection waited for at
# most twice (the store tries a read or save once more), plus the work around it.
LONGEST_ANSWER_SECONDS = 2 * POOL_TIMEOUT_SECONDS + 3
CLERKS = 4
# Mid-requests, the clerks' commands may also wait for each other (for a pooled connection; on one
# household or meter, for its lock), so one may wait out the others' timeouts before its own.
LONGEST_CONTENDED_ANSWER_SECONDS = CLERKS * 2 * POOL_TIMEOUT_SECONDS + 3
REGISTRATIONS_PER_CLERK = 12


def postgres_binary(name: str) -> str:
    """``initdb`` or ``pg_ctl`` of the installed PostgreSQL (Debian keeps them off the PATH)."""
    found = shutil.which(name) or next(iter(sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"), reverse=True)), None)
    if found is None:
        unavailable("PostgreSQL server binaries", f"no {name} on the PATH or in /usr/lib/postgresql/*/bin")
    assert found is not None
    return found


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class OwnPostgres:
    """A PostgreSQL cluster of the test's own: initdb into ``folder``, served on its own port.

    PostgreSQL refuses to run as root, so under root (CI's container) it runs as ``postgres``."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.data = folder / "data"
        self.port = free_port()
        self.as_postgres = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []

    def run(self, *command: str) -> None:
        subprocess.run([*self.as_postgres, *command], check=True, capture_output=True, timeout=60)

    def initialise(self) -> None:
        if self.as_postgres:
            shutil.chown(self.folder, "postgres")
        self.run(postgres_binary("initdb"), "-D", str(self.data), "-A", "trust", "-U", "postgres", "--no-sync")

    def start(self) -> None:
        options = f"-p {self.port} -k {self.folder} -c listen_addresses=127.0.0.1 -c fsync=off"
        log = str(self.folder / "server.log")
        self.run(postgres_binary("pg_ctl"), "-D", str(self.data), "-o", options, "-l", log, "-w", "start")

    def stop_immediately(self) -> None:
        """As a crash would: open connections are cut, nothing is shut down cleanly."""
        self.run(postgres_binary("pg_ctl"), "-D", str(self.data), "-m", "immediate", "-w", "stop")

    def create_database(self, name: str) -> None:
        import psycopg

        conninfo = f"host=127.0.0.1 port={self.port} user=postgres dbname=postgres"
        with psycopg.connect(conninfo, autocommit=True) as connection:
            connection.execute(f'CREATE DATABASE "{name}"')


@pytest.fixture
def own_postgres() -> Iterator[OwnPostgres]:
    folder = Path(tempfile.mkdtemp(prefix="heatledger-pg-"))
    server = OwnPostgres(folder)
    try:
        server.initialise()
        server.start()
        server.create_database("heatledger")
        yield server
    finally:
        subprocess.run(
            [*server.as_postgres, postgres_binary("pg_ctl"), "-D", str(server.data), "-m", "immediate", "stop"],
            capture_output=True,
            check=False,
        )
        shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture
def api_over_own_postgres(own_postgres: OwnPostgres) -> Iterator[tuple[LedgerApi, Container]]:
    settings = Settings(
        environment=Environment.TEST,
        backend=Backend.POSTGRES,
        postgres_host="127.0.0.1",
        postgres_port=own_postgres.port,
        postgres_user="postgres",
        postgres_dbname="heatledger",
        database_pool_timeout_seconds=POOL_TIMEOUT_SECONDS,
        database_connect_timeout_seconds=CONNECT_TIMEOUT_SECONDS,
    )
    container = bootstrap(settings)
    with TestClient(create_app(container)) as client:
        yield LedgerApi(client, Tokens(container)), container
    container.close()


def timed(call: Callable[[], Any]) -> tuple[Any, float]:
    started = time.monotonic()
    result = call()
    return result, time.monotonic() - started


def assert_unavailable(response: Any, language: str = "zh") -> None:
    assert response.status_code == 503, response.text
    assert response.headers["content-type"] == "application/problem+json"
    assert response.headers["retry-after"] == "10"
    body = response.json()
    assert body["code"] == "ledger_unavailable", body
    if language == "zh":
        assert body["title"] == "账务系统暂不可用"
    else:
        assert body["detail"].startswith("The ledger is unavailable: its database cannot be reached")


def test_a_database_stopped_mid_requests_answers_503_quickly_and_loses_nothing_acknowledged(
    own_postgres: OwnPostgres, api_over_own_postgres: tuple[LedgerApi, Container]
) -> None:
    api, container = api_over_own_postgres
    client = api.client
    clerk = api.clerk()  # the token is issued while the database is up
    assert api.register_household("WZ-0000").status_code == 201
    assert client.get("/health/ready").json() == {"status": "ready", "checks": {"database": "ok"}}

    def clerk_registers(clerk_number: int) -> list[tuple[str, int, float, dict[str, Any]]]:
        answers = []
        for number in range(REGISTRATIONS_PER_CLERK):
            account = f"WZ-{clerk_number}{number:03d}"
            response, seconds = timed(lambda account=account: api.register_household(account))
            body = response.json() if response.status_code >= 400 else {}
            answers.append((account, response.status_code, seconds, body))
            time.sleep(0.05)
        return answers

    with ThreadPoolExecutor(CLERKS) as clerks:
        futures = [clerks.submit(clerk_registers, number) for number in range(1, CLERKS + 1)]
        time.sleep(0.3)  # the clerks are mid-way when the database goes
        own_postgres.stop_immediately()
        answers = [answer for future in futures for answer in future.result()]

    # Down: every request answered 503 quickly, a bad token's too (it cannot be checked), in both
    # languages; the process is live but not ready.
    unknown = {"Authorization": f"Bearer {TOKEN_PREFIX}unknown"}
    bad_token, seconds = timed(lambda: client.get("/households/WZ-0000", headers=unknown))
    assert_unavailable(bad_token)
    assert seconds < LONGEST_ANSWER_SECONDS
    read, seconds = timed(lambda: client.get("/households/WZ-0000", headers=clerk))
    assert_unavailable(read)
    assert seconds < LONGEST_ANSWER_SECONDS
    english = client.get("/households/WZ-0000", headers={**clerk, "Accept-Language": "en"})
    assert_unavailable(english, "en")
    assert client.get("/health/live").status_code == 200
    assert client.get("/health").status_code == 200
    ready, seconds = timed(lambda: client.get("/health/ready"))
    assert (ready.status_code, ready.json()) == (503, {"status": "not_ready", "checks": {"database": "unavailable"}})
    assert ready.headers["retry-after"] == "5"
    assert seconds < LONGEST_ANSWER_SECONDS

    # Mid-requests: each registration was booked (201) or refused as unavailable (503), none a
    # 500, none after more than the timeouts allow.
    statuses = {status for _, status, _, _ in answers}
    assert statuses <= {201, 503}, [answer for answer in answers if answer[1] not in {201, 503}]
    assert 503 in statuses, "the database went down while the clerks were registering"
    assert all(body.get("code") == "ledger_unavailable" for _, status, _, body in answers if status == 503)
    slowest = max(seconds for _, _, seconds, _ in answers)
    assert slowest < LONGEST_CONTENDED_ANSWER_SECONDS, slowest

    # Up again: the same process serves without a restart, and everything acknowledged is there.
    own_postgres.start()
    deadline = time.monotonic() + 20
    while client.get("/health/ready").status_code != 200:
        assert time.monotonic() < deadline, "ready again within 20 s of the restart"
        time.sleep(0.2)
    acknowledged = [account for account, status, _, _ in answers if status == 201]
    ledger = container.ledger
    for account in ["WZ-0000", *acknowledged]:
        assert ledger.household(account).account_number == account  # in the store (raises if not)
    refused = [account for account, status, _, _ in answers if status == 503]
    for account in refused:
        # Refused: not booked, or booked as the connection dropped after the commit; either way a
        # second try settles it (201, or 409: the household exists once).
        again = api.register_household(account)
        assert again.status_code in {201, 409}, (account, again.text)
    # The read models lag behind the events the crash cut off from their catch-up until the next
    # command's catch-up (the registrations just made): then every household reads back.
    for account in ["WZ-0000", *acknowledged, *refused]:
        assert client.get(f"/households/{account}", headers=clerk).status_code == 200, account


METERS = 4
BATCHES = 30
FIRST_HOUR = datetime(2025, 10, 2, tzinfo=UTC)


def batch_of(number: int) -> dict[str, Any]:
    """The device's batch ``number``: one reading of each meter at hour ``number``, rising."""
    measured_at = (FIRST_HOUR + timedelta(hours=number)).isoformat()
    energy_gj = str(Decimal("0.01") * (number + 1))
    return {
        "readings": [
            {"meter_serial": f"M-{meter}", "measured_at": measured_at, "energy_gj": energy_gj, "source": "manual"}
            for meter in range(METERS)
        ]
    }


def test_a_database_stopped_mid_batch_loses_no_acknowledged_reading_and_doubles_none(
    own_postgres: OwnPostgres, api_over_own_postgres: tuple[LedgerApi, Container]
) -> None:
    """A device posts reading batches while PostgreSQL is stopped with ``-m immediate``: each batch
    is acknowledged (200) or refused (503); once the server is back, the refused ones are sent
    again. Every reading is then in the event store exactly once, and the read models equal a
    rebuild."""
    api, container = api_over_own_postgres
    for meter in range(METERS):
        commission_meter(container.ledger, f"M-{meter}")
    device = api.tokens.headers(Role.DEVICE)

    def device_sends() -> list[tuple[int, int]]:
        answers = []
        for number in range(BATCHES):
            response = api.client.post("/readings/batches", json=batch_of(number), headers=device)
            answers.append((number, response.status_code))
            time.sleep(0.05)
        return answers

    with ThreadPoolExecutor(1) as sender:
        future = sender.submit(device_sends)
        time.sleep(0.5)  # batches are being saved when the database goes
        own_postgres.stop_immediately()
        answers = future.result()
    statuses = {status for _, status in answers}
    assert statuses <= {200, 503}, answers
    assert 503 in statuses and 200 in statuses, "the database went down mid-way through the batches"

    own_postgres.start()
    deadline = time.monotonic() + 20
    while api.client.get("/health/ready").status_code != 200:
        assert time.monotonic() < deadline, "ready again within 20 s of the restart"
        time.sleep(0.2)
    for number, status in answers:
        if status != 200:  # refused: not saved, or saved as the connection dropped; sent again
            again = api.client.post("/readings/batches", json=batch_of(number), headers=device)
            assert again.status_code == 200, again.text

    readings = recorded_readings(container)
    assert len(readings) == METERS * BATCHES
    assert set(readings.values()) == {1}
    container.catch_up()
    incremental = projection_rows(container.engine)
    container.runner.rebuild()
    assert projection_rows(container.engine) == incremental
