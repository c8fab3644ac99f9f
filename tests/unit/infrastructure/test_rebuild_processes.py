"""How many processes `heatledger projections rebuild` takes when not told (issue 17): one per core
(up to a bound) for a large PostgreSQL store, one for a small store or on SQLite."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from infrastructure.parallel_rebuild import (
    DEFAULT_MOST_PROCESSES,
    MOST_PROCESSES,
    SPLIT_FROM_EVENTS,
    default_processes,
)


@given(on_postgresql=st.booleans(), events=st.integers(0, 10**9), cores=st.none() | st.integers(1, 256))
def test_a_large_postgresql_store_is_split_over_the_cores_and_anything_else_is_not(
    on_postgresql: bool, events: int, cores: int | None
) -> None:
    processes = default_processes(on_postgresql, events, cores)
    assert 1 <= processes <= min(DEFAULT_MOST_PROCESSES, MOST_PROCESSES)
    if not on_postgresql or events < SPLIT_FROM_EVENTS or cores is None:
        assert processes == 1
    else:
        assert processes == min(cores, DEFAULT_MOST_PROCESSES)


def test_the_development_machine_splits_a_season_of_a_city_in_two() -> None:
    assert default_processes(True, 479_313, 2) == 2
    assert default_processes(True, 47_934, 2) == 1  # the 300-household season: one
    assert default_processes(False, 479_313, 2) == 1
