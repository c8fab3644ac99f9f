"""Season records by decree: declared once per scope and code, extended by decree, never shortened."""

from __future__ import annotations

from datetime import date

import pytest

from domain.errors import ConflictError, InvalidInputError
from domain.heating_season import HeatingSeason
from domain.season import Season
from tests.strategies import context

HARBIN = ("哈政办发〔2025〕31号", date(2025, 10, 20), date(2026, 4, 20))


def declared(first_day: date = date(2025, 11, 15), last_day: date = date(2026, 3, 15)) -> HeatingSeason:
    return HeatingSeason.declare("*", "2025-2026", first_day, last_day, "某政办发〔2025〕12号", context())


def test_a_declared_season_is_in_force_with_its_decree() -> None:
    record = declared()
    assert record.season == Season(date(2025, 11, 15), date(2026, 3, 15), "某政办发〔2025〕12号")
    assert record.season.days == 121  # 16 + 31 + 31 + 28 + 15


def test_harbins_long_season_is_a_season_too() -> None:
    decree, first_day, last_day = HARBIN
    record = HeatingSeason.declare("*", "2025-2026", first_day, last_day, decree, context())
    assert record.season.days == 183


def test_an_extension_by_decree_lengthens_the_season_and_keeps_the_history() -> None:
    record = declared()
    record.extend(date(2025, 11, 15), date(2026, 3, 31), "某政办发〔2026〕2号", context())
    assert record.season == Season(date(2025, 11, 15), date(2026, 3, 31), "某政办发〔2026〕2号")
    assert [decree.kind for decree in record.decrees] == ["declared", "extended"]
    assert record.decrees[0].last_day == date(2026, 3, 15)


@pytest.mark.parametrize(
    ("first_day", "last_day", "key"),
    [
        (date(2025, 11, 20), date(2026, 3, 15), "season_shortened"),  # starts later
        (date(2025, 11, 15), date(2026, 3, 10), "season_shortened"),  # ends earlier
        (date(2025, 11, 15), date(2026, 3, 15), "season_extension_unchanged"),
    ],
)
def test_a_season_is_never_shortened(first_day: date, last_day: date, key: str) -> None:
    record = declared()
    with pytest.raises(ConflictError) as refused:
        record.extend(first_day, last_day, "某政办发〔2026〕2号", context())
    assert refused.value.message_key == key
    assert len(record.decrees) == 1


@pytest.mark.parametrize(
    ("code", "first_day", "last_day", "decree", "key"),
    [
        ("2025-2026", date(2026, 11, 1), date(2027, 3, 31), "D", "season_days_invalid"),  # other years
        ("2025-2026", date(2025, 11, 1), date(2025, 12, 31), "D", "season_days_invalid"),  # one year only
        ("2025-2026", date(2025, 3, 1), date(2026, 3, 31), "D", "season_days_invalid"),  # 396 days
        ("2026-2030", date(2026, 11, 1), date(2027, 3, 31), "D", "season_invalid"),
        ("2025-2026", date(2025, 11, 1), date(2026, 3, 31), "  ", "season_decree_required"),
    ],
)
def test_a_declaration_is_checked(code: str, first_day: date, last_day: date, decree: str, key: str) -> None:
    with pytest.raises(InvalidInputError) as refused:
        HeatingSeason.declare("*", code, first_day, last_day, decree, context())
    assert refused.value.message_key == key
