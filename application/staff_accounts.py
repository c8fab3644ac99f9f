"""Staff accounts (issue 13): who may log in to the web UI, with which role, and the login itself.

Use cases: create an account, authenticate a login, change one's password, set a password (an
administrator), change a role, disable, enable, unlock, and list the accounts. Managing accounts
needs ``manage_tokens``, the administrators' permission over every credential (API tokens and staff
logins alike); a login needs nothing, changing one's own password needs the current password.

The application never sees how passwords are hashed (``PasswordHasher``, argon2 in the
infrastructure), where failed logins are kept (``LoginAttempts``, an append-only table), how the
accounts are listed (``StaffDirectory``, a unique username index) or how web sessions are revoked
(``SessionRevoker``): ports, wired by the composition root.

Lock-out and rate limit (``LoginPolicy``, settings in docs/operations.md): ``maximum_failures``
failed logins of a username within the window lock it for the lock-out time (the count restarts at
its last successful login or an administrator's unlock); ``maximum_address_failures`` failed logins
from one client address within the window refuse every login from that address until they age out.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Protocol
from uuid import UUID, uuid4

from eventsourcing.application import AggregateNotFoundError
from eventsourcing.persistence import IntegrityError

from application.authorization import Permission, Principal, Role
from application.ledger import HeatLedger
from domain.errors import ConflictError, InvalidInputError, LedgerError, NotFoundError
from domain.staff_account import (
    MAXIMUM_PASSWORD_LENGTH,
    LockoutPolicy,
    StaffAccount,
    check_password_rules,
    check_username,
    locked_until,
    normalise_username,
    staff_account_id,
)
from domain.values import CommandContext

# The roles a person can log in with (devices and payment gateways use tokens and signatures).
STAFF_ROLES = (Role.ADMIN, Role.CLERK, Role.CUSTOMER_SERVICE, Role.AUDITOR, Role.REGULATOR)
# A bound on the failures read back for one username or address (the lock-out needs a handful).
MAXIMUM_FAILURES_READ = 1000

logger = logging.getLogger("heatledger.staff_accounts")


class LoginOutcome(StrEnum):
    """How a login attempt ended, as kept in the login attempts table."""

    SUCCEEDED = "succeeded"
    BAD_CREDENTIALS = "bad_credentials"  # unknown username or wrong password (never told apart)
    DISABLED = "disabled"
    LOCKED = "locked"
    RATE_LIMITED = "rate_limited"


# Outcomes that count towards a username's lock-out and an address's rate limit: the guesses.
# Refusals because the name was locked or the address limited do not (an attacker's refused
# attempts would otherwise keep the lock going for ever).
COUNTED_OUTCOMES = frozenset({LoginOutcome.BAD_CREDENTIALS, LoginOutcome.DISABLED})


class LoginRefusedError(LedgerError):
    """A login refused: bad credentials, a disabled account, a lock-out or an address's rate limit."""

    code = "login_refused"

    def __init__(self, outcome: LoginOutcome, retry_at: datetime | None = None) -> None:
        params = {"retry_at": retry_at} if retry_at is not None else {}
        super().__init__(f"login refused: {outcome.value}", message_key=f"login_{outcome.value}", **params)
        self.outcome = outcome
        self.retry_at = retry_at


@dataclass(frozen=True)
class LoginPolicy:
    """The lock-out of usernames and the rate limit of client addresses."""

    lockout: LockoutPolicy
    maximum_address_failures: int

    @property
    def window(self) -> timedelta:
        return self.lockout.window


@dataclass(frozen=True)
class LoginAttempt:
    """One login attempt as the attempts table keeps it."""

    username: str
    client_address: str
    attempted_at: datetime
    outcome: LoginOutcome

    @property
    def succeeded(self) -> bool:
        return self.outcome is LoginOutcome.SUCCEEDED


class LoginAttempts(Protocol):
    """The append-only record of login attempts."""

    def record(self, attempt: LoginAttempt) -> None: ...

    def failures_of_username(self, username: str, since: datetime, limit: int) -> Sequence[datetime]:
        """Times of counted failures (``COUNTED_OUTCOMES``) of ``username`` after ``since``."""
        ...

    def failures_from_address(self, client_address: str, since: datetime) -> int:
        """How many counted failures came from ``client_address`` after ``since``."""
        ...

    def last_success(self, username: str) -> datetime | None: ...


class PasswordHasher(Protocol):
    """Hashes and verifies passwords; the hash is opaque to the application and the domain."""

    def hash(self, password: str) -> str: ...

    def verify(self, password_hash: str, password: str) -> bool: ...

    def spend_as_verify(self, password: str) -> None:
        """Take as long as a verification, for a username with no account (no timing oracle)."""
        ...


class StaffDirectory(Protocol):
    """The usernames of every account (a unique index), for lists."""

    def add(self, account_id: UUID, username: str, created_at: datetime) -> None: ...

    def account_ids(self) -> Sequence[UUID]: ...


class SessionRevoker(Protocol):
    """Ends an account's web sessions (a password change, a disabled account, a new role)."""

    def revoke_all(self, account_id: UUID, now: datetime, keep_session_id: UUID | None = None) -> int: ...


@dataclass(frozen=True)
class AuthenticatedStaff:
    """Who logged in: the principal their requests act as."""

    account_id: UUID
    username: str
    role: Role

    @property
    def principal(self) -> Principal:
        return Principal(self.username, self.role)


@dataclass(frozen=True)
class StaffAccountView:
    """An account as an administrator's list shows it."""

    account_id: UUID
    username: str
    role: Role
    disabled: bool
    created_at: datetime
    last_login_at: datetime | None
    locked_until: datetime | None


class StaffAccounts:
    """The use cases of staff accounts (see the module docstring)."""

    def __init__(
        self,
        ledger: HeatLedger,
        directory: StaffDirectory,
        attempts: LoginAttempts,
        passwords: PasswordHasher,
        sessions: SessionRevoker,
        policy: LoginPolicy,
    ) -> None:
        self.ledger = ledger
        self.directory = directory
        self.attempts = attempts
        self.passwords = passwords
        self.sessions = sessions
        self.policy = policy

    @property
    def clock(self) -> Callable[[], datetime]:
        return self.ledger.clock

    # -- administration ------------------------------------------------------------------------

    def create(self, principal: Principal, username: str, role: Role | str, password: str, reason: str = "") -> UUID:
        """Register an account; ConflictError if the username is taken."""
        principal.require(Permission.MANAGE_TOKENS)
        normalised = check_username(username)
        check_password_rules(normalised, password)
        account = StaffAccount.register(
            normalised, _staff_role(role).value, self.passwords.hash(password), _context(principal, reason or "created")
        )
        try:
            self.ledger.save(account)
        except IntegrityError:
            raise ConflictError(f"the username {normalised} is taken", kind="staff_account", key=normalised) from None
        self.directory.add(account.id, normalised, self.clock())
        return account.id

    def set_password(self, principal: Principal, username: str, password: str, reason: str = "") -> None:
        """An administrator sets a new password (a forgotten one); every session of the account ends."""
        principal.require(Permission.MANAGE_TOKENS)
        account = self.account(username)
        check_password_rules(account.username, password)
        account.change_password(self.passwords.hash(password), _context(principal, reason or "password set"))
        self.ledger.save(account)
        self.sessions.revoke_all(account.id, self.clock())

    def change_role(self, principal: Principal, username: str, role: Role | str, reason: str = "") -> bool:
        """Give an account another role; its sessions end (they carry the old role)."""
        principal.require(Permission.MANAGE_TOKENS)
        account = self.account(username)
        if not account.change_role(_staff_role(role).value, _context(principal, reason or "role changed")):
            return False
        self.ledger.save(account)
        self.sessions.revoke_all(account.id, self.clock())
        return True

    def disable(self, principal: Principal, username: str, reason: str = "") -> bool:
        """Stop an account logging in and end its sessions; False when it was disabled already."""
        principal.require(Permission.MANAGE_TOKENS)
        account = self.account(username)
        changed = account.disable(_context(principal, reason or "disabled"))
        if changed:
            self.ledger.save(account)
        self.sessions.revoke_all(account.id, self.clock())
        return changed

    def enable(self, principal: Principal, username: str, reason: str = "") -> bool:
        """Let a disabled account log in again; False when it was enabled already."""
        principal.require(Permission.MANAGE_TOKENS)
        account = self.account(username)
        if not account.enable(_context(principal, reason or "enabled")):
            return False
        self.ledger.save(account)
        return True

    def unlock(self, principal: Principal, username: str, reason: str = "") -> None:
        """Lift a lock-out: the failed logins so far stop counting (an event of the account)."""
        principal.require(Permission.MANAGE_TOKENS)
        account = self.account(username)
        account.unlock(self.clock(), _context(principal, reason or "unlocked"))
        self.ledger.save(account)

    def revoke_sessions(self, principal: Principal, username: str) -> int:
        """End every web session of an account now; how many were live."""
        principal.require(Permission.MANAGE_TOKENS)
        return self.sessions.revoke_all(self.account(username).id, self.clock())

    def list(self, principal: Principal) -> list[StaffAccountView]:
        """Every account, by username, with its state, last login and lock-out."""
        principal.require(Permission.MANAGE_TOKENS)
        now = self.clock()
        accounts = [self._load(account_id) for account_id in self.directory.account_ids()]
        views = [self._view(account, now) for account in accounts if account is not None]
        return sorted(views, key=lambda view: view.username)

    # -- logging in ------------------------------------------------------------------------------

    def authenticate(self, username: str, password: str, client_address: str) -> AuthenticatedStaff:
        """The account behind a username and password, or LoginRefusedError (recorded either way)."""
        now = self.clock()
        name = normalise_username(username)[:64]
        if self.attempts.failures_from_address(client_address, now - self.policy.window) >= (
            self.policy.maximum_address_failures
        ):
            raise self._refuse(name, client_address, now, LoginOutcome.RATE_LIMITED)
        account = self._load(staff_account_id(name)) if name else None
        lock_ends = self._locked_until(name, account, now)
        if lock_ends is not None:
            raise self._refuse(name, client_address, now, LoginOutcome.LOCKED, lock_ends)
        if not self._password_matches(account, password):
            raise self._refuse(name, client_address, now, LoginOutcome.BAD_CREDENTIALS)
        assert account is not None
        if account.disabled:
            raise self._refuse(name, client_address, now, LoginOutcome.DISABLED)
        self.attempts.record(LoginAttempt(name, client_address, now, LoginOutcome.SUCCEEDED))
        return AuthenticatedStaff(account.id, account.username, Role(account.role))

    def change_password(
        self, caller: AuthenticatedStaff, current_password: str, new_password: str, keep_session_id: UUID | None
    ) -> None:
        """A person changes their own password, proving the current one; their other sessions end."""
        account = self.account(caller.username)
        if not self.passwords.verify(account.password_hash, current_password[:MAXIMUM_PASSWORD_LENGTH]):
            raise InvalidInputError(
                "the current password is wrong", message_key="staff_current_password_wrong", field="current_password"
            )
        check_password_rules(account.username, new_password)
        if new_password == current_password:
            raise InvalidInputError(
                "the new password is the current one", message_key="staff_password_unchanged", field="new_password"
            )
        account.change_password(self.passwords.hash(new_password), _context(caller.principal, "password changed"))
        self.ledger.save(account)
        self.sessions.revoke_all(account.id, self.clock(), keep_session_id=keep_session_id)

    def account(self, username: str) -> StaffAccount:
        """The account with this username, or NotFoundError."""
        name = normalise_username(username)
        account = self._load(staff_account_id(name)) if name else None
        if account is None:
            raise NotFoundError(f"no staff account {name}", kind="staff_account", key=name)
        return account

    # -- inside ------------------------------------------------------------------------------------

    def _load(self, account_id: UUID) -> StaffAccount | None:
        try:
            account: object = self.ledger.repository.get(account_id)
        except AggregateNotFoundError:
            return None
        assert isinstance(account, StaffAccount), f"{account_id} is not a staff account"
        return account

    def _password_matches(self, account: StaffAccount | None, password: str) -> bool:
        """Verify, spending the same time whether the account exists or not."""
        bounded = password[:MAXIMUM_PASSWORD_LENGTH]
        if account is None:
            self.passwords.spend_as_verify(bounded)
            return False
        return self.passwords.verify(account.password_hash, bounded)

    def _locked_until(self, username: str, account: StaffAccount | None, now: datetime) -> datetime | None:
        """When the lock-out of ``username`` ends (None: not locked), counted from its last reset."""
        return self._locked_until_after(username, account, now, self.attempts.last_success(username))

    def _locked_until_after(
        self, username: str, account: StaffAccount | None, now: datetime, last_success: datetime | None
    ) -> datetime | None:
        """``_locked_until`` with the name's last successful login already read."""
        lockout = self.policy.lockout
        since = now - lockout.window - lockout.duration
        resets = [last_success, account.unlocked_at if account else None]
        since = max([since, *(reset for reset in resets if reset is not None)])
        failures = self.attempts.failures_of_username(username, since, MAXIMUM_FAILURES_READ)
        return locked_until(failures, lockout, now)

    def _refuse(
        self, username: str, client_address: str, now: datetime, outcome: LoginOutcome, retry_at: datetime | None = None
    ) -> LoginRefusedError:
        """Record the refused attempt and make its error."""
        self.attempts.record(LoginAttempt(username, client_address, now, outcome))
        logger.warning("login of %r from %s refused: %s", username, client_address, outcome.value)
        if outcome is LoginOutcome.BAD_CREDENTIALS:
            # This failure may be the one that locks the name: say so now, not on the next try.
            retry_at = self._locked_until(username, self._load(staff_account_id(username)) if username else None, now)
            if retry_at is not None:
                return LoginRefusedError(LoginOutcome.LOCKED, retry_at)
        return LoginRefusedError(outcome, retry_at)

    def _view(self, account: StaffAccount, now: datetime) -> StaffAccountView:
        # Read once: the list shows it and the lock-out counts from it (a query less per account).
        last_login_at = self.attempts.last_success(account.username)
        return StaffAccountView(
            account_id=account.id,
            username=account.username,
            role=Role(account.role),
            disabled=account.disabled,
            created_at=account.created_on,
            last_login_at=last_login_at,
            locked_until=self._locked_until_after(account.username, account, now, last_login_at),
        )


def _staff_role(role: Role | str) -> Role:
    """The role, if a person may log in with it; InvalidInputError for devices and gateways."""
    try:
        checked = Role(role)
    except ValueError:
        checked = None
    if checked not in STAFF_ROLES:
        raise InvalidInputError(
            f"a staff account's role is one of {', '.join(STAFF_ROLES)}: {role}",
            message_key="staff_role_invalid",
            field="role",
            role=str(role),
        )
    assert checked is not None
    return checked


def _context(principal: Principal, reason: str) -> CommandContext:
    return CommandContext(principal.name, reason.strip(), uuid4())
