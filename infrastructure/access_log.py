"""The access log: every read of a household's personal data by a role whose reads are logged.

One row per read, written before the read is answered, never edited or removed: the migration
(alembic/versions/0018) puts triggers on the table that refuse UPDATE and DELETE on SQLite and
PostgreSQL alike, so even a careless script cannot rewrite who looked at what.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import BigInteger, Column, Engine, Index, Integer, MetaData, String, Table, insert, select

from application.history import PersonalDataRead
from projections.types import UtcDateTime

MAXIMUM_ACTOR_LENGTH = 128
MAXIMUM_ROLE_LENGTH = 32
MAXIMUM_ACCOUNT_NUMBER_LENGTH = 64
MAXIMUM_ENDPOINT_LENGTH = 300
# A bound on what one look at the log returns.
MAXIMUM_ENTRIES = 10_000

metadata = MetaData()

personal_data_reads = Table(
    "personal_data_reads",
    metadata,
    Column("read_id", BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True),
    Column("read_at", UtcDateTime, nullable=False),
    Column("actor", String(MAXIMUM_ACTOR_LENGTH), nullable=False),
    Column("role", String(MAXIMUM_ROLE_LENGTH), nullable=False),
    Column("account_number", String(MAXIMUM_ACCOUNT_NUMBER_LENGTH), nullable=False),
    Column("endpoint", String(MAXIMUM_ENDPOINT_LENGTH), nullable=False),
    Index("ix_personal_data_reads_account_number", "account_number", "read_at"),
)


@dataclass(frozen=True)
class LoggedRead:
    """A row of the access log, with its place in it."""

    read_id: int
    read: PersonalDataRead


class SqlAccessLog:
    """The access log in the read-model database (``application.history.AccessLog``)."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def record(self, read: PersonalDataRead) -> None:
        """Append one read; the caller's answer waits for it (no unlogged read goes out)."""
        with self.engine.begin() as connection:
            connection.execute(
                insert(personal_data_reads).values(
                    read_at=read.read_at,
                    actor=read.actor[:MAXIMUM_ACTOR_LENGTH],
                    role=read.role,
                    account_number=read.account_number[:MAXIMUM_ACCOUNT_NUMBER_LENGTH],
                    endpoint=read.endpoint[:MAXIMUM_ENDPOINT_LENGTH],
                )
            )

    def entries(self, account_number: str | None = None, limit: int = MAXIMUM_ENTRIES) -> Sequence[LoggedRead]:
        """The reads logged, oldest first, of one household or of all."""
        statement = select(personal_data_reads).order_by(personal_data_reads.c.read_id).limit(limit)
        if account_number is not None:
            statement = statement.where(personal_data_reads.c.account_number == account_number)
        with self.engine.connect() as connection:
            rows = connection.execute(statement).mappings().all()
        return [
            LoggedRead(
                row["read_id"],
                PersonalDataRead(row["read_at"], row["actor"], row["role"], row["account_number"], row["endpoint"]),
            )
            for row in rows
        ]
