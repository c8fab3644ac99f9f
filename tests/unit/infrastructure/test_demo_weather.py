"""The demo's Ningxia winter: its climate normal and its seeded day-to-day weather."""

from __future__ import annotations

from collections import defaultdict
from datetime import date, timedelta
from itertools import pairwise

import pytest

from domain.season import Season
from infrastructure.demo.weather import climate_normal_c, daily_mean_temperatures_c

SEASON = Season.default_starting(2024)


def monthly_means(temperatures: list[float]) -> dict[int, float]:
    by_month: dict[int, list[float]] = defaultdict(list)
    for offset, temperature in enumerate(temperatures):
        by_month[(SEASON.first_day + timedelta(days=offset)).month].append(temperature)
    return {month: sum(values) / len(values) for month, values in by_month.items()}


def test_the_normal_passes_through_the_three_anchors() -> None:
    assert climate_normal_c(SEASON, date(2024, 11, 1)) == pytest.approx(5.0)
    assert climate_normal_c(SEASON, date(2025, 1, 15)) == pytest.approx(-9.0)
    assert climate_normal_c(SEASON, date(2025, 3, 31)) == pytest.approx(3.0)


def test_the_normal_falls_to_mid_january_and_rises_after() -> None:
    days = [SEASON.first_day + timedelta(days=offset) for offset in range(SEASON.days)]
    normals = [climate_normal_c(SEASON, day) for day in days]
    coldest = normals.index(min(normals))
    assert days[coldest] == date(2025, 1, 15)
    assert all(later <= earlier for earlier, later in pairwise(normals[: coldest + 1]))
    assert all(later >= earlier for earlier, later in pairwise(normals[coldest:]))


def test_the_normal_is_only_defined_inside_the_season() -> None:
    with pytest.raises(ValueError, match="outside the season"):
        climate_normal_c(SEASON, date(2025, 4, 1))


@pytest.mark.parametrize("seed", [0, 1, 2, 7, 2024])
def test_january_is_the_coldest_month_whatever_the_weather(seed: int) -> None:
    means = monthly_means(daily_mean_temperatures_c(SEASON, seed))
    assert min(means, key=means.__getitem__) == 1
    assert -12 < means[1] < -6
    assert means[11] > means[12] > means[1] < means[2] < means[3]


def test_the_weather_is_a_function_of_the_seed() -> None:
    first = daily_mean_temperatures_c(SEASON, 2024)
    assert first == daily_mean_temperatures_c(SEASON, 2024)
    assert first != daily_mean_temperatures_c(SEASON, 2025)
    assert len(first) == SEASON.days


def test_days_vary_around_the_normal_within_a_winter_s_range() -> None:
    temperatures = daily_mean_temperatures_c(SEASON, 2024)
    normals = [climate_normal_c(SEASON, SEASON.first_day + timedelta(days=offset)) for offset in range(SEASON.days)]
    anomalies = [temperature - normal for temperature, normal in zip(temperatures, normals, strict=True)]
    assert max(abs(anomaly) for anomaly in anomalies) > 2  # there is weather
    assert all(-25 <= temperature <= 18 for temperature in temperatures)
    assert -5 < sum(temperatures) / len(temperatures) < 0  # Yinchuan's heating-season mean is about −3 °C
