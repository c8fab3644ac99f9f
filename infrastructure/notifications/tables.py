"""The notification tables: the households' contact book, the outbox and its delivery attempts.

Contact details are personal data a household may ask to have erased, so they live in their own
table (``household_contacts``) that can forget a row. A message in ``notification_outbox`` keeps
the address it was written for, so a delivery never depends on a contact that changed since.
Every attempt to deliver a message (and every requeue by a person) is a ``notification_deliveries``
row: the history of a message is never edited, only added to. Files that go with a message (an
e-mail's attachments) are ``notification_attachments`` rows, written with the message.
"""

from __future__ import annotations

from enum import StrEnum

from sqlalchemy import (
    BigInteger,
    Column,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
    Uuid,
)

from projections.types import ScaledDecimal, UtcDateTime

MAXIMUM_ACCOUNT_NUMBER_LENGTH = 64
# RFC 5321 limits a forward path to 256 octets including the angle brackets.
MAXIMUM_ADDRESS_LENGTH = 254
MAXIMUM_ACTOR_LENGTH = 128
MAXIMUM_HOLDER_NAME_LENGTH = 128
MAXIMUM_DEDUP_KEY_LENGTH = 200
MAXIMUM_SUBJECT_LENGTH = 300
MAXIMUM_REASON_LENGTH = 500
MAXIMUM_ERROR_LENGTH = 500
MAXIMUM_DETAIL_LENGTH = 500

metadata = MetaData()

household_contacts = Table(
    "household_contacts",
    metadata,
    Column("account_number", String(MAXIMUM_ACCOUNT_NUMBER_LENGTH), primary_key=True),
    Column("channel", String(16), nullable=False),
    Column("address", String(MAXIMUM_ADDRESS_LENGTH), nullable=False),
    Column("language", String(8), nullable=False),
    Column("updated_at", UtcDateTime, nullable=False),
    Column("updated_by", String(MAXIMUM_ACTOR_LENGTH), nullable=False),
    # The account holder's name as the household gave it (revision 0024); None when not given.
    Column("holder_name", String(MAXIMUM_HOLDER_NAME_LENGTH), nullable=True),
)

notification_outbox = Table(
    "notification_outbox",
    metadata,
    Column("message_id", Uuid, primary_key=True),
    Column("dedup_key", String(MAXIMUM_DEDUP_KEY_LENGTH), nullable=False),
    Column("kind", String(32), nullable=False),
    Column("account_number", String(MAXIMUM_ACCOUNT_NUMBER_LENGTH), nullable=False),
    Column("channel", String(16), nullable=False),
    Column("address", String(MAXIMUM_ADDRESS_LENGTH), nullable=False),
    Column("language", String(8), nullable=False),
    Column("subject", String(MAXIMUM_SUBJECT_LENGTH), nullable=False),
    Column("body", Text, nullable=False),
    Column("amount_yuan", ScaledDecimal(2), nullable=False),
    Column("stage_days", Integer, nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
    Column("created_by", String(MAXIMUM_ACTOR_LENGTH), nullable=False),
    Column("reason", String(MAXIMUM_REASON_LENGTH), nullable=False),
    Column("correlation_id", Uuid, nullable=False),
    Column("status", String(16), nullable=False),
    Column("attempts", Integer, nullable=False),
    Column("next_attempt_at", UtcDateTime, nullable=False),
    # Set while a worker holds the message; a lease that has passed means the worker crashed.
    Column("claimed_until", UtcDateTime, nullable=True),
    Column("delivered_at", UtcDateTime, nullable=True),
    Column("last_error", String(MAXIMUM_ERROR_LENGTH), nullable=True),
    # One message per key, ever: the database, not a read-then-write, keeps a reminder single.
    UniqueConstraint("dedup_key", name="uq_notification_outbox_dedup_key"),
    Index("ix_notification_outbox_account_number", "account_number"),
    # The dispatcher's question: which pending messages are due?
    Index("ix_notification_outbox_due", "status", "next_attempt_at"),
)

notification_deliveries = Table(
    "notification_deliveries",
    metadata,
    # An increasing id: the order attempts happened in, also across a requeue (which restarts
    # the attempt count) and under a test clock that stands still.
    Column("delivery_id", BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True),
    Column("message_id", Uuid, nullable=False),
    Column("attempt", Integer, nullable=False),
    Column("attempted_at", UtcDateTime, nullable=False),
    Column("channel", String(16), nullable=False),
    Column("outcome", String(16), nullable=False),
    Column("detail", String(MAXIMUM_DETAIL_LENGTH), nullable=False),
    Column("duration_ms", Integer, nullable=False),
    Index("ix_notification_deliveries_message_id", "message_id"),
)


# Files sent with a message (a resolution letter's PDF with its e-mail), written with it in one
# transaction and never changed; ``position`` keeps their order.
MAXIMUM_FILENAME_LENGTH = 200
MAXIMUM_CONTENT_TYPE_LENGTH = 100
notification_attachments = Table(
    "notification_attachments",
    metadata,
    Column("message_id", Uuid, primary_key=True),
    Column("position", Integer, primary_key=True),
    Column("filename", String(MAXIMUM_FILENAME_LENGTH), nullable=False),
    Column("content_type", String(MAXIMUM_CONTENT_TYPE_LENGTH), nullable=False),
    Column("size_bytes", Integer, nullable=False),
    Column("content", LargeBinary, nullable=False),
)


class MessageStatus(StrEnum):
    """Where an outbox message stands."""

    PENDING = "pending"  # waiting for ``next_attempt_at``
    SENDING = "sending"  # claimed by a worker until ``claimed_until``
    DELIVERED = "delivered"
    DEAD = "dead"  # refused for good, or out of attempts: a person must look (and may requeue)


class DeliveryOutcome(StrEnum):
    """What became of one delivery attempt (or that a person requeued the message)."""

    DELIVERED = "delivered"
    RETRY = "retry"
    DEAD = "dead"
    REQUEUED = "requeued"
