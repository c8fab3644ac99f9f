"""Dunning runs: payment reminders for households in arrears, written to the notification outbox.

A run reads what each household owes past due (the same read model as the arrears policy), checks
the household's open disputes on the aggregate itself (they hold their disputed amount only: the
reminder asks for what is past due beyond it), and writes the reminder stage it is due, rendered
in its contact's language, to the outbox. The outbox keeps one message per reminder name
(household, charge, stage), so repeating a run, or two runs at once, never sends one twice.
Delivery is not here: the delivery job sends what the outbox holds, with retries.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from uuid import UUID, uuid4

from application.arrears import PastDue, PastDueReader
from application.authorization import Permission, Principal
from application.ledger import HeatLedger
from application.notifications import Contact, ContactBook, MessageKind, Outbox, OutgoingMessage
from application.reminder_messages import ReminderContent, ReminderSender, render_reminder
from domain.day_split import business_day
from domain.dunning import DunningFacts, DunningPolicy, ReminderDecision, ReminderSkip, reminder_due, reminder_key
from domain.values import CommandContext


@dataclass(frozen=True)
class ReminderOutcome:
    """What the run decided for one household with charges past due: the message written to the
    outbox (its id and stage), or why none was."""

    account_number: str
    amount_yuan: Decimal
    days_past_due: int
    stage_days: int | None
    message_id: UUID | None
    skip: str | None

    @property
    def queued(self) -> bool:
        return self.message_id is not None


@dataclass(frozen=True)
class DunningRunSummary:
    """A dunning run: the day, the community (None: the city) and every household's outcome."""

    today: date
    community: str | None
    outcomes: tuple[ReminderOutcome, ...]

    @property
    def queued(self) -> int:
        return sum(outcome.queued for outcome in self.outcomes)

    @property
    def skipped(self) -> int:
        return len(self.outcomes) - self.queued


class Dunning:
    """Reminder runs, with the caller's permission checked first."""

    def __init__(
        self,
        ledger: HeatLedger,
        reader: PastDueReader,
        contacts: ContactBook,
        outbox: Outbox,
        sender: ReminderSender,
    ) -> None:
        self.ledger = ledger
        self.reader = reader
        self.contacts = contacts
        self.outbox = outbox
        self.sender = sender

    def remind(
        self,
        principal: Principal,
        policy: DunningPolicy,
        today: date | None = None,
        community: str | None = None,
        reason: str = "dunning run",
    ) -> DunningRunSummary:
        """Write the reminder each household in arrears is due today to the outbox."""
        principal.require(Permission.SEND_REMINDERS)
        day = today or business_day(self.ledger.clock())
        context = CommandContext(principal.name, reason.strip() or "dunning run", uuid4())
        records = self.reader.past_due(day, community)
        contacts = self.contacts.contacts([record.account_number for record in records])
        due = [(record, _stage_due(record, policy, day)) for record in records]
        # One look-up for the whole run: a daily run mostly finds its reminders written already.
        written = self.outbox.written(
            [_key(record, decision.stage_days) for record, decision in due if decision.stage_days is not None]
        )
        outcomes = tuple(
            self._consider(record, decision, contacts.get(record.account_number), policy, day, context, written)
            for record, decision in due
        )
        return DunningRunSummary(day, community, outcomes)

    def _consider(
        self,
        record: PastDue,
        decision: ReminderDecision,
        contact: Contact | None,
        policy: DunningPolicy,
        today: date,
        context: CommandContext,
        written: set[str],
    ) -> ReminderOutcome:
        """The cheap rules first: the household aggregate (for its open disputes) is loaded only
        for a reminder that would be written now, and the policy then decides with them."""
        days = _facts(record).days_past_due(today)

        def outcome(stage_days: int | None, message_id: UUID | None, skip: ReminderSkip | None) -> ReminderOutcome:
            return ReminderOutcome(
                record.account_number, record.past_due_yuan, days, stage_days, message_id, skip.value if skip else None
            )

        if decision.stage_days is None:
            return outcome(None, None, decision.skip)
        if _key(record, decision.stage_days) in written:
            return outcome(decision.stage_days, None, ReminderSkip.ALREADY_SENT)
        if contact is None:
            return outcome(decision.stage_days, None, ReminderSkip.NO_CONTACT)
        household = self.ledger.household(record.account_number)
        facts = _facts(record, household.open_disputes, household.disputed_yuan)
        decision = reminder_due(policy, facts, today)
        if decision.stage_days is None:
            return outcome(None, None, decision.skip)
        message = self._message(record, contact, policy, decision.stage_days, days, today, context, facts)
        message_id = self.outbox.enqueue(message)
        if message_id is None:  # written by a run going on at the same time
            return outcome(decision.stage_days, None, ReminderSkip.ALREADY_SENT)
        return outcome(decision.stage_days, message_id, None)

    def _message(
        self,
        record: PastDue,
        contact: Contact,
        policy: DunningPolicy,
        stage_days: int,
        days_past_due: int,
        today: date,
        context: CommandContext,
        facts: DunningFacts,
    ) -> OutgoingMessage:
        # The reminder asks for what is past due beyond what the household disputes.
        amount = facts.undisputed_past_due_yuan
        content = ReminderContent(
            account_number=record.account_number,
            community=record.community,
            amount_yuan=amount,
            oldest_due_on=record.oldest_due_on,
            days_past_due=days_past_due,
            today=today,
            stage_number=policy.stage_number(stage_days),
            final=policy.is_final(stage_days),
        )
        subject, body = render_reminder(content, contact.language, self.sender)
        return OutgoingMessage(
            dedup_key=reminder_key(record.account_number, record.oldest_due_on, stage_days),
            kind=MessageKind.REMINDER,
            account_number=record.account_number,
            channel=contact.channel,
            address=contact.address,
            language=contact.language,
            subject=subject,
            body=body,
            amount_yuan=amount,
            stage_days=stage_days,
            created_by=context.actor,
            reason=context.reason,
            correlation_id=context.correlation_id,
        )


def _facts(record: PastDue, open_disputes: int = 0, disputed_yuan: Decimal | None = Decimal(0)) -> DunningFacts:
    return DunningFacts(record.past_due_yuan, record.oldest_due_on, open_disputes, disputed_yuan)


def _stage_due(record: PastDue, policy: DunningPolicy, today: date) -> ReminderDecision:
    """The stage the household is due today by its arrears alone (its protections come later)."""
    return reminder_due(policy, _facts(record), today)


def _key(record: PastDue, stage_days: int) -> str:
    return reminder_key(record.account_number, record.oldest_due_on, stage_days)
