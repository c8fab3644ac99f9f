"""Property: for random histories, every issued bill replays to the fen, whatever was recorded
after it (prepayment, monthly statement, settlement by meter and by allocation), on SQLite.

A history: a building of metered flats read at every midnight with random daily heat and random
gaps, one unmetered flat billed by the building's allocation, random suspensions, owner changes
and area corrections before the bills; the prepayment, a month's statement and the settlement;
then random corrections, voids and area corrections recorded after the bills.
"""

from __future__ import annotations

import tempfile
from contextlib import suppress
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from application.authorization import SYSTEM
from domain.allocation import AllocationMethod, FlatInput
from domain.billing import BillKind
from domain.errors import ConflictError, NotFoundError
from domain.values import Areas
from infrastructure.bill_replay import BillReplays
from infrastructure.container import Container, bootstrap
from tests.conftest import sqlite_settings
from tests.integration.test_billing_runs import AFTER_SEASON, CLERK, SEASON, midnight, publish, run
from tests.strategies import commission_meter, item, register_household

D = Decimal
DAYS = SEASON.days + 1  # readings at every midnight from the season's first day to the day after it


@dataclass(frozen=True)
class FlatPlan:
    """One metered flat: its daily heat (GJ), the days without a reading, what happens to it."""

    daily_gj: tuple[Decimal, ...]
    missing_days: frozenset[int]
    suspended_from: int | None  # day of the season heating stops (报停), None: never
    owner_change_on: int | None  # day of the season a new holder takes over
    area_m2: Decimal | None  # a corrected area from the season's first day


@dataclass(frozen=True)
class AfterwardsPlan:
    """What is recorded after the bills: a reading corrected, a reading voided, an area corrected."""

    corrected_day: int | None
    voided_day: int | None
    area_m2: Decimal | None


daily_heat = st.decimals(min_value=D("0.05"), max_value=D("0.6"), places=3)
season_day = st.integers(min_value=5, max_value=SEASON.days - 5)
areas = st.one_of(st.none(), st.decimals(min_value=D(40), max_value=D(160), places=2))
flat_plans = st.builds(
    FlatPlan,
    daily_gj=st.lists(daily_heat, min_size=1, max_size=4).map(tuple),
    missing_days=st.frozensets(st.integers(min_value=1, max_value=DAYS - 2), max_size=6),
    suspended_from=st.one_of(st.none(), season_day),
    owner_change_on=st.one_of(st.none(), season_day),
    area_m2=areas,
)
afterwards_plans = st.builds(
    AfterwardsPlan,
    corrected_day=st.one_of(st.none(), st.integers(min_value=1, max_value=DAYS - 2)),
    voided_day=st.one_of(st.none(), st.integers(min_value=1, max_value=DAYS - 2)),
    area_m2=areas,
)


@settings(max_examples=6, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    flats=st.lists(flat_plans, min_size=1, max_size=2),
    allocated=st.booleans(),
    month=st.sampled_from(["2025-12", "2026-02"]),
    afterwards=afterwards_plans,
)
def test_every_issued_bill_replays_to_the_fen(
    flats: list[FlatPlan], allocated: bool, month: str, afterwards: AfterwardsPlan
) -> None:
    with tempfile.TemporaryDirectory(prefix="replay-property-") as folder:
        container = bootstrap(sqlite_settings(Path(folder)))
        try:
            container.ledger.clock = lambda: AFTER_SEASON
            publish(container)
            for index, plan in enumerate(flats):
                metered_flat(container, f"A-{index}", f"M-{index}", plan)
            if allocated:
                allocated_flat(container)
            container.catch_up()
            for kind, label in ((BillKind.PREPAYMENT, None), (BillKind.STATEMENT, month), (BillKind.SETTLEMENT, None)):
                run(container, kind, label)
            record_afterwards(container, flats[0], afterwards)
            replays = BillReplays(container.ledger, container.engine)
            issued = [
                bill
                for account in [f"A-{index}" for index in range(len(flats))] + (["C-1"] if allocated else [])
                for bill in container.billing.period(account, SEASON).issued()
            ]
            assert issued, "every history issues bills"
            for bill in issued:
                outcome = replays.replay(bill.bill_id)
                assert outcome.matches, (bill.number, outcome.replayed.refusal, outcome.differences)
        finally:
            container.close()


def metered_flat(container: Container, account: str, serial: str, plan: FlatPlan) -> None:
    register_household(container.ledger, account)
    commission_meter(container.ledger, serial)
    container.ledger.attach_meter(SYSTEM, account, serial, midnight(SEASON.first_day) - timedelta(days=30))
    items = [
        item(serial, midnight(SEASON.first_day + timedelta(days=day)), register_on(plan, day))
        for day in range(DAYS)
        if day not in plan.missing_days
    ]
    container.ledger.record_readings(SYSTEM, items)
    if plan.suspended_from is not None:
        container.ledger.suspend_heating(SYSTEM, account, season_date(plan.suspended_from), "报停")
    if plan.owner_change_on is not None:
        container.ledger.change_owner(SYSTEM, account, season_date(plan.owner_change_on), "过户")
    if plan.area_m2 is not None:
        container.ledger.correct_area(SYSTEM, account, Areas(plan.area_m2, plan.area_m2), SEASON.first_day, "survey")


def allocated_flat(container: Container) -> None:
    """C-1: a flat without a meter in building 1, billed by its share of the building's heat."""
    register_household(container.ledger, "C-1")
    container.catch_up()
    flats = [FlatInput("C-1", D(90), open_hours=D(2000))]
    container.billing.record_allocation(
        CLERK, "碧桂园", "1", SEASON, AllocationMethod.ON_OFF_TIME_AREA, flats, None, D("40.5")
    )


def register_on(plan: FlatPlan, day: int) -> Decimal:
    """The flat's register at the midnight starting ``day`` of its readings."""
    return D(100) + sum((plan.daily_gj[index % len(plan.daily_gj)] for index in range(day)), D(0))


def record_afterwards(container: Container, flat: FlatPlan, plan: AfterwardsPlan) -> None:
    """Corrections recorded after the bills: they must not change what a replay gives."""
    if plan.corrected_day is not None:
        at = midnight(SEASON.first_day + timedelta(days=plan.corrected_day))
        # 0.001 GJ more than was read: still below the next day's register (at least 0.05 GJ on).
        corrected = item("M-0", at, register_on(flat, plan.corrected_day) + D("0.001")).values
        with suppress(ConflictError, NotFoundError):  # a missing or too old reading: nothing changes
            container.ledger.correct_reading(SYSTEM, "M-0", at, corrected, "re-keyed")
    if plan.voided_day is not None and plan.voided_day != plan.corrected_day:
        at = midnight(SEASON.first_day + timedelta(days=plan.voided_day))
        with suppress(ConflictError, NotFoundError):  # a missing or too old reading: nothing changes
            container.ledger.void_reading(SYSTEM, "M-0", at, "duplicate")
    if plan.area_m2 is not None:
        container.ledger.correct_area(SYSTEM, "A-0", Areas(plan.area_m2, plan.area_m2), SEASON.first_day, "re-survey")
    container.catch_up()


def season_date(day: int) -> date:
    return SEASON.first_day + timedelta(days=day)
