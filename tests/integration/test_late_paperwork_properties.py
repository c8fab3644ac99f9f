"""Late paperwork, as a property on each backend: the same facts recorded in any order give the
same consumption per household and per day, the same intervals per meter and the same settlement
inputs as recording them in time order.

The facts of one example: an old meter attached to household A (possibly after some of its
readings, a back-dated installation form), read a few times; swapped for a new meter (final and
initial readings at one moment), the removed meter possibly read again on the bus; the new meter
read a few times; possibly moved to household B later (detached and attached at one moment).
The ledger itself orders four of them: a meter is attached before it is swapped, and swapped in
before it is moved. Every other fact comes in any order, as concentrators and clerks send them.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal
from itertools import count
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy import select

from application.authorization import Principal, Role
from domain import ids
from infrastructure.container import Container
from infrastructure.settings import Backend
from projections.billing_inputs import SqlBillingInputs
from projections.queries import Granularity, LedgerQueries
from projections.tables import meter_intervals
from tests.strategies import SEASON_START, commission_meter, item, register_household, values

CLERK = Principal("clerk-li", Role.CLERK)
DEVICE = Principal("concentrator-1", Role.DEVICE)
# Each example plays its facts twice (in time order, then in the drawn order) into one store.
EXAMPLES = {Backend.SQLITE: 20, Backend.POSTGRES: 10}
FIRST_DAY, LAST_DAY = date(2025, 10, 1), date(2026, 3, 31)
# 0.006 GJ a minute = 0.36 GJ/h, under the 0.5 GJ/h a household meter may register, so every
# pair of readings (not only neighbours) is plausible and no order of arrival is refused.
MAXIMUM_MILLI_GJ_PER_MINUTE = 6
# Paperwork falls half a minute off the minute grid of readings: no fact shares another's moment.
OFF_GRID = timedelta(seconds=30)
# Facts the ledger must receive in this order (a swap needs the old meter attached, a move the new one).
ORDERED_KINDS = ("attach_old", "swap", "move_out", "move_in")


@dataclass(frozen=True)
class Fact:
    """One fact of the world: what happened (``kind``), when, and the register(s) read then."""

    kind: str
    at: datetime
    energy_gj: Decimal = Decimal(0)
    initial_energy_gj: Decimal = Decimal(0)  # the new meter's register at a swap


@dataclass(frozen=True)
class Names:
    """The names one play uses, fresh for every play since the plays share a store."""

    old: str
    new: str
    first: str
    second: str

    @classmethod
    def tagged(cls, tag: str) -> Names:
        return cls(f"OLD-{tag}", f"NEW-{tag}", f"A-{tag}", f"B-{tag}")

    def role(self, household_id: Any) -> str | None:
        """Which household (``first``/``second``) an id is, so two plays compare."""
        roles = {ids.household_id(self.first): "first", ids.household_id(self.second): "second"}
        return None if household_id is None else roles[household_id]

    def neutral(self, text: str) -> str:
        return text.replace(self.old, "OLD").replace(self.new, "NEW")


@st.composite
def meter_readings(draw: st.DrawFn, start: datetime, start_milli_gj: int, count_range: tuple[int, int]) -> list[Fact]:
    """Readings after ``start`` (a register of ``start_milli_gj`` thousandths of a GJ), plausibly rising."""
    facts, moment, register = [], start, start_milli_gj
    for _ in range(draw(st.integers(*count_range))):
        gap_minutes = draw(st.integers(60, 36 * 60))
        moment += timedelta(minutes=gap_minutes)
        register += draw(st.integers(0, min(2000, MAXIMUM_MILLI_GJ_PER_MINUTE * gap_minutes)))
        facts.append(Fact("read", moment, Decimal(register).scaleb(-3)))
    return facts


def milli(energy_gj: Decimal) -> int:
    return int(energy_gj.scaleb(3))


@st.composite
def histories(draw: st.DrawFn) -> tuple[list[Fact], list[int]]:
    """The facts in time order, and the order the ledger receives them in."""
    first_read_at = SEASON_START + timedelta(minutes=draw(st.integers(0, 24 * 60)))
    old_start = draw(st.integers(0, 10**6))
    old_before = [Fact("read_old", first_read_at, Decimal(old_start).scaleb(-3))]
    old_before += [
        Fact("read_old", fact.at, fact.energy_gj) for fact in draw(meter_readings(first_read_at, old_start, (0, 4)))
    ]
    # The swap: some minutes after the old meter's last reading before it.
    (swap,) = draw(meter_readings(old_before[-1].at, milli(old_before[-1].energy_gj), (1, 1)))
    swap_at, final = swap.at + OFF_GRID, swap.energy_gj
    initial = draw(st.integers(0, 10_000))
    old_after = [
        Fact("read_old", fact.at, fact.energy_gj) for fact in draw(meter_readings(swap_at, milli(final), (0, 2)))
    ]
    new_readings = [
        Fact("read_new", fact.at, fact.energy_gj) for fact in draw(meter_readings(swap_at, initial, (1, 5)))
    ]
    # The old meter's installation: before its first reading or between its readings before the swap.
    attached_at = first_read_at - timedelta(hours=1) + OFF_GRID
    attached_at += timedelta(minutes=draw(st.integers(0, (swap_at - attached_at) // timedelta(minutes=1) - 1)))
    paperwork = [Fact("attach_old", attached_at), Fact("swap", swap_at, final, Decimal(initial).scaleb(-3))]
    if draw(st.booleans()):
        moved_at = swap_at + timedelta(minutes=draw(st.integers(1, 4 * 24 * 60))) + OFF_GRID
        paperwork += [Fact("move_out", moved_at), Fact("move_in", moved_at)]
    facts = sorted(old_before + old_after + new_readings + paperwork, key=lambda fact: fact.at)  # stable
    return facts, _arrival_order(draw, facts)


def _arrival_order(draw: st.DrawFn, facts: list[Fact]) -> list[int]:
    """A random order, except that the ordered kinds keep their order among themselves."""
    order = list(draw(st.permutations(range(len(facts)))))
    ordered = [index for index, fact in enumerate(facts) if fact.kind in ORDERED_KINDS]
    slots = sorted(order.index(index) for index in ordered)
    for slot, index in zip(slots, ordered, strict=True):
        order[slot] = index
    return order


def play(container: Container, facts: list[Fact], order: list[int], names: Names) -> None:
    ledger = container.ledger
    register_household(ledger, names.first, building="1")
    register_household(ledger, names.second, building="2")
    commission_meter(ledger, names.old)
    commission_meter(ledger, names.new)
    for index in order:
        record(container, facts[index], names)


def record(container: Container, fact: Fact, names: Names) -> None:
    ledger = container.ledger
    if fact.kind in ("read_old", "read_new"):
        serial = names.old if fact.kind == "read_old" else names.new
        report = ledger.record_readings(DEVICE, [item(serial, fact.at, fact.energy_gj)])
        assert report.accepted == 1, report.outcomes
    elif fact.kind == "attach_old":
        ledger.attach_meter(CLERK, names.first, names.old, fact.at, reason="installation form")
    elif fact.kind == "swap":
        final, initial = values(fact.at, fact.energy_gj), values(fact.at, fact.initial_energy_gj)
        ledger.replace_meter(CLERK, names.first, names.old, names.new, final, initial, "swap form")
    elif fact.kind == "move_out":
        ledger.detach_meter(CLERK, names.new, fact.at, reason="moved to the flat next door")
    else:
        assert fact.kind == "move_in", fact
        ledger.attach_meter(CLERK, names.second, names.new, fact.at, reason="moved to the flat next door")


def read_models(container: Container, names: Names) -> dict[str, Any]:
    """What the households, the meters and a settlement see, with the play's names taken out."""
    queries = LedgerQueries(container.engine)
    households = {
        name: ids.household_id(account) for name, account in (("first", names.first), ("second", names.second))
    }
    models: dict[str, Any] = {}
    for name, household_id in households.items():
        periods = queries.household_consumption(household_id, FIRST_DAY, LAST_DAY, Granularity.DAY)
        models[f"{name} per day"] = [(period.first_day, period.energy_gj) for period in periods]
    for serial in (names.old, names.new):
        periods = queries.meter_consumption(ids.meter_id(serial), FIRST_DAY, LAST_DAY, Granularity.DAY)
        models[f"{names.neutral(serial)} per day"] = [(period.first_day, period.energy_gj) for period in periods]
        models[f"{names.neutral(serial)} intervals"] = intervals(container, serial, names)
    evidence = SqlBillingInputs(container.engine).meter_evidence(list(households.values()), FIRST_DAY, LAST_DAY)
    for name, household_id in households.items():
        found = evidence.get(household_id)
        models[f"{name} evidence"] = None if found is None else names.neutral(repr(found))
    return models


def intervals(container: Container, serial: str, names: Names) -> list[tuple[Any, ...]]:
    columns = meter_intervals.c
    query = (
        select(columns.start_at, columns.end_at, columns.energy_gj, columns.household_id)
        .where(columns.meter_id == ids.meter_id(serial))
        .order_by(columns.start_at)
    )
    with container.engine.connect() as connection:
        return [
            (start, end, energy, names.role(household)) for start, end, energy, household in connection.execute(query)
        ]


def expected_totals(facts: list[Fact]) -> dict[str, Decimal]:
    """Hand rule: the first household has the old meter from its reading at or before the
    installation (or its first reading) to the swap, and the new meter from the swap to its
    reading at or after the move; the second household has the new meter from there on."""
    attached_at = next(fact.at for fact in facts if fact.kind == "attach_old")
    swap = next(fact for fact in facts if fact.kind == "swap")
    moved_at = next((fact.at for fact in facts if fact.kind == "move_out"), None)
    old = [fact for fact in facts if fact.kind == "read_old" and fact.at < swap.at]
    old_from = next((fact for fact in reversed(old) if fact.at <= attached_at), old[0])
    new = [Fact("read_new", swap.at, swap.initial_energy_gj)] + [fact for fact in facts if fact.kind == "read_new"]
    new_until = next((fact for fact in new if moved_at is not None and fact.at >= moved_at), new[-1])
    first = (swap.energy_gj - old_from.energy_gj) + (new_until.energy_gj - new[0].energy_gj)
    return {"first": first, "second": new[-1].energy_gj - new_until.energy_gj}


def total(models: dict[str, Any], name: str) -> Decimal:
    return sum((energy for _, energy in models[f"{name} per day"]), Decimal(0))


@pytest.fixture
def tags() -> Iterator[str]:
    return (f"{number:04d}" for number in count())


def test_the_same_facts_in_any_order_give_the_read_models_of_time_order(
    container: Container, tags: Iterator[str]
) -> None:
    @settings(max_examples=EXAMPLES[container.settings.backend])
    @given(history=histories())
    def any_order_matches_time_order(history: tuple[list[Fact], list[int]]) -> None:
        facts, order = history
        in_time, as_arrived = Names.tagged(next(tags)), Names.tagged(next(tags))
        play(container, facts, list(range(len(facts))), in_time)
        play(container, facts, order, as_arrived)

        expected = read_models(container, in_time)
        assert read_models(container, as_arrived) == expected
        assert {name: total(expected, name) for name in ("first", "second")} == expected_totals(facts)

    any_order_matches_time_order()
