"""Late readings older than a meter's window, judged against its history: the read model, the
events it has not applied yet (saved, or pending in the running batch), and nothing twice."""

from collections.abc import Container
from datetime import datetime
from decimal import Decimal
from uuid import UUID

from application.authorization import SYSTEM
from application.ingestion import ItemStatus, ReadingItem
from application.ledger import HeatLedger
from application.reading_history import MeterHistory
from domain import ids
from domain.meter import READING_WINDOW_SIZE, Meter
from domain.readings import RememberedReading, readings_around
from tests.strategies import (
    MEMORY_ENVIRONMENT,
    RECEIVED_LATER,
    SEASON_START,
    context,
    hours_after,
    household_with_meter,
    item,
    new_meter,
    record,
    statuses,
    values,
)

D = Decimal
T = SEASON_START
ACCEPTED, DUPLICATE, REJECTED = ItemStatus.ACCEPTED, ItemStatus.DUPLICATE, ItemStatus.REJECTED
# Hourly readings 10.000 + 0.1 GJ/h from 0 h to 101 h without 1 h: the window starts at 2 h.
BEHIND_THE_WINDOW = [hour for hour in range(READING_WINDOW_SIZE + 2) if hour != 1]


class LaggingStore:
    """A read model that applied the meter's events up to ``rows_version`` and reports having
    applied those up to ``reported_version`` (a projection worker lags, or is caught mid-batch)."""

    def __init__(self) -> None:
        self.ledger: HeatLedger | None = None
        self.rows_version = 0
        self.reported_version = 0
        self.lookups = 0

    def projected_version(self, meter_id: UUID) -> int:
        return self.reported_version

    def readings_around(
        self, meter_id: UUID, measured_at: datetime, skipped: Container[datetime]
    ) -> list[RememberedReading] | None:
        assert self.ledger is not None
        self.lookups += 1
        rows: dict[datetime, RememberedReading] = {}
        for event in self.ledger.events.get(meter_id, lte=self.rows_version):
            if isinstance(event, Meter.ReadingRecorded):
                rows[event.measured_at] = event.remembered()
        return readings_around((row for moment, row in rows.items() if moment not in skipped), measured_at)


def ledger_on(store: LaggingStore) -> HeatLedger:
    ledger = HeatLedger(env=dict(MEMORY_ENVIRONMENT), clock=lambda: RECEIVED_LATER, stored_readings=store)
    store.ledger = ledger
    household_with_meter(ledger)
    return ledger


def hourly(hour: float, energy_gj: str | None = None) -> ReadingItem:
    return item("M-1", hours_after(T, hour), energy_gj or str(D("10") + D("0.1") * D(str(hour))))


def meter_version(ledger: HeatLedger) -> int:
    return ledger.meter("M-1").version


def late_intervals(ledger: HeatLedger) -> list[tuple[datetime, Decimal]]:
    events = list(ledger.events.get(ids.meter_id("M-1")))
    last = events[-1]
    assert isinstance(last, Meter.ReadingRecorded)
    return [(interval.start, interval.energy_gj) for interval in last.intervals]


def test_neighbours_saved_but_not_yet_projected_are_found_in_the_event_store() -> None:
    store = LaggingStore()
    ledger = ledger_on(store)
    store.rows_version = store.reported_version = meter_version(ledger)  # nothing of the readings projected
    ledger.record_readings(SYSTEM, [hourly(hour) for hour in BEHIND_THE_WINDOW])
    report = ledger.record_readings(SYSTEM, [hourly(1, "10.130")])
    assert statuses(report) == [(ACCEPTED, None)]
    # 10.130 − 10.000 and 10.200 − 10.130.
    assert late_intervals(ledger) == [(T, D("0.130")), (hours_after(T, 1), D("0.070"))]


def test_rows_ahead_of_the_version_they_report_give_the_same_judgement() -> None:
    store = LaggingStore()
    ledger = ledger_on(store)
    ledger.record_readings(SYSTEM, [hourly(hour) for hour in BEHIND_THE_WINDOW])
    store.rows_version = meter_version(ledger)  # every reading projected, yet version 0 reported
    report = ledger.record_readings(SYSTEM, [hourly(0), hourly(1, "10.130"), hourly(0, "10.001")])
    assert statuses(report) == [(DUPLICATE, None), (ACCEPTED, None), (REJECTED, "conflicting_reading")]
    assert late_intervals(ledger) == [(T, D("0.130")), (hours_after(T, 1), D("0.070"))]


def test_readings_of_the_same_batch_that_left_the_window_are_neighbours_and_not_recorded_twice() -> None:
    store = LaggingStore()
    ledger = ledger_on(store)
    # One batch: 0 h is pushed out of the window by the readings after it before 1 h arrives, twice.
    report = ledger.record_readings(
        SYSTEM, [hourly(hour) for hour in BEHIND_THE_WINDOW] + [hourly(1, "10.130"), hourly(1, "10.13")]
    )
    assert statuses(report)[-2:] == [(ACCEPTED, None), (DUPLICATE, None)]
    meter = ledger.meter("M-1")
    assert meter.readings_count == len(BEHIND_THE_WINDOW) + 1
    # One look-up of the store for the gap the late reading falls into, none for the readings
    # newer than the window, none for the resend (the batch's own events know it).
    assert store.lookups == 1


def test_a_store_that_cannot_tell_refuses_the_reading_as_outside_the_window() -> None:
    class StoreWithoutUnwrappedRegisters(LaggingStore):
        def readings_around(
            self, meter_id: UUID, measured_at: datetime, skipped: Container[datetime]
        ) -> list[RememberedReading] | None:
            return None

    store = StoreWithoutUnwrappedRegisters()
    ledger = ledger_on(store)
    ledger.record_readings(SYSTEM, [hourly(hour) for hour in BEHIND_THE_WINDOW])
    assert statuses(ledger.record_readings(SYSTEM, [hourly(1)])) == [(REJECTED, "outside_window")]


def test_a_withdrawn_reading_is_no_neighbour() -> None:
    meter = new_meter()
    for hour in range(11):
        record(meter, values(hours_after(T, hour), D(hour) / 10))
    meter.void_reading(hours_after(T, 5), context(reason="keyed twice"))
    history = MeterHistory(meter, None, lambda meter_id, after, up_to: [])
    around = history.readings_around(hours_after(T, 5))
    assert around is not None
    assert [reading.measured_at for reading in around] == [hours_after(T, 4), hours_after(T, 6)]
