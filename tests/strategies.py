"""Builders and hypothesis strategies shared by the unit and integration tiers.

Builders make valid aggregates and ledgers with one call, so a test spells out only what its rule
is about. ``reading_plans`` draws a valid history of one meter (gaps, midnights, rollovers) and an
order of arrival with resent readings; ``apply_plan`` plays it into a ledger.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any
from uuid import UUID, uuid4

from hypothesis import strategies as st
from sqlalchemy import Engine, create_engine, select

from application.authorization import SYSTEM, Principal
from application.ingestion import BatchReport, ItemStatus, ReadingItem
from application.ledger import HeatLedger
from domain.household import Household
from domain.meter import Meter, RecordingOutcome
from domain.readings import ReadingValues
from domain.values import (
    AccuracyClass,
    Address,
    Areas,
    CommandContext,
    CustomerClass,
    FlowSensorSide,
    HorizontalPosition,
    MeterKind,
    Position,
    VerticalPosition,
)
from infrastructure.intake import quarantined_frames as quarantine_log
from infrastructure.intake import rejected_readings as rejected_log
from projections.ledger_projection import LedgerProjection
from projections.monitoring_queries import IntakeLogTables, MonitoringQueries, RejectedReadingRecord
from projections.queries import Page
from projections.runner import ProjectionRunner
from projections.tables import LEDGER_TABLES, metadata

# 1 November 2025 00:00 UTC is 08:00 in Shanghai; the business day turns at 16:00 UTC.
SEASON_START = datetime(2025, 11, 1, tzinfo=UTC)
COMMISSIONED_AT = datetime(2025, 10, 1, tzinfo=UTC)
# A moment after every reading the tests make: the "received at" of readings that are not about time.
RECEIVED_LATER = datetime(2027, 1, 1, tzinfo=UTC)
MEMORY_ENVIRONMENT = {
    "PERSISTENCE_MODULE": "eventsourcing.popo",
    "AGGREGATE_CACHE_MAXSIZE": "1000",
    "AGGREGATE_CACHE_FASTFORWARD": "n",
}
COMMUNITY = "碧桂园"


def gj(text: str | int) -> Decimal:
    return Decimal(str(text))


def context(actor: str = "clerk-li", reason: str = "test", correlation_id: UUID | None = None) -> CommandContext:
    return CommandContext(actor, reason, correlation_id or uuid4())


# -- domain builders -------------------------------------------------------------------------


def new_household(
    account_number: str = "WZ-0001",
    connected_area_m2: str = "90.00",
    heated_area_m2: str = "85.50",
    floor: int = 3,
    registered_on: date = date(2025, 10, 1),
    command_context: CommandContext | None = None,
) -> Household:
    return Household.register(
        account_number,
        Address(COMMUNITY, "1", "1", floor, f"{floor}01"),
        Areas(Decimal(connected_area_m2), Decimal(heated_area_m2)),
        CustomerClass.RESIDENTIAL,
        Position(VerticalPosition.MIDDLE, HorizontalPosition.WEST_END),
        registered_on,
        command_context or context(),
    )


def new_meter(
    serial: str = "M-1",
    kind: MeterKind = MeterKind.HOUSEHOLD,
    accuracy_class: AccuracyClass = AccuracyClass.CLASS_2,
    side: FlowSensorSide = FlowSensorSide.RETURN,
    commissioned_at: datetime = COMMISSIONED_AT,
    energy_register_width_gj: Decimal | None = None,
    volume_register_width_m3: Decimal | None = None,
    community: str = "",
    building: str = "",
) -> Meter:
    return Meter.commission(
        serial,
        "Kamstrup",
        "Multical 603",
        accuracy_class,
        side,
        kind,
        commissioned_at,
        context(),
        community=community,
        building=building,
        energy_register_width_gj=energy_register_width_gj,
        volume_register_width_m3=volume_register_width_m3,
    )


def values(measured_at: datetime, energy_gj: str | Decimal, **fields: object) -> ReadingValues:
    """A reading; Decimal fields may be given as text."""
    converted = {
        name: Decimal(value) if isinstance(value, str) and name != "source" else value for name, value in fields.items()
    }
    return ReadingValues(measured_at, Decimal(energy_gj), **converted)  # type: ignore[arg-type]


def record(meter: Meter, reading: ReadingValues, received_at: datetime = RECEIVED_LATER) -> RecordingOutcome:
    return meter.record_reading(reading, received_at, uuid4(), "device-7", "upload")


def hours_after(start: datetime, hours: float) -> datetime:
    return start + timedelta(hours=hours)


# -- application builders --------------------------------------------------------------------


def memory_ledger(now: datetime = RECEIVED_LATER) -> HeatLedger:
    """An in-memory ledger whose clock stands at ``now``."""
    return HeatLedger(env=dict(MEMORY_ENVIRONMENT), clock=lambda: now)


def register_household(
    ledger: HeatLedger,
    account_number: str = "WZ-0001",
    community: str = COMMUNITY,
    building: str = "1",
    connected_area_m2: str = "90.00",
    principal: Principal = SYSTEM,
    registered_on: date = date(2025, 10, 1),
) -> UUID:
    return ledger.register_household(
        principal,
        account_number,
        Address(community, building, "1", 3, "301"),
        Areas(Decimal(connected_area_m2), Decimal(connected_area_m2)),
        CustomerClass.RESIDENTIAL,
        Position(VerticalPosition.MIDDLE, HorizontalPosition.MIDDLE),
        registered_on,
    )


def commission_meter(
    ledger: HeatLedger,
    serial: str = "M-1",
    kind: MeterKind = MeterKind.HOUSEHOLD,
    community: str = "",
    building: str = "",
    energy_register_width_gj: Decimal | None = None,
    principal: Principal = SYSTEM,
) -> UUID:
    return ledger.commission_meter(
        principal,
        serial,
        "Kamstrup",
        "Multical 603",
        AccuracyClass.CLASS_2,
        FlowSensorSide.RETURN,
        kind,
        COMMISSIONED_AT,
        community=community,
        building=building,
        energy_register_width_gj=energy_register_width_gj,
    )


def household_with_meter(
    ledger: HeatLedger,
    account_number: str = "WZ-0001",
    serial: str = "M-1",
    community: str = COMMUNITY,
    building: str = "1",
    energy_register_width_gj: Decimal | None = None,
) -> None:
    """Register a household, commission a household meter and attach it at commissioning."""
    register_household(ledger, account_number, community, building)
    commission_meter(ledger, serial, energy_register_width_gj=energy_register_width_gj)
    ledger.attach_meter(SYSTEM, account_number, serial, COMMISSIONED_AT)


def stored_events(ledger: HeatLedger, aggregate_id: UUID) -> list[Any]:
    """The aggregate's events as the store gives them back."""
    return list(ledger.events.get(aggregate_id))


def last_notification_id(ledger: HeatLedger) -> int:
    return int(ledger.recorder.max_notification_id() or 0)


def projected_ledger(folder: Path, now: datetime = RECEIVED_LATER) -> tuple[HeatLedger, ProjectionRunner]:
    """An in-memory ledger whose events are projected into a SQLite file in ``folder`` after every save."""
    ledger = memory_ledger(now)
    engine = create_engine(f"sqlite:///{folder / 'read_models.sqlite'}")
    metadata.create_all(engine)
    runner = ProjectionRunner(ledger, engine, LedgerProjection())

    def catch_up() -> None:
        runner.catch_up()

    ledger.add_after_save_hook(catch_up)
    return ledger, runner


def meters_row(meter_id: UUID, number: int, commissioned_at: datetime, **changes: Any) -> dict[str, Any]:
    """A ``meters`` read-model row of a household meter (serial ``M-number``), for tests that fill
    the read models directly; ``changes`` override its columns."""
    return {
        "meter_id": meter_id,
        "serial": f"M-{number}",
        "maker": "maker",
        "model": "model",
        "accuracy_class": "2",
        "flow_sensor_side": "return",
        "kind": "household",
        "community": "c",
        "building": "b",
        "commissioned_at": commissioned_at,
        "readings_count": 0,
        "version": 1,
        **changes,
    }


def projection_rows(engine: Engine) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of every ledger read-model table, in a stable order, for comparing two builds."""
    with engine.connect() as connection:
        return {
            table.name: sorted((tuple(row) for row in connection.execute(select(table))), key=repr)
            for table in LEDGER_TABLES
        }


def item(serial: str, measured_at: datetime, energy_gj: str | Decimal, **fields: object) -> ReadingItem:
    return ReadingItem(serial, values(measured_at, energy_gj, **fields))


def statuses(report: BatchReport) -> list[tuple[ItemStatus, str | None]]:
    return [(outcome.status, outcome.reason) for outcome in report.outcomes]


# -- hypothesis: valid reading histories ----------------------------------------------------

# A register width with a margin of 0.1 × 1000 = 100 GJ: plans rise by at most 25 × 2 = 50 GJ,
# so any two readings of a plan are less than the margin apart and every wrap is recognised.
ROLLOVER_WIDTH_GJ = Decimal(1000)
MAXIMUM_STEP_GJ = Decimal(2)
# 0.006 GJ a minute = 0.36 GJ/h, under the 0.5 GJ/h a household meter may register.
MAXIMUM_GJ_PER_MINUTE = Decimal("0.006")


@dataclass(frozen=True)
class PlannedReading:
    """One reading of a plan: what the meter shows and the true cumulative energy behind it."""

    measured_at: datetime
    energy_register_gj: Decimal
    cumulative_gj: Decimal
    volume_m3: Decimal


@dataclass(frozen=True)
class ReadingPlan:
    """A meter's true history (in time order) and the order its readings reach the ledger.

    ``arrivals`` holds indices into ``readings``; an index appears more than once for a resent
    reading, and ``resent_as_text`` says how the copy writes its energy (``1.5`` as ``1.500000``).
    ``batches`` are the sizes the arrivals are cut into. ``switch_index``, when set, is the
    reading at which the meter moves from the first household to the second.
    """

    width_gj: Decimal | None
    readings: list[PlannedReading]
    arrivals: list[int]
    batches: list[int]
    switch_index: int | None = None
    resent_as_text: list[bool] = field(default_factory=list)

    @property
    def energy_difference_gj(self) -> Decimal:
        return self.readings[-1].cumulative_gj - self.readings[0].cumulative_gj

    @property
    def volume_difference_m3(self) -> Decimal:
        return self.readings[-1].volume_m3 - self.readings[0].volume_m3

    @property
    def switch_at(self) -> datetime | None:
        return None if self.switch_index is None else self.readings[self.switch_index].measured_at

    @property
    def distinct_readings(self) -> int:
        return len(self.readings)

    def reading_values(self, arrival_number: int) -> ReadingValues:
        planned = self.readings[self.arrivals[arrival_number]]
        energy = planned.energy_register_gj
        if self.resent_as_text[arrival_number]:
            energy = energy.quantize(Decimal("0.000001"))  # the same value written with more zeros
        return ReadingValues(planned.measured_at, energy, volume_m3=planned.volume_m3)


@st.composite
def reading_plans(draw: st.DrawFn, max_readings: int = 20, allow_switch: bool = True) -> ReadingPlan:
    count = draw(st.integers(2, max_readings))
    width = draw(st.sampled_from([None, ROLLOVER_WIDTH_GJ]))
    if width is None:
        start_register = Decimal(draw(st.integers(0, 10**9))).scaleb(-3)
    else:
        # Near the top, so most plans wrap: 950.000 … 999.999 GJ.
        start_register = width - Decimal(draw(st.integers(1, 50_000))).scaleb(-3)
    start_volume = Decimal(draw(st.integers(0, 10**7))).scaleb(-3)
    moment = SEASON_START + timedelta(minutes=draw(st.integers(0, 2 * 24 * 60)))
    cumulative, volume = Decimal(0), start_volume
    readings: list[PlannedReading] = []
    for index in range(count):
        if index:
            gap_minutes = draw(st.integers(1, 36 * 60))
            moment += timedelta(minutes=gap_minutes)
            limit = min(MAXIMUM_STEP_GJ, MAXIMUM_GJ_PER_MINUTE * gap_minutes)
            cumulative += Decimal(draw(st.integers(0, int(limit * 1000)))).scaleb(-3)
            volume += Decimal(draw(st.integers(0, 3000))).scaleb(-3)
        register = start_register + cumulative
        if width is not None and register >= width:
            register -= width
        readings.append(PlannedReading(moment, register, cumulative, volume))
    order = draw(st.permutations(range(count)))
    resends = draw(st.lists(st.tuples(st.integers(0, count), st.integers(0, count - 1)), max_size=4))
    arrivals = list(order)
    for position, index in resends:
        arrivals.insert(position, index)
    as_text = draw(st.lists(st.booleans(), min_size=len(arrivals), max_size=len(arrivals)))
    batches = _cut(len(arrivals), draw(st.lists(st.integers(1, 6), min_size=len(arrivals), max_size=len(arrivals))))
    switch_index = draw(st.none() | st.integers(1, count - 1)) if allow_switch else None
    return ReadingPlan(width, readings, arrivals, batches, switch_index, as_text)


def _cut(total: int, sizes: Sequence[int]) -> list[int]:
    batches, remaining = [], total
    for size in sizes:
        if remaining == 0:
            break
        batches.append(min(size, remaining))
        remaining -= batches[-1]
    return batches


@dataclass(frozen=True)
class PlayedPlan:
    serial: str
    first_account: str
    second_account: str
    reports: list[BatchReport]

    @property
    def outcomes(self) -> list[tuple[ItemStatus, str | None]]:
        return [pair for report in self.reports for pair in statuses(report)]


def apply_plan(ledger: HeatLedger, plan: ReadingPlan, tag: str) -> PlayedPlan:
    """Set up two households and a meter named after ``tag`` and play the plan's arrivals.

    The meter is attached to the first household at commissioning; a planned switch moves it to
    the second household before any reading arrives, so every interval's household is known.
    """
    serial, first, second = f"M-{tag}", f"A-{tag}", f"B-{tag}"
    register_household(ledger, first, COMMUNITY, "1")
    register_household(ledger, second, COMMUNITY, "2")
    commission_meter(ledger, serial, energy_register_width_gj=plan.width_gj)
    ledger.attach_meter(SYSTEM, first, serial, COMMISSIONED_AT)
    if plan.switch_at is not None:
        ledger.detach_meter(SYSTEM, serial, plan.switch_at, reason="moved to the flat next door")
        ledger.attach_meter(SYSTEM, second, serial, plan.switch_at)
    reports, arrival = [], 0
    for size in plan.batches:
        items = [ReadingItem(serial, plan.reading_values(number)) for number in range(arrival, arrival + size)]
        reports.append(ledger.record_readings(SYSTEM, items))
        arrival += size
    return PlayedPlan(serial, first, second, reports)


def rejected_readings(engine: Engine) -> Page[RejectedReadingRecord]:
    """The rejected-readings log, newest first, as the monitoring listing reads it."""
    return MonitoringQueries(engine, IntakeLogTables(rejected_log, quarantine_log)).rejected_readings()
