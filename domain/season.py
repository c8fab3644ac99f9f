"""Heating seasons: the days a city (or one community) heats, set by the local government's decree.

Ningxia heats from 1 November to 31 March (151 days, 152 in a leap year): the default for a season
no decree was recorded for. Xuchang heats 120 days, many northern cities 15 November – 15 March,
Harbin 20 October – 20 April; a cold spell extends a season by decree. The records live in the
``HeatingSeason`` aggregate; ``Season`` is the value a bill is computed with.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date


@dataclass(frozen=True)
class Season:
    """A heating season: its first and last heated day (both inclusive) and the decree that set
    them (empty for the default season, which no decree was recorded for)."""

    first_day: date
    last_day: date
    decree_number: str = ""

    @property
    def code(self) -> str:
        """``2025-2026`` for the season starting in November 2025."""
        return f"{self.first_day.year}-{self.last_day.year}"

    @property
    def days(self) -> int:
        return (self.last_day - self.first_day).days + 1

    def contains(self, day: date) -> bool:
        return self.first_day <= day <= self.last_day

    @classmethod
    def default_starting(cls, year: int) -> Season:
        """The default season: 1 November of ``year`` to 31 March of the next year."""
        return cls(date(year, 11, 1), date(year + 1, 3, 31))

    @classmethod
    def from_code(cls, code: str) -> Season:
        """Parse ``2025-2026`` into the default season starting in 2025 (the days in force come
        from the season's records: ``HeatingSeason``)."""
        return cls.default_starting(season_start_year(code))


def season_start_year(code: str) -> int:
    """The first year of a season code ``2025-2026``, or ValueError."""
    first, _, second = code.partition("-")
    if not (len(first) == 4 and first.isdigit() and second.isdigit() and int(second) == int(first) + 1):
        raise ValueError(f"a season code looks like 2025-2026, not {code!r}")
    return int(first)


def current_or_last_season(today: date) -> Season:
    """The season ``today`` falls in; out of season, the season that ended last."""
    start_year = today.year if today.month >= 11 else today.year - 1
    return Season.default_starting(start_year)
