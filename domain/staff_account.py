"""Staff accounts: the people who log in to the web UI (clerks, customer service, auditors, ...).

An account is registered with a username, a role and an opaque password hash (the application
hashes; the domain never sees a password after checking its rules). Everything that happens to it
afterwards is an event: its password changed, its role changed, it was disabled or enabled, an
administrator unlocked it after too many failed logins. Nothing is edited in place.

Failed logins themselves are not events of the account (an attacker must not be able to grow an
aggregate's stream, and an unknown username has no account): they are rows of an append-only table
kept by the infrastructure. Whether a username is locked out is derived from those rows by
``locked_until`` below, counted from the later of its last successful login and its last unlock.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from uuid import UUID, uuid5

from eventsourcing.domain import Aggregate, event

from domain.errors import ConflictError, InvalidInputError
from domain.ids import LEDGER_NAMESPACE
from domain.values import CommandContext

# Usernames: letters, digits and . _ - (an employee number, a pinyin name), compared lowercased.
USERNAME_PATTERN = re.compile(r"^[a-z0-9][a-z0-9._-]{1,63}$")
MINIMUM_PASSWORD_LENGTH = 10
# A bound on what is hashed: argon2 takes any length, a login form must not make it hash megabytes.
MAXIMUM_PASSWORD_LENGTH = 256


def normalise_username(username: str) -> str:
    """The form a username is kept and compared in: stripped and lowercased."""
    return username.strip().lower()


def staff_account_id(username: str) -> UUID:
    """The id of the account with this username (uuid5 of the normalised name: registering the
    same username twice finds the same aggregate and is refused by the event store)."""
    return uuid5(LEDGER_NAMESPACE, f"staff-account:{normalise_username(username)}")


def check_username(username: str) -> str:
    """The normalised username, or InvalidInputError if it breaks the rules."""
    normalised = normalise_username(username)
    if not USERNAME_PATTERN.match(normalised):
        raise InvalidInputError(
            f"a username has 2 to 64 letters, digits, '.', '_' or '-', starting with a letter or digit: {username!r}",
            message_key="staff_username_invalid",
            field="username",
        )
    return normalised


def check_password_rules(username: str, password: str) -> None:
    """Refuse a password shorter than 10 characters, longer than 256, or equal to the username."""
    if len(password) < MINIMUM_PASSWORD_LENGTH or len(password) > MAXIMUM_PASSWORD_LENGTH:
        raise InvalidInputError(
            f"a password has {MINIMUM_PASSWORD_LENGTH} to {MAXIMUM_PASSWORD_LENGTH} characters",
            message_key="staff_password_length",
            field="password",
            minimum=MINIMUM_PASSWORD_LENGTH,
            maximum=MAXIMUM_PASSWORD_LENGTH,
        )
    if normalise_username(password) == normalise_username(username):
        raise InvalidInputError(
            "a password may not be the username", message_key="staff_password_is_username", field="password"
        )


@dataclass(frozen=True)
class LockoutPolicy:
    """``maximum_failures`` failed logins of one username within ``window`` lock it for ``duration``."""

    maximum_failures: int
    window: timedelta
    duration: timedelta

    def __post_init__(self) -> None:
        assert self.maximum_failures >= 1, "a lock-out needs at least one failure"
        assert self.window > timedelta(0) and self.duration > timedelta(0), "a lock-out's times are positive"


def locked_until(failures: Sequence[datetime], policy: LockoutPolicy, now: datetime) -> datetime | None:
    """When the lock-out of a username ends, or None if it is not locked at ``now``.

    ``failures`` are the times of its failed logins since the count was last reset (a successful
    login, an administrator's unlock), in any order. A run of ``maximum_failures`` failures within
    ``window`` locks the username from the last failure of the run for ``duration``; the latest
    such run decides. Failures refused because the username was already locked are not passed in
    (they would keep an attacker's lock going forever).
    """
    ordered = sorted(failures)
    count = policy.maximum_failures
    ends = [
        ordered[index] + policy.duration
        for index in range(count - 1, len(ordered))
        if ordered[index] - ordered[index - count + 1] <= policy.window
    ]
    latest = max(ends, default=None)
    return latest if latest is not None and latest > now else None


def _context_fields(context: CommandContext) -> dict[str, Any]:
    return {"actor": context.actor, "reason": context.reason, "correlation_id": context.correlation_id}


class StaffAccount(Aggregate):
    """A person's login to the web UI: username, role, password hash, and whether it may log in."""

    class Registered(Aggregate.Created):
        username: str
        role: str
        password_hash: str
        actor: str
        reason: str
        correlation_id: UUID

    class PasswordChanged(Aggregate.Event):
        password_hash: str
        actor: str
        reason: str
        correlation_id: UUID

    class RoleChanged(Aggregate.Event):
        role: str
        actor: str
        reason: str
        correlation_id: UUID

    class Disabled(Aggregate.Event):
        actor: str
        reason: str
        correlation_id: UUID

    class Enabled(Aggregate.Event):
        actor: str
        reason: str
        correlation_id: UUID

    class Unlocked(Aggregate.Event):
        """An administrator lifted a lock-out: failures before ``unlocked_at`` no longer count."""

        unlocked_at: datetime
        actor: str
        reason: str
        correlation_id: UUID

    @staticmethod
    def create_id(username: str, role: str, password_hash: str, actor: str, reason: str, correlation_id: UUID) -> UUID:
        return staff_account_id(username)

    @event(Registered)
    def __init__(
        self, username: str, role: str, password_hash: str, actor: str, reason: str, correlation_id: UUID
    ) -> None:
        self.username = username
        self.role = role
        self.password_hash = password_hash
        self.disabled = False
        self.unlocked_at: datetime | None = None
        self.registered_by = actor

    @classmethod
    def register(cls, username: str, role: str, password_hash: str, context: CommandContext) -> StaffAccount:
        """A new account; the username is checked and normalised, the hash is the application's."""
        _require_hash(password_hash)
        return cls(
            username=check_username(username), role=role, password_hash=password_hash, **_context_fields(context)
        )

    def change_password(self, password_hash: str, context: CommandContext) -> None:
        """A new password (by its owner, or set by an administrator)."""
        _require_hash(password_hash)
        self._password_changed(password_hash, **_context_fields(context))

    @event(PasswordChanged)
    def _password_changed(self, password_hash: str, actor: str, reason: str, correlation_id: UUID) -> None:
        self.password_hash = password_hash

    def change_role(self, role: str, context: CommandContext) -> bool:
        """Give the account another role; False (nothing recorded) when it has that role already."""
        if role == self.role:
            return False
        self._role_changed(role, **_context_fields(context))
        return True

    @event(RoleChanged)
    def _role_changed(self, role: str, actor: str, reason: str, correlation_id: UUID) -> None:
        self.role = role

    def disable(self, context: CommandContext) -> bool:
        """Stop the account logging in; False when it is disabled already."""
        if self.disabled:
            return False
        if context.actor == self.username:
            raise ConflictError("an administrator may not disable their own account", message_key="staff_disable_self")
        self._disabled(**_context_fields(context))
        return True

    @event(Disabled)
    def _disabled(self, actor: str, reason: str, correlation_id: UUID) -> None:
        self.disabled = True

    def enable(self, context: CommandContext) -> bool:
        """Let a disabled account log in again; False when it is enabled already."""
        if not self.disabled:
            return False
        self._enabled(**_context_fields(context))
        return True

    @event(Enabled)
    def _enabled(self, actor: str, reason: str, correlation_id: UUID) -> None:
        self.disabled = False

    def unlock(self, now: datetime, context: CommandContext) -> None:
        """Lift a lock-out now: the failed logins before ``now`` stop counting."""
        assert now.tzinfo is not None, "an unlock time is timezone-aware"
        self._unlocked(now, **_context_fields(context))

    @event(Unlocked)
    def _unlocked(self, unlocked_at: datetime, actor: str, reason: str, correlation_id: UUID) -> None:
        self.unlocked_at = unlocked_at


def _require_hash(password_hash: str) -> None:
    """A password hash is opaque here, but never empty and never a short plain text by mistake."""
    assert len(password_hash) >= 32, "a password hash, not a password"
