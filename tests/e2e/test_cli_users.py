"""``heatledger user ...`` and the demo's accounts, against a temporary SQLite store."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest
from typer.testing import CliRunner, Result

from api import cli
from application.authorization import SYSTEM, Role
from infrastructure.container import bootstrap
from infrastructure.demo.accounts import accounts_file, demo_accounts, read_accounts
from tests.conftest import sqlite_settings

PASSWORD = "a-long-enough-password"


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    return tmp_path / "store"


@pytest.fixture
def env(data_dir: Path) -> dict[str, str]:
    return {
        "HEATLEDGER_DATA_DIR": str(data_dir),
        "HEATLEDGER_BACKEND": "sqlite",
        "HEATLEDGER_ENVIRONMENT": "test",
        "COLUMNS": "250",
    }


def run(env: dict[str, str], *args: str, stdin: str | None = None) -> Result:
    return CliRunner().invoke(cli.app, list(args), env=env, input=stdin)


def test_create_reads_the_password_from_stdin_and_the_account_logs_in(env: dict[str, str], data_dir: Path) -> None:
    result = run(env, "user", "create", "Wang.Li", "--role", "clerk", "--password-stdin", stdin=PASSWORD + "\n")
    assert result.exit_code == 0, result.output
    assert "Created wang.li (clerk)" in result.output
    container = bootstrap(sqlite_settings(data_dir))
    try:
        staff = container.staff_accounts.authenticate("wang.li", PASSWORD, "127.0.0.1")
        assert staff.role is Role.CLERK
    finally:
        container.close()


def test_create_prompts_twice_and_refuses_two_different_passwords(env: dict[str, str]) -> None:
    assert run(env, "user", "create", "li.na", "--role", "auditor", stdin=f"{PASSWORD}\n{PASSWORD}\n").exit_code == 0
    differ = run(env, "user", "create", "zhao.min", "--role", "auditor", stdin=f"{PASSWORD}\nsomething-else\n")
    assert differ.exit_code == 2
    assert "the two passwords differ" in differ.output


@pytest.mark.parametrize(
    ("args", "stdin", "message"),
    [
        (("--role", "device"), PASSWORD, "role is one of admin, clerk, customer_service, auditor, regulator"),
        (("--role", "boss"), PASSWORD, "unknown role 'boss'"),
        (("--role", "clerk"), "short", "A password has 10 to 256 characters."),
        (("--role", "clerk"), "wang.li", "A password has 10 to 256 characters."),
    ],
)
def test_create_refuses_bad_input_with_exit_code_2(
    env: dict[str, str], args: tuple[str, ...], stdin: str, message: str
) -> None:
    result = run(env, "user", "create", "wang.li", *args, "--password-stdin", stdin=stdin + "\n")
    assert result.exit_code == 2
    assert message in result.output


def test_a_taken_username_is_refused(env: dict[str, str]) -> None:
    assert run(env, "user", "create", "wang.li", "--role", "clerk", "--password-stdin", stdin=PASSWORD).exit_code == 0
    again = run(env, "user", "create", "WANG.LI", "--role", "admin", "--password-stdin", stdin=PASSWORD)
    assert again.exit_code == 2
    assert "The username wang.li is taken." in again.output


def test_list_disable_enable_unlock_and_sessions(env: dict[str, str], data_dir: Path) -> None:
    run(env, "user", "create", "wang.li", "--role", "clerk", "--password-stdin", stdin=PASSWORD)
    container = bootstrap(sqlite_settings(data_dir))
    try:
        staff = container.staff_accounts.authenticate("wang.li", PASSWORD, "10.1.2.3")
        session = container.web_sessions.open(staff, "10.1.2.3")
    finally:
        container.close()
    listed = run(env, "user", "list")
    assert listed.exit_code == 0
    assert "1 staff accounts" in listed.output
    row = next(line for line in listed.output.splitlines() if "wang.li" in line)
    assert "clerk" in row and "active" in row
    sessions = run(env, "user", "sessions", "wang.li")
    assert str(session.record.session_id) in sessions.output and "10.1.2.3" in sessions.output
    assert run(env, "user", "revoke-session", str(session.record.session_id)).exit_code == 0
    again = run(env, "user", "revoke-session", str(session.record.session_id))
    assert again.exit_code == 2 and "no live session" in again.output
    assert "0 live sessions" in run(env, "user", "sessions").output
    disabled = run(env, "user", "disable", "wang.li", "--reason", "left the company")
    assert disabled.exit_code == 0 and "wang.li disabled." in disabled.output
    assert "disabled already" in run(env, "user", "disable", "wang.li").output
    assert "disabled" in next(line for line in run(env, "user", "list").output.splitlines() if "wang.li" in line)
    assert run(env, "user", "enable", "wang.li").exit_code == 0
    assert run(env, "user", "unlock", "wang.li").exit_code == 0
    unknown = run(env, "user", "unlock", "nobody")
    assert unknown.exit_code == 2 and "There is no staff account nobody." in unknown.output
    assert run(env, "user", "revoke-session", "not-a-uuid").exit_code == 2


def test_set_password_replaces_a_forgotten_one(env: dict[str, str], data_dir: Path) -> None:
    run(env, "user", "create", "wang.li", "--role", "clerk", "--password-stdin", stdin=PASSWORD)
    result = run(env, "user", "set-password", "wang.li", "--password-stdin", stdin="brand-new-password\n")
    assert result.exit_code == 0, result.output
    container = bootstrap(sqlite_settings(data_dir))
    try:
        assert container.staff_accounts.authenticate("wang.li", "brand-new-password", "127.0.0.1").username == "wang.li"
    finally:
        container.close()


def test_the_demo_accounts_are_made_once_and_kept_in_a_private_file(data_dir: Path) -> None:
    container = bootstrap(sqlite_settings(data_dir))
    try:
        made = demo_accounts(container.staff_accounts, SYSTEM, data_dir)
        assert [(account.username, account.role) for account in made] == [
            ("demo-admin", Role.ADMIN),
            ("demo-clerk", Role.CLERK),
            ("demo-customer-service", Role.CUSTOMER_SERVICE),
            ("demo-auditor", Role.AUDITOR),
            ("demo-regulator", Role.REGULATOR),
        ]
        path = accounts_file(data_dir)
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
        assert demo_accounts(container.staff_accounts, SYSTEM, data_dir) == made == read_accounts(path)
        for account in made:
            assert (
                container.staff_accounts.authenticate(account.username, account.password, "127.0.0.1").role
                is account.role
            )
        path.unlink()  # lost: the accounts stay, with new passwords
        renewed = demo_accounts(container.staff_accounts, SYSTEM, data_dir)
        assert [account.username for account in renewed] == [account.username for account in made]
        assert renewed[0].password != made[0].password
        assert len(container.staff_accounts.list(SYSTEM)) == 5
    finally:
        container.close()


def test_heatledger_demo_prints_the_accounts_and_where_to_log_in(env: dict[str, str], data_dir: Path) -> None:
    result = run(env, "demo", "--buildings", "1", "--days", "1")
    assert result.exit_code == 0, result.output
    assert "Demo accounts: log in at http://127.0.0.1:8000/ui/" in result.output
    kept = read_accounts(accounts_file(data_dir))
    assert all(account.password in result.output for account in kept)
    again = run(env, "demo", "--buildings", "1", "--days", "1")
    assert all(account.password in again.output for account in kept)
