"""The reading rules decide as they did before issue 17's fourth pass made them faster.

Two meters alike take the same drawn readings, one through ``Meter.record_reading``, the other
through the rules as they were (``reading_rules_before``): every reading must be accepted, taken
as a duplicate or rejected for the same reason with the same message and parameters, and both
meters must record the same events (intervals, checks, limit breaches, fault events, estimates
trued up) and end in the same state. The readings are drawn to reach the edges: counters going
backwards, registers rolling over (and beyond their width), gaps (up to longer than an interval may
be), duplicates and conflicting resends, readings timed ahead of the clock or before the
commissioning, estimates and the real readings that true them up, faulty readings and error flags,
missing and out-of-range instants, too many decimals, and readings older than a small window,
judged against the meter's history.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any
from unittest.mock import patch
from uuid import UUID

from hypothesis import event, given, settings
from hypothesis import strategies as st

from domain.errors import ReadingRejectedError
from domain.meter import Meter
from domain.readings import ReadingValues, RememberedReading, readings_around
from domain.values import AccuracyClass, CommandContext, FlowSensorSide, MeterKind, ReadingSource
from tests.strategies import COMMISSIONED_AT
from tests.unit.domain.reading_rules_before import record_reading_before

BATCH = UUID(int=4)
CONTEXT = CommandContext("clerk", "test", UUID(int=5))
HOUSEHOLD = UUID(int=6)


@st.composite
def meters(draw: st.DrawFn) -> dict[str, Any]:
    """How a meter is commissioned: kind, class, side, q_p, register widths, declared limits."""
    kind = draw(st.sampled_from(list(MeterKind)))
    return {
        "kind": kind,
        "accuracy_class": draw(st.sampled_from(list(AccuracyClass))),
        "flow_sensor_side": draw(st.sampled_from(list(FlowSensorSide))),
        "permanent_flow_m3_h": draw(st.sampled_from([Decimal("0.6"), Decimal("2.5"), Decimal("2.50"), Decimal(15)])),
        "energy_register_width_gj": draw(st.sampled_from([None, Decimal(1000), Decimal("100.5")])),
        "volume_register_width_m3": draw(st.sampled_from([None, Decimal(10000)])),
        "maximum_flow_m3_h": draw(st.sampled_from([None, Decimal(40)])),
        "minimum_temperature_difference_k": draw(st.sampled_from([None, Decimal(1), Decimal(10)])),
        "attached_hours": draw(st.one_of(st.none(), st.integers(min_value=-48, max_value=24 * 30))),
    }


def _commissioned(plan: dict[str, Any]) -> Meter:
    kind = plan["kind"]
    meter = Meter.commission(
        "M-1",
        "Kamstrup",
        "Multical",
        plan["accuracy_class"],
        plan["flow_sensor_side"],
        kind,
        COMMISSIONED_AT,
        CONTEXT,
        community="" if kind is MeterKind.HOUSEHOLD else "C",
        building="" if kind is MeterKind.HOUSEHOLD else "B",
        permanent_flow_m3_h=plan["permanent_flow_m3_h"],
        energy_register_width_gj=plan["energy_register_width_gj"],
        volume_register_width_m3=plan["volume_register_width_m3"],
        maximum_flow_m3_h=plan["maximum_flow_m3_h"],
        minimum_temperature_difference_k=plan["minimum_temperature_difference_k"],
    )
    if plan["attached_hours"] is not None and kind is MeterKind.HOUSEHOLD:
        meter.attach_to(HOUSEHOLD, COMMISSIONED_AT + timedelta(hours=plan["attached_hours"]), CONTEXT)
    return meter


def _decimal(draw: st.DrawFn, lowest: int, highest: int, places: int) -> Decimal:
    return Decimal(draw(st.integers(min_value=lowest * 10**places, max_value=highest * 10**places))).scaleb(-places)


@st.composite
def readings(draw: st.DrawFn, width: Decimal | None) -> tuple[list[ReadingValues], list[int]]:
    """Readings of a meter in arrival order, and each one's clock skew in minutes (received_at
    = the newest moment drawn so far plus the skew: a negative one makes it timed in the future)."""
    count = draw(st.integers(min_value=1, max_value=14))
    moment = COMMISSIONED_AT + timedelta(hours=draw(st.integers(min_value=-30, max_value=24 * 40)))
    energy = _decimal(draw, 0, 990, 3) if width is None else width - _decimal(draw, 0, 3, 3)
    volume = _decimal(draw, 0, 9000, 2)
    hours = Decimal(draw(st.integers(min_value=0, max_value=50_000)))
    made: list[ReadingValues] = []
    skews: list[int] = []
    for _ in range(count):
        kinds = ["next"] * 6 + ["resend", "conflict", "late", "backwards", "odd", "long_gap", "late_fit", "late_fit"]
        kind = draw(st.sampled_from(kinds))
        if kind == "late_fit" and made:
            # Just before a reading already sent, its energy fitting (or not quite), its volume
            # and hours above, at or below the later reading's: the checks against what follows.
            later = draw(st.sampled_from(made))
            steps = [Decimal("-0.5"), Decimal(0), Decimal("0.01")]
            made.append(
                _values(
                    draw,
                    later.measured_at - timedelta(minutes=draw(st.integers(min_value=1, max_value=600))),
                    max(later.energy_gj - _decimal(draw, 0, 1, 3), Decimal(0)),
                    (later.volume_m3 or Decimal(1)) + draw(st.sampled_from(steps)),
                    (later.operating_hours or Decimal(1)) + draw(st.sampled_from(steps)),
                    odd=False,
                )
            )
            skews.append(draw(st.sampled_from([0, 30])))
            continue
        if kind in ("resend", "conflict") and made:
            earlier = draw(st.sampled_from(made))
            if kind == "conflict":
                earlier = ReadingValues(earlier.measured_at, earlier.energy_gj + Decimal("0.001"), earlier.volume_m3)
            made.append(earlier)
            skews.append(draw(st.integers(min_value=0, max_value=60)))
            continue
        step_hours = draw(st.sampled_from([1, 1, 24, 24, 24 * 7, 5]))
        if kind == "long_gap":
            step_hours = draw(st.sampled_from([24 * 3661, 24 * 3000]))
        moment += timedelta(hours=step_hours, minutes=draw(st.sampled_from([0, 0, 17])))
        energy += _decimal(draw, 0, max(1, step_hours // 2), 3) if kind != "backwards" else -_decimal(draw, 0, 5, 3)
        if width is not None and energy >= width:
            energy -= width  # the register rolls over
        energy = max(energy, Decimal(0))
        volume += _decimal(draw, 0, 30, 2)
        hours += step_hours
        measured_at = (
            moment - timedelta(hours=draw(st.integers(min_value=24, max_value=24 * 20))) if kind == "late" else moment
        )
        made.append(_values(draw, measured_at, energy, volume, hours, odd=kind == "odd"))
        skews.append(draw(st.sampled_from([0, 30, 24 * 60, -10, -4])))
    return made, skews


def _values(
    draw: st.DrawFn, measured_at: datetime, energy: Decimal, volume: Decimal, hours: Decimal, odd: bool
) -> ReadingValues:
    flow = _decimal(draw, 20, 130, 1)
    drop = _decimal(draw, -3, 40, 1)
    values: dict[str, Any] = {
        "volume_m3": draw(st.sampled_from([volume, volume, volume, None])),
        "operating_hours": draw(st.sampled_from([hours, hours, None])),
        "flow_temperature_c": draw(st.sampled_from([flow, flow, flow, None])),
        "return_temperature_c": draw(st.sampled_from([flow - drop, flow - drop, flow - drop, None])),
        "flow_rate_m3_h": draw(st.sampled_from([None, _decimal(draw, 0, 3, 3), _decimal(draw, 0, 60, 3)])),
        "power_kw": draw(st.sampled_from([None, _decimal(draw, 0, 30, 3), _decimal(draw, 0, 3, 2)])),
        "error_flags": draw(st.sampled_from([0, 0, 0, 4, 8])),
        "source": draw(st.sampled_from([ReadingSource.NBIOT] * 4 + [ReadingSource.ESTIMATE, ReadingSource.MANUAL])),
        "faulty": draw(st.sampled_from([False] * 6 + [True])),
    }
    if odd:  # a value the rules refuse or flag: too many decimals, out of range, below zero
        name = draw(st.sampled_from(["volume_m3", "flow_temperature_c", "operating_hours", "power_kw", "energy"]))
        odd_value = draw(
            st.sampled_from([Decimal("1.0000000001"), Decimal(-1), Decimal(260), Decimal("12.3456"), Decimal(10**9)])
        )
        if name == "energy":
            energy = odd_value
        else:
            values[name] = odd_value
    return ReadingValues(measured_at, energy, **values)


class _StoredHistory:
    """The meter's readings as its events recorded them (what the store would answer)."""

    def __init__(self, meter: Meter) -> None:
        self.kept: dict[datetime, RememberedReading] = {}
        self.meter = meter

    def readings_around(self, measured_at: datetime) -> list[RememberedReading] | None:
        for pending in self.meter.pending_events:
            if isinstance(pending, Meter.ReadingRecorded):
                self.kept[pending.measured_at] = pending.remembered()
            elif isinstance(pending, Meter.ReadingVoided):
                self.kept.pop(pending.measured_at, None)
        return readings_around(self.kept.values(), measured_at)


def _outcome(record: Any, meter: Meter, values: ReadingValues, received_at: datetime, history: Any) -> Any:
    try:
        return str(record(meter, values, received_at, BATCH, "device", "upload", history))
    except ReadingRejectedError as error:
        return (error.reason, error.message, error.message_key, error.params)


def _fields(event: Any) -> dict[str, Any]:
    return {"type": type(event).__qualname__} | {
        name: value for name, value in event.__dict__.items() if name != "timestamp"
    }


@settings(max_examples=300)
@given(data=st.data(), plan=meters(), window=st.sampled_from([3, 5, 100]))
def test_every_drawn_reading_is_judged_as_before(data: st.DataObject, plan: dict[str, Any], window: int) -> None:
    arrivals, skews = data.draw(readings(plan["energy_register_width_gj"]))
    with patch("domain.meter.READING_WINDOW_SIZE", window):
        faster, before = _commissioned(plan), _commissioned(plan)
        histories = _StoredHistory(faster), _StoredHistory(before)
        newest = COMMISSIONED_AT
        for values, skew in zip(arrivals, skews, strict=True):
            newest = max(newest, values.measured_at)
            received_at = newest + timedelta(minutes=skew)
            outcome = _outcome(Meter.record_reading, faster, values, received_at, histories[0])
            expected = _outcome(record_reading_before, before, values, received_at, histories[1])
            assert outcome == expected
            event(outcome if isinstance(outcome, str) else outcome[0])  # how far the draws reach
    made, made_before = faster.collect_events(), before.collect_events()
    assert [_fields(recorded) for recorded in made] == [_fields(recorded) for recorded in made_before]
    for recorded in made:
        event(type(recorded).__name__)
    assert faster.window == before.window
    assert (faster.verified_since, faster.readings_count, faster.error_flags, faster.version) == (
        before.verified_since,
        before.readings_count,
        before.error_flags,
        before.version,
    )
