"""A Ningxia (Yinchuan/Wuzhong) heating-season weather: one mean outdoor temperature per day.

The climate normal is two half-cosines through three anchors: about +5 °C on 1 November, the
coldest mean of about −9 °C on 15 January, about +3 °C on 31 March; flat at each anchor, so the
curve falls steadily to mid January and rises steadily after. Day-to-day weather is an AR(1)
anomaly on top of it, drawn from a seeded generator, so one seed always gives the same winter.
"""

from __future__ import annotations

import math
import random
from datetime import date, timedelta

from domain.season import Season

SEASON_START_C = 5.0
COLDEST_C = -9.0
SEASON_END_C = 3.0
COLDEST_MONTH = 1
COLDEST_DAY_OF_MONTH = 15
# Day-to-day weather: an anomaly that keeps 70 % of yesterday's and adds fresh noise (σ 2.2 K),
# which gives a spread of about ±3 K around the normal, as in a continental winter.
ANOMALY_PERSISTENCE = 0.7
ANOMALY_INNOVATION_K = 2.2
# Daily means beyond these never happen in Yinchuan; they bound the noise.
LOWEST_DAILY_MEAN_C = -25.0
HIGHEST_DAILY_MEAN_C = 18.0


def coldest_day(season: Season) -> date:
    """15 January of the season."""
    return date(season.first_day.year + 1, COLDEST_MONTH, COLDEST_DAY_OF_MONTH)


def _half_cosine(fraction: float) -> float:
    """0 at ``fraction`` 0, 1 at 1, flat at both ends."""
    return (1 - math.cos(math.pi * fraction)) / 2


def climate_normal_c(season: Season, day: date) -> float:
    """The normal daily mean outdoor temperature of ``day`` (no weather noise)."""
    if not season.contains(day):
        raise ValueError(f"{day} lies outside the season {season.code}")
    coldest = coldest_day(season)
    if day <= coldest:
        fraction = (coldest - day).days / (coldest - season.first_day).days
        return COLDEST_C + (SEASON_START_C - COLDEST_C) * _half_cosine(fraction)
    fraction = (day - coldest).days / (season.last_day - coldest).days
    return COLDEST_C + (SEASON_END_C - COLDEST_C) * _half_cosine(fraction)


def daily_mean_temperatures_c(season: Season, seed: int) -> list[float]:
    """The outdoor daily mean of every day of the season, normal plus seeded weather, in °C.

    The whole season is drawn at once, so a day's value never depends on how many days are used.
    """
    generator = random.Random(f"weather:{seed}:{season.code}")
    anomaly = 0.0
    temperatures = []
    for offset in range(season.days):
        anomaly = ANOMALY_PERSISTENCE * anomaly + generator.gauss(0.0, ANOMALY_INNOVATION_K)
        normal = climate_normal_c(season, season.first_day + timedelta(days=offset))
        temperatures.append(min(max(normal + anomaly, LOWEST_DAILY_MEAN_C), HIGHEST_DAILY_MEAN_C))
    return temperatures
