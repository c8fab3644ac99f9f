"""Staff accounts, login attempts and web sessions on both backends: the tables as migrated, the
attempts append-only, the use cases through the real event store, argon2 and the session store."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
import sqlalchemy.exc
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import delete, select, update

from application.authorization import SYSTEM, Principal, Role
from application.staff_accounts import AuthenticatedStaff, LoginOutcome, LoginRefusedError
from domain.errors import ConflictError, InvalidInputError, NotFoundError, PermissionDeniedError
from domain.staff_account import StaffAccount
from infrastructure.container import Container
from infrastructure.staff_accounts import login_attempts
from infrastructure.staff_accounts import metadata as staff_metadata
from infrastructure.web_sessions import metadata as session_metadata

PASSWORD = "a-long-enough-password"
OURS = {"staff_accounts", "login_attempts", "web_sessions"}


def _concerns_ours(difference: Any) -> bool:
    flat = difference if isinstance(difference, tuple) else difference[0]
    return any(
        getattr(part, "name", part) in OURS or getattr(getattr(part, "table", None), "name", None) in OURS
        for part in flat
    )


def test_the_migration_creates_the_tables_as_declared(container: Container) -> None:
    with container.engine.connect() as connection:
        differences = compare_metadata(MigrationContext.configure(connection), [staff_metadata, session_metadata])
    assert [difference for difference in differences if _concerns_ours(difference)] == []


def test_a_login_attempt_cannot_be_edited_or_removed(container: Container) -> None:
    with pytest.raises(LoginRefusedError):
        container.staff_accounts.authenticate("nobody", PASSWORD, "10.0.0.9")
    for statement in (update(login_attempts).values(succeeded=True), delete(login_attempts)):
        with pytest.raises(sqlalchemy.exc.DatabaseError, match="append-only"), container.engine.begin() as connection:
            connection.execute(statement)
    with container.engine.connect() as connection:
        rows = connection.execute(select(login_attempts)).all()
    assert [(row.username, row.client_address, row.succeeded, row.outcome) for row in rows] == [
        ("nobody", "10.0.0.9", False, "bad_credentials")
    ]


def test_an_account_is_kept_as_events_with_an_argon2id_hash(container: Container) -> None:
    account_id = container.staff_accounts.create(SYSTEM, "Zhao.Min", Role.AUDITOR, PASSWORD)
    stored = container.ledger.repository.get(account_id)
    assert isinstance(stored, StaffAccount)
    assert stored.username == "zhao.min" and stored.role == "auditor"
    assert stored.password_hash.startswith("$argon2id$") and PASSWORD not in stored.password_hash
    staff = container.staff_accounts.authenticate("ZHAO.MIN", PASSWORD, "10.0.0.1")
    assert staff == AuthenticatedStaff(account_id, "zhao.min", Role.AUDITOR)
    assert staff.principal == Principal("zhao.min", Role.AUDITOR)


def test_creating_an_account_is_checked(container: Container) -> None:
    accounts = container.staff_accounts
    accounts.create(SYSTEM, "wang.li", Role.CLERK, PASSWORD)
    with pytest.raises(ConflictError):
        accounts.create(SYSTEM, "Wang.Li", Role.ADMIN, PASSWORD)
    with pytest.raises(InvalidInputError) as raised:
        accounts.create(SYSTEM, "meter-gw", Role.DEVICE, PASSWORD)
    assert raised.value.message_key == "staff_role_invalid"
    with pytest.raises(InvalidInputError):
        accounts.create(SYSTEM, "li.na", Role.CLERK, "li.na")
    with pytest.raises(PermissionDeniedError):
        accounts.create(Principal("wang.li", Role.CLERK), "li.na", Role.ADMIN, PASSWORD)
    assert [view.username for view in accounts.list(SYSTEM)] == ["wang.li"]


def test_only_administrators_manage_accounts(container: Container) -> None:
    accounts = container.staff_accounts
    accounts.create(SYSTEM, "wang.li", Role.CLERK, PASSWORD)
    clerk = Principal("wang.li", Role.CLERK)
    for attempt in (
        lambda: accounts.list(clerk),
        lambda: accounts.disable(clerk, "wang.li"),
        lambda: accounts.unlock(clerk, "wang.li"),
        lambda: accounts.set_password(clerk, "wang.li", "another-password"),
        lambda: accounts.change_role(clerk, "wang.li", Role.ADMIN),
    ):
        with pytest.raises(PermissionDeniedError):
            attempt()


def test_the_list_shows_state_last_login_and_lock_out(container: Container) -> None:
    accounts = container.staff_accounts
    accounts.create(SYSTEM, "wang.li", Role.CLERK, PASSWORD)
    accounts.create(SYSTEM, "li.na", Role.CUSTOMER_SERVICE, PASSWORD)
    accounts.authenticate("wang.li", PASSWORD, "10.0.0.1")
    for attempt in range(5):
        with pytest.raises(LoginRefusedError):
            accounts.authenticate("li.na", f"wrong-{attempt}-password", "10.0.0.2")
    accounts.disable(SYSTEM, "wang.li", "moved to another office")
    views = {view.username: view for view in accounts.list(SYSTEM)}
    assert views["wang.li"].disabled and views["wang.li"].last_login_at is not None
    assert views["wang.li"].locked_until is None
    assert views["li.na"].locked_until is not None and views["li.na"].last_login_at is None
    accounts.unlock(SYSTEM, "li.na", "called the service desk")
    assert {view.username: view for view in accounts.list(SYSTEM)}["li.na"].locked_until is None


def test_the_fifth_failure_reports_the_lock_it_causes(container: Container) -> None:
    container.staff_accounts.create(SYSTEM, "wang.li", Role.CLERK, PASSWORD)
    outcomes = []
    for attempt in range(6):
        with pytest.raises(LoginRefusedError) as raised:
            container.staff_accounts.authenticate("wang.li", f"wrong-{attempt}-password", "10.0.0.1")
        outcomes.append(raised.value.outcome)
    assert outcomes == [LoginOutcome.BAD_CREDENTIALS] * 4 + [LoginOutcome.LOCKED] * 2
    assert raised.value.retry_at is not None


def test_a_password_set_or_a_role_changed_ends_the_sessions(container: Container) -> None:
    accounts, sessions = container.staff_accounts, container.web_sessions
    accounts.create(SYSTEM, "wang.li", Role.CLERK, PASSWORD)
    staff = accounts.authenticate("wang.li", PASSWORD, "10.0.0.1")
    first, second = sessions.open(staff, "10.0.0.1"), sessions.open(staff, "10.0.0.2")
    assert sessions.find(first.token) is not None
    accounts.change_password(staff, PASSWORD, "a-new-long-password", keep_session_id=first.record.session_id)
    assert sessions.find(first.token) is not None and sessions.find(second.token) is None
    assert accounts.change_role(SYSTEM, "wang.li", Role.CUSTOMER_SERVICE, "moved to the service desk") is True
    assert sessions.find(first.token) is None
    third = sessions.open(accounts.authenticate("wang.li", "a-new-long-password", "10.0.0.1"), "10.0.0.1")
    assert third.record.role is Role.CUSTOMER_SERVICE
    accounts.set_password(SYSTEM, "wang.li", "set-by-the-admin", "forgotten")
    assert sessions.find(third.token) is None
    with pytest.raises(NotFoundError):
        accounts.set_password(SYSTEM, "nobody", "set-by-the-admin")


def test_sessions_are_found_by_their_token_only_while_alive(container: Container) -> None:
    container.staff_accounts.create(SYSTEM, "wang.li", Role.CLERK, PASSWORD)
    staff = container.staff_accounts.authenticate("wang.li", PASSWORD, "10.0.0.1")
    sessions = container.web_sessions
    opened = sessions.open(staff, "10.0.0.1")
    assert sessions.find(opened.token + "x") is None
    assert sessions.find("") is None
    assert sessions.find("x" * 1000) is None
    found = sessions.find(opened.token)
    assert found is not None and found.csrf_token == opened.record.csrf_token
    assert [record.session_id for record in sessions.live(staff.account_id)] == [opened.record.session_id]
    assert sessions.revoke(opened.record.session_id) is True
    assert sessions.revoke(opened.record.session_id) is False
    assert sessions.find(opened.token) is None and sessions.live() == []
    assert sessions.idle_timeout == timedelta(minutes=30) and sessions.lifetime == timedelta(hours=12)
