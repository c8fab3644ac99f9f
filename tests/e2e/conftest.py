"""Fixtures of the end-to-end tier: the app over a wired container, tokens per role, and a client
that speaks the API the way a clerk's program or a concentrator would."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from fastapi import FastAPI
from freezegun import freeze_time
from starlette.testclient import TestClient as TestClient  # re-exported for the test modules

from api.app import create_app
from application.authorization import Role
from infrastructure.container import Container

# The tests run at noon of 10 December 2025 in Asia/Shanghai: inside the 2025-2026 season.
NOW = datetime.fromisoformat("2025-12-10T12:00:00+08:00")
TODAY = date(2025, 12, 10)
COMMISSIONED_AT = "2025-10-15T09:00:00+08:00"
ATTACHED_AT = "2025-10-20T09:00:00+08:00"


def shanghai_midnight(day: date) -> str:
    """The first moment of a business day, as a device in Ningxia would report it."""
    return f"{day.isoformat()}T00:00:00+08:00"


def days_from(first: date, count: int) -> list[date]:
    return [first + timedelta(days=offset) for offset in range(count)]


def cumulative(start: Decimal, increments: list[Decimal]) -> list[Decimal]:
    """Register values starting at ``start`` and growing by each increment in turn."""
    values = [start]
    for increment in increments:
        values.append(values[-1] + increment)
    return values


@pytest.fixture
def app(container: Container) -> Iterator[FastAPI]:
    """The app over the test's container; emptied once the test is done.

    Something outside the app (closures FastAPI or the app's modules keep per app) holds every
    app a process builds: measured, each test's app kept ~57,000 objects and ~10 MB alive (its
    analysed routes, schemas and container), a worker grew past 2 GB and the garbage collector's
    passes over that heap grew with every test. Emptying the finished app's own attributes lets
    all of that go (40 apps: 2.6 million objects and 609 MB down to 0.33 million and 231 MB)."""
    built = create_app(container)
    yield built
    empty_app(built)


def empty_app(app: FastAPI) -> None:
    """A finished app's own attributes cleared (why: the ``app`` fixture)."""
    app.router.routes.clear()
    app.user_middleware.clear()
    app.middleware_stack = None
    app.openapi_schema = None
    vars(app).clear()


@pytest.fixture
def frozen_now(app: FastAPI) -> Iterator[datetime]:
    """The ledger's clock stopped at NOW (asyncio keeps real time, so the test client runs).

    The app is built first: FastAPI reads the routes' signatures when the app is built, and
    under freezegun the name ``date`` in every module stands for freezegun's FakeDate.
    """
    with freeze_time(NOW, real_asyncio=True):
        yield NOW


@pytest.fixture
def client(app: FastAPI) -> Iterator[TestClient]:
    with TestClient(app) as test_client:
        yield test_client


class Tokens:
    """One token per role, issued on demand, as Authorization headers."""

    def __init__(self, container: Container) -> None:
        self.container = container
        self.secrets: dict[Role, str] = {}

    def secret(self, role: Role) -> str:
        if role not in self.secrets:
            self.secrets[role] = self.container.tokens.create(f"e2e-{role.value}", role).secret
        return self.secrets[role]

    def headers(self, role: Role, language: str | None = None) -> dict[str, str]:
        headers = {"Authorization": f"Bearer {self.secret(role)}"}
        if language is not None:
            headers["Accept-Language"] = language
        return headers


@pytest.fixture
def tokens(container: Container) -> Tokens:
    return Tokens(container)


class LedgerApi:
    """The requests the tests repeat, made as a clerk (or a device for readings)."""

    def __init__(self, client: TestClient, tokens: Tokens) -> None:
        self.client = client
        self.tokens = tokens

    def clerk(self, language: str | None = None) -> dict[str, str]:
        return self.tokens.headers(Role.CLERK, language)

    def register_household(
        self,
        account_number: str,
        community: str = "碧桂园",
        building: str = "1",
        flat: str = "101",
        connected_area_m2: str = "98.50",
        heated_area_m2: str = "90.00",
        **changes: Any,
    ) -> Any:
        body = {
            "account_number": account_number,
            "address": {"community": community, "building": building, "entrance": "1", "floor": 1, "flat": flat},
            "connected_area_m2": connected_area_m2,
            "heated_area_m2": heated_area_m2,
            "customer_class": "residential",
            "position": {"vertical": "bottom", "horizontal": "west_end"},
            "registered_on": "2025-10-01",
            **changes,
        }
        return self.client.post("/households", json=body, headers=self.clerk())

    def commission_meter(self, serial: str, kind: str = "household", **changes: Any) -> Any:
        body = {
            "serial": serial,
            "maker": "Kamstrup",
            "model": "MULTICAL 403",
            "accuracy_class": "2",
            "flow_sensor_side": "return",
            "kind": kind,
            "commissioned_at": COMMISSIONED_AT,
            **changes,
        }
        return self.client.post("/meters", json=body, headers=self.clerk())

    def attach_meter(self, account_number: str, serial: str) -> Any:
        body = {"serial": serial, "attached_at": ATTACHED_AT, "reason": "installation"}
        return self.client.post(f"/households/{account_number}/meters", json=body, headers=self.clerk())

    def household_with_meter(self, account_number: str, serial: str, **address: Any) -> None:
        assert self.register_household(account_number, **address).status_code == 201
        assert self.commission_meter(serial).status_code == 201
        assert self.attach_meter(account_number, serial).status_code == 200

    def submit(
        self, readings: list[dict[str, Any]], role: Role = Role.DEVICE, language: str | None = None, **batch: Any
    ) -> Any:
        body = {"readings": readings, **batch}
        return self.client.post("/readings/batches", json=body, headers=self.tokens.headers(role, language))

    def daily_readings(self, serial: str, days: list[date], registers: list[Decimal], **values: Any) -> dict[str, Any]:
        """Submit one reading per business day at midnight; the batch must be accepted whole."""
        readings = [
            {
                "meter_serial": serial,
                "measured_at": shanghai_midnight(day),
                "energy_gj": str(register),
                "source": "mbus",
            }
            | {name: str(series[index]) for name, series in values.items()}
            for index, (day, register) in enumerate(zip(days, registers, strict=True))
        ]
        response = self.submit(readings)
        assert response.status_code == 200, response.text
        receipt: dict[str, Any] = response.json()
        assert receipt["accepted"] == len(readings), receipt
        return receipt

    def get(self, path: str, role: Role = Role.CLERK, query: dict[str, str] | None = None, **params: Any) -> Any:
        """GET as ``role``; ``query`` holds parameters whose names are not identifiers (``from``)."""
        return self.client.get(path, params={**(query or {}), **params}, headers=self.tokens.headers(role))


@pytest.fixture
def api(client: TestClient, tokens: Tokens) -> LedgerApi:
    return LedgerApi(client, tokens)


def assert_problem(response: Any, status: int, code: str) -> dict[str, Any]:
    """The response is an RFC 9457 problem of this status and code; returns its body."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    problem: dict[str, Any] = response.json()
    assert problem["status"] == status
    assert problem["code"] == code
    assert problem["type"] == f"https://heatledger.example/problems/{code}"
    assert problem["instance"] == response.request.url.path
    assert problem["title"] and problem["detail"]
    return problem
