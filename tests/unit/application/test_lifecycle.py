"""Meter swaps, corrections and verifications through the application, projected into read models."""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import pytest
from sqlalchemy import func, select

from application.authorization import SYSTEM, Principal, Role
from application.ledger import HeatLedger
from domain import ids
from domain.errors import ConflictError, PermissionDeniedError, ReadingRejectedError
from projections.runner import ProjectionRunner
from projections.tables import daily_consumption, meter_readings, meters, reading_corrections
from tests.strategies import (
    SEASON_START,
    commission_meter,
    hours_after,
    household_with_meter,
    item,
    projected_ledger,
    values,
)

D = Decimal
T = SEASON_START


@pytest.fixture
def projected(tmp_path: Path) -> Iterator[tuple[HeatLedger, ProjectionRunner]]:
    ledger, runner = projected_ledger(tmp_path)
    yield ledger, runner
    runner.engine.dispose()


def household_energy(runner: ProjectionRunner, account_number: str) -> Decimal:
    statement = select(func.sum(daily_consumption.c.energy_gj)).where(
        daily_consumption.c.household_id == ids.household_id(account_number)
    )
    with runner.engine.connect() as connection:
        return Decimal(connection.execute(statement).scalar_one())


def test_a_swap_continues_the_household_s_consumption_without_gap_or_double_count(
    projected: tuple[HeatLedger, ProjectionRunner],
) -> None:
    ledger, runner = projected
    household_with_meter(ledger, "WZ-0001", "OLD-1")
    commission_meter(ledger, "NEW-1")
    ledger.record_readings(SYSTEM, [item("OLD-1", T, "100.000"), item("OLD-1", hours_after(T, 24), "100.400")])
    swap = hours_after(T, 36)
    ledger.replace_meter(
        SYSTEM, "WZ-0001", "OLD-1", "NEW-1", values(swap, "100.650"), values(swap, "0.000"), "meter clogged"
    )
    ledger.record_readings(SYSTEM, [item("NEW-1", hours_after(T, 48), "0.300")])
    # (100.650 − 100.000) on the old meter + (0.300 − 0.000) on the new one = 0.950 GJ.
    assert household_energy(runner, "WZ-0001") == D("0.950")
    household = ledger.household("WZ-0001")
    assert list(household.meter_serials.values()) == ["NEW-1"]
    assert ledger.meter("OLD-1").household_id is None
    assert ledger.meter("NEW-1").household_id == household.id


def test_a_swap_whose_reading_breaks_a_rule_changes_nothing(projected: tuple[HeatLedger, ProjectionRunner]) -> None:
    ledger, _ = projected
    household_with_meter(ledger, "WZ-0001", "OLD-1")
    commission_meter(ledger, "NEW-1")
    ledger.record_readings(SYSTEM, [item("OLD-1", T, "100.000")])
    versions = (ledger.household("WZ-0001").version, ledger.meter("OLD-1").version, ledger.meter("NEW-1").version)
    swap = hours_after(T, 36)
    with pytest.raises(ReadingRejectedError) as raised:
        ledger.replace_meter(SYSTEM, "WZ-0001", "OLD-1", "NEW-1", values(swap, "99.000"), values(swap, "0"), "swap")
    assert raised.value.reason == "register_backwards"
    after = (ledger.household("WZ-0001").version, ledger.meter("OLD-1").version, ledger.meter("NEW-1").version)
    assert after == versions


def test_only_the_household_s_own_meter_can_be_swapped(projected: tuple[HeatLedger, ProjectionRunner]) -> None:
    ledger, _ = projected
    household_with_meter(ledger, "WZ-0001", "OLD-1")
    household_with_meter(ledger, "WZ-0002", "OTHER-1")
    commission_meter(ledger, "NEW-1")
    with pytest.raises(ConflictError):
        ledger.replace_meter(SYSTEM, "WZ-0001", "OTHER-1", "NEW-1", values(T, "1"), values(T, "0"), "swap")


def test_a_correction_replaces_the_reading_and_keeps_the_original_in_the_history(
    projected: tuple[HeatLedger, ProjectionRunner],
) -> None:
    ledger, runner = projected
    household_with_meter(ledger, "WZ-0001", "M-1")
    ledger.record_readings(
        SYSTEM,
        [item("M-1", T, "1.000"), item("M-1", hours_after(T, 24), "1.900"), item("M-1", hours_after(T, 48), "2")],
    )
    ledger.correct_reading(SYSTEM, "M-1", hours_after(T, 24), values(hours_after(T, 24), "1.500"), "typo by the clerk")
    with runner.engine.connect() as connection:
        current = connection.execute(
            select(meter_readings.c.energy_gj).where(meter_readings.c.measured_at == hours_after(T, 24))
        ).scalar_one()
        history = connection.execute(select(reading_corrections.c.energy_gj, reading_corrections.c.reason)).all()
        count = connection.execute(select(meters.c.readings_count)).scalar_one()
    assert current == D("1.5")
    assert [(energy, reason) for energy, reason in history] == [(D("1.9"), "typo by the clerk")]
    assert count == 3
    assert household_energy(runner, "WZ-0001") == D(1)  # 2 − 1, whatever the middle reading says


def test_a_void_merges_the_consumption_and_a_bad_correction_changes_nothing(
    projected: tuple[HeatLedger, ProjectionRunner],
) -> None:
    ledger, runner = projected
    household_with_meter(ledger, "WZ-0001", "M-1")
    ledger.record_readings(
        SYSTEM, [item("M-1", T, "1"), item("M-1", hours_after(T, 24), "1.9"), item("M-1", hours_after(T, 48), "2")]
    )
    version = ledger.meter("M-1").version
    with pytest.raises(ReadingRejectedError):
        ledger.correct_reading(SYSTEM, "M-1", hours_after(T, 24), values(hours_after(T, 24), "2.5"), "wrong fix")
    assert ledger.meter("M-1").version == version
    ledger.void_reading(SYSTEM, "M-1", hours_after(T, 24), "read from the wrong flat")
    assert household_energy(runner, "WZ-0001") == D(1)
    assert [reading.measured_at for reading in ledger.meter("M-1").window] == [T, hours_after(T, 48)]


def test_corrections_and_verifications_need_a_meter_manager(projected: tuple[HeatLedger, ProjectionRunner]) -> None:
    ledger, _ = projected
    household_with_meter(ledger, "WZ-0001", "M-1")
    ledger.record_readings(SYSTEM, [item("M-1", T, "1")])
    for role in (Role.AUDITOR, Role.REGULATOR, Role.DEVICE):
        with pytest.raises(PermissionDeniedError):
            ledger.void_reading(Principal("someone", role), "M-1", T, "because")
