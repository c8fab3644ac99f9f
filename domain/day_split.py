"""Splitting the energy of an interval between readings across the calendar days it covers.

Days are business days in the utility's time zone (Asia/Shanghai). The energy is shared in
proportion to the time the interval spends in each day, by the largest-remainder rule, so the
days always sum exactly to the register difference.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from functools import lru_cache
from zoneinfo import ZoneInfo

from domain.apportion import apportion, quantum_of

BUSINESS_TIME_ZONE = ZoneInfo("Asia/Shanghai")

# Days are shared in kJ and ml at the finest, or finer if the registers are finer: fine enough
# that a day never shows a misleading 0, and every share is a whole multiple of the quantum.
ENERGY_QUANTUM_GJ = Decimal("0.000001")
VOLUME_QUANTUM_M3 = Decimal("0.000001")
# A bound on the days one interval may cover, so a bad timestamp cannot make a huge loop.
MAXIMUM_INTERVAL_DAYS = 3660
# Business days whose next midnight is remembered (ten years of days, a few hundred kB).
MIDNIGHTS_REMEMBERED = 3660


@dataclass(frozen=True)
class DayShare:
    """The part of an interval's energy and volume that fell on one business day."""

    day: date
    energy_gj: Decimal
    volume_m3: Decimal


def business_day(moment: datetime) -> date:
    """The business date (Asia/Shanghai) of an aware datetime."""
    return moment.astimezone(BUSINESS_TIME_ZONE).date()


def _day_boundaries(start: datetime, end: datetime) -> list[tuple[date, timedelta]]:
    """The business days that ``[start, end)`` touches and how long it spends in each."""
    local_start = start.astimezone(BUSINESS_TIME_ZONE)
    local_end = end.astimezone(BUSINESS_TIME_ZONE)
    pieces: list[tuple[date, timedelta]] = []
    cursor = local_start
    for _ in range(MAXIMUM_INTERVAL_DAYS + 1):
        if cursor >= local_end:
            break
        next_midnight = _next_midnight(cursor)
        piece_end = min(next_midnight, local_end)
        pieces.append((cursor.date(), piece_end - cursor))
        cursor = piece_end
    else:
        raise ValueError(f"interval from {start} to {end} spans more than {MAXIMUM_INTERVAL_DAYS} days")
    return pieces


def split_across_days(
    start: datetime, end: datetime, energy_gj: Decimal, volume_m3: Decimal = Decimal(0)
) -> list[DayShare]:
    """Share an interval's energy and volume across its business days in proportion to time."""
    if end <= start:
        raise ValueError("an interval must end after it starts")
    day = start.astimezone(BUSINESS_TIME_ZONE).date()
    if end <= _utc_midnight_after(day):
        # Inside one business day (an hourly or daily reading's interval, mostly): the one day
        # takes it all, which is what sharing by one weight gives (in value: the same quantity).
        return [DayShare(day, energy_gj, volume_m3)]
    return _split_by_time(start, end, energy_gj, volume_m3)


def _next_midnight(local: datetime) -> datetime:
    """The business day's midnight after ``local`` (a datetime in the business time zone)."""
    return _midnight_after(local.date())


@lru_cache(maxsize=MIDNIGHTS_REMEMBERED)
def _midnight_after(day: date) -> datetime:
    # Remembered: a season of hourly readings asks for the same 182 midnights 4,368 times (a
    # third of what splitting an hourly interval costs).
    return datetime.combine(day + timedelta(days=1), time(0), BUSINESS_TIME_ZONE)


@lru_cache(maxsize=MIDNIGHTS_REMEMBERED)
def _utc_midnight_after(day: date) -> datetime:
    # The same moment in UTC: the ledger's times are UTC, and comparing two times in the same
    # zone is a plain comparison (across zones, each side's offset is looked up first).
    return _midnight_after(day).astimezone(UTC)


def _split_by_time(start: datetime, end: datetime, energy_gj: Decimal, volume_m3: Decimal) -> list[DayShare]:
    """The general case: each day's share in proportion to the time spent in it."""
    pieces = _day_boundaries(start, end)
    weights = [Decimal(piece.total_seconds()) for _, piece in pieces]
    energies = apportion(energy_gj, weights, min(quantum_of(energy_gj), ENERGY_QUANTUM_GJ))
    volumes = apportion(volume_m3, weights, min(quantum_of(volume_m3), VOLUME_QUANTUM_M3))
    return [
        DayShare(day=day, energy_gj=energy, volume_m3=volume)
        for (day, _), energy, volume in zip(pieces, energies, volumes, strict=True)
    ]
