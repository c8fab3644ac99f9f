"""The reading rules as they stood before issue 17's fourth pass (commit 0c9eef5), kept as an oracle.

``record_reading_before(meter, ...)`` judges a reading on a ``Meter`` the way ``Meter.record_reading``
did then: its checks written plainly, step by step, over the public rule functions
(``check_interval``, ``interval_breaches``, ``reading_breaches``) and the meter's window helpers,
with the event triggered through the library's ``trigger_event``. The faster paths in
``domain/meter.py`` are held to it by ``test_reading_rules_unchanged.py``: the same outcome, the
same rejection and its parameters, the same events and the same meter for every drawn reading.
Not used by the product.
"""

from __future__ import annotations

import bisect
import hashlib
from dataclasses import fields
from datetime import datetime
from decimal import Decimal
from typing import Any
from uuid import UUID

from domain.errors import ReadingRejectedError
from domain.heat_physics import check_interval
from domain.meter import (
    FUTURE_TOLERANCE,
    INSTANT_DECIMALS,
    MAXIMUM_ENERGY_RATE_GJ_PER_H,
    MAXIMUM_INSTANT_VALUE,
    MAXIMUM_INTERVAL,
    MAXIMUM_REGISTER_VALUE,
    MAXIMUM_TEMPERATURE_C,
    MINIMUM_TEMPERATURE_C,
    REGISTER_DECIMALS,
    Meter,
    RecordingOutcome,
)
from domain.rated_limits import InstantValues, IntervalFigures, RatedLimits, interval_breaches, reading_breaches
from domain.readings import IntervalQuality, MeteredInterval, ReadingHistory, ReadingValues, RememberedReading
from domain.values import AccuracyClass, FlowSensorSide, MeterKind, ReadingSource


def _reject(reason: str, message: str, *, message_key: str | None = None, **params: Any) -> ReadingRejectedError:
    return ReadingRejectedError(reason, message, message_key=message_key, **params)


def fingerprint_before(values: ReadingValues) -> str:
    """The fingerprint by its definition: ``name=value`` of every field but the source."""
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


def _bounded(value: Decimal, lowest: Decimal, highest: Decimal, decimals: int) -> bool:
    if not value.is_finite() or not lowest <= value < highest:
        return False
    return value == value.quantize(Decimal(1).scaleb(-decimals))


def validate_values_before(values: ReadingValues, received_at: datetime) -> None:
    if values.measured_at.tzinfo is None:
        raise _reject("naive_timestamp", "measured_at must carry a time zone")
    if values.measured_at > received_at + FUTURE_TOLERANCE:
        raise _reject(
            "future_timestamp",
            "the reading is timed in the future",
            measured_at=values.measured_at.isoformat(),
            received_at=received_at.isoformat(),
        )
    registers = (
        ("energy", values.energy_gj, REGISTER_DECIMALS),
        ("volume", values.volume_m3, REGISTER_DECIMALS),
        ("operating_hours", values.operating_hours, INSTANT_DECIMALS),
    )
    for name, value, decimals in registers:
        if value is not None and not _bounded(value, Decimal(0), MAXIMUM_REGISTER_VALUE, decimals):
            raise _reject(
                "invalid_register",
                f"the {name} register value {value} must lie in 0…{MAXIMUM_REGISTER_VALUE} "
                f"with at most {decimals} decimals",
                message_key="register_out_of_range",
                register=name,
                value=str(value),
                places=decimals,
            )
    instants = (
        ("flow_temperature_c", values.flow_temperature_c, MINIMUM_TEMPERATURE_C, MAXIMUM_TEMPERATURE_C),
        ("return_temperature_c", values.return_temperature_c, MINIMUM_TEMPERATURE_C, MAXIMUM_TEMPERATURE_C),
        ("flow_rate_m3_h", values.flow_rate_m3_h, -MAXIMUM_INSTANT_VALUE, MAXIMUM_INSTANT_VALUE),
        ("power_kw", values.power_kw, -MAXIMUM_INSTANT_VALUE, MAXIMUM_INSTANT_VALUE),
    )
    for name, value, lowest, highest in instants:
        if value is not None and not _bounded(value, lowest, highest, INSTANT_DECIMALS):
            reason = "invalid_temperature" if name.endswith("_c") else "invalid_instant"
            raise _reject(
                reason,
                f"{name} {value} must lie in {lowest}…{highest} with at most {INSTANT_DECIMALS} decimals",
                field=name,
                value=str(value),
            )


def _check_within_register_widths(meter: Meter, values: ReadingValues) -> None:
    widths = (
        ("energy", values.energy_gj, meter.energy_register_width_gj),
        ("volume", values.volume_m3, meter.volume_register_width_m3),
    )
    for name, value, width in widths:
        if value is not None and width is not None and value >= width:
            message = f"the {name} register value {value} is not below its width {width}"
            raise _reject(
                "invalid_register",
                message,
                message_key="register_beyond_width",
                register=name,
                value=str(value),
                width=str(width),
            )


def _limits(meter: Meter) -> RatedLimits:
    return RatedLimits(
        meter.permanent_flow_m3_h,
        meter.maximum_flow_m3_h,
        meter.minimum_temperature_c,
        meter.maximum_temperature_c,
        meter.minimum_temperature_difference_k,
    )


def _check_energy_rate(meter: Meter, start: RememberedReading | None, end: RememberedReading | None) -> None:
    if start is None or end is None:
        return
    if end.measured_at - start.measured_at > MAXIMUM_INTERVAL:
        raise _reject(
            "interval_too_long",
            f"the reading lies more than {MAXIMUM_INTERVAL.days} days from its neighbour",
            days=MAXIMUM_INTERVAL.days,
        )
    hours = Decimal((end.measured_at - start.measured_at).total_seconds()) / 3600
    increase = end.energy_unwrapped_gj - start.energy_unwrapped_gj
    kind = MeterKind(meter._kind)
    limit = MAXIMUM_ENERGY_RATE_GJ_PER_H[kind] * max(hours, Decimal(1))
    if increase > limit:
        raise _reject(
            "implausible_increase",
            f"the energy register rose by {increase} GJ in {hours:.2f} h, more than a {kind.value} meter can",
            increase_gj=str(increase),
        )


def _remember(meter: Meter, values: ReadingValues, fingerprint: str, position: int) -> RememberedReading:
    previous = meter.window[position - 1] if position > 0 else None
    following = meter.window[position] if position < len(meter.window) else None
    energy_unwrapped = meter._unwrapped(
        values.energy_gj,
        previous,
        following,
        "energy",
        meter.energy_register_width_gj,
        lambda reading: (reading.energy_register_gj, reading.energy_unwrapped_gj),
    )
    volume_unwrapped = None
    if values.volume_m3 is not None:
        volume_unwrapped = meter._unwrapped(
            values.volume_m3,
            meter._nearest(position, -1, lambda reading: reading.volume_register_m3 is not None),
            meter._nearest(position, +1, lambda reading: reading.volume_register_m3 is not None),
            "volume",
            meter.volume_register_width_m3,
            lambda reading: (reading.volume_register_m3 or Decimal(0), reading.volume_unwrapped_m3 or Decimal(0)),
        )
    meter._check_operating_hours(
        values.operating_hours,
        meter._nearest(position, -1, lambda reading: reading.operating_hours is not None),
        meter._nearest(position, +1, lambda reading: reading.operating_hours is not None),
    )
    remembered = RememberedReading(
        measured_at=values.measured_at,
        energy_register_gj=values.energy_gj,
        energy_unwrapped_gj=energy_unwrapped,
        volume_register_m3=values.volume_m3,
        volume_unwrapped_m3=volume_unwrapped,
        operating_hours=values.operating_hours,
        flow_temperature_c=values.flow_temperature_c,
        return_temperature_c=values.return_temperature_c,
        fingerprint=fingerprint,
        faulty=values.faulty,
        estimated=values.source == ReadingSource.ESTIMATE,
    )
    _check_energy_rate(meter, previous, remembered)
    _check_energy_rate(meter, remembered, following)
    return remembered


def interval_before(meter: Meter, start: RememberedReading, end: RememberedReading) -> MeteredInterval:
    """The interval checked by ``check_interval``, then flagged by ``interval_breaches``."""
    energy = end.energy_unwrapped_gj - start.energy_unwrapped_gj
    volume = None
    if start.volume_unwrapped_m3 is not None and end.volume_unwrapped_m3 is not None:
        volume = end.volume_unwrapped_m3 - start.volume_unwrapped_m3
    quality = IntervalQuality.MEASURED
    if start.estimated or end.estimated:
        quality = IntervalQuality.ESTIMATED
    if start.faulty or end.faulty:
        quality = IntervalQuality.FAULTY
    household = meter.household_for_interval(start.measured_at, end.measured_at)
    if quality is not IntervalQuality.MEASURED:
        return MeteredInterval(start.measured_at, end.measured_at, energy, volume, household, quality=quality)
    hours = Decimal((end.measured_at - start.measured_at).total_seconds()) / 3600
    check = None
    temperatures = (
        start.flow_temperature_c,
        start.return_temperature_c,
        end.flow_temperature_c,
        end.return_temperature_c,
    )
    if volume is not None and None not in temperatures:
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
    figures = IntervalFigures(
        energy,
        volume,
        hours,
        InstantValues(start.flow_temperature_c, start.return_temperature_c),
        InstantValues(end.flow_temperature_c, end.return_temperature_c),
    )
    breaches = ",".join(rule.value for rule in interval_breaches(figures, _limits(meter)))
    if check is None:
        return MeteredInterval(
            start.measured_at, end.measured_at, energy, volume, household, quality=quality, limit_breaches=breaches
        )
    return MeteredInterval(
        start.measured_at,
        end.measured_at,
        energy,
        volume,
        household,
        check.expected_energy_gj,
        check.deviation_percent,
        check.permissible_error_percent,
        quality,
        breaches,
    )


def reading_breaches_before(meter: Meter, values: ReadingValues) -> str:
    if values.faulty or values.source == ReadingSource.ESTIMATE:
        return ""
    instant = InstantValues(
        values.flow_temperature_c, values.return_temperature_c, values.flow_rate_m3_h, values.power_kw
    )
    side, accuracy = FlowSensorSide(meter._flow_sensor_side), AccuracyClass(meter._accuracy_class)
    return ",".join(rule.value for rule in reading_breaches(instant, _limits(meter), side, accuracy))


def record_reading_before(
    meter: Meter,
    values: ReadingValues,
    received_at: datetime,
    batch_id: UUID,
    actor: str,
    reason: str,
    history: ReadingHistory | None = None,
) -> RecordingOutcome:
    """``Meter.record_reading`` as it was, step by step."""
    validate_values_before(values, received_at)
    _check_within_register_widths(meter, values)
    if values.measured_at < meter.commissioned_at:
        raise _reject("before_commissioning", "the reading is older than the meter's commissioning")
    if meter.decommissioned_at is not None and values.measured_at > meter.decommissioned_at:
        raise _reject("after_decommissioning", "the reading is newer than the meter's decommissioning")
    fingerprint = fingerprint_before(values)
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
        remembered = _remember(meter, values, fingerprint, position)
        intervals = []
        if previous is not None:
            intervals.append(interval_before(meter, previous, remembered))
        if following is not None:
            intervals.append(interval_before(meter, remembered, following))
    meter._true_up(estimates, batch_id, actor)
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
        limit_breaches=reading_breaches_before(meter, values),
    )
    is_real = values.source != ReadingSource.ESTIMATE
    if following is None and is_real and values.error_flags != meter.error_flags:
        meter._report_fault_change(values, batch_id, actor, reason)
    return RecordingOutcome.ACCEPTED
