"""``BY_UUID_ORDER`` sorts UUIDs in their own order (``UUID.__lt__``), which fixes how a catch-up
chunks the households it reallocates and the ids it looks up."""

from __future__ import annotations

from uuid import UUID

from hypothesis import given
from hypothesis import strategies as st

from projections.balance_rows import BY_UUID_ORDER


@given(st.lists(st.uuids(), max_size=50) | st.lists(st.integers(0, 2**128 - 1).map(lambda number: UUID(int=number))))
def test_sorting_by_the_key_gives_the_uuids_own_order(ids: list[UUID]) -> None:
    assert sorted(ids, key=BY_UUID_ORDER) == sorted(ids)
