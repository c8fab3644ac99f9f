"""The notification outbox in ``notification_outbox``, with every delivery attempt in
``notification_deliveries``.

A use case writes a message once per ``dedup_key`` (the unique constraint decides, so two runs at
once still write one); the dispatcher claims what is due, sends it and records how it went. A
claim is a lease: a worker that crashes mid-send leaves its messages ``sending`` until the lease
passes, and then another worker claims them again. So delivery is at least once; the message id
travels with every attempt so a receiver can drop a repeat.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any
from uuid import UUID, uuid4

from sqlalchemy import ColumnElement, Connection, Engine, and_, func, insert, or_, select, true, update
from sqlalchemy.exc import IntegrityError

from application.ledger import require_reason
from application.notifications import Attachment, ContactChannel, MessageKind, MessageLanguage, OutgoingMessage
from domain.errors import ConflictError, NotFoundError
from domain.values import bounded_text
from infrastructure.notifications.tables import (
    MAXIMUM_ACCOUNT_NUMBER_LENGTH,
    MAXIMUM_ACTOR_LENGTH,
    MAXIMUM_ADDRESS_LENGTH,
    MAXIMUM_CONTENT_TYPE_LENGTH,
    MAXIMUM_DEDUP_KEY_LENGTH,
    MAXIMUM_DETAIL_LENGTH,
    MAXIMUM_ERROR_LENGTH,
    MAXIMUM_FILENAME_LENGTH,
    MAXIMUM_REASON_LENGTH,
    MAXIMUM_SUBJECT_LENGTH,
    DeliveryOutcome,
    MessageStatus,
    notification_attachments,
    notification_deliveries,
    notification_outbox,
)

__all__ = ["DeliveryOutcome", "DeliveryRecord", "MessageStatus", "QueuedMessage", "SqlOutbox"]

logger = logging.getLogger("heatledger.notifications")

# Bounds on what one call reads or claims.
MAXIMUM_CLAIM = 1000
MAXIMUM_PAGE = 1000
MAXIMUM_DURATION_MS = 24 * 3600 * 1000
# Keys per IN (...) list when looking up which reminders are written.
KEY_LOOKUP_CHUNK = 500
# Messages written in one transaction by ``enqueue_all``.
MAXIMUM_BATCH = 1000
# Files per message, and the bytes of one (a letter's PDF is a few kB; mail servers refuse ~25 MB).
MAXIMUM_ATTACHMENTS = 5
MAXIMUM_ATTACHMENT_BYTES = 5_000_000


@dataclass(frozen=True)
class QueuedMessage:
    """A message as ``notification_outbox`` holds it."""

    message_id: UUID
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
    created_at: datetime
    created_by: str
    reason: str
    correlation_id: UUID
    status: MessageStatus
    attempts: int
    next_attempt_at: datetime
    claimed_until: datetime | None
    delivered_at: datetime | None
    last_error: str | None
    # Read for the dispatcher (``claim_due``) and for one message (``message``), not for lists.
    attachments: tuple[Attachment, ...] = ()


@dataclass(frozen=True)
class DeliveryRecord:
    """One attempt to deliver a message (or a person's requeue of it)."""

    delivery_id: int
    message_id: UUID
    attempt: int
    attempted_at: datetime
    channel: ContactChannel
    outcome: DeliveryOutcome
    detail: str
    duration_ms: int


class SqlOutbox:
    """``notification_outbox`` and ``notification_deliveries``: enqueue, claim, record, read, requeue."""

    def __init__(self, engine: Engine, clock: Callable[[], datetime]) -> None:
        self.engine = engine
        self.clock = clock

    # -- writing messages ---------------------------------------------------------------------

    def enqueue(self, message: OutgoingMessage) -> UUID | None:
        """Write the message, due now; its id, or None when a message with its ``dedup_key``
        exists (whatever became of that one: a reminder is written once, ever)."""
        _check_lengths(message)
        message_id = uuid4()
        now = self.clock()
        try:
            with self.engine.begin() as connection:
                connection.execute(insert(notification_outbox).values(_new_row(message_id, message, now)))
                _add_attachments(connection, [(message_id, message)])
        except IntegrityError:
            # Only the dedup key can clash (the id is fresh); the existing message stands.
            if self._exists(message.dedup_key):
                return None
            raise
        return message_id

    def enqueue_all(self, messages: Sequence[OutgoingMessage]) -> list[UUID | None]:
        """Write the messages, due now, in one transaction (a notice pass writes a page of bills'
        notices at once: a transaction per message would cost a commit each); for each its id,
        or None when a message with its ``dedup_key`` exists. When another writer inserts one of
        the keys meanwhile, the batch is rolled back and written one message at a time."""
        assert len(messages) <= MAXIMUM_BATCH, f"at most {MAXIMUM_BATCH} messages at once"
        keys = [message.dedup_key for message in messages]
        assert len(set(keys)) == len(keys), "one message per key in a batch"
        for message in messages:
            _check_lengths(message)
        present = self.written(keys)
        message_ids = [None if message.dedup_key in present else uuid4() for message in messages]
        now = self.clock()
        rows = [
            _new_row(message_id, message, now)
            for message_id, message in zip(message_ids, messages, strict=True)
            if message_id is not None
        ]
        if not rows:
            return message_ids
        written = [
            (message_id, message)
            for message_id, message in zip(message_ids, messages, strict=True)
            if message_id is not None
        ]
        try:
            with self.engine.begin() as connection:
                connection.execute(insert(notification_outbox), rows)
                _add_attachments(connection, written)
        except IntegrityError:
            return [
                self.enqueue(message) if message_id is not None else None
                for message_id, message in zip(message_ids, messages, strict=True)
            ]
        return message_ids

    def written(self, dedup_keys: Sequence[str]) -> set[str]:
        """Those of ``dedup_keys`` the outbox holds a message for (looked up in chunks, so a
        city's run is a few queries rather than a failed insert per reminder written before)."""
        found: set[str] = set()
        keys = list(dict.fromkeys(dedup_keys))
        column = notification_outbox.c.dedup_key
        with self.engine.connect() as connection:
            for start in range(0, len(keys), KEY_LOOKUP_CHUNK):
                chunk = keys[start : start + KEY_LOOKUP_CHUNK]
                found.update(connection.execute(select(column).where(column.in_(chunk))).scalars())
        return found

    def _exists(self, dedup_key: str) -> bool:
        query = select(notification_outbox.c.message_id).where(notification_outbox.c.dedup_key == dedup_key)
        with self.engine.connect() as connection:
            return connection.execute(query).first() is not None

    # -- the dispatcher's side ----------------------------------------------------------------

    def claim_due(self, limit: int, lease_seconds: float) -> list[QueuedMessage]:
        """Claim up to ``limit`` due messages for ``lease_seconds``: pending ones whose time has
        come, and ones a crashed worker left ``sending`` past their lease. Each claim is a
        conditional UPDATE, so of two workers racing for a message exactly one gets it."""
        assert 1 <= limit <= MAXIMUM_CLAIM, f"claim 1 to {MAXIMUM_CLAIM} messages"
        assert lease_seconds > 0, "a claim is a lease of some length"
        now = self.clock()
        claimable = _claimable(now)
        candidates = (
            select(notification_outbox.c.message_id)
            .where(claimable)
            .order_by(notification_outbox.c.next_attempt_at, notification_outbox.c.message_id)
            .limit(limit)
        )
        claimed: list[UUID] = []
        with self.engine.begin() as connection:
            for message_id in connection.execute(candidates).scalars().all():
                # The same condition again: a message another worker claimed meanwhile is skipped.
                claim = (
                    update(notification_outbox)
                    .where(notification_outbox.c.message_id == message_id, claimable)
                    .values(status=MessageStatus.SENDING.value, claimed_until=now + timedelta(seconds=lease_seconds))
                )
                if connection.execute(claim).rowcount == 1:
                    claimed.append(message_id)
            messages = _read_messages(connection, notification_outbox.c.message_id.in_(claimed)) if claimed else []
            messages = _with_attachments(connection, messages)
        assert all(message.status is MessageStatus.SENDING for message in messages), "claimed what was read"
        return sorted(messages, key=lambda message: (message.next_attempt_at, message.message_id))

    def record_attempt(
        self,
        message_id: UUID,
        outcome: DeliveryOutcome,
        detail: str,
        duration_ms: int,
        next_attempt_at: datetime | None,
    ) -> None:
        """Record one attempt on a claimed message and move it on, in one transaction:
        delivered; retry (pending again at ``next_attempt_at``); or dead. Every outcome counts
        one attempt."""
        assert outcome is not DeliveryOutcome.REQUEUED, "a requeue is not an attempt"
        assert (outcome is DeliveryOutcome.RETRY) == (next_attempt_at is not None), "a retry, and only it, has a time"
        now = self.clock()
        with self.engine.begin() as connection:
            message = self._claimed(connection, message_id)
            attempt = message.attempts + 1
            _add_delivery(
                connection,
                message,
                attempt=attempt,
                attempted_at=now,
                outcome=outcome,
                detail=detail,
                duration_ms=max(0, min(duration_ms, MAXIMUM_DURATION_MS)),
            )
            changes = _changes_after(outcome, detail, now, next_attempt_at)
            connection.execute(
                update(notification_outbox)
                .where(notification_outbox.c.message_id == message_id)
                .values(attempts=attempt, claimed_until=None, **changes)
            )
        logger.info("notification %s attempt %d: %s (%s)", message_id, attempt, outcome.value, detail)

    def _claimed(self, connection: Connection, message_id: UUID) -> QueuedMessage:
        found = _read_messages(connection, notification_outbox.c.message_id == message_id, lock=True)
        if not found:
            raise NotFoundError(f"no notification {message_id}", kind="notification", key=str(message_id))
        message = found[0]
        # Only a claimed message is attempted: anything else is a bug in the caller.
        assert message.status is MessageStatus.SENDING, f"{message_id} is {message.status.value}, not claimed"
        return message

    # -- reading ------------------------------------------------------------------------------

    def messages(
        self,
        status: MessageStatus | str | None = None,
        account_number: str | None = None,
        limit: int = 100,
        offset: int = 0,
    ) -> list[QueuedMessage]:
        """Messages, newest first, optionally of one status or one household."""
        assert 1 <= limit <= MAXIMUM_PAGE and offset >= 0, "a bounded page"
        conditions: list[ColumnElement[bool]] = []
        if status is not None:
            conditions.append(notification_outbox.c.status == MessageStatus(status).value)
        if account_number is not None:
            conditions.append(notification_outbox.c.account_number == account_number)
        with self.engine.connect() as connection:
            return _read_messages(connection, and_(true(), *conditions), newest_first=True, limit=limit, offset=offset)

    def message(self, message_id: UUID) -> QueuedMessage | None:
        """The message, or None when there is none with this id."""
        with self.engine.connect() as connection:
            found = _with_attachments(
                connection, _read_messages(connection, notification_outbox.c.message_id == message_id)
            )
        return found[0] if found else None

    def deliveries(self, message_id: UUID) -> list[DeliveryRecord]:
        """Every attempt on the message (and every requeue), in the order they happened."""
        query = (
            select(notification_deliveries)
            .where(notification_deliveries.c.message_id == message_id)
            .order_by(notification_deliveries.c.delivery_id)
        )
        with self.engine.connect() as connection:
            return [_delivery(row) for row in connection.execute(query)]

    def counts(self) -> dict[str, int]:
        """How many messages there are of each status (every status, zero included)."""
        query = select(notification_outbox.c.status, func.count()).group_by(notification_outbox.c.status)
        counted = {status.value: 0 for status in MessageStatus}
        with self.engine.connect() as connection:
            counted.update({status: count for status, count in connection.execute(query)})
        return counted

    # -- a person's side ----------------------------------------------------------------------

    def requeue(self, message_id: UUID, actor: str, reason: str) -> QueuedMessage:
        """Give a dead message a fresh set of attempts, due now (after its cause was fixed: a
        corrected address, a gateway back up). The requeue is kept in the delivery history.
        NotFoundError for an unknown message; ConflictError for one that is not dead."""
        require_reason(reason)
        actor = bounded_text(actor, "actor", MAXIMUM_ACTOR_LENGTH)
        now = self.clock()
        with self.engine.begin() as connection:
            message = self._dead(connection, message_id)
            _add_delivery(
                connection,
                message,
                attempt=message.attempts,
                attempted_at=now,
                outcome=DeliveryOutcome.REQUEUED,
                detail=f"{actor}: {reason.strip()}",
                duration_ms=0,
            )
            connection.execute(
                update(notification_outbox)
                .where(notification_outbox.c.message_id == message_id)
                .values(status=MessageStatus.PENDING.value, attempts=0, next_attempt_at=now, claimed_until=None)
            )
            requeued = _read_messages(connection, notification_outbox.c.message_id == message_id)[0]
        logger.info("notification %s requeued by %s: %s", message_id, actor, reason)
        return requeued

    def _dead(self, connection: Connection, message_id: UUID) -> QueuedMessage:
        found = _read_messages(connection, notification_outbox.c.message_id == message_id, lock=True)
        if not found:
            raise NotFoundError(f"no notification {message_id}", kind="notification", key=str(message_id))
        if found[0].status is not MessageStatus.DEAD:
            raise ConflictError(
                f"notification {message_id} is {found[0].status.value}; only a dead one is requeued",
                message_key="notification_not_dead",
                message_id=str(message_id),
                status=found[0].status.value,
            )
        return found[0]


# -- rows ---------------------------------------------------------------------------------------


def _claimable(now: datetime) -> ColumnElement[bool]:
    table = notification_outbox.c
    due = and_(table.status == MessageStatus.PENDING.value, table.next_attempt_at <= now)
    abandoned = and_(table.status == MessageStatus.SENDING.value, table.claimed_until < now)
    return or_(due, abandoned)


def _changes_after(
    outcome: DeliveryOutcome, detail: str, now: datetime, next_attempt_at: datetime | None
) -> dict[str, Any]:
    if outcome is DeliveryOutcome.DELIVERED:
        return {"status": MessageStatus.DELIVERED.value, "delivered_at": now, "last_error": None}
    error = detail[:MAXIMUM_ERROR_LENGTH]
    if outcome is DeliveryOutcome.RETRY:
        return {"status": MessageStatus.PENDING.value, "next_attempt_at": next_attempt_at, "last_error": error}
    return {"status": MessageStatus.DEAD.value, "last_error": error}


def _check_lengths(message: OutgoingMessage) -> None:
    """InvalidInputError for a field longer than its column (SQLite would keep it, PostgreSQL
    would refuse it: both backends behave alike)."""
    bounded_text(message.dedup_key, "dedup_key", MAXIMUM_DEDUP_KEY_LENGTH)
    bounded_text(message.account_number, "account_number", MAXIMUM_ACCOUNT_NUMBER_LENGTH)
    bounded_text(message.address, "address", MAXIMUM_ADDRESS_LENGTH)
    bounded_text(message.subject, "subject", MAXIMUM_SUBJECT_LENGTH)
    bounded_text(message.body, "body", 1_000_000)
    bounded_text(message.created_by, "created_by", MAXIMUM_ACTOR_LENGTH)
    bounded_text(message.reason, "reason", MAXIMUM_REASON_LENGTH)
    assert message.stage_days >= 0, "a reminder stage counts days past due"
    assert len(message.attachments) <= MAXIMUM_ATTACHMENTS, f"at most {MAXIMUM_ATTACHMENTS} files a message"
    for attachment in message.attachments:
        bounded_text(attachment.filename, "filename", MAXIMUM_FILENAME_LENGTH)
        bounded_text(attachment.content_type, "content_type", MAXIMUM_CONTENT_TYPE_LENGTH)
        assert 0 < len(attachment.content) <= MAXIMUM_ATTACHMENT_BYTES, "an attachment of 1 byte to 5 MB"


def _new_row(message_id: UUID, message: OutgoingMessage, now: datetime) -> dict[str, Any]:
    return {
        "message_id": message_id,
        "dedup_key": message.dedup_key,
        "kind": MessageKind(message.kind).value,
        "account_number": message.account_number,
        "channel": ContactChannel(message.channel).value,
        "address": message.address,
        "language": MessageLanguage(message.language).value,
        "subject": message.subject,
        "body": message.body,
        "amount_yuan": message.amount_yuan,
        "stage_days": message.stage_days,
        "created_at": now,
        "created_by": message.created_by,
        "reason": message.reason,
        "correlation_id": message.correlation_id,
        "status": MessageStatus.PENDING.value,
        "attempts": 0,
        "next_attempt_at": now,
    }


def _add_attachments(connection: Connection, written: Sequence[tuple[UUID, OutgoingMessage]]) -> None:
    """The files of the messages just written, in the same transaction (none: no statement)."""
    rows = [
        {
            "message_id": message_id,
            "position": position,
            "filename": attachment.filename,
            "content_type": attachment.content_type,
            "size_bytes": len(attachment.content),
            "content": attachment.content,
        }
        for message_id, message in written
        for position, attachment in enumerate(message.attachments)
    ]
    if rows:
        connection.execute(insert(notification_attachments), rows)


def _with_attachments(connection: Connection, messages: list[QueuedMessage]) -> list[QueuedMessage]:
    """The messages with their files read back (one query; most messages have none)."""
    if not messages:
        return messages
    table = notification_attachments.c
    query = (
        select(table.message_id, table.filename, table.content_type, table.size_bytes, table.content)
        .where(table.message_id.in_([message.message_id for message in messages]))
        .order_by(table.message_id, table.position)
    )
    files: dict[UUID, list[Attachment]] = {}
    for row in connection.execute(query):
        content = bytes(row.content)
        assert len(content) == row.size_bytes, f"an attachment of {row.message_id} came back whole"
        files.setdefault(row.message_id, []).append(Attachment(row.filename, row.content_type, content))
    return [replace(message, attachments=tuple(files.get(message.message_id, ()))) for message in messages]


def _add_delivery(
    connection: Connection,
    message: QueuedMessage,
    *,
    attempt: int,
    attempted_at: datetime,
    outcome: DeliveryOutcome,
    detail: str,
    duration_ms: int,
) -> None:
    connection.execute(
        insert(notification_deliveries).values(
            message_id=message.message_id,
            attempt=attempt,
            attempted_at=attempted_at,
            channel=message.channel.value,
            outcome=outcome.value,
            detail=detail[:MAXIMUM_DETAIL_LENGTH],
            duration_ms=duration_ms,
        )
    )


def _read_messages(
    connection: Connection,
    condition: ColumnElement[bool],
    *,
    lock: bool = False,
    newest_first: bool = False,
    limit: int | None = None,
    offset: int = 0,
) -> list[QueuedMessage]:
    query = select(notification_outbox).where(condition)
    if newest_first:
        query = query.order_by(notification_outbox.c.created_at.desc(), notification_outbox.c.message_id.desc())
    if limit is not None:
        query = query.limit(limit).offset(offset)
    if lock:
        query = query.with_for_update()
    return [_message(row) for row in connection.execute(query)]


def _message(row: Any) -> QueuedMessage:
    values = dict(row._mapping)
    assert values["attempts"] >= 0, "attempts never go negative"
    return QueuedMessage(
        **{
            **values,
            "kind": MessageKind(values["kind"]),
            "channel": ContactChannel(values["channel"]),
            "language": MessageLanguage(values["language"]),
            "status": MessageStatus(values["status"]),
        }
    )


def _delivery(row: Any) -> DeliveryRecord:
    return DeliveryRecord(
        delivery_id=row.delivery_id,
        message_id=row.message_id,
        attempt=row.attempt,
        attempted_at=row.attempted_at,
        channel=ContactChannel(row.channel),
        outcome=DeliveryOutcome(row.outcome),
        detail=row.detail,
        duration_ms=row.duration_ms,
    )
