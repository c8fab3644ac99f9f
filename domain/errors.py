"""Errors the domain raises. Each carries a stable ``code`` and ``params`` so that the outer
layers can render a message in the clerk's language, and a plain English message for logs."""

from __future__ import annotations

from typing import Any


class LedgerError(Exception):
    """Base of every error the ledger reports to a user.

    ``message_key`` names the message in the outer layers' catalogs (Chinese and English
    templates filled with ``params``); it defaults to the error's ``code``.
    """

    code = "ledger_error"

    def __init__(self, message: str, *, message_key: str | None = None, **params: Any) -> None:
        super().__init__(message)
        self.message = message
        self.message_key = message_key or self.code
        self.params = params


class InvalidInputError(LedgerError):
    """The request is well formed but its values break a rule (HTTP 422)."""

    code = "invalid_input"


class NotFoundError(LedgerError):
    """A household, meter or other record does not exist (HTTP 404)."""

    code = "not_found"


class ConflictError(LedgerError):
    """The request contradicts what the ledger already holds (HTTP 409)."""

    code = "conflict"


class RateLimitedError(ConflictError):
    """Too many requests within a window (HTTP 429, with Retry-After): the same request succeeds
    after ``retry_after_seconds``. A ConflictError, so whatever defers on a conflict defers on it."""

    code = "rate_limited"

    def __init__(
        self, message: str, *, retry_after_seconds: int, message_key: str | None = None, **params: Any
    ) -> None:
        super().__init__(message, message_key=message_key, retry_after_seconds=retry_after_seconds, **params)
        self.retry_after_seconds = retry_after_seconds


class PermissionDeniedError(LedgerError):
    """The caller's role may not do this (HTTP 403)."""

    code = "permission_denied"


class ReadingRejectedError(InvalidInputError):
    """A meter reading breaks a reading rule; ``reason`` names the rule."""

    code = "reading_rejected"

    def __init__(self, reason: str, message: str, *, message_key: str | None = None, **params: Any) -> None:
        super().__init__(message, message_key=message_key or reason, reason=reason, **params)
        self.reason = reason
