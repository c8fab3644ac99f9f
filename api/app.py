"""The app factory: ``create_app(container)`` builds the HTTP API around a wired container.

Nothing is built at import time: whoever serves the API builds the container from settings and
passes it in (``heatledger serve`` does ``uvicorn.run(create_app(bootstrap()))``).
"""

from __future__ import annotations

import copy
from typing import Any

from fastapi import FastAPI, routing

from api.hot_reads import install_hot_reads
from api.i18n import load_catalogues
from api.problems import PROBLEM_MEDIA_TYPE, install_problem_handlers, problem_responses
from api.read_only import SAFE_METHODS, ReadOnlyRoleGuard
from api.routers import (
    arrears,
    bill_notices,
    bill_replays,
    billing,
    bills,
    consumption,
    dispute_letters,
    dispute_service_levels,
    disputes,
    dunning,
    estimates,
    health,
    heat_decisions,
    history,
    households,
    lifecycle,
    mbus,
    meters,
    monitoring,
    nbiot,
    online_payments,
    payment_reports,
    payments,
    readings,
    reports,
    room_telemetry,
    scenarios,
    seasons,
    tariff_corrections,
    tariffs,
    tokens,
    uploads,
    valves,
)
from api.shared_routes import include_shared, take_no_dependency_overrides
from api.web import install_web
from api.web.api_docs import install_api_docs
from infrastructure.container import Container

API_VERSION = "1.0.0"

DESCRIPTION = """
The ledger of households, heat meters and readings of a district-heating company.

* **Authentication**: `Authorization: Bearer <token>` on every endpoint except the probes
  (`/health`, `/health/live`, `/health/ready`) and these pages.
  Tokens carry a role (admin, clerk, customer_service, auditor, regulator, device).
  Auditors and regulators only read: any other method answers them 403 before anything is done.
* **Errors** are RFC 9457 problems (`application/problem+json`) with a stable `code`; messages
  are in Chinese, or in English when `Accept-Language` prefers `en`.
* **Numbers**: energy (GJ), volume (m³), areas (m²) and temperatures (°C) are exact decimals,
  sent back as JSON strings such as `"12.345000"`; send them as strings to keep every digit.
* **Times** are ISO 8601 with a zone; business dates (days, months, seasons) are Asia/Shanghai.

See `docs/api.md` for the roles, the problem codes and the semantics of reading batches.
"""

OPENAPI_TAGS = [
    {"name": "households", "description": "Heat customers (热用户): master data, areas, suspension, meters"},
    {"name": "meters", "description": "Heat meters: commissioning, attachment, readings"},
    {"name": "readings", "description": "Batches of meter readings from devices and clerks"},
    {"name": "estimates", "description": "Estimated readings for missing days, and the estimated share"},
    {"name": "consumption", "description": "Energy and volume per day or month, by household, building, community"},
    {
        "name": "monitoring",
        "description": "What did not get in and which meters need a visit: quarantine, rejected readings, "
        "silent, implausible and faulty meters",
    },
    {"name": "seasons", "description": "Heating seasons: the days each scope heats by decree, and extensions"},
    {
        "name": "scenarios",
        "description": "Regulator scenarios (物价局测算): a season recomputed under other tariffs, side by side with "
        "what it cost; books nothing",
    },
    {
        "name": "tariff-corrections",
        "description": "A price the price bureau revised after the season: previewed, approved by a second person, "
        "booked as credit and debit notes against the original billing periods",
    },
    {
        "name": "reports",
        "description": "Community analytics (issue 15): unit consumption, saving against area charging, revenue "
        "both ways, who pays more or less, network heat loss, position fairness, collection; their settings",
    },
    {"name": "dunning", "description": "Payment reminders: runs, the notification outbox, household contacts"},
    {
        "name": "disputes",
        "description": "Customer service (客服): disputes of bills, readings and payments, their investigation and "
        "resolution by credit or debit notes",
    },
    {
        "name": "history",
        "description": "Every event of a household, meter, bill, tariff or payment: when, who, why, in words",
    },
    {
        "name": "valves",
        "description": "Room controllers and their valves (issue 14): commands requested, approved by a second "
        "person, sent, acknowledged, confirmed by the next report; guardrails for the cold and the vulnerable",
    },
    {"name": "tokens", "description": "API tokens (administrators)"},
    {"name": "health", "description": "Probes for a load balancer: liveness and readiness (database, Redis)"},
]

ROUTERS = (
    households.router,
    meters.router,
    lifecycle.router,
    readings.router,
    mbus.router,
    uploads.router,
    nbiot.router,
    consumption.router,
    estimates.router,
    monitoring.router,
    tariffs.router,
    seasons.router,
    billing.router,
    scenarios.router,
    tariff_corrections.router,
    bills.router,
    bill_replays.router,
    heat_decisions.router,
    online_payments.router,
    payments.router,
    payment_reports.router,
    reports.router,
    arrears.router,
    dunning.router,
    dispute_service_levels.router,  # before disputes: /disputes/overdue is no dispute id
    disputes.router,
    dispute_letters.router,
    bill_notices.router,
    valves.router,
    room_telemetry.router,
    history.router,
    tokens.router,
    health.router,
)


def create_app(container: Container) -> FastAPI:
    """The HTTP API of Heat Ledger over ``container`` (its ledger, read models and tokens)."""
    app = FastAPI(
        title="Heat Ledger",
        version=API_VERSION,
        description=DESCRIPTION,
        openapi_tags=OPENAPI_TAGS,
        docs_url=None,  # /docs and /redoc are served on vendored assets by install_api_docs
        redoc_url=None,
    )
    app.state.container = container
    take_no_dependency_overrides(app)  # before any route: the routes are shared between apps
    install_problem_handlers(app)
    # Added last, so it runs first: a read-only role's write is refused before anything else.
    app.add_middleware(ReadOnlyRoleGuard)
    install_hot_reads(app)  # the household's four hot reads answered before routing (issue 17)
    for router in ROUTERS:
        include_shared(app, router)
    install_api_docs(app)
    install_web(app)  # the web UI's pages under /ui, /static, and HTML errors for /ui (issue 13)
    _document_problems_as_problem_json(app)
    _build_routes_now(app)
    load_catalogues()  # Babel reads the message catalogues now (~0.15 s once), not the first request
    return app


# The OpenAPI document of the first app this process built. Every app has the same routes, and
# generating the document takes seconds with ~60 routes (pydantic builds a schema per model).
_FIRST_OPENAPI: dict[str, Any] = {}


def _build_routes_now(app: FastAPI) -> None:
    """Analyse every route and build the OpenAPI document now rather than on first use.

    FastAPI builds an included route's parameters lazily, on its first request; building them
    here makes a broken route fail at start-up, and keeps the analysis independent of whatever
    the process does to its modules later (freezegun replaces ``date`` in every module). Later
    apps of the process (the tests build one per test) start from a copy of the first document.
    """
    if _FIRST_OPENAPI:
        _analyse_routes(app)
        app.openapi_schema = copy.deepcopy(_FIRST_OPENAPI)
        # FastAPI regenerates the document when the routes' version differs from the one it built
        # the document for: this app's routes are the first app's, so mark the copy as theirs.
        app._openapi_routes_version = app.router._get_routes_version()
    schema = app.openapi()
    if not _FIRST_OPENAPI:
        _FIRST_OPENAPI.update(copy.deepcopy(schema))


def _analyse_routes(app: FastAPI) -> None:
    """Build every route's parameters, body and response fields, as generating the OpenAPI
    document would (``fastapi.openapi.utils.get_fields_from_routes``), without the document."""
    for context in routing.iter_route_contexts(app.routes):
        if isinstance(context.original_route, routing.APIRoute):
            built = (context.body_field, context.response_field, context.response_fields, context.dependant)
            assert built[3] is not None, f"the route {context.original_route.path} has no dependant"


def _document_problems_as_problem_json(app: FastAPI) -> None:
    """List error responses in the OpenAPI document under ``application/problem+json``,
    the media type they are sent with (FastAPI lists every response as application/json)."""
    build_schema = app.openapi

    def openapi() -> dict[str, Any]:
        schema = build_schema()  # cached by FastAPI until the routes change; the rewrite is idempotent
        for method, operation in (item for path in schema["paths"].values() for item in path.items()):
            _document_body_refusals(operation)
            _document_read_only_refusal(method, operation)
            for status, response in operation.get("responses", {}).items():
                content = response.get("content", {})
                if status[0] in "45" and "application/json" in content:
                    response["content"] = {PROBLEM_MEDIA_TYPE: content["application/json"]}
        return schema

    app.openapi = openapi  # type: ignore[method-assign]


def _document_body_refusals(operation: dict[str, Any]) -> None:
    """An operation that reads a JSON body also answers 415 (another Content-Type) and 422 (a
    body that is not UTF-8 JSON): ``api.routers.require_json_body`` refuses them for every route."""
    content = operation.get("requestBody", {}).get("content", {})
    if "application/json" not in content:
        return
    responses = operation.setdefault("responses", {})
    for status in (415, 422):
        documented = problem_responses(status)[status]
        responses.setdefault(
            str(status),
            {"description": documented["description"], "content": {"application/json": {"schema": _PROBLEM_REFERENCE}}},
        )


def _document_read_only_refusal(method: str, operation: dict[str, Any]) -> None:
    """An operation that is not a safe read answers 403 to a read-only role's bearer token, even
    one authenticated otherwise (a signed webhook): ``api.read_only.ReadOnlyRoleGuard``."""
    if method.upper() in SAFE_METHODS:
        return
    operation.setdefault("responses", {}).setdefault(
        "403",
        {
            "description": "A bearer token of a read-only role (auditor, regulator): nothing is done "
            "(`permission_denied`)",
            "content": {"application/json": {"schema": _PROBLEM_REFERENCE}},
        },
    )


_PROBLEM_REFERENCE = {"$ref": "#/components/schemas/Problem"}
