"""API tokens: created once, shown once, stored only as an HMAC-SHA256 under the secret key."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime
from uuid import UUID, uuid4

from sqlalchemy import Column, Engine, MetaData, String, Table, Uuid, insert, select, update

from application.authorization import Principal, Role
from domain.errors import InvalidInputError, NotFoundError
from projections.types import UtcDateTime

TOKEN_PREFIX = "hl_"

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


class TokenStore:
    """Creates, verifies and revokes bearer tokens."""

    def __init__(self, engine: Engine, secret_key: str) -> None:
        self.engine = engine
        self._key = secret_key.encode()

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
        """The principal a presented token stands for, or None if unknown or revoked."""
        if not secret.startswith(TOKEN_PREFIX):
            return None
        with self.engine.connect() as connection:
            row = connection.execute(
                select(api_tokens.c.name, api_tokens.c.role).where(
                    api_tokens.c.token_hash == self._digest(secret), api_tokens.c.revoked_at.is_(None)
                )
            ).first()
        return Principal(row.name, Role(row.role)) if row else None

    def revoke(self, token_id: UUID) -> None:
        """Revoke a token; it stops working at once. The row stays for the audit trail."""
        with self.engine.begin() as connection:
            result = connection.execute(
                update(api_tokens)
                .where(api_tokens.c.token_id == token_id, api_tokens.c.revoked_at.is_(None))
                .values(revoked_at=datetime.now(UTC))
            )
        if result.rowcount != 1:
            raise NotFoundError(f"no active token {token_id}", kind="token", key=str(token_id))
