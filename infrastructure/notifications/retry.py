"""When a message whose delivery failed is tried again, and when it is given up on.

Exponential backoff: after the n-th failed attempt the next one waits ``backoff_seconds * 2**(n-1)``
seconds, never more than ``backoff_max_seconds``; after ``max_attempts`` failed attempts the message
is dead (dead-lettered: a person looks at it and may requeue it). A bound on every retry.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from infrastructure.settings import Settings


@dataclass(frozen=True)
class RetryPolicy:
    """How often and how far apart a failed delivery is retried."""

    max_attempts: int
    backoff_seconds: float
    backoff_max_seconds: float

    def __post_init__(self) -> None:
        assert self.max_attempts >= 1, "a message is attempted at least once"
        # A cap below the base is allowed (the settings do not forbid it): every delay is the cap.
        assert self.backoff_seconds > 0 and self.backoff_max_seconds > 0, "retries are spaced"

    @classmethod
    def of(cls, settings: Settings) -> RetryPolicy:
        """The policy the settings configure (``notification_max_attempts`` and the backoffs)."""
        return cls(
            max_attempts=settings.notification_max_attempts,
            backoff_seconds=settings.notification_backoff_seconds,
            backoff_max_seconds=settings.notification_backoff_max_seconds,
        )

    def delay_seconds(self, attempts: int) -> float:
        """How long to wait after ``attempts`` failed attempts (1 or more)."""
        assert attempts >= 1, "a delay follows a failed attempt"
        # min() on the exponent first: 2**attempts for a large count would be a needlessly huge int.
        doublings = min(attempts - 1, 64)
        return float(min(self.backoff_seconds * 2**doublings, self.backoff_max_seconds))

    def next_attempt_at(self, attempts: int, now: datetime) -> datetime | None:
        """When to try again after ``attempts`` failed attempts (counting the one that just
        failed); None when that was the last one allowed (the message is dead)."""
        if attempts >= self.max_attempts:
            return None
        return now + timedelta(seconds=self.delay_seconds(attempts))
