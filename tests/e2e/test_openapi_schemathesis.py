"""Property tests of the whole HTTP API against its own OpenAPI document, with schemathesis.

Every operation is called with requests generated from the document (its examples, and fuzzed
values that fit it or break it) as a clerk and as an administrator, in process (ASGI), on SQLite;
the coverage phase (every boundary and every way to break each parameter and body, ~9,000 requests)
as the administrator only (see COVERAGE_ROLES).
The checks: no server error; every status, content type, header and body the document declares;
requests that break the document refused (4xx); requests that fit it accepted, or refused by a
business rule the document cannot express and declares (404, 409, 422 problems); a method an
address does not have is a 405 whose ``Allow`` lists exactly the methods it has.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import schemathesis
from fastapi import FastAPI
from schemathesis.config import PositiveDataAcceptanceConfig
from schemathesis.core.result import Ok
from schemathesis.engine import Status, events
from starlette.testclient import TestClient

from api.app import create_app
from application.authorization import Role
from infrastructure.container import Container

# A bound on the run: ~90 operations, three phases, a few examples each.
MAXIMUM_EXAMPLES_PER_OPERATION = 2
# 1,000 M-Bus frames in one request take more than schemathesis's 10 s on a loaded machine.
SLOWEST_ANSWER_SECONDS = 120
# Checks that need a stateful run (links between operations) or per-user data the document lacks,
# and the response time, which is a benchmark's business (bench/), not the document's.
EXCLUDED_CHECKS = [
    "use_after_free",
    "ensure_resource_availability",
    "object_level_authorization",
    "max_response_time",
]
# A schema-valid request may still break a rule the document cannot express: a household that
# does not exist (404), one already registered (409), a date range reversed (422). Each such
# refusal is a problem response the operation declares (status_code_conformance checks that).
ACCEPTED_OR_REFUSED_BY_A_RULE = ["2xx", "3xx", "401", "403", "404", "409", "422", "429"]
# The coverage phase's cases are the same for every role (they are drawn from the document alone)
# and took ~50 s a role. The administrator holds every permission (application.authorization) and
# no handler answers a clerk otherwise than an administrator but by a permission, so the
# administrator's pass reaches every operation's validation and handler. A clerk's pass would send
# the same requests, to be refused with the same 403 by the permission dependency (which FastAPI
# solves before it validates the parameters and body) on the operations a clerk may not call, and
# answered as the administrator's on the others. The clerk keeps the examples and fuzzing phases,
# which call every operation (asserted below) and check its 403s against the document.
COVERAGE_ROLES = frozenset({Role.ADMIN})


@pytest.fixture(params=[Role.CLERK, Role.ADMIN], ids=["clerk", "admin"])
def role(request: pytest.FixtureRequest) -> Role:
    return Role(request.param)


@pytest.fixture
def served_app(sqlite_container: Container) -> Iterator[FastAPI]:
    """The app over an SQLite store holding one household with one meter, the documents' examples."""
    app = create_app(sqlite_container)
    token = sqlite_container.tokens.create("schemathesis-setup", Role.CLERK).secret
    with TestClient(app) as client:
        _seed(client, {"Authorization": f"Bearer {token}"})
    yield app


def _seed(client: TestClient, headers: dict[str, str]) -> None:
    household = {
        "account_number": "WZ-0001",
        "address": {"community": "碧桂园", "building": "1", "entrance": "1", "floor": 6, "flat": "601"},
        "connected_area_m2": "98.50",
        "heated_area_m2": "90.00",
        "customer_class": "residential",
        "position": {"vertical": "top", "horizontal": "west_end"},
        "registered_on": "2025-10-01",
    }
    meter = {
        "serial": "KM-100234",
        "maker": "Kamstrup",
        "model": "MULTICAL 403",
        "accuracy_class": "2",
        "flow_sensor_side": "return",
        "kind": "household",
        "commissioned_at": "2025-10-15T09:00:00+08:00",
    }
    attachment = {"serial": "KM-100234", "attached_at": "2025-10-20T09:00:00+08:00", "reason": "installation"}
    assert client.post("/households", json=household, headers=headers).status_code == 201
    assert client.post("/meters", json=meter, headers=headers).status_code == 201
    assert client.post("/households/WZ-0001/meters", json=attachment, headers=headers).status_code == 200


def failures_found(schema: Any, called: set[str] | None = None) -> list[str]:
    """Run schemathesis over ``schema`` as ``schemathesis run`` would; one line per failed check
    (operation, check, status, request) and per error. The operations that got at least one
    request are added to ``called``."""
    found: list[str] = []
    for event in schemathesis.engine.from_schema(schema).execute():
        if isinstance(event, events.ScenarioFinished):
            found.extend(_failed_checks(event.recorder))
            if called is not None and event.recorder.interactions:
                called.add(event.recorder.label)
        elif isinstance(event, events.NonFatalError | events.FatalError):
            found.append(f"error: {event}")
        elif isinstance(event, events.EngineFinished):
            found.extend(f"{failure.operation}: {failure.title}" for failure in event.failures)
    return sorted(set(found))


def _failed_checks(recorder: Any) -> Iterator[str]:
    for case_id, checks in recorder.checks.items():
        for check in checks:
            if check.status == Status.FAILURE:
                interaction = recorder.interactions.get(case_id)
                request = f"{interaction.request.method} {interaction.request.uri}" if interaction else "?"
                response = interaction.response.status_code if interaction and interaction.response else "-"
                yield f"{recorder.label}: {check.name} -> {response} for {request}"[:400]


def test_every_operation_keeps_to_the_openapi_document(
    served_app: FastAPI, sqlite_container: Container, role: Role
) -> None:
    secret = sqlite_container.tokens.create(f"schemathesis-{role.value}", role).secret
    schema = schemathesis.openapi.from_asgi("/openapi.json", served_app)
    schema.config.update(
        headers={"Authorization": f"Bearer {secret}"}, workers=1, request_timeout=SLOWEST_ANSWER_SECONDS
    )
    schema.config.generation.update(max_examples=MAXIMUM_EXAMPLES_PER_OPERATION, deterministic=True, database="none")
    phases = ["examples", "coverage", "fuzzing"] if role in COVERAGE_ROLES else ["examples", "fuzzing"]
    schema.config.phases.update(phases=phases)
    schema.config.checks.update(included_check_names=["all"], excluded_check_names=EXCLUDED_CHECKS)
    schema.config.checks.positive_data_acceptance = PositiveDataAcceptanceConfig(
        expected_statuses=ACCEPTED_OR_REFUSED_BY_A_RULE
    )

    called: set[str] = set()
    found = failures_found(schema, called)
    assert found == [], "\n".join(found)
    operations = {result.ok().label for result in schema.get_all_operations() if isinstance(result, Ok)}
    assert len(operations) > 100 and called == operations, sorted(operations - called)
