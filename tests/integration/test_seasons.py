"""Season records on both backends: the season in force in a community (its own, the city's, the
default), declared once, extended by decree, and the same after a replay from the store."""

from __future__ import annotations

from datetime import date

import pytest

from application.authorization import SYSTEM, Principal, Role
from domain import ids
from domain.errors import ConflictError, NotFoundError, PermissionDeniedError
from domain.heating_season import HeatingSeason
from domain.season import Season
from infrastructure.container import Container

CITY_DECREE = "宁政办发〔2025〕88号"


def test_a_community_heats_on_its_own_decree_else_the_citys_else_the_default(container: Container) -> None:
    seasons = container.seasons
    assert seasons.season_in_force("2025-2026", "碧桂园") == Season.default_starting(2025)
    seasons.declare(SYSTEM, "*", "2025-2026", date(2025, 11, 15), date(2026, 3, 15), CITY_DECREE, "city decree")
    seasons.declare(
        SYSTEM, "碧桂园", "2025-2026", date(2025, 11, 1), date(2026, 3, 31), "碧政〔2025〕1号", "own decree"
    )
    assert seasons.season_in_force("2025-2026", "碧桂园") == Season(
        date(2025, 11, 1), date(2026, 3, 31), "碧政〔2025〕1号"
    )
    assert seasons.season_in_force("2025-2026", "阅水秦韵") == Season(
        date(2025, 11, 15), date(2026, 3, 15), CITY_DECREE
    )
    assert seasons.season_in_force("2026-2027", "阅水秦韵") == Season.default_starting(2026)  # not declared yet


def test_an_extension_is_in_force_and_replays_from_the_store(container: Container) -> None:
    seasons = container.seasons
    seasons.declare(SYSTEM, "*", "2025-2026", date(2025, 11, 15), date(2026, 3, 15), CITY_DECREE, "city decree")
    seasons.extend(SYSTEM, "*", "2025-2026", date(2025, 11, 15), date(2026, 3, 25), "宁政办发〔2026〕5号", "cold spell")
    record_id = ids.heating_season_id("*", "2025-2026")
    container.ledger.evict([seasons.record("*", "2025-2026")])  # read it back from the events
    replayed = container.ledger.repository.get(record_id)
    assert isinstance(replayed, HeatingSeason)
    assert replayed.season == Season(date(2025, 11, 15), date(2026, 3, 25), "宁政办发〔2026〕5号")
    assert [(decree.kind, decree.actor, decree.reason) for decree in replayed.decrees] == [
        ("declared", SYSTEM.name, "city decree"),
        ("extended", SYSTEM.name, "cold spell"),
    ]


def test_a_season_is_declared_once_and_only_by_who_sets_prices(container: Container) -> None:
    seasons = container.seasons
    clerk = Principal("clerk-wang", Role.CLERK)
    with pytest.raises(PermissionDeniedError):
        seasons.declare(clerk, "*", "2025-2026", date(2025, 11, 1), date(2026, 3, 31), CITY_DECREE, "decree")
    seasons.declare(SYSTEM, "*", "2025-2026", date(2025, 11, 1), date(2026, 3, 31), CITY_DECREE, "decree")
    with pytest.raises(ConflictError) as refused:
        seasons.declare(SYSTEM, "*", "2025-2026", date(2025, 11, 1), date(2026, 4, 10), CITY_DECREE, "again")
    assert refused.value.message_key == "season_already_declared"
    with pytest.raises(NotFoundError):
        seasons.extend(SYSTEM, "碧桂园", "2025-2026", date(2025, 11, 1), date(2026, 4, 10), "D", "no record")
