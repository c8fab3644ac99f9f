"""What the application asks of the notification outbox and the contact book.

A reminder is never sent from inside a use case: the use case writes an ``OutgoingMessage`` to the
outbox (once per ``dedup_key``, ever), and a separate delivery job sends what is due through its
channel (a webhook, SMTP), retrying with backoff and dead-lettering after a bounded number of
attempts. So a run that is repeated, or crashes half-way, never sends a reminder twice, and a
channel that is down never makes a run fail.

Contact details (a mobile number, an e-mail address) are personal data the household may ask to
have erased; they live in a contact book that can forget them, never in the event store.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from enum import StrEnum
from typing import Protocol
from uuid import UUID


class ContactChannel(StrEnum):
    """How a household is reached: the utility's messaging webhook (an SMS or WeChat gateway that
    knows the recipient by an id such as a mobile number) or e-mail over SMTP."""

    WEBHOOK = "webhook"
    EMAIL = "email"


class MessageLanguage(StrEnum):
    """The language a household's messages are written in (Chinese unless it asked for English)."""

    ZH = "zh"
    EN = "en"


@dataclass(frozen=True)
class Contact:
    """Where a household's messages go. ``address``: the recipient id the webhook's gateway knows
    (a mobile number, an openid) or an e-mail address. ``holder_name``: the account holder's name
    as the household gave it ("" when not given): the ledger keeps no names, so this erasable
    record is where a clerk finds a household by its holder."""

    account_number: str
    channel: ContactChannel
    address: str
    language: MessageLanguage
    holder_name: str = ""


class ContactBook(Protocol):
    """The households' contact details (erasable, outside the event store)."""

    def contacts(self, account_numbers: Sequence[str]) -> dict[str, Contact]:
        """The contacts of these households that have one, by account number."""
        ...


class MessageKind(StrEnum):
    """What an outgoing message is: a payment reminder, or the notice of an issued bill (named
    like the bill's kind)."""

    REMINDER = "reminder"
    PREPAYMENT = "prepayment"
    STATEMENT = "statement"
    SETTLEMENT = "settlement"
    DISPUTE_LETTER = "dispute_letter"  # the resolution letter of a dispute (docs/disputes.md)


@dataclass(frozen=True)
class Attachment:
    """A file sent with a message (an e-mail attachment: a resolution letter's PDF). Messages to
    the webhook carry none: an SMS or WeChat gateway takes text, so their body points to the file."""

    filename: str
    content_type: str
    content: bytes


@dataclass(frozen=True)
class OutgoingMessage:
    """A message to write to the outbox. ``dedup_key`` names it: the outbox keeps one message per
    key, ever, so writing the same reminder or bill notice again is a no-op. For a reminder,
    ``stage_days`` and ``amount_yuan`` say which stage it is and what was past due when it was
    written; for a bill notice, ``amount_yuan`` is what the bill charges (negative: credited) and
    ``stage_days`` is 0. ``attachments`` go with an e-mail (written with the message, in order)."""

    dedup_key: str
    kind: MessageKind
    account_number: str
    channel: ContactChannel
    address: str
    language: MessageLanguage
    subject: str
    body: str
    amount_yuan: Decimal
    stage_days: int
    created_by: str
    reason: str
    correlation_id: UUID
    attachments: tuple[Attachment, ...] = ()


class Outbox(Protocol):
    """Where messages wait for delivery."""

    def enqueue(self, message: OutgoingMessage) -> UUID | None:
        """Write the message; its id, or None when a message with its ``dedup_key`` exists."""
        ...

    def enqueue_all(self, messages: Sequence[OutgoingMessage]) -> list[UUID | None]:
        """Write the messages (distinct keys) together; for each its id, or None when a message
        with its ``dedup_key`` exists."""
        ...

    def written(self, dedup_keys: Sequence[str]) -> set[str]:
        """Those of ``dedup_keys`` the outbox holds a message for."""
        ...
