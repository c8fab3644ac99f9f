"""Reads as the ledger knew them at a moment: a household's balance, account, payments,
consumption and bills, one bill, a community's arrears aging.

An answer "as known at" a moment uses only the events the ledger had recorded by then (their own
timestamps, the moment each was stored). It is computed by the same query code as the live
answer, over the read models of a ``PointInTimeView`` that received exactly those events of the
aggregates the answer rests on (its scope), instead of the live read models. So a correction
recorded later cannot change it, and the answer equals what a ledger that only ever received those
events would answer today.

``AsKnownReads`` is what the API and, later, the web UI call: ``live()`` for the live read models,
``household``/``bill``/``community`` for a view, each a context manager that closes the view.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, date, datetime
from uuid import UUID

from sqlalchemy import Engine, select

from application.ledger import HeatLedger
from domain.day_split import business_day
from domain.errors import NotFoundError
from infrastructure.event_selection import scoped_notifications
from infrastructure.point_in_time import empty_view, household_scope, position_known_among
from projections.billing_queries import BillingQueries
from projections.payment_queries import PaymentQueries
from projections.queries import LedgerQueries
from projections.tables import households

# A community's aging as known folds every household of it: a bound on how many one view holds.
MAXIMUM_COMMUNITY_HOUSEHOLDS = 20_000


def wall_clock() -> datetime:
    """Now, by the clock the event store stamps events with (the library's UTC timestamps)."""
    return datetime.now(UTC)


@dataclass(frozen=True)
class KnownReads:
    """Read models to answer from: the live ones (``known_at`` None), or a view's, holding what
    the ledger had recorded at ``known_at``, up to notification ``position``."""

    engine: Engine
    known_at: datetime | None = None
    position: int | None = None

    @property
    def queries(self) -> LedgerQueries:
        return LedgerQueries(self.engine)

    @property
    def billing(self) -> BillingQueries:
        return BillingQueries(self.engine)

    @property
    def payments(self) -> PaymentQueries:
        return PaymentQueries(self.engine)

    def today(self, live_today: date) -> date:
        """The business day "today" stands for in this answer: the day of ``known_at``, or
        ``live_today`` for a live answer."""
        return live_today if self.known_at is None else business_day(self.known_at)


class AsKnownReads:
    """Builds the read models an answer as known at a moment comes from (read-only)."""

    def __init__(
        self,
        ledger: HeatLedger,
        engine: Engine,
        live_position: Callable[[], int],
        now: Callable[[], datetime] = wall_clock,
    ) -> None:
        self.ledger = ledger
        self.engine = engine
        self.live_position = live_position  # the last notification the live read models applied
        self.now = now

    def live(self) -> KnownReads:
        """The live read models: what is known now."""
        return KnownReads(self.engine)

    def moment(self, known_at: datetime) -> datetime:
        """The moment an answer is as known at: ``known_at`` in UTC, or now if it lies ahead (the
        ledger knows nothing yet of the future)."""
        return min(known_at.astimezone(UTC), self.now())

    def today(self, known_at: datetime | None, live_today: date) -> date:
        """The business day "today" stands for in an answer as known at ``known_at`` (None: live)."""
        return live_today if known_at is None else business_day(self.moment(known_at))

    @contextmanager
    def household(self, account_number: str, known_at: datetime, meters: bool = True) -> Iterator[KnownReads]:
        """Read models holding what the ledger had recorded at ``known_at`` of the household's
        aggregates (those its balance, account, payments, consumption and bills rest on).
        Without ``meters``, its meters are left out: enough for everything but its consumption,
        and far cheaper for a meter read every hour (about 4,400 readings a season)."""
        moment = self.moment(known_at)
        day = self._scope_day(moment)
        scope = household_scope(self.ledger, self.engine, account_number, day, meters=meters)
        with self._view(scope, moment) as reads:
            yield reads

    @contextmanager
    def bill(self, bill_id: UUID, known_at: datetime) -> Iterator[KnownReads]:
        """Read models holding what the ledger had recorded at ``known_at`` of the household the
        bill belongs to; NotFoundError if there is no such bill now."""
        record = BillingQueries(self.engine).bill(bill_id)
        if record is None:
            raise NotFoundError(f"no bill {bill_id}", kind="bill", key=str(bill_id))
        with self.household(record.account_number, known_at, meters=False) as reads:
            yield reads

    @contextmanager
    def community(self, community: str, known_at: datetime) -> Iterator[KnownReads]:
        """Read models holding what the ledger had recorded at ``known_at`` of every household of
        the community, without their meters (for the arrears aging: open charges rest on bills
        and money, never on readings, and a season of hourly readings is about 4,400 events per
        household)."""
        moment = self.moment(known_at)
        day = self._scope_day(moment)
        scope: set[UUID] = set()
        for account_number in self._accounts_of(community):
            scope |= household_scope(self.ledger, self.engine, account_number, day, meters=False)
        with self._view(scope, moment) as reads:
            yield reads

    # -- views -------------------------------------------------------------------------------

    @contextmanager
    def _view(self, scope: Collection[UUID], moment: datetime) -> Iterator[KnownReads]:
        """A view of ``scope`` as known at ``moment``, closed on leaving: the scope's events are
        selected once, to find the position and to feed the view. When nothing of the scope was
        recorded after the moment and the live read models have applied that much, they hold
        the same events of the scope, and answer without a view."""
        notifications = scoped_notifications(self.ledger.recorder, scope)
        position = position_known_among(self.ledger, notifications, moment)
        if all(notification.id <= position for notification in notifications) and self.live_position() >= position:
            yield KnownReads(self.engine, moment, position)
            return
        with empty_view(scope, lambda: moment) as view:
            view.advance([notification for notification in notifications if notification.id <= position])
            view.position = position
            yield KnownReads(view.engine, moment, position)

    def _scope_day(self, moment: datetime) -> date:
        # The scope covers the seasons around the later of the moment and the ledger's today.
        return max(business_day(moment), business_day(self.ledger.clock()))

    def _accounts_of(self, community: str) -> list[str]:
        with self.engine.connect() as connection:
            accounts = list(
                connection.execute(
                    select(households.c.account_number)
                    .where(households.c.community == community)
                    .order_by(households.c.account_number)
                    .limit(MAXIMUM_COMMUNITY_HOUSEHOLDS + 1)
                ).scalars()
            )
        assert len(accounts) <= MAXIMUM_COMMUNITY_HOUSEHOLDS, "a community larger than any a view folds"
        return accounts
