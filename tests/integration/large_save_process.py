"""A process that saves many new aggregates in one ``save()`` on PostgreSQL, then prints "saved".

Run by tests/integration/test_large_saves_postgres.py in a child process, so that a save that hangs
can be killed (a thread stuck inside psycopg cannot be) and the test fails instead of hanging.

    python -m tests.integration.large_save_process DBNAME ledger|library AGGREGATES PAYLOAD_BYTES

"ledger" saves through the ledger's own factory (infrastructure/postgres_event_store.py, as wired
by event_store_environment); "library" through the eventsourcing library's PostgreSQL module as
it is, whose pipelined insert can hang on a save this large.
"""

from __future__ import annotations

import sys
import time

from eventsourcing.application import Application
from eventsourcing.domain import Aggregate, event

from infrastructure.event_store import event_store_environment
from infrastructure.settings import Backend, Environment, Settings
from tests.services import POSTGRES_HOST, POSTGRES_PORT, POSTGRES_USER


class Parcel(Aggregate):
    """An aggregate whose one event carries ``payload``: about as large as a reading's event."""

    @event("Packed")
    def __init__(self, payload: str) -> None:
        self.payload = payload


class LargeSaves(Application[object]):
    """Events go to the table ``largesaves_events``."""


def environment(database: str, recorder: str) -> dict[str, str]:
    """The event store's environment for ``database``; with the library's own module if asked."""
    settings = Settings(
        environment=Environment.TEST,
        backend=Backend.POSTGRES,
        postgres_host=POSTGRES_HOST,
        postgres_port=POSTGRES_PORT,
        postgres_user=POSTGRES_USER,
        postgres_dbname=database,
    )
    found = event_store_environment(settings)
    if recorder == "library":
        found["PERSISTENCE_MODULE"] = "eventsourcing.postgres"
    return found


def main(database: str, recorder: str, aggregates: int, payload_bytes: int) -> None:
    application = LargeSaves(env=environment(database, recorder))
    parcels = [Parcel("x" * payload_bytes) for _ in range(aggregates)]
    started = time.perf_counter()
    application.save(*parcels)
    print(f"saved {aggregates} in {time.perf_counter() - started:.2f} s", flush=True)
    application.close()


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4]))
