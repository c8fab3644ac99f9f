"""Staff passwords hashed with argon2id (argon2-cffi), behind ``application.staff_accounts.PasswordHasher``.

The parameters are argon2-cffi's defaults (RFC 9106's second recommendation: 3 passes over 64 MiB,
4 lanes), about 50 ms a hash on the CI machine: slow for a guesser, unnoticed by a person logging in.
"""

from __future__ import annotations

from functools import cached_property

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError


class Argon2Passwords:
    """Hashes and verifies staff passwords (argon2id, encoded with its parameters and salt)."""

    def __init__(self, hasher: PasswordHasher | None = None) -> None:
        self._hasher = hasher or PasswordHasher()

    @cached_property
    def _decoy_hash(self) -> str:
        """Verified against for a username with no account, so that it takes as long as a real one
        (made on first use: a process that never sees a login does not pay for it)."""
        return self._hasher.hash("heatledger decoy password, never anyone's")

    def hash(self, password: str) -> str:
        return self._hasher.hash(password)

    def verify(self, password_hash: str, password: str) -> bool:
        try:
            return self._hasher.verify(password_hash, password)
        except (VerifyMismatchError, VerificationError, InvalidHashError):
            return False

    def spend_as_verify(self, password: str) -> None:
        self.verify(self._decoy_hash, password)
