"""Meter lifecycle in the domain: decommissioning, verification against the MPE, voiding readings."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from uuid import UUID

import pytest

from domain.errors import ConflictError, InvalidInputError, NotFoundError, ReadingRejectedError
from domain.meter import READING_WINDOW_SIZE, Meter, RecordingOutcome
from domain.readings import Attachment, ReadingValues, household_charged
from domain.values import AccuracyClass, ReadingSource
from domain.verification import TestPoint, judge_points
from tests.strategies import COMMISSIONED_AT, SEASON_START, context, hours_after, new_meter, record, values

D = Decimal
T = SEASON_START
HOUSEHOLD = Meter.create_id("unused")  # any UUID serves as a household id here


# -- decommissioning -----------------------------------------------------------------------------


def test_a_decommissioned_meter_refuses_later_readings_and_attachment() -> None:
    meter = new_meter()
    record(meter, values(T, "1"))
    meter.decommission(hours_after(T, 24), context(reason="end of life"))
    assert meter.decommissioned_at == hours_after(T, 24)
    record(meter, values(hours_after(T, 12), "1.5"))  # a late reading before the end is still taken
    with pytest.raises(ReadingRejectedError) as raised:
        record(meter, values(hours_after(T, 25), "2"))
    assert raised.value.reason == "after_decommissioning"
    with pytest.raises(ConflictError) as refused:
        meter.attach_to(HOUSEHOLD, hours_after(T, 26), context())
    assert refused.value.message_key == "meter_decommissioned"


def test_an_attached_meter_must_be_detached_before_decommissioning() -> None:
    meter = new_meter()
    meter.attach_to(HOUSEHOLD, COMMISSIONED_AT, context())
    with pytest.raises(ConflictError) as raised:
        meter.decommission(hours_after(T, 1), context())
    assert raised.value.message_key == "decommission_attached"


def test_decommissioning_before_the_newest_reading_is_refused() -> None:
    meter = new_meter()
    record(meter, values(hours_after(T, 10), "1"))
    with pytest.raises(InvalidInputError) as raised:
        meter.decommission(hours_after(T, 9), context())
    assert raised.value.message_key == "decommissioned_too_early"


# -- verification --------------------------------------------------------------------------------


def test_the_mpe_of_a_class_2_meter_at_a_test_point_is_computed_by_en_1434() -> None:
    # q_p 2.5 m³/h, q 0.25 m³/h, Δθ 20 K, Δθmin 3 K:
    # flow sensor 2 + 0.02·(2.5/0.25) = 2.20 %, calculator 0.5 + 3/20 = 0.65 %, pair 0.5 + 9/20 = 0.95 %.
    (point,) = judge_points([TestPoint(D("0.25"), D(20), D("3.5"))], AccuracyClass.CLASS_2, D("2.5"))
    assert (point.permissible_error_percent, point.passed) == (D("3.80"), True)


def test_a_meter_passes_only_when_every_point_is_within_its_mpe() -> None:
    meter = new_meter()
    points = [TestPoint(D("0.25"), D(20), D("3.5")), TestPoint(D("0.25"), D(20), D("-4.0"))]
    assert meter.record_verification(date(2026, 4, 2), "JJG225-0001", points, context()) is False
    assert meter.last_verification_passed is False
    event = meter.pending_events[-1]
    assert isinstance(event, Meter.VerificationRecorded)
    assert [point.passed for point in event.points] == [True, False]
    assert meter.record_verification(date(2026, 4, 3), "JJG225-0002", points[:1], context()) is True


@pytest.mark.parametrize("points", [[], [TestPoint(D(0), D(20), D(1))], [TestPoint(D(1), D(-1), D(1))]])
def test_a_verification_needs_points_with_positive_flow_and_temperature_difference(points: list[TestPoint]) -> None:
    with pytest.raises(InvalidInputError):
        new_meter().record_verification(date(2026, 4, 2), "X", points, context())


# -- voiding -------------------------------------------------------------------------------------


def test_voiding_a_middle_reading_merges_its_two_intervals() -> None:
    meter = new_meter()
    for hours, energy in ((0, "1"), (24, "1.4"), (48, "2")):
        record(meter, values(hours_after(T, hours), energy))
    meter.void_reading(hours_after(T, 24), context(reason="read from the wrong flat"))
    event = meter.pending_events[-1]
    assert isinstance(event, Meter.ReadingVoided)
    assert event.removed_interval_starts == [T, hours_after(T, 24)]
    assert event.merged_interval is not None
    assert (event.merged_interval.start, event.merged_interval.end, event.merged_interval.energy_gj) == (
        T,
        hours_after(T, 48),
        D(1),  # 2 − 1 GJ
    )
    assert [reading.measured_at for reading in meter.window] == [T, hours_after(T, 48)]
    assert (meter.readings_count, event.reason) == (2, "read from the wrong flat")


def test_voiding_the_newest_reading_removes_only_the_interval_it_closed() -> None:
    meter = new_meter()
    record(meter, values(T, "1"))
    record(meter, values(hours_after(T, 24), "1.4"))
    meter.void_reading(hours_after(T, 24), context())
    event = meter.pending_events[-1]
    assert (event.removed_interval_starts, event.merged_interval) == ([T], None)
    # The same time can be read again afterwards, with other values.
    record(meter, values(hours_after(T, 24), "1.3"))
    assert meter.latest_reading is not None and meter.latest_reading.energy_register_gj == D("1.3")


def test_voiding_a_time_without_a_reading_is_not_found() -> None:
    meter = new_meter()
    record(meter, values(T, "1"))
    with pytest.raises(NotFoundError):
        meter.void_reading(hours_after(T, 1), context())


def test_a_reading_older_than_the_window_cannot_be_voided() -> None:
    meter = new_meter()
    for hour in range(READING_WINDOW_SIZE + 1):
        record(meter, values(hours_after(T, hour), str(Decimal(hour) / 10)))
    with pytest.raises(ConflictError) as raised:
        meter.void_reading(T, context())
    assert raised.value.message_key == "void_outside_window"
    with pytest.raises(ConflictError):
        meter.void_reading(hours_after(T, 1), context())  # the oldest remembered: its left interval is unknown


# -- estimates and their true-up -----------------------------------------------------------------


def estimate(hours: float, energy: str) -> ReadingValues:
    return values(hours_after(T, hours), energy, source=ReadingSource.ESTIMATE)


def test_intervals_ending_at_an_estimate_are_estimated_and_billable() -> None:
    meter = new_meter()
    record(meter, values(T, "1"))
    record(meter, estimate(24, "1.4"))
    event = meter.pending_events[-1]
    assert isinstance(event, Meter.ReadingRecorded)
    (interval,) = event.intervals
    assert (interval.quality, interval.billable, interval.energy_gj) == ("estimated", True, D("0.4"))


def test_an_estimate_may_only_extend_the_history() -> None:
    meter = new_meter()
    record(meter, values(T, "1"))
    record(meter, values(hours_after(T, 48), "2"))
    with pytest.raises(ReadingRejectedError) as raised:
        record(meter, estimate(24, "1.5"))
    assert raised.value.reason == "estimate_not_newest"
    record(meter, estimate(72, "2.5"))
    assert record(meter, estimate(72, "2.5")) is RecordingOutcome.DUPLICATE  # the estimator ran twice


def test_a_real_reading_trues_up_the_estimates_before_it() -> None:
    meter = new_meter()
    record(meter, values(T, "1"))
    record(meter, estimate(24, "1.5"))
    record(meter, estimate(48, "2.0"))
    # The real reading at 48 h is lower than the estimate: it replaces both estimates.
    assert record(meter, values(hours_after(T, 48), "1.8")) is RecordingOutcome.ACCEPTED
    kinds = [type(event).__name__ for event in meter.pending_events[-3:]]
    assert kinds == ["ReadingVoided", "ReadingVoided", "ReadingRecorded"]
    first_void, second_void, recorded = meter.pending_events[-3:]
    assert (first_void.measured_at, first_void.removed_interval_starts) == (hours_after(T, 48), [hours_after(T, 24)])
    assert (second_void.measured_at, second_void.removed_interval_starts) == (hours_after(T, 24), [T])
    (interval,) = recorded.intervals
    assert (interval.start, interval.energy_gj, interval.quality) == (T, D("0.8"), "measured")
    assert [(reading.measured_at, reading.estimated) for reading in meter.window] == [
        (T, False),
        (hours_after(T, 48), False),
    ]


def test_a_rejected_real_reading_leaves_the_estimates_alone() -> None:
    meter = new_meter()
    record(meter, values(T, "1"))
    record(meter, estimate(24, "1.5"))
    events = len(meter.pending_events)
    with pytest.raises(ReadingRejectedError):
        record(meter, values(hours_after(T, 48), "0.5"))  # below the last real reading
    assert len(meter.pending_events) == events
    assert [reading.estimated for reading in meter.window] == [False, True]


def test_an_estimate_does_not_clear_a_fault() -> None:
    meter = new_meter()
    record(meter, values(T, "1", error_flags=4))
    record(meter, estimate(24, "1.5"))
    assert meter.error_flags == 4
    assert not any(type(event).__name__ == "FaultCleared" for event in meter.pending_events)


# -- estimates of faulty intervals ---------------------------------------------------------------


def faulty_history() -> Meter:
    meter = new_meter()
    record(meter, values(T, "1"))
    record(meter, values(hours_after(T, 24), "1.4", faulty=True))
    record(meter, values(hours_after(T, 48), "2"))
    return meter


def test_a_faulty_interval_gets_one_estimate_and_a_new_one_replaces_it() -> None:
    meter = faulty_history()
    assert meter.estimate_faulty_interval(T, D("0.45"), "own_history_scaled_by_building", context()) is True
    event = meter.pending_events[-1]
    assert isinstance(event, Meter.FaultyIntervalEstimated)
    assert (event.interval_start, event.interval_end, event.estimated_energy_gj) == (T, hours_after(T, 24), D("0.45"))
    assert meter.estimate_faulty_interval(T, D("0.45"), "own_history_scaled_by_building", context()) is False
    assert meter.estimate_faulty_interval(T, D("0.50"), "building_per_m2_by_position", context()) is True


def test_only_a_faulty_interval_can_be_estimated() -> None:
    meter = faulty_history()
    record(meter, values(hours_after(T, 72), "2.5"))  # 48 h → 72 h is measured at both ends
    with pytest.raises(ConflictError) as raised:
        meter.estimate_faulty_interval(hours_after(T, 48), D("0.5"), "x", context())
    assert raised.value.message_key == "interval_not_faulty"
    with pytest.raises(ConflictError):
        meter.estimate_faulty_interval(hours_after(T, 1), D("0.5"), "x", context())  # no interval starts there


def test_splitting_or_withdrawing_a_faulty_interval_drops_its_estimate() -> None:
    meter = faulty_history()
    meter.estimate_faulty_interval(T, D("0.45"), "x", context())
    record(meter, values(hours_after(T, 12), "1.2"))  # a late reading splits 0 h → 24 h
    assert meter.window[0].faulty_estimate_gj is None
    meter.estimate_faulty_interval(hours_after(T, 12), D("0.2"), "x", context())
    meter.void_reading(hours_after(T, 24), context())
    assert all(reading.faulty_estimate_gj is None for reading in meter.window)


# -- late paperwork: attachment changes that take effect before recorded readings ----------------


def recharges(meter: Meter) -> list[Meter.IntervalsRecharged]:
    return [event for event in meter.pending_events if isinstance(event, Meter.IntervalsRecharged)]


def test_an_attachment_dated_before_recorded_readings_re_charges_the_intervals_after_it() -> None:
    meter = new_meter()
    record(meter, values(T, "10.0"))
    record(meter, values(hours_after(T, 24), "10.5"))
    meter.attach_to(HOUSEHOLD, hours_after(T, -1), context(reason="installation form typed in late"))

    (event,) = recharges(meter)
    assert (event.since, event.attachments, event.reason) == (
        hours_after(T, -1),
        [Attachment(HOUSEHOLD, hours_after(T, -1))],
        "installation form typed in late",
    )
    attached, last = meter.pending_events[-2:]
    assert isinstance(attached, Meter.AttachedToHousehold) and last is event  # right after the attachment


def test_a_detachment_dated_before_recorded_readings_re_charges_the_intervals_after_it() -> None:
    meter = new_meter()
    meter.attach_to(HOUSEHOLD, COMMISSIONED_AT, context())
    record(meter, values(T, "10.0"))
    record(meter, values(hours_after(T, 24), "10.5"))
    meter.detach(hours_after(T, 12), context(reason="moved out"))

    (event,) = recharges(meter)
    assert (event.since, event.attachments) == (
        hours_after(T, 12),
        [Attachment(HOUSEHOLD, COMMISSIONED_AT, hours_after(T, 12))],
    )


def test_attachment_changes_at_or_after_the_newest_reading_re_charge_nothing() -> None:
    meter = new_meter()
    record(meter, values(T, "10.0"))
    meter.attach_to(HOUSEHOLD, T, context())  # an interval ending at the change keeps its charge
    meter.detach(hours_after(T, 1), context(reason="moved out"))
    assert recharges(meter) == []


OTHER_HOUSEHOLD = Meter.create_id("another unused")


@pytest.mark.parametrize(
    ("start_hour", "end_hour", "charged"),
    [
        (0, 24, HOUSEHOLD),  # began while attached to the first household
        (18, 30, HOUSEHOLD),  # began there, ended after the move: charged where it began
        (24, 30, None),  # began at the detachment: the meter served no one then
        (30, 40, OTHER_HOUSEHOLD),  # began unattached, ended within the next attachment
        (30, 36, None),  # ended at the next attachment: nothing of it was metered there
        (36, 48, OTHER_HOUSEHOLD),
    ],
)
def test_an_interval_is_charged_where_it_began_or_else_where_it_ended(
    start_hour: int, end_hour: int, charged: UUID | None
) -> None:
    # Attached to HOUSEHOLD until 24 h, to OTHER_HOUSEHOLD from 36 h.
    attachments = [
        Attachment(HOUSEHOLD, COMMISSIONED_AT, hours_after(T, 24)),
        Attachment(OTHER_HOUSEHOLD, hours_after(T, 36)),
    ]
    assert household_charged(attachments, hours_after(T, start_hour), hours_after(T, end_hour)) == charged
