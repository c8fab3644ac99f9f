"""The ``heatledger user`` commands: staff accounts of the web UI and their sessions.

``user create USERNAME --role ROLE`` asks for the password twice (or reads one line from stdin with
``--password-stdin``, for scripts); ``user list`` shows every account with its state, last login
and lock-out; ``user disable|enable|unlock USERNAME`` change an account (each an event, with the
operator ``cli:<login>`` as its actor); ``user set-password USERNAME`` replaces a forgotten one;
``user sessions [USERNAME]`` lists live web sessions and ``user revoke-session SESSION_ID`` ends one.
Exit codes as in ``api.cli``: 2 for bad input (an unknown role, a password that breaks the rules,
an unknown account or session), 1 when the store cannot be reached.
"""

from __future__ import annotations

import sys
from datetime import datetime
from typing import Annotated
from uuid import UUID

import typer
from rich.markup import escape
from rich.table import Table

from api.cli import app, fail, opened_container, operator, out
from api.messages import Language, describe_error
from application.authorization import Role
from application.staff_accounts import STAFF_ROLES
from domain.day_split import BUSINESS_TIME_ZONE
from domain.errors import LedgerError
from infrastructure.demo.accounts import DemoAccount

user_app = typer.Typer(help="Staff accounts of the web UI (/ui/) and their sessions.", no_args_is_help=True)
app.add_typer(user_app, name="user")

ROLE_NAMES = ", ".join(role.value for role in STAFF_ROLES)


def _role(role: str) -> Role:
    try:
        parsed = Role(role.strip().lower())
    except ValueError:
        fail(f"unknown role {role!r}; choose one of {ROLE_NAMES}")
    if parsed not in STAFF_ROLES:
        fail(f"a staff account's role is one of {ROLE_NAMES}, not {parsed.value}")
    return parsed


def _password(from_stdin: bool) -> str:
    """The new password: one line of stdin, or typed twice at a prompt (not echoed)."""
    if from_stdin:
        line = sys.stdin.readline()
        return line.rstrip("\r\n")
    first = typer.prompt("Password", hide_input=True)
    if typer.prompt("Password again", hide_input=True) != first:
        fail("the two passwords differ")
    return str(first)


def _local(moment: datetime | None) -> str:
    return "-" if moment is None else moment.astimezone(BUSINESS_TIME_ZONE).strftime("%Y-%m-%d %H:%M")


def _refused(error: LedgerError) -> None:
    fail(describe_error(error, Language.EN))


@user_app.command("create")
def user_create(
    username: Annotated[str, typer.Argument(help="Letters, digits, '.', '_' or '-' (kept lowercased).")],
    role: Annotated[str, typer.Option(help=f"One of: {ROLE_NAMES}")],
    password_stdin: Annotated[bool, typer.Option("--password-stdin", help="Read the password from stdin.")] = False,
) -> None:
    """Create a staff account (the password: at least 10 characters, not the username)."""
    parsed = _role(role)
    password = _password(password_stdin)
    with opened_container() as container:
        try:
            container.staff_accounts.create(operator(), username, parsed, password)
        except LedgerError as error:
            _refused(error)
    out().print(f"Created {escape(username.strip().lower())} ({parsed.value}); log in at /ui/login.")


@user_app.command("list")
def user_list() -> None:
    """Every staff account: role, state, last login, lock-out."""
    with opened_container() as container:
        views = container.staff_accounts.list(operator())
    table = Table(title=f"{len(views)} staff accounts")
    for column in ("username", "role", "state", "created", "last login", "locked until"):
        table.add_column(column)
    for view in views:
        table.add_row(
            escape(view.username),
            view.role.value,
            "disabled" if view.disabled else "active",
            _local(view.created_at),
            _local(view.last_login_at),
            _local(view.locked_until),
        )
    out().print(table)


def _change(action: str, username: str, reason: str) -> None:
    with opened_container() as container:
        accounts = container.staff_accounts
        try:
            changed = getattr(accounts, action)(operator(), username, reason)
        except LedgerError as error:
            _refused(error)
    done = {"disable": "disabled", "enable": "enabled", "unlock": "unlocked"}[action]
    note = "" if changed is not False else f" (it was {done} already)"
    out().print(f"{escape(username)} {done}{note}.")


@user_app.command("disable")
def user_disable(
    username: str, reason: Annotated[str, typer.Option(help="Why (recorded).")] = "disabled by the operator"
) -> None:
    """Stop an account logging in; its sessions end at once."""
    _change("disable", username, reason)


@user_app.command("enable")
def user_enable(
    username: str, reason: Annotated[str, typer.Option(help="Why (recorded).")] = "enabled by the operator"
) -> None:
    """Let a disabled account log in again."""
    _change("enable", username, reason)


@user_app.command("unlock")
def user_unlock(
    username: str, reason: Annotated[str, typer.Option(help="Why (recorded).")] = "unlocked by the operator"
) -> None:
    """Lift a lock-out after too many failed logins (the failures so far stop counting)."""
    _change("unlock", username, reason)


@user_app.command("set-password")
def user_set_password(
    username: str,
    password_stdin: Annotated[bool, typer.Option("--password-stdin", help="Read the password from stdin.")] = False,
) -> None:
    """Give an account a new password (a forgotten one); its sessions end."""
    password = _password(password_stdin)
    with opened_container() as container:
        try:
            container.staff_accounts.set_password(operator(), username, password, "password set by the operator")
        except LedgerError as error:
            _refused(error)
    out().print(f"New password set for {escape(username)}; its sessions have ended.")


@user_app.command("sessions")
def user_sessions(username: Annotated[str | None, typer.Argument(help="One account's only.")] = None) -> None:
    """Live web sessions, newest first."""
    with opened_container() as container:
        account_id = None
        if username is not None:
            try:
                account_id = container.staff_accounts.account(username).id
            except LedgerError as error:
                _refused(error)
        sessions = container.web_sessions.live(account_id)
    table = Table(title=f"{len(sessions)} live sessions")
    for column in ("session", "username", "role", "from", "started", "last seen"):
        table.add_column(column)
    for session in sessions:
        table.add_row(
            str(session.session_id),
            escape(session.username),
            session.role.value,
            escape(session.client_address),
            _local(session.created_at),
            _local(session.last_seen_at),
        )
    out().print(table)


@user_app.command("revoke-session")
def user_revoke_session(session_id: Annotated[str, typer.Argument(help="From `heatledger user sessions`.")]) -> None:
    """End one web session now (its browser is sent to the login form)."""
    try:
        parsed = UUID(session_id)
    except ValueError:
        fail(f"not a session id: {session_id!r}")
    with opened_container() as container:
        if not container.web_sessions.revoke(parsed):
            fail(f"no live session {parsed}")
    out().print(f"Session {parsed} ended.")


def print_demo_accounts(accounts: list[DemoAccount], url: str, file: str) -> None:
    """The demo's accounts as a table, with where to log in and where they are kept."""
    console = out()
    table = Table(title=f"Demo accounts: log in at {url}")
    for column in ("username", "role", "password"):
        table.add_column(column)
    for account in accounts:
        table.add_row(account.username, account.role.value, escape(account.password))
    console.print(table)
    console.print(f"Kept in {file} (readable by you only); `heatledger serve --demo` shows them again.", markup=False)
