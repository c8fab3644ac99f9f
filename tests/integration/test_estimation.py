"""Gap estimates on both backends: a silent flat estimated from its own history scaled by its
building, recorded as estimates, reported as an estimated share, and trued up by a real reading."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from decimal import Decimal

import pytest

from application.authorization import SYSTEM
from domain import ids
from domain.errors import InvalidInputError
from infrastructure.container import Container
from infrastructure.estimation import midnight_starting
from tests.strategies import household_with_meter, item

FIRST_DAY = date(2025, 11, 1)
DAILY_GJ = {"M-1": Decimal("0.4"), "M-2": Decimal("0.5"), "M-3": Decimal("0.6")}
REFERENCE_DAYS = 16  # 1–16 November measured for everybody
COLD_DAYS = 3  # 17–19 November: the building takes twice as much, M-1 says nothing


def midnight(offset_days: int) -> datetime:
    return midnight_starting(FIRST_DAY + timedelta(days=offset_days))


def build_building(container: Container) -> None:
    for number, serial in enumerate(DAILY_GJ, start=1):
        household_with_meter(container.ledger, f"WZ-{number}", serial, building="1")
    registers = dict.fromkeys(DAILY_GJ, Decimal("100.000"))
    for offset in range(REFERENCE_DAYS + COLD_DAYS + 1):
        cold = offset > REFERENCE_DAYS
        batch = []
        for serial, daily in DAILY_GJ.items():
            if serial == "M-1" and offset > REFERENCE_DAYS:
                continue  # silent from 17 November on
            if offset:
                registers[serial] += daily * (2 if cold else 1)
            batch.append(item(serial, midnight(offset), registers[serial]))
        assert container.ledger.record_readings(SYSTEM, batch).rejected == 0


def test_a_silent_flat_is_estimated_from_its_history_scaled_by_its_building(container: Container) -> None:
    build_building(container)
    now = midnight(REFERENCE_DAYS + COLD_DAYS) + timedelta(hours=1)  # 20 Nov, 01:00 in Ningxia

    report = container.estimator.run(SYSTEM, now)

    assert (report.meters_silent, report.readings_estimated, report.readings_accepted) == (1, 3, 3)
    meter = container.ledger.meter("M-1")
    # Own mean 0.4 GJ/day × (building 2 × 1.1 ÷ reference 1.1) = 0.8 GJ for each of 17, 18 and 19 November.
    assert [(reading.measured_at, reading.energy_register_gj, reading.estimated) for reading in meter.window[-3:]] == [
        (midnight(17), Decimal("107.200"), True),
        (midnight(18), Decimal("108.000"), True),
        (midnight(19), Decimal("108.800"), True),
    ]
    household = ids.household_id("WZ-1")
    estimated, total = container.estimator.estimated_share(household, FIRST_DAY, date(2025, 11, 19))
    assert (estimated, total) == (Decimal("2.4"), Decimal("8.8"))  # 16 × 0.4 measured + 3 × 0.8 estimated

    assert container.estimator.run(SYSTEM, now).readings_accepted == 0  # a second run adds nothing


def test_a_real_reading_replaces_the_estimates(container: Container) -> None:
    build_building(container)
    container.estimator.run(SYSTEM, midnight(REFERENCE_DAYS + COLD_DAYS) + timedelta(hours=1))

    report = container.ledger.record_readings(SYSTEM, [item("M-1", midnight(19), "108.400")])

    assert report.accepted == 1
    window = container.ledger.meter("M-1").window
    assert [(reading.measured_at, reading.estimated) for reading in window[-2:]] == [
        (midnight(16), False),
        (midnight(19), False),
    ]
    estimated, total = container.estimator.estimated_share(ids.household_id("WZ-1"), FIRST_DAY, date(2025, 11, 19))
    # 16 × 0.4 = 6.4 GJ, then 108.400 − 106.400 = 2.0 GJ measured over the three cold days.
    assert (estimated, total) == (Decimal(0), Decimal("8.4"))


def build_with_a_faulty_reading(container: Container) -> None:
    """Three flats read daily for 18 days; M-1's reading closing 17 November is faulty."""
    for number, serial in enumerate(DAILY_GJ, start=1):
        household_with_meter(container.ledger, f"WZ-{number}", serial, building="1")
    registers = dict.fromkeys(DAILY_GJ, Decimal("100.000"))
    for offset in range(19):
        batch = []
        for serial, daily in DAILY_GJ.items():
            if offset:
                registers[serial] += daily
            faulty = serial == "M-1" and offset == 17
            batch.append(item(serial, midnight(offset), registers[serial], faulty=faulty))
        assert container.ledger.record_readings(SYSTEM, batch).rejected == 0


def test_faulty_intervals_are_estimated_once_and_billed_by_their_estimate(container: Container) -> None:
    build_with_a_faulty_reading(container)
    now = midnight(18) + timedelta(hours=1)

    report = container.estimator.run(SYSTEM, now)

    # The two intervals bounded by the faulty reading (17 and 18 November) each get the meter's
    # own 0.4 GJ/day × the building's ratio 1.1 ÷ 1.1.
    assert (report.meters_silent, report.faulty_intervals_estimated) == (0, 2)
    household = ids.household_id("WZ-1")
    estimated, billable = container.estimator.estimated_share(household, FIRST_DAY, date(2025, 11, 18))
    assert (estimated, billable) == (Decimal("0.8"), Decimal("6.4") + Decimal("0.8"))
    assert container.estimator.run(SYSTEM, now).faulty_intervals_estimated == 0  # once only


def test_withdrawing_the_faulty_reading_removes_its_estimates(container: Container) -> None:
    build_with_a_faulty_reading(container)
    container.estimator.run(SYSTEM, midnight(18) + timedelta(hours=1))

    container.ledger.void_reading(SYSTEM, "M-1", midnight(17), "probe replaced; the reading was wrong")

    estimated, billable = container.estimator.estimated_share(ids.household_id("WZ-1"), FIRST_DAY, date(2025, 11, 18))
    # The merged interval 16 → 18 November is measured again: 107.200 − 106.400 = 0.8 GJ.
    assert (estimated, billable) == (Decimal(0), Decimal("7.2"))


def test_with_the_weather_known_the_days_are_scaled_by_degree_days(container: Container) -> None:
    build_building(container)
    # Reference days at 8 °C (10 degree-days), the silent days at 3 °C (15 degree-days): ratio 1.5,
    # where the building's measured heat alone would have said 2.
    reference = {FIRST_DAY + timedelta(days=offset): Decimal(8) for offset in range(REFERENCE_DAYS)}
    cold = {FIRST_DAY + timedelta(days=offset): Decimal(3) for offset in range(REFERENCE_DAYS, REFERENCE_DAYS + 3)}
    container.weather.record(reference | cold, "test weather")

    container.estimator.run(SYSTEM, midnight(REFERENCE_DAYS + COLD_DAYS) + timedelta(hours=1))

    window = container.ledger.meter("M-1").window
    # 106.400 + 0.4 × 1.5 per day.
    assert [reading.energy_register_gj for reading in window[-3:]] == [
        Decimal("107.000"),
        Decimal("107.600"),
        Decimal("108.200"),
    ]


def test_an_implausible_outdoor_temperature_is_refused(container: Container) -> None:
    with pytest.raises(InvalidInputError) as raised:
        container.weather.record({FIRST_DAY: Decimal(75)}, "a broken station")
    assert raised.value.message_key == "outdoor_temperature_invalid"
    assert container.weather.degree_days([FIRST_DAY]) == {}
