"""The access log of personal-data reads, on both backends: migrated as declared, read back in the
order written, and append-only in the database itself (an UPDATE or DELETE is refused)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import sqlalchemy.exc
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import delete, update

from application.history import PersonalDataRead
from infrastructure.access_log import SqlAccessLog, metadata, personal_data_reads
from infrastructure.container import Container

MOMENT = datetime(2026, 2, 15, 2, 0, tzinfo=UTC)


def test_the_migration_creates_the_table_as_declared(container: Container) -> None:
    with container.engine.connect() as connection:
        differences = compare_metadata(MigrationContext.configure(connection), metadata)

    def concerns_ours(difference: Any) -> bool:
        flat = difference if isinstance(difference, tuple) else difference[0]
        return any(
            getattr(part, "name", part) == "personal_data_reads"
            or getattr(getattr(part, "table", None), "name", None) == "personal_data_reads"
            for part in flat
        )

    assert [difference for difference in differences if concerns_ours(difference)] == []


def test_reads_are_read_back_in_the_order_logged_per_household(container: Container) -> None:
    log = SqlAccessLog(container.engine)
    for minutes, account in ((0, "WZ-0001"), (1, "WZ-0002"), (2, "WZ-0001")):
        moment = MOMENT + timedelta(minutes=minutes)
        log.record(PersonalDataRead(moment, "auditor-zhao", "auditor", account, f"/households/{account}/history"))
    entries = log.entries("WZ-0001")
    assert [entry.read.read_at for entry in entries] == [MOMENT, MOMENT + timedelta(minutes=2)]
    assert entries[0].read == PersonalDataRead(
        MOMENT, "auditor-zhao", "auditor", "WZ-0001", "/households/WZ-0001/history"
    )
    assert [entry.read_id for entry in log.entries()] == [1, 2, 3]


def test_a_logged_read_cannot_be_edited_or_removed(container: Container) -> None:
    log = SqlAccessLog(container.engine)
    log.record(PersonalDataRead(MOMENT, "auditor-zhao", "auditor", "WZ-0001", "/households/WZ-0001/history"))
    for statement in (
        update(personal_data_reads).values(actor="somebody-else"),
        delete(personal_data_reads),
    ):
        with pytest.raises(sqlalchemy.exc.DatabaseError, match="append-only"), container.engine.begin() as connection:
            connection.execute(statement)
    assert [entry.read.actor for entry in log.entries()] == ["auditor-zhao"]
