"""Column types that keep decimals exact and datetimes aware on SQLite."""

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import Column, Engine, Integer, MetaData, Table, create_engine, func, insert, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import StatementError

from projections.types import ScaledDecimal, UtcDateTime

metadata = MetaData()
samples = Table(
    "samples",
    metadata,
    Column("number", Integer, primary_key=True),
    Column("energy_gj", ScaledDecimal(9), nullable=True),
    Column("moment", UtcDateTime, nullable=True),
)


@pytest.fixture
def engine() -> Iterator[Engine]:
    built = create_engine("sqlite://")
    metadata.create_all(built)
    yield built
    built.dispose()


def stored(engine: Engine, **values: object) -> object:
    with engine.begin() as connection:
        connection.execute(insert(samples).values(number=1, **values))
        return connection.execute(select(*[samples.c[name] for name in values])).one()[0]


def test_a_scaled_decimal_comes_back_exactly(engine: Engine) -> None:
    assert stored(engine, energy_gj=Decimal("123456789.123456789")) == Decimal("123456789.123456789")


def test_sums_of_scaled_decimals_are_exact(engine: Engine) -> None:
    # 0.1 + 0.2 as floats is 0.30000000000000004; as nano-GJ integers it is exactly 0.3.
    with engine.begin() as connection:
        tenths = [{"number": 1, "energy_gj": Decimal("0.1")}, {"number": 2, "energy_gj": Decimal("0.2")}]
        connection.execute(insert(samples), tenths)
        total = connection.execute(select(func.sum(samples.c.energy_gj))).scalar()
    assert total == Decimal("0.3")


def test_a_decimal_finer_than_the_scale_is_refused(engine: Engine) -> None:
    with pytest.raises(StatementError, match="more than 9 decimals"):
        stored(engine, energy_gj=Decimal("0.0000000001"))


def test_an_aware_datetime_comes_back_in_utc(engine: Engine) -> None:
    shanghai = datetime(2025, 11, 2, 0, 30, tzinfo=timezone(timedelta(hours=8)))
    back = stored(engine, moment=shanghai)
    assert back == shanghai
    assert isinstance(back, datetime) and back.tzinfo == UTC and back.hour == 16


def test_a_naive_datetime_is_refused(engine: Engine) -> None:
    with pytest.raises(StatementError, match="timezone-aware"):
        stored(engine, moment=datetime(2025, 11, 1))


def test_nulls_stay_null(engine: Engine) -> None:
    assert stored(engine, energy_gj=None) is None


@given(
    moment=st.datetimes(
        timezones=st.sampled_from([UTC, timezone(timedelta(hours=8)), timezone(timedelta(hours=-9, minutes=-30))])
    )
)
def test_a_datetime_is_written_to_sqlite_as_the_two_step_conversion_writes_it(moment: datetime) -> None:
    # UtcDateTime's one-call SQLite processor must give the text of process_bind_param followed by
    # SQLite's own DateTime processor, for every aware datetime whose UTC time exists.
    dialect = sqlite.dialect()
    fast = UtcDateTime().bind_processor(dialect)
    two_steps = super(UtcDateTime, UtcDateTime()).bind_processor(dialect)
    assert fast is not None and two_steps is not None and fast is not two_steps
    try:
        expected = two_steps(moment)
    except OverflowError:  # no UTC time before year 1 or after 9999
        with pytest.raises(OverflowError):
            fast(moment)
        return
    assert fast(moment) == expected


def test_the_one_call_sqlite_processor_refuses_a_naive_datetime_and_keeps_null() -> None:
    fast = UtcDateTime().bind_processor(sqlite.dialect())
    assert fast is not None and fast(None) is None
    with pytest.raises(ValueError, match="timezone-aware"):
        fast(datetime(2025, 11, 1))


def test_postgresql_gets_the_aware_utc_datetime() -> None:
    process = UtcDateTime().bind_processor(postgresql.psycopg.dialect())
    shanghai = datetime(2025, 11, 2, 0, 30, tzinfo=timezone(timedelta(hours=8)))
    converted = process(shanghai) if process is not None else shanghai
    assert converted == shanghai and converted.tzinfo == UTC
