"""Analytics settings (issue 15): each season's baseline and the substations' configurations.

Administrators set a season's company average, purchase prices and loss threshold (the price
bureau's and the board's figures, like tariffs); clerks who manage meters record what each
substation feeds (network master data). Every record carries who and why; nothing is edited.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from uuid import UUID, uuid4

from application.authorization import Permission, Principal
from application.ledger import HeatLedger, require_reason
from domain import ids
from domain.analytics_baseline import AnalyticsBaseline, BaselineSetting
from domain.errors import ConflictError, NotFoundError
from domain.substation import Feed, Substation
from domain.values import CommandContext


class AnalyticsSettings:
    """Season baselines and substations, with the caller's permission checked first."""

    def __init__(self, ledger: HeatLedger) -> None:
        self.ledger = ledger

    @staticmethod
    def _context(principal: Principal, reason: str, correlation_id: UUID | None) -> CommandContext:
        require_reason(reason)
        return CommandContext(principal.name, reason.strip(), correlation_id or uuid4())

    def record_setting(
        self,
        principal: Principal,
        season_code: str,
        setting: BaselineSetting,
        value: Decimal,
        effective_on: date,
        reason: str,
        heat_source: str = "",
        correlation_id: UUID | None = None,
    ) -> AnalyticsBaseline:
        """Record a season's setting (the season's baseline is opened by its first setting)."""
        principal.require(Permission.MANAGE_TARIFFS)
        context = self._context(principal, reason, correlation_id)
        baseline_id = ids.analytics_baseline_id(season_code)
        with self.ledger.locks.writing([baseline_id]):  # beside other commands, on a copy
            baseline = self.ledger.copy_or_none(AnalyticsBaseline, baseline_id) or AnalyticsBaseline.open(season_code)
            baseline.record(setting, value, effective_on, context, heat_source)
            self.ledger.save(baseline)
        return baseline

    def baseline_or_none(self, season_code: str) -> AnalyticsBaseline | None:
        """A season's baseline, None before its first setting."""
        baseline_id = ids.analytics_baseline_id(season_code)
        with self.ledger.locks.writing([baseline_id]):  # the cached one, for reading: commands change copies
            return self.ledger.load_or_none(AnalyticsBaseline, baseline_id)

    def baseline(self, season_code: str) -> AnalyticsBaseline:
        """A season's baseline, or NotFoundError."""
        found = self.baseline_or_none(season_code)
        if found is None:
            raise NotFoundError(f"no analytics settings for season {season_code}", kind="baseline", key=season_code)
        return found

    def register_substation(
        self,
        principal: Principal,
        name: str,
        effective_on: date,
        heat_source: str,
        meter_serial: str,
        feeds: list[Feed],
        reason: str,
        correlation_id: UUID | None = None,
    ) -> Substation:
        """A new substation; ConflictError when the name is taken."""
        principal.require(Permission.MANAGE_METERS)
        context = self._context(principal, reason, correlation_id)
        substation = Substation.register(name, effective_on, heat_source, meter_serial, feeds, context)
        with self.ledger.locks.writing([substation.id]):  # beside other commands
            if self.ledger.load_or_none(Substation, substation.id) is not None:
                raise ConflictError(
                    f"the substation {name} exists already: reconfigure it",
                    message_key="substation_exists",
                    substation=name,
                )
            self.ledger.save(substation)
        return substation

    def reconfigure_substation(
        self,
        principal: Principal,
        name: str,
        effective_on: date,
        heat_source: str,
        meter_serial: str,
        feeds: list[Feed],
        reason: str,
        correlation_id: UUID | None = None,
    ) -> Substation:
        """A substation's new configuration from ``effective_on``."""
        principal.require(Permission.MANAGE_METERS)
        context = self._context(principal, reason, correlation_id)
        substation_id = ids.substation_id(name)
        with self.ledger.locks.writing([substation_id]):  # beside other commands, on a copy
            substation = self.ledger.copy_or_none(Substation, substation_id)
            if substation is None:
                raise NotFoundError(f"no substation {name}", kind="substation", key=name)
            substation.reconfigure(effective_on, heat_source, meter_serial, feeds, context)
            self.ledger.save(substation)
        return substation

    def substation(self, name: str) -> Substation:
        """A substation by name, or NotFoundError."""
        with self.ledger.locks.writing([ids.substation_id(name)]):  # the cached one, for reading
            found = self.ledger.load_or_none(Substation, ids.substation_id(name))
        if found is None:
            raise NotFoundError(f"no substation {name}", kind="substation", key=name)
        return found


__all__ = ["AnalyticsSettings", "BaselineSetting", "Feed"]
