"""The reading rules' fast paths (issue 17) give what their plain paths give.

Each cached or shortened computation is compared with the computation it replaced: k of a
temperature pair with the uncached function, a meter's shared rated limits with limits built anew
(verdicts of every rule, for limits written with other exponents too), the fingerprint with its
definition over ``dataclasses.fields``, a register's decimals check with the quantum made per call,
the reading event triggered directly with the one the command method's decorator triggers, and an
interval made at once with the interval checked, then flagged with its breaches (as it was made).
"""

from __future__ import annotations

import bisect
import hashlib
from dataclasses import fields, replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from functools import partial
from typing import Any
from unittest.mock import patch
from uuid import UUID, uuid4

from hypothesis import given, settings
from hypothesis import strategies as st

from application.event_encoding import FastEncodingTranscoder
from application.ledger import HeatLedger
from domain.errors import ReadingRejectedError
from domain.heat_physics import check_interval, heat_coefficient_mj_per_m3_k
from domain.meter import (
    Meter,
    RecordingOutcome,
    _reject,
    _validate_values,
)
from domain.rated_limits import (
    InstantValues,
    IntervalFigures,
    RatedLimits,
    interval_breaches,
    joined,
    joined_interval_breaches,
    joined_reading_breaches,
    reading_breaches,
    shared_limits,
)
from domain.readings import IntervalQuality, MeteredInterval, ReadingValues, RememberedReading
from domain.values import AccuracyClass, FlowSensorSide, MeterKind, ReadingSource
from tests.strategies import COMMISSIONED_AT, MEMORY_ENVIRONMENT, RECEIVED_LATER, context, new_meter
from tests.unit.domain.reading_rules_before import validate_values_before

temperatures = st.decimals(min_value=Decimal(-5), max_value=Decimal(210), places=3)
sides = st.sampled_from(list(FlowSensorSide))


def _plain_coefficient(flow_c: Decimal, return_c: Decimal, side: FlowSensorSide) -> Decimal | str:
    try:
        return heat_coefficient_mj_per_m3_k.__wrapped__(flow_c, return_c, side)
    except ValueError as error:
        return str(error)


def _cached_coefficient(flow_c: Decimal, return_c: Decimal, side: FlowSensorSide) -> Decimal | str:
    try:
        return heat_coefficient_mj_per_m3_k(flow_c, return_c, side)
    except ValueError as error:
        return str(error)


@given(flow_c=temperatures, return_c=temperatures, side=sides, exponent=st.integers(min_value=-6, max_value=0))
def test_k_cached_per_pair_is_k_of_the_pair(
    flow_c: Decimal, return_c: Decimal, side: FlowSensorSide, exponent: int
) -> None:
    # The same values with more trailing zeros come from the cache under the first pair's key.
    wider_flow = flow_c.quantize(Decimal(1).scaleb(min(exponent, flow_c.as_tuple().exponent)))  # type: ignore[arg-type]
    first = _cached_coefficient(flow_c, return_c, side)
    again = _cached_coefficient(wider_flow, return_c, side.value)  # type: ignore[arg-type]
    plain = _plain_coefficient(wider_flow, return_c, side)
    assert first == again == plain
    assert str(first) == str(again) == str(plain)  # the same Decimal, not only an equal one


def _with_other_exponent(value: Decimal | None, zeros: int) -> Decimal | None:
    if value is None:
        return None
    return value.quantize(Decimal(1).scaleb(value.as_tuple().exponent - zeros))  # type: ignore[operator]


flows = st.decimals(min_value=Decimal("0.1"), max_value=Decimal(50), places=2)
instants = st.one_of(st.none(), st.decimals(min_value=Decimal(-10), max_value=Decimal(220), places=2))


@st.composite
def limit_values(draw: st.DrawFn) -> RatedLimits:
    permanent = draw(flows)
    maximum = draw(st.one_of(st.none(), flows.map(lambda extra: permanent + extra)))
    lowest = draw(st.decimals(min_value=Decimal(0), max_value=Decimal(50), places=1))
    highest = lowest + draw(st.decimals(min_value=Decimal(1), max_value=Decimal(150), places=1))
    difference = draw(st.sampled_from([Decimal(1), Decimal(3), Decimal(5), Decimal(10)]))
    return RatedLimits(permanent, maximum, lowest, highest, difference)


@given(
    limits=limit_values(),
    zeros=st.integers(min_value=0, max_value=3),
    instant=st.builds(InstantValues, instants, instants, st.one_of(st.none(), flows), st.one_of(st.none(), flows)),
    end=st.builds(InstantValues, instants, instants),
    energy=st.decimals(min_value=Decimal(-1), max_value=Decimal(5), places=3),
    volume=st.one_of(st.none(), st.decimals(min_value=Decimal(0), max_value=Decimal(500), places=2)),
    hours=st.decimals(min_value=Decimal(0), max_value=Decimal(2000), places=2),
    side=sides,
    accuracy=st.sampled_from(list(AccuracyClass)),
)
def test_shared_limits_judge_as_limits_built_anew(
    limits: RatedLimits,
    zeros: int,
    instant: InstantValues,
    end: InstantValues,
    energy: Decimal,
    volume: Decimal | None,
    hours: Decimal,
    side: FlowSensorSide,
    accuracy: AccuracyClass,
) -> None:
    values = [getattr(limits, field.name) for field in fields(RatedLimits)]
    shared = shared_limits(*values)
    assert shared == limits
    # Limits of the same values written otherwise may come back as the object cached first.
    shared_other = shared_limits(*(_with_other_exponent(value, zeros) for value in values))
    assert shared_other == limits
    figures = IntervalFigures(energy, volume, hours, instant, end)
    for candidate in (shared, shared_other):
        assert reading_breaches(instant, candidate, side, accuracy) == reading_breaches(instant, limits, side, accuracy)
        assert interval_breaches(figures, candidate) == interval_breaches(figures, limits)


def _plain_fingerprint(values: ReadingValues) -> str:
    """The fingerprint as it was defined before its fields were named once."""
    parts = []
    for field in fields(values):
        if field.name == "source":
            continue
        value = getattr(values, field.name)
        if isinstance(value, Decimal):
            value = value.normalize()
        elif isinstance(value, datetime):
            value = value.timestamp()
        parts.append(f"{field.name}={value}")
    return hashlib.sha256("|".join(parts).encode()).hexdigest()[:20]


registers = st.decimals(min_value=Decimal(0), max_value=Decimal(10**6), places=4)
optional = st.one_of(st.none(), registers)


@given(
    values=st.builds(
        ReadingValues,
        measured_at=st.datetimes(timezones=st.just(UTC)),
        energy_gj=registers,
        volume_m3=optional,
        operating_hours=optional,
        flow_temperature_c=instants,
        return_temperature_c=instants,
        flow_rate_m3_h=optional,
        power_kw=optional,
        error_flags=st.integers(min_value=0, max_value=255),
        source=st.sampled_from(list(ReadingSource)),
        faulty=st.booleans(),
    )
)
def test_the_fingerprint_is_its_definition(values: ReadingValues) -> None:
    assert values.fingerprint() == _plain_fingerprint(values)


# Any finite decimal (exponents that normalise to 1E+3 and such), and values that are not
# Decimals at all where a caller passed them (ints, a Decimal subclass): written as before.
class _OtherDecimal(Decimal):
    pass


any_value = st.one_of(
    st.none(),
    st.decimals(allow_nan=False, allow_infinity=False),
    st.integers(),
    st.decimals(allow_nan=False, allow_infinity=False).map(_OtherDecimal),
)


@given(
    measured_at=st.datetimes(timezones=st.just(UTC)),
    energy=any_value,
    others=st.tuples(*[any_value] * 6),
    error_flags=st.integers(),
    faulty=st.booleans(),
)
def test_the_fingerprint_of_any_values_is_its_definition(
    measured_at: datetime, energy: Any, others: tuple[Any, ...], error_flags: int, faulty: bool
) -> None:
    volume, hours, flow_c, return_c, flow_rate, power = others
    values = ReadingValues(
        measured_at, energy, volume, hours, flow_c, return_c, flow_rate, power, error_flags, faulty=faulty
    )
    assert values.fingerprint() == _plain_fingerprint(values)


# The bounds themselves (0, 10⁹, ±10⁹, -50 and 250 °C) written several ways, beside any decimal.
bounds = st.sampled_from(
    [Decimal(v) for v in ("1E+9", "1000000000.000", "-1E+9", "-0", "0E-12", "250", "250.0001", "-50", "-50.000")]
    + [Decimal(10**9) - Decimal("1E-9"), Decimal(10**9) - Decimal("1E-10"), Decimal("sNaN"), Decimal("-Infinity")]
)
any_decimal = st.one_of(
    st.none(),
    st.decimals(allow_nan=True, allow_infinity=True),
    st.decimals(places=12, min_value=-(10**9), max_value=10**9),
    st.decimals(places=3, min_value=-60, max_value=260),
    bounds,
    bounds,
)


def _validation(validate: Any, values: ReadingValues, received_at: datetime) -> Any:
    try:
        validate(values, received_at)
    except ReadingRejectedError as error:
        return (error.reason, error.message, error.message_key, error.params)
    return None


@settings(max_examples=400)
@given(
    measured_at=st.one_of(*[st.datetimes(timezones=st.just(UTC))] * 5, st.datetimes()),
    energy=any_decimal.filter(lambda value: value is not None),
    others=st.tuples(*[any_decimal] * 6),
    skew_minutes=st.one_of(st.just(0), st.integers(min_value=-10, max_value=10)),
)
def test_values_are_validated_as_before(
    measured_at: datetime, energy: Decimal, others: tuple[Any, ...], skew_minutes: int
) -> None:
    volume, hours, flow_c, return_c, flow_rate, power = others
    values = ReadingValues(measured_at, energy, volume, hours, flow_c, return_c, flow_rate, power)
    received_at = measured_at.replace(tzinfo=UTC) + timedelta(minutes=skew_minutes)
    assert _validation(_validate_values, values, received_at) == _validation(
        validate_values_before, values, received_at
    )


def _event_fields(event: Any) -> dict[str, Any]:
    state = dict(event.__dict__)
    state.pop("timestamp")
    return state


@given(
    energy=st.decimals(min_value=Decimal("0.01"), max_value=Decimal("0.49"), places=3),
    volume=st.decimals(min_value=Decimal("0.1"), max_value=Decimal(30), places=2),
    flow=st.decimals(min_value=Decimal(40), max_value=Decimal(80), places=1),
    drop=st.decimals(min_value=Decimal(-2), max_value=Decimal(30), places=1),
    hours=st.integers(min_value=1, max_value=72),
)
def test_the_reading_event_is_the_one_the_command_method_triggers(
    energy: Decimal, volume: Decimal, flow: Decimal, drop: Decimal, hours: int
) -> None:
    meter = new_meter()
    first = ReadingValues(COMMISSIONED_AT + timedelta(days=1), Decimal(100), Decimal(1000), None, flow, flow - drop)
    second = ReadingValues(
        first.measured_at + timedelta(hours=hours),
        Decimal(100) + energy,
        Decimal(1000) + volume,
        None,
        flow,
        flow - drop,
    )
    batch = uuid4()
    meter.record_reading(first, RECEIVED_LATER, batch, "device", "test")
    meter.record_reading(second, RECEIVED_LATER, batch, "device", "test")
    recorded = [event for event in meter.collect_events() if isinstance(event, Meter.ReadingRecorded)]
    # The same fields through the command method's decorator, on a meter replayed to the same state.
    replica = new_meter()
    replica.collect_events()
    for event in recorded:
        fields_of = {name: value for name, value in _event_fields(event).items() if not name.startswith("originator")}
        replica._reading_recorded(**fields_of)
    decorated = [event for event in replica.collect_events() if isinstance(event, Meter.ReadingRecorded)]
    assert [type(event) for event in decorated] == [type(event) for event in recorded]
    assert [_event_fields(event) for event in decorated] == [
        _event_fields(event) | {"originator_id": replica.id} for event in recorded
    ]
    assert replica.window == meter.window and replica.version == meter.version
    assert datetime.now(UTC) - recorded[-1].timestamp < timedelta(minutes=5)
    _assert_made_as_the_library_makes_it(recorded)
    assert (meter.version, meter.modified_on) == (recorded[-1].originator_version, recorded[-1].timestamp)


def _plain_interval(meter: Meter, start: RememberedReading, end: RememberedReading) -> MeteredInterval:
    """The interval as it was made before it was made once: checked, then flagged by replace()."""
    energy = end.energy_unwrapped_gj - start.energy_unwrapped_gj
    volume = None
    if start.volume_unwrapped_m3 is not None and end.volume_unwrapped_m3 is not None:
        volume = end.volume_unwrapped_m3 - start.volume_unwrapped_m3
    quality = IntervalQuality.MEASURED
    if start.estimated or end.estimated:
        quality = IntervalQuality.ESTIMATED
    if start.faulty or end.faulty:
        quality = IntervalQuality.FAULTY
    interval = MeteredInterval(
        start.measured_at,
        end.measured_at,
        energy,
        volume,
        meter.household_for_interval(start.measured_at, end.measured_at),
        quality=quality,
    )
    temperatures = (
        start.flow_temperature_c,
        start.return_temperature_c,
        end.flow_temperature_c,
        end.return_temperature_c,
    )
    hours = Decimal((end.measured_at - start.measured_at).total_seconds()) / 3600
    if volume is not None and quality is IntervalQuality.MEASURED and None not in temperatures:
        start_flow, start_return, end_flow, end_return = (t for t in temperatures if t is not None)
        try:
            check = check_interval(
                energy,
                volume,
                hours,
                (start_flow + end_flow) / 2,
                (start_return + end_return) / 2,
                FlowSensorSide(meter._flow_sensor_side),
                AccuracyClass(meter._accuracy_class),
                meter.permanent_flow_m3_h,
            )
        except ValueError:
            check = None
        if check is not None:
            interval = MeteredInterval(
                interval.start,
                interval.end,
                energy,
                volume,
                interval.household_id,
                check.expected_energy_gj,
                check.deviation_percent,
                check.permissible_error_percent,
                quality,
            )
    if interval.quality != IntervalQuality.MEASURED:
        return interval
    figures = IntervalFigures(
        interval.energy_gj,
        interval.volume_m3,
        hours,
        InstantValues(start.flow_temperature_c, start.return_temperature_c),
        InstantValues(end.flow_temperature_c, end.return_temperature_c),
    )
    limits = RatedLimits(
        meter.permanent_flow_m3_h,
        meter.maximum_flow_m3_h,
        meter.minimum_temperature_c,
        meter.maximum_temperature_c,
        meter.minimum_temperature_difference_k,
    )
    breaches = ",".join(rule.value for rule in interval_breaches(figures, limits))
    return replace(interval, limit_breaches=breaches) if breaches else interval


@st.composite
def remembered_readings(draw: st.DrawFn, measured_at: datetime) -> RememberedReading:
    energy = draw(st.decimals(min_value=Decimal(0), max_value=Decimal(50), places=3))
    volume = draw(st.one_of(st.none(), st.decimals(min_value=Decimal(0), max_value=Decimal(900), places=2)))
    return RememberedReading(
        measured_at=measured_at,
        energy_register_gj=energy,
        energy_unwrapped_gj=energy,
        volume_register_m3=volume,
        volume_unwrapped_m3=volume,
        operating_hours=None,
        flow_temperature_c=draw(instants),
        return_temperature_c=draw(instants),
        fingerprint="x",
        faulty=draw(st.booleans()),
        estimated=draw(st.booleans()),
    )


@given(
    data=st.data(),
    hours=st.integers(min_value=1, max_value=24 * 40),
    side=sides,
    accuracy=st.sampled_from(list(AccuracyClass)),
    attached_hours=st.one_of(st.none(), st.integers(min_value=-48, max_value=24 * 40)),
)
def test_an_interval_made_once_is_the_interval_checked_then_flagged(
    data: st.DataObject, hours: int, side: FlowSensorSide, accuracy: AccuracyClass, attached_hours: int | None
) -> None:
    meter = Meter.commission("M-1", "", "", accuracy, side, MeterKind.HOUSEHOLD, COMMISSIONED_AT, context())
    start_moment = COMMISSIONED_AT + timedelta(days=2)
    if attached_hours is not None:
        meter.attach_to(uuid4(), start_moment + timedelta(hours=attached_hours), context())
    start = data.draw(remembered_readings(start_moment))
    end = data.draw(remembered_readings(start_moment + timedelta(hours=hours)))
    made = meter._interval(start, end)
    plain = _plain_interval(meter, start, end)
    assert made == plain
    assert [type(getattr(made, name)) for name in MeteredInterval.__slots__] == [
        type(getattr(plain, name)) for name in MeteredInterval.__slots__
    ]


@st.composite
def reading_sequences(draw: st.DrawFn) -> list[ReadingValues]:
    """Readings of one meter in any order: late ones, repeats, conflicts, estimates, faults."""
    days = draw(st.lists(st.integers(min_value=1, max_value=12), min_size=1, max_size=14))
    readings = []
    for day in days:
        energy = Decimal(100) + Decimal(day) * draw(st.sampled_from([Decimal("0.3"), Decimal("0.31")]))
        readings.append(
            ReadingValues(
                COMMISSIONED_AT + timedelta(days=day),
                energy,
                Decimal(1000) + Decimal(day) * 3,
                None,
                Decimal(60),
                Decimal(45),
                error_flags=draw(st.sampled_from([0, 0, 4])),
                source=draw(st.sampled_from([ReadingSource.NBIOT, ReadingSource.NBIOT, ReadingSource.ESTIMATE])),
            )
        )
    return readings


def _plain_record_reading(
    meter: Meter, values: ReadingValues, received_at: datetime, batch_id: UUID, actor: str, reason: str
) -> RecordingOutcome:
    """``Meter.record_reading`` as it was before it skipped its window context managers."""
    history = None
    _validate_values(values, received_at)
    meter._check_within_register_widths(values)
    if values.measured_at < meter.commissioned_at:
        raise _reject("before_commissioning", "the reading is older than the meter's commissioning")
    if meter.decommissioned_at is not None and values.measured_at > meter.decommissioned_at:
        raise _reject("after_decommissioning", "the reading is newer than the meter's decommissioning")
    fingerprint = values.fingerprint()
    estimates = meter._estimates_to_true_up(values)
    with meter._window_without(len(estimates)), meter._window_with_history(values.measured_at, history):
        position = bisect.bisect_left(meter.window, values.measured_at, key=lambda reading: reading.measured_at)
        if position < len(meter.window) and meter.window[position].measured_at == values.measured_at:
            if meter.window[position].fingerprint == fingerprint:
                return RecordingOutcome.DUPLICATE
            raise _reject(
                "conflicting_reading",
                "a different reading exists for the same time",
                measured_at=values.measured_at.isoformat(),
            )
        if values.source == ReadingSource.ESTIMATE and position < len(meter.window):
            raise _reject("estimate_not_newest", "an estimate may only extend the meter's history")
        previous = meter.window[position - 1] if position > 0 else None
        following = meter.window[position] if position < len(meter.window) else None
        remembered = meter._remember(values, fingerprint, position)
        intervals = meter._intervals_around(previous, remembered, following)
    meter._true_up(estimates, batch_id, actor)
    # The event ``_reading_recorded`` triggers, triggered directly with every field named: the
    # command method's decorator would only match these keywords to its parameters again.
    meter.trigger_event(
        Meter.ReadingRecorded,
        measured_at=values.measured_at,
        energy_gj=values.energy_gj,
        volume_m3=values.volume_m3,
        operating_hours=values.operating_hours,
        flow_temperature_c=values.flow_temperature_c,
        return_temperature_c=values.return_temperature_c,
        flow_rate_m3_h=values.flow_rate_m3_h,
        power_kw=values.power_kw,
        error_flags=values.error_flags,
        source=ReadingSource(values.source).value,
        faulty=values.faulty,
        fingerprint=fingerprint,
        energy_unwrapped_gj=remembered.energy_unwrapped_gj,
        volume_unwrapped_m3=remembered.volume_unwrapped_m3,
        intervals=intervals,
        replaced_interval_start=previous.measured_at if previous and following else None,
        replaced_interval_end=following.measured_at if previous and following else None,
        batch_id=batch_id,
        actor=actor,
        reason=reason,
        limit_breaches=meter._reading_breaches(values),
    )
    # An estimate knows nothing of the meter's faults: only real readings change the fault state.
    is_real = values.source != ReadingSource.ESTIMATE
    if following is None and is_real and values.error_flags != meter.error_flags:
        meter._report_fault_change(values, batch_id, actor, reason)
    return RecordingOutcome.ACCEPTED


def _outcomes(meter: Meter, readings: list[ReadingValues], plain: bool = False) -> list[str]:
    outcomes, batch = [], UUID(int=7)
    for reading in readings:
        try:
            record = partial(_plain_record_reading, meter) if plain else meter.record_reading
            outcomes.append(str(record(reading, RECEIVED_LATER, batch, "device", "test")))
        except ReadingRejectedError as error:
            outcomes.append(error.reason)
    return outcomes


@given(readings=reading_sequences(), window=st.integers(min_value=2, max_value=5))
def test_a_reading_placed_without_the_windows_is_placed_as_with_them(
    readings: list[ReadingValues], window: int
) -> None:
    """``record_reading`` skips its two window context managers when neither changes the window
    (no estimate to true up, not older than the window): the same outcomes, events and window
    as the method that always entered them, with a small window so some readings fall beyond it."""
    with patch("domain.meter.READING_WINDOW_SIZE", window):
        fast, always = new_meter(), new_meter()
        assert _outcomes(fast, readings) == _outcomes(always, readings, plain=True)
    fast_events = [_event_fields(event) for event in fast.collect_events()[1:]]
    always_events = [_event_fields(event) for event in always.collect_events()[1:]]
    assert fast_events == always_events
    assert fast.window == always.window and fast.verified_since == always.verified_since


def _assert_made_as_the_library_makes_it(recorded: list[Any]) -> None:
    """Each reading event made directly (``Meter._record_new_reading``) is the event its class's
    ``__init__`` makes of the same fields: equal, its attributes in the same order, stored as the
    same bytes (the library's own encoder)."""
    transcoder = HeatLedger(env=MEMORY_ENVIRONMENT).mapper.transcoder
    assert isinstance(transcoder, FastEncodingTranscoder)
    for made in recorded:
        constructed = Meter.ReadingRecorded(**made.__dict__)
        assert made == constructed and type(made) is type(constructed)
        assert list(made.__dict__) == list(constructed.__dict__) == [field.name for field in fields(constructed)]
        stored, library = (
            super(FastEncodingTranscoder, transcoder).encode(dict(event.__dict__)) for event in (made, constructed)
        )
        assert stored == library


@given(readings=reading_sequences())
def test_reading_events_made_directly_are_the_events_the_library_makes(readings: list[ReadingValues]) -> None:
    """Over random readings (late ones, estimates trued up, faults): every reading event the
    command made directly is the one the class makes, and the meter replayed from the events
    equals the meter that made them."""
    meter = new_meter()
    _outcomes(meter, readings)
    events = meter.collect_events()
    _assert_made_as_the_library_makes_it([event for event in events if isinstance(event, Meter.ReadingRecorded)])
    # The library's replay: each event's ``mutate``, through the decorated method's body.
    replayed = None
    for event in events:
        replayed = event.mutate(replayed)
    assert replayed is not None
    assert (replayed.window, replayed.readings_count, replayed.version) == (
        meter.window,
        meter.readings_count,
        meter.version,
    )
    assert replayed.modified_on == meter.modified_on


# Mostly present (every rule has its values), near the edges: temperatures in and out of a range,
# differences at the usual minimums, powers near and far from q·k·Δθ.
seldom_none = partial(st.one_of, st.none())
edge_temperatures = st.one_of(st.integers(min_value=-5, max_value=210).map(Decimal), instants)
edge_differences = st.sampled_from([Decimal(v) for v in ("-1", "0", "1", "2.99", "3", "3.00", "5", "10", "25")])


@st.composite
def edge_instants(draw: st.DrawFn) -> InstantValues:
    flow_c = draw(seldom_none(edge_temperatures, edge_temperatures, edge_temperatures))
    difference = draw(edge_differences)
    return_c = draw(seldom_none(st.just(flow_c - difference if flow_c is not None else None), edge_temperatures))
    rate = draw(seldom_none(flows, flows, st.just(Decimal(0))))
    power = draw(seldom_none(flows, flows, st.just(Decimal(0)), st.decimals(min_value=0, max_value=300, places=3)))
    return InstantValues(flow_c, return_c, rate, power)


@settings(max_examples=500)
@given(
    limits=limit_values(),
    instant=st.one_of(
        edge_instants(),
        st.builds(InstantValues, instants, instants, st.one_of(st.none(), flows), st.one_of(st.none(), flows)),
    ),
    side=sides,
    accuracy=st.sampled_from(list(AccuracyClass)),
)
def test_a_reading_s_breaches_joined_at_once_are_the_rules_joined(
    limits: RatedLimits, instant: InstantValues, side: FlowSensorSide, accuracy: AccuracyClass
) -> None:
    at_once = joined_reading_breaches(
        instant.flow_temperature_c,
        instant.return_temperature_c,
        instant.flow_rate_m3_h,
        instant.power_kw,
        limits,
        side,
        accuracy,
    )
    assert at_once == joined(reading_breaches(instant, limits, side, accuracy))


@settings(max_examples=500)
@given(
    limits=limit_values(),
    start=st.one_of(edge_instants(), st.builds(InstantValues, instants, instants)),
    end=st.one_of(edge_instants(), st.builds(InstantValues, instants, instants)),
    energy=st.decimals(min_value=Decimal(-1), max_value=Decimal(5), places=3),
    volume=st.one_of(st.none(), st.decimals(min_value=Decimal(-1), max_value=Decimal(5000), places=2)),
    hours=st.one_of(
        st.decimals(min_value=Decimal(-2), max_value=Decimal(2000), places=2),
        st.integers(min_value=0, max_value=100).map(lambda days: Decimal(24 * days)),  # whole days: ceil's edge
    ),
)
def test_an_interval_s_breaches_joined_at_once_are_the_rules_joined(
    limits: RatedLimits,
    start: InstantValues,
    end: InstantValues,
    energy: Decimal,
    volume: Decimal | None,
    hours: Decimal,
) -> None:
    at_once = joined_interval_breaches(
        energy,
        volume,
        hours,
        start.flow_temperature_c,
        start.return_temperature_c,
        end.flow_temperature_c,
        end.return_temperature_c,
        limits,
    )
    assert at_once == joined(interval_breaches(IntervalFigures(energy, volume, hours, start, end), limits))
