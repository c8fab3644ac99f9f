"""Leases of running jobs, in the database (issue 16).

arq locks a job it starts for its whole timeout (300 s): a worker killed with ``kill -9`` leaves
the lock behind and the job waits five minutes. The ledger does not rely on that lock. A job
that runs an upload, a billing run, a scenario or a tariff correction holds a short lease on its
record's key in ``job_leases``: taken by compare-and-set (free, expired, or already ours), renewed
by a heartbeat thread every third of its length and again, synchronously, before each chunk.
A chunk is begun only under a lease renewed at that moment, so two workers never work on the
same job at once; a worker that finds its lease taken stops before its next chunk
(``LeaseLostError``). When a worker dies its lease runs out within ``job_lease_seconds`` and the
worker's recovery pass (infrastructure/job_recovery.py) hands the job to a live worker.

Leases compare wall-clock times of several machines: keep their clocks in sync (NTP); a lease of
15 s tolerates a few seconds of skew.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
from collections.abc import Callable, Iterable
from datetime import UTC, datetime, timedelta
from types import TracebackType
from typing import TypeVar
from uuid import uuid4

from sqlalchemy import Column, Engine, MetaData, String, Table, delete, insert, or_, select, update
from sqlalchemy.exc import IntegrityError

from projections.types import UtcDateTime

logger = logging.getLogger("heatledger.jobs")

Result = TypeVar("Result")

# A lease renewed this many times per length: two renewals may fail (a busy database) before it ends.
RENEWALS_PER_LEASE = 3
MAXIMUM_KEYS_PER_QUERY = 500

metadata = MetaData()

job_leases = Table(
    "job_leases",
    metadata,
    # The job's record: "<job name>:<record id>", e.g. "run_billing:<run id>".
    Column("lease_key", String(200), primary_key=True),
    # Who holds it: host, process id and a random part per job execution.
    Column("owner", String(128), nullable=False),
    Column("expires_at", UtcDateTime, nullable=False),
    Column("acquired_at", UtcDateTime, nullable=False),
)


class LeaseHeldError(Exception):
    """Another live worker holds the job's lease: this one leaves the job to it."""


class LeaseLostError(Exception):
    """The lease ran out and another worker took the job: this one stops before its next chunk."""


def utc_now() -> datetime:
    return datetime.now(UTC)


def lease_key(job_name: str, record_id: object) -> str:
    """The lease key of a job's record (the same for every attempt of that record)."""
    return f"{job_name}:{record_id}"


def new_owner() -> str:
    """An owner id for one execution of a job: host and process (to find it) and a random part."""
    return f"{socket.gethostname()[:80]}:{os.getpid()}:{uuid4().hex[:12]}"


class JobLeases:
    """The ``job_leases`` table: acquire and renew by compare-and-set, release, read."""

    def __init__(self, engine: Engine, duration: timedelta, clock: Callable[[], datetime] = utc_now) -> None:
        assert duration > timedelta(0), "a lease lasts a while"
        self.engine = engine
        self.duration = duration
        self.clock = clock

    def acquire(self, key: str, owner: str) -> bool:
        """Take the lease if it is free, expired or ours already; False if another holds it."""
        now = self.clock()
        values = {"owner": owner, "expires_at": now + self.duration, "acquired_at": now}
        with self.engine.begin() as connection:
            taken = connection.execute(
                update(job_leases)
                .where(
                    job_leases.c.lease_key == key,
                    or_(job_leases.c.owner == owner, job_leases.c.expires_at < now),
                )
                .values(**values)
            ).rowcount
        if taken:
            return True
        try:
            with self.engine.begin() as connection:
                connection.execute(insert(job_leases).values(lease_key=key, **values))
        except IntegrityError:
            return False  # held by another (or taken by another at this very moment)
        return True

    def renew(self, key: str, owner: str) -> bool:
        """Extend our lease; False if another worker holds it now (ours ran out and was taken)."""
        with self.engine.begin() as connection:
            renewed = connection.execute(
                update(job_leases)
                .where(job_leases.c.lease_key == key, job_leases.c.owner == owner)
                .values(expires_at=self.clock() + self.duration)
            ).rowcount
        return bool(renewed)

    def release(self, key: str, owner: str) -> None:
        """Give the lease up (the job ended); nothing if another holds it."""
        with self.engine.begin() as connection:
            connection.execute(delete(job_leases).where(job_leases.c.lease_key == key, job_leases.c.owner == owner))

    def expiries(self, keys: Iterable[str]) -> dict[str, datetime]:
        """When the leases of these keys run out (keys without a lease are left out)."""
        wanted = list(keys)
        found: dict[str, datetime] = {}
        with self.engine.connect() as connection:
            for start in range(0, len(wanted), MAXIMUM_KEYS_PER_QUERY):
                statement = select(job_leases.c.lease_key, job_leases.c.expires_at).where(
                    job_leases.c.lease_key.in_(wanted[start : start + MAXIMUM_KEYS_PER_QUERY])
                )
                found.update({row.lease_key: row.expires_at for row in connection.execute(statement)})
        return found

    def hold(self, key: str) -> HeldLease:
        """Acquire the lease for a new execution (a context manager that renews and releases it);
        LeaseHeldError if another live worker holds it."""
        owner = new_owner()
        if not self.acquire(key, owner):
            raise LeaseHeldError(f"the job {key} is leased by another worker")
        return HeldLease(self, key, owner)


class HeldLease:
    """A lease this process holds: a heartbeat thread renews it until the job ends."""

    def __init__(self, leases: JobLeases, key: str, owner: str) -> None:
        self.leases = leases
        self.key = key
        self.owner = owner
        self._stop = threading.Event()
        self._lost = threading.Event()
        self._thread = threading.Thread(target=self._beat, name=f"lease {key}", daemon=True)

    def __enter__(self) -> HeldLease:
        self._thread.start()
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        self._stop.set()
        self._thread.join(timeout=self.leases.duration.total_seconds())
        try:
            self.leases.release(self.key, self.owner)
        except Exception:  # the lease runs out by itself
            logger.warning("the lease %s could not be released; it runs out by itself", self.key, exc_info=True)

    def checkpoint(self) -> None:
        """Renew the lease now, before a chunk begins; LeaseLostError if another worker took it."""
        if self._lost.is_set() or not self.leases.renew(self.key, self.owner):
            self._lost.set()
            raise LeaseLostError(f"the lease of {self.key} was taken by another worker")

    def _beat(self) -> None:
        interval = self.leases.duration.total_seconds() / RENEWALS_PER_LEASE
        while not self._stop.wait(interval):
            try:
                if not self.leases.renew(self.key, self.owner):
                    logger.warning("the lease %s was taken by another worker; this one stops", self.key)
                    self._lost.set()
                    return
            except Exception:
                # The database is unreachable: the chunk under way cannot be saved either; try again.
                logger.warning("the lease %s could not be renewed", self.key, exc_info=True)


def leases_of(engine: Engine, lease_seconds: float) -> JobLeases:
    """The leases over a database, of the configured length (``job_lease_seconds``)."""
    return JobLeases(engine, timedelta(seconds=lease_seconds))


def leased(leases: JobLeases, key: str, work: Callable[[HeldLease], Result]) -> Result | None:
    """Do a job's work under its lease; None when another worker holds it, or took it over
    meanwhile (the work stopped before its next chunk and the other worker continues)."""
    try:
        with leases.hold(key) as lease:
            return work(lease)
    except LeaseHeldError:
        logger.info("the job %s is under way on another worker; this execution leaves it", key)
    except LeaseLostError:
        logger.warning("the job %s was taken over by another worker; this execution stopped", key)
    return None
