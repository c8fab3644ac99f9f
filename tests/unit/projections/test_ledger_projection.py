"""The ledger projection: what each event writes into the read-model tables."""

from collections.abc import Iterator
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Table, create_engine, func, select

from application.authorization import SYSTEM
from application.ledger import HeatLedger
from domain import ids
from domain.values import Areas, MeterKind
from projections.ledger_projection import LedgerProjection
from projections.runner import ProjectionRunner
from projections.tables import daily_consumption, households, metadata, meter_intervals, meter_readings, meters
from tests.strategies import (
    SEASON_START,
    commission_meter,
    hours_after,
    household_with_meter,
    item,
    memory_ledger,
    projected_ledger,
    register_household,
)

D = Decimal
T = SEASON_START  # 08:00 in Shanghai; local midnight is 16:00 UTC
Projected = tuple[HeatLedger, ProjectionRunner]


@pytest.fixture
def projected(tmp_path: Path) -> Iterator[tuple[HeatLedger, ProjectionRunner]]:
    ledger, runner = projected_ledger(tmp_path)
    yield ledger, runner
    runner.engine.dispose()


def rows(runner: ProjectionRunner, table: Table, *where: Any) -> list[Any]:
    with runner.engine.connect() as connection:
        return list(connection.execute(select(table).where(*where)))


def one(runner: ProjectionRunner, table: Table, *where: Any) -> Any:
    (row,) = rows(runner, table, *where)
    return row


# -- households -------------------------------------------------------------------------------


def test_a_registered_household_has_its_row(projected: Projected) -> None:
    ledger, runner = projected
    register_household(ledger, "WZ-0001", connected_area_m2="88.25")
    row = one(runner, households)
    assert (row.household_id, row.account_number, row.community, row.building, row.floor, row.flat) == (
        ids.household_id("WZ-0001"),
        "WZ-0001",
        "碧桂园",
        "1",
        3,
        "301",
    )
    assert (row.connected_area_m2, row.heated_area_m2, row.registered_on) == (D("88.25"), D("88.25"), date(2025, 10, 1))
    assert (row.customer_class, row.vertical_position, row.horizontal_position) == ("residential", "middle", "middle")
    assert (row.heating_suspended, row.suspended_since, row.version) == (False, None, 1)


def test_an_area_correction_updates_the_areas_and_version(projected: Projected) -> None:
    ledger, runner = projected
    register_household(ledger, "WZ-0001")
    ledger.correct_area(SYSTEM, "WZ-0001", Areas(D("95.10"), D("80.05")), date(2025, 12, 1), "survey")
    row = one(runner, households)
    assert (row.connected_area_m2, row.heated_area_m2, row.version) == (D("95.10"), D("80.05"), 2)


def test_suspension_and_resumption_set_and_clear_the_flag(projected: Projected) -> None:
    ledger, runner = projected
    register_household(ledger, "WZ-0001")
    ledger.suspend_heating(SYSTEM, "WZ-0001", date(2025, 11, 15), "away")
    row = one(runner, households)
    assert (row.heating_suspended, row.suspended_since) == (True, date(2025, 11, 15))
    ledger.resume_heating(SYSTEM, "WZ-0001", date(2026, 1, 2), "back")
    row = one(runner, households)
    assert (row.heating_suspended, row.suspended_since, row.version) == (False, None, 3)


# -- meters -------------------------------------------------------------------------------------


def test_attaching_places_a_household_meter_where_its_household_lives(
    projected: Projected,
) -> None:
    ledger, runner = projected
    household_with_meter(ledger, "WZ-0001", "M-1", community="阅水秦韵", building="7")
    meter = one(runner, meters)
    assert (meter.serial, meter.kind, meter.household_id) == ("M-1", "household", ids.household_id("WZ-0001"))
    assert (meter.community, meter.building, meter.readings_count, meter.version) == ("阅水秦韵", "7", 0, 2)
    assert one(runner, households).version == 2  # MeterAttached touched the household row


def test_detaching_clears_the_household_but_keeps_the_place(projected: Projected) -> None:
    ledger, runner = projected
    household_with_meter(ledger, "WZ-0001", "M-1", building="7")
    ledger.detach_meter(SYSTEM, "M-1", T, "replaced")
    meter = one(runner, meters)
    assert (meter.household_id, meter.building, meter.version) == (None, "7", 3)


def test_a_reading_gets_its_row_and_moves_the_meters_latest(projected: Projected) -> None:
    ledger, runner = projected
    household_with_meter(ledger)
    report = ledger.record_readings(
        SYSTEM,
        [item("M-1", T, "10.123456789", volume_m3="3.5", flow_temperature_c="70.125", error_flags=2)],
        reason="manual entry",
    )
    reading = one(runner, meter_readings)
    assert (reading.measured_at, reading.energy_gj, reading.volume_m3) == (T, D("10.123456789"), D("3.5"))
    assert (reading.flow_temperature_c, reading.error_flags, reading.source) == (D("70.125"), 2, "manual")
    assert (reading.batch_id, reading.actor) == (report.batch_id, "system")
    assert reading.recorded_at.tzinfo is not None
    meter = one(runner, meters)
    assert (meter.readings_count, meter.last_measured_at, meter.last_energy_gj) == (1, T, D("10.123456789"))


def test_a_late_reading_does_not_move_the_meters_latest_back(projected: Projected) -> None:
    ledger, runner = projected
    household_with_meter(ledger)
    ledger.record_readings(SYSTEM, [item("M-1", T, "10"), item("M-1", hours_after(T, 48), "12")])
    ledger.record_readings(SYSTEM, [item("M-1", hours_after(T, 24), "11")])
    meter = one(runner, meters)
    assert (meter.readings_count, meter.last_measured_at, meter.last_energy_gj) == (3, hours_after(T, 48), D(12))


# -- intervals and daily consumption ------------------------------------------------------------


def test_an_interval_across_local_midnight_is_split_into_two_days(projected: Projected) -> None:
    ledger, runner = projected
    household_with_meter(ledger, building="5")
    # 12:00 → 20:00 UTC = 20:00 on 1 Nov to 04:00 on 2 Nov local: 4 h + 4 h of 1.000 GJ and 0.8 m³.
    items = [
        item("M-1", hours_after(T, 12), "10", volume_m3="1"),
        item("M-1", hours_after(T, 20), "11", volume_m3="1.8"),
    ]
    ledger.record_readings(SYSTEM, items)
    interval = one(runner, meter_intervals)
    assert (interval.start_at, interval.end_at, interval.energy_gj, interval.volume_m3) == (
        hours_after(T, 12),
        hours_after(T, 20),
        D(1),
        D("0.8"),
    )
    assert (interval.household_id, interval.plausible) == (ids.household_id("WZ-0001"), None)
    days = rows(runner, daily_consumption)
    assert [(row.day, row.energy_gj, row.volume_m3) for row in sorted(days, key=lambda row: row.day)] == [
        (date(2025, 11, 1), D("0.5"), D("0.4")),
        (date(2025, 11, 2), D("0.5"), D("0.4")),
    ]
    assert {(row.household_id, row.meter_kind, row.community, row.building) for row in days} == {
        (ids.household_id("WZ-0001"), "household", "碧桂园", "5"),
    }


def test_the_plausibility_of_an_interval_is_projected(projected: Projected) -> None:
    ledger, runner = projected
    household_with_meter(ledger)
    warm = {"flow_temperature_c": "70", "return_temperature_c": "30"}
    # 1 m³ in 10 h at 70/30: expected 0.166485 GJ, MPE 3.80 % (see tests/unit/domain/test_heat_physics.py);
    # 0.183134 GJ is 10.00 % over.
    items = [
        item("M-1", T, "10", volume_m3="100", **warm),
        item("M-1", hours_after(T, 10), "10.183134", volume_m3="101", **warm),
    ]
    ledger.record_readings(SYSTEM, items)
    interval = one(runner, meter_intervals)
    assert (interval.expected_energy_gj, interval.deviation_percent, interval.permissible_error_percent) == (
        D("0.166485"),
        D("10.00"),
        D("3.80"),
    )
    assert interval.plausible is False


def test_a_late_reading_replaces_the_interval_it_falls_into(projected: Projected) -> None:
    ledger, runner = projected
    household_with_meter(ledger)
    ledger.record_readings(SYSTEM, [item("M-1", T, "10"), item("M-1", hours_after(T, 48), "12.4")])
    ledger.record_readings(SYSTEM, [item("M-1", hours_after(T, 24), "11")])
    intervals = sorted(rows(runner, meter_intervals), key=lambda row: row.start_at)
    assert [(row.start_at, row.energy_gj) for row in intervals] == [(T, D(1)), (hours_after(T, 24), D("1.4"))]
    # 0 h → 24 h is 08:00 1 Nov → 08:00 2 Nov local: 16 h + 8 h of 1 GJ → 0.666667 + 0.333333.
    # 24 h → 48 h is 08:00 2 Nov → 08:00 3 Nov: 16 h + 8 h of 1.4 GJ → 0.933333 + 0.466667.
    days = sorted(rows(runner, daily_consumption), key=lambda row: (row.interval_start_at, row.day))
    assert [(row.interval_start_at, row.day, row.energy_gj) for row in days] == [
        (T, date(2025, 11, 1), D("0.666667")),
        (T, date(2025, 11, 2), D("0.333333")),
        (hours_after(T, 24), date(2025, 11, 2), D("0.933333")),
        (hours_after(T, 24), date(2025, 11, 3), D("0.466667")),
    ]
    # 12.4 − 10 = 2.4 GJ in all, before and after the late reading.
    with runner.engine.connect() as connection:
        assert connection.execute(select(func.sum(daily_consumption.c.energy_gj))).scalar() == D("2.4")


def test_a_building_meter_books_its_heat_on_its_own_building(projected: Projected) -> None:
    ledger, runner = projected
    commission_meter(ledger, "B-7", kind=MeterKind.BUILDING, community="阅水秦韵", building="7")
    ledger.record_readings(SYSTEM, [item("B-7", T, "100"), item("B-7", hours_after(T, 4), "103")])
    day = one(runner, daily_consumption)
    assert (day.household_id, day.meter_kind, day.community, day.building, day.energy_gj) == (
        None,
        "building",
        "阅水秦韵",
        "7",
        D(3),
    )


def test_an_unattached_household_meter_books_its_heat_on_nobody(projected: Projected) -> None:
    ledger, runner = projected
    commission_meter(ledger, "M-1")
    ledger.record_readings(SYSTEM, [item("M-1", T, "1"), item("M-1", hours_after(T, 4), "1.5")])
    day = one(runner, daily_consumption)
    assert (day.household_id, day.community, day.building, day.energy_gj) == (None, "", "", D("0.5"))


def test_intervals_after_a_move_are_booked_on_the_new_household(projected: Projected) -> None:
    ledger, runner = projected
    household_with_meter(ledger, "WZ-0001", "M-1", building="1")
    register_household(ledger, "WZ-0002", building="2")
    ledger.record_readings(SYSTEM, [item("M-1", T, "1"), item("M-1", hours_after(T, 4), "1.5")])
    # The move is read at its moment, so no interval spans it.
    ledger.record_readings(SYSTEM, [item("M-1", hours_after(T, 5), "1.6")])
    ledger.detach_meter(SYSTEM, "M-1", hours_after(T, 5), "moved next door")
    ledger.attach_meter(SYSTEM, "WZ-0002", "M-1", hours_after(T, 5))
    ledger.record_readings(SYSTEM, [item("M-1", hours_after(T, 6), "1.7")])
    days = sorted(rows(runner, daily_consumption), key=lambda row: row.interval_start_at)
    assert [(row.household_id, row.building, row.energy_gj) for row in days] == [
        (ids.household_id("WZ-0001"), "1", D("0.5")),
        (ids.household_id("WZ-0001"), "1", D("0.1")),
        (ids.household_id("WZ-0002"), "2", D("0.1")),
    ]


def test_events_the_projection_does_not_know_are_skipped(projected: Projected) -> None:
    _, runner = projected
    with runner.engine.begin() as connection:
        runner.projection.apply(connection, object())
    assert rows(runner, households) == []


def test_a_reading_a_decade_after_the_last_one_does_not_stop_the_projection(tmp_path: Path) -> None:
    ledger = memory_ledger()
    engine = create_engine(f"sqlite:///{tmp_path / 'read_models.sqlite'}")
    metadata.create_all(engine)
    runner = ProjectionRunner(ledger, engine, LedgerProjection())
    try:
        commission_meter(ledger, "M-1")
        # 2 Oct 2025 and 2 Jan 2037: 4110 days apart. Accepted or rejected, the read models must keep up.
        ledger.record_readings(SYSTEM, [item("M-1", hours_after(T, -720), "1")])
        ledger.clock = lambda: datetime(2037, 1, 3, tzinfo=UTC)
        report = ledger.record_readings(SYSTEM, [item("M-1", datetime(2037, 1, 2, tzinfo=UTC), "100")])
        assert [outcome.reason for outcome in report.outcomes] == ["interval_too_long"]
        runner.catch_up()
        assert runner.position() == runner.max_notification_id()
    finally:
        engine.dispose()
