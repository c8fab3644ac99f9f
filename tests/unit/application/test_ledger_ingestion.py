"""Batch ingestion: an outcome per item, accepted readings saved together, limits, and the clock."""

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from uuid import uuid4

import pytest
from freezegun import freeze_time

from application.authorization import SYSTEM, Principal, Role
from application.ingestion import MAXIMUM_BATCH_SIZE, ItemStatus
from application.ledger import HeatLedger
from domain import ids
from domain.errors import InvalidInputError
from domain.meter import Meter
from tests.strategies import (
    MEMORY_ENVIRONMENT,
    SEASON_START,
    hours_after,
    household_with_meter,
    item,
    last_notification_id,
    memory_ledger,
    statuses,
    stored_events,
)

D = Decimal
T = SEASON_START
GATEWAY = Principal("concentrator-17", Role.DEVICE)
ACCEPTED, DUPLICATE, REJECTED = ItemStatus.ACCEPTED, ItemStatus.DUPLICATE, ItemStatus.REJECTED


def ledger_with_meters(*serials: str) -> HeatLedger:
    ledger = memory_ledger()
    for number, serial in enumerate(serials):
        household_with_meter(ledger, f"WZ-{number}", serial)
    return ledger


def recorded(ledger: HeatLedger, serial: str) -> list[Meter.ReadingRecorded]:
    return [event for event in stored_events(ledger, ids.meter_id(serial)) if isinstance(event, Meter.ReadingRecorded)]


def test_each_item_gets_its_own_outcome() -> None:
    ledger = ledger_with_meters("M-1")
    ledger.record_readings(GATEWAY, [item("M-1", T, "10")])
    report = ledger.record_readings(
        GATEWAY,
        [
            item("M-1", hours_after(T, 24), "10.5"),  # accepted
            item("M-1", T, "10.00"),  # the reading already held: a duplicate
            item("M-1", hours_after(T, 48), "10.4"),  # below the previous reading
            item("M-404", T, "1"),  # no such meter
        ],
    )
    assert statuses(report) == [
        (ACCEPTED, None),
        (DUPLICATE, None),
        (REJECTED, "register_backwards"),
        (REJECTED, "unknown_meter"),
    ]
    assert (report.accepted, report.duplicates, report.rejected) == (1, 1, 2)
    assert [(outcome.index, outcome.meter_serial) for outcome in report.outcomes] == [
        (0, "M-1"),
        (1, "M-1"),
        (2, "M-1"),
        (3, "M-404"),
    ]
    backwards = report.outcomes[2]
    assert backwards.measured_at == hours_after(T, 48)
    assert backwards.params == {
        "reason": "register_backwards",
        "register": "energy",
        "previous": "10.5",
        "current": "10.4",
    }
    assert backwards.message == "the energy register went backwards from 10.5 to 10.4"


def test_several_readings_of_one_meter_in_order_are_judged_against_each_other() -> None:
    ledger = ledger_with_meters("M-1")
    report = ledger.record_readings(GATEWAY, [item("M-1", hours_after(T, hour), D("0.2") * hour) for hour in range(4)])
    assert report.accepted == 4
    # 0 → 0.2 → 0.4 → 0.6: three intervals of 0.2 GJ, one per later reading.
    events = recorded(ledger, "M-1")
    energies = [[interval.energy_gj for interval in event.intervals] for event in events]
    assert energies == [[], [D("0.2")], [D("0.2")], [D("0.2")]]


def test_several_readings_of_one_meter_out_of_order_fill_in_between() -> None:
    ledger = ledger_with_meters("M-1")
    items = [item("M-1", hours_after(T, 48), "12"), item("M-1", T, "10"), item("M-1", hours_after(T, 24), "11.2")]
    report = ledger.record_readings(GATEWAY, items)
    assert report.accepted == 3
    late = recorded(ledger, "M-1")[-1]
    # 10 → 11.2 → 12 replaces the interval 0 h → 48 h that the second item had opened.
    assert [interval.energy_gj for interval in late.intervals] == [D("1.2"), D("0.8")]
    assert (late.replaced_interval_start, late.replaced_interval_end) == (T, hours_after(T, 48))


def test_a_reading_repeated_inside_one_batch_is_a_duplicate_the_second_time() -> None:
    ledger = ledger_with_meters("M-1")
    report = ledger.record_readings(GATEWAY, [item("M-1", T, "1.5"), item("M-1", T, "1.50")])
    assert statuses(report) == [(ACCEPTED, None), (DUPLICATE, None)]
    assert len(recorded(ledger, "M-1")) == 1


def test_a_conflicting_reading_inside_one_batch_is_rejected_and_the_first_kept() -> None:
    ledger = ledger_with_meters("M-1")
    report = ledger.record_readings(GATEWAY, [item("M-1", T, "1.5"), item("M-1", T, "1.6")])
    assert statuses(report) == [(ACCEPTED, None), (REJECTED, "conflicting_reading")]
    assert [event.energy_gj for event in recorded(ledger, "M-1")] == [D("1.5")]


def test_the_accepted_readings_of_a_batch_are_saved_in_one_save_with_the_batch_id() -> None:
    ledger = ledger_with_meters("M-1", "M-2")
    before = last_notification_id(ledger)
    saves: list[int] = []
    ledger.add_after_save_hook(lambda: saves.append(last_notification_id(ledger)))
    batch_id = uuid4()
    items = [item("M-1", T, "1"), item("M-2", T, "2"), item("M-404", T, "3"), item("M-1", hours_after(T, 1), "1.1")]
    report = ledger.record_readings(GATEWAY, items, reason="hourly upload", batch_id=batch_id)
    assert report.batch_id == batch_id
    assert saves == [before + 3]  # one save holding all three accepted readings
    events = recorded(ledger, "M-1") + recorded(ledger, "M-2")
    assert {(event.batch_id, event.actor, event.reason) for event in events} == {
        (batch_id, "concentrator-17", "hourly upload")
    }


def test_a_batch_with_nothing_accepted_saves_nothing() -> None:
    ledger = ledger_with_meters("M-1")
    ledger.record_readings(GATEWAY, [item("M-1", T, "10")])
    before = last_notification_id(ledger)
    items = [item("M-1", T, "10"), item("M-1", hours_after(T, 1), "9"), item("X", T, "1")]
    report = ledger.record_readings(GATEWAY, items)
    assert (report.accepted, report.duplicates, report.rejected) == (0, 1, 2)
    assert last_notification_id(ledger) == before


def test_a_batch_without_an_id_gets_a_fresh_one() -> None:
    ledger = ledger_with_meters("M-1")
    first = ledger.record_readings(GATEWAY, [item("M-1", T, "1")])
    second = ledger.record_readings(GATEWAY, [item("M-1", hours_after(T, 1), "1.1")])
    assert first.batch_id != second.batch_id
    assert [event.batch_id for event in recorded(ledger, "M-1")] == [first.batch_id, second.batch_id]


def test_a_batch_larger_than_the_limit_is_refused_whole() -> None:
    ledger = ledger_with_meters("M-1")
    items = [item("M-1", hours_after(T, minute / 60), D("0.001") * minute) for minute in range(MAXIMUM_BATCH_SIZE + 1)]
    with pytest.raises(InvalidInputError) as raised:
        ledger.record_readings(GATEWAY, items)
    assert raised.value.params == {"limit": MAXIMUM_BATCH_SIZE, "size": MAXIMUM_BATCH_SIZE + 1}
    assert recorded(ledger, "M-1") == []


def test_a_batch_of_exactly_the_limit_is_judged() -> None:
    ledger = ledger_with_meters()
    report = ledger.record_readings(GATEWAY, [item(f"X-{number}", T, "1") for number in range(MAXIMUM_BATCH_SIZE)])
    assert report.rejected == MAXIMUM_BATCH_SIZE


def test_an_empty_batch_is_an_empty_report() -> None:
    report = ledger_with_meters("M-1").record_readings(GATEWAY, [])
    assert report.outcomes == []


# -- the ledger's clock ----------------------------------------------------------------------


def test_readings_are_judged_against_the_wall_clock_under_freezegun() -> None:
    ledger = HeatLedger(env=dict(MEMORY_ENVIRONMENT))  # the default clock: datetime.now(UTC)
    household_with_meter(ledger)
    with freeze_time("2025-11-10 12:00:00"):
        now = datetime(2025, 11, 10, 12, tzinfo=UTC)
        report = ledger.record_readings(
            GATEWAY,
            [
                item("M-1", now + timedelta(minutes=5), "1"),  # clock drift within 5 minutes: accepted
                item("M-1", now + timedelta(minutes=5, seconds=1), "1.001"),  # beyond: in the future
            ],
        )
    assert statuses(report) == [(ACCEPTED, None), (REJECTED, "future_timestamp")]
    assert report.outcomes[1].params["received_at"] == now.isoformat()


def test_a_reading_rejected_as_future_is_accepted_once_its_time_has_come() -> None:
    ledger = HeatLedger(env=dict(MEMORY_ENVIRONMENT))
    household_with_meter(ledger)
    reading = [item("M-1", datetime(2025, 11, 10, 13, tzinfo=UTC), "1")]
    with freeze_time("2025-11-10 12:00:00"):
        assert statuses(ledger.record_readings(GATEWAY, reading)) == [(REJECTED, "future_timestamp")]
    with freeze_time("2025-11-10 12:55:00"):
        assert statuses(ledger.record_readings(GATEWAY, reading)) == [(ACCEPTED, None)]


def test_events_saved_under_a_frozen_clock_are_stamped_with_it() -> None:
    ledger = HeatLedger(env=dict(MEMORY_ENVIRONMENT))
    household_with_meter(ledger)
    with freeze_time("2025-11-10 12:00:00"):
        ledger.record_readings(SYSTEM, [item("M-1", T, "1")])
    (event,) = recorded(ledger, "M-1")
    assert event.timestamp == datetime(2025, 11, 10, 12, tzinfo=UTC)
