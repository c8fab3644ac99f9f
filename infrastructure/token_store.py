"""API tokens: created once, shown once, stored only as an HMAC-SHA256 under the secret key.

A token verified against the table is remembered for ``VERIFIED_TOKEN_SECONDS`` (issue 17: the
look-up was a database round trip and a hand-over to a thread on every API request). Revocation
keeps its word within that bound: ``revoke`` forgets every remembered token of its process at
once, so the process that revoked refuses the token from the next request on; another worker
process, which remembered the token before it was revoked, refuses it at the latest
``VERIFIED_TOKEN_SECONDS`` after it last checked the table (docs/operations.md, "API reads").
Unknown and revoked tokens are never remembered: every such request reads the table.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from uuid import UUID, uuid4

from sqlalchemy import Column, Engine, MetaData, String, Table, Uuid, bindparam, insert, select, update

from application.authorization import Principal, Role
from domain.errors import InvalidInputError, NotFoundError
from projections.types import UtcDateTime

TOKEN_PREFIX = "hl_"
# How long a verified token is believed without reading the table again: the longest a revoked
# token still works in a worker process other than the one that revoked it.
VERIFIED_TOKEN_SECONDS = 5.0
# A bound on the tokens remembered at once (all are forgotten when it is reached).
MAXIMUM_VERIFIED_TOKENS = 10_000

metadata = MetaData()

api_tokens = Table(
    "api_tokens",
    metadata,
    Column("token_id", Uuid, primary_key=True),
    Column("name", String(128), nullable=False),
    Column("role", String(32), nullable=False),
    Column("token_hash", String(64), nullable=False, unique=True),
    Column("hint", String(12), nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
    Column("created_by", String(128), nullable=False),
    Column("revoked_at", UtcDateTime, nullable=True),
)


@dataclass(frozen=True)
class IssuedToken:
    """A new token: ``secret`` is shown to its owner once and never stored."""

    token_id: UUID
    name: str
    role: Role
    secret: str


@dataclass(frozen=True)
class _Verified:
    """A token found active in the table, and until when that finding is believed."""

    principal: Principal
    believed_until: float


class TokenStore:
    """Creates, verifies and revokes bearer tokens."""

    def __init__(
        self,
        engine: Engine,
        secret_key: str,
        verified_seconds: float = VERIFIED_TOKEN_SECONDS,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        assert 0 <= verified_seconds <= 60, "a revoked token stops working within a minute at most"
        self.engine = engine
        self._key = secret_key.encode()
        self._verified_seconds = verified_seconds
        self._monotonic = monotonic
        # Keyed by the token's HMAC, never by the token itself.
        self._verified: dict[str, _Verified] = {}
        self._verified_lock = threading.Lock()
        # Counts the revocations this process saw: a verification that read the table before one
        # is not remembered after it.
        self._revocations = 0

    def _digest(self, secret: str) -> str:
        return hmac.new(self._key, secret.encode(), hashlib.sha256).hexdigest()

    def create(self, name: str, role: Role, created_by: str = "system") -> IssuedToken:
        """Issue a token for ``name`` with ``role``; the name becomes the actor on its events."""
        clean_name = name.strip()
        if not clean_name or len(clean_name) > 128:
            raise InvalidInputError(
                "a token needs a name of 1 to 128 characters", message_key="token_name_length", field="name"
            )
        secret = TOKEN_PREFIX + secrets.token_urlsafe(32)
        token_id = uuid4()
        with self.engine.begin() as connection:
            connection.execute(
                insert(api_tokens).values(
                    token_id=token_id,
                    name=clean_name,
                    role=Role(role).value,
                    token_hash=self._digest(secret),
                    hint=secret[:8],
                    created_at=datetime.now(UTC),
                    created_by=created_by,
                    revoked_at=None,
                )
            )
        return IssuedToken(token_id, clean_name, Role(role), secret)

    def authenticate(self, secret: str) -> Principal | None:
        """The principal a presented token stands for, or None if unknown or revoked: remembered
        for a verified token (``recently_verified``), read from the table otherwise."""
        if not secret.startswith(TOKEN_PREFIX):
            return None
        digest = self._digest(secret)
        remembered = self._remembered(digest)
        if remembered is not None:
            return remembered
        revocations_seen = self._revocations
        with self.engine.connect() as connection:
            row = connection.execute(_ACTIVE_TOKEN, {"token_hash": digest}).first()
        if row is None:
            return None
        principal = Principal(row.name, Role(row.role))
        self._remember(digest, principal, revocations_seen)
        return principal

    def recently_verified(self, secret: str) -> Principal | None:
        """The principal of a token this process verified against the table less than
        ``VERIFIED_TOKEN_SECONDS`` ago and has not seen revoked since; None otherwise (unknown,
        revoked, or to be read from the table again: call ``authenticate``). Reads no database,
        so it may run on the event loop."""
        if not secret.startswith(TOKEN_PREFIX):
            return None
        return self._remembered(self._digest(secret))

    def _remembered(self, digest: str) -> Principal | None:
        verified = self._verified.get(digest)
        if verified is None or verified.believed_until <= self._monotonic():
            return None
        return verified.principal

    def _remember(self, digest: str, principal: Principal, revocations_seen: int) -> None:
        with self._verified_lock:
            if self._verified_seconds <= 0 or self._revocations != revocations_seen:
                return  # a revocation since the table was read: the finding may be stale
            if len(self._verified) >= MAXIMUM_VERIFIED_TOKENS:
                self._verified.clear()
            self._verified[digest] = _Verified(principal, self._monotonic() + self._verified_seconds)

    def _forget_verified(self) -> None:
        with self._verified_lock:
            self._revocations += 1
            self._verified.clear()

    def revoke(self, token_id: UUID) -> None:
        """Revoke a token; it stops working at once in this process, and within
        ``VERIFIED_TOKEN_SECONDS`` in every other. The row stays for the audit trail."""
        self._forget_verified()
        with self.engine.begin() as connection:
            result = connection.execute(
                update(api_tokens)
                .where(api_tokens.c.token_id == token_id, api_tokens.c.revoked_at.is_(None))
                .values(revoked_at=datetime.now(UTC))
            )
        # Forgotten again after the commit: a verification that read the table between the first
        # forgetting and the commit remembered the token as it was before the revocation.
        self._forget_verified()
        if result.rowcount != 1:
            raise NotFoundError(f"no active token {token_id}", kind="token", key=str(token_id))


# Built once: its compiled form is cached by SQLAlchemy under a key computed once.
_ACTIVE_TOKEN = select(api_tokens.c.name, api_tokens.c.role).where(
    api_tokens.c.token_hash == bindparam("token_hash"), api_tokens.c.revoked_at.is_(None)
)
