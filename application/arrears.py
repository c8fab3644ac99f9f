"""Arrears use cases: flagging households for valve restriction, the second person's approval,
withdrawals, and what protects a household from a flag (marked vulnerable; what it disputes).

``flag_candidates`` reads what each household owes past due from the read models, checks the
protections on the Household aggregate itself (the event store, never a lagging read model: it is
vulnerable, its open disputes hold their disputed amount, ``domain.dispute_hold``) and
raises one flag per eligible household and season; a flag withdrawn earlier in the season is raised
again (a new event on the same flag) when the household is eligible once more. A flag is only a
proposal: it becomes an action when a second person approves it. The valve command that acts on an
approved flag is not here.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Protocol
from uuid import UUID, uuid4

from eventsourcing.persistence import IntegrityError

from application.authorization import Permission, Principal
from application.ledger import HeatLedger, require_reason
from domain import ids
from domain.arrears import (
    ArrearsFacts,
    ArrearsFlag,
    ArrearsPolicy,
    FlagStatus,
    FlagSubject,
    WithdrawalKind,
    flag_reasons,
)
from domain.day_split import business_day
from domain.dispute_hold import DisputeHold
from domain.errors import ConflictError, NotFoundError
from domain.household import Household
from domain.season import Season, current_or_last_season
from domain.values import CommandContext

# Why a household with arrears was not flagged by this run beyond the policy's rules.
ALREADY_FLAGGED = "arrears_already_flagged"


class PastDue(Protocol):
    """One household's open charges due on or before a day."""

    @property
    def household_id(self) -> UUID: ...
    @property
    def account_number(self) -> str: ...
    @property
    def community(self) -> str: ...
    @property
    def building(self) -> str: ...
    @property
    def past_due_yuan(self) -> Decimal: ...
    @property
    def oldest_due_on(self) -> date: ...


class PastDueReader(Protocol):
    """What the flag run reads: each household's charges past due (``ArrearsQueries``)."""

    def past_due(self, as_of: date, community: str | None = None) -> Sequence[PastDue]:
        """Households with charges open and due on or before ``as_of``."""
        ...


@dataclass(frozen=True)
class CandidateOutcome:
    """What the run decided for one household with charges past due: ``flagged`` (a flag was
    raised now; ``raised_again`` when it is a flag withdrawn earlier this season) or the reasons
    it was not."""

    account_number: str
    amount_yuan: Decimal
    days_past_due: int
    flagged: bool
    flag_id: UUID | None
    reasons: tuple[str, ...]
    raised_again: bool = False


@dataclass(frozen=True)
class FlagHistoryEntry:
    """One event of a flag, as a clerk reads it: ``action`` is ``raised``, ``raised_again``,
    ``approved`` or ``withdrawn``; ``on`` the business day; ``recorded_at`` when the ledger learned
    it. Raises carry the amount and days past due; withdrawals their kind."""

    action: str
    on: date
    actor: str
    reason: str
    recorded_at: datetime
    amount_yuan: Decimal | None = None
    days_past_due: int | None = None
    withdrawal_kind: str | None = None


def _history_entry(domain_event: object) -> FlagHistoryEntry:
    if isinstance(domain_event, ArrearsFlag.Raised | ArrearsFlag.RaisedAgain):
        action = "raised" if isinstance(domain_event, ArrearsFlag.Raised) else "raised_again"
        return FlagHistoryEntry(
            action,
            domain_event.raised_on,
            domain_event.actor,
            domain_event.reason,
            domain_event.timestamp,
            domain_event.amount_yuan,
            domain_event.days_past_due,
        )
    if isinstance(domain_event, ArrearsFlag.Approved):
        return FlagHistoryEntry(
            "approved", domain_event.approved_on, domain_event.actor, domain_event.reason, domain_event.timestamp
        )
    assert isinstance(domain_event, ArrearsFlag.Withdrawn), f"not an arrears flag event: {domain_event!r}"
    return FlagHistoryEntry(
        "withdrawn",
        domain_event.withdrawn_on,
        domain_event.actor,
        domain_event.reason,
        domain_event.timestamp,
        withdrawal_kind=domain_event.kind,
    )


@dataclass(frozen=True)
class FlagRunSummary:
    """A flag run: the season, the day, how many households were looked at and flagged."""

    season_code: str
    today: date
    community: str | None
    outcomes: tuple[CandidateOutcome, ...]

    @property
    def flagged(self) -> int:
        return sum(outcome.flagged for outcome in self.outcomes)

    @property
    def skipped(self) -> int:
        return len(self.outcomes) - self.flagged


class Arrears:
    """Arrears flags and household protections, with the caller's permission checked first."""

    def __init__(
        self, ledger: HeatLedger, reader: PastDueReader, season_in_force: Callable[[str, str], Season] | None = None
    ) -> None:
        # (season code, community) → the season's days in force there; None: the policy's window alone.
        self.season_in_force = season_in_force
        self._seasons: dict[tuple[str, str], Season] = {}
        self.ledger = ledger
        self.reader = reader

    # -- flags ----------------------------------------------------------------------------------

    def flag_candidates(
        self,
        principal: Principal,
        policy: ArrearsPolicy,
        today: date | None = None,
        community: str | None = None,
        reason: str = "arrears policy run",
    ) -> FlagRunSummary:
        """Raise a flag for every household the policy finds eligible and not flagged this season
        (a flag withdrawn this season is raised again; a raised or approved one is left as it is)."""
        principal.require(Permission.MANAGE_ARREARS)
        day = today or business_day(self.ledger.clock())
        season_code = current_or_last_season(day).code
        self._seasons = {}  # looked up afresh each run: a decree may have extended a season since
        context = CommandContext(principal.name, reason.strip() or "arrears policy run", uuid4())
        outcomes = [
            self._consider(record, policy, day, season_code, context) for record in self.reader.past_due(day, community)
        ]
        return FlagRunSummary(season_code, day, community, tuple(outcomes))

    def _consider(
        self, record: PastDue, policy: ArrearsPolicy, today: date, season_code: str, context: CommandContext
    ) -> CandidateOutcome:
        # Beside other commands, alone on the household (its protections are judged) and its flag.
        # The season is looked up first: its record has a lock of its own, taken and let go there.
        season = self._season_of(season_code, record.community)
        flag_id = ids.arrears_flag_id(record.account_number, season_code)
        with self.ledger.locks.writing([ids.household_id(record.account_number), flag_id]):
            return self._consider_alone(record, policy, today, season_code, season, context)

    def _consider_alone(
        self,
        record: PastDue,
        policy: ArrearsPolicy,
        today: date,
        season_code: str,
        season: Season | None,
        context: CommandContext,
    ) -> CandidateOutcome:
        household = self.ledger.household(record.account_number)
        facts = ArrearsFacts(
            record.past_due_yuan,
            record.oldest_due_on,
            household.vulnerable,
            household.open_disputes,
            season,
            household.disputed_yuan,
        )
        days = facts.days_past_due(today)

        def skipped(*reasons: str) -> CandidateOutcome:
            return CandidateOutcome(record.account_number, record.past_due_yuan, days, False, None, reasons)

        reasons: list[str] = [reason.value for reason in flag_reasons(policy, facts, today)]
        flag_id = ids.arrears_flag_id(record.account_number, season_code)
        existing = self.ledger.copy_or_none(ArrearsFlag, flag_id)
        standing = existing is not None and existing.status is not FlagStatus.WITHDRAWN
        if standing:
            return skipped(ALREADY_FLAGGED, *reasons)
        if reasons:
            return skipped(*reasons)
        subject = FlagSubject(
            household.id, record.account_number, record.community, record.building, record.past_due_yuan, days
        )
        if not self._raise(existing, subject, policy, facts, today, context):
            return skipped(ALREADY_FLAGGED)
        return CandidateOutcome(
            record.account_number, record.past_due_yuan, days, True, flag_id, (), raised_again=existing is not None
        )

    def _season_of(self, season_code: str, community: str) -> Season | None:
        """The season in force in the community (looked up once per community and code)."""
        if self.season_in_force is None:
            return None
        key = (season_code, community)
        if key not in self._seasons:
            self._seasons[key] = self.season_in_force(season_code, community)
        return self._seasons[key]

    def _raise(
        self,
        withdrawn: ArrearsFlag | None,
        subject: FlagSubject,
        policy: ArrearsPolicy,
        facts: ArrearsFacts,
        today: date,
        context: CommandContext,
    ) -> bool:
        """Raise a new flag, or raise the ``withdrawn`` one again; False when another run did meanwhile."""
        try:
            if withdrawn is None:
                flag = ArrearsFlag.raise_flag(subject, policy, facts, today, context)
                self.ledger.save(flag)  # under the flag's lock (``_consider``)
            else:
                self._change(withdrawn.id, lambda flag: flag.raise_again(policy, facts, today, context))
        except IntegrityError:  # saved by another run first
            return False
        except ConflictError as conflict:  # raised again by another run first
            if conflict.message_key != "arrears_flag_status_conflict":
                raise
            return False
        return True

    def approve(self, principal: Principal, flag_id: UUID, reason: str, correlation_id: UUID | None = None) -> None:
        """The second person's approval (never the one who raised it). Refused while the household
        is marked vulnerable, or when its open disputes now hold so much that what it owes past due
        beyond them is below the flag's amount: such a flag is withdrawn instead."""
        principal.require(Permission.MANAGE_ARREARS)
        context = CommandContext(principal.name, reason.strip() or "approved", correlation_id or uuid4())
        today = business_day(self.ledger.clock())

        def approve(flag: ArrearsFlag) -> None:
            household = self.ledger.household(flag.account_number)
            if household.vulnerable or self._held_below_minimum(flag, household, today):
                raise ConflictError(
                    "the household is now protected (vulnerable or in dispute): withdraw the flag",
                    message_key="arrears_flag_protected",
                    account_number=flag.account_number,
                )
            flag.approve(today, context)

        # Alone on the flag and its household, whose protections are judged.
        with self.ledger.locks.writing_found([flag_id], lambda: [self._household_id_of(flag_id)]):
            self._change(flag_id, approve)

    def _held_below_minimum(self, flag: ArrearsFlag, household: Household, today: date) -> bool:
        """Whether the household's open disputes leave less past due than the flag's minimum."""
        if household.open_disputes == 0:
            return False
        past_due = next(
            (
                record.past_due_yuan
                for record in self.reader.past_due(today, flag.community)
                if record.account_number == flag.account_number
            ),
            Decimal(0),
        )
        hold = DisputeHold(household.open_disputes, household.disputed_yuan)
        return hold.undisputed_yuan(past_due) < flag.minimum_amount_yuan

    def withdraw(
        self,
        principal: Principal,
        flag_id: UUID,
        kind: WithdrawalKind,
        reason: str,
        correlation_id: UUID | None = None,
    ) -> None:
        """Take a flag back (paid, a dispute opened, found vulnerable, a mistake), with why."""
        principal.require(Permission.MANAGE_ARREARS)
        require_reason(reason)
        context = CommandContext(principal.name, reason.strip(), correlation_id or uuid4())
        today = business_day(self.ledger.clock())
        self._change(flag_id, lambda flag: flag.withdraw(kind, today, context))

    def flag(self, flag_id: UUID) -> ArrearsFlag:
        """The arrears flag with this id (a copy), or NotFoundError."""
        with self.ledger.locks.writing([flag_id]):
            return self._flag(flag_id)

    def history(self, flag_id: UUID) -> list[FlagHistoryEntry]:
        """Every event of the flag in order (raised, approved, withdrawn, raised again…), read from
        the event store; NotFoundError when there is no such flag."""
        domain_events = list(self.ledger.events.get(flag_id))
        if not domain_events or not isinstance(domain_events[0], ArrearsFlag.Raised):
            raise NotFoundError(f"no arrears flag {flag_id}", kind="arrears_flag", key=str(flag_id))
        return [_history_entry(domain_event) for domain_event in domain_events]

    def _household_id_of(self, flag_id: UUID) -> UUID:
        return ids.household_id(self.flag(flag_id).account_number)

    def _flag(self, flag_id: UUID) -> ArrearsFlag:
        flag = self.ledger.copy_or_none(ArrearsFlag, flag_id)
        if flag is None:
            raise NotFoundError(f"no arrears flag {flag_id}", kind="arrears_flag", key=str(flag_id))
        return flag

    def _change(self, flag_id: UUID, change: Callable[[ArrearsFlag], None]) -> None:
        with self.ledger.locks.writing([flag_id]):  # beside other commands, on a copy
            flag = self._flag(flag_id)
            change(flag)
            self.ledger.save(flag)

    # -- protections ----------------------------------------------------------------------------

    def mark_vulnerable(
        self, principal: Principal, account_number: str, reason: str, correlation_id: UUID | None = None
    ) -> None:
        """Protect a household from arrears flags (elderly, ill, hardship), with why."""
        self._protect(
            principal,
            account_number,
            reason,
            correlation_id,
            lambda household, context: household.mark_vulnerable(context),
        )

    def clear_vulnerability(
        self, principal: Principal, account_number: str, reason: str, correlation_id: UUID | None = None
    ) -> None:
        """The household is no longer protected as vulnerable."""
        self._protect(
            principal,
            account_number,
            reason,
            correlation_id,
            lambda household, context: household.clear_vulnerability(context),
        )

    def close_dispute(
        self, principal: Principal, account_number: str, reason: str, correlation_id: UUID | None = None
    ) -> None:
        """Close an old dispute flag (one without an amount, recorded before disputes had amounts;
        it holds everything past due until closed). A dispute with an amount closes by its
        resolution, rejection or withdrawal (``application.disputes``)."""
        self._protect(
            principal,
            account_number,
            reason,
            correlation_id,
            lambda household, context: household.close_dispute(None, context),
        )

    def _protect(
        self,
        principal: Principal,
        account_number: str,
        reason: str,
        correlation_id: UUID | None,
        change: Callable[[Household, CommandContext], None],
    ) -> None:
        principal.require(Permission.MANAGE_HOUSEHOLDS)
        require_reason(reason)
        context = CommandContext(principal.name, reason.strip(), correlation_id or uuid4())
        with self.ledger.locks.writing([ids.household_id(account_number)]):  # beside others, on a copy
            household = self.ledger.household(account_number)
            change(household, context)
            self.ledger.save(household)

    @staticmethod
    def flag_id(account_number: str, season_code: str) -> UUID:
        return ids.arrears_flag_id(account_number, season_code)
