"""Resolution letters (处理结果通知书): when a dispute is resolved (upheld in full or in part) or
rejected, the household gets a letter with the outcome, the reason, who decided and when, the
recompute's lines and the note booked, in its contact's language, through the notification outbox.

The letter is made from the event store (the dispute, its events, the note in the billing period,
the household's address), never from the read models, so it can be written right after the
resolution's save, before any catch-up. It is a PDF (``LetterRenderer``); the outbox message that
carries it depends on the household's contact channel: an e-mail has the PDF attached, an SMS or
WeChat message (the webhook) is a short text pointing to it. One letter message per dispute, ever:
the outbox key ``dispute-letter:<dispute id>`` (a dispute is resolved once; a closed one takes
nothing more). A household without a contact gets none (``dispute_letter_no_contact``): customer
service prints the letter (``GET /disputes/{id}/letter``) and hands it over, or sends it with
``POST /disputes/{id}/letter`` once a contact is recorded.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from enum import StrEnum
from typing import Any, Protocol
from uuid import UUID, uuid4

from application.authorization import Permission, Principal
from application.dispute_letter_text import (
    FigureChange,
    LetterDocument,
    LetterLine,
    LetterNote,
    LetterRecompute,
    LetterSubject,
    ResolutionLetterContent,
    render_letter,
    render_letter_message,
)
from application.ledger import HeatLedger
from application.notifications import (
    Attachment,
    ContactBook,
    ContactChannel,
    MessageKind,
    MessageLanguage,
    Outbox,
    OutgoingMessage,
)
from application.reminder_messages import ReminderSender
from domain import ids
from domain.billing import BillKind
from domain.billing_period import BillingPeriod, IssuedBill
from domain.dispute import Dispute, DisputeState, LineChange, RecomputeSnapshot
from domain.errors import ConflictError, NotFoundError
from domain.values import CommandContext

logger = logging.getLogger("heatledger.disputes")

# The states a letter is written for: the utility's decision (a withdrawal is the household's).
LETTER_STATES = frozenset({DisputeState.RESOLVED_UPHELD, DisputeState.RESOLVED_PARTLY, DisputeState.REJECTED})
PDF = "application/pdf"
ZERO_YUAN = Decimal("0.00")


def letter_key(dispute_id: UUID) -> str:
    """The outbox name of a dispute's letter message: one per dispute, ever."""
    return f"dispute-letter:{dispute_id}"


def letter_filename(reference: str, language: MessageLanguage) -> str:
    """The PDF's file name (ASCII: a reference is letters, digits, '-' and '_')."""
    return f"dispute-letter-{reference}-{language.value}.pdf"


class LetterRenderer(Protocol):
    """Turns a laid-out letter into a PDF."""

    def render(self, document: LetterDocument) -> bytes: ...


class LetterSkip(StrEnum):
    """Why no letter message was written (also message keys)."""

    NO_CONTACT = "dispute_letter_no_contact"
    ALREADY_WRITTEN = "dispute_letter_already_written"


@dataclass(frozen=True)
class ResolutionLetter:
    """A dispute's letter as a PDF in one language."""

    dispute_id: UUID
    reference: str
    language: MessageLanguage
    filename: str
    pdf: bytes


@dataclass(frozen=True)
class LetterOutcome:
    """What sending the letter did: the outbox message written (its id and channel), or why none."""

    dispute_id: UUID
    message_id: UUID | None
    channel: ContactChannel | None
    skip: LetterSkip | None


class DisputeLetters:
    """Resolution letters: made on request, and written to the outbox once a dispute is settled."""

    def __init__(
        self,
        ledger: HeatLedger,
        contacts: ContactBook,
        outbox: Outbox,
        renderer: LetterRenderer,
        sender: ReminderSender,
        letter_url: str = "",
    ) -> None:
        self.ledger = ledger
        self.contacts = contacts
        self.outbox = outbox
        self.renderer = renderer
        self.sender = sender
        self.letter_url = letter_url

    def letter(self, dispute_id: UUID, language: MessageLanguage | None = None) -> ResolutionLetter:
        """The dispute's letter in ``language`` (None: the household's contact language, else
        Chinese). NotFoundError for no such dispute; ConflictError while it is not resolved or
        rejected (a withdrawn dispute has no letter)."""
        content = self.content(dispute_id)
        chosen = language or self._contact_language(content.account_number)
        return self._letter(content, chosen)

    def send(
        self, principal: Principal, dispute_id: UUID, reason: str = "", correlation_id: UUID | None = None
    ) -> LetterOutcome:
        """Write the letter message to the outbox unless it is written already (customer service
        sends it after recording a contact; the resolution writes it by itself otherwise)."""
        principal.require(Permission.MANAGE_DISPUTES)
        context = CommandContext(principal.name, reason.strip() or "resolution letter", correlation_id or uuid4())
        return self._write(self.content(dispute_id), context)

    def dispute_closed(self, dispute: Dispute, context: CommandContext) -> LetterOutcome | None:
        """The hook ``application.disputes.Disputes`` calls after a closing is saved: a resolution
        or a rejection writes its letter (None: a withdrawal, which has none)."""
        if dispute.state not in LETTER_STATES:
            return None
        outcome = self._write(self._content_of(dispute), context)
        if outcome.skip is LetterSkip.NO_CONTACT:
            logger.info(
                "dispute %s: %s has no contact, no letter sent", dispute.reference, dispute.household.account_number
            )
        return outcome

    # -- content ------------------------------------------------------------------------------

    def content(self, dispute_id: UUID) -> ResolutionLetterContent:
        """What the dispute's letter states, from the event store."""
        # Beside other commands, alone on the dispute, its household and its note's period (read).
        with self.ledger.locks.writing_found([dispute_id], lambda: self._related_ids(dispute_id)):
            dispute = self.ledger.copy_or_none(Dispute, dispute_id)
            if dispute is None:
                raise NotFoundError(f"no dispute {dispute_id}", kind="dispute", key=str(dispute_id))
            return self._content_of(dispute)

    def _related_ids(self, dispute_id: UUID) -> list[UUID]:
        dispute = self.ledger.copy_or_none(Dispute, dispute_id)
        if dispute is None:
            return []
        account_number = dispute.household.account_number
        related = [ids.household_id(account_number)]
        if dispute.recompute is not None:
            related.append(ids.billing_period_id(account_number, dispute.recompute.season_code))
        return related

    def _content_of(self, dispute: Dispute) -> ResolutionLetterContent:
        if dispute.state not in LETTER_STATES:
            raise ConflictError(
                f"the dispute is {dispute.state.value}: only a resolved or rejected dispute has a letter",
                message_key="dispute_letter_not_resolved",
                reference=dispute.reference,
                state=dispute.state.value,
            )
        decision = _Decision.of(list(self.ledger.events.get(dispute.id)))
        household = self.ledger.household(dispute.household.account_number)
        recompute = dispute.recompute
        note = self._note(dispute)
        booked_before = ZERO_YUAN
        if dispute.state is DisputeState.RESOLVED_UPHELD and recompute is not None:
            booked_before = recompute.difference_yuan - dispute.note_amount_yuan
        assert dispute.closed_on is not None, "a closed dispute has its closing day"
        return ResolutionLetterContent(
            dispute_id=dispute.id,
            reference=dispute.reference,
            account_number=dispute.household.account_number,
            community=household.address.community,
            building=household.address.building,
            entrance=household.address.entrance,
            flat=household.address.flat,
            category=dispute.category.value,
            channel=dispute.channel.value,
            subject=LetterSubject(
                dispute.subject.kind.value,
                dispute.subject.bill_number,
                dispute.subject.meter_serial,
                dispute.subject.measured_at,
                dispute.subject.payment_reference,
            ),
            description=dispute.description,
            disputed_amount_yuan=dispute.disputed_amount_yuan,
            opened_on=dispute.opened_on,
            outcome=dispute.state.value,
            reason=decision.reason,
            decided_by=decision.decided_by,
            decided_at=decision.decided_at,
            approved_by=decision.approved_by,
            approved_at=decision.approved_at,
            closed_on=dispute.closed_on,
            recompute=_recompute(recompute) if recompute is not None else None,
            note=note,
            booked_before_yuan=booked_before,
        )

    def _note(self, dispute: Dispute) -> LetterNote | None:
        """The note the resolution booked, as the billing period issued it (None: none booked)."""
        if dispute.note_bill_id is None or dispute.recompute is None:
            return None
        period_id = ids.billing_period_id(dispute.household.account_number, dispute.recompute.season_code)
        period = self.ledger.load_or_none(BillingPeriod, period_id)
        bill = _issued(period, dispute.note_bill_id) if period is not None else None
        if bill is None:  # the note and the resolution are one save: a missing note is a defect
            raise NotFoundError(f"no note {dispute.note_number}", kind="bill", key=str(dispute.note_bill_id))
        source = next((line.figures for line in bill.lines if line.code == "adjustment_source"), {})
        return LetterNote(
            bill.number,
            bill.amount_yuan,
            dispute.recompute.season_code,
            source.get("tariff_version", ""),
            source.get("document_number", ""),
        )

    # -- writing ------------------------------------------------------------------------------

    def _letter(self, content: ResolutionLetterContent, language: MessageLanguage) -> ResolutionLetter:
        pdf = self.renderer.render(render_letter(content, language, self.sender))
        filename = letter_filename(content.reference, language)
        return ResolutionLetter(content.dispute_id, content.reference, language, filename, pdf)

    def _write(self, content: ResolutionLetterContent, context: CommandContext) -> LetterOutcome:
        key = letter_key(content.dispute_id)
        if self.outbox.written([key]):
            return LetterOutcome(content.dispute_id, None, None, LetterSkip.ALREADY_WRITTEN)
        contact = self.contacts.contacts([content.account_number]).get(content.account_number)
        if contact is None:
            return LetterOutcome(content.dispute_id, None, None, LetterSkip.NO_CONTACT)
        attached = contact.channel is ContactChannel.EMAIL
        url = self.letter_url.replace("{dispute_id}", str(content.dispute_id))
        subject, body = render_letter_message(content, contact.language, self.sender, attached, url)
        attachments: tuple[Attachment, ...] = ()
        if attached:
            letter = self._letter(content, contact.language)
            attachments = (Attachment(letter.filename, PDF, letter.pdf),)
        message = OutgoingMessage(
            dedup_key=key,
            kind=MessageKind.DISPUTE_LETTER,
            account_number=content.account_number,
            channel=contact.channel,
            address=contact.address,
            language=contact.language,
            subject=subject,
            body=body,
            amount_yuan=content.note.amount_yuan if content.note else ZERO_YUAN,
            stage_days=0,
            created_by=context.actor,
            reason=f"resolution letter of dispute {content.reference}",
            correlation_id=context.correlation_id,
            attachments=attachments,
        )
        message_id = self.outbox.enqueue(message)
        if message_id is None:  # written meanwhile by another caller: once, by that one
            return LetterOutcome(content.dispute_id, None, contact.channel, LetterSkip.ALREADY_WRITTEN)
        return LetterOutcome(content.dispute_id, message_id, contact.channel, None)

    def _contact_language(self, account_number: str) -> MessageLanguage:
        contact = self.contacts.contacts([account_number]).get(account_number)
        return contact.language if contact is not None else MessageLanguage.ZH


@dataclass(frozen=True)
class _Decision:
    """Who decided the outcome, when and why; for a note a second person approved, the proposal's
    author, time and reason, and the approver."""

    decided_by: str
    decided_at: datetime
    reason: str
    approved_by: str | None = None
    approved_at: datetime | None = None

    @classmethod
    def of(cls, events: list[Any]) -> _Decision:
        closing = next(
            event
            for event in reversed(events)
            if isinstance(event, Dispute.Resolved | Dispute.Rejected | Dispute.ResolutionApproved)
        )
        if not isinstance(closing, Dispute.ResolutionApproved):
            return cls(closing.actor, closing.timestamp, closing.reason)
        proposal = next(
            event
            for event in reversed(events)
            if isinstance(event, Dispute.ResolutionProposed) and event.originator_version < closing.originator_version
        )
        return cls(proposal.actor, proposal.timestamp, proposal.reason, closing.actor, closing.timestamp)


def _issued(period: BillingPeriod, bill_id: UUID) -> IssuedBill | None:
    return next((bill for bill in period.issued(BillKind.ADJUSTMENT) if bill.bill_id == bill_id), None)


def _recompute(snapshot: RecomputeSnapshot) -> LetterRecompute:
    return LetterRecompute(
        snapshot.bill_number,
        snapshot.season_code,
        snapshot.issued_amount_yuan,
        snapshot.recomputed_amount_yuan,
        tuple(_line(change) for change in snapshot.changes),
    )


def _line(change: LineChange) -> LetterLine:
    """A changed line: its amounts and each figure whose value differs (in the recomputed line's
    order, then those only the issued line had)."""
    issued = change.issued.figures if change.issued is not None else {}
    recomputed = change.recomputed.figures if change.recomputed is not None else {}
    names = list(recomputed) + [name for name in issued if name not in recomputed]
    figures = tuple(
        FigureChange(name, issued.get(name), recomputed.get(name))
        for name in names
        if issued.get(name) != recomputed.get(name)
    )
    line = change.recomputed or change.issued
    assert line is not None, "a change has a line on one side at least"
    return LetterLine(
        line.code,
        change.issued.amount_yuan if change.issued is not None else None,
        change.recomputed.amount_yuan if change.recomputed is not None else None,
        figures,
        present_before=change.issued is not None,
        present_after=change.recomputed is not None,
    )
