"""A reading batch's meters updated by one UPDATE … FROM unnest on PostgreSQL
(``reading_batch._update_meters_at_once``) leave exactly the rows the executemany of one UPDATE a
meter leaves (``_update_meters_one_by_one``, kept as the oracle): drawn meters, counts, last
readings (any zone, any energy the scale holds, none), versions, some meters left untouched."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal
from typing import Any
from uuid import UUID

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import Engine, delete, insert, select

from projections.reading_batch import _MeterState, _update_meters_at_once, _update_meters_one_by_one
from projections.tables import meters
from tests.conftest import migrated_postgres_engine
from tests.strategies import meters_row

ZONES = [UTC, timezone(timedelta(hours=8)), timezone(timedelta(hours=-3, minutes=-30))]
COMMISSIONED_AT = datetime(2025, 10, 1, tzinfo=UTC)


@pytest.fixture(scope="module")
def engine() -> Iterator[Engine]:
    with migrated_postgres_engine() as built:
        yield built


@st.composite
def changes(draw: st.DrawFn) -> tuple[int, list[tuple[int, _MeterState]]]:
    """How many meters there are, and the changes of some of them (by index)."""
    count = draw(st.integers(1, 12))
    chosen = draw(st.lists(st.integers(0, count - 1), min_size=1, max_size=count, unique=True))
    changed = []
    for index in chosen:
        moment = draw(st.datetimes(min_value=datetime(2000, 1, 2), max_value=datetime(2090, 1, 1)))
        energy = draw(
            st.none() | st.decimals(min_value=0, max_value=Decimal("9999999.999999999"), places=9, allow_nan=False)
        )
        state = _MeterState("household", "c", "b", None, None)
        state.last_measured_at = moment.replace(tzinfo=UTC).astimezone(draw(st.sampled_from(ZONES)))
        state.last_energy_gj = energy
        state.new_readings = draw(st.integers(1, 50_000))
        state.version = draw(st.integers(3, 2**31 - 1))
        changed.append((index, state))
    return count, changed


def _written(engine: Engine, count: int, changed: list[tuple[int, _MeterState]], at_once: bool) -> list[Any]:
    ids = [UUID(int=number + 1) for number in range(count)]
    with engine.begin() as connection:
        connection.execute(delete(meters))
        connection.execute(
            insert(meters),
            [
                meters_row(
                    meter_id,
                    number,
                    COMMISSIONED_AT,
                    household_id=None,
                    readings_count=number % 3,
                    last_measured_at=None,
                    last_energy_gj=None,
                    version=2,
                )
                for number, meter_id in enumerate(ids)
            ],
        )
        write = _update_meters_at_once if at_once else _update_meters_one_by_one
        write(connection, [(ids[index], state) for index, state in changed])
        return list(connection.execute(select(meters).order_by(meters.c.meter_id)))


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(drawn=changes())
def test_one_update_for_the_batch_leaves_the_rows_one_update_a_meter_leaves(
    engine: Engine, drawn: tuple[int, list[tuple[int, _MeterState]]]
) -> None:
    count, changed = drawn
    assert _written(engine, count, changed, at_once=True) == _written(engine, count, changed, at_once=False)
