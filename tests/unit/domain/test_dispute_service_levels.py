"""Service levels of disputes: each clock judged against its target (met, missed, pending, a
withdrawal), percentiles as PostgreSQL's percentile_cont, figures by month and category computed by
hand, and properties of the figures."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from domain.dispute import DisputeCategory, DisputeState
from domain.dispute_service_levels import (
    DisputeTimes,
    Judgement,
    ServiceClock,
    ServiceTarget,
    ServiceTargets,
    overdue_of,
    percentile,
    service_levels,
)
from domain.errors import InvalidInputError

D = Decimal
T0 = datetime(2026, 1, 10, 1, 0, tzinfo=UTC)
NOW = datetime(2026, 3, 1, 4, 0, tzinfo=UTC)
TARGETS = ServiceTargets(
    ServiceTarget(24, 15), {DisputeCategory.POOR_HEATING: ServiceTarget(first_response_hours=4, resolution_days=3)}
)


def times(
    category: DisputeCategory = DisputeCategory.READING_WRONG,
    state: DisputeState = DisputeState.INVESTIGATING,
    opened_at: datetime = T0,
    response_hours: float | None = None,
    closed_days: float | None = None,
    opened_on: date | None = None,
) -> DisputeTimes:
    return DisputeTimes(
        category.value,
        state.value,
        opened_on or opened_at.date(),
        opened_at,
        None if response_hours is None else opened_at + timedelta(hours=response_hours),
        None if closed_days is None else opened_at + timedelta(days=closed_days),
    )


@pytest.mark.parametrize(
    ("values", "fraction", "expected"),
    [
        ([], "0.5", None),
        ([7], "0.9", "7"),
        ([1, 2, 3, 4], "0.5", "2.5"),
        ([4, 1, 3, 2], "0.9", "3.7"),  # position 0.9 × 3 = 2.7: 3 + 0.7 × (4 − 3)
        ([10, 20, 30, 40, 50], "0.9", "46"),  # position 3.6: 40 + 0.6 × 10
        ([10, 20, 30, 40, 50], "1", "50"),
        ([10, 20, 30, 40, 50], "0", "10"),
    ],
)
def test_percentiles_interpolate_between_closest_ranks(values: list[int], fraction: str, expected: str | None) -> None:
    found = percentile(values, D(fraction))
    assert found == (None if expected is None else D(expected))


def test_a_clock_is_met_at_its_target_and_missed_after_it() -> None:
    day = timedelta(hours=24)
    assert times(response_hours=24).judge(ServiceClock.FIRST_RESPONSE, day, NOW) is Judgement.MET
    assert times(response_hours=24.001).judge(ServiceClock.FIRST_RESPONSE, day, NOW) is Judgement.MISSED
    # Not answered yet: pending inside the target, missed once it has passed.
    waiting = times(opened_at=NOW - timedelta(hours=23))
    assert waiting.judge(ServiceClock.FIRST_RESPONSE, day, NOW) is Judgement.PENDING
    assert waiting.judge(ServiceClock.FIRST_RESPONSE, day, NOW + timedelta(hours=1)) is Judgement.PENDING
    late = NOW + timedelta(hours=1, microseconds=1)
    assert waiting.judge(ServiceClock.FIRST_RESPONSE, day, late) is Judgement.MISSED


def test_a_rejection_stops_the_resolution_clock_and_a_withdrawal_stops_none() -> None:
    fifteen = timedelta(days=15)
    rejected = times(state=DisputeState.REJECTED, response_hours=2, closed_days=14)
    assert rejected.judge(ServiceClock.RESOLUTION, fifteen, NOW) is Judgement.MET
    assert rejected.elapsed(ServiceClock.RESOLUTION) == timedelta(days=14)
    withdrawn_early = times(state=DisputeState.WITHDRAWN, closed_days=0.5)
    assert withdrawn_early.elapsed(ServiceClock.FIRST_RESPONSE) is None
    assert withdrawn_early.elapsed(ServiceClock.RESOLUTION) is None
    assert withdrawn_early.judge(ServiceClock.FIRST_RESPONSE, timedelta(hours=24), NOW) is Judgement.NOT_COUNTED
    assert withdrawn_early.judge(ServiceClock.RESOLUTION, fifteen, NOW) is Judgement.NOT_COUNTED
    # Withdrawn after waiting two days for an answer: the first response was missed.
    withdrawn_late = times(state=DisputeState.WITHDRAWN, closed_days=2)
    assert withdrawn_late.judge(ServiceClock.FIRST_RESPONSE, timedelta(hours=24), NOW) is Judgement.MISSED
    assert withdrawn_late.judge(ServiceClock.RESOLUTION, fifteen, NOW) is Judgement.NOT_COUNTED


def test_a_category_has_its_own_target_or_the_general_one() -> None:
    assert TARGETS.of("poor_heating").of(ServiceClock.FIRST_RESPONSE) == timedelta(hours=4)
    assert TARGETS.of("reading_wrong").of(ServiceClock.RESOLUTION) == timedelta(days=15)
    assert TARGETS.grouped(ServiceClock.FIRST_RESPONSE) == {
        timedelta(hours=4): [DisputeCategory.POOR_HEATING],
        timedelta(hours=24): [category for category in DisputeCategory if category is not DisputeCategory.POOR_HEATING],
    }
    with pytest.raises(InvalidInputError) as wrong:
        ServiceTarget(0, 15)
    assert wrong.value.message_key == "dispute_target_out_of_range"


def test_figures_by_month_and_category_as_computed_by_hand() -> None:
    """Six disputes; January: three about readings, one about poor heating; February: one about
    readings, one about poor heating (opened 00:30 on 1 February in Shanghai, 16:30 UTC on 31
    January: a February dispute)."""
    january_opened = datetime(2026, 1, 5, 1, tzinfo=UTC)
    disputes = [
        # reading_wrong, January: answered after 2, 10 and 30 hours; resolved after 3 and 20 days,
        # one still open (opened 5 January: its 15 days passed long ago).
        times(DisputeCategory.READING_WRONG, DisputeState.RESOLVED_UPHELD, january_opened, 2, 3),
        times(DisputeCategory.READING_WRONG, DisputeState.REJECTED, january_opened, 10, 20),
        times(DisputeCategory.READING_WRONG, DisputeState.INVESTIGATING, january_opened, 30),
        # poor_heating, January: answered after 5 hours (target 4), resolved after 2 days (target 3).
        times(DisputeCategory.POOR_HEATING, DisputeState.RESOLVED_UPHELD, january_opened, 5, 2),
        # February: a reading dispute withdrawn after 6 hours without an answer (not counted), a
        # poor-heating one opened at 00:30 Beijing time on 1 February, answered within the hour.
        times(DisputeCategory.READING_WRONG, DisputeState.WITHDRAWN, datetime(2026, 2, 3, 2, tzinfo=UTC), None, 0.25),
        times(
            DisputeCategory.POOR_HEATING,
            DisputeState.INVESTIGATING,
            datetime(2026, 1, 31, 16, 30, tzinfo=UTC),
            0.5,
            opened_on=date(2026, 2, 1),
        ),
        # Opened before the period: left out.
        times(DisputeCategory.READING_WRONG, opened_at=datetime(2025, 12, 31, 1, tzinfo=UTC)),
    ]
    now = datetime(2026, 2, 2, 0, 0, tzinfo=UTC)  # the poor-heating dispute's 3 days have not passed
    report = service_levels(disputes, TARGETS, date(2026, 1, 1), date(2026, 2, 28), now)

    reading_january = report.by_month_and_category[("2026-01", "reading_wrong")]
    assert (reading_january.opened, reading_january.resolved, reading_january.withdrawn) == (3, 2, 0)
    assert reading_january.still_open == 1
    first = reading_january.first_response
    # 2, 10, 30 hours: median 10; p90 at position 1.8: 10 + 0.8 × 20 = 26.
    assert (first.measured, first.median, first.p90) == (3, D("10.00"), D("26.00"))
    assert (first.met, first.missed, first.pending, first.within_target_percent) == (2, 1, 0, D("66.7"))
    resolution = reading_january.resolution
    # 3 and 20 days: median 11.5, p90 3 + 0.9 × 17 = 18.3; 20 days and the open one missed 15.
    assert (resolution.measured, resolution.median, resolution.p90) == (2, D("11.50"), D("18.30"))
    assert (resolution.met, resolution.missed, resolution.pending, resolution.within_target_percent) == (
        1,
        2,
        0,
        D("33.3"),
    )

    heating_january = report.by_month_and_category[("2026-01", "poor_heating")]
    assert (heating_january.first_response.median, heating_january.first_response.within_target_percent) == (
        D("5.00"),
        D("0.0"),
    )
    assert (heating_january.resolution.median, heating_january.resolution.within_target_percent) == (
        D("2.00"),
        D("100.0"),
    )

    heating_february = report.by_month_and_category[("2026-02", "poor_heating")]
    assert heating_february.first_response.median == D("0.50")
    assert (heating_february.resolution.measured, heating_february.resolution.pending) == (0, 1)
    assert heating_february.resolution.within_target_percent is None
    reading_february = report.by_month_and_category[("2026-02", "reading_wrong")]
    assert (reading_february.withdrawn, reading_february.first_response.within_target_percent) == (1, None)
    assert reading_february.first_response.met + reading_february.first_response.missed == 0

    assert list(report.by_month) == ["2026-01", "2026-02"]
    assert (report.by_month["2026-01"].opened, report.by_month["2026-02"].opened) == (4, 2)
    # January's first responses: 2, 5, 10, 30 hours; median 7.5, p90 at 2.7: 10 + 0.7 × 20 = 24.
    assert (report.by_month["2026-01"].first_response.median, report.by_month["2026-01"].first_response.p90) == (
        D("7.50"),
        D("24.00"),
    )
    assert report.by_category["poor_heating"].opened == 2
    assert report.by_category["reading_wrong"].opened == 4
    total = report.total
    assert (total.opened, total.resolved, total.withdrawn, total.still_open) == (6, 3, 1, 2)
    # First responses judged: met 2 h, 10 h (24 h), 0.5 h (4 h); missed 30 h, 5 h (4 h): 3 of 5.
    assert (total.first_response.met, total.first_response.missed) == (3, 2)
    assert total.first_response.within_target_percent == D("60.0")


def test_a_period_runs_forwards_over_at_most_two_years() -> None:
    with pytest.raises(InvalidInputError) as reversed_period:
        service_levels([], TARGETS, date(2026, 2, 1), date(2026, 1, 31), NOW)
    assert reversed_period.value.message_key == "dispute_report_period_reversed"
    with pytest.raises(InvalidInputError) as long_period:
        service_levels([], TARGETS, date(2024, 1, 1), date(2026, 1, 3), NOW)
    assert long_period.value.message_key == "dispute_report_period_too_long"
    empty = service_levels([], TARGETS, date(2026, 1, 1), date(2026, 1, 31), NOW)
    assert (empty.total.opened, empty.total.first_response.median, empty.by_month) == (0, None, {})


def test_overdue_is_counted_from_the_due_moment() -> None:
    overdue = overdue_of(T0, timedelta(hours=24), T0 + timedelta(hours=30, minutes=18))
    assert overdue.due_at == T0 + timedelta(hours=24)
    assert overdue.overdue_hours == D("6.30")


disputes_strategy = st.lists(
    st.builds(
        times,
        category=st.sampled_from(list(DisputeCategory)),
        state=st.sampled_from(list(DisputeState)),
        opened_at=st.datetimes(datetime(2026, 1, 1), datetime(2026, 2, 27), timezones=st.just(UTC)),
        response_hours=st.none() | st.floats(0, 400),
        closed_days=st.floats(0, 40),
    ),
    max_size=40,
)


@given(disputes_strategy)
def test_the_groups_add_up_and_shares_stay_within_bounds(disputes: list[DisputeTimes]) -> None:
    report = service_levels(disputes, TARGETS, date(2026, 1, 1), date(2026, 2, 28), NOW)
    assert sum(figures.opened for figures in report.by_month.values()) == report.total.opened
    assert sum(figures.opened for figures in report.by_category.values()) == report.total.opened
    assert sum(figures.opened for figures in report.by_month_and_category.values()) == report.total.opened
    for figures in [report.total, *report.by_month.values(), *report.by_month_and_category.values()]:
        assert figures.resolved + figures.withdrawn + figures.still_open == figures.opened
        for clock in (figures.first_response, figures.resolution):
            assert clock.met + clock.missed + clock.pending <= figures.opened
            if clock.median is not None:
                assert clock.p90 is not None and clock.median <= clock.p90
            share = clock.within_target_percent
            assert share is None or D(0) <= share <= D(100)
