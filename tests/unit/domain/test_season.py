"""Heating seasons: Ningxia heats from 1 November to 31 March (domain.md §1)."""

from datetime import date

import pytest

from domain.season import Season, current_or_last_season


def test_the_default_season_runs_from_1_november_to_31_march() -> None:
    season = Season.default_starting(2025)
    assert (season.first_day, season.last_day) == (date(2025, 11, 1), date(2026, 3, 31))


def test_a_season_is_coded_by_its_two_years() -> None:
    assert Season.default_starting(2025).code == "2025-2026"


def test_the_default_season_has_151_days() -> None:
    # November 30 + December 31 + January 31 + February 28 + March 31 = 151.
    assert Season.default_starting(2025).days == 151


def test_a_season_with_a_leap_february_has_152_days() -> None:
    # 2028 is a leap year: February has 29 days.
    assert Season.default_starting(2027).days == 152


def test_a_season_contains_its_first_and_last_day_and_nothing_outside() -> None:
    season = Season.default_starting(2025)
    assert season.contains(date(2025, 11, 1)) and season.contains(date(2026, 3, 31))
    assert not season.contains(date(2025, 10, 31)) and not season.contains(date(2026, 4, 1))


def test_a_code_parses_back_into_its_season() -> None:
    assert Season.from_code("2025-2026") == Season.default_starting(2025)


@pytest.mark.parametrize("code", ["2025-2027", "2025", "2025/2026", "abcd-abce", "", "2026-2025", "-2025-2026"])
def test_a_malformed_code_is_refused(code: str) -> None:
    with pytest.raises(ValueError, match="2025-2026"):
        Season.from_code(code)


@pytest.mark.parametrize(
    ("today", "code"),
    [
        (date(2025, 11, 1), "2025-2026"),  # the first day of the season
        (date(2025, 12, 31), "2025-2026"),  # year end inside the season
        (date(2026, 1, 1), "2025-2026"),  # the new year still belongs to the season begun in November
        (date(2026, 3, 31), "2025-2026"),  # the last day
        (date(2026, 4, 1), "2025-2026"),  # out of season: the season that ended last
        (date(2026, 10, 31), "2025-2026"),  # the day before the next season
        (date(2026, 11, 1), "2026-2027"),  # the next season begins
    ],
)
def test_the_current_or_last_season_turns_on_1_november(today: date, code: str) -> None:
    assert current_or_last_season(today).code == code
