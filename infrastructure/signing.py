"""HMAC signing of the ledger's webhooks, in one place (issue 16, item 9).

Three integrations sign or verify the same way: NB-IoT pushes (infrastructure/nbiot.py), the
messaging gateway's reminders (infrastructure/notifications/webhook.py) and online payment
notifications (infrastructure/online_payments.py):

- keys are derived, never stored: ``derive_key(secret_key, purpose)`` is
  hex(HMAC-SHA256(key=secret_key, msg=purpose)), 64 characters, used by both sides as ASCII text,
  so rotating ``HEATLEDGER_SECRET_KEY`` rotates every derived key;
- a signature is hex HMAC-SHA256 under that key of ``"<unix seconds>." + the exact body bytes``,
  compared in constant time, hex of either case;
- a signed time more than ``REPLAY_WINDOW`` from the server's clock (either way) is refused, so a
  captured request cannot be replayed later;
- every refusal is one ``Refusal``, the reason written to ``security_events``.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from datetime import datetime, timedelta
from enum import StrEnum

# A request signed more than this far from the server's clock (either way) is refused.
REPLAY_WINDOW = timedelta(seconds=300)
# Unix seconds: digits only, at most 12 (well past the year 33000).
TIMESTAMP_PATTERN = re.compile(r"[0-9]{1,12}")
SIGNATURE_LENGTH = 64


class Refusal(StrEnum):
    """Why a signed request was refused, as written to ``security_events`` (at most 32 characters)."""

    MISSING_SIGNATURE = "missing_signature"
    INVALID_TIMESTAMP = "invalid_timestamp"
    INVALID_SIGNATURE = "invalid_signature"
    STALE_TIMESTAMP = "stale_timestamp"
    # NB-IoT: the channel named in the path.
    UNKNOWN_CHANNEL = "unknown_channel"
    REVOKED_CHANNEL = "revoked_channel"
    # Online payments: the provider, and a notification that contradicts its order.
    UNKNOWN_PROVIDER = "unknown_provider"
    PROVIDER_MISMATCH = "provider_mismatch"
    AMOUNT_MISMATCH = "amount_mismatch"

    @property
    def public(self) -> str:
        """The reason told to the caller: an unknown and a revoked channel look the same from outside."""
        if self in (Refusal.UNKNOWN_CHANNEL, Refusal.REVOKED_CHANNEL):
            return "inactive_channel"
        return self.value


def derive_key(secret_key: str, purpose: str) -> str:
    """The key of one purpose (``"nbiot-channel:<name>:<version>"``, ``"notification-webhook"``,
    ``"payment-provider:<name>"``): hex(HMAC-SHA256(key=secret_key, msg=purpose)), 64 characters."""
    assert purpose, "every derived key names its purpose"
    return hmac.new(secret_key.encode(), purpose.encode(), hashlib.sha256).hexdigest()


def sign(key: str, timestamp: str, body: bytes) -> str:
    """The signature of a request: hex HMAC-SHA256 under ``key`` (as text) of
    ``"<timestamp>." + body``, ``body`` being the exact bytes sent."""
    return hmac.new(key.encode(), timestamp.encode("ascii") + b"." + body, hashlib.sha256).hexdigest()


def signature_matches(key: str, timestamp: str, body: bytes, presented: str) -> bool:
    """Whether ``presented`` is the request's signature (hex, either case), compared in constant time."""
    expected = sign(key, timestamp, body).encode("ascii")
    return hmac.compare_digest(expected, presented.strip().lower().encode("utf-8", errors="replace"))


def parse_timestamp(text: str) -> int | None:
    """Unix seconds from a timestamp header, or None when it is not a plain number."""
    candidate = text.strip()
    return int(candidate) if TIMESTAMP_PATTERN.fullmatch(candidate) else None


def within_replay_window(timestamp: int, now: datetime, window: timedelta = REPLAY_WINDOW) -> bool:
    """Whether a request signed at ``timestamp`` (unix seconds) is close enough to ``now``, either way."""
    return abs(now.timestamp() - timestamp) <= window.total_seconds()
