"""A ledger that knows only what the real one knew at a moment: for as-known reads and bill replays.

A ``PointInTimeView`` is a fresh ledger in memory with its own read models (an in-memory SQLite
database with every read-model table), which receives the stored events of a scope (a household's
aggregates) up to a position of the real ledger's notification log, and projects them with the
same projection. Every question is then answered by the same query and billing code as the real
ledger's, over what was known then. By construction its answers are those of a ledger that only
ever received those events.

Its saves are dry runs: a billing run in the view computes and "issues" its bills, and the events
it would have stored are captured instead (``PointInTimeLedger.captured``), so the same view can be
advanced and asked again.
"""

from __future__ import annotations

import itertools
import re
import sqlite3
import threading
from collections.abc import Callable, Collection, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any
from uuid import UUID

from eventsourcing.persistence import Notification, StoredEvent
from sqlalchemy import Engine, create_engine, select
from sqlalchemy.pool import StaticPool

from application.arrears import Arrears
from application.billing import Billing
from application.billing_runs import BillingRuns
from application.ledger import HeatLedger
from application.seasons import Seasons
from domain import ids
from domain.household import Household
from domain.tariff import CITY_SCOPE
from domain.values import CustomerClass
from infrastructure.event_selection import scoped_notifications
from infrastructure.reading_decoding import READING_TOPIC, ReadingDecoder
from projections.arrears_queries import ArrearsQueries
from projections.billing_fold import BillingFold
from projections.billing_inputs import SqlBillingInputs
from projections.folded_billing_inputs import FoldedBillingInputs
from projections.ledger_projection import LedgerProjection
from projections.runner import ProjectionRunner
from projections.tables import households, metadata, payments, refund_payouts

# A stored event's state as the library writes it (JSON, neither compressed nor encrypted) starts
# with the event's timestamp: reading it there spares decoding the whole event.
_RECORDED_AT = re.compile(rb'\{"timestamp":\{"_type_":"datetime_iso","_data_":"([0-9T:.+\-]{19,40})"\}')
# The view projects what it receives in batches this big (one transaction each, in memory).
VIEW_BATCH_SIZE = 5_000
# Season codes a household's scope covers around its registration and today (a season's
# aggregates are found by id, so a code without records costs one empty lookup).
SEASONS_BEFORE_REGISTRATION = 1
SEASONS_AFTER_TODAY = 1


class PointInTimeLedger(HeatLedger):
    """A ledger in memory that holds only the events it was given; its saves are dry runs."""

    def __init__(self, clock: Callable[[], datetime]) -> None:
        super().__init__(env={"PERSISTENCE_MODULE": "eventsourcing.popo"}, clock=clock)
        self.captured: list[Any] = []

    def receive(self, notifications: Sequence[Notification]) -> None:
        """Store ``notifications`` as they were stored in the real ledger (in their order)."""
        if notifications:
            self.recorder.insert_events(
                [StoredEvent(n.originator_id, n.originator_version, n.topic, n.state) for n in notifications]
            )

    def save(self, *objs: Any, **kwargs: Any) -> list[Any]:
        """Capture what would be saved, store nothing (the view stays what it was given)."""
        for aggregate in objs:
            if aggregate is not None:
                self.captured.extend(aggregate.collect_events())
        return []


@dataclass
class PointInTimeView:
    """A ledger and its read models as they stood at ``position`` of the real notification log,
    for the aggregates of one scope."""

    ledger: PointInTimeLedger
    engine: Engine
    runner: ProjectionRunner
    scope: frozenset[UUID]
    position: int = 0
    received: int = 0
    _closed: bool = field(default=False, repr=False)

    def advance(self, notifications: Iterable[Notification]) -> None:
        """Receive further events, in the real ledger's order and each after every event received
        before, and catch the read models up."""
        fresh = list(notifications)
        if not fresh:
            return
        assert all(earlier.id < later.id for earlier, later in itertools.pairwise(fresh)), "in recording order"
        self.ledger.receive(fresh)
        self.position = max(self.position, fresh[-1].id)
        self.received += len(fresh)
        self.runner.catch_up()

    @property
    def billing_inputs(self) -> SqlBillingInputs:
        return SqlBillingInputs(self.engine)

    @property
    def billing(self) -> Billing:
        return Billing(self.ledger, self.billing_inputs)

    @property
    def seasons(self) -> Seasons:
        return Seasons(self.ledger)

    def billing_runs(self) -> BillingRuns:
        """Billing runs over the view (dry: their bills are captured, not stored)."""
        return BillingRuns(self.billing, self.seasons.season_in_force)

    def arrears(self) -> Arrears:
        return Arrears(self.ledger, ArrearsQueries(self.engine), self.seasons.season_in_force)

    def close(self) -> None:
        if not self._closed:
            self._closed = True
            self.ledger.close()
            self.engine.dispose()

    def __enter__(self) -> PointInTimeView:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class BillingView:
    """A ledger in memory holding the events it was given, with the read models a billing run
    reads folded in memory (``projections/billing_fold.py``) instead of projected into a
    database: what a bill's replay needs, at a fraction of the cost (a season of hourly readings
    is about 13,000 rows). It answers billing runs only; ``PointInTimeView`` answers anything.

    Its ledger stores every event it is given except a meter's readings, which only the fold
    needs: a billing run loads billing periods, tariffs, season records and allocations, never a
    meter (one loaded with a gap in its events would be refused by the library, not misread)."""

    def __init__(self, clock: Callable[[], datetime]) -> None:
        self.ledger = PointInTimeLedger(clock)
        self.fold = BillingFold()
        self.decoder = ReadingDecoder(self.ledger.mapper)
        self.position = 0
        self.received = 0

    def advance(self, notifications: Iterable[Notification]) -> None:
        """Receive further events, in the real ledger's order, and fold them in that order."""
        fresh = list(notifications)
        if not fresh:
            return
        assert all(earlier.id < later.id for earlier, later in itertools.pairwise(fresh)), "in recording order"
        self.ledger.receive([n for n in fresh if n.topic != READING_TOPIC])
        mapper = self.ledger.mapper
        # Runs of readings are decoded and folded together (thousands in a row, mostly).
        for is_reading, run in itertools.groupby(fresh, key=lambda notification: notification.topic == READING_TOPIC):
            if is_reading:
                self.fold.record_readings(self.decoder.decode_all(list(run)))
            else:
                for notification in run:
                    self.fold.apply(mapper.to_domain_event(notification))
        self.position = max(self.position, fresh[-1].id)
        self.received += len(fresh)

    @property
    def billing_inputs(self) -> FoldedBillingInputs:
        return FoldedBillingInputs(self.fold, self.position)

    def billing_runs(self) -> BillingRuns:
        """Billing runs over the view (dry: their bills are captured, not stored)."""
        billing = Billing(self.ledger, self.billing_inputs)
        return BillingRuns(billing, Seasons(self.ledger).season_in_force)

    def close(self) -> None:
        self.ledger.close()

    def __enter__(self) -> BillingView:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def empty_view(scope: Collection[UUID], clock: Callable[[], datetime]) -> PointInTimeView:
    """A view that has received nothing yet, with its clock at ``clock``."""
    ledger = PointInTimeLedger(clock)
    database = _read_model_database()
    engine = create_engine("sqlite://", creator=lambda: database, poolclass=StaticPool)
    runner = ProjectionRunner(ledger, engine, LedgerProjection(), batch_size=VIEW_BATCH_SIZE)
    return PointInTimeView(ledger, engine, runner, frozenset(scope))


# Creating every read-model table takes about 9 ms; copying an empty database that has them,
# 0.05 ms. The copy is made from a database built once per process, again whenever a module
# imported since declared more tables.
_empty_database_lock = threading.Lock()
_empty_database: tuple[tuple[str, ...], sqlite3.Connection] | None = None


def _read_model_database() -> sqlite3.Connection:
    """A new in-memory database with every read-model table and nothing in them."""
    global _empty_database
    tables = tuple(metadata.tables)
    with _empty_database_lock:
        if _empty_database is None or _empty_database[0] != tables:
            if _empty_database is not None:
                _empty_database[1].close()
            template = sqlite3.connect(":memory:", check_same_thread=False)
            metadata.create_all(create_engine("sqlite://", creator=lambda: template, poolclass=StaticPool))
            _empty_database = (tables, template)
        database = sqlite3.connect(":memory:", check_same_thread=False)
        _empty_database[1].backup(database)
    return database


def view_at(
    source: HeatLedger,
    scope: Collection[UUID],
    position: int | None,
    clock: Callable[[], datetime],
    leave_out: Callable[[Notification], bool] | None = None,
) -> PointInTimeView:
    """A view of ``scope`` holding the real ledger's events up to ``position`` (None: all of them),
    except those ``leave_out`` names."""
    view = empty_view(scope, clock)
    try:
        notifications = scoped_notifications(source.recorder, scope, position)
        if leave_out is not None:
            notifications = [n for n in notifications if not leave_out(n)]
        view.advance(notifications)
        if position is not None:
            view.position = max(view.position, position)
    except BaseException:
        view.close()
        raise
    return view


def position_known_at(source: HeatLedger, scope: Collection[UUID], known_at: datetime) -> int:
    """The notification id of the last event of ``scope`` the ledger had recorded at ``known_at``
    (0 when none): an event is known from its own timestamp, the moment the ledger recorded it."""
    return position_known_among(source, scoped_notifications(source.recorder, scope), known_at)


def position_known_among(source: HeatLedger, notifications: Iterable[Notification], known_at: datetime) -> int:
    """``position_known_at`` over notifications already selected (a caller that feeds the same
    selection to a view selects once)."""
    position = 0
    for notification in notifications:
        if recorded_at(source, notification) <= known_at:
            position = max(position, notification.id)
    return position


def recorded_at(source: HeatLedger, notification: Notification) -> datetime:
    """The moment the ledger recorded a stored event: its own timestamp. Read from the front of
    the stored state when it has the library's plain form, else from the decoded event."""
    mapper: Any = source.mapper
    if mapper.cipher is None and mapper.compressor is None:
        found = _RECORDED_AT.match(notification.state)
        if found is not None:
            return datetime.fromisoformat(found.group(1).decode("ascii"))
    event: Any = mapper.to_domain_event(notification)
    timestamp: datetime = event.timestamp
    return timestamp


# -- scopes -------------------------------------------------------------------------------------


def household_scope(
    source: HeatLedger, engine: Engine, account_number: str, today: date, meters: bool = True
) -> frozenset[UUID]:
    """Every aggregate whose events a household's balance, account, consumption, arrears and bills
    rest on: the household, every meter ever attached to it, its billing periods, payments,
    refunds and arrears flags, the tariffs of its community and the city, the season records and
    its building's allocations. Ids that were never used select nothing. Without ``meters``, the
    meters are left out (what money alone rests on: balances, accounts, open charges)."""
    household_id = ids.household_id(account_number)
    found: set[UUID] = {household_id}
    facts = _household_facts(source, household_id)
    if facts is None:
        return frozenset(found)
    community, building, registered_on, meter_ids = facts
    if meters:
        found |= meter_ids
    for code in _season_codes(registered_on, today):
        found.add(ids.billing_period_id(account_number, code))
        found.add(ids.arrears_flag_id(account_number, code))
        found.add(ids.building_allocation_id(community, building, code))
        found.add(ids.heating_season_id(community, code))
        found.add(ids.heating_season_id(CITY_SCOPE, code))
    for customer_class in CustomerClass:
        found.add(ids.tariff_id(customer_class.value, community))
        found.add(ids.tariff_id(customer_class.value, CITY_SCOPE))
    found |= _money_aggregates(engine, household_id)
    return frozenset(found)


def building_scope(source: HeatLedger, engine: Engine, account_number: str, today: date) -> frozenset[UUID]:
    """The scopes of every household of ``account_number``'s building (a statement compares a
    flat with its building's average)."""
    with engine.connect() as connection:
        place = connection.execute(
            select(households.c.community, households.c.building).where(households.c.account_number == account_number)
        ).first()
        if place is None:
            return household_scope(source, engine, account_number, today)
        neighbours = (
            connection.execute(
                select(households.c.account_number).where(
                    households.c.community == place.community, households.c.building == place.building
                )
            )
            .scalars()
            .all()
        )
    found: set[UUID] = set()
    for neighbour in {account_number, *neighbours}:
        found |= household_scope(source, engine, neighbour, today)
    return frozenset(found)


def _household_facts(source: HeatLedger, household_id: UUID) -> tuple[str, str, date, set[UUID]] | None:
    """The household's community, building, registration day and every meter ever attached."""
    events = list(source.events.get(household_id))
    if not events:
        return None
    registered = events[0]
    assert isinstance(registered, Household.Registered), "a household's first event registers it"
    meter_ids = {event.meter_id for event in events if isinstance(event, Household.MeterAttached)}
    return registered.community, registered.building, registered.registered_on, meter_ids


def _season_codes(registered_on: date, today: date) -> list[str]:
    first = registered_on.year - 1 - SEASONS_BEFORE_REGISTRATION
    last = today.year + SEASONS_AFTER_TODAY
    return [f"{year}-{year + 1}" for year in range(first, last + 1)]


def _money_aggregates(engine: Engine, household_id: UUID) -> set[UUID]:
    """The household's payments and refund payouts (their ids come from providers' references,
    so they are looked up in the read models)."""
    with engine.connect() as connection:
        payment_ids = connection.execute(
            select(payments.c.payment_id).where(payments.c.household_id == household_id)
        ).scalars()
        found = set(payment_ids)
        refund_ids = connection.execute(
            select(refund_payouts.c.refund_id).where(refund_payouts.c.household_id == household_id)
        ).scalars()
        found |= set(refund_ids)
    return found
