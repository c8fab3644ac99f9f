"""The kept evidence months (issue 17) on each backend, over random histories.

Every example plays a drawn history of ``test_billing_fold`` (readings with gaps across midnights,
estimates, faulty readings and their estimates, voids, corrections, late readings, owner changes,
a meter moved and recorded late, a spare meter, a building meter), then:

1. ``household_evidence_months`` as the projection kept it up equals the table summed afresh from
   every day row and estimate (``summarise_evidence``, the migration's statement), row for row;
2. the settlement's reads over it (``meter_evidence`` over drawn spans starting and ending on any
   day, whole months or not; ``monthly_energy`` over a drawn season) equal the reads of the day
   rows they replaced (``RowByRowEvidence``, kept as the oracle);

and at the end a rebuilt projection keeps the same rows.
"""

from __future__ import annotations

import itertools
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy import BigInteger, Engine, literal, select, union_all

from alembic import command
from domain.season import Season
from infrastructure.container import Container
from infrastructure.database import PROJECT_ROOT, migrate
from infrastructure.settings import Backend
from projections.billing_inputs import SqlBillingInputs, _bit_count, _MonthSpan
from projections.evidence_months import household_evidence_months, summarise_evidence
from projections.tables import metadata
from tests.integration.row_by_row_evidence import RowByRowEvidence
from tests.integration.test_billing_fold import ALL, History, histories, play, printed

EXAMPLES = {Backend.SQLITE: 12, Backend.POSTGRES: 8}
_examples = itertools.count()
ORIGIN = date(2025, 10, 25)


def kept_rows(engine: Engine) -> list[tuple[Any, ...]]:
    with engine.connect() as connection:
        return sorted((tuple(row) for row in connection.execute(select(household_evidence_months))), key=repr)


def summed_afresh(engine: Engine) -> list[tuple[Any, ...]]:
    """The rows ``summarise_evidence`` writes from the day rows (rolled back after reading)."""
    with engine.connect() as connection:
        transaction = connection.begin()
        try:
            summarise_evidence(connection)
            return sorted((tuple(row) for row in connection.execute(select(household_evidence_months))), key=repr)
        finally:
            transaction.rollback()


day_spans = st.tuples(st.integers(0, 70), st.integers(0, 70)).map(
    lambda offsets: (ORIGIN + timedelta(days=offsets[0]), ORIGIN + timedelta(days=offsets[0] + offsets[1]))
)


def test_the_kept_months_equal_the_rows_summed_and_read_as_the_rows_read(container: Container) -> None:
    @settings(max_examples=EXAMPLES[container.settings.backend], deadline=None)
    @given(history=histories, spans=st.lists(day_spans, min_size=1, max_size=4), season=day_spans)
    def kept_up(history: History, spans: list[tuple[date, date]], season: tuple[date, date]) -> None:
        play(container, history, f"E{next(_examples)}")
        container.catch_up()
        assert kept_rows(container.engine) == summed_afresh(container.engine)

        kept, rows = SqlBillingInputs(container.engine), RowByRowEvidence(container.engine)
        household_ids = [household.household_id for household in kept.households(None, ALL)]
        for first, last in spans:
            for asked in (household_ids, household_ids[-1:]):
                expected = rows.meter_evidence(asked, first, last)
                found = kept.meter_evidence(asked, first, last)
                assert found == expected
                assert printed(found) == printed(expected)
        drawn_season = Season(*season)
        expected_months = rows.monthly_energy(household_ids, drawn_season)
        found_months = kept.monthly_energy(household_ids, drawn_season)
        assert found_months == expected_months
        assert printed(found_months) == printed(expected_months)

    kept_up()
    live = kept_rows(container.engine)
    assert live, "the histories left evidence"
    assert container.runner.rebuild() == container.runner.max_notification_id()
    assert kept_rows(container.engine) == live


@given(span=day_spans)
def test_a_span_is_its_whole_months_and_at_most_two_runs_of_days_covering_it_once(span: tuple[date, date]) -> None:
    first, last = span
    split = _MonthSpan.of(first, last)
    days: list[date] = []
    for month in split.months:
        assert month.day == 1
        following = (month + timedelta(days=32)).replace(day=1)
        days += [month + timedelta(days=n) for n in range((following - month).days)]
    for start, end in split.edges:
        assert start.month == end.month and start.year == end.year
        assert not (start.day == 1 and (end + timedelta(days=1)).day == 1)  # not a whole month
        days += [start + timedelta(days=n) for n in range((end - start).days + 1)]
    assert sorted(days) == [first + timedelta(days=n) for n in range((last - first).days + 1)]
    assert len(split.edges) <= 2


def test_readings_at_the_span_s_local_midnights_open_and_close_its_evidence(container: Container) -> None:
    """Readings at local midnight on both ends of a span (the bounds the window includes): the
    kept months name the same first and last readings as the day rows, the midnights themselves."""
    midnights = History(
        hours_between=(16, 24, 24, 24, 24),  # 08:00 local on 1 November, then local midnights
        heat_gj=(Decimal("0.250"), Decimal("0.500")),
        estimated=frozenset(),
        faulty=frozenset(),
        estimate_faulty=False,
        voided=None,
        corrected=None,
        late=None,
        suspended=None,
        owner_change=None,
        area_m2=None,
        deregistered=None,
        moved_at=None,
        building_meter=False,
        spare_meter=False,
    )
    play(container, midnights, "EM")
    container.catch_up()
    kept, rows = SqlBillingInputs(container.engine), RowByRowEvidence(container.engine)
    household_ids = [household.household_id for household in kept.households(None, ALL)]
    for first, last in ((date(2025, 11, 2), date(2025, 11, 3)), (date(2025, 11, 1), date(2025, 11, 30))):
        found = kept.meter_evidence(household_ids, first, last)
        assert found == rows.meter_evidence(household_ids, first, last)
    (evidence,) = kept.meter_evidence(household_ids, date(2025, 11, 2), date(2025, 11, 3)).values()
    assert "2025-11-02T00:00:00+08:00" in evidence.first_reading
    assert "2025-11-04T00:00:00+08:00" in evidence.last_reading


def test_the_migration_creates_the_evidence_months_as_declared_and_fills_them_as_the_projection_does(
    container: Container,
) -> None:
    with container.engine.connect() as connection:
        differences = compare_metadata(MigrationContext.configure(connection), metadata)
    assert [difference for difference in differences if household_evidence_months.name in repr(difference)] == []

    @settings(max_examples=3, deadline=None)
    @given(history=histories)
    def played(history: History) -> None:
        play(container, history, f"M{next(_examples)}")

    played()
    container.catch_up()
    live = kept_rows(container.engine)
    assert live
    config = Config(str(PROJECT_ROOT / "alembic.ini"))
    config.set_main_option("script_location", str(PROJECT_ROOT / "alembic"))
    with container.engine.begin() as connection:
        config.attributes["connection"] = connection
        command.downgrade(config, "0032")  # the table dropped: a store from before it
    migrate(container.engine)
    assert kept_rows(container.engine) == live


@settings(max_examples=40, deadline=None)
@given(masks=st.lists(st.integers(0, 2**31 - 1), min_size=1, max_size=20))
def test_the_servers_bit_count_of_a_month_s_days_is_python_s(container: Container, masks: list[int]) -> None:
    values = union_all(*(select(literal(mask, BigInteger).label("days")) for mask in masks)).subquery("masks")
    with container.engine.connect() as connection:
        counted = connection.execute(select(values.c.days, _bit_count(values.c.days))).all()
    assert sorted((int(days), int(count)) for days, count in counted) == sorted(
        (mask, mask.bit_count()) for mask in masks
    )
