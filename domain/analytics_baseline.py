"""The AnalyticsBaseline aggregate: the figures a season's analytics are measured against (issue 15).

One record per season code. Each setting is recorded with the day it takes effect, who set it and
why; a setting is never edited, a new value is a new record:

- ``average_unit_consumption_gj_per_m2``: the company's average heat per m² of connected area in
  the season (the source's 0.4 GJ/m²), what area-based supply is measured by;
- ``purchase_price_yuan_per_gj``: what the company pays its heat source per GJ, per heat source
  (``*``: every source without its own price);
- ``loss_threshold_percent``: the network heat loss above which a substation or building is flagged.

A season's average and threshold are those in force on its last day (a revision during the
season restates the whole season); prices are in force from their day (each day's heat is bought
at the price of that day: ``domain.analytics.price_periods``).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from enum import StrEnum
from uuid import UUID

from eventsourcing.domain import Aggregate, event

from domain import ids
from domain.errors import InvalidInputError
from domain.season import season_start_year
from domain.values import CommandContext, bounded_text

EVERY_SOURCE = "*"
MAXIMUM_SOURCE_LENGTH = 64
HUNDRED = Decimal(100)
# Far above any district-heating network (the source: 0.24–0.4 GJ/m², prices 20–60 元/GJ).
MAXIMUM_AVERAGE_GJ_PER_M2 = Decimal(10)
MAXIMUM_PRICE_YUAN_PER_GJ = Decimal(10000)


class BaselineSetting(StrEnum):
    """What a baseline record sets."""

    AVERAGE_UNIT_CONSUMPTION = "average_unit_consumption_gj_per_m2"
    PURCHASE_PRICE = "purchase_price_yuan_per_gj"
    LOSS_THRESHOLD = "loss_threshold_percent"


@dataclass(frozen=True)
class BaselineRecord:
    """One recorded setting: what, for which heat source, its value, from when, who and why."""

    setting: str
    heat_source: str
    value: Decimal
    effective_on: date
    actor: str
    reason: str


class AnalyticsBaseline(Aggregate):
    """A season's analytics settings and every record that set them."""

    class Opened(Aggregate.Created):
        season_code: str

    class SettingRecorded(Aggregate.Event):
        setting: str
        heat_source: str
        value: Decimal
        effective_on: date
        actor: str
        reason: str
        correlation_id: UUID

    @staticmethod
    def create_id(season_code: str) -> UUID:
        return ids.analytics_baseline_id(season_code)

    @event(Opened)
    def __init__(self, season_code: str) -> None:
        self.season_code = season_code
        self.records: list[BaselineRecord] = []

    @classmethod
    def open(cls, season_code: str) -> AnalyticsBaseline:
        """The (empty) baseline of a season; InvalidInputError for a code that is no season."""
        _start_year(season_code)
        return cls(season_code=season_code)

    def record(
        self,
        setting: BaselineSetting,
        value: Decimal,
        effective_on: date,
        context: CommandContext,
        heat_source: str = "",
    ) -> None:
        """Record a setting (checked: its range, a day of the season's two years, a heat source
        for a price only)."""
        setting = BaselineSetting(setting)
        _check_value(setting, value)
        _check_day(self.season_code, effective_on)
        source = _checked_source(setting, heat_source)
        self._recorded(
            setting.value, source, value, effective_on, context.actor, context.reason, context.correlation_id
        )

    @event(SettingRecorded)
    def _recorded(
        self,
        setting: str,
        heat_source: str,
        value: Decimal,
        effective_on: date,
        actor: str,
        reason: str,
        correlation_id: UUID,
    ) -> None:
        self.records.append(BaselineRecord(setting, heat_source, value, effective_on, actor, reason))

    def in_force(self, setting: BaselineSetting, day: date, heat_source: str = "") -> Decimal | None:
        """The value in force on ``day``: the latest effective on or before it (of two on one day
        the later recorded); before the first, the first. None when never set."""
        changes = self.changes(setting, heat_source)
        if not changes:
            return None
        chosen = changes[0][1]
        for effective_on, value in sorted(changes, key=lambda change: change[0]):
            if effective_on <= day:
                chosen = value
        return chosen

    def changes(self, setting: BaselineSetting, heat_source: str = "") -> list[tuple[date, Decimal]]:
        """(effective day, value) of a setting in the order recorded; a price of a source without
        its own falls back to every source's (``*``)."""
        setting = BaselineSetting(setting)
        if setting is BaselineSetting.PURCHASE_PRICE:
            own = self._changes(setting, heat_source or EVERY_SOURCE)
            return own or self._changes(setting, EVERY_SOURCE)
        return self._changes(setting, "")

    def _changes(self, setting: BaselineSetting, heat_source: str) -> list[tuple[date, Decimal]]:
        return [
            (record.effective_on, record.value)
            for record in self.records
            if record.setting == setting.value and record.heat_source == heat_source
        ]


def _start_year(season_code: str) -> int:
    try:
        return season_start_year(season_code)
    except ValueError:
        raise InvalidInputError(
            f"a season code looks like 2025-2026, not {season_code}",
            message_key="season_invalid",
            field="season",
            value=season_code,
        ) from None


def _check_day(season_code: str, effective_on: date) -> None:
    """A setting of season 2025-2026 takes effect between 1 July 2025 and 30 June 2026."""
    start_year = _start_year(season_code)
    if not date(start_year, 7, 1) <= effective_on <= date(start_year + 1, 6, 30):
        raise InvalidInputError(
            f"a setting of season {season_code} takes effect from 1 July {start_year} to 30 June {start_year + 1}",
            message_key="baseline_day_outside_season",
            field="effective_on",
            season=season_code,
        )


def _check_value(setting: BaselineSetting, value: Decimal) -> None:
    upper = {
        BaselineSetting.AVERAGE_UNIT_CONSUMPTION: MAXIMUM_AVERAGE_GJ_PER_M2,
        BaselineSetting.PURCHASE_PRICE: MAXIMUM_PRICE_YUAN_PER_GJ,
        BaselineSetting.LOSS_THRESHOLD: HUNDRED,
    }[setting]
    # An average of 0 would make every community "save" nothing against nothing: refused.
    lowest_ok = value > 0 if setting is BaselineSetting.AVERAGE_UNIT_CONSUMPTION else value >= 0
    if not value.is_finite() or not lowest_ok or value > upper:
        raise InvalidInputError(
            f"{setting.value} must lie in 0…{upper}",
            message_key="baseline_value_out_of_range",
            field="value",
            setting=setting.value,
            maximum=str(upper),
        )


def _checked_source(setting: BaselineSetting, heat_source: str) -> str:
    """A price names its heat source (``*`` for every source); other settings name none."""
    if setting is not BaselineSetting.PURCHASE_PRICE:
        if heat_source.strip():
            raise InvalidInputError(
                "only a purchase price is set per heat source",
                message_key="baseline_source_not_allowed",
                field="heat_source",
            )
        return ""
    return bounded_text(heat_source or EVERY_SOURCE, "heat_source", MAXIMUM_SOURCE_LENGTH)
