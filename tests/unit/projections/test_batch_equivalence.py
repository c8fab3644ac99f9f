"""The projection writes a batch of events at once; the result must not depend on how events are batched.

One runner catches up after every save (batches of one command's events), another catches up once
at the end in batches of a drawn size: late readings then replace intervals that are still in the
same batch, moves between households fall between readings, and both must give the same rows.
"""

from collections.abc import Iterator
from contextlib import contextmanager

from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy import Engine, create_engine
from sqlalchemy.pool import StaticPool

from application.authorization import SYSTEM
from projections.ledger_projection import LedgerProjection
from projections.runner import ProjectionRunner
from projections.tables import metadata
from tests.strategies import (
    SEASON_START,
    ReadingPlan,
    apply_plan,
    hours_after,
    household_with_meter,
    item,
    memory_ledger,
    projection_rows,
    reading_plans,
)


@contextmanager
def read_model_engine() -> Iterator[Engine]:
    engine = create_engine("sqlite://", poolclass=StaticPool, connect_args={"check_same_thread": False})
    metadata.create_all(engine)
    try:
        yield engine
    finally:
        engine.dispose()


@settings(max_examples=40)
@given(plans=st.lists(reading_plans(max_readings=12), min_size=1, max_size=3), batch_size=st.integers(1, 40))
def test_read_models_do_not_depend_on_batching(plans: list[ReadingPlan], batch_size: int) -> None:
    ledger = memory_ledger()
    with read_model_engine() as per_command, read_model_engine() as at_the_end:
        eager = ProjectionRunner(ledger, per_command, LedgerProjection())
        ledger.add_after_save_hook(eager.catch_up)
        for number, plan in enumerate(plans):
            apply_plan(ledger, plan, str(number))
        lazy = ProjectionRunner(ledger, at_the_end, LedgerProjection(), batch_size=batch_size)
        assert lazy.catch_up() == eager.position() == eager.max_notification_id()
        assert projection_rows(at_the_end) == projection_rows(per_command)


def test_a_late_reading_replaces_an_interval_written_in_the_same_batch() -> None:
    ledger = memory_ledger()
    with read_model_engine() as engine:
        runner = ProjectionRunner(ledger, engine, LedgerProjection())
        household_with_meter(ledger)
        first_and_last = [item("M-1", SEASON_START, "10"), item("M-1", hours_after(SEASON_START, 48), "12")]
        ledger.record_readings(SYSTEM, first_and_last)
        ledger.record_readings(SYSTEM, [item("M-1", hours_after(SEASON_START, 24), "11")])
        runner.catch_up()  # all seven events in one batch
        rows = projection_rows(engine)
    # Intervals 0 h → 24 h (1 GJ) and 24 h → 48 h (1 GJ); the 0 h → 48 h interval is gone.
    assert [(row[1], row[3]) for row in rows["meter_intervals"]] == [
        (SEASON_START, 1),
        (hours_after(SEASON_START, 24), 1),
    ]
    assert sum(row[3] for row in rows["daily_consumption"]) == 2
