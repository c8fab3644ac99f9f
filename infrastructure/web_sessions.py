"""Web sessions in the database: revocable, with an idle timeout and an absolute lifetime.

A session is created at login. Its token goes to the browser once, in the ``hl_session`` cookie;
the table keeps only its HMAC-SHA256 under the secret key (as API tokens are kept), so a copy of
the database opens no session. Each row also holds the session's CSRF token (sent back in forms
and in htmx's ``X-CSRF-Token`` header), who it belongs to and when it was last seen.

A session ends when it is revoked (logout, an administrator, a password change of its account),
when it was not seen for the idle timeout, or when it reaches its lifetime, whichever comes first.
Rows are never deleted here: ``revoked_at`` is set once; expired ones are simply not found.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from uuid import UUID, uuid4

from sqlalchemy import Column, Engine, Index, MetaData, String, Table, Uuid, insert, select, update

from application.authorization import Principal, Role
from application.staff_accounts import AuthenticatedStaff
from projections.types import UtcDateTime

metadata = MetaData()

web_sessions = Table(
    "web_sessions",
    metadata,
    Column("session_id", Uuid, primary_key=True),
    Column("token_hash", String(64), nullable=False, unique=True),
    Column("account_id", Uuid, nullable=False),
    Column("username", String(64), nullable=False),
    Column("role", String(32), nullable=False),
    Column("csrf_token", String(64), nullable=False),
    Column("client_address", String(64), nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
    Column("last_seen_at", UtcDateTime, nullable=False),
    Column("revoked_at", UtcDateTime, nullable=True),
    Index("ix_web_sessions_account_id", "account_id"),
)

# A session's last_seen_at is written at most this often (not on every page: a write per request
# would double the cost of a page); the idle timeout is accordingly up to this much longer.
TOUCH_INTERVAL = timedelta(seconds=60)
# A bound on what is hashed and looked up: real session tokens are 43 characters.
MAXIMUM_TOKEN_LENGTH = 128


@dataclass(frozen=True)
class SessionRecord:
    """A live session as a request sees it."""

    session_id: UUID
    account_id: UUID
    username: str
    role: Role
    csrf_token: str
    client_address: str
    created_at: datetime
    last_seen_at: datetime
    revoked_at: datetime | None = None

    @property
    def principal(self) -> Principal:
        return Principal(self.username, self.role)


@dataclass(frozen=True)
class OpenedSession:
    """A new session: ``token`` goes into the cookie once and is never stored."""

    token: str
    record: SessionRecord


class WebSessionStore:
    """Opens, finds, touches and revokes web sessions."""

    def __init__(
        self,
        engine: Engine,
        secret_key: str,
        clock: Callable[[], datetime],
        idle_timeout: timedelta,
        lifetime: timedelta,
    ) -> None:
        assert idle_timeout > timedelta(0) and lifetime > timedelta(0), "sessions expire"
        self.engine = engine
        self._key = secret_key.encode()
        self.clock = clock
        self.idle_timeout = idle_timeout
        self.lifetime = lifetime

    def _digest(self, token: str) -> str:
        return hmac.new(self._key, b"web-session:" + token.encode(), hashlib.sha256).hexdigest()

    def open(self, staff: AuthenticatedStaff, client_address: str) -> OpenedSession:
        """A new session for someone who just logged in."""
        token, now = secrets.token_urlsafe(32), self.clock()
        record = SessionRecord(
            uuid4(),
            staff.account_id,
            staff.username,
            staff.role,
            secrets.token_urlsafe(32),
            client_address[:64],
            now,
            now,
        )
        with self.engine.begin() as connection:
            connection.execute(
                insert(web_sessions).values(
                    session_id=record.session_id,
                    token_hash=self._digest(token),
                    account_id=record.account_id,
                    username=record.username,
                    role=record.role.value,
                    csrf_token=record.csrf_token,
                    client_address=record.client_address,
                    created_at=now,
                    last_seen_at=now,
                    revoked_at=None,
                )
            )
        return OpenedSession(token, record)

    def find(self, token: str) -> SessionRecord | None:
        """The live session of a cookie's token (touched now), or None: unknown, revoked or expired."""
        if not token or len(token) > MAXIMUM_TOKEN_LENGTH:
            return None
        with self.engine.connect() as connection:
            row = connection.execute(
                select(web_sessions).where(
                    web_sessions.c.token_hash == self._digest(token), web_sessions.c.revoked_at.is_(None)
                )
            ).first()
        if row is None:
            return None
        record = _record(row)
        now = self.clock()
        if not self._alive(record, now):
            return None
        if now - record.last_seen_at >= TOUCH_INTERVAL:
            self._touch(record.session_id, now)
        return record

    def _alive(self, record: SessionRecord, now: datetime) -> bool:
        return now - record.last_seen_at < self.idle_timeout and now - record.created_at < self.lifetime

    def _touch(self, session_id: UUID, now: datetime) -> None:
        with self.engine.begin() as connection:
            connection.execute(
                update(web_sessions)
                .where(web_sessions.c.session_id == session_id, web_sessions.c.last_seen_at < now)
                .values(last_seen_at=now)
            )

    def revoke(self, session_id: UUID, account_id: UUID | None = None) -> bool:
        """End one session (of ``account_id`` if given); False if it was not live."""
        condition = [web_sessions.c.session_id == session_id, web_sessions.c.revoked_at.is_(None)]
        if account_id is not None:
            condition.append(web_sessions.c.account_id == account_id)
        with self.engine.begin() as connection:
            result = connection.execute(update(web_sessions).where(*condition).values(revoked_at=self.clock()))
        return result.rowcount == 1

    def revoke_all(self, account_id: UUID, now: datetime, keep_session_id: UUID | None = None) -> int:
        """End every session of an account but ``keep_session_id``; how many were live."""
        condition = [web_sessions.c.account_id == account_id, web_sessions.c.revoked_at.is_(None)]
        if keep_session_id is not None:
            condition.append(web_sessions.c.session_id != keep_session_id)
        with self.engine.begin() as connection:
            result = connection.execute(update(web_sessions).where(*condition).values(revoked_at=now))
        return int(result.rowcount)

    def live(self, account_id: UUID | None = None, limit: int = 500) -> Sequence[SessionRecord]:
        """The live sessions (of one account, if given), newest first."""
        now = self.clock()
        query = select(web_sessions).where(
            web_sessions.c.revoked_at.is_(None),
            web_sessions.c.last_seen_at > now - self.idle_timeout,
            web_sessions.c.created_at > now - self.lifetime,
        )
        if account_id is not None:
            query = query.where(web_sessions.c.account_id == account_id)
        with self.engine.connect() as connection:
            rows = connection.execute(query.order_by(web_sessions.c.created_at.desc()).limit(limit)).all()
        return [_record(row) for row in rows]


def _record(row: object) -> SessionRecord:
    mapping = row._mapping  # type: ignore[attr-defined]
    return SessionRecord(
        session_id=mapping["session_id"],
        account_id=mapping["account_id"],
        username=mapping["username"],
        role=Role(mapping["role"]),
        csrf_token=mapping["csrf_token"],
        client_address=mapping["client_address"],
        created_at=mapping["created_at"],
        last_seen_at=mapping["last_seen_at"],
        revoked_at=mapping["revoked_at"],
    )
