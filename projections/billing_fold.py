"""The rows a billing run reads, folded in memory from a scope's events: for replays.

A replay (``infrastructure/bill_replay.py``) recomputes an issued bill from the events of one
household (its building's, for a statement). Projecting them into a database of read models
costs about 13,000 rows for a season of hourly readings, most of a replay's time, and a billing
run reads only a few tables of them. ``BillingFold`` keeps exactly those tables in memory
(``households``, ``meters``, ``meter_readings``, ``meter_intervals``, ``daily_consumption``,
``faulty_interval_estimates``, ``household_suspensions``, ``household_owner_changes`` and
``implausible_heat_decisions``) and applies each event as the ledger projection's handler does
(``projections/ledger_projection.py``, ``reading_batch.py``, ``heat_decision_handlers.py``,
``interval_recharge.py``), with the same domain rules: ``split_across_days``,
``household_charged``, ``MeteredInterval.plausible``. ``FoldedBillingInputs``
(``projections/folded_billing_inputs.py``) answers the billing run's questions over it.

A day row of ``daily_consumption`` is what its interval's shares across days give, with the
interval's household, quality and place: every handler changes an interval and its day rows
together (by meter and start), so here a day row is derived from its interval when read.

Events of other kinds change none of these tables (``FOLDED_ELSEWHERE``: their handlers write
bills, money, disputes, tariff corrections, room controllers' and substations' tables; the
arrears handler touches only a household's version).
``tests/unit/projections/test_billing_fold_kinds.py`` makes every event class the projection
handles be either folded here or named there, so a new handler cannot be forgotten; and
``tests/integration/test_billing_fold.py`` holds the fold to the read models' answers for random
histories on SQLite and PostgreSQL.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field, fields
from datetime import date, datetime
from decimal import Decimal
from typing import Any, NamedTuple
from uuid import UUID

from domain.day_split import DayShare, split_across_days
from domain.household import Household
from domain.implausible_heat import HeatDecision
from domain.meter import Meter
from domain.readings import IntervalQuality, MeteredInterval, household_charged
from projections.analytics_handlers import ANALYTICS_HANDLERS
from projections.arrears_handlers import ARREARS_HANDLERS
from projections.billing_handlers import BILLING_HANDLERS
from projections.dispute_handlers import DISPUTE_HANDLERS
from projections.payment_handlers import PAYMENT_HANDLERS
from projections.payment_orders import PAYMENT_ORDER_HANDLERS
from projections.room_telemetry import ROOM_TELEMETRY_HANDLERS
from projections.tariff_corrections import TARIFF_CORRECTION_HANDLERS
from projections.valve_commands import VALVE_HANDLERS

# Event classes whose handlers write none of the tables a billing run reads (the arrears handler
# sets a household's version, which no billing read selects).
FOLDED_ELSEWHERE: frozenset[type[Any]] = frozenset(
    {
        *BILLING_HANDLERS,
        *PAYMENT_HANDLERS,
        *PAYMENT_ORDER_HANDLERS,  # online payment orders: a table of their own
        *ARREARS_HANDLERS,
        *DISPUTE_HANDLERS,
        *TARIFF_CORRECTION_HANDLERS,
        *VALVE_HANDLERS,  # room controllers, their commands and telemetry: tables of their own
        *ROOM_TELEMETRY_HANDLERS,
        *ANALYTICS_HANDLERS,  # substations and the buildings they feed
        Household.MeterAttached,  # the household's version only
        Household.MeterDetached,
        Meter.FaultReported,  # the meter's flags: not read by billing
        Meter.FaultCleared,
        Meter.Decommissioned,
        Meter.VerificationRecorded,
    }
)
_MEASURED = IntervalQuality.MEASURED.value
_FAULTY = IntervalQuality.FAULTY.value

Place = tuple[str, str]  # (community, building)


class IntervalFacts(NamedTuple):
    """A ``MeteredInterval``'s fields, as a tuple: a replay holds thousands, and a frozen
    dataclass of ten fields costs several times as much to make. ``metered()`` gives the domain's
    object back, for its rules."""

    start: datetime
    end: datetime
    energy_gj: Decimal
    volume_m3: Decimal | None
    household_id: UUID | None
    expected_energy_gj: Decimal | None
    deviation_percent: Decimal | None
    permissible_error_percent: Decimal | None
    quality: str
    limit_breaches: str

    @classmethod
    def of(cls, interval: MeteredInterval) -> IntervalFacts:
        return cls(*(getattr(interval, name) for name in cls._fields))

    def metered(self) -> MeteredInterval:
        return MeteredInterval(*self)


assert IntervalFacts._fields == tuple(field.name for field in fields(MeteredInterval)), "MeteredInterval's fields"


class RecordedReading(NamedTuple):
    """What the billing reads of a ``Meter.ReadingRecorded``: the reading's register and the
    intervals it closes (``infrastructure/reading_decoding.py`` decodes it from the stored state)."""

    meter_id: UUID
    measured_at: datetime
    energy_gj: Decimal
    replaced_interval_start: datetime | None
    intervals: tuple[IntervalFacts, ...]

    @classmethod
    def of(cls, event: Meter.ReadingRecorded) -> RecordedReading:
        return cls(
            event.originator_id,
            event.measured_at,
            event.energy_gj,
            event.replaced_interval_start,
            tuple(IntervalFacts.of(interval) for interval in event.intervals),
        )


@dataclass
class HouseholdRow:
    """A ``households`` row (the columns billing reads)."""

    household_id: UUID
    account_number: str
    community: str
    building: str
    customer_class: str
    connected_area_m2: Decimal
    heated_area_m2: Decimal
    vertical_position: str
    horizontal_position: str
    registered_on: date
    suspended_since: date | None = None
    deregistered_on: date | None = None


@dataclass
class MeterRow:
    """A ``meters`` row (the columns billing reads) with the meter's rows of the tables keyed by
    meter and time: its readings, intervals (with their days), estimates and decisions."""

    meter_id: UUID
    serial: str
    kind: str
    community: str
    building: str
    household_id: UUID | None = None
    readings: dict[datetime, Decimal] = field(default_factory=dict)  # measured_at → register GJ
    intervals: dict[datetime, IntervalRow] = field(default_factory=dict)  # by start
    estimates: dict[datetime, EstimateRow] = field(default_factory=dict)  # by the interval's start
    decisions: dict[datetime, DecisionRow] = field(default_factory=dict)  # by the interval's start
    # The place of the household its last interval was added for (None: none yet, or forgotten
    # because a household or the meter may have moved since).
    last_place: tuple[UUID | None, Place] | None = field(default=None, repr=False)


@dataclass(slots=True)
class IntervalRow:
    """A ``meter_intervals`` row with its ``daily_consumption`` rows (its shares across days)."""

    meter_id: UUID
    facts: IntervalFacts
    household_id: UUID | None
    quality: str
    meter_kind: str
    place: Place
    _days: list[DayShare] | None = field(default=None, repr=False)

    @property
    def start(self) -> datetime:
        return self.facts.start

    @property
    def end(self) -> datetime:
        return self.facts.end

    @property
    def days(self) -> list[DayShare]:
        """The interval's day rows' days and energy, shared as the projection shares them."""
        if self._days is None:
            facts = self.facts
            self._days = split_across_days(facts.start, facts.end, facts.energy_gj)
        return self._days

    @property
    def plausible(self) -> bool | None:
        """The ``plausible`` column: ``MeteredInterval.plausible``. An interval without the
        check's figures was not checked (None, its first answer): no object is made for it."""
        facts = self.facts
        if facts.deviation_percent is None or facts.permissible_error_percent is None:
            return None
        return facts.metered().plausible


@dataclass
class EstimateRow:
    """The ``faulty_interval_estimates`` rows of one interval."""

    household_id: UUID | None
    shares: list[DayShare]


@dataclass(frozen=True)
class DecisionRow:
    """An ``implausible_heat_decisions`` row."""

    end: datetime
    decision: str
    estimated_energy_gj: Decimal | None
    method: str
    actor: str
    reason: str


@dataclass
class SuspensionRow:
    """A ``household_suspensions`` row: ``ended_on`` is the first day heated again."""

    started_on: date
    ended_on: date | None = None


class BillingFold:
    """The tables a billing run reads, kept in memory and changed event by event."""

    def __init__(self) -> None:
        self.households: dict[UUID, HouseholdRow] = {}
        self.meters: dict[UUID, MeterRow] = {}
        self.suspensions: dict[UUID, list[SuspensionRow]] = {}
        self.owner_changes: dict[UUID, list[date]] = {}

    @classmethod
    def folded_kinds(cls) -> frozenset[type[Any]]:
        """The event classes the fold applies (the others change nothing it keeps)."""
        return frozenset(_HANDLERS)

    def apply(self, event: Any) -> None:
        """Apply one decoded event, as the ledger projection would (others change nothing here)."""
        handler = _HANDLERS.get(type(event))
        if handler is not None:
            for meter in self.meters.values():  # a household registered, a meter moved: look again
                meter.last_place = None
            getattr(self, handler)(event)

    # -- households ---------------------------------------------------------------------------

    def _registered(self, event: Household.Registered) -> None:
        self.households[event.originator_id] = HouseholdRow(
            event.originator_id,
            event.account_number,
            event.community,
            event.building,
            event.customer_class,
            event.connected_area_m2,
            event.heated_area_m2,
            event.vertical_position,
            event.horizontal_position,
            event.registered_on,
        )

    def _area_corrected(self, event: Household.AreaCorrected) -> None:
        row = self.households[event.originator_id]
        row.connected_area_m2, row.heated_area_m2 = event.connected_area_m2, event.heated_area_m2

    def _heating_suspended(self, event: Household.HeatingSuspended) -> None:
        self.households[event.originator_id].suspended_since = event.effective_on
        spans = self.suspensions.setdefault(event.originator_id, [])
        assert all(span.started_on != event.effective_on for span in spans), "one span per first day"
        spans.append(SuspensionRow(event.effective_on))

    def _heating_resumed(self, event: Household.HeatingResumed) -> None:
        # As the projection: an open span resumed on its first day suspended nothing and goes.
        self.households[event.originator_id].suspended_since = None
        spans = self.suspensions.get(event.originator_id, [])
        spans[:] = [span for span in spans if not (span.ended_on is None and span.started_on == event.effective_on)]
        for span in spans:
            if span.ended_on is None:
                span.ended_on = event.effective_on

    def _owner_changed(self, event: Household.OwnerChanged) -> None:
        changes = self.owner_changes.setdefault(event.originator_id, [])
        assert event.effective_on not in changes, "one owner change per day"
        changes.append(event.effective_on)

    def _deregistered(self, event: Household.Deregistered) -> None:
        self.households[event.originator_id].deregistered_on = event.effective_on

    # -- meters -------------------------------------------------------------------------------

    def _commissioned(self, event: Meter.Commissioned) -> None:
        self.meters[event.originator_id] = MeterRow(
            event.originator_id, event.serial, event.kind, event.community, event.building
        )

    def _attached(self, event: Meter.AttachedToHousehold) -> None:
        meter = self.meters[event.originator_id]
        household = self.households.get(event.household_id)
        if household is not None:
            meter.community, meter.building = household.community, household.building
        meter.household_id = event.household_id

    def _detached(self, event: Meter.DetachedFromHousehold) -> None:
        self.meters[event.originator_id].household_id = None

    def _place(self, meter: MeterRow, household_id: UUID | None) -> Place:
        """Where an interval's days count: its household's building, else the meter's."""
        household = self.households.get(household_id) if household_id is not None else None
        if household is not None:
            return household.community, household.building
        return meter.community, meter.building

    # -- readings and intervals ---------------------------------------------------------------

    def _reading_recorded(self, event: Meter.ReadingRecorded) -> None:
        self.record_reading(RecordedReading.of(event))

    def record_reading(self, reading: RecordedReading) -> None:
        """A ``Meter.ReadingRecorded``: the reading, the interval it replaces out, its intervals in."""
        self.record_readings([reading])

    def record_readings(self, readings: Iterable[RecordedReading]) -> None:
        """``record_reading`` of each, in order (a season of a meter's readings, mostly)."""
        meter: MeterRow | None = None
        for reading in readings:
            if meter is None or reading.meter_id is not meter.meter_id:  # the same meter's, mostly
                meter = self.meters[reading.meter_id]
            meter.readings[reading.measured_at] = reading.energy_gj
            if reading.replaced_interval_start is not None:
                _remove_interval(meter, reading.replaced_interval_start)
            for interval in reading.intervals:
                self._add_interval(meter, interval)

    def _add_interval(self, meter: MeterRow, interval: IntervalFacts) -> None:
        household_id = interval.household_id
        place = meter.last_place
        if place is None or place[0] is not household_id:  # the same household's, mostly
            place = meter.last_place = (household_id, self._place(meter, household_id))
        meter.intervals[interval.start] = IntervalRow(
            meter.meter_id, interval, household_id, interval.quality, meter.kind, place[1]
        )

    def _reading_voided(self, event: Meter.ReadingVoided) -> None:
        meter = self.meters[event.originator_id]
        meter.readings.pop(event.measured_at, None)
        for start in event.removed_interval_starts:
            _remove_interval(meter, start)
        if event.merged_interval is not None:
            self._add_interval(meter, IntervalFacts.of(event.merged_interval))

    def _faulty_interval_estimated(self, event: Meter.FaultyIntervalEstimated) -> None:
        meter = self.meters[event.originator_id]
        interval = meter.intervals.get(event.interval_start)
        shares = split_across_days(event.interval_start, event.interval_end, event.estimated_energy_gj)
        meter.estimates[event.interval_start] = EstimateRow(interval.household_id if interval else None, shares)

    def _implausible_heat_decided(self, event: Meter.ImplausibleHeatDecided) -> None:
        meter = self.meters[event.originator_id]
        start = event.interval_start
        meter.decisions[start] = DecisionRow(
            event.interval_end, event.decision, event.estimated_energy_gj, event.method, event.actor, event.reason
        )
        interval = meter.intervals.get(start)
        if interval is None or interval.end != event.interval_end:
            return  # split or withdrawn since: the decision applies to nothing
        estimated = HeatDecision(event.decision) is HeatDecision.ESTIMATE
        interval.quality = _FAULTY if estimated else _MEASURED
        meter.estimates.pop(start, None)
        if estimated and event.estimated_energy_gj is not None:
            shares = split_across_days(start, event.interval_end, event.estimated_energy_gj)
            meter.estimates[start] = EstimateRow(interval.household_id, shares)

    def _intervals_recharged(self, event: Meter.IntervalsRecharged) -> None:
        """Late paperwork: each interval of the meter ending after ``since`` charged again."""
        meter = self.meters[event.originator_id]
        for start, interval in meter.intervals.items():
            if interval.end <= event.since:
                continue
            household_id = household_charged(event.attachments, interval.start, interval.end)
            if household_id == interval.household_id:
                continue
            interval.household_id = household_id
            interval.place = self._place(meter, household_id)
            estimate = meter.estimates.get(start)
            if estimate is not None:
                estimate.household_id = household_id


# The handler of each event class the fold applies, by name: a table of bound methods kept by the
# fold would hold it in a reference cycle, and a replay's thousands of rows would wait for the
# cyclic collector (a full collection: tens of milliseconds) instead of going when it ends.
_HANDLERS: dict[type[Any], str] = {
    Household.Registered: "_registered",
    Household.AreaCorrected: "_area_corrected",
    Household.HeatingSuspended: "_heating_suspended",
    Household.HeatingResumed: "_heating_resumed",
    Household.OwnerChanged: "_owner_changed",
    Household.Deregistered: "_deregistered",
    Meter.Commissioned: "_commissioned",
    Meter.AttachedToHousehold: "_attached",
    Meter.DetachedFromHousehold: "_detached",
    Meter.ReadingRecorded: "_reading_recorded",
    Meter.ReadingVoided: "_reading_voided",
    Meter.FaultyIntervalEstimated: "_faulty_interval_estimated",
    Meter.ImplausibleHeatDecided: "_implausible_heat_decided",
    Meter.IntervalsRecharged: "_intervals_recharged",
}


def _remove_interval(meter: MeterRow, start: datetime) -> None:
    """An interval and its days go, with the estimate of it (its decision stays, as in the
    projection: it applies only to an interval with its end)."""
    meter.intervals.pop(start, None)
    meter.estimates.pop(start, None)
