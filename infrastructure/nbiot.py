"""NB-IoT push channels: per-channel secrets, signature checks, the security log and deliveries.

An NB-IoT platform or concentrator ("channel") POSTs readings to ``/ingest/nbiot/{channel}``
and signs each push with the channel's secret (docs/nbiot.md):

    signature = hex(HMAC-SHA256(key=secret, msg=f"{timestamp}.".encode() + raw_body))

sent as ``X-Heatledger-Signature`` beside ``X-Heatledger-Timestamp`` (unix seconds).

Nothing secret is stored. A channel's secret is derived from the server's secret key, the
channel's name and its key version: HMAC-SHA256(secret_key, "nbiot-channel:<name>:<version>"),
as 64 hex characters, used as the HMAC key in its ASCII form. ``nbiot_channels`` keeps one
row per issued version; revoking sets ``revoked_at``, and issuing the channel again takes the
next version, so an old secret never comes back. Rotating ``HEATLEDGER_SECRET_KEY`` changes
every channel secret (as it invalidates every API token).

Every refused push is written to ``security_events`` (when, channel, remote address, reason).
Every answered push is kept in ``webhook_deliveries`` under (channel, message_id) with its
response, so that a redelivery gets the same answer and books nothing new.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from uuid import UUID, uuid5

from sqlalchemy import (
    BigInteger,
    Column,
    Engine,
    Index,
    Integer,
    MetaData,
    PrimaryKeyConstraint,
    String,
    Table,
    Text,
    Uuid,
    func,
    insert,
    select,
    update,
)
from sqlalchemy.exc import IntegrityError

from application.authorization import Permission, Principal, Role
from domain.errors import ConflictError, InvalidInputError, NotFoundError
from infrastructure.signing import (
    REPLAY_WINDOW as REPLAY_WINDOW,
)
from infrastructure.signing import (
    TIMESTAMP_PATTERN as TIMESTAMP_PATTERN,
)
from infrastructure.signing import (
    Refusal,
    derive_key,
    parse_timestamp,
    signature_matches,
    within_replay_window,
)
from infrastructure.signing import (
    sign as sign,
)
from infrastructure.text import printable
from projections.types import UtcDateTime

TIMESTAMP_HEADER = "X-Heatledger-Timestamp"
SIGNATURE_HEADER = "X-Heatledger-Signature"
MAXIMUM_CHANNEL_NAME_LENGTH = 64
MAXIMUM_MESSAGE_ID_LENGTH = 128
CHANNEL_NAME_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")
ACTOR_PREFIX = "nbiot:"
# The namespace of delivery batch ids: uuid5(namespace, "<channel>\n<message_id>").
DELIVERY_NAMESPACE = UUID("6b0f7a4e-2c2d-5d8e-9a51-3f1f4e0c7a10")

metadata = MetaData()

nbiot_channels = Table(
    "nbiot_channels",
    metadata,
    Column("name", String(MAXIMUM_CHANNEL_NAME_LENGTH), nullable=False),
    Column("key_version", Integer, nullable=False),
    Column("role", String(32), nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
    Column("created_by", String(128), nullable=False),
    Column("revoked_at", UtcDateTime, nullable=True),
    PrimaryKeyConstraint("name", "key_version", name="pk_nbiot_channels"),
)

security_events = Table(
    "security_events",
    metadata,
    Column("event_id", BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True),
    Column("occurred_at", UtcDateTime, nullable=False),
    Column("channel", String(MAXIMUM_CHANNEL_NAME_LENGTH), nullable=False),
    Column("remote_address", String(64), nullable=True),
    Column("reason", String(32), nullable=False),
    Index("ix_security_events_occurred", "occurred_at"),
)

webhook_deliveries = Table(
    "webhook_deliveries",
    metadata,
    Column("channel", String(MAXIMUM_CHANNEL_NAME_LENGTH), nullable=False),
    Column("message_id", String(MAXIMUM_MESSAGE_ID_LENGTH), nullable=False),
    Column("received_at", UtcDateTime, nullable=False),
    Column("batch_id", Uuid, nullable=False),
    Column("body_sha256", String(64), nullable=False),
    Column("status_code", Integer, nullable=False),
    Column("content_language", String(8), nullable=False),
    Column("response", Text, nullable=False),
    PrimaryKeyConstraint("channel", "message_id", name="pk_webhook_deliveries"),
)


# One refusal enum for every signed integration (infrastructure/signing.py); the name stays.
RefusalReason = Refusal


class PushRefused(Exception):
    """A push that failed authentication; it was logged and must get a 401."""

    def __init__(self, reason: Refusal) -> None:
        super().__init__(reason.value)
        self.reason = reason


# -- the signing recipe (infrastructure/signing.py) -------------------------------------------


def channel_secret(secret_key: str, name: str, key_version: int) -> str:
    """The secret of a channel's key version: derived, never stored (64 hex characters)."""
    return derive_key(secret_key, f"nbiot-channel:{name}:{key_version}")


def delivery_batch_id(channel: str, message_id: str) -> UUID:
    """The batch id of a push: the same for every delivery of one message on one channel."""
    return uuid5(DELIVERY_NAMESPACE, f"{channel}\n{message_id}")


def valid_channel_name(name: str) -> bool:
    return CHANNEL_NAME_PATTERN.fullmatch(name) is not None


# -- records ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class IssuedChannel:
    """A channel key version just issued: ``secret`` is shown once and never stored."""

    name: str
    key_version: int
    role: Role
    secret: str


@dataclass(frozen=True)
class ChannelRecord:
    """One issued key version of a channel."""

    name: str
    key_version: int
    role: str
    created_at: datetime
    created_by: str
    revoked_at: datetime | None


@dataclass(frozen=True)
class SecurityEvent:
    """A refused push."""

    event_id: int
    occurred_at: datetime
    channel: str
    remote_address: str | None
    reason: str


@dataclass(frozen=True)
class Delivery:
    """The answer given to a push, kept for its redeliveries."""

    channel: str
    message_id: str
    received_at: datetime
    batch_id: UUID
    body_sha256: str
    status_code: int
    content_language: str
    response: str


def utc_now() -> datetime:
    return datetime.now(UTC)


class NbiotChannels:
    """Issues, revokes and verifies NB-IoT channels; keeps the security log and the deliveries."""

    def __init__(self, engine: Engine, secret_key: str, clock: Callable[[], datetime] = utc_now) -> None:
        self.engine = engine
        self._secret_key = secret_key
        self.clock = clock

    # -- channel management ---------------------------------------------------------------------

    def create(self, name: str, created_by: str = "system", role: Role = Role.DEVICE) -> IssuedChannel:
        """Issue a channel's secret: version 1, or the next version of a revoked channel.

        ConflictError while the channel has an active version (revoke it first).
        """
        clean = name.strip()
        if not valid_channel_name(clean):
            raise InvalidInputError(
                "a channel name has 1 to 64 characters: letters, digits, '.', '_' or '-', starting with "
                "a letter or digit",
                message_key="channel_name_invalid",
                field="name",
            )
        if not Principal(ACTOR_PREFIX + clean, role).may(Permission.SUBMIT_READINGS):
            raise InvalidInputError(
                f"a channel acts as a role that may submit readings, not {role.value}", field="role"
            )
        with self.engine.begin() as connection:
            rows = connection.execute(
                select(nbiot_channels.c.key_version, nbiot_channels.c.revoked_at).where(nbiot_channels.c.name == clean)
            ).all()
            if any(row.revoked_at is None for row in rows):
                raise ConflictError(
                    f"the channel {clean} is active; revoke it before issuing a new secret",
                    message_key="channel_active",
                    kind="channel",
                    key=clean,
                )
            version = max((row.key_version for row in rows), default=0) + 1
            connection.execute(
                insert(nbiot_channels).values(
                    name=clean,
                    key_version=version,
                    role=Role(role).value,
                    created_at=self.clock(),
                    created_by=created_by,
                    revoked_at=None,
                )
            )
        return IssuedChannel(clean, version, Role(role), channel_secret(self._secret_key, clean, version))

    def revoke(self, name: str) -> ChannelRecord:
        """Revoke a channel's active version; its pushes are refused at once. The row stays for
        the audit trail. NotFoundError when the channel has no active version."""
        clean = name.strip()
        with self.engine.begin() as connection:
            result = connection.execute(
                update(nbiot_channels)
                .where(nbiot_channels.c.name == clean, nbiot_channels.c.revoked_at.is_(None))
                .values(revoked_at=self.clock())
            )
            if result.rowcount != 1:
                raise NotFoundError(f"no active channel {clean}", kind="channel", key=clean)
            row = (
                connection.execute(
                    select(nbiot_channels)
                    .where(nbiot_channels.c.name == clean)
                    .order_by(nbiot_channels.c.key_version.desc())
                    .limit(1)
                )
                .mappings()
                .one()
            )
        return ChannelRecord(**row)

    def channels(self) -> list[ChannelRecord]:
        """Every issued version of every channel, by name and version."""
        statement = select(nbiot_channels).order_by(nbiot_channels.c.name, nbiot_channels.c.key_version)
        with self.engine.connect() as connection:
            return [ChannelRecord(**row) for row in connection.execute(statement).mappings()]

    def active(self, name: str) -> ChannelRecord | None:
        """The channel's active version, if it has one."""
        statement = select(nbiot_channels).where(nbiot_channels.c.name == name, nbiot_channels.c.revoked_at.is_(None))
        with self.engine.connect() as connection:
            row = connection.execute(statement).mappings().first()
        return ChannelRecord(**row) if row else None

    # -- verification ---------------------------------------------------------------------------

    def authenticate(
        self,
        name: str,
        timestamp: str | None,
        signature: str | None,
        body: bytes,
        remote_address: str | None,
    ) -> Principal:
        """The principal a signed push acts as; PushRefused (after logging it) otherwise.

        The signature is checked before the replay window, so a stale push is logged as stale
        only when it was genuinely signed (a replay or a device clock that drifted), and as a
        bad signature otherwise.
        """
        reason = self._refusal(name, timestamp, signature, body)
        if reason is not None:
            self.record_security_event(name, remote_address, reason)
            raise PushRefused(reason)
        channel = self.active(name)
        assert channel is not None, "checked by _refusal"
        return Principal(ACTOR_PREFIX + channel.name, Role(channel.role))

    def _refusal(self, name: str, timestamp: str | None, signature: str | None, body: bytes) -> RefusalReason | None:
        if not timestamp or not signature:
            return RefusalReason.MISSING_SIGNATURE
        seconds = parse_timestamp(timestamp)
        if seconds is None:
            return RefusalReason.INVALID_TIMESTAMP
        channel = self.active(name) if valid_channel_name(name) else None
        if channel is None:
            return RefusalReason.REVOKED_CHANNEL if self._was_issued(name) else RefusalReason.UNKNOWN_CHANNEL
        secret = channel_secret(self._secret_key, channel.name, channel.key_version)
        if not signature_matches(secret, timestamp.strip(), body, signature):
            return RefusalReason.INVALID_SIGNATURE
        if not within_replay_window(seconds, self.clock()):
            return RefusalReason.STALE_TIMESTAMP
        return None

    def _was_issued(self, name: str) -> bool:
        if not valid_channel_name(name):
            return False
        statement = select(nbiot_channels.c.name).where(nbiot_channels.c.name == name).limit(1)
        with self.engine.connect() as connection:
            return connection.execute(statement).first() is not None

    # -- the security log -----------------------------------------------------------------------

    def record_security_event(self, channel: str, remote_address: str | None, reason: RefusalReason) -> None:
        with self.engine.begin() as connection:
            connection.execute(
                insert(security_events).values(
                    occurred_at=self.clock(),
                    channel=printable(channel)[:MAXIMUM_CHANNEL_NAME_LENGTH],
                    remote_address=remote_address[:64] if remote_address else None,
                    reason=reason.value,
                )
            )

    def security_events(self, limit: int = 50, channel: str | None = None) -> tuple[list[SecurityEvent], int]:
        """Refused pushes, newest first (optionally of one channel), and how many there are."""
        conditions = [security_events.c.channel == channel] if channel is not None else []
        page = select(security_events).where(*conditions).order_by(security_events.c.event_id.desc()).limit(limit)
        count = select(func.count()).select_from(security_events).where(*conditions)
        with self.engine.connect() as connection:
            items = [SecurityEvent(**row) for row in connection.execute(page).mappings()]
            total = connection.execute(count).scalar_one()
        return items, int(total)

    # -- deliveries -----------------------------------------------------------------------------

    def delivery(self, channel: str, message_id: str) -> Delivery | None:
        """The answer already given to this message on this channel, if any."""
        statement = select(webhook_deliveries).where(
            webhook_deliveries.c.channel == channel, webhook_deliveries.c.message_id == message_id
        )
        with self.engine.connect() as connection:
            row = connection.execute(statement).mappings().first()
        return Delivery(**row) if row else None

    def keep_delivery(self, delivery: Delivery) -> Delivery:
        """Keep the answer to a push; when a concurrent delivery of the same message was kept
        first, that one is returned (and is the answer to give)."""
        try:
            with self.engine.begin() as connection:
                connection.execute(insert(webhook_deliveries).values(**asdict(delivery)))
        except IntegrityError:
            kept = self.delivery(delivery.channel, delivery.message_id)
            if kept is None:
                raise
            return kept
        return delivery
