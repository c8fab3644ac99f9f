"""The HeatingSeason aggregate: the days one scope heats in one season, as the government decreed.

One record per scope (a community, or ``*`` for the city) and season code. It is declared once with
its first and last day and the decree's number; a cold spell's decree extends it (an earlier first
day, a later last day, or both). Shortening is refused: bills may already have been issued on the
declared days, and a decree that shortens a season is not something utilities report. Every decree
stays in the record's history; the days in force are the latest decree's.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any
from uuid import UUID

from eventsourcing.domain import Aggregate, event

from domain import ids
from domain.errors import ConflictError, InvalidInputError
from domain.season import Season, season_start_year
from domain.values import CommandContext

# The longest heating season seen is Harbin's 183 days (20 Oct – 20 Apr); with extensions by
# decree, a bound well above it still catches a mistyped year.
MAXIMUM_SEASON_DAYS = 250
MAXIMUM_DECREE_LENGTH = 100


@dataclass(frozen=True)
class Decree:
    """One decree of a season's days: declared or extended, with who recorded it and why."""

    kind: str  # "declared" or "extended"
    first_day: date
    last_day: date
    decree_number: str
    actor: str
    reason: str


def _context_fields(context: CommandContext) -> dict[str, Any]:
    return {"actor": context.actor, "reason": context.reason, "correlation_id": context.correlation_id}


class HeatingSeason(Aggregate):
    """The days a scope heats in one season, and every decree that set them."""

    class Declared(Aggregate.Created):
        scope: str
        season_code: str
        first_day: date
        last_day: date
        decree_number: str
        actor: str
        reason: str
        correlation_id: UUID

    class Extended(Aggregate.Event):
        first_day: date
        last_day: date
        decree_number: str
        actor: str
        reason: str
        correlation_id: UUID

    @staticmethod
    def create_id(scope: str, season_code: str) -> UUID:
        return ids.heating_season_id(scope, season_code)

    @event(Declared)
    def __init__(
        self,
        scope: str,
        season_code: str,
        first_day: date,
        last_day: date,
        decree_number: str,
        actor: str,
        reason: str,
        correlation_id: UUID,
    ) -> None:
        self.scope = scope
        self.season_code = season_code
        self.decrees = [Decree("declared", first_day, last_day, decree_number, actor, reason)]

    @classmethod
    def declare(
        cls, scope: str, season_code: str, first_day: date, last_day: date, decree_number: str, context: CommandContext
    ) -> HeatingSeason:
        """Declare a scope's season by decree (checked: the code's two years, at most 250 days)."""
        decree = _checked_decree(decree_number)
        _check_days(season_code, first_day, last_day)
        return cls(
            scope=scope,
            season_code=season_code,
            first_day=first_day,
            last_day=last_day,
            decree_number=decree,
            **_context_fields(context),
        )

    @property
    def season(self) -> Season:
        """The days in force: the latest decree's."""
        latest = self.decrees[-1]
        return Season(latest.first_day, latest.last_day, latest.decree_number)

    def extend(self, first_day: date, last_day: date, decree_number: str, context: CommandContext) -> None:
        """Extend the season by decree: start no later, end no earlier, at least one day more."""
        decree = _checked_decree(decree_number)
        _check_days(self.season_code, first_day, last_day)
        current = self.season
        if first_day > current.first_day or last_day < current.last_day:
            raise ConflictError(
                "a season is extended, never shortened: bills may stand on its declared days",
                message_key="season_shortened",
                season=self.season_code,
                first_day=current.first_day.isoformat(),
                last_day=current.last_day.isoformat(),
            )
        if (first_day, last_day) == (current.first_day, current.last_day):
            raise ConflictError(
                "the extension changes no day of the season",
                message_key="season_extension_unchanged",
                season=self.season_code,
            )
        self._extended(first_day, last_day, decree, **_context_fields(context))

    @event(Extended)
    def _extended(
        self, first_day: date, last_day: date, decree_number: str, actor: str, reason: str, correlation_id: UUID
    ) -> None:
        self.decrees.append(Decree("extended", first_day, last_day, decree_number, actor, reason))


def _checked_decree(decree_number: str) -> str:
    decree = decree_number.strip()
    if not decree or len(decree) > MAXIMUM_DECREE_LENGTH:
        raise InvalidInputError(
            f"the decree's number is required (at most {MAXIMUM_DECREE_LENGTH} characters)",
            message_key="season_decree_required",
            field="decree_number",
        )
    return decree


def _check_days(season_code: str, first_day: date, last_day: date) -> None:
    """The first day in the code's first year, the last in its second, at most 250 days."""
    try:
        start_year = season_start_year(season_code)
    except ValueError:
        raise InvalidInputError(
            f"a season code looks like 2025-2026, not {season_code}",
            message_key="season_invalid",
            field="season",
            value=season_code,
        ) from None
    days = (last_day - first_day).days + 1
    if first_day.year != start_year or last_day.year != start_year + 1 or not 0 < days <= MAXIMUM_SEASON_DAYS:
        raise InvalidInputError(
            f"season {season_code} runs from a day of {start_year} to a day of {start_year + 1}, "
            f"at most {MAXIMUM_SEASON_DAYS} days",
            message_key="season_days_invalid",
            field="last_day",
            season=season_code,
            first_day=first_day.isoformat(),
            last_day=last_day.isoformat(),
            limit=str(MAXIMUM_SEASON_DAYS),
        )
