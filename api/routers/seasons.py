"""Heating seasons: the days each scope heats by decree, their extensions, the season in force."""

from __future__ import annotations

from typing import Annotated
from urllib.parse import quote
from uuid import uuid4

from fastapi import Path, Query, Response

from api.auth import Caller, Reader
from api.dependencies import ContainerDependency, Queries
from api.problems import problem_responses
from api.routers import resource_router
from api.routers.billing import SeasonPath, season_of
from api.routers.consumption import CommunityPath
from api.schemas.common import NAME_MAX_LENGTH
from api.schemas.seasons import SeasonDays, SeasonDeclaration, SeasonInForceOutput, SeasonList, SeasonOutput
from application.authorization import Permission

router = resource_router("/seasons", "seasons")

ScopePath = Annotated[str, Path(max_length=NAME_MAX_LENGTH, description='A community, or "*" for the whole city')]


def season_location(scope: str, code: str) -> str:
    """The URL path of a scope's season record."""
    return f"/seasons/{quote(scope, safe='')}/{code}"


@router.post(
    "",
    status_code=201,
    operation_id="declare_season",
    response_model=SeasonOutput,
    responses=problem_responses(401, 403, 409, 422),
)
def declare_season(
    declaration: SeasonDeclaration, caller: Caller, container: ContainerDependency, response: Response
) -> SeasonOutput:
    """Declare the days a scope heats in a season, by the government's decree (administrators).

    A community's own record wins over the city's (`*`); with neither, the season is the default
    1 Nov – 31 Mar. The first day lies in the code's first year and the last in its second, at
    most 250 days. A season is declared once (409 after): a decree that changes it is an extension.
    """
    caller.require(Permission.MANAGE_TARIFFS)
    season = season_of(declaration.season)
    record = container.seasons.declare(
        caller,
        declaration.scope,
        season.code,
        declaration.first_day,
        declaration.last_day,
        declaration.decree_number,
        declaration.reason,
        correlation_id=uuid4(),
    )
    response.headers["Location"] = season_location(record.scope, record.season_code)
    return SeasonOutput.from_record(record)


@router.post(
    "/{scope}/{season}/extension",
    operation_id="extend_season",
    response_model=SeasonOutput,
    responses=problem_responses(401, 403, 404, 409, 422),
)
def extend_season(
    scope: ScopePath, season: SeasonPath, extension: SeasonDays, caller: Caller, container: ContainerDependency
) -> SeasonOutput:
    """Extend a declared season by decree (a cold spell): start no later, end no earlier (409 for a
    shorter or unchanged season). Bills issued before stay; later statements and the settlement
    use the days in force."""
    caller.require(Permission.MANAGE_TARIFFS)
    record = container.seasons.extend(
        caller,
        scope,
        season_of(season, "path").code,
        extension.first_day,
        extension.last_day,
        extension.decree_number,
        extension.reason,
        correlation_id=uuid4(),
    )
    return SeasonOutput.from_record(record)


@router.get("", operation_id="list_seasons", response_model=SeasonList, responses=problem_responses(401, 403, 422))
def list_seasons(
    reader: Reader,
    container: ContainerDependency,
    queries: Queries,
    season: Annotated[str, Query(pattern=r"^\d{4}-\d{4}$", description="The season code", examples=["2025-2026"])],
) -> SeasonList:
    """The records of a season: the city's first, then the communities' own."""
    code = season_of(season, "query").code
    return SeasonList(
        items=[SeasonOutput.from_record(record) for record in container.seasons.records(code, queries.communities())]
    )


@router.get(
    "/{scope}/{season}",
    operation_id="get_season",
    response_model=SeasonOutput,
    responses=problem_responses(401, 403, 404, 422),
)
def get_season(scope: ScopePath, season: SeasonPath, reader: Reader, container: ContainerDependency) -> SeasonOutput:
    """A scope's record of a season, with every decree (404 when none was declared)."""
    return SeasonOutput.from_record(container.seasons.record(scope, season_of(season, "path").code))


@router.get(
    "/in-force/{community}/{season}",
    operation_id="get_season_in_force",
    response_model=SeasonInForceOutput,
    responses=problem_responses(401, 403, 422),
)
def get_season_in_force(
    community: CommunityPath, season: SeasonPath, reader: Reader, container: ContainerDependency
) -> SeasonInForceOutput:
    """The days a community heats in a season and where they come from: its own record
    (`community`), the city's (`city`) or the default 1 Nov – 31 Mar (`default`)."""
    code = season_of(season, "path").code
    found, source = container.seasons.in_force_with_source(code, community)
    return SeasonInForceOutput.of(community, code, found, source)
