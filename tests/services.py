"""Access to the real services the suite runs against, with skip-or-fail when one is absent.

A test that needs PostgreSQL or Redis skips with a reason when the service is down, and fails
instead when HEATLEDGER_REQUIRE_SERVICES=1 (CI sets it), so a missing service never passes silently.
"""

from __future__ import annotations

import os
import socket
import uuid
from collections.abc import Iterator
from contextlib import contextmanager

import pytest

POSTGRES_HOST = os.environ.get("HEATLEDGER_TEST_POSTGRES_HOST", "127.0.0.1")
POSTGRES_PORT = int(os.environ.get("HEATLEDGER_TEST_POSTGRES_PORT", "5432"))
POSTGRES_USER = os.environ.get("HEATLEDGER_TEST_POSTGRES_USER", "postgres")
# The maintenance database used to create and drop one throw-away database per test.
POSTGRES_ADMIN_DB = os.environ.get("HEATLEDGER_TEST_POSTGRES_ADMIN_DB", "test")
REDIS_URL = os.environ.get("HEATLEDGER_TEST_REDIS_URL", "redis://127.0.0.1:6379/15")


def services_required() -> bool:
    return os.environ.get("HEATLEDGER_REQUIRE_SERVICES", "") == "1"


def unavailable(service: str, why: str) -> None:
    """Skip, or fail when services are required."""
    message = f"{service} is not available: {why}"
    if services_required():
        pytest.fail(message + " (HEATLEDGER_REQUIRE_SERVICES=1)")
    pytest.skip(message)


def port_open(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=1):
            return True
    except OSError:
        return False


@contextmanager
def fresh_postgres_database() -> Iterator[str]:
    """Create an empty database for one test and drop it afterwards; yields its name."""
    if not port_open(POSTGRES_HOST, POSTGRES_PORT):
        unavailable("PostgreSQL", f"nothing listens on {POSTGRES_HOST}:{POSTGRES_PORT}")
    import psycopg

    name = f"heatledger_test_{uuid.uuid4().hex[:12]}"
    admin = f"host={POSTGRES_HOST} port={POSTGRES_PORT} user={POSTGRES_USER} dbname={POSTGRES_ADMIN_DB}"
    try:
        with psycopg.connect(admin, autocommit=True) as connection:
            connection.execute(f'CREATE DATABASE "{name}"')
    except psycopg.OperationalError as error:
        unavailable("PostgreSQL", str(error))
    try:
        yield name
    finally:
        with psycopg.connect(admin, autocommit=True) as connection:
            connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
