"""Read models of the meter lifecycle and of corrections, on each backend: the live projection
(caught up after every command) equals one rebuilt from the first event, whatever the batch size,
after swaps, voids, corrections, verifications, faults and decommissioning.

The history, readings every 6 hours from 1 November 00:00 UTC (08:00 in Shanghai):

| meter | what happens                                                                          |
|-------|---------------------------------------------------------------------------------------|
| M-1   | serves WZ-1; 8 readings; swapped for N-1 at 45:00 (final reading); read once more      |
|       | unattached at 48:00; verified (passes); decommissioned at 50:00                         |
| N-1   | initial reading 5.000 at the swap, then 3 readings for WZ-1                             |
| M-2   | serves WZ-2; 12 readings, a fault at 30:00 cleared at 42:00 and another from 54:00;     |
|       | reading 18:00 voided, 36:00 corrected, the newest (66:00) voided; verified (fails),    |
|       | then an older passing certificate entered late                                         |
"""

from __future__ import annotations

from collections import Counter
from datetime import date, datetime
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import Engine, select

from application.authorization import Principal, Role
from domain import ids
from domain.readings import ReadingValues
from domain.values import ReadingSource
from domain.verification import TestPoint
from infrastructure.container import Container
from projections.ledger_projection import LedgerProjection
from projections.queries import LedgerQueries
from projections.runner import ProjectionRunner
from projections.tables import (
    ARREARS_TABLES,
    BILLING_TABLES,
    DISPUTE_TABLES,
    LEDGER_TABLES,
    PAYMENT_TABLES,
    SUBSTATION_TABLES,
    implausible_heat_decisions,
    meters,
    reading_corrections,
)
from projections.tariff_corrections import TARIFF_CORRECTION_TABLES
from tests.strategies import SEASON_START, commission_meter, hours_after, household_with_meter, item

D = Decimal
CLERK = Principal("clerk-li", Role.CLERK)
DEVICE = Principal("concentrator-1", Role.DEVICE)
SWAP_HOUR = 45
SEASON = (date(2025, 11, 1), date(2026, 3, 31))


def at(hour: float) -> datetime:
    return hours_after(SEASON_START, hour)


def reading(serial: str, hour: float, energy: Decimal, **fields: Any) -> Any:
    """A reading with volume (6 m³ per GJ) and temperatures, so intervals carry their k·Δθ·ΔV check."""
    return item(
        serial,
        at(hour),
        energy,
        volume_m3=energy * 6,
        flow_temperature_c=D("70.0"),
        return_temperature_c=D("30.0"),
        source=ReadingSource.MBUS,
        **fields,
    )


def table_rows(engine: Engine) -> dict[str, Counter[tuple[Any, ...]]]:
    """Every row of every ledger table, as a multiset: order-independent, duplicates counted."""
    with engine.connect() as connection:
        return {table.name: Counter(tuple(row) for row in connection.execute(select(table))) for table in LEDGER_TABLES}


def play_history(container: Container) -> None:
    ledger = container.ledger
    household_with_meter(ledger, "WZ-1", "M-1")
    household_with_meter(ledger, "WZ-2", "M-2", building="2")
    commission_meter(ledger, "N-1")
    m1 = [reading("M-1", 6 * step, D("10.000") + D("0.3") * step) for step in range(8)]
    m2 = [
        reading("M-2", 6 * step, D("20.000") + D("0.25") * step, error_flags=flags)
        for step, flags in enumerate([0, 0, 0, 0, 0, 4, 4, 0, 0, 8, 8, 8])
    ]
    assert ledger.record_readings(DEVICE, m1 + m2).accepted == len(m1) + len(m2)

    final = ReadingValues(at(SWAP_HOUR), D("12.250"), volume_m3=D("73.500"))
    initial = ReadingValues(at(SWAP_HOUR), D("5.000"), volume_m3=D("30.000"))
    ledger.replace_meter(CLERK, "WZ-1", "M-1", "N-1", final, initial, "display failed")
    n1 = [reading("N-1", SWAP_HOUR + 3 + 6 * step, D("5.150") + D("0.3") * step) for step in range(3)]
    late_m1 = reading("M-1", 48, D("12.400"))  # the removed meter, still read by the concentrator
    assert ledger.record_readings(DEVICE, [*n1, late_m1]).accepted == len(n1) + 1

    ledger.void_reading(CLERK, "M-2", at(18), "read from the neighbour's meter")
    corrected = ReadingValues(at(36), D("21.400"), volume_m3=D("128.400"), error_flags=4)
    ledger.correct_reading(CLERK, "M-2", at(36), corrected, "digits transposed")
    ledger.void_reading(CLERK, "M-2", at(66), "duplicate upload")

    passing = [TestPoint(D("0.25"), D("20"), D("3.5")), TestPoint(D("2.5"), D("40"), D("-1.2"))]
    assert ledger.record_verification(CLERK, "M-1", date(2025, 11, 3), "JD-1", passing) is True
    failing = [TestPoint(D("0.25"), D("20"), D("4"))]
    assert ledger.record_verification(CLERK, "M-2", date(2025, 11, 4), "JD-2", failing) is False
    # An older certificate entered late: history, not the meter's latest verification.
    assert ledger.record_verification(CLERK, "M-2", date(2025, 10, 20), "JD-0", passing) is True
    ledger.decommission_meter(CLERK, "M-1", at(50), "scrapped after the swap")
    # A faulty reading on the new meter, its two intervals estimated (and one estimate revised).
    faulty = reading("N-1", SWAP_HOUR + 21, D("5.800"), faulty=True)
    after = reading("N-1", SWAP_HOUR + 27, D("6.100"))
    assert ledger.record_readings(DEVICE, [faulty, after]).accepted == 2
    ledger.estimate_faulty_interval(CLERK, "N-1", at(SWAP_HOUR + 15), D("0.310"), "own_history_scaled_by_building")
    ledger.estimate_faulty_interval(CLERK, "N-1", at(SWAP_HOUR + 21), D("0.290"), "own_history_scaled_by_building")
    ledger.estimate_faulty_interval(CLERK, "N-1", at(SWAP_HOUR + 21), D("0.300"), "building_per_m2_by_position")


@pytest.fixture
def played(container: Container) -> Container:
    play_history(container)
    assert container.runner.position() == container.runner.max_notification_id()
    return container


def test_the_live_read_models_hold_the_lifecycle(played: Container) -> None:
    queries = LedgerQueries(played.engine)
    m1, m2, n1 = (queries.meter(serial) for serial in ("M-1", "M-2", "N-1"))
    assert m1 is not None and m2 is not None and n1 is not None
    assert (m1.household_account_number, m1.decommissioned_at, m1.last_verification_passed) == (None, at(50), True)
    assert (m1.readings_count, m1.last_measured_at, m1.last_energy_gj) == (10, at(48), D("12.400"))
    assert (n1.household_account_number, n1.readings_count) == ("WZ-1", 6)  # initial, 3 daily, faulty, after
    # M-2: 12 readings, one voided, one replaced by its correction, the newest voided.
    assert (m2.readings_count, m2.last_measured_at, m2.last_energy_gj) == (10, at(60), D("22.500"))
    assert (m2.error_flags, m2.fault_since, m2.last_verified_on, m2.last_verification_passed) == (
        8,
        at(54),
        date(2025, 11, 4),
        False,
    )
    history = queries.corrections(m2.meter_id, limit=10).items
    assert [(entry.measured_at, entry.original_energy_gj, entry.original_actor) for entry in history] == [
        (at(66), D("22.750"), "concentrator-1"),
        (at(36), D("21.500"), "concentrator-1"),
        (at(18), D("20.750"), "concentrator-1"),
    ]
    assert [(entry.verified_on, entry.passed) for entry in queries.verifications(m2.meter_id, limit=10).items] == [
        (date(2025, 11, 4), False),
        (date(2025, 10, 20), True),
    ]
    verifications = queries.verifications(m1.meter_id, limit=10).items
    assert [(point.permissible_error_percent, point.passed) for point in verifications[0].points] == [
        (D("3.80"), True),
        (D("3.32"), True),
    ]
    # WZ-1: M-1 from its first reading to the final one, then N-1 from its initial reading on;
    # M-1's reading after the swap counts for nobody. The register view includes the faulty
    # intervals (their estimates are kept apart, in faulty_interval_estimates).
    total = queries.household_total(ids.household_id("WZ-1"), *SEASON)
    assert total.energy_gj == (D("12.250") - D("10.000")) + (D("6.100") - D("5.000"))
    # WZ-2: voids and corrections move consumption between days but keep first-to-last.
    assert queries.household_total(ids.household_id("WZ-2"), *SEASON).energy_gj == D("22.500") - D("20.000")


@pytest.mark.parametrize(
    "batch_size", [None, 1, 7], ids=["default-batches", "one-event-batches", "seven-event-batches"]
)
def test_a_rebuilt_projection_equals_the_live_one(played: Container, batch_size: int | None) -> None:
    live = table_rows(played.engine)
    # The billing, payment, arrears, dispute, tariff-correction and substation tables, and the
    # clerks' decisions about implausible heat, are compared by their own read-model tests; this
    # scenario bills nothing, disputes nothing, feeds no substation and decides nothing.
    elsewhere = (
        *BILLING_TABLES,
        *PAYMENT_TABLES,
        *ARREARS_TABLES,
        *DISPUTE_TABLES,
        *TARIFF_CORRECTION_TABLES,
        *SUBSTATION_TABLES,
        implausible_heat_decisions,
    )
    assert all(live[table.name] for table in LEDGER_TABLES if table not in elsewhere), "rows to compare"

    runner = played.runner
    if batch_size is not None:
        runner = ProjectionRunner(played.ledger, played.engine, LedgerProjection(), batch_size=batch_size)
    assert runner.rebuild() == played.runner.max_notification_id()

    assert table_rows(played.engine) == live


def test_a_rebuild_keeps_the_original_of_every_withdrawn_reading(played: Container) -> None:
    with played.engine.connect() as connection:
        before = connection.execute(select(reading_corrections).order_by(reading_corrections.c.version)).all()
    played.runner.rebuild()
    with played.engine.connect() as connection:
        after = connection.execute(select(reading_corrections).order_by(reading_corrections.c.version)).all()
        decommissioned = connection.execute(select(meters.c.decommissioned_at).where(meters.c.serial == "M-1")).scalar()

    assert after == before
    assert [(row.measured_at, row.energy_gj, row.source) for row in after] == [
        (at(18), D("20.750"), "mbus"),
        (at(36), D("21.500"), "mbus"),
        (at(66), D("22.750"), "mbus"),
    ]
    assert decommissioned == at(50)
