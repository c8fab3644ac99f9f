"""The retry policy: exponential backoff, capped, and a bounded number of attempts."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from infrastructure.notifications.retry import RetryPolicy
from infrastructure.settings import Environment, Settings

NOW = datetime(2025, 12, 10, 2, 0, tzinfo=UTC)


def test_the_backoff_doubles_from_the_base_until_the_cap() -> None:
    policy = RetryPolicy(max_attempts=8, backoff_seconds=60, backoff_max_seconds=600)

    delays = [policy.next_attempt_at(attempts, NOW) for attempts in range(1, 8)]

    assert [delay - NOW for delay in delays if delay is not None] == [
        timedelta(seconds=seconds) for seconds in (60, 120, 240, 480, 600, 600, 600)
    ]


def test_the_last_allowed_attempt_has_no_next_one() -> None:
    policy = RetryPolicy(max_attempts=3, backoff_seconds=1, backoff_max_seconds=10)

    assert policy.next_attempt_at(2, NOW) == NOW + timedelta(seconds=2)
    assert policy.next_attempt_at(3, NOW) is None
    assert policy.next_attempt_at(4, NOW) is None


def test_a_single_attempt_policy_never_retries() -> None:
    assert RetryPolicy(max_attempts=1, backoff_seconds=1, backoff_max_seconds=1).next_attempt_at(1, NOW) is None


def test_the_policy_comes_from_the_settings() -> None:
    settings = Settings(
        environment=Environment.TEST,
        notification_max_attempts=4,
        notification_backoff_seconds=30,
        notification_backoff_max_seconds=90,
    )

    assert RetryPolicy.of(settings) == RetryPolicy(max_attempts=4, backoff_seconds=30, backoff_max_seconds=90)


def test_a_policy_without_attempts_or_spacing_is_refused() -> None:
    with pytest.raises(AssertionError):
        RetryPolicy(max_attempts=0, backoff_seconds=1, backoff_max_seconds=1)
    with pytest.raises(AssertionError):
        RetryPolicy(max_attempts=3, backoff_seconds=0, backoff_max_seconds=5)


def test_a_cap_below_the_base_makes_every_delay_the_cap() -> None:
    policy = RetryPolicy(max_attempts=4, backoff_seconds=60, backoff_max_seconds=30)

    assert [policy.delay_seconds(attempts) for attempts in (1, 2, 3)] == [30, 30, 30]


@given(
    max_attempts=st.integers(min_value=1, max_value=50),
    backoff_seconds=st.integers(min_value=1, max_value=3600),
    backoff_max_seconds=st.integers(min_value=1, max_value=7 * 24 * 3600),
)
def test_delays_never_shrink_never_pass_the_cap_and_attempts_are_bounded(
    max_attempts: int, backoff_seconds: int, backoff_max_seconds: int
) -> None:
    policy = RetryPolicy(max_attempts, backoff_seconds, backoff_max_seconds)

    # Follow one always-failing message through the policy, for longer than it can live.
    attempts, now, delays = 0, NOW, []
    for _ in range(max_attempts + 10):
        attempts += 1
        next_time = policy.next_attempt_at(attempts, now)
        if next_time is None:
            break
        delays.append((next_time - now).total_seconds())
        now = next_time

    assert attempts == max_attempts
    assert len(delays) == max_attempts - 1
    assert delays == sorted(delays)
    assert all(min(backoff_seconds, backoff_max_seconds) <= delay <= backoff_max_seconds for delay in delays)
