"""Guardrails of valve commands (issue 14): what a command must pass before it is requested and
again before it is approved.

- No forced close in the cold: inside a configured cold-weather window of the season (month-days,
  e.g. 12-15/02-15, the coldest weeks), or when the latest recorded daily mean outdoor temperature
  is below the configured threshold.
- No forced close for a household marked vulnerable, nor while one of its disputes is open (the
  Household aggregate itself is read, never a lagging read model).
- A rate limit per device: at most so many commands requested in any hour (a runaway script or a
  double-clicking clerk must not make a valve hunt).

Who may request (``command_valves``) and the second person's approval are checked by
``application.valves`` and the RoomController itself.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Protocol

from application.ledger import HeatLedger
from domain.arrears import MonthDay
from domain.day_split import business_day
from domain.errors import ConflictError, InvalidInputError, RateLimitedError
from domain.valve import RoomController
from domain.valve_commands import CommandKind

RATE_WINDOW = timedelta(hours=1)
# The most commands per device and hour a setting may allow (the controller remembers as many).
MAXIMUM_COMMANDS_PER_HOUR = 100


@dataclass(frozen=True)
class DayWindow:
    """Month-days from ``start`` to ``end``, both included; a window may run over the new year
    (12-15/02-15)."""

    start: MonthDay
    end: MonthDay

    @classmethod
    def parse(cls, text: str) -> DayWindow:
        """``MM-DD/MM-DD`` into a window; InvalidInputError when either day is no day of a year."""
        start, separator, end = text.partition("/")
        if not separator:
            raise InvalidInputError(
                "a cold-weather window looks like 12-15/02-15",
                message_key="valve_cold_window_invalid",
                field="valve_cold_weather_windows",
                value=text,
            )
        return cls(
            MonthDay.parse(start, "valve_cold_weather_windows"), MonthDay.parse(end, "valve_cold_weather_windows")
        )

    def contains(self, day: date) -> bool:
        today = (day.month, day.day)
        first, last = (self.start.month, self.start.day), (self.end.month, self.end.day)
        if first <= last:
            return first <= today <= last
        return today >= first or today <= last

    def text(self) -> str:
        return f"{self.start.text()}/{self.end.text()}"


class OutdoorTemperatures(Protocol):
    """Daily mean outdoor temperatures (``infrastructure.weather.WeatherStore``)."""

    def latest_mean_temperature_c(self, on_or_before: date) -> Decimal | None:
        """The mean of the latest day recorded on or before ``on_or_before`` within two days."""
        ...


@dataclass(frozen=True)
class ColdWeatherPolicy:
    """When no forced close is sent: inside a window, or below a daily mean outdoor temperature."""

    windows: tuple[DayWindow, ...] = ()
    below_c: Decimal | None = None

    @classmethod
    def of(cls, windows: Sequence[str], below_c: Decimal | None) -> ColdWeatherPolicy:
        return cls(tuple(DayWindow.parse(window) for window in windows), below_c)


class ValveGuardrails:
    """The guardrails, over the ledger's households and the recorded outdoor temperatures."""

    def __init__(
        self,
        ledger: HeatLedger,
        cold_weather: ColdWeatherPolicy,
        outdoor: OutdoorTemperatures | None,
        commands_per_hour: int,
    ) -> None:
        assert 1 <= commands_per_hour <= MAXIMUM_COMMANDS_PER_HOUR, "a rate limit between 1 and 100 an hour"
        self.ledger = ledger
        self.cold_weather = cold_weather
        self.outdoor = outdoor
        self.commands_per_hour = commands_per_hour

    def check(self, controller: RoomController, kind: CommandKind, now: datetime, on_request: bool = True) -> None:
        """ConflictError naming the guardrail the command breaks (the rate limit on requests only)."""
        if on_request:
            self._rate_limit(controller, now)
        if kind is CommandKind.FORCE_CLOSE:
            self._household_protected(controller)
            self._cold(business_day(now))

    def _rate_limit(self, controller: RoomController, now: datetime) -> None:
        requested = controller.requests_since(now - RATE_WINDOW)
        if requested >= self.commands_per_hour:
            raise RateLimitedError(
                f"{controller.device_id} had {requested} commands in the last hour "
                f"(the limit is {self.commands_per_hour})",
                retry_after_seconds=self._seconds_until_room(controller, now),
                message_key="valve_rate_limited",
                device_id=controller.device_id,
                limit=str(self.commands_per_hour),
            )

    def _seconds_until_room(self, controller: RoomController, now: datetime) -> int:
        """Whole seconds (at least 1) until enough of the hour's requests have aged out of the
        window for one more to fit."""
        recent = sorted(moment for moment in controller.request_times if moment >= now - RATE_WINDOW)
        leaving = recent[len(recent) - self.commands_per_hour]  # the one whose ageing out makes room
        remaining = (leaving + RATE_WINDOW - now).total_seconds()
        return max(1, math.ceil(remaining))

    def _household_protected(self, controller: RoomController) -> None:
        household = self.ledger.household(controller.account_number)
        if household.vulnerable:
            raise ConflictError(
                "no forced close for a household marked vulnerable",
                message_key="valve_close_vulnerable",
                account_number=controller.account_number,
            )
        if household.open_disputes:
            raise ConflictError(
                "no forced close while a dispute of the household is open",
                message_key="valve_close_open_dispute",
                account_number=controller.account_number,
            )

    def _cold(self, today: date) -> None:
        window = next((window for window in self.cold_weather.windows if window.contains(today)), None)
        if window is not None:
            raise ConflictError(
                f"no forced close in the cold-weather window {window.text()}",
                message_key="valve_close_cold_window",
                window=window.text(),
            )
        threshold = self.cold_weather.below_c
        if threshold is None or self.outdoor is None:
            return
        outdoor_c = self.outdoor.latest_mean_temperature_c(today)
        if outdoor_c is not None and outdoor_c < threshold:
            raise ConflictError(
                f"no forced close while the outdoor temperature ({outdoor_c} °C) is below {threshold} °C",
                message_key="valve_close_cold_outdoor",
                outdoor_c=str(outdoor_c),
                threshold_c=str(threshold),
            )
