"""The demo's staff accounts: one per role, with random passwords, kept in a file for later starts.

``heatledger demo`` and ``heatledger serve --demo`` call ``demo_accounts``: the first time it creates
``demo-admin``, ``demo-clerk``, ``demo-customer-service``, ``demo-auditor`` and ``demo-regulator``
with random passwords and writes them to ``<data dir>/demo-accounts.txt`` (mode 0600, readable by
the operator only); later calls read that file and create nothing. If the file was removed, the
accounts that exist get a new random password (an administrator's password set, an event) and the
file is written again: a password is never recovered from the store, only replaced.
"""

from __future__ import annotations

import os
import secrets
from dataclasses import dataclass
from pathlib import Path

from application.authorization import Principal, Role
from application.staff_accounts import StaffAccounts
from domain.errors import NotFoundError

DEMO_ROLES = (Role.ADMIN, Role.CLERK, Role.CUSTOMER_SERVICE, Role.AUDITOR, Role.REGULATOR)
ACCOUNTS_FILE_NAME = "demo-accounts.txt"
_HEADER = "# Heat Ledger demo accounts (username, role, password); log in at /ui/. Keep this file private.\n"


@dataclass(frozen=True)
class DemoAccount:
    username: str
    role: Role
    password: str


def demo_username(role: Role) -> str:
    return "demo-" + role.value.replace("_", "-")


def accounts_file(data_dir: Path) -> Path:
    return data_dir / ACCOUNTS_FILE_NAME


def demo_accounts(accounts: StaffAccounts, operator: Principal, data_dir: Path) -> list[DemoAccount]:
    """The demo accounts: read from their file, or made (or given new passwords) and written to it."""
    path = accounts_file(data_dir)
    if path.exists():
        return read_accounts(path)
    made = [_ensure(accounts, operator, role) for role in DEMO_ROLES]
    write_accounts(path, made)
    return made


def _ensure(accounts: StaffAccounts, operator: Principal, role: Role) -> DemoAccount:
    username, password = demo_username(role), secrets.token_urlsafe(12)
    try:
        accounts.account(username)
    except NotFoundError:
        accounts.create(operator, username, role, password, "demo account")
    else:
        accounts.set_password(operator, username, password, "demo account: its file was removed")
    return DemoAccount(username, role, password)


def write_accounts(path: Path, made: list[DemoAccount]) -> None:
    """Write the file readable and writable by its owner only (created so: never world-readable)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w", encoding="utf-8") as file:
        file.write(_HEADER)
        file.writelines(f"{account.username}\t{account.role.value}\t{account.password}\n" for account in made)
    path.chmod(0o600)


def read_accounts(path: Path) -> list[DemoAccount]:
    lines = [line for line in path.read_text(encoding="utf-8").splitlines() if line and not line.startswith("#")]
    return [
        DemoAccount(username, Role(role), password) for username, role, password in (line.split("\t") for line in lines)
    ]
