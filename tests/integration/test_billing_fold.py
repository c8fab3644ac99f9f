"""The billing fold answers every billing read as the read models do, on SQLite and PostgreSQL.

A replay reads a bill's inputs from ``FoldedBillingInputs`` (the events folded in memory), while
the billing run that issued the bill read them from ``SqlBillingInputs`` (the projected read
models). Here both are asked the same questions over the same store, after random histories
(readings with gaps crossing midnights, estimates, faulty readings and their estimates, voids,
corrections, late readings, suspensions, owner changes, area corrections, deregistrations, a
meter moved and recorded late, a building meter) and after the scenarios of heat far beyond the
MPE and its decisions. The answers must be equal, and print the same (the same digits of every
quantity).
"""

from __future__ import annotations

import itertools
from contextlib import suppress
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from application.authorization import SYSTEM
from domain.errors import LedgerError
from domain.implausible_heat import HeatDecision
from domain.readings import ReadingSource
from domain.season import Season
from domain.values import Areas, MeterKind
from infrastructure.container import Container
from infrastructure.point_in_time import BillingView
from projections.billing_inputs import SqlBillingInputs
from projections.folded_billing_inputs import FoldedBillingInputs
from tests.integration import test_implausible_heat
from tests.integration.test_implausible_heat import decide
from tests.strategies import SEASON_START, commission_meter, item, register_household

D = Decimal
SEASON = Season.default_starting(2025)
ALL = 1_000_000
_examples = itertools.count()
season = test_implausible_heat.season  # a season of daily readings with 38 GJ over five days


def folded(container: Container) -> FoldedBillingInputs:
    """Every event of the store, folded as a replay folds a household's."""
    container.catch_up()
    view = BillingView(container.ledger.clock)
    recorder = container.ledger.recorder
    last = recorder.max_notification_id() or 0
    for start in range(1, last + 1, 5_000):
        view.advance(recorder.select_notifications(start=start, limit=5_000, stop=last))
    return view.billing_inputs


def printed(answer: Any) -> str:
    """An answer as text, its mappings in key order: equal answers print alike to the digit."""
    if isinstance(answer, dict):
        return repr(sorted(((str(key), printed(value)) for key, value in answer.items())))
    return repr(answer)


def assert_same(fold: Any, read_models: Any) -> None:
    assert fold == read_models
    assert printed(fold) == printed(read_models)


def spans(season: Season) -> list[tuple[date, date]]:
    """The season, its first days, a day, and months: the runs' and the segments' spans."""
    first, last = season.first_day, season.last_day
    return [
        (first, last),
        (first, first + timedelta(days=2)),
        (first + timedelta(days=1), first + timedelta(days=1)),
        (first + timedelta(days=3), first + timedelta(days=40)),
        (date(2025, 12, 1), date(2025, 12, 31)),
        (date(2026, 1, 1), last),
    ]


def assert_fold_answers_as_read_models(container: Container) -> None:
    fold, read_models = folded(container), SqlBillingInputs(container.engine)
    households = read_models.households(None, ALL)
    assert_same(fold.households(None, ALL), households)
    for community in {household.community for household in households}:
        assert_same(fold.households(community, 3), read_models.households(community, 3))
    household_ids = [household.household_id for household in households]
    assert_same(fold.season_records(household_ids, SEASON), read_models.season_records(household_ids, SEASON))
    assert_same(fold.monthly_energy(household_ids, SEASON), read_models.monthly_energy(household_ids, SEASON))
    for first, last in spans(SEASON):
        assert_same(
            fold.meter_evidence(household_ids, first, last), read_models.meter_evidence(household_ids, first, last)
        )
        for household_id in household_ids:  # a household alone, as a segment reads it
            assert_same(
                fold.meter_evidence([household_id], first, last),
                read_models.meter_evidence([household_id], first, last),
            )
        assert_same(
            fold.implausible_intervals(household_ids, first, last),
            read_models.implausible_intervals(household_ids, first, last),
        )
        for community, building in {(household.community, household.building) for household in households}:
            assert_same(
                fold.building_energy_gj(community, building, first, last),
                read_models.building_energy_gj(community, building, first, last),
            )
    for meter in fold.fold.meters.values():
        for start in list(meter.intervals)[:5]:
            assert_same(fold.interval_evidence(meter.serial, start), read_models.interval_evidence(meter.serial, start))


# -- random histories ------------------------------------------------------------------------


@dataclass(frozen=True)
class History:
    """One building's flats over the season's first days, and what is recorded afterwards."""

    hours_between: tuple[int, ...]  # between consecutive readings of the first meter
    heat_gj: tuple[Decimal, ...]  # each interval's heat, in turn
    estimated: frozenset[int]  # readings recorded as estimates
    faulty: frozenset[int]  # readings flagged faulty by the meter
    estimate_faulty: bool  # a clerk estimates the first faulty interval
    voided: int | None
    corrected: int | None
    late: int | None  # a late reading inside this interval
    suspended: tuple[int, int | None] | None  # days of the season suspended and resumed
    owner_change: int | None
    area_m2: Decimal | None
    deregistered: int | None
    moved_at: int | None  # the meter moved to the second flat at this reading, typed in late
    building_meter: bool
    spare_meter: bool  # a meter attached to the second flat and taken off before it read anything


histories = st.builds(
    History,
    hours_between=st.lists(st.integers(min_value=5, max_value=40), min_size=3, max_size=10).map(tuple),
    heat_gj=st.lists(st.decimals(min_value=D("0.01"), max_value=D(2), places=3), min_size=1, max_size=3).map(tuple),
    estimated=st.frozensets(st.integers(min_value=1, max_value=9), max_size=2),
    faulty=st.frozensets(st.integers(min_value=1, max_value=9), max_size=2),
    estimate_faulty=st.booleans(),
    voided=st.one_of(st.none(), st.integers(min_value=0, max_value=10)),
    corrected=st.one_of(st.none(), st.integers(min_value=0, max_value=10)),
    late=st.one_of(st.none(), st.integers(min_value=0, max_value=9)),
    suspended=st.one_of(
        st.none(),
        st.tuples(st.integers(min_value=0, max_value=5), st.one_of(st.none(), st.integers(min_value=0, max_value=9))),
    ),
    owner_change=st.one_of(st.none(), st.integers(min_value=1, max_value=8)),
    area_m2=st.one_of(st.none(), st.decimals(min_value=D(40), max_value=D(160), places=2)),
    deregistered=st.one_of(st.none(), st.integers(min_value=3, max_value=9)),
    moved_at=st.one_of(st.none(), st.integers(min_value=1, max_value=9)),
    building_meter=st.booleans(),
    spare_meter=st.booleans(),
)


@settings(max_examples=8, deadline=None)
@given(history=histories)
def test_the_fold_answers_every_billing_read_as_the_read_models(container: Container, history: History) -> None:
    play(container, history, f"F{next(_examples)}")
    assert_fold_answers_as_read_models(container)


def play(container: Container, history: History, tag: str) -> None:
    """The history in a community of its own; commands the ledger refuses are simply not done."""
    ledger, community = container.ledger, f"社区{tag}"
    first, second, serial = f"{tag}-1", f"{tag}-2", f"{tag}-M1"
    register_household(ledger, first, community)
    register_household(ledger, second, community)
    commission_meter(ledger, serial)
    ledger.attach_meter(SYSTEM, first, serial, SEASON_START - timedelta(days=1))
    times = list(itertools.accumulate(history.hours_between, initial=0))
    moments = [SEASON_START + timedelta(hours=hours) for hours in times]
    registers = list(
        itertools.accumulate((history.heat_gj[i % len(history.heat_gj)] for i in range(len(times) - 1)), initial=D(100))
    )
    readings = [
        item(
            serial,
            moment,
            register,
            source=ReadingSource.ESTIMATE if index in history.estimated else ReadingSource.MANUAL,
            faulty=index in history.faulty,
        )
        for index, (moment, register) in enumerate(zip(moments, registers, strict=True))
    ]
    ledger.record_readings(SYSTEM, readings)
    if history.building_meter:
        commission_meter(ledger, f"{tag}-B", MeterKind.BUILDING, community, "1")
        ledger.record_readings(
            SYSTEM, [item(f"{tag}-B", moment, D(5000) + 3 * index) for index, moment in enumerate(moments)]
        )
    if history.spare_meter:
        commission_meter(ledger, f"{tag}-M2")
        ledger.attach_meter(SYSTEM, second, f"{tag}-M2", SEASON_START - timedelta(days=2))
        ledger.detach_meter(SYSTEM, f"{tag}-M2", SEASON_START - timedelta(days=1), "not needed")
    afterwards(container, history, tag, community, moments, registers)


def afterwards(
    container: Container, history: History, tag: str, community: str, moments: list[datetime], registers: list[Decimal]
) -> None:
    ledger, first, second, serial = container.ledger, f"{tag}-1", f"{tag}-2", f"{tag}-M1"
    day = lambda number: SEASON.first_day + timedelta(days=number)  # noqa: E731
    with suppress(LedgerError):
        if history.estimate_faulty and history.faulty:
            faulty = min(history.faulty)
            if faulty < len(moments):
                ledger.estimate_faulty_interval(SYSTEM, serial, moments[faulty - 1], D("0.123"), "history")
    count = len(moments)
    with suppress(LedgerError):
        if history.voided is not None:
            ledger.void_reading(SYSTEM, serial, moments[history.voided % count], "duplicate")
    with suppress(LedgerError):
        if history.corrected is not None and history.corrected != history.voided:
            at = moments[history.corrected % count]
            corrected = registers[history.corrected % count] + D("0.001")
            ledger.correct_reading(SYSTEM, serial, at, item(serial, at, corrected).values, "re-keyed")
    with suppress(LedgerError):
        if history.late is not None:
            late = history.late % (count - 1)
            start, end = moments[late], moments[late + 1]
            middle = start + (end - start) / 2
            between = (registers[late] + registers[late + 1]) / 2
            ledger.record_readings(SYSTEM, [item(serial, middle, between.quantize(D("0.000001")))])
    with suppress(LedgerError):
        if history.suspended is not None:
            suspended_from, resumed_after = history.suspended
            ledger.suspend_heating(SYSTEM, first, day(suspended_from), "报停")
            if resumed_after is not None:
                ledger.resume_heating(SYSTEM, first, day(suspended_from + resumed_after), "复供")
    with suppress(LedgerError):
        if history.owner_change is not None:
            ledger.change_owner(SYSTEM, first, day(history.owner_change), "过户")
    with suppress(LedgerError):
        if history.area_m2 is not None:
            ledger.correct_area(SYSTEM, first, Areas(history.area_m2, history.area_m2), SEASON.first_day, "survey")
    with suppress(LedgerError):
        if history.moved_at is not None:
            moved_at = moments[1 + history.moved_at % (count - 1)]
            ledger.detach_meter(SYSTEM, serial, moved_at, "moved next door, typed in late")
            ledger.attach_meter(SYSTEM, second, serial, moved_at, "moved next door, typed in late")
    with suppress(LedgerError):
        if history.deregistered is not None:
            ledger.deregister_household(SYSTEM, second, day(history.deregistered), "拆网")


# -- heat far beyond the permissible error, and each decision about it ---------------------------


def test_the_fold_answers_as_the_read_models_about_heat_far_beyond_the_mpe(season: Container) -> None:
    assert_fold_answers_as_read_models(season)
    for decision in (HeatDecision.ESTIMATE, HeatDecision.HOLD, HeatDecision.BILL_AS_MEASURED, HeatDecision.ESTIMATE):
        assert decide(season, decision, f"decided: {decision.value}")
        assert_fold_answers_as_read_models(season)
