"""The demo community, generated as plain data: no clock, no I/O, the same seed gives the same community."""

from __future__ import annotations

from datetime import date, datetime, timedelta

from application.ingestion import ReadingItem
from domain.day_split import BUSINESS_TIME_ZONE
from domain.season import Season, current_or_last_season
from infrastructure.demo.layout import COMMUNITY_CODE, COMMUNITY_NAME, layout_building
from infrastructure.demo.model import DemoBuilding, DemoCommunity, DemoUpload
from infrastructure.demo.readings import MeterSeries, building_series, flat_series, reading_instants
from infrastructure.demo.weather import daily_mean_temperatures_c

DEFAULT_SEED = 2024
DEFAULT_BUILDINGS = 3
# Serial numbers give the building two digits.
MAXIMUM_BUILDINGS = 99


def business_today() -> date:
    """Today in Asia/Shanghai, where the seasons and days of the ledger are kept."""
    return datetime.now(BUSINESS_TIME_ZONE).date()


def demo_period(today: date) -> tuple[Season, int]:
    """The season to show and how many of its days have ended: inside a season, 1 November to
    yesterday; outside, the whole season that ended last."""
    season = current_or_last_season(today)
    if season.contains(today):
        return season, (today - season.first_day).days
    return season, season.days


def generate_community(
    *, today: date, buildings: int = DEFAULT_BUILDINGS, days: int | None = None, seed: int = DEFAULT_SEED
) -> DemoCommunity:
    """The 碧桂园 demo community as of ``today``: ``buildings`` six-floor blocks with their meters,
    and daily readings for the season so far (at most ``days`` days of it when given)."""
    if not 1 <= buildings <= MAXIMUM_BUILDINGS:
        raise ValueError(f"the demo has 1 to {MAXIMUM_BUILDINGS} buildings, not {buildings}")
    if days is not None and days < 0:
        raise ValueError("the number of days cannot be negative")
    season, available_days = demo_period(today)
    used_days = available_days if days is None else min(days, available_days)
    outdoor_c = daily_mean_temperatures_c(season, seed)
    instants = reading_instants(season, used_days)
    laid_out = tuple(layout_building(seed, season, number) for number in range(1, buildings + 1))
    series = {}
    for building in laid_out:
        flats = [flat_series(flat, outdoor_c, instants, seed) for flat in building.flats]
        series[building.name] = (*flats, building_series(building, flats, outdoor_c, instants, seed))
    uploads = _uploads(season, used_days, laid_out, series)
    return DemoCommunity(COMMUNITY_NAME, COMMUNITY_CODE, season, used_days, laid_out, uploads)


def _uploads(
    season: Season, days: int, buildings: tuple[DemoBuilding, ...], series: dict[str, tuple[MeterSeries, ...]]
) -> tuple[DemoUpload, ...]:
    """One upload per building per day, closing that day; the first also carries the opening readings."""
    uploads = []
    for day in range(max(days, 1)):
        # Reading 0 opens the season; reading n closes day n − 1. With no day ended yet, only the opening.
        indices = [index for index in ((0, 1) if day == 0 else (day + 1,)) if index <= days]
        for building in buildings:
            serials = [flat.meter.serial for flat in building.flats] + [building.meter.serial]
            meters = list(zip(serials, series[building.name], strict=True))
            items = tuple(ReadingItem(serial, meter.readings[index]) for index in indices for serial, meter in meters)
            uploads.append(DemoUpload(building.name, season.first_day + timedelta(days=day), items))
    return tuple(uploads)
