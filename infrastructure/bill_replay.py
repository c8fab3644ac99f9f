"""Replay an issued bill from exactly the events it was computed from, or recompute it from
everything known now with the causes of each difference.

Both run the same billing run as the one that issued the bill (``BillingRuns``), over a
``BillingView`` holding the household's events (its building's, for a monthly statement,
which compares the flat with its building's average), with the read models the run reads folded
in memory from those events (``projections/billing_fold.py``; a ``PointInTimeView``, which
projects them into a database, gives the same and is what the tests check the fold against):

- **replay** gives the view what the bill's inputs were read from: the events the read models had
  applied at the bill's recorded ``inputs_position``, and the events of the aggregates the run
  loads directly (the billing period, tariffs, season records, allocations) recorded before the
  bill's run. The replayed lines must equal the issued ones to the fen; a difference is a defect
  of the ledger and is logged as an error.
- **recompute** gives the view everything known now (except the bill itself and what its period
  issued after it) with the clock at the bill's issue, and walks the events recorded since the
  bill's inputs, one command (correlation id) at a time, recording what each moved.
"""

from __future__ import annotations

import itertools
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from typing import Any
from uuid import UUID

from eventsourcing.persistence import Notification
from sqlalchemy import Engine

from application.authorization import Principal, Role
from application.billing_runs import RunRequest
from application.ledger import HeatLedger
from domain.billing import BillKind
from domain.billing_period import BillingPeriod
from domain.errors import InvalidInputError, NotFoundError
from domain.season import Season
from domain.settlement import BillLine
from infrastructure.event_selection import scoped_notifications
from infrastructure.point_in_time import BillingView, PointInTimeView, building_scope, empty_view, household_scope
from projections.billing_queries import BillingQueries
from projections.collector import collector_paused

logger = logging.getLogger(__name__)

# Who a view's dry billing run acts as (nothing it does is stored).
REPLAYER = Principal(name="audit:replay", role=Role.ADMIN)
# Aggregates a billing run loads from the event store itself rather than through the read models:
# the events of these it saw are those recorded before the run, whatever the read models knew.
DIRECTLY_LOADED_TOPICS = (
    "domain.billing_period:",
    "domain.tariff:",
    "domain.heating_season:",
    "domain.building_allocation:",
)
# Events that cannot move a bill's figures: money received and paid out, arrears flags, and the
# household's protections (an open dispute, vulnerability).
NEVER_MOVE_A_BILL_TOPICS = (
    "domain.payment:",
    "domain.arrears:",
    "domain.household:Household.DisputeOpened",
    "domain.household:Household.DisputeClosed",
    "domain.household:Household.MarkedVulnerable",
    "domain.household:Household.VulnerabilityCleared",
)
# At most this many recomputations explain a difference; beyond it, consecutive commands of the
# same kinds of events are explained together.
MAXIMUM_CAUSE_STEPS = 60


@dataclass(frozen=True)
class LineDifference:
    """A line of the bill as issued against the same line recomputed (None: absent there)."""

    index: int
    issued: BillLine | None
    recomputed: BillLine | None


@dataclass(frozen=True)
class ComputedLines:
    """A bill as a dry billing run computed it: its amount and lines, or why it was not issued."""

    amount_yuan: Decimal | None
    lines: tuple[BillLine, ...]
    refusal: str | None = None  # the run's exception for the household, when it issued nothing


@dataclass(frozen=True)
class ReplayOutcome:
    """A bill replayed from the events known when it was issued."""

    bill_id: UUID
    number: str
    kind: str
    issued_amount_yuan: Decimal
    issued_lines: tuple[BillLine, ...]
    replayed: ComputedLines
    inputs_position: int
    events_used: int

    @property
    def matches(self) -> bool:
        return self.replayed.refusal is None and self.replayed.lines == self.issued_lines

    @property
    def differences(self) -> list[LineDifference]:
        return line_differences(self.issued_lines, self.replayed.lines)


@dataclass(frozen=True)
class CauseEvent:
    """One event of a cause: what it was, when it happened and was recorded, who and why."""

    aggregate_id: UUID
    version: int
    event_type: str
    recorded_at: datetime
    happened: str  # the world's date or time the event carries ("" when none)
    actor: str
    reason: str


@dataclass(frozen=True)
class Cause:
    """A command recorded after the bill's inputs (one correlation id, or several alike), and what
    it moved: the amount and the lines."""

    correlation_ids: tuple[UUID, ...]
    events: tuple[CauseEvent, ...]
    event_count: int
    amount_before_yuan: Decimal | None
    amount_after_yuan: Decimal | None

    @property
    def amount_yuan(self) -> Decimal:
        """How much this cause moved the bill (0 when it moved its lines only)."""
        return (self.amount_after_yuan or Decimal(0)) - (self.amount_before_yuan or Decimal(0))


@dataclass(frozen=True)
class RecomputeOutcome:
    """A bill recomputed from everything known now, and why it differs from the issued one."""

    bill_id: UUID
    number: str
    kind: str
    issued_amount_yuan: Decimal
    issued_lines: tuple[BillLine, ...]
    recomputed: ComputedLines
    causes: tuple[Cause, ...]
    events_considered: int
    replay_matches: bool  # the walk's starting point equals the issued bill (else a defect)

    @property
    def difference_yuan(self) -> Decimal:
        return (self.recomputed.amount_yuan or Decimal(0)) - self.issued_amount_yuan

    @property
    def differences(self) -> list[LineDifference]:
        return line_differences(self.issued_lines, self.recomputed.lines)


def line_differences(issued: Sequence[BillLine], recomputed: Sequence[BillLine]) -> list[LineDifference]:
    """The lines that differ, by position (a line missing on one side is paired with None)."""
    return [
        LineDifference(index, left, right)
        for index, (left, right) in enumerate(itertools.zip_longest(issued, recomputed))
        if left != right
    ]


@dataclass
class _IssuedBill:
    """The bill as its period's events recorded it, with where it stands in the log."""

    bill_id: UUID
    period_id: UUID
    account_number: str
    community: str
    season_code: str
    kind: BillKind
    label: str
    number: str
    issued_on: date
    issued_at: datetime
    amount_yuan: Decimal
    lines: tuple[BillLine, ...]
    notification_id: int
    inputs_position: int
    run_versions: set[int] = field(default_factory=set)  # the period's events of the issuing run
    run_first_notification_id: int = 0


# A view for a dry run: given the clock (the bill's issue), an empty ledger that billing runs over.
ViewFactory = Callable[[Callable[[], datetime]], "BillingView | PointInTimeView"]


def projected_view(clock: Callable[[], datetime]) -> PointInTimeView:
    """A view that projects what it receives into read models in a database (the slower, general
    view: the tests replay with it too, to check the folded one)."""
    return empty_view(frozenset(), clock)


class BillReplays:
    """Replays and recomputations of issued bills (read-only: nothing is stored)."""

    def __init__(self, ledger: HeatLedger, engine: Engine, view: ViewFactory = BillingView) -> None:
        self.ledger = ledger
        self.engine = engine
        self.view = view

    def replay(self, bill_id: UUID) -> ReplayOutcome:
        """The bill recomputed from the events known when it was issued, against the issued lines."""
        # The replay's thousands of objects (the selected events, the view) live until it ends:
        # a collection meanwhile would only scan them (a full one, every third replay or so, took
        # 80 ms of about 300 with the projected view). They are freed before it resumes.
        with collector_paused():
            bill = self._issued(bill_id)
            replayed, received = self._replayed(bill)
        outcome = ReplayOutcome(
            bill.bill_id,
            bill.number,
            bill.kind.value,
            bill.amount_yuan,
            bill.lines,
            replayed,
            bill.inputs_position,
            received,
        )
        if not outcome.matches:
            logger.error(
                "DEFECT: bill %s (%s) replayed from its inputs does not equal the issued bill: %s",
                bill.number,
                bill.bill_id,
                replayed.refusal or outcome.differences,
            )
        return outcome

    def _replayed(self, bill: _IssuedBill) -> tuple[ComputedLines, int]:
        """The bill's dry run over a view of what its run knew, and how many events that was."""
        scope = self._scope(bill)
        before_run = scoped_notifications(self.ledger.recorder, scope, bill.run_first_notification_id - 1)
        with self._view(bill) as view:
            view.advance(self._known_at_issue(bill, before_run))
            return self._dry_run(view, bill), view.received

    def recompute(self, bill_id: UUID) -> RecomputeOutcome:
        """The bill from everything known now (as if issued on its day), with each later command
        that moved it and by how much."""
        with collector_paused():  # as for a replay: a collection would only scan its objects
            return self._recomputed(bill_id)

    def _recomputed(self, bill_id: UUID) -> RecomputeOutcome:
        bill = self._issued(bill_id)
        everything = scoped_notifications(self.ledger.recorder, self._scope(bill))
        known = self._known_at_issue(bill, everything)
        known_ids = {n.id for n in known}
        later = [n for n in everything if n.id not in known_ids and not self._issued_by_or_after(bill, n)]
        with self._view(bill) as view:
            view.advance(known)
            start = self._dry_run(view, bill)
            causes: list[Cause] = []
            current = start
            for step in self._steps(later):
                view.advance(step)
                after = self._dry_run(view, bill)
                if after != current:
                    causes.append(self._cause(step, current, after))
                current = after
        return RecomputeOutcome(
            bill.bill_id,
            bill.number,
            bill.kind.value,
            bill.amount_yuan,
            bill.lines,
            current,
            tuple(causes),
            len(later),
            start.refusal is None and start.lines == bill.lines,
        )

    # -- what the bill was -------------------------------------------------------------------

    def _issued(self, bill_id: UUID) -> _IssuedBill:
        record = BillingQueries(self.engine).bill(bill_id)
        if record is None:
            raise NotFoundError(f"no bill {bill_id}", kind="bill", key=str(bill_id))
        notifications = scoped_notifications(self.ledger.recorder, [record.period_id])
        events = [(n, self.ledger.mapper.to_domain_event(n)) for n in notifications]
        for notification, event in events:
            if isinstance(event, BillingPeriod.BillIssued) and event.bill_id == bill_id:
                if event.kind == BillKind.ADJUSTMENT.value:
                    raise InvalidInputError(
                        "a credit or debit note is booked from its source's decision, not recomputed",
                        message_key="adjustment_not_replayable",
                        bill_id=str(bill_id),
                    )
                return self._issued_from(record.period_id, record.community, events, notification, event)
        raise NotFoundError(f"no bill {bill_id}", kind="bill", key=str(bill_id))

    def _issued_from(
        self,
        period_id: UUID,
        community: str,
        events: list[tuple[Notification, Any]],
        notification: Notification,
        issued: BillingPeriod.BillIssued,
    ) -> _IssuedBill:
        opened = events[0][1]
        assert isinstance(opened, BillingPeriod.Opened), "a period's first event opens it"
        run = [(n, event) for n, event in events if command_of(event) == issued.correlation_id]
        first_of_run = min(n.id for n, _ in run)
        # Bills issued before positions were recorded: what was recorded before the bill's run.
        position = issued.inputs_position or first_of_run - 1
        return _IssuedBill(
            bill_id=issued.bill_id,
            period_id=period_id,
            account_number=opened.account_number,
            community=community,
            season_code=opened.season_code,
            kind=BillKind(issued.kind),
            label=issued.label,
            number=issued.number,
            issued_on=issued.issued_on,
            issued_at=issued.timestamp,
            amount_yuan=issued.amount_yuan,
            lines=tuple(BillLine.from_record(line) for line in issued.lines),
            notification_id=notification.id,
            inputs_position=position,
            run_versions={n.originator_version for n, _ in run},
            run_first_notification_id=first_of_run,
        )

    def _scope(self, bill: _IssuedBill) -> frozenset[UUID]:
        scope_of = building_scope if bill.kind is BillKind.STATEMENT else household_scope
        return scope_of(self.ledger, self.engine, bill.account_number, bill.issued_on)

    def _known_at_issue(self, bill: _IssuedBill, selected: list[Notification]) -> list[Notification]:
        """Of the ``selected`` events of the bill's scope, what the bill's run knew: the read
        models' events up to its inputs position, and the directly loaded aggregates' events
        recorded before the run (never the run's own)."""
        return [
            n
            for n in selected
            if n.id < bill.run_first_notification_id
            and (n.id <= bill.inputs_position or n.topic.startswith(DIRECTLY_LOADED_TOPICS))
        ]

    def _issued_by_or_after(self, bill: _IssuedBill, notification: Notification) -> bool:
        """The bill's own period's events from its run on: a recomputation issues the bill again."""
        return notification.originator_id == bill.period_id and notification.id >= bill.run_first_notification_id

    # -- dry runs ----------------------------------------------------------------------------

    def _view(self, bill: _IssuedBill) -> BillingView | PointInTimeView:
        issued_at = bill.issued_at
        return self.view(lambda: issued_at)

    def _dry_run(self, view: BillingView | PointInTimeView, bill: _IssuedBill) -> ComputedLines:
        """The bill as the issuing run's kind of run computes it over the view now."""
        view.ledger.captured.clear()
        request = RunRequest(
            bill.kind,
            Season.from_code(bill.season_code),
            bill.label if bill.kind is BillKind.STATEMENT else None,
            bill.community,
        )
        try:
            summary = view.billing_runs().run(REPLAYER, request)
        except Exception as error:  # the run refused as a whole: say why
            return ComputedLines(None, (), refusal=str(error))
        for event in view.ledger.captured:
            if isinstance(event, BillingPeriod.BillIssued) and event.bill_id == bill.bill_id:
                return ComputedLines(event.amount_yuan, tuple(BillLine.from_record(line) for line in event.lines))
        reasons = [
            exception.message for exception in summary.exceptions if exception.account_number == bill.account_number
        ]
        return ComputedLines(None, (), refusal="; ".join(reasons) or "the run issued no such bill")

    # -- causes ------------------------------------------------------------------------------

    def _steps(self, later: list[Notification]) -> list[list[Notification]]:
        """The later events cut where the command (correlation id) changes, in recording order, so
        each step follows the last; when there are too many, consecutive steps with the same kinds
        of events go together. Money and arrears flags never move a bill: they ride along."""
        steps: list[list[Notification]] = []
        last_correlation: Any = object()
        for notification in later:
            correlation = command_of(self.ledger.mapper.to_domain_event(notification))
            if notification.topic.startswith(NEVER_MOVE_A_BILL_TOPICS) and steps:
                steps[-1].append(notification)
                continue
            if steps and correlation == last_correlation:
                steps[-1].append(notification)
            else:
                steps.append([notification])
            last_correlation = correlation
        if len(steps) > MAXIMUM_CAUSE_STEPS:
            steps = _coalesce(steps, _kinds)
        return steps

    def _cause(self, step: list[Notification], before: ComputedLines, after: ComputedLines) -> Cause:
        events = [self.ledger.mapper.to_domain_event(n) for n in step]
        correlations = tuple(dict.fromkeys(command_of(event) for event in events))
        shown = [_cause_event(event) for event in events[:MAXIMUM_SHOWN_EVENTS]]
        return Cause(
            tuple(c for c in correlations if c is not None),
            tuple(shown),
            len(events),
            before.amount_yuan,
            after.amount_yuan,
        )


# A cause lists at most this many of its events (a late upload may hold thousands of readings).
MAXIMUM_SHOWN_EVENTS = 20
_HAPPENED_FIELDS = ("effective_on", "measured_at", "attached_at", "detached_at", "interval_start", "received_on")


def command_of(event: Any) -> UUID | None:
    """The id of the command that recorded ``event``: its correlation id, or a reading's batch."""
    found = getattr(event, "correlation_id", None) or getattr(event, "batch_id", None)
    return found if isinstance(found, UUID) else None


def _cause_event(event: Any) -> CauseEvent:
    happened = next((getattr(event, name) for name in _HAPPENED_FIELDS if hasattr(event, name)), None)
    return CauseEvent(
        aggregate_id=event.originator_id,
        version=event.originator_version,
        event_type=type(event).__qualname__,
        recorded_at=event.timestamp,
        happened=happened.isoformat() if happened is not None else "",
        actor=str(getattr(event, "actor", "")),
        reason=str(getattr(event, "reason", "")),
    )


def _kinds(step: list[Notification]) -> tuple[str, ...]:
    return tuple(sorted({n.topic for n in step if not n.topic.startswith(NEVER_MOVE_A_BILL_TOPICS)}))


def _coalesce(steps: list[list[Notification]], key: Callable[[list[Notification]], Any]) -> list[list[Notification]]:
    """Consecutive steps with the same key joined into one."""
    joined: list[list[Notification]] = []
    last_key: Any = object()
    for step in steps:
        step_key = key(step)
        if joined and step_key == last_key:
            joined[-1].extend(step)
        else:
            joined.append(list(step))
        last_key = step_key
    return joined
