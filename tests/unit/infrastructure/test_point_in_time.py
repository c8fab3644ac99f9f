"""A point-in-time view's read models start as an empty copy of every read-model table."""

from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
from sqlalchemy import Column, Engine, Integer, Table, create_engine, text

from infrastructure.point_in_time import empty_view
from projections.tables import metadata

NOW = datetime(2026, 1, 1, tzinfo=UTC)


def schema(engine: Engine) -> list[tuple[str, str, str]]:
    with engine.connect() as connection:
        rows = connection.execute(text("SELECT type, name, sql FROM sqlite_master ORDER BY type, name"))
        return [(row.type, row.name, row.sql) for row in rows]


@pytest.fixture
def created_anew() -> Iterator[Engine]:
    engine = create_engine("sqlite://")
    metadata.create_all(engine)
    yield engine
    engine.dispose()


def test_a_view_has_every_table_and_index_create_all_makes(created_anew: Engine) -> None:
    with empty_view(frozenset(), lambda: NOW) as view:
        assert schema(view.engine) == schema(created_anew)


def test_views_do_not_share_their_rows() -> None:
    with empty_view(frozenset(), lambda: NOW) as first, empty_view(frozenset(), lambda: NOW) as second:
        with first.engine.begin() as connection:
            connection.execute(text("INSERT INTO projection_tracking VALUES ('p', 'a', 7)"))
        with second.engine.connect() as connection:
            assert connection.execute(text("SELECT count(*) FROM projection_tracking")).scalar_one() == 0
    with empty_view(frozenset(), lambda: NOW) as third, third.engine.connect() as connection:
        assert connection.execute(text("SELECT count(*) FROM projection_tracking")).scalar_one() == 0


def test_a_table_declared_after_the_first_view_is_in_the_next() -> None:
    with empty_view(frozenset(), lambda: NOW):
        pass
    late = Table("declared_late_for_a_test", metadata, Column("number", Integer, primary_key=True))
    try:
        with empty_view(frozenset(), lambda: NOW) as view:
            assert "declared_late_for_a_test" in {name for _, name, _ in schema(view.engine)}
    finally:
        metadata.remove(late)
    with empty_view(frozenset(), lambda: NOW) as view:
        assert "declared_late_for_a_test" not in {name for _, name, _ in schema(view.engine)}
