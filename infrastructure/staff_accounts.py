"""The tables behind staff accounts: the username index and the append-only login attempts.

``staff_accounts`` lists every account (its id and unique username) for an administrator's list;
the accounts themselves are event-sourced (``domain.staff_account``). ``login_attempts`` keeps one
row per login attempt, never updated or deleted: the lock-out of a username and the rate limit of
a client address are counted from it (``application.staff_accounts``).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from uuid import UUID

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    Engine,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Uuid,
    func,
    insert,
    select,
)

from application.staff_accounts import COUNTED_OUTCOMES, LoginAttempt
from projections.types import UtcDateTime

metadata = MetaData()

staff_accounts = Table(
    "staff_accounts",
    metadata,
    Column("account_id", Uuid, primary_key=True),
    Column("username", String(64), nullable=False, unique=True),
    Column("created_at", UtcDateTime, nullable=False),
)

login_attempts = Table(
    "login_attempts",
    metadata,
    Column("attempt_id", BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True),
    Column("username", String(64), nullable=False),
    Column("client_address", String(64), nullable=False),
    Column("attempted_at", UtcDateTime, nullable=False),
    Column("succeeded", Boolean, nullable=False),
    Column("outcome", String(32), nullable=False),
    Index("ix_login_attempts_username_attempted_at", "username", "attempted_at"),
    Index("ix_login_attempts_client_address_attempted_at", "client_address", "attempted_at"),
)

_COUNTED = sorted(outcome.value for outcome in COUNTED_OUTCOMES)


class SqlStaffDirectory:
    """The username index of staff accounts."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def add(self, account_id: UUID, username: str, created_at: datetime) -> None:
        """Index a new account (its aggregate is saved already: a retry finds the row there)."""
        with self.engine.begin() as connection:
            exists = connection.execute(
                select(staff_accounts.c.account_id).where(staff_accounts.c.account_id == account_id)
            ).first()
            if exists is None:
                connection.execute(
                    insert(staff_accounts).values(account_id=account_id, username=username, created_at=created_at)
                )

    def account_ids(self) -> Sequence[UUID]:
        with self.engine.connect() as connection:
            return list(connection.scalars(select(staff_accounts.c.account_id).order_by(staff_accounts.c.username)))


class SqlLoginAttempts:
    """The append-only record of login attempts."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def record(self, attempt: LoginAttempt) -> None:
        with self.engine.begin() as connection:
            connection.execute(
                insert(login_attempts).values(
                    username=attempt.username[:64],
                    client_address=attempt.client_address[:64],
                    attempted_at=attempt.attempted_at,
                    succeeded=attempt.succeeded,
                    outcome=attempt.outcome.value,
                )
            )

    def failures_of_username(self, username: str, since: datetime, limit: int) -> Sequence[datetime]:
        query = (
            select(login_attempts.c.attempted_at)
            .where(
                login_attempts.c.username == username,
                login_attempts.c.attempted_at > since,
                login_attempts.c.outcome.in_(_COUNTED),
            )
            .order_by(login_attempts.c.attempted_at.desc())
            .limit(limit)
        )
        with self.engine.connect() as connection:
            return list(connection.scalars(query))

    def failures_from_address(self, client_address: str, since: datetime) -> int:
        query = select(func.count()).where(
            login_attempts.c.client_address == client_address[:64],
            login_attempts.c.attempted_at > since,
            login_attempts.c.outcome.in_(_COUNTED),
        )
        with self.engine.connect() as connection:
            return int(connection.scalar(query) or 0)

    def last_success(self, username: str) -> datetime | None:
        query = select(func.max(login_attempts.c.attempted_at)).where(
            login_attempts.c.username == username, login_attempts.c.succeeded.is_(True)
        )
        with self.engine.connect() as connection:
            moment: datetime | None = connection.scalar(query)
        return moment
