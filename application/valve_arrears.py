"""Arrears restrictions of valves (issue 14): an approved arrears flag becomes a restriction command
only through here, and the restriction is lifted by itself when the arrears are paid.

A process manager that compares what should be with what is, so running it twice does nothing
new and a crash half-way is mended by the next run:

1. An approved flag whose household no longer owes, past due and beyond what its disputes hold,
   the flag's minimum amount is withdrawn as paid (``Arrears.withdraw``, kind ``paid``).
2. Every controller of a household with an approved flag of the season, not yet restricted, gets
   a restriction command (policy ``arrears_restriction``): the configured gear, or a forced close
   where the policy allows it (the close then waits for a person's approval like any, and falls
   back to the gear when a guardrail forbids a close: the cold, a vulnerable household, a dispute).
3. Every controller restricted for arrears whose household has no approved flag any more (paid,
   withdrawn, a dispute opened) gets a lift command (policy ``arrears_lift``): ``force_open``.

Whether a controller is restricted is its latest arrears command (restriction or lift), read from
the ``valve_commands`` read model. The gateway runs this on its loop; ``POST
/valves/arrears-reconciliation`` runs it on demand.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from typing import Protocol
from uuid import UUID

from application.arrears import PastDueReader
from application.authorization import Permission, Principal, Role
from application.ledger import HeatLedger
from application.valves import RoomControllers
from domain.arrears import ArrearsFlag, FlagStatus, WithdrawalKind
from domain.day_split import business_day
from domain.dispute_hold import DisputeHold
from domain.errors import ConflictError
from domain.season import current_or_last_season
from domain.valve_commands import CommandKind, CommandPolicy

# Who the process's commands and withdrawals are recorded as.
PROCESS = Principal("arrears-valve-process", Role.ADMIN)
# The most flags one run looks at.
MAXIMUM_FLAGS = 10_000


class ApprovedFlag(Protocol):
    @property
    def flag_id(self) -> UUID: ...
    @property
    def account_number(self) -> str: ...
    @property
    def community(self) -> str: ...
    @property
    def season_code(self) -> str: ...


class FlagReader(Protocol):
    """The arrears flags read model (``ArrearsQueries``)."""

    def flags(
        self, status: str | None = None, community: str | None = None, limit: int = 500, offset: int = 0
    ) -> Sequence[ApprovedFlag]: ...


class RestrictionReader(Protocol):
    """The valve read models (``ValveQueries``)."""

    def devices_of(self, account_number: str) -> Sequence[str]:
        """The device ids installed in a household."""
        ...

    def arrears_restricted_devices(self) -> Sequence[tuple[str, str]]:
        """(device id, account number) of every controller whose latest arrears command restricts."""
        ...


@dataclass(frozen=True)
class RestrictionPolicy:
    """What a restriction is: ``gear`` (the valve throttled to ``gear``) or ``close``."""

    kind: str = "gear"
    gear: int = 1


@dataclass
class ReconciliationSummary:
    """What one run did: flags withdrawn as paid, restrictions and lifts requested (device ids),
    and devices left for the next run (a guardrail or the rate limit said no), with why."""

    withdrawn_flags: list[str] = field(default_factory=list)
    restricted: list[str] = field(default_factory=list)
    lifted: list[str] = field(default_factory=list)
    deferred: dict[str, str] = field(default_factory=dict)


class ArrearsRestrictions:
    """The process manager between arrears flags and valve commands."""

    def __init__(
        self,
        ledger: HeatLedger,
        valves: RoomControllers,
        arrears_withdraw: WithdrawFlag,
        flags: FlagReader,
        past_due: PastDueReader,
        restrictions: RestrictionReader,
        policy: RestrictionPolicy,
    ) -> None:
        self.ledger = ledger
        self.valves = valves
        self.withdraw = arrears_withdraw
        self.flags = flags
        self.past_due = past_due
        self.restrictions = restrictions
        self.policy = policy

    def reconcile(self, principal: Principal, today: date | None = None) -> ReconciliationSummary:
        """Withdraw paid flags, restrict the flagged, lift the no longer flagged (idempotent)."""
        principal.require(Permission.COMMAND_VALVES)
        day = today or business_day(self.ledger.clock())
        summary = ReconciliationSummary()
        season_code = current_or_last_season(day).code
        approved = [
            flag
            for flag in self.flags.flags(FlagStatus.APPROVED.value, None, MAXIMUM_FLAGS, 0)
            if flag.season_code == season_code
        ]
        owing = self._owing(day)
        flagged: set[str] = set()
        for flag in approved:
            with self.ledger.locks.writing([flag.flag_id]):  # read under its lock: commands change copies
                standing = self.ledger.load_or_none(ArrearsFlag, flag.flag_id)  # the read model may lag
            if standing is None or standing.status is not FlagStatus.APPROVED:
                continue
            if self._paid(standing, owing):
                self.withdraw(PROCESS, flag.flag_id, WithdrawalKind.PAID, "arrears paid: restriction lifted")
                summary.withdrawn_flags.append(flag.account_number)
            else:
                flagged.add(flag.account_number)
        restricted = dict(self.restrictions.arrears_restricted_devices())
        for account_number in sorted(flagged):
            for device_id in self.restrictions.devices_of(account_number):
                if device_id not in restricted:
                    self._restrict(device_id, account_number, summary)
        for device_id, account_number in sorted(restricted.items()):
            if account_number not in flagged:
                self._lift(device_id, account_number, summary)
        return summary

    def _owing(self, day: date) -> dict[str, Decimal]:
        return {record.account_number: record.past_due_yuan for record in self.past_due.past_due(day)}

    def _paid(self, flag: ArrearsFlag, owing: dict[str, Decimal]) -> bool:
        """Whether what the household owes past due beyond its disputes fell below the flag's minimum."""
        household = self.ledger.household(flag.account_number)
        hold = DisputeHold(household.open_disputes, household.disputed_yuan)
        undisputed: Decimal = hold.undisputed_yuan(owing.get(flag.account_number, Decimal(0)))
        return undisputed < flag.minimum_amount_yuan

    def _restrict(self, device_id: str, account_number: str, summary: ReconciliationSummary) -> None:
        reason = f"arrears flag of {account_number} approved: valve restricted"
        kinds = [CommandKind.FORCE_GEAR]
        if self.policy.kind == "close":
            kinds.insert(0, CommandKind.FORCE_CLOSE)
        gear = min(self.policy.gear, self.valves.controller(device_id).gears)
        for kind in kinds:
            params = {"gear": gear} if kind is CommandKind.FORCE_GEAR else {}
            try:
                self.valves.request_command(
                    device_id, kind, params, reason, PROCESS, policy=CommandPolicy.ARREARS_RESTRICTION
                )
            except ConflictError as refused:
                summary.deferred[device_id] = refused.message_key
                continue
            summary.deferred.pop(device_id, None)
            summary.restricted.append(device_id)
            return

    def _lift(self, device_id: str, account_number: str, summary: ReconciliationSummary) -> None:
        reason = f"no approved arrears flag of {account_number} any more: restriction lifted"
        try:
            self.valves.request_command(
                device_id, CommandKind.FORCE_OPEN, {}, reason, PROCESS, policy=CommandPolicy.ARREARS_LIFT
            )
        except ConflictError as refused:
            summary.deferred[device_id] = refused.message_key
            return
        summary.lifted.append(device_id)


class WithdrawFlag(Protocol):
    """``Arrears.withdraw``."""

    def __call__(self, principal: Principal, flag_id: UUID, kind: WithdrawalKind, reason: str) -> None: ...
