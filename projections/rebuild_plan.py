"""How a rebuild of the ledger projection is split over processes: by building.

The projection's handlers (and its set-based writers, which read for a run of events the rows its
events' handlers would read) read, besides the event they apply, only rows written by events of
aggregates tied to it: a meter's rows name the household it is attached to, a bill its billing
period, an allocation its household's bills and payments, a building's summed heat every
household and meter of that building. A rebuild may therefore apply the events of one building's
aggregates apart from another building's, in notification order within the building, and get the
same rows. The ties are read from the events themselves: every aggregate id an event names ties
the two aggregates (a meter attached to a household, a payment to its household, a controller to
its household), and a household or meter registered in a building ties it to that building.
Aggregates so tied form a group; a process takes whole groups.

City-wide aggregates (tariffs, seasons, substations, tariff corrections, staff accounts and the
like) are named by most of the others (every billing period names its tariff) and their rows are
read by none of the others' handlers: they are applied first, once, in notification order, and no
tie goes through them. Their handlers read only their own rows.

A tie is only what an event names of another aggregate in the store: correlation ids, batch ids and
any other id that is not an aggregate's tie nothing (a billing run's correlation id would otherwise
tie a whole city into one group).
"""

from __future__ import annotations

import dataclasses
from collections import Counter
from collections.abc import Callable, Hashable, Iterable
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any
from uuid import UUID

from domain.analytics_baseline import AnalyticsBaseline
from domain.building_allocation import BuildingAllocation
from domain.heating_season import HeatingSeason
from domain.household import Household
from domain.meter import Meter
from domain.staff_account import StaffAccount
from domain.substation import Substation
from domain.tariff import Tariff
from domain.tariff_correction import TariffCorrection
from domain.valve import RoomController

CITY_WIDE_AGGREGATES: tuple[type[Any], ...] = (
    Tariff,
    TariffCorrection,
    HeatingSeason,
    Substation,
    StaffAccount,
    AnalyticsBaseline,
    BuildingAllocation,
)
# Events the plan need not read: each names only its own aggregate and what that aggregate's
# earlier events named (a reading its meter's household, which the attachment named; a room report
# its controller's household, which the installation named). Nine in ten of a season's events.
UNREAD_EVENTS: tuple[type[Any], ...] = (Meter.ReadingRecorded, RoomController.ReportRecorded)
UNREAD_TOPICS = frozenset(f"{cls.__module__}:{cls.__qualname__}" for cls in UNREAD_EVENTS)
# Ids an event carries that name no aggregate it depends on (shared by many aggregates at once).
UNTYING_FIELDS = frozenset({"correlation_id", "causation_id", "batch_id", "originator_id"})
# A bound on the nesting walked for ids in one event (lists of dataclasses of lists…).
MAXIMUM_DEPTH = 8


def aggregate_topic(event_topic: str) -> str:
    """The aggregate class's topic of an event's topic: 'domain.meter:Meter.ReadingRecorded' →
    'domain.meter:Meter'."""
    module, _, qualname = event_topic.partition(":")
    return f"{module}:{qualname.rpartition('.')[0]}"


CITY_WIDE_TOPICS = frozenset(f"{cls.__module__}:{cls.__qualname__}" for cls in CITY_WIDE_AGGREGATES)


@dataclass(frozen=True)
class RebuildPlan:
    """What each process of a rebuild applies, up to ``stop`` (the store's last notification id
    when the plan was made).

    ``city_wide``: the ids of the aggregates applied first, once; ``groups``: per process, the ids
    of the aggregates it applies; ``events``: the events each group holds (for balance)."""

    stop: int
    city_wide: frozenset[UUID]
    groups: tuple[frozenset[UUID], ...]
    events: tuple[int, ...]

    def __post_init__(self) -> None:
        seen: set[UUID] = set(self.city_wide)
        for group in self.groups:
            assert seen.isdisjoint(group), "an aggregate in two groups"
            seen |= group


class _Ties:
    """Union-find over aggregate ids and building places."""

    def __init__(self) -> None:
        self._parent: dict[Hashable, Hashable] = {}

    def root(self, node: Hashable) -> Hashable:
        parent = self._parent.setdefault(node, node)
        if parent == node:
            return node
        path = [node]
        while parent != path[-1]:
            path.append(parent)
            parent = self._parent[parent]
        for step in path:  # path compression: later look-ups take one step
            self._parent[step] = parent
        return parent

    def tie(self, first: Hashable, second: Hashable) -> None:
        first_root, second_root = self.root(first), self.root(second)
        if first_root != second_root:
            self._parent[first_root] = second_root


class PlanBuilder:
    """Builds the ``RebuildPlan`` from how many events each aggregate has up to ``stop`` and
    every stored event up to it but those of UNREAD_TOPICS (a reading names only its meter's household,
    which the meter's attachment named first), in notification order.

    ``decode`` turns a stored event (a Notification) into its domain event; it is called only for
    events of aggregates that are not city-wide."""

    def __init__(self, stop: int, events: dict[UUID, int], decode: Callable[[Any], Any]) -> None:
        self.stop = stop
        self._decode = decode
        self._events = events
        self._city_wide: set[UUID] = set()
        self._named: list[tuple[UUID, UUID]] = []  # (aggregate, an id its event names)
        self._ties = _Ties()

    def add(self, notification: Any) -> None:
        """Take one stored event (not one of UNREAD_TOPICS)."""
        assert notification.id <= self.stop, "an event after the plan's stop"
        originator_id = notification.originator_id
        if aggregate_topic(notification.topic) in CITY_WIDE_TOPICS:
            self._city_wide.add(originator_id)
            return
        domain_event = self._decode(notification)
        place = _place_of(domain_event)
        if place is not None:
            self._ties.tie(originator_id, place)
        for named in _named_ids(domain_event):
            if named != originator_id:
                self._named.append((originator_id, named))

    def plan(self, processes: int) -> RebuildPlan:
        """The plan for ``processes`` processes: whole groups, the largest first, each to the
        process with the fewest events so far."""
        assert processes >= 1, "one process at least"
        for originator_id, named in self._named:
            # Only ids of aggregates in the store tie, and never through a city-wide one.
            if named in self._events and named not in self._city_wide:
                self._ties.tie(originator_id, named)
        sizes: Counter[Hashable] = Counter()
        members: dict[Hashable, list[UUID]] = {}
        for originator_id, count in self._events.items():
            if originator_id in self._city_wide:
                continue
            root = self._ties.root(originator_id)
            sizes[root] += count
            members.setdefault(root, []).append(originator_id)
        groups: list[set[UUID]] = [set() for _ in range(processes)]
        loads = [0] * processes
        for root, size in sorted(sizes.items(), key=lambda item: (-item[1], str(item[0]))):
            lightest = loads.index(min(loads))
            groups[lightest].update(members[root])
            loads[lightest] += size
        return RebuildPlan(
            self.stop, frozenset(self._city_wide), tuple(frozenset(group) for group in groups), tuple(loads)
        )


def build_plan(
    events: dict[UUID, int], others: Iterable[Any], stop: int, processes: int, decode: Callable[[Any], Any]
) -> RebuildPlan:
    """The plan of a rebuild over ``processes``: ``events`` per aggregate up to ``stop``, and
    ``others``, every stored event up to ``stop`` but those of ``UNREAD_TOPICS``."""
    builder = PlanBuilder(stop, events, decode)
    for notification in others:
        builder.add(notification)
    return builder.plan(processes)


def _place_of(domain_event: Any) -> tuple[str, str, str] | None:
    """The building a household or meter is registered in (a node of its own in the ties). A
    household meter is commissioned without one (it takes its household's): no tie then, or every
    such meter in the city would be tied to every other."""
    if isinstance(domain_event, Household.Registered | Meter.Commissioned) and domain_event.building:
        return ("building", str(domain_event.community), str(domain_event.building))
    return None


def _named_ids(domain_event: Any) -> Iterable[UUID]:
    """Every UUID the event's fields hold (in lists, dicts and dataclasses too), but for the
    fields that name no aggregate it depends on."""
    values = [value for name, value in vars(domain_event).items() if name not in UNTYING_FIELDS]
    for _ in range(MAXIMUM_DEPTH):
        nested: list[Any] = []
        for value in values:
            kind = type(value)
            if kind in _LEAF_TYPES:  # most values: amounts, times, texts
                continue
            if isinstance(value, UUID):
                yield value
            elif isinstance(value, str | int | float | Decimal | date):  # enums, subclasses
                continue
            elif isinstance(value, list | tuple | set | frozenset):
                nested.extend(value)
            elif isinstance(value, dict):
                nested.extend(value.values())
            elif dataclasses.is_dataclass(value) and not isinstance(value, type):
                names = (field.name for field in dataclasses.fields(value))
                nested.extend(getattr(value, name) for name in names if name not in UNTYING_FIELDS)
        if not nested:
            return
        values = nested


_LEAF_TYPES = frozenset({str, int, float, bool, Decimal, datetime, date, type(None)})
