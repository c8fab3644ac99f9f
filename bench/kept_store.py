"""A PostgreSQL bench city kept between runs, so a 100,000-household set-up is paid once.

A city of 100,000 households takes tens of minutes to set up through the ledger (one save per
household, meter and reading batch), far longer than what the benchmarks time after it. With a
kept store the set-up runs once into a database named after the bench and its size; each later run
times its steps on a copy made from it as a template (``bench.billing.copied_store``, a file copy),
so the kept city is never changed by what is timed.

The set-up's own commits skip the WAL flush (``synchronous_commit = off`` on the database while it
is built): the set-up is not timed, and on this machine the flush was most of its wall time. The
setting is reset before the database is marked ready, and a template copy does not inherit a
database's settings anyway: what is timed commits as the product does.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from bench.ingest import POSTGRES_HOST, POSTGRES_PORT, POSTGRES_USER, _admin_connection
from infrastructure.settings import Backend, Environment, Settings

READY = "heatledger bench city ready"


def kept_city_name(bench: str, households: int) -> str:
    """The database a bench's city of ``households`` is kept in."""
    return f"heatledger_bench_{bench}_city_{households}"


def postgres_settings(name: str) -> Settings:
    """Test settings of the PostgreSQL database ``name`` on the bench's server."""
    return _settings(name)


def database_exists(name: str) -> bool:
    """Whether the bench's server has a database called ``name``."""
    with _admin_connection() as connection:
        return connection.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone() is not None


def copy_database(template: str, copy: str) -> None:
    """``copy`` made afresh from ``template`` (dropped first if it exists; the template's sessions
    ended, since a template must have none)."""
    with _admin_connection() as connection:
        connection.execute(f'DROP DATABASE IF EXISTS "{copy}" WITH (FORCE)')
        connection.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s AND pid <> pg_backend_pid()",
            (template,),
        )
        create_copy(connection, template, copy)


def create_copy(connection: Any, template: str, copy: str) -> None:
    """``CREATE DATABASE copy TEMPLATE template`` on ``connection`` (autocommit), by copying the
    template's files where the server can (PostgreSQL 15 and later: ``STRATEGY = FILE_COPY``,
    which checkpoints before and after). The default strategy there, ``WAL_LOG``, writes the whole
    template into the WAL (1.2 GB for the projections' season), whose checkpoint then ran during
    the timed step after it: the same split catch-up took 23-24 s in that case and 18.7-20.5 s
    with the checkpoint done first (issue 17, ninth pass)."""
    file_copy = int(connection.info.server_version) >= 150000
    strategy = " STRATEGY = FILE_COPY" if file_copy else ""
    connection.execute(f'CREATE DATABASE "{copy}" TEMPLATE "{template}"{strategy}')


def _settings(name: str) -> Settings:
    return Settings(
        environment=Environment.TEST,
        backend=Backend.POSTGRES,
        postgres_host=POSTGRES_HOST,
        postgres_port=POSTGRES_PORT,
        postgres_user=POSTGRES_USER,
        postgres_dbname=name,
    )


def _state(connection: Any, name: str) -> str | None:
    """None when the database does not exist, else its comment ('' when it has none)."""
    row = connection.execute(
        "SELECT coalesce(shobj_description(oid, 'pg_database'), '') FROM pg_database WHERE datname = %s", (name,)
    ).fetchone()
    return None if row is None else row[0]


def ensure_kept_city(name: str, build: Callable[[Settings], float]) -> tuple[Settings, float | None]:
    """The kept city's settings, building it first if it is missing or was left half-built.

    ``build`` sets the city up on the settings it is given and returns its seconds; the second value
    is those seconds, or None when the city was already there.
    """
    with _admin_connection() as connection:
        state = _state(connection, name)
        if state == READY:
            return _settings(name), None
        if state is not None:  # a set-up that was interrupted: start again
            connection.execute(f'DROP DATABASE "{name}" WITH (FORCE)')
        connection.execute(f'CREATE DATABASE "{name}"')
        connection.execute(f'ALTER DATABASE "{name}" SET synchronous_commit = off')
    seconds = build(_settings(name))
    with _admin_connection() as connection:
        connection.execute(f'ALTER DATABASE "{name}" RESET synchronous_commit')
        connection.execute(f"COMMENT ON DATABASE \"{name}\" IS '{READY}'")
    return _settings(name), seconds
