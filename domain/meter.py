"""The Meter aggregate: a heat meter's identity, its attachment to a household, and its readings.

State stays bounded: the meter remembers its most recent readings (a window of
``READING_WINDOW_SIZE``) to judge duplicates, conflicts and late readings; everything else lives
in the events and the projections.
"""

from __future__ import annotations

import bisect
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from enum import StrEnum
from typing import Any
from uuid import UUID

from eventsourcing.domain import Aggregate, event

from domain import ids
from domain.day_split import MAXIMUM_INTERVAL_DAYS
from domain.errors import ConflictError, InvalidInputError, NotFoundError, ReadingRejectedError
from domain.heat_physics import DEFAULT_PERMANENT_FLOW_M3_H, PlausibilityCheck, check_interval
from domain.implausible_heat import HeatDecision, IntervalEvidence, check_decision
from domain.rated_limits import RatedLimits, joined_interval_breaches, joined_reading_breaches, shared_limits
from domain.readings import (
    Attachment,
    IntervalQuality,
    MeteredInterval,
    ReadingHistory,
    ReadingValues,
    RememberedReading,
    household_charged,
)
from domain.values import (
    MAXIMUM_CODE_LENGTH,
    MAXIMUM_NAME_LENGTH,
    AccuracyClass,
    CommandContext,
    FlowSensorSide,
    MeterKind,
    ReadingSource,
    bounded_text,
)
from domain.verification import JudgedPoint, TestPoint, judge_points

# How many recent readings a meter remembers: about three months of daily readings, four days of
# hourly ones. A reading older than the window is checked against its neighbours from the stored
# history (``ReadingHistory``) instead.
READING_WINDOW_SIZE = 100
# Clocks of devices drift; a reading this far ahead of the ledger's clock is still accepted.
FUTURE_TOLERANCE = timedelta(minutes=5)
# A register that wraps must have been within this share of its width of the top, so that a
# faulty register dropping to a small value is not mistaken for a rollover.
ROLLOVER_MARGIN_SHARE = Decimal("0.1")
# The longest span between two readings of a meter: as long as an interval may be split into days.
MAXIMUM_INTERVAL = timedelta(days=MAXIMUM_INTERVAL_DAYS)
# Largest plausible average power per meter kind in GJ per hour (0.5 GJ/h ≈ 139 kW for a flat).
MAXIMUM_ENERGY_RATE_GJ_PER_H = {
    MeterKind.HOUSEHOLD: Decimal("0.5"),
    MeterKind.BUILDING: Decimal(20),
    MeterKind.SUBSTATION_PRIMARY: Decimal(500),
}
# Largest register value the ledger takes (a 12-digit register in GJ).
# Registers are taken to 1 J (1e-9 GJ) and 1e-9 m³ at the finest, below 10⁹ GJ (a 100 MW
# substation runs 300 years to get there): the read models store them exactly in 64-bit integers.
MAXIMUM_REGISTER_VALUE = Decimal(10) ** 9
REGISTER_DECIMALS = 9
# Temperatures, flow rates, power and operating hours: 3 decimals, magnitudes below 10⁹.
INSTANT_DECIMALS = 3
MAXIMUM_INSTANT_VALUE = Decimal(10) ** 9
MINIMUM_TEMPERATURE_C = Decimal(-50)
MAXIMUM_TEMPERATURE_C = Decimal(250)


_ACCURACY_CLASSES = {member.value: member for member in AccuracyClass}
_FLOW_SENSOR_SIDES = {member.value: member for member in FlowSensorSide}
_METER_KINDS = {member.value: member for member in MeterKind}
_READING_SOURCES = {member.value: member for member in ReadingSource}


def _measured_at(reading: RememberedReading) -> datetime:
    return reading.measured_at


# What ``Meter._remember`` asks of the neighbours of a reading (made once, not per reading).
def _energy_registers(reading: RememberedReading) -> tuple[Decimal, Decimal]:
    return reading.energy_register_gj, reading.energy_unwrapped_gj


def _volume_registers(reading: RememberedReading) -> tuple[Decimal, Decimal]:
    return reading.volume_register_m3 or Decimal(0), reading.volume_unwrapped_m3 or Decimal(0)


def _has_volume(reading: RememberedReading) -> bool:
    return reading.volume_register_m3 is not None


def _has_operating_hours(reading: RememberedReading) -> bool:
    return reading.operating_hours is not None


class RecordingOutcome(StrEnum):
    """What happened to a reading that was not rejected."""

    ACCEPTED = "accepted"
    DUPLICATE = "duplicate"


def _reject(reason: str, message: str, *, message_key: str | None = None, **params: Any) -> ReadingRejectedError:
    return ReadingRejectedError(reason, message, message_key=message_key, **params)


def _register_increase(previous: Decimal, current: Decimal, width: Decimal | None, register: str) -> Decimal:
    """How much a register grew from ``previous`` to ``current``, across a rollover if it has a width."""
    if current >= previous:
        return current - previous
    if width is not None and (width - previous) + current < width * ROLLOVER_MARGIN_SHARE:
        return (width - previous) + current
    raise _reject(
        "register_backwards",
        f"the {register} register went backwards from {previous} to {current}",
        register=register,
        previous=str(previous),
        current=str(current),
    )


def _inconsistent_with_next(register: str) -> ReadingRejectedError:
    message = f"the {register} register does not fit between the readings around it"
    return _reject("inconsistent_with_next", message, register=register)


def _increase_to_next(current: Decimal, following: Decimal, width: Decimal | None, register: str) -> Decimal:
    """The increase from a reading to the later one it is placed before. A later reading below this
    one means this reading does not fit before it (as for operating hours), not that the register
    went backwards over time."""
    try:
        return _register_increase(current, following, width, register)
    except ReadingRejectedError:
        raise _inconsistent_with_next(register) from None


def _validate_values(values: ReadingValues, received_at: datetime) -> None:
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
        # Finite, within [0, maximum) and written with at most ``decimals`` decimals, written out
        # rather than called (a reading checks seven values; the call cost as much as the check).
        if value is not None and not (
            value.is_finite() and _ZERO <= value < MAXIMUM_REGISTER_VALUE and value == value.quantize(_QUANTA[decimals])
        ):
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
        ("flow_rate_m3_h", values.flow_rate_m3_h, _LOWEST_INSTANT, MAXIMUM_INSTANT_VALUE),
        ("power_kw", values.power_kw, _LOWEST_INSTANT, MAXIMUM_INSTANT_VALUE),
    )
    instant_quantum = _QUANTA[INSTANT_DECIMALS]
    for name, value, lowest, highest in instants:
        if value is not None and not (
            value.is_finite() and lowest <= value < highest and value == value.quantize(instant_quantum)
        ):
            reason = "invalid_temperature" if name.endswith("_c") else "invalid_instant"
            raise _reject(
                reason,
                f"{name} {value} must lie in {lowest}…{highest} with at most {INSTANT_DECIMALS} decimals",
                field=name,
                value=str(value),
            )


# 10^-decimals of the places values are checked to, made once (a reading checks up to seven values).
_QUANTA = {decimals: Decimal(1).scaleb(-decimals) for decimals in (INSTANT_DECIMALS, REGISTER_DECIMALS)}
_ZERO, _ONE, _LOWEST_INSTANT = Decimal(0), Decimal(1), -MAXIMUM_INSTANT_VALUE


class Meter(Aggregate):
    """A heat meter (natural key: its serial number) and the readings it reported."""

    class Commissioned(Aggregate.Created):
        # Version 2 adds the rest of the meter model's rated limits beside q_p (domain/rated_limits.py).
        class_version = 2
        serial: str
        maker: str
        model: str
        accuracy_class: str
        flow_sensor_side: str
        kind: str
        permanent_flow_m3_h: Decimal
        energy_register_width_gj: Decimal | None
        volume_register_width_m3: Decimal | None
        community: str
        building: str
        commissioned_at: datetime
        actor: str
        reason: str
        correlation_id: UUID
        maximum_flow_m3_h: Decimal | None
        minimum_temperature_c: Decimal
        maximum_temperature_c: Decimal
        minimum_temperature_difference_k: Decimal

        @staticmethod
        def upcast_v1_v2(state: dict[str, Any]) -> None:
            # Meters commissioned before rated limits existed get the defaults of their kind.
            limits = RatedLimits.declared(MeterKind(state["kind"]), state["permanent_flow_m3_h"])
            state["maximum_flow_m3_h"] = limits.maximum_flow_m3_h
            state["minimum_temperature_c"] = limits.minimum_temperature_c
            state["maximum_temperature_c"] = limits.maximum_temperature_c
            state["minimum_temperature_difference_k"] = limits.minimum_temperature_difference_k

    class AttachedToHousehold(Aggregate.Event):
        household_id: UUID
        attached_at: datetime
        actor: str
        reason: str
        correlation_id: UUID

    class DetachedFromHousehold(Aggregate.Event):
        household_id: UUID
        detached_at: datetime
        actor: str
        reason: str
        correlation_id: UUID

    class ReadingRecorded(Aggregate.Event):
        # Version 2 adds the rated limits the reading's instant values break (domain/rated_limits.py).
        class_version = 2
        measured_at: datetime
        energy_gj: Decimal
        volume_m3: Decimal | None
        operating_hours: Decimal | None
        flow_temperature_c: Decimal | None
        return_temperature_c: Decimal | None
        flow_rate_m3_h: Decimal | None
        power_kw: Decimal | None
        error_flags: int
        source: str
        faulty: bool
        fingerprint: str
        energy_unwrapped_gj: Decimal
        volume_unwrapped_m3: Decimal | None
        intervals: list[MeteredInterval]
        replaced_interval_start: datetime | None
        replaced_interval_end: datetime | None
        batch_id: UUID
        actor: str
        reason: str
        limit_breaches: str

        @staticmethod
        def upcast_v1_v2(state: dict[str, Any]) -> None:
            state["limit_breaches"] = ""  # recorded before rated limits were checked

        def remembered(self) -> RememberedReading:
            """What a meter keeps of this reading to judge other readings against it."""
            return RememberedReading(
                measured_at=self.measured_at,
                energy_register_gj=self.energy_gj,
                energy_unwrapped_gj=self.energy_unwrapped_gj,
                volume_register_m3=self.volume_m3,
                volume_unwrapped_m3=self.volume_unwrapped_m3,
                operating_hours=self.operating_hours,
                flow_temperature_c=self.flow_temperature_c,
                return_temperature_c=self.return_temperature_c,
                fingerprint=self.fingerprint,
                faulty=self.faulty,
                estimated=self.source == ReadingSource.ESTIMATE,
            )

    class FaultReported(Aggregate.Event):
        """The meter's error flags (M-Bus 0xFD 0x17) changed to a non-zero value."""

        error_flags: int
        previous_error_flags: int
        measured_at: datetime
        batch_id: UUID
        actor: str
        reason: str

    class FaultCleared(Aggregate.Event):
        """The meter's error flags went back to zero."""

        previous_error_flags: int
        measured_at: datetime
        batch_id: UUID
        actor: str
        reason: str

    class Decommissioned(Aggregate.Event):
        decommissioned_at: datetime
        actor: str
        reason: str
        correlation_id: UUID

    class VerificationRecorded(Aggregate.Event):
        verified_on: date
        certificate: str
        points: list[JudgedPoint]
        passed: bool
        actor: str
        reason: str
        correlation_id: UUID

    class ReadingVoided(Aggregate.Event):
        """A reading withdrawn by a clerk. The intervals it bounded are replaced by one merged
        interval between its neighbours (when it had both)."""

        measured_at: datetime
        removed_interval_starts: list[datetime]
        merged_interval: MeteredInterval | None
        actor: str
        reason: str
        correlation_id: UUID

    class FaultyIntervalEstimated(Aggregate.Event):
        """The energy of an interval bounded by a faulty reading, estimated for billing; the
        interval's register difference stays in the record but is not billed."""

        interval_start: datetime
        interval_end: datetime
        estimated_energy_gj: Decimal
        method: str
        actor: str
        reason: str
        correlation_id: UUID

    @staticmethod
    def create_id(serial: str) -> UUID:
        return ids.meter_id(serial)

    @event(Commissioned)
    def __init__(
        self,
        serial: str,
        maker: str,
        model: str,
        accuracy_class: str,
        flow_sensor_side: str,
        kind: str,
        permanent_flow_m3_h: Decimal,
        energy_register_width_gj: Decimal | None,
        volume_register_width_m3: Decimal | None,
        community: str,
        building: str,
        commissioned_at: datetime,
        actor: str,
        reason: str,
        correlation_id: UUID,
        maximum_flow_m3_h: Decimal | None,
        minimum_temperature_c: Decimal,
        maximum_temperature_c: Decimal,
        minimum_temperature_difference_k: Decimal,
    ) -> None:
        self.serial = serial
        self.maker = maker
        self.model = model
        # Enumerations are kept as their values: a snapshot gives a StrEnum back as a plain str.
        self._accuracy_class = accuracy_class
        self._flow_sensor_side = flow_sensor_side
        self._kind = kind
        self.permanent_flow_m3_h = permanent_flow_m3_h
        self.maximum_flow_m3_h = maximum_flow_m3_h
        self.minimum_temperature_c = minimum_temperature_c
        self.maximum_temperature_c = maximum_temperature_c
        self.minimum_temperature_difference_k = minimum_temperature_difference_k
        self.energy_register_width_gj = energy_register_width_gj
        self.volume_register_width_m3 = volume_register_width_m3
        self.community = community
        self.building = building
        self.commissioned_at = commissioned_at
        self.attachments: list[Attachment] = []
        self.window: list[RememberedReading] = []
        # Readings before this moment fell out of the window and can no longer be verified.
        self.verified_since: datetime | None = None
        self.readings_count = 0
        # The error flags of the newest reading; a change is a FaultReported or FaultCleared event.
        self.error_flags = 0
        self.decommissioned_at: datetime | None = None
        self.last_verification_passed: bool | None = None

    @classmethod
    def commission(
        cls,
        serial: str,
        maker: str,
        model: str,
        accuracy_class: AccuracyClass,
        flow_sensor_side: FlowSensorSide,
        kind: MeterKind,
        commissioned_at: datetime,
        context: CommandContext,
        community: str = "",
        building: str = "",
        permanent_flow_m3_h: Decimal = DEFAULT_PERMANENT_FLOW_M3_H,
        energy_register_width_gj: Decimal | None = None,
        volume_register_width_m3: Decimal | None = None,
        maximum_flow_m3_h: Decimal | None = None,
        minimum_temperature_c: Decimal | None = None,
        maximum_temperature_c: Decimal | None = None,
        minimum_temperature_difference_k: Decimal | None = None,
    ) -> Meter:
        """Put a meter into service. Building and substation meters name where they sit.

        The rated limits (q_p, q_s, θ_min, θ_max, Δθ_min) not given take the defaults of the
        meter's kind (``RatedLimits.declared``); readings beyond them are flagged."""
        serial = bounded_text(serial, "serial", MAXIMUM_CODE_LENGTH)
        maker = bounded_text(maker, "maker", MAXIMUM_NAME_LENGTH, required=False)
        model = bounded_text(model, "model", MAXIMUM_NAME_LENGTH, required=False)
        community = bounded_text(community, "community", MAXIMUM_NAME_LENGTH, required=False)
        building = bounded_text(building, "building", MAXIMUM_CODE_LENGTH, required=False)
        if commissioned_at.tzinfo is None:
            raise InvalidInputError(
                "commissioned_at must carry a time zone", message_key="naive_datetime", field="commissioned_at"
            )
        if permanent_flow_m3_h <= 0:
            raise InvalidInputError(
                "the permanent flow rate must be positive",
                message_key="permanent_flow_not_positive",
                field="permanent_flow_m3_h",
            )
        limits = RatedLimits.declared(
            kind,
            permanent_flow_m3_h,
            maximum_flow_m3_h,
            minimum_temperature_c,
            maximum_temperature_c,
            minimum_temperature_difference_k,
        )
        for name, width in (
            ("energy_register_width_gj", energy_register_width_gj),
            ("volume_register_width_m3", volume_register_width_m3),
        ):
            if width is not None and width <= 0:
                raise InvalidInputError(
                    "a register width must be positive", message_key="register_width_not_positive", field=name
                )
        if MeterKind(kind) is not MeterKind.HOUSEHOLD and not (community and building):
            raise InvalidInputError(
                "a building or substation meter needs its community and building",
                message_key="meter_place_missing",
                field="building",
            )
        return cls(
            serial=serial,
            maker=maker,
            model=model,
            accuracy_class=AccuracyClass(accuracy_class).value,
            flow_sensor_side=FlowSensorSide(flow_sensor_side).value,
            kind=MeterKind(kind).value,
            permanent_flow_m3_h=permanent_flow_m3_h,
            energy_register_width_gj=energy_register_width_gj,
            volume_register_width_m3=volume_register_width_m3,
            community=community,
            building=building,
            commissioned_at=commissioned_at,
            actor=context.actor,
            reason=context.reason,
            correlation_id=context.correlation_id,
            maximum_flow_m3_h=limits.maximum_flow_m3_h,
            minimum_temperature_c=limits.minimum_temperature_c,
            maximum_temperature_c=limits.maximum_temperature_c,
            minimum_temperature_difference_k=limits.minimum_temperature_difference_k,
        )

    @property
    def rated_limits(self) -> RatedLimits:
        """What the meter model is specified for (a snapshot older than rated limits: the defaults)."""
        state = self.__dict__
        if "minimum_temperature_c" not in state:
            return RatedLimits.declared(self.kind, self.permanent_flow_m3_h)
        return shared_limits(
            self.permanent_flow_m3_h,
            state["maximum_flow_m3_h"],
            state["minimum_temperature_c"],
            state["maximum_temperature_c"],
            state["minimum_temperature_difference_k"],
        )

    # The members are looked up by value (a reading asks for them several times; calling the
    # enumeration costs a microsecond); a value no member has still raises as the call does.
    @property
    def accuracy_class(self) -> AccuracyClass:
        return _ACCURACY_CLASSES.get(self._accuracy_class) or AccuracyClass(self._accuracy_class)

    @property
    def flow_sensor_side(self) -> FlowSensorSide:
        return _FLOW_SENSOR_SIDES.get(self._flow_sensor_side) or FlowSensorSide(self._flow_sensor_side)

    @property
    def kind(self) -> MeterKind:
        return _METER_KINDS.get(self._kind) or MeterKind(self._kind)

    # -- attachment ---------------------------------------------------------------------------

    @property
    def household_id(self) -> UUID | None:
        """The household the meter serves now, if any."""
        if self.attachments and self.attachments[-1].detached_at is None:
            return self.attachments[-1].household_id
        return None

    def household_at(self, moment: datetime) -> UUID | None:
        """The household the meter served at ``moment``."""
        for attachment in reversed(self.attachments):
            if attachment.covers(moment):
                return attachment.household_id
        return None

    def household_for_interval(self, start: datetime, end: datetime) -> UUID | None:
        """The household an interval's heat is charged to (the rule: ``household_charged``)."""
        return household_charged(self.attachments, start, end)

    def attach_to(self, household_id: UUID, attached_at: datetime, context: CommandContext) -> None:
        """Attach to a household; a meter serves one household at a time."""
        self._require_in_service()
        if self.kind is not MeterKind.HOUSEHOLD:
            raise ConflictError(
                "only a household meter can be attached to a household",
                message_key="not_a_household_meter",
                meter_serial=self.serial,
            )
        if self.household_id is not None:
            raise ConflictError(
                "the meter is already attached to a household",
                message_key="meter_already_attached",
                meter_serial=self.serial,
            )
        if attached_at.tzinfo is None:
            raise InvalidInputError(
                "attached_at must carry a time zone", message_key="naive_datetime", field="attached_at"
            )
        if (
            self.attachments
            and self.attachments[-1].detached_at is not None
            and attached_at < self.attachments[-1].detached_at
        ):
            raise InvalidInputError(
                "the meter cannot be attached before it was last detached",
                message_key="attached_before_detached",
                field="attached_at",
            )
        self._attached(household_id, attached_at, context.actor, context.reason, context.correlation_id)
        self._recharge_intervals_after(attached_at, context)

    @event(AttachedToHousehold)
    def _attached(
        self, household_id: UUID, attached_at: datetime, actor: str, reason: str, correlation_id: UUID
    ) -> None:
        self.attachments.append(Attachment(household_id, attached_at))

    def detach(self, detached_at: datetime, context: CommandContext) -> UUID:
        """Detach from the current household; returns that household's id."""
        current = self.household_id
        if current is None:
            raise ConflictError(
                "the meter is not attached to a household", message_key="meter_not_attached", meter_serial=self.serial
            )
        if detached_at.tzinfo is None:
            raise InvalidInputError(
                "detached_at must carry a time zone", message_key="naive_datetime", field="detached_at"
            )
        if detached_at < self.attachments[-1].attached_at:
            raise InvalidInputError(
                "the meter cannot be detached before it was attached",
                message_key="detached_before_attached",
                field="detached_at",
            )
        self._detached(current, detached_at, context.actor, context.reason, context.correlation_id)
        self._recharge_intervals_after(detached_at, context)
        return current

    @event(DetachedFromHousehold)
    def _detached(
        self, household_id: UUID, detached_at: datetime, actor: str, reason: str, correlation_id: UUID
    ) -> None:
        last = self.attachments[-1]
        self.attachments[-1] = Attachment(last.household_id, last.attached_at, detached_at)

    # -- late paperwork: attachments changed after the readings that follow them ---------------

    class IntervalsRecharged(Aggregate.Event):
        """An attachment change took effect at ``since``, before readings already recorded: every
        interval of the meter ending after ``since`` is charged again by ``household_charged`` over
        ``attachments`` (the meter's attachments as they now stand). The compensating event of the
        charges its earlier ``ReadingRecorded`` events carry; those stay as they were."""

        since: datetime
        attachments: list[Attachment]
        actor: str
        reason: str
        correlation_id: UUID

    def _recharge_intervals_after(self, since: datetime, context: CommandContext) -> None:
        """Re-charge the intervals recorded past an attachment change that takes effect at ``since``.

        An interval ending at or before ``since`` keeps its household: the change cannot alter the
        rule's answer for it. The meter remembers only its newest readings, so the event names the
        moment and the attachments, and the read models find the intervals concerned."""
        latest = self.latest_reading
        if latest is None or latest.measured_at <= since:
            return
        attachments = list(self.attachments)
        self._intervals_recharged(since, attachments, context.actor, context.reason, context.correlation_id)

    @event(IntervalsRecharged)
    def _intervals_recharged(
        self, since: datetime, attachments: list[Attachment], actor: str, reason: str, correlation_id: UUID
    ) -> None:
        # The attachments are already in the state: the event only tells the read models.
        assert attachments == self.attachments, "the event carries the meter's attachments"

    # -- lifecycle ----------------------------------------------------------------------------

    def _require_in_service(self) -> None:
        if self.decommissioned_at is not None:
            raise ConflictError(
                "the meter is decommissioned", message_key="meter_decommissioned", meter_serial=self.serial
            )

    def decommission(self, decommissioned_at: datetime, context: CommandContext) -> None:
        """Take the meter out of service for good; it must have been detached first."""
        self._require_in_service()
        if self.household_id is not None:
            raise ConflictError(
                "detach the meter from its household before decommissioning it",
                message_key="decommission_attached",
                meter_serial=self.serial,
            )
        if decommissioned_at.tzinfo is None:
            raise InvalidInputError(
                "decommissioned_at must carry a time zone", message_key="naive_datetime", field="decommissioned_at"
            )
        latest = self.latest_reading
        if decommissioned_at < self.commissioned_at or (latest is not None and decommissioned_at < latest.measured_at):
            raise InvalidInputError(
                "the meter cannot be decommissioned before its commissioning or its newest reading",
                message_key="decommissioned_too_early",
                field="decommissioned_at",
            )
        self._decommissioned(decommissioned_at, context.actor, context.reason, context.correlation_id)

    @event(Decommissioned)
    def _decommissioned(self, decommissioned_at: datetime, actor: str, reason: str, correlation_id: UUID) -> None:
        self.decommissioned_at = decommissioned_at

    def record_verification(
        self, verified_on: date, certificate: str, points: list[TestPoint], context: CommandContext
    ) -> bool:
        """Record a verification (JJG 225): each test point against the class's MPE; returns pass/fail."""
        judged = judge_points(points, self.accuracy_class, self.permanent_flow_m3_h)
        passed = all(point.passed for point in judged)
        certificate = bounded_text(certificate, "certificate", MAXIMUM_NAME_LENGTH, required=False)
        self._verification_recorded(
            verified_on, certificate, judged, passed, context.actor, context.reason, context.correlation_id
        )
        return passed

    @event(VerificationRecorded)
    def _verification_recorded(
        self,
        verified_on: date,
        certificate: str,
        points: list[JudgedPoint],
        passed: bool,
        actor: str,
        reason: str,
        correlation_id: UUID,
    ) -> None:
        self.last_verification_passed = passed

    def void_reading(self, measured_at: datetime, context: CommandContext) -> None:
        """Withdraw a remembered reading (a correction event; the original stays in the history)."""
        position = bisect.bisect_left(self.window, measured_at, key=lambda reading: reading.measured_at)
        if position == len(self.window) or self.window[position].measured_at != measured_at:
            if self.verified_since is not None and measured_at < self.verified_since:
                raise ConflictError("the reading is too old to be withdrawn here", message_key="void_outside_window")
            raise NotFoundError(f"no reading at {measured_at.isoformat()}", kind="reading", key=measured_at.isoformat())
        if position == 0 and self.verified_since is not None:
            # Its interval from an older reading the meter no longer remembers cannot be redone here.
            raise ConflictError("the reading is too old to be withdrawn here", message_key="void_outside_window")
        previous = self.window[position - 1] if position > 0 else None
        following = self.window[position + 1] if position + 1 < len(self.window) else None
        # Intervals are keyed by their start: previous → this one, and this one → following.
        removed = []
        if previous is not None:
            removed.append(previous.measured_at)
        if following is not None:
            removed.append(measured_at)
        merged = self._interval(previous, following) if previous is not None and following is not None else None
        self._reading_voided(measured_at, removed, merged, context.actor, context.reason, context.correlation_id)

    @event(ReadingVoided)
    def _reading_voided(
        self,
        measured_at: datetime,
        removed_interval_starts: list[datetime],
        merged_interval: MeteredInterval | None,
        actor: str,
        reason: str,
        correlation_id: UUID,
    ) -> None:
        position = bisect.bisect_left(self.window, measured_at, key=lambda reading: reading.measured_at)
        del self.window[position]
        self.readings_count -= 1
        for start in removed_interval_starts:
            self._set_faulty_estimate(start, None)  # the interval it estimated is gone

    def estimate_faulty_interval(
        self, interval_start: datetime, estimated_energy_gj: Decimal, method: str, context: CommandContext
    ) -> bool:
        """Record the estimated energy of the faulty interval starting at ``interval_start``.

        Returns False (and records nothing) when the interval already has this estimate."""
        position = bisect.bisect_left(self.window, interval_start, key=lambda reading: reading.measured_at)
        found = position + 1 < len(self.window) and self.window[position].measured_at == interval_start
        if not found or not (self.window[position].faulty or self.window[position + 1].faulty):
            raise ConflictError(
                "no faulty interval of this meter starts at that time",
                message_key="interval_not_faulty",
                interval_start=interval_start.isoformat(),
            )
        if not estimated_energy_gj.is_finite() or not 0 <= estimated_energy_gj < MAXIMUM_REGISTER_VALUE:
            raise InvalidInputError("an estimate must be a non-negative energy", field="estimated_energy_gj")
        if self.window[position].faulty_estimate_gj == estimated_energy_gj:
            return False
        end = self.window[position + 1].measured_at
        self._faulty_interval_estimated(
            interval_start, end, estimated_energy_gj, method, context.actor, context.reason, context.correlation_id
        )
        return True

    @event(FaultyIntervalEstimated)
    def _faulty_interval_estimated(
        self,
        interval_start: datetime,
        interval_end: datetime,
        estimated_energy_gj: Decimal,
        method: str,
        actor: str,
        reason: str,
        correlation_id: UUID,
    ) -> None:
        self._set_faulty_estimate(interval_start, estimated_energy_gj)

    def _set_faulty_estimate(self, interval_start: datetime, estimate: Decimal | None) -> None:
        position = bisect.bisect_left(self.window, interval_start, key=lambda reading: reading.measured_at)
        if position < len(self.window) and self.window[position].measured_at == interval_start:
            self.window[position] = replace(self.window[position], faulty_estimate_gj=estimate)

    # -- readings -----------------------------------------------------------------------------

    @property
    def latest_reading(self) -> RememberedReading | None:
        return self.window[-1] if self.window else None

    def record_reading(
        self,
        values: ReadingValues,
        received_at: datetime,
        batch_id: UUID,
        actor: str,
        reason: str,
        history: ReadingHistory | None = None,
    ) -> RecordingOutcome:
        """Judge a reading by the reading rules and record it if it passes.

        Returns DUPLICATE for a reading the meter already has; raises ReadingRejectedError with
        the rule's name as ``reason`` for one that breaks a rule. Nothing changes unless accepted.
        A reading older than every reading the meter remembers is judged against its neighbours
        from ``history``; without one it is refused (``outside_window``).
        """
        _validate_values(values, received_at)
        self._check_within_register_widths(values)
        if values.measured_at < self.commissioned_at:
            raise _reject("before_commissioning", "the reading is older than the meter's commissioning")
        if self.decommissioned_at is not None and values.measured_at > self.decommissioned_at:
            raise _reject("after_decommissioning", "the reading is newer than the meter's decommissioning")
        fingerprint = values.fingerprint()
        estimates = self._estimates_to_true_up(values)
        if estimates or self._beyond_window(values.measured_at):
            with self._window_without(len(estimates)), self._window_with_history(values.measured_at, history):
                placed = self._place(values, fingerprint)
        else:
            # The commonest reading: newer than the window's first, no estimate to true up. The
            # two windows above would be the window itself (two context managers saved a reading).
            placed = self._place(values, fingerprint)
        if placed is None:
            return RecordingOutcome.DUPLICATE
        previous, following, remembered, intervals = placed
        self._true_up(estimates, batch_id, actor)
        # The event ``_reading_recorded`` triggers, made and applied directly (``_record_new_reading``):
        # the library's ``trigger_event`` would build the same event from keywords and apply it
        # through the decorator, matching the event's fields to the method's parameters again.
        self._record_new_reading(
            {
                "originator_id": self.id,
                "originator_version": self.version + 1,
                "timestamp": Meter.ReadingRecorded.create_timestamp(),
                "measured_at": values.measured_at,
                "energy_gj": values.energy_gj,
                "volume_m3": values.volume_m3,
                "operating_hours": values.operating_hours,
                "flow_temperature_c": values.flow_temperature_c,
                "return_temperature_c": values.return_temperature_c,
                "flow_rate_m3_h": values.flow_rate_m3_h,
                "power_kw": values.power_kw,
                "error_flags": values.error_flags,
                "source": (_READING_SOURCES.get(values.source) or ReadingSource(values.source)).value,
                "faulty": values.faulty,
                "fingerprint": fingerprint,
                "energy_unwrapped_gj": remembered.energy_unwrapped_gj,
                "volume_unwrapped_m3": remembered.volume_unwrapped_m3,
                "intervals": intervals,
                "replaced_interval_start": previous.measured_at if previous and following else None,
                "replaced_interval_end": following.measured_at if previous and following else None,
                "batch_id": batch_id,
                "actor": actor,
                "reason": reason,
                "limit_breaches": self._reading_breaches(values),
            },
            remembered,
        )
        # An estimate knows nothing of the meter's faults: only real readings change the fault state.
        is_real = values.source != ReadingSource.ESTIMATE
        if following is None and is_real and values.error_flags != self.error_flags:
            self._report_fault_change(values, batch_id, actor, reason)
        return RecordingOutcome.ACCEPTED

    def _place(
        self, values: ReadingValues, fingerprint: str
    ) -> tuple[RememberedReading | None, RememberedReading | None, RememberedReading, list[MeteredInterval]] | None:
        """Place the reading in the window as it stands: None for a duplicate, else its neighbours,
        what the meter will remember of it and the intervals around it; a reason to refuse it raises."""
        position = bisect.bisect_left(self.window, values.measured_at, key=_measured_at)
        if position < len(self.window) and self.window[position].measured_at == values.measured_at:
            if self.window[position].fingerprint == fingerprint:
                return None
            raise _reject(
                "conflicting_reading",
                "a different reading exists for the same time",
                measured_at=values.measured_at.isoformat(),
            )
        if values.source == ReadingSource.ESTIMATE and position < len(self.window):
            raise _reject("estimate_not_newest", "an estimate may only extend the meter's history")
        previous = self.window[position - 1] if position > 0 else None
        following = self.window[position] if position < len(self.window) else None
        remembered = self._remember(values, fingerprint, position)
        return previous, following, remembered, self._intervals_around(previous, remembered, following)

    def _beyond_window(self, measured_at: datetime) -> bool:
        """Whether a reading at ``measured_at`` is judged with the history beyond the window (the
        condition under which ``_window_with_history`` joins the history to the window)."""
        first_kept = self.verified_since
        window = self.window
        return not (first_kept is None or (window and window[0].measured_at <= measured_at))

    @contextmanager
    def _window_with_history(self, measured_at: datetime, history: ReadingHistory | None) -> Iterator[None]:
        """Judge a reading older than the window against the window joined to the readings the
        history holds around it (those older than the window: the window knows the rest)."""
        window = self.window
        first_kept = self.verified_since
        if first_kept is None or (window and window[0].measured_at <= measured_at):
            yield
            return
        older = self._older_readings_around(measured_at, history, first_kept)
        self.window = older + window
        try:
            yield
        finally:
            self.window = window

    @staticmethod
    def _older_readings_around(
        measured_at: datetime, history: ReadingHistory | None, first_kept: datetime
    ) -> list[RememberedReading]:
        around = history.readings_around(measured_at) if history is not None else None
        if around is None:
            raise _reject(
                "outside_window",
                "the reading is older than the readings the meter keeps and its stored neighbours cannot be "
                "checked; it is not recorded",
            )
        older = sorted((reading for reading in around if reading.measured_at < first_kept), key=_measured_at)
        moments = [reading.measured_at for reading in older]
        assert len(set(moments)) == len(moments), "the history holds one reading per moment"
        return older

    def _estimates_to_true_up(self, values: ReadingValues) -> list[RememberedReading]:
        """The estimated readings at the end of the window that a real reading replaces."""
        if values.source == ReadingSource.ESTIMATE:
            return []
        window = self.window
        if not window or not window[-1].estimated:
            return []  # the commonest case, without the slice
        count = 0
        while count < len(window) and window[-1 - count].estimated:
            count += 1
        return window[len(window) - count :]

    @contextmanager
    def _window_without(self, last: int) -> Iterator[None]:
        """Judge against the window as it will be once the last ``last`` readings are voided."""
        if last == 0:
            yield
            return
        window = self.window
        self.window = window[:-last]
        try:
            yield
        finally:
            self.window = window

    def _true_up(self, estimates: list[RememberedReading], batch_id: UUID, actor: str) -> None:
        """Void the estimates a real reading replaces, newest first: each takes its interval with it."""
        for estimate in reversed(estimates):
            position = self.window.index(estimate)
            removed = [self.window[position - 1].measured_at] if position > 0 else []
            self._reading_voided(estimate.measured_at, removed, None, actor, "trued up by a real reading", batch_id)

    def _report_fault_change(self, values: ReadingValues, batch_id: UUID, actor: str, reason: str) -> None:
        """The newest reading's error flags differ from the meter's: record the fault or its end."""
        if values.error_flags:
            self._fault_reported(values.error_flags, self.error_flags, values.measured_at, batch_id, actor, reason)
        else:
            self._fault_cleared(self.error_flags, values.measured_at, batch_id, actor, reason)

    @event(FaultReported)
    def _fault_reported(
        self,
        error_flags: int,
        previous_error_flags: int,
        measured_at: datetime,
        batch_id: UUID,
        actor: str,
        reason: str,
    ) -> None:
        self.error_flags = error_flags

    @event(FaultCleared)
    def _fault_cleared(
        self, previous_error_flags: int, measured_at: datetime, batch_id: UUID, actor: str, reason: str
    ) -> None:
        self.error_flags = 0

    def _check_within_register_widths(self, values: ReadingValues) -> None:
        """A register with a declared width shows 0 up to below the width; a larger value is a fault
        (it would also make a later rollover look like a negative increase)."""
        widths = (
            ("energy", values.energy_gj, self.energy_register_width_gj),
            ("volume", values.volume_m3, self.volume_register_width_m3),
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

    def _remember(self, values: ReadingValues, fingerprint: str, position: int) -> RememberedReading:
        """Place the reading at ``position`` in the window: unwrap its registers and check they fit
        between its neighbours. Volume and hours are checked against the nearest readings that
        have them, so a reading without volume in between cannot hide a volume going backwards."""
        previous = self.window[position - 1] if position > 0 else None
        following = self.window[position] if position < len(self.window) else None
        energy_unwrapped = self._unwrapped(
            values.energy_gj, previous, following, "energy", self.energy_register_width_gj, _energy_registers
        )
        # The neighbours with a volume or hours are looked for only when the reading has them
        # (without, neither check looks at them), and none is looked for after the newest.
        newest = position == len(self.window)
        volume_unwrapped = None
        if values.volume_m3 is not None:
            volume_unwrapped = self._unwrapped(
                values.volume_m3,
                self._nearest(position, -1, _has_volume),
                None if newest else self._nearest(position, +1, _has_volume),
                "volume",
                self.volume_register_width_m3,
                _volume_registers,
            )
        if values.operating_hours is not None:
            self._check_operating_hours(
                values.operating_hours,
                self._nearest(position, -1, _has_operating_hours),
                None if newest else self._nearest(position, +1, _has_operating_hours),
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
        self._check_energy_rate(previous, remembered)
        self._check_energy_rate(remembered, following)
        return remembered

    def _nearest(
        self, position: int, direction: int, has: Callable[[RememberedReading], bool]
    ) -> RememberedReading | None:
        """The closest remembered reading before (-1) or from (+1) ``position`` for which ``has`` holds."""
        window = self.window
        for index in range(position - 1, -1, -1) if direction < 0 else range(position, len(window)):
            reading = window[index]
            if has(reading):
                return reading
        return None

    @staticmethod
    def _unwrapped(
        register: Decimal,
        previous: RememberedReading | None,
        following: RememberedReading | None,
        name: str,
        width: Decimal | None,
        registers_of: Any,
    ) -> Decimal:
        """The register's value unwrapped across rollovers, checked against both neighbours."""
        if previous is not None:
            previous_register, previous_unwrapped = registers_of(previous)
            unwrapped: Decimal = previous_unwrapped + _register_increase(previous_register, register, width, name)
        elif following is not None:
            following_register, following_unwrapped = registers_of(following)
            unwrapped = following_unwrapped - _increase_to_next(register, following_register, width, name)
        else:
            unwrapped = register
        if following is not None:
            following_register, following_unwrapped = registers_of(following)
            if unwrapped + _increase_to_next(register, following_register, width, name) != following_unwrapped:
                raise _inconsistent_with_next(name)
        return unwrapped

    @staticmethod
    def _check_operating_hours(
        hours: Decimal | None, previous: RememberedReading | None, following: RememberedReading | None
    ) -> None:
        if hours is None:
            return
        if previous is not None and previous.operating_hours is not None and hours < previous.operating_hours:
            raise _reject(
                "register_backwards",
                "the operating hours went backwards",
                message_key="operating_hours_backwards",
                register="operating_hours",
            )
        if following is not None and following.operating_hours is not None and hours > following.operating_hours:
            raise _reject(
                "inconsistent_with_next", "the operating hours exceed the next reading's", register="operating_hours"
            )

    def _check_energy_rate(self, start: RememberedReading | None, end: RememberedReading | None) -> None:
        """Reject an energy increase no meter of this kind could register in the time between, and
        an interval too long to be shared across days (a meter silent for ten years)."""
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
        limit = MAXIMUM_ENERGY_RATE_GJ_PER_H[self.kind] * max(hours, _ONE)
        if increase > limit:
            raise _reject(
                "implausible_increase",
                f"the energy register rose by {increase} GJ in {hours:.2f} h, more than a {self.kind.value} meter can",
                increase_gj=str(increase),
            )

    def _intervals_around(
        self, previous: RememberedReading | None, current: RememberedReading, following: RememberedReading | None
    ) -> list[MeteredInterval]:
        intervals = []
        if previous is not None:
            intervals.append(self._interval(previous, current))
        if following is not None:
            intervals.append(self._interval(current, following))
        return intervals

    def _reading_breaches(self, values: ReadingValues) -> str:
        """The rated limits a real, sound reading's instant values break ("" for none)."""
        if values.faulty or values.source == ReadingSource.ESTIMATE:
            return ""  # a sensor fault is a fault already; an estimate shows no instants
        return joined_reading_breaches(
            values.flow_temperature_c,
            values.return_temperature_c,
            values.flow_rate_m3_h,
            values.power_kw,
            self.rated_limits,
            self.flow_sensor_side,
            self.accuracy_class,
        )

    def _interval(self, start: RememberedReading, end: RememberedReading) -> MeteredInterval:
        """The metered interval between two readings, with its k·Δθ·ΔV plausibility check and
        the rated limits it breaks (a measured interval only), made once with every field."""
        energy = end.energy_unwrapped_gj - start.energy_unwrapped_gj
        volume = None
        if start.volume_unwrapped_m3 is not None and end.volume_unwrapped_m3 is not None:
            volume = end.volume_unwrapped_m3 - start.volume_unwrapped_m3
        quality = IntervalQuality.MEASURED
        if start.estimated or end.estimated:
            quality = IntervalQuality.ESTIMATED
        if start.faulty or end.faulty:
            quality = IntervalQuality.FAULTY
        household = self.household_for_interval(start.measured_at, end.measured_at)
        if quality is not IntervalQuality.MEASURED:
            return MeteredInterval(start.measured_at, end.measured_at, energy, volume, household, quality=quality)
        hours = Decimal((end.measured_at - start.measured_at).total_seconds()) / 3600
        check = self._plausibility(start, end, energy, volume, hours)
        breaches = joined_interval_breaches(
            energy,
            volume,
            hours,
            start.flow_temperature_c,
            start.return_temperature_c,
            end.flow_temperature_c,
            end.return_temperature_c,
            self.rated_limits,
        )
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

    def _plausibility(
        self,
        start: RememberedReading,
        end: RememberedReading,
        energy: Decimal,
        volume: Decimal | None,
        hours: Decimal,
    ) -> PlausibilityCheck | None:
        """The k·Δθ·ΔV check of a measured interval from its ends' mean temperatures; None when
        it has no volume, an end lacks a temperature or the check cannot be made."""
        start_flow, start_return = start.flow_temperature_c, start.return_temperature_c
        end_flow, end_return = end.flow_temperature_c, end.return_temperature_c
        if volume is None or start_flow is None or start_return is None or end_flow is None or end_return is None:
            return None
        try:
            return check_interval(
                energy,
                volume,
                hours,
                (start_flow + end_flow) / 2,
                (start_return + end_return) / 2,
                self.flow_sensor_side,
                self.accuracy_class,
                self.permanent_flow_m3_h,
            )
        except ValueError:
            return None  # temperatures outside the physical range of the check: leave it unchecked

    @event(ReadingRecorded)
    def _reading_recorded(
        self,
        measured_at: datetime,
        energy_gj: Decimal,
        volume_m3: Decimal | None,
        operating_hours: Decimal | None,
        flow_temperature_c: Decimal | None,
        return_temperature_c: Decimal | None,
        flow_rate_m3_h: Decimal | None,
        power_kw: Decimal | None,
        error_flags: int,
        source: str,
        faulty: bool,
        fingerprint: str,
        energy_unwrapped_gj: Decimal,
        volume_unwrapped_m3: Decimal | None,
        intervals: list[MeteredInterval],
        replaced_interval_start: datetime | None,
        replaced_interval_end: datetime | None,
        batch_id: UUID,
        actor: str,
        reason: str,
        limit_breaches: str,
    ) -> None:
        remembered = RememberedReading(
            measured_at=measured_at,
            energy_register_gj=energy_gj,
            energy_unwrapped_gj=energy_unwrapped_gj,
            volume_register_m3=volume_m3,
            volume_unwrapped_m3=volume_unwrapped_m3,
            operating_hours=operating_hours,
            flow_temperature_c=flow_temperature_c,
            return_temperature_c=return_temperature_c,
            fingerprint=fingerprint,
            faulty=faulty,
            estimated=source == ReadingSource.ESTIMATE,
        )
        self._keep_reading(remembered, replaced_interval_start)

    def _keep_reading(self, remembered: RememberedReading, replaced_interval_start: datetime | None) -> None:
        """The state a recorded reading changes (the body of ``_reading_recorded``, shared with
        ``_record_new_reading``): what the meter remembers of it and its count."""
        if replaced_interval_start is not None:
            self._set_faulty_estimate(replaced_interval_start, None)  # the interval it estimated is split
        self.readings_count += 1
        if self.verified_since is not None and remembered.measured_at < self.verified_since:
            # Judged against the stored history: the window stays the newest readings without a gap.
            return
        bisect.insort(self.window, remembered, key=_measured_at)
        if len(self.window) > READING_WINDOW_SIZE:
            self.verified_since = self.window[1].measured_at
            del self.window[0]

    def _record_new_reading(self, state: dict[str, Any], remembered: RememberedReading) -> None:
        """Make a ``ReadingRecorded`` of ``state`` and apply it, as ``trigger_event`` and the
        event's ``mutate`` do, without their generic steps.

        ``state`` holds every field of the event in the dataclass's order, so the event's
        ``__dict__`` is the one its ``__init__`` would make (the order is the stored JSON's);
        ``remembered`` is what ``_reading_recorded`` would build of those fields. Replays apply
        the stored events through the library's ``mutate`` as before. A property test
        (tests/unit/domain/test_reading_fast_paths.py) holds the event, its stored bytes and the
        meter to the ones ``trigger_event`` makes.
        """
        new_event = object.__new__(Meter.ReadingRecorded)
        new_event.__dict__.update(state)  # the frozen dataclass's own fields, set once
        self._keep_reading(remembered, state["replaced_interval_start"])
        self.version = state["originator_version"]
        self.modified_on = state["timestamp"]
        self._pending_events.append(new_event)

    # -- decisions about implausible heat (domain/implausible_heat.py) ----------------------------

    class ImplausibleHeatDecided(Aggregate.Event):
        """A clerk's decision about an interval whose heat fails the k·Δθ·ΔV check far beyond the
        MPE: bill it as measured, replace it by an estimate, or hold it pending a verification.
        The evidence is the interval's check as the ledger held it when the clerk decided."""

        interval_start: datetime
        interval_end: datetime
        decision: str
        recorded_energy_gj: Decimal
        expected_energy_gj: Decimal
        deviation_percent: Decimal
        permissible_error_percent: Decimal
        estimated_energy_gj: Decimal | None
        method: str
        actor: str
        reason: str
        correlation_id: UUID

    def decide_implausible_heat(
        self,
        evidence: IntervalEvidence,
        decision: HeatDecision,
        estimated_energy_gj: Decimal | None,
        method: str,
        context: CommandContext,
    ) -> bool:
        """Record a decision about one of this meter's intervals far beyond the MPE (the evidence
        comes from the read model: the meter no longer remembers a season's intervals). Returns
        False, recording nothing, when the same decision is already in force for the interval."""
        assert evidence.meter_serial == self.serial, "the evidence is of this meter's interval"
        check_decision(evidence, decision, estimated_energy_gj, context.reason)
        decision = HeatDecision(decision)
        method = method if decision is HeatDecision.ESTIMATE else ""
        if self._heat_decisions().get(_interval_key(evidence.start)) == _decision_text(
            decision, evidence.end, estimated_energy_gj
        ):
            return False
        self._implausible_heat_decided(
            evidence.start,
            evidence.end,
            decision.value,
            evidence.recorded_gj,
            evidence.expected_gj,
            evidence.deviation_percent,
            evidence.permissible_error_percent,
            estimated_energy_gj,
            method,
            context.actor,
            context.reason,
            context.correlation_id,
        )
        return True

    def _heat_decisions(self) -> dict[str, str]:
        # A snapshot taken before decisions existed has no such attribute.
        decisions: dict[str, str] = self.__dict__.setdefault("heat_decisions", {})
        return decisions

    @event(ImplausibleHeatDecided)
    def _implausible_heat_decided(
        self,
        interval_start: datetime,
        interval_end: datetime,
        decision: str,
        recorded_energy_gj: Decimal,
        expected_energy_gj: Decimal,
        deviation_percent: Decimal,
        permissible_error_percent: Decimal,
        estimated_energy_gj: Decimal | None,
        method: str,
        actor: str,
        reason: str,
        correlation_id: UUID,
    ) -> None:
        self._heat_decisions()[_interval_key(interval_start)] = _decision_text(
            HeatDecision(decision), interval_end, estimated_energy_gj
        )


def _decision_text(decision: HeatDecision, interval_end: datetime, estimated_energy_gj: Decimal | None) -> str:
    """What makes two decisions about an interval the same: the decision, the interval's end (a
    split interval is another interval) and the estimate."""
    estimate = "" if estimated_energy_gj is None else str(estimated_energy_gj.normalize())
    return f"{decision.value} {_interval_key(interval_end)} {estimate}"


def _interval_key(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat()
