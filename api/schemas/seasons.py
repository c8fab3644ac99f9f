"""Heating seasons over HTTP: a scope's days as decreed, their extensions, the season in force."""

from __future__ import annotations

from datetime import date

from pydantic import BaseModel, ConfigDict, Field

from api.schemas.common import NAME_MAX_LENGTH, IsoDate, Reason, RequestModel
from domain.heating_season import MAXIMUM_DECREE_LENGTH, HeatingSeason
from domain.season import Season

SEASON_CODE_PATTERN = r"^\d{4}-\d{4}$"


class SeasonDays(RequestModel):
    """A season's days by decree (both days heated)."""

    first_day: IsoDate = Field(description="The first heated day")
    last_day: IsoDate = Field(description="The last heated day")
    decree_number: str = Field(
        min_length=1, max_length=MAXIMUM_DECREE_LENGTH, description="The government decree's number (文件号)"
    )
    reason: Reason


class SeasonDeclaration(SeasonDays):
    """The days a scope (a community, or `*` for the city) heats in a season, by decree."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "scope": "*",
                    "season": "2025-2026",
                    "first_day": "2025-11-15",
                    "last_day": "2026-03-15",
                    "decree_number": "宁政办发〔2025〕88号",
                    "reason": "the city's decree on the heating season",
                }
            ]
        },
    )

    scope: str = Field(min_length=1, max_length=NAME_MAX_LENGTH, description='A community\'s name, or "*"')
    season: str = Field(pattern=SEASON_CODE_PATTERN, description="The season code, e.g. 2025-2026")


class DecreeOutput(BaseModel):
    """One decree of a season: declared or extended, with who recorded it and why."""

    kind: str = Field(description="declared or extended")
    first_day: date
    last_day: date
    decree_number: str
    recorded_by: str
    reason: str


class SeasonOutput(BaseModel):
    """A scope's season: the days in force (the latest decree's) and every decree."""

    scope: str
    season: str
    first_day: date
    last_day: date
    days: int
    decree_number: str
    decrees: list[DecreeOutput]

    @classmethod
    def from_record(cls, record: HeatingSeason) -> SeasonOutput:
        season = record.season
        return cls(
            scope=record.scope,
            season=record.season_code,
            first_day=season.first_day,
            last_day=season.last_day,
            days=season.days,
            decree_number=season.decree_number,
            decrees=[
                DecreeOutput(
                    kind=decree.kind,
                    first_day=decree.first_day,
                    last_day=decree.last_day,
                    decree_number=decree.decree_number,
                    recorded_by=decree.actor,
                    reason=decree.reason,
                )
                for decree in record.decrees
            ],
        )


class SeasonList(BaseModel):
    """The records of a season: the city's and the communities' own."""

    items: list[SeasonOutput]


class SeasonInForceOutput(BaseModel):
    """The days a community heats in a season: its own record, the city's, or the default."""

    community: str
    season: str
    first_day: date
    last_day: date
    days: int
    decree_number: str = Field(description="Empty for the default season (1 Nov – 31 Mar), which no decree set")
    source: str = Field(description="community, city or default")

    @classmethod
    def of(cls, community: str, code: str, season: Season, source: str) -> SeasonInForceOutput:
        return cls(
            community=community,
            season=code,
            first_day=season.first_day,
            last_day=season.last_day,
            days=season.days,
            decree_number=season.decree_number,
            source=source,
        )
