"""Late paperwork on each backend: a meter swap or an attachment change recorded after readings
that follow it re-charges the intervals already recorded (a compensating ``IntervalsRecharged``
event), so per-household and per-day consumption and the settlement inputs come out as if the
paperwork had been recorded on time.

Readings in UTC from 1 November 00:00 (08:00 in Shanghai; the business day turns at 16:00 UTC).
Days are shared in proportion to time, to 10⁻⁶ GJ by the largest remainder:

| interval (hours after T) | local time                  | GJ    | per local day                       |
|--------------------------|-----------------------------|-------|-------------------------------------|
| 0 → 24                   | 1 Nov 08:00 → 2 Nov 08:00   | 0.400 | 16 h + 8 h: 0.266667 and 0.133333   |
| 24 → 36                  | 2 Nov 08:00 → 20:00         | 0.250 | 2 Nov 0.250                         |
| 36 → 48                  | 2 Nov 20:00 → 3 Nov 08:00   | 0.300 | 4 h + 8 h: 0.100 and 0.200          |
| 48 → 60                  | 3 Nov 08:00 → 20:00         | 0.200 | 3 Nov 0.200                         |
| 0 → 24                   | 1 Nov 08:00 → 2 Nov 08:00   | 0.500 | 0.333333 and 0.166667               |
| 24 → 48                  | 2 Nov 08:00 → 3 Nov 08:00   | 0.600 | 0.400 and 0.200                     |
| 48 → 72                  | 3 Nov 08:00 → 4 Nov 08:00   | 0.300 | 0.200 and 0.100                     |
"""

from __future__ import annotations

from collections import Counter
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import Engine, select

from application.authorization import Principal, Role
from domain import ids
from domain.billing import MeterEvidence
from domain.meter import Meter
from domain.readings import Attachment
from domain.values import MeterKind
from infrastructure.container import Container
from projections.billing_inputs import SqlBillingInputs
from projections.queries import Granularity, LedgerQueries
from projections.tables import LEDGER_TABLES
from tests.strategies import (
    SEASON_START,
    commission_meter,
    hours_after,
    household_with_meter,
    item,
    register_household,
    values,
)

D = Decimal
CLERK = Principal("clerk-li", Role.CLERK)
DEVICE = Principal("concentrator-1", Role.DEVICE)
NOV_1, NOV_2, NOV_3, NOV_4 = (date(2025, 11, day) for day in (1, 2, 3, 4))
SEASON_END = date(2026, 3, 31)


def at(hour: float) -> datetime:
    return hours_after(SEASON_START, hour)


def read(container: Container, *readings: tuple[str, float, str]) -> None:
    report = container.ledger.record_readings(
        DEVICE, [item(serial, at(hour), energy) for serial, hour, energy in readings]
    )
    assert report.accepted == len(readings), report.outcomes


def household_days(container: Container, account_number: str) -> dict[date, Decimal]:
    periods = LedgerQueries(container.engine).household_consumption(
        ids.household_id(account_number), NOV_1, SEASON_END, Granularity.DAY
    )
    return {period.first_day: period.energy_gj for period in periods}


def meter_days(container: Container, serial: str) -> dict[date, Decimal]:
    periods = LedgerQueries(container.engine).meter_consumption(
        ids.meter_id(serial), NOV_1, SEASON_END, Granularity.DAY
    )
    return {period.first_day: period.energy_gj for period in periods}


def evidence(container: Container, account_number: str) -> MeterEvidence | None:
    household_id = ids.household_id(account_number)
    return SqlBillingInputs(container.engine).meter_evidence([household_id], NOV_1, SEASON_END).get(household_id)


def table_rows(engine: Engine) -> dict[str, Counter[tuple[Any, ...]]]:
    with engine.connect() as connection:
        return {table.name: Counter(tuple(row) for row in connection.execute(select(table))) for table in LEDGER_TABLES}


def swap_at_36(container: Container) -> None:
    """OLD-1 (read 100.000 at 0 h, 100.400 at 24 h) is swapped for NEW-1 at 36 h: final 100.650, initial 0.000."""
    final, initial = values(at(36), "100.650"), values(at(36), "0.000")
    container.ledger.replace_meter(CLERK, "WZ-1", "OLD-1", "NEW-1", final, initial, "display failed")


# -- a swap typed in after the readings that follow it ------------------------------------------


def test_a_swap_recorded_after_the_new_meter_s_readings_leaves_no_gap(container: Container) -> None:
    household_with_meter(container.ledger, "WZ-1", "OLD-1")
    commission_meter(container.ledger, "NEW-1")
    read(container, ("OLD-1", 0, "100.000"), ("OLD-1", 24, "100.400"))
    # The concentrator read the new meter twice before the clerk typed in the swap form.
    read(container, ("NEW-1", 48, "0.300"), ("NEW-1", 60, "0.500"))

    swap_at_36(container)

    # OLD-1 0 → 36 h (0.650), NEW-1 36 → 60 h (0.500): 1.150 GJ, none of it lost.
    assert household_days(container, "WZ-1") == {NOV_1: D("0.266667"), NOV_2: D("0.483333"), NOV_3: D("0.400")}
    assert meter_days(container, "NEW-1") == {NOV_2: D("0.100"), NOV_3: D("0.400")}
    assert evidence(container, "WZ-1") == MeterEvidence(
        measured_gj=D("1.150"),
        estimated_gj=D(0),
        days_measured=3,
        days_estimated=0,
        days_without_data=(SEASON_END - NOV_1).days + 1 - 3,
        meter_serials=("NEW-1", "OLD-1"),
        first_reading="OLD-1 2025-11-01T08:00:00+08:00 100.000000000 GJ",
        last_reading="NEW-1 2025-11-03T20:00:00+08:00 0.500000000 GJ",
    )


def test_a_swap_recorded_after_the_old_meter_s_later_readings_counts_nothing_twice(container: Container) -> None:
    household_with_meter(container.ledger, "WZ-1", "OLD-1")
    commission_meter(container.ledger, "NEW-1")
    # The removed meter stayed on the bus and was read once more, at 48 h, before the form arrived.
    read(container, ("OLD-1", 0, "100.000"), ("OLD-1", 24, "100.400"), ("OLD-1", 48, "100.700"))

    swap_at_36(container)
    read(container, ("NEW-1", 48, "0.300"))

    # OLD-1 0 → 36 h (0.650), NEW-1 36 → 48 h (0.300): OLD-1's 36 → 48 h (0.050) counts for nobody.
    assert household_days(container, "WZ-1") == {NOV_1: D("0.266667"), NOV_2: D("0.483333"), NOV_3: D("0.200")}
    assert meter_days(container, "OLD-1") == {NOV_1: D("0.266667"), NOV_2: D("0.400000"), NOV_3: D("0.033333")}
    found = evidence(container, "WZ-1")
    assert found is not None
    assert (found.measured_gj, found.meter_serials) == (D("0.950"), ("NEW-1", "OLD-1"))
    assert found.last_reading == "NEW-1 2025-11-03T08:00:00+08:00 0.300000000 GJ"


def test_the_same_swap_on_time_and_late_gives_the_same_read_models_of_the_household(container: Container) -> None:
    """The on-time path is the reference: WZ-1 swapped before NEW-1 is read, WZ-2 after."""
    for account, old, new in (("WZ-1", "OLD-1", "NEW-1"), ("WZ-2", "OLD-2", "NEW-2")):
        household_with_meter(container.ledger, account, old)
        commission_meter(container.ledger, new)
        read(container, (old, 0, "100.000"), (old, 24, "100.400"))
    on_time = values(at(36), "100.650"), values(at(36), "0.000")
    container.ledger.replace_meter(CLERK, "WZ-1", "OLD-1", "NEW-1", *on_time, "display failed")
    read(container, ("NEW-1", 48, "0.300"), ("NEW-1", 60, "0.500"))
    read(container, ("NEW-2", 48, "0.300"), ("NEW-2", 60, "0.500"))
    container.ledger.replace_meter(CLERK, "WZ-2", "OLD-2", "NEW-2", *on_time, "display failed")

    assert household_days(container, "WZ-2") == household_days(container, "WZ-1")


def test_a_swap_typed_in_a_week_late_takes_the_new_meter_s_hourly_backlog(container: Container) -> None:
    household_with_meter(container.ledger, "WZ-1", "OLD-1")
    commission_meter(container.ledger, "NEW-1")
    read(container, ("OLD-1", 0, "100.000"), ("OLD-1", 24, "100.400"))
    # 168 hourly readings of the new meter, 0.100 GJ an hour from 37 h: more than the meter's window
    # of 100, so the swap's initial reading at 36 h is judged against the stored history.
    read(container, *(("NEW-1", 37 + hour, str(D("0.100") * (hour + 1))) for hour in range(168)))

    swap_at_36(container)

    # OLD-1 0 → 36 h (0.650) and NEW-1 36 → 204 h (168 × 0.100 = 16.800, from the initial 0.000).
    found = evidence(container, "WZ-1")
    assert found is not None and found.measured_gj == D("0.650") + D("16.800")
    assert sum(household_days(container, "WZ-1").values()) == D("17.450")


# -- attachments changed with an effective time in the past -------------------------------------


def test_a_back_dated_attachment_charges_the_intervals_already_recorded(container: Container) -> None:
    register_household(container.ledger, "WZ-1")
    commission_meter(container.ledger, "M-1")
    read(container, ("M-1", 0, "10.000"), ("M-1", 24, "10.500"), ("M-1", 48, "11.100"))
    assert household_days(container, "WZ-1") == {}

    # The installation form, typed in two days late: the meter served WZ-1 from an hour before 0 h.
    container.ledger.attach_meter(CLERK, "WZ-1", "M-1", at(-1), reason="installation form typed in late")

    assert household_days(container, "WZ-1") == {NOV_1: D("0.333333"), NOV_2: D("0.566667"), NOV_3: D("0.200")}
    found = evidence(container, "WZ-1")
    assert found is not None and (found.measured_gj, found.days_measured) == (D("1.100"), 3)


def test_a_back_dated_move_re_charges_the_intervals_after_it(container: Container) -> None:
    household_with_meter(container.ledger, "WZ-1", "M-1")
    register_household(container.ledger, "WZ-2", building="2")
    read(container, ("M-1", 0, "10.000"), ("M-1", 24, "10.500"), ("M-1", 48, "11.100"), ("M-1", 72, "11.400"))

    # The meter was moved to WZ-2 at 24 h; the clerk records it two days later.
    container.ledger.detach_meter(CLERK, "M-1", at(24), reason="moved to the flat next door")
    assert household_days(container, "WZ-1") == {NOV_1: D("0.333333"), NOV_2: D("0.166667")}
    container.ledger.attach_meter(CLERK, "WZ-2", "M-1", at(24), reason="moved to the flat next door")

    assert household_days(container, "WZ-1") == {NOV_1: D("0.333333"), NOV_2: D("0.166667")}
    assert household_days(container, "WZ-2") == {NOV_2: D("0.400"), NOV_3: D("0.400"), NOV_4: D("0.100")}
    # The building view follows: WZ-2's days now count in building 2, not in building 1.
    queries = LedgerQueries(container.engine)
    building_2 = queries.place_consumption("碧桂园", "2", MeterKind.HOUSEHOLD, NOV_1, NOV_4, Granularity.MONTH)
    assert [period.energy_gj for period in building_2] == [D("0.900")]


def test_late_paperwork_is_a_new_event_and_a_rebuild_gives_the_live_read_models(container: Container) -> None:
    household_with_meter(container.ledger, "WZ-1", "OLD-1")
    commission_meter(container.ledger, "NEW-1")
    read(container, ("OLD-1", 0, "100.000"), ("OLD-1", 24, "100.400"), ("OLD-1", 48, "100.700"))
    read(container, ("NEW-1", 48, "0.300"), ("NEW-1", 60, "0.500"))
    recorded_before = [
        event
        for event in container.ledger.events.get(ids.meter_id("NEW-1"))
        if isinstance(event, Meter.ReadingRecorded)
    ]
    swap_at_36(container)

    events = list(container.ledger.events.get(ids.meter_id("NEW-1")))
    recharged = [event for event in events if isinstance(event, Meter.IntervalsRecharged)]
    swapped_in = Attachment(ids.household_id("WZ-1"), at(36))
    assert [(event.since, event.attachments, event.actor, event.reason) for event in recharged] == [
        (at(36), [swapped_in], "clerk-li", "display failed")
    ]
    # The readings recorded before keep their events as they were.
    assert [event for event in events if isinstance(event, Meter.ReadingRecorded)][:2] == recorded_before
    live = table_rows(container.engine)
    container.runner.rebuild()
    assert table_rows(container.engine) == live
