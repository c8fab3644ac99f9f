"""Dependencies the routers share: the container and what it holds, the caller's language, today.

Each comes with an ``Annotated`` alias, so an endpoint names what it needs by type:
``def get_household(ledger: Ledger, queries: Queries, language: PreferredLanguage)``.

They are ``async def`` although none awaits anything: FastAPI runs a plain ``def`` dependency in
its threadpool, a hand-over to a thread and back for each one on every request, and these only
look up an object or read the clock (no I/O), so they run on the event loop instead (issue 17;
bench/api_reads.py measures the server's CPU per request).
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated

from fastapi import Depends, Header, Request

from api.messages import Language, negotiate_language
from application.ledger import HeatLedger
from domain.day_split import business_day
from infrastructure.container import Container
from infrastructure.intake import ReadingIntake, quarantined_frames, rejected_readings
from infrastructure.uploads import UploadStore
from projections.monitoring_queries import IntakeLogTables, MonitoringQueries
from projections.queries import LedgerQueries


async def get_container(request: Request) -> Container:
    """The container the app was built with."""
    container: Container = request.app.state.container
    return container


ContainerDependency = Annotated[Container, Depends(get_container)]


async def get_ledger(container: ContainerDependency) -> HeatLedger:
    """The event-sourced application: every write goes through it."""
    return container.ledger


Ledger = Annotated[HeatLedger, Depends(get_ledger)]


async def get_queries(container: ContainerDependency) -> LedgerQueries:
    """Reads of the projection tables."""
    return LedgerQueries(container.engine)


Queries = Annotated[LedgerQueries, Depends(get_queries)]


async def get_intake(container: ContainerDependency) -> ReadingIntake:
    """The way readings come in from outside: the ledger plus the log of what it refused."""
    return container.intake


Intake = Annotated[ReadingIntake, Depends(get_intake)]


async def get_language(
    accept_language: Annotated[
        str | None,
        Header(description="`zh` (the default) or `en`: the language of messages", examples=["en"]),
    ] = None,
) -> Language:
    """The language messages are written in: Chinese unless the caller prefers English."""
    return negotiate_language(accept_language)


PreferredLanguage = Annotated[Language, Depends(get_language)]


async def get_business_today(ledger: Ledger) -> date:
    """Today in Asia/Shanghai by the ledger's clock: the business date seasons are counted in."""
    return business_day(ledger.clock())


BusinessToday = Annotated[date, Depends(get_business_today)]


async def get_ledger_now(ledger: Ledger) -> datetime:
    """Now by the ledger's clock (UTC): the moment monitoring lists are made as of."""
    return ledger.clock()


LedgerNow = Annotated[datetime, Depends(get_ledger_now)]


# A plain def (in the threadpool) because the web pages call it as a function too.
def get_monitoring(container: ContainerDependency) -> MonitoringQueries:
    """Reads for monitoring: the read models and the intake log of what did not get in."""
    return MonitoringQueries(container.engine, IntakeLogTables(rejected_readings, quarantined_frames))


Monitoring = Annotated[MonitoringQueries, Depends(get_monitoring)]


async def get_uploads(container: ContainerDependency) -> UploadStore:
    """The queued reading uploads: their status, progress, counts and rejected items."""
    return UploadStore(container.engine, container.ledger.clock)


Uploads = Annotated[UploadStore, Depends(get_uploads)]
