"""The `known_at` parameter: read models as the ledger knew them at a moment, for the routes that
take it.

A route names the read models it answers from by a dependency (``HouseholdReads`` for a
household's bills and money, ``HouseholdConsumptionReads`` with its meters, ``BillReads``,
``CommunityReads``). Without `known_at` the dependency gives the live read models; with it, the
read models of a point-in-time view holding only the events recorded by then (see
``infrastructure.as_known``), closed once the response is written. The route's own query code is
the same either way. An answer as known says which moment and which position of the event log
it answers, in the headers ``X-Known-At`` and ``X-Known-Position``.

The dependencies are async generators: a live answer (no `known_at`, nearly every request) costs
no thread hand-over on entry and exit, as a plain generator's would (FastAPI runs those in its
threadpool); a view, which reads the event store, is opened and closed in the threadpool.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Annotated, Any
from uuid import UUID

from fastapi import Depends, Path, Query, Response
from fastapi.concurrency import contextmanager_in_threadpool
from pydantic import AfterValidator, AwareDatetime, BeforeValidator
from pydantic_core import PydanticCustomError

from api.dependencies import ContainerDependency
from api.problems import RequestRuleError, problem_responses
from api.routers.households import AccountNumberPath
from api.schemas.common import NAME_MAX_LENGTH
from infrastructure.as_known import KnownReads

KNOWN_AT_HEADER = "X-Known-At"
KNOWN_POSITION_HEADER = "X-Known-Position"


def _iso_moment(value: Any) -> Any:
    """ISO 8601 text only: pydantic alone would read "86400" as a Unix time."""
    if isinstance(value, datetime):
        return value
    if not isinstance(value, str):
        raise PydanticCustomError("datetime_type", "Input should be an ISO 8601 time such as 2026-02-15T00:00:00+08:00")
    try:
        return datetime.fromisoformat(value)
    except ValueError:
        raise PydanticCustomError(
            "datetime_parsing", "Input should be an ISO 8601 time such as 2026-02-15T00:00:00+08:00"
        ) from None


def _in_utc(moment: datetime) -> datetime:
    """The moment in UTC; one a zone carries beyond the calendar's ends (0001-01-01T00:00+08:00)
    is refused rather than failing later."""
    try:
        return moment.astimezone(UTC)
    except OverflowError:
        raise PydanticCustomError(
            "datetime_out_of_range", "Input should be a time between the years 1 and 9999 in UTC"
        ) from None


KnownAt = Annotated[AwareDatetime, BeforeValidator(_iso_moment), AfterValidator(_in_utc)]
KnownAtQuery = Annotated[
    KnownAt | None,
    Query(
        description="Answer as the ledger knew it at this moment (ISO 8601 with a zone): only the events "
        "recorded by then count. A moment ahead is now. Answers as known say the moment and the event "
        "log's position in `X-Known-At` and `X-Known-Position`.",
        examples=["2026-02-15T00:00:00+08:00"],
    ),
]
KnownCommunityQuery = Annotated[
    str | None, Query(max_length=NAME_MAX_LENGTH, description="One community; default: all (required with known_at)")
]
BillIdPath = Annotated[UUID, Path(description="The bill's id")]

# The headers of an answer as known, for the OpenAPI document (absent from live answers).
_KNOWN_HEADERS = {
    KNOWN_AT_HEADER: {
        "description": "With `known_at`: the moment answered (UTC; now when `known_at` lies ahead)",
        "schema": {"type": "string", "format": "date-time"},
    },
    KNOWN_POSITION_HEADER: {
        "description": "With `known_at`: the last position of the event log the answer rests on (0: none)",
        "schema": {"type": "string", "pattern": "^[0-9]+$"},
    },
}


def known_responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """The OpenAPI responses of a route that takes `known_at`: its problems, and the headers of
    its answer."""
    return {200: {"headers": _KNOWN_HEADERS}, **problem_responses(*statuses)}


def say_known(response: Response, reads: KnownReads) -> None:
    """Mark an answer as known with its moment and position."""
    if reads.known_at is not None:
        response.headers[KNOWN_AT_HEADER] = reads.known_at.astimezone(UTC).isoformat()
        response.headers[KNOWN_POSITION_HEADER] = str(reads.position or 0)


async def household_reads(
    account_number: AccountNumberPath, container: ContainerDependency, response: Response, known_at: KnownAtQuery = None
) -> AsyncIterator[KnownReads]:
    """The read models a household's bills and money are read from: live, or as known at
    `known_at` (without its meters' readings, which they do not rest on)."""
    if known_at is None:
        yield container.as_known.live()
        return
    view = container.as_known.household(account_number, known_at, meters=False)
    async with contextmanager_in_threadpool(view) as reads:
        say_known(response, reads)
        yield reads


async def household_consumption_reads(
    account_number: AccountNumberPath, container: ContainerDependency, response: Response, known_at: KnownAtQuery = None
) -> AsyncIterator[KnownReads]:
    """The read models a household's consumption is read from: live, or as known at `known_at`
    (with its meters)."""
    if known_at is None:
        yield container.as_known.live()
        return
    view = container.as_known.household(account_number, known_at, meters=True)
    async with contextmanager_in_threadpool(view) as reads:
        say_known(response, reads)
        yield reads


async def bill_reads(
    bill_id: BillIdPath, container: ContainerDependency, response: Response, known_at: KnownAtQuery = None
) -> AsyncIterator[KnownReads]:
    """The read models a bill is read from: live, or as known at `known_at` (of its household)."""
    if known_at is None:
        yield container.as_known.live()
        return
    async with contextmanager_in_threadpool(container.as_known.bill(bill_id, known_at)) as reads:
        say_known(response, reads)
        yield reads


async def community_reads(
    container: ContainerDependency,
    response: Response,
    community: KnownCommunityQuery = None,
    known_at: KnownAtQuery = None,
) -> AsyncIterator[KnownReads]:
    """The read models a report over households comes from: live, or as known at `known_at` of
    one community (a 422 problem without `community`: a view folds the households it names)."""
    if known_at is None:
        yield container.as_known.live()
        return
    if community is None:
        raise RequestRuleError(
            "known_at_needs_community",
            "known_at needs a community: the answer is folded from its households' events",
            field="community",
        )
    async with contextmanager_in_threadpool(container.as_known.community(community, known_at)) as reads:
        say_known(response, reads)
        yield reads


HouseholdReads = Annotated[KnownReads, Depends(household_reads)]
HouseholdConsumptionReads = Annotated[KnownReads, Depends(household_consumption_reads)]
BillReads = Annotated[KnownReads, Depends(bill_reads)]
CommunityReads = Annotated[KnownReads, Depends(community_reads)]
