"""The plan of a rebuild split by building (projections/rebuild_plan.py), from stored events
described by hand: what ties aggregates, what does not, and how groups are shared out."""

from dataclasses import dataclass, field
from itertools import count
from typing import Any
from uuid import UUID, uuid4

from hypothesis import given
from hypothesis import strategies as st

from projections.rebuild_plan import CITY_WIDE_TOPICS, RebuildPlan, build_plan

TARIFF_TOPIC = next(topic for topic in CITY_WIDE_TOPICS if topic.endswith(":Tariff")) + ".Opened"
HOUSEHOLD_TOPIC = "domain.household:Household.SomethingHappened"


@dataclass(frozen=True)
class Stored:
    """A stored event as the plan sees it (a Notification's fields)."""

    originator_id: UUID
    topic: str
    id: int
    names: dict[str, Any] = field(default_factory=dict)  # the decoded event's fields


@dataclass
class Decoded:
    """A decoded event: its fields only (no building: ties come from named ids here)."""

    originator_id: UUID


def decode(stored: Stored) -> Any:
    event = Decoded(stored.originator_id)
    vars(event).update(stored.names)
    return event


def plan_of(events: list[Stored], processes: int) -> RebuildPlan:
    counts: dict[UUID, int] = {}
    for event in events:
        counts[event.originator_id] = counts.get(event.originator_id, 0) + 1
    stop = max((event.id for event in events), default=0)
    return build_plan(counts, events, stop, processes, decode)


def group_of(plan: RebuildPlan) -> dict[UUID, int]:
    return {member: index for index, group in enumerate(plan.groups) for member in group}


def test_an_aggregate_named_by_another_shares_its_group() -> None:
    household, payment, other = uuid4(), uuid4(), uuid4()
    ids = count(1)
    events = [
        Stored(household, HOUSEHOLD_TOPIC, next(ids)),
        Stored(other, HOUSEHOLD_TOPIC, next(ids)),
        Stored(payment, HOUSEHOLD_TOPIC, next(ids), {"household_id": household, "lines": [{"of": [household]}]}),
    ]
    groups = group_of(plan_of(events, 2))
    assert groups[household] == groups[payment] != groups[other]


def test_correlation_ids_and_ids_of_no_aggregate_tie_nothing() -> None:
    first, second, run = uuid4(), uuid4(), uuid4()
    ids = count(1)
    events = [
        Stored(first, HOUSEHOLD_TOPIC, next(ids), {"correlation_id": run, "batch_id": second}),
        Stored(second, HOUSEHOLD_TOPIC, next(ids), {"correlation_id": run, "command_id": uuid4()}),
    ]
    groups = group_of(plan_of(events, 2))
    assert groups[first] != groups[second]


def test_a_city_wide_aggregate_is_apart_and_ties_nothing() -> None:
    tariff, first, second = uuid4(), uuid4(), uuid4()
    ids = count(1)
    events = [
        Stored(tariff, TARIFF_TOPIC, next(ids)),
        Stored(first, HOUSEHOLD_TOPIC, next(ids), {"tariff_id": tariff}),
        Stored(second, HOUSEHOLD_TOPIC, next(ids), {"tariff_id": tariff}),
    ]
    plan = plan_of(events, 2)
    assert plan.city_wide == {tariff}
    groups = group_of(plan)
    assert tariff not in groups and groups[first] != groups[second]


@given(
    sizes=st.lists(st.integers(1, 50), min_size=1, max_size=12),
    ties=st.lists(st.tuples(st.integers(0, 11), st.integers(0, 11)), max_size=8),
    processes=st.integers(1, 4),
)
def test_every_aggregate_is_in_one_group_with_all_it_is_tied_to(
    sizes: list[int], ties: list[tuple[int, int]], processes: int
) -> None:
    aggregates = [uuid4() for _ in sizes]
    ids = count(1)
    events = [
        Stored(aggregate, HOUSEHOLD_TOPIC, next(ids))
        for aggregate, size in zip(aggregates, sizes, strict=True)
        for _ in range(size)
    ]
    for first, second in ties:
        if first < len(aggregates) and second < len(aggregates):
            events.append(Stored(aggregates[first], HOUSEHOLD_TOPIC, next(ids), {"other_id": aggregates[second]}))
    plan = plan_of(events, processes)
    groups = group_of(plan)
    assert sorted(groups) == sorted(aggregates) and len(plan.groups) == processes
    for first, second in ties:
        if first < len(aggregates) and second < len(aggregates):
            assert groups[aggregates[first]] == groups[aggregates[second]]
    assert sum(plan.events) == len(events)
    group_sizes = [sum(1 for event in events if groups[event.originator_id] == index) for index in range(processes)]
    assert list(plan.events) == group_sizes
