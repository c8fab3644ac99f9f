"""Heating seasons: each scope's days as decreed, and the season in force in a community.

A community's own record wins over the city's (``*``); with neither, the season is the default
1 November – 31 March (domain.md §1), which bills say carries no decree.
"""

from __future__ import annotations

from datetime import date
from uuid import UUID, uuid4

from application.authorization import Permission, Principal
from application.ledger import HeatLedger, require_reason
from domain import ids
from domain.errors import ConflictError, NotFoundError
from domain.heating_season import HeatingSeason
from domain.season import Season
from domain.tariff import CITY_SCOPE
from domain.values import CommandContext


class Seasons:
    """Season records, with the caller's permission checked first."""

    def __init__(self, ledger: HeatLedger) -> None:
        self.ledger = ledger

    def declare(
        self,
        principal: Principal,
        scope: str,
        season_code: str,
        first_day: date,
        last_day: date,
        decree_number: str,
        reason: str,
        correlation_id: UUID | None = None,
    ) -> HeatingSeason:
        """Declare a scope's season by decree; a second declaration of it is a ConflictError."""
        principal.require(Permission.MANAGE_TARIFFS)
        require_reason(reason)
        context = CommandContext(principal.name, reason.strip(), correlation_id or uuid4())
        record = HeatingSeason.declare(scope, season_code, first_day, last_day, decree_number, context)
        with self.ledger.locks.writing([record.id]):  # beside other commands, alone on this record
            if self.ledger.load_or_none(HeatingSeason, record.id) is not None:
                raise ConflictError(
                    f"season {season_code} is declared for {scope} already: extend it by decree",
                    message_key="season_already_declared",
                    scope=scope,
                    season=season_code,
                )
            self.ledger.save(record)
        return record

    def extend(
        self,
        principal: Principal,
        scope: str,
        season_code: str,
        first_day: date,
        last_day: date,
        decree_number: str,
        reason: str,
        correlation_id: UUID | None = None,
    ) -> HeatingSeason:
        """Extend a declared season by decree (never shorten it)."""
        principal.require(Permission.MANAGE_TARIFFS)
        require_reason(reason)
        context = CommandContext(principal.name, reason.strip(), correlation_id or uuid4())
        record_id = ids.heating_season_id(scope, season_code)
        with self.ledger.locks.writing([record_id]):  # beside other commands, on a copy
            record = self.ledger.copy_or_none(HeatingSeason, record_id)
            if record is None:
                raise _not_declared(scope, season_code)
            record.extend(first_day, last_day, decree_number, context)
            self.ledger.save(record)
        return record

    def record(self, scope: str, season_code: str) -> HeatingSeason:
        """A scope's record of a season (the cached one: commands change copies), or NotFoundError."""
        found = self._cached(scope, season_code)
        if found is None:
            raise _not_declared(scope, season_code)
        return found

    def _cached(self, scope: str, season_code: str) -> HeatingSeason | None:
        record_id = ids.heating_season_id(scope, season_code)
        with self.ledger.locks.writing([record_id]):
            return self.ledger.load_or_none(HeatingSeason, record_id)

    def records(self, season_code: str, scopes: list[str]) -> list[HeatingSeason]:
        """The records of a season among ``scopes`` (the city first), those declared only."""
        found = []
        for scope in dict.fromkeys((CITY_SCOPE, *scopes)):
            record = self._cached(scope, season_code)
            if record is not None:
                found.append(record)
        return found

    def season_in_force(self, season_code: str, community: str) -> Season:
        """The days ``community`` heats in the season: its own record, else the city's, else the
        default 1 November – 31 March (with no decree)."""
        return self.in_force_with_source(season_code, community)[0]

    def in_force_with_source(self, season_code: str, community: str) -> tuple[Season, str]:
        """The season in force and where it comes from: ``community``, ``city`` or ``default``."""
        for scope, source in ((community, "community"), (CITY_SCOPE, "city")):
            found = self._cached(scope, season_code)
            if found is not None:
                return found.season, source
        return Season.from_code(season_code), "default"


def _not_declared(scope: str, season_code: str) -> NotFoundError:
    return NotFoundError(f"no season {season_code} declared for {scope}", kind="season", key=f"{scope} {season_code}")
