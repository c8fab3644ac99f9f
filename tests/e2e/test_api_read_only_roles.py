"""Auditors and regulators read everything they may and write nothing, through every operation,
but for the one command that books nothing a regulator may send: a scenario (api/read_only.py).

The operations are not listed by hand: they are read from the app's own OpenAPI document, so a
route added later (history, replay, …) is covered the day it exists. Every operation that is not
a safe read is called as an auditor and as a regulator with a plausible path and an empty or a
junk body: each answers a 403 problem, and the database is byte-for-byte what it was (every
table's rows, the event store's last notification id). Every read answers them (200, 404, 422:
anything but 403) except the reads of personal data, refused by design.

Two operations take no bearer token: the NB-IoT webhook (signed per channel) and the payment
providers' notifications (signed with the merchant key). They are not exceptions: a read-only
bearer token is refused there too, before the signature check, which would otherwise log the
unsigned request in the security log (a write).

One app over SQLite, seeded once for the module: the refusal is the HTTP layer's, the same on
either backend (the store's own behaviour is tested per backend elsewhere).
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from uuid import UUID, uuid5

import pytest
import sqlalchemy
from fastapi import FastAPI
from freezegun import freeze_time
from starlette.routing import Match

from api.app import create_app
from api.read_only import PERMISSION_EXTENSION, SAFE_METHODS
from application.authorization import ANALYSIS_PERMISSIONS, ROLE_PERMISSIONS, Permission, Role
from infrastructure.container import Container, bootstrap
from infrastructure.nbiot import NbiotChannels
from tests.conftest import sqlite_settings
from tests.e2e.conftest import NOW, LedgerApi, TestClient, Tokens, assert_problem, shanghai_midnight

# The roles the API derives as read-only (tests/unit/application/test_authorization.py).
READ_ONLY_ROLES = (Role.AUDITOR, Role.REGULATOR)
ACCOUNT_NUMBER = "WZ-0001"
SERIAL = "KM-100234"
CHANNEL = "concentrator-7"
# A path parameter no seeded record has: a plausible value of its kind, named in the namespace.
UNKNOWN = UUID("6f1c2b8e-8d5e-5b8a-9a57-3f0d2b1c9e10")
# Operations with no bearer token: authenticated by a signature over the body instead.
SIGNED_OPERATIONS = frozenset({"receive_nbiot_push", "receive_payment_notification"})
# Reads of personal data (a household's contact, the messages sent to it, the households marked
# vulnerable for their age, illness or hardship): only roles that manage households see them
# (api/routers/dunning.py, arrears.py), so auditors and regulators are refused by design.
PERSONAL_DATA_READS = frozenset(
    {"list_notifications", "get_notification", "get_household_contact", "list_vulnerable_households"}
)
# The one table a read may write to: the log of who read a household's personal data (issue 11:
# "an auditor's read of a household's personal data is itself logged"). A table named here must
# hold only such a log; nothing else a read touches may change.
READ_LOG_TABLES = frozenset({"personal_data_reads"})


@dataclass(frozen=True)
class Body:
    """A request body and its media type."""

    content: bytes
    content_type: str

    def headers(self, headers: dict[str, str]) -> dict[str, str]:
        return {**headers, "Content-Type": self.content_type}


# Bodies the guard must refuse before reading them: an empty object, and bytes that are not JSON.
EMPTY_JSON = Body(b"{}", "application/json")
JUNK = Body(b"\xff\xfe<not json", "text/plain")


@dataclass(frozen=True)
class Operation:
    """One method of one path of the OpenAPI document, with its path parameters filled in."""

    method: str
    template: str
    path: str
    operation_id: str
    declared: dict[str, Any]

    def __str__(self) -> str:
        return f"{self.method} {self.template} ({self.operation_id})"


@dataclass(frozen=True)
class Seeded:
    """The app over a seeded store, and the ids of what was seeded."""

    app: FastAPI
    container: Container
    client: TestClient
    tokens: Tokens
    path_values: dict[str, str]


@pytest.fixture(scope="module")
def seeded(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Seeded]:
    """One app for the module, its store holding a household with a meter, readings, a prepayment
    bill, a payment, a payment order, an NB-IoT channel and a token of each role: real ids for the
    paths."""
    container = bootstrap(sqlite_settings(Path(tmp_path_factory.mktemp("read-only"))))
    app = create_app(container)  # before the clock is frozen: see the frozen_now fixture
    try:
        with freeze_time(NOW, real_asyncio=True), TestClient(app) as client:
            tokens = Tokens(container)
            yield Seeded(app, container, client, tokens, _seed(container, LedgerApi(client, tokens)))
    finally:
        container.close()


def _seed(container: Container, api: LedgerApi) -> dict[str, str]:
    api.household_with_meter(ACCOUNT_NUMBER, SERIAL)
    reading = {"meter_serial": SERIAL, "measured_at": shanghai_midnight(NOW.date()), "energy_gj": "12.5"}
    assert api.submit([{**reading, "source": "mbus"}]).json()["accepted"] == 1
    payment = {"amount_yuan": "100.00", "channel": "cash", "receipt_number": "R-0001"}
    paid = api.client.post(f"/households/{ACCOUNT_NUMBER}/payments", json=payment, headers=api.clerk())
    assert paid.status_code == 201, paid.text
    billed = _issue_a_prepayment(api)
    order = {"account_number": ACCOUNT_NUMBER, "amount_yuan": "50.00", "provider": "hmac-json"}
    ordered = api.client.post("/payments/orders", json=order, headers=api.clerk())
    assert ordered.status_code == 201, ordered.text
    NbiotChannels(container.engine, container.settings.secret_key, container.ledger.clock).create(CHANNEL)
    for role in Role:
        api.tokens.secret(role)
    # A live token to revoke: a refused DELETE must leave it working.
    live_token = container.tokens.create("concentrator-7", Role.DEVICE)
    return {
        "account_number": ACCOUNT_NUMBER,
        "serial": SERIAL,
        "channel": CHANNEL,
        "provider": "hmac-json",
        "community": "碧桂园",
        "building": "1",
        "customer_class": "residential",
        "scope": "*",
        "season": "2025-2026",
        "day": NOW.date().isoformat(),
        "payment_id": paid.json()["payment_id"],
        "order_number": ordered.json()["order_number"],
        "token_id": str(live_token.token_id),
        **billed,
    }


def _issue_a_prepayment(api: LedgerApi) -> dict[str, str]:
    """The city's tariff and a prepayment run for the season: a bill to read, explain and replay."""
    tariff = {
        "customer_class": "residential",
        "scope": "*",
        "area_price_yuan_per_m2": "21.6",
        "base_share_percent": "30",
        "energy_price_yuan_per_gj": "43.9",
        "policy": "refund_only",
        "effective_from": "2025-11-01",
        "document_number": "吴价发〔2025〕12号",
        "approved_on": "2025-09-15",
        "reason": "price bureau approval",
    }
    published = api.client.post("/tariffs", json=tariff, headers=api.tokens.headers(Role.ADMIN))
    assert published.status_code == 201, published.text
    run = api.client.post("/billing/runs", json={"kind": "prepayment", "season": "2025-2026"}, headers=api.clerk())
    assert run.status_code == 202, run.text
    bills = api.get(f"/households/{ACCOUNT_NUMBER}/bills").json()["items"]
    assert len(bills) == 1, bills
    return {"run_id": run.json()["run_id"], "bill_id": bills[0]["bill_id"]}


# -- the tests ----------------------------------------------------------------------------------


def test_every_operation_but_a_safe_read_refuses_the_read_only_roles_and_writes_nothing(seeded: Seeded) -> None:
    writes = [operation for operation in operations(seeded) if operation.method not in SAFE_METHODS]
    # Not vacuous: every kind of command is there, the signed webhooks and token management too.
    assert len(writes) >= 45 and {"POST", "PUT", "DELETE"} <= {operation.method for operation in writes}
    assert SIGNED_OPERATIONS | {"create_token", "revoke_token"} <= {operation.operation_id for operation in writes}
    before = snapshot(seeded.container)

    let_through = 0
    for operation in writes:
        assert "403" in operation.declared["responses"], f"{operation} does not declare its 403"
        for role in READ_ONLY_ROLES:
            for body in (EMPTY_JSON, JUNK):
                response = call(seeded, operation, role, body)
                if holds_declared_analysis_permission(operation, role):
                    # The one open door (api/read_only.py): the route's own checks answer, and an
                    # empty or a junk body is refused there, before anything is written.
                    let_through += 1
                    expected = ("validation_failed", 422) if body is EMPTY_JSON else ("unsupported_media_type", 415)
                    assert_problem(response, expected[1], expected[0])
                    continue
                problem = assert_problem(response, 403, "permission_denied")
                assert problem["params"] == {"role": role.value, "method": operation.method}, operation

    # Regulators submit scenarios (and nothing else); auditors submit nothing.
    assert let_through == 2
    assert snapshot(seeded.container) == before


def test_only_commands_that_book_nothing_declare_a_permission_a_read_only_role_holds(seeded: Seeded) -> None:
    declared = {
        operation.operation_id: Permission(operation.declared[PERMISSION_EXTENSION])
        for operation in operations(seeded)
        if operation.method not in SAFE_METHODS and PERMISSION_EXTENSION in operation.declared
    }
    open_doors = {
        operation_id
        for operation_id, permission in declared.items()
        for role in READ_ONLY_ROLES
        if permission in ROLE_PERMISSIONS[role]
    }
    assert open_doors == {"submit_scenario"}
    assert {declared[operation_id] for operation_id in open_doors} <= ANALYSIS_PERMISSIONS


def holds_declared_analysis_permission(operation: Operation, role: Role) -> bool:
    """Whether the operation declares an analysis permission the role holds (the guard's rule)."""
    declared = operation.declared.get(PERMISSION_EXTENSION)
    return declared is not None and Permission(declared) in ANALYSIS_PERMISSIONS & ROLE_PERMISSIONS[role]


def test_every_read_answers_the_read_only_roles_but_personal_data_and_writes_nothing(seeded: Seeded) -> None:
    reads = [operation for operation in operations(seeded) if operation.method == "GET"]
    assert len(reads) >= 40
    assert {operation.operation_id for operation in reads} >= PERSONAL_DATA_READS
    before = snapshot(seeded.container)
    read_back = 0

    for operation in reads:
        for role in READ_ONLY_ROLES:
            response = call(seeded, operation, role)
            assert response.status_code < 500, f"{operation}: {response.text}"
            read_back += response.status_code == 200
            if operation.operation_id in PERSONAL_DATA_READS:
                problem = assert_problem(response, 403, "permission_denied")
                assert problem["params"] == {"role": role.value, "permission": "manage_households"}
            else:
                assert response.status_code != 403, f"{operation} refuses the {role.value}: {response.text}"

    # Not only "not refused": the seeded records are read back (the bill, its replay, the payment,
    # …); 404s are paths with no record (an upload, a flag) and 422s reads that need a query.
    assert read_back >= 35 * len(READ_ONLY_ROLES)
    after = snapshot(seeded.container)
    changed = {table for table in before.keys() | after.keys() if before.get(table) != after.get(table)}
    assert changed <= READ_LOG_TABLES, f"a GET wrote to {sorted(changed)}; only a log of reads may be written"


def test_the_refusal_says_so_in_the_callers_language(seeded: Seeded) -> None:
    household = f"/households/{ACCOUNT_NUMBER}/suspensions"
    for language, expected in (("en", "may only read the ledger"), ("zh", "只能查看账本")):
        headers = JUNK.headers(seeded.tokens.headers(Role.REGULATOR, language))
        response = seeded.client.post(household, content=JUNK.content, headers=headers)

        problem = assert_problem(response, 403, "permission_denied")
        assert expected in problem["detail"] and ("regulator" in problem["detail"]) == (language == "en")
        assert response.headers["Content-Language"] == language


def test_the_guard_lets_every_other_caller_through_to_the_route(seeded: Seeded) -> None:
    """Only a read-only role is stopped at the door: anyone else meets the route's own checks."""
    junk_as = {role: JUNK.headers(seeded.tokens.headers(role)) for role in (Role.CLERK, Role.DEVICE)}
    path = f"/households/{ACCOUNT_NUMBER}/suspensions"

    assert_problem(
        seeded.client.post(path, content=JUNK.content, headers=junk_as[Role.CLERK]), 415, "unsupported_media_type"
    )
    device_registers = seeded.client.post("/households", json={}, headers=seeded.tokens.headers(Role.DEVICE))
    assert_problem(device_registers, 422, "validation_failed")  # its role is checked by the service, after
    for authorization in ("Bearer hl_unknown", "Basic dXNlcjpwYXNz", "Bearer " + "x" * 5000):
        response = seeded.client.post(path, json={}, headers={"Authorization": authorization})
        assert_problem(response, 401, "unauthenticated")
    unsigned = seeded.client.post(f"/ingest/nbiot/{CHANNEL}", content=b"{}", headers=junk_as[Role.DEVICE])
    assert_problem(unsigned, 401, "unauthenticated")  # a device's token does not sign a push


# -- helpers ------------------------------------------------------------------------------------


def operations(seeded: Seeded) -> list[Operation]:
    """Every operation of the app's OpenAPI document, its path filled with plausible values that
    the app routes (a uuid where the route converts a uuid, a season where it wants one)."""
    found = []
    for template, methods in seeded.app.openapi()["paths"].items():
        for method, declared in methods.items():
            parameters = [parameter for parameter in declared.get("parameters", []) if parameter["in"] == "path"]
            values = {parameter["name"]: path_value(parameter, seeded.path_values) for parameter in parameters}
            path = template.format(**values)
            operation = Operation(method.upper(), template, path, declared["operationId"], declared)
            assert routed(seeded.app, operation), f"{operation}: no route takes {path}"
            found.append(operation)
    return found


def path_value(parameter: dict[str, Any], seeded_values: dict[str, str]) -> str:
    """A seeded record's key for the parameters the seed knows, else a value of the declared kind."""
    name = parameter["name"]
    if name in seeded_values:
        return seeded_values[name]
    schema = parameter.get("schema", {})
    kind = schema.get("format")
    if kind == "uuid":
        return str(uuid5(UNKNOWN, name))
    if kind == "date":
        return NOW.date().isoformat()
    if schema.get("pattern") == r"^\d{4}-\d{4}$":
        return seeded_values["season"]
    return f"unknown-{name}"


def routed(app: FastAPI, operation: Operation) -> bool:
    scope = {"type": "http", "path": operation.path, "method": operation.method}
    return any(route.matches(scope)[0] is Match.FULL for route in app.routes)


def call(seeded: Seeded, operation: Operation, role: Role, body: Body | None = None) -> Any:
    headers = seeded.tokens.headers(role)
    if body is None:
        return seeded.client.request(operation.method, operation.path, headers=headers)
    return seeded.client.request(operation.method, operation.path, content=body.content, headers=body.headers(headers))


def snapshot(container: Container) -> dict[str, str]:
    """A digest of every table's rows (events, read models, tokens, logs), and the event store's
    last notification id: two snapshots are equal only if nothing was written in between."""
    metadata = sqlalchemy.MetaData()
    metadata.reflect(container.engine)
    digests = {"max_notification_id": str(container.runner.max_notification_id())}
    with container.engine.connect() as connection:
        for name, table in metadata.tables.items():
            rows = sorted(repr(tuple(row)) for row in connection.execute(sqlalchemy.select(table)))
            digests[name] = hashlib.sha256("\n".join(rows).encode()).hexdigest()
    return digests
