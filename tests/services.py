"""Access to the real services the suite runs against, with skip-or-fail when one is absent.

A test that needs PostgreSQL or Redis skips with a reason when the service is down, and fails
instead when HEATLEDGER_REQUIRE_SERVICES=1 (CI sets it), so a missing service never passes silently.
"""

from __future__ import annotations

import atexit
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


def _test_redis_url() -> str:
    """Redis database 15 for the tests, one database lower per parallel worker (pytest-xdist sets
    PYTEST_XDIST_WORKER to gw0, gw1, …), so two workers never flush each other's queues."""
    configured = os.environ.get("HEATLEDGER_TEST_REDIS_URL")
    if configured:
        return configured
    worker = os.environ.get("PYTEST_XDIST_WORKER", "gw0").removeprefix("gw")
    return f"redis://127.0.0.1:6379/{15 - int(worker or 0) % 8}"


REDIS_URL = _test_redis_url()


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


def _admin_connection_string() -> str:
    return f"host={POSTGRES_HOST} port={POSTGRES_PORT} user={POSTGRES_USER} dbname={POSTGRES_ADMIN_DB}"


# One database for the whole run, emptied before each test: CREATE DATABASE costs about a second
# (it checkpoints), emptying the tables a test wrote to a few milliseconds.
_shared_database: str | None = None


def _create_database(template: str | None = None) -> str:
    """A new test database, dropped at exit: empty, or a copy of ``template`` (which must have
    no connections)."""
    import psycopg

    name = f"heatledger_test_{uuid.uuid4().hex[:12]}"
    copied_from = f' TEMPLATE "{template}"' if template else ""
    try:
        with psycopg.connect(_admin_connection_string(), autocommit=True) as connection:
            connection.execute(f'CREATE DATABASE "{name}"{copied_from}')
            # A test's commits need not wait for the WAL to reach the disk: the semantics (locks,
            # isolation, constraints, what a reader sees) are PostgreSQL's own either way; only a
            # crash could lose the last commits, and the fault tests that crash PostgreSQL run their
            # own server with the default. Most of a PostgreSQL test's wall time was the flush.
            connection.execute(f'ALTER DATABASE "{name}" SET synchronous_commit = off')
    except psycopg.OperationalError as error:
        unavailable("PostgreSQL", str(error))
    atexit.register(_drop_database, name)
    return name


def _drop_database(name: str) -> None:
    import psycopg

    with psycopg.connect(_admin_connection_string(), autocommit=True) as connection:
        connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


# The tables of the public schema (alembic's own excepted) that hold a row, in one query.
_NON_EMPTY_TABLES = """
SELECT string_agg(format('SELECT %L WHERE EXISTS (SELECT 1 FROM %I)', tablename, tablename), ' UNION ALL ')
FROM pg_tables WHERE schemaname = 'public' AND tablename <> 'alembic_version'
"""
# Sequences owned by a table's column (serial, identity) that handed out a number since their
# last restart (pg_sequences shows last_value NULL until then), set back to their start.
_RESTART_USED_SEQUENCES = """
SELECT setval(format('%I.%I', s.schemaname, s.sequencename)::regclass, s.start_value, false)
FROM pg_sequences AS s
WHERE s.schemaname = 'public' AND s.last_value IS NOT NULL AND EXISTS (
    SELECT 1 FROM pg_depend AS d
    WHERE d.objid = format('%I.%I', s.schemaname, s.sequencename)::regclass
    AND d.classid = 'pg_class'::regclass AND d.deptype IN ('a', 'i')
)
"""
# Any lock another session holds in this database: a connection an earlier test left open.
_FOREIGN_LOCKS = """
SELECT EXISTS (
    SELECT 1 FROM pg_locks WHERE pid <> pg_backend_pid()
    AND database = (SELECT oid FROM pg_database WHERE datname = current_database())
)
"""


def _empty(name: str) -> bool:
    """Empty every table but alembic's and restart their identities; False if another session
    still holds a lock in the database (an earlier test's connection left open).

    Only the tables holding a row are truncated: TRUNCATE costs PostgreSQL new files for each
    table named (0.6-2 s for the ~70 tables on the loaded 2-core machine, every PostgreSQL test),
    finding the few a test wrote to a few milliseconds. The end is the same as truncating all:
    no row anywhere, every owned sequence back at its start.
    """
    import psycopg
    from psycopg import sql

    connection_string = f"host={POSTGRES_HOST} port={POSTGRES_PORT} user={POSTGRES_USER} dbname={name}"
    with psycopg.connect(connection_string, autocommit=True) as connection:
        connection.execute("SET lock_timeout = '5s'")
        if connection.execute(_FOREIGN_LOCKS).fetchone() == (True,):
            return False
        try:
            union = connection.execute(_NON_EMPTY_TABLES).fetchone()
            non_empty = [row[0] for row in connection.execute(union[0])] if union and union[0] else []
            if non_empty:
                quoted = ", ".join(sql.Identifier(table).as_string(connection) for table in non_empty)
                connection.execute(f"TRUNCATE {quoted} CASCADE")
            connection.execute(_RESTART_USED_SEQUENCES)
        except psycopg.errors.LockNotAvailable:
            return False
    return True


@contextmanager
def fresh_postgres_database() -> Iterator[str]:
    """An empty database for one test (the run's shared one, emptied first); yields its name."""
    global _shared_database
    if not port_open(POSTGRES_HOST, POSTGRES_PORT):
        unavailable("PostgreSQL", f"nothing listens on {POSTGRES_HOST}:{POSTGRES_PORT}")
    if _shared_database is None or not _empty(_shared_database):
        # A connection left open by an earlier test may hold a lock: start a new database then.
        _shared_database = _create_database()
    yield _shared_database
