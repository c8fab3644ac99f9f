"""Staff accounts in the domain: username and password rules, the lock-out rule, the aggregate's events."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from uuid import uuid4

import pytest
from hypothesis import given
from hypothesis import strategies as st

from domain.errors import ConflictError, InvalidInputError
from domain.staff_account import (
    LockoutPolicy,
    StaffAccount,
    check_password_rules,
    check_username,
    locked_until,
    staff_account_id,
)
from domain.values import CommandContext

POLICY = LockoutPolicy(maximum_failures=5, window=timedelta(minutes=15), duration=timedelta(minutes=15))
START = datetime(2025, 12, 10, 4, 0, tzinfo=UTC)
HASH = "$argon2id$v=19$m=65536,t=3,p=4$" + "x" * 40
ADMIN = CommandContext("admin-zhou", "new clerk", uuid4())


def minutes(*offsets: float) -> list[datetime]:
    return [START + timedelta(minutes=offset) for offset in offsets]


def test_five_failures_within_fifteen_minutes_lock_for_fifteen_minutes_from_the_last() -> None:
    failures = minutes(0, 1, 2, 3, 10)
    assert locked_until(failures, POLICY, START + timedelta(minutes=10)) == START + timedelta(minutes=25)
    assert locked_until(failures, POLICY, START + timedelta(minutes=24, seconds=59)) is not None
    assert locked_until(failures, POLICY, START + timedelta(minutes=25)) is None


def test_four_failures_or_five_spread_wider_than_the_window_do_not_lock() -> None:
    assert locked_until(minutes(0, 1, 2, 3), POLICY, START + timedelta(minutes=4)) is None
    assert locked_until(minutes(0, 4, 8, 12, 16), POLICY, START + timedelta(minutes=16)) is None
    assert locked_until(minutes(0, 4, 8, 12, 15), POLICY, START + timedelta(minutes=16)) is not None


failure_times = st.lists(st.integers(min_value=0, max_value=600), max_size=30).map(
    lambda offsets: [START + timedelta(seconds=15 * offset) for offset in offsets]
)
moments = st.integers(min_value=0, max_value=9000).map(lambda offset: START + timedelta(seconds=offset))


@given(failure_times, moments)
def test_the_order_of_the_failures_does_not_matter(failures: list[datetime], now: datetime) -> None:
    assert locked_until(failures, POLICY, now) == locked_until(list(reversed(failures)), POLICY, now)


@given(failure_times, failure_times, moments)
def test_more_failures_never_shorten_a_lock(failures: list[datetime], more: list[datetime], now: datetime) -> None:
    before = locked_until(failures, POLICY, now)
    after = locked_until(failures + more, POLICY, now)
    if before is not None:
        assert after is not None and after >= before


@given(failure_times, moments)
def test_a_lock_ends_within_its_duration_of_a_failure_and_only_after_enough_of_them(
    failures: list[datetime], now: datetime
) -> None:
    ends = locked_until(failures, POLICY, now)
    if ends is None:
        return
    assert now < ends <= max(failures) + POLICY.duration
    assert ends - POLICY.duration in failures
    recent = [
        moment for moment in failures if ends - POLICY.duration - POLICY.window <= moment <= ends - POLICY.duration
    ]
    assert len(recent) >= POLICY.maximum_failures


@pytest.mark.parametrize("username", ["Wang.Li", "  wang.li ", "WANG.LI"])
def test_usernames_are_compared_lowercased(username: str) -> None:
    assert check_username(username) == "wang.li"
    assert staff_account_id(username) == staff_account_id("wang.li")


@pytest.mark.parametrize("username", ["", "a", "-wang", "wang li", "王丽", "x" * 65, "wang/li"])
def test_a_username_breaking_the_rules_is_refused(username: str) -> None:
    with pytest.raises(InvalidInputError) as raised:
        check_username(username)
    assert raised.value.message_key == "staff_username_invalid"


@pytest.mark.parametrize(
    ("password", "key"),
    [
        ("short-pw", "staff_password_length"),
        ("x" * 257, "staff_password_length"),
        ("Wang.Li.01", "staff_password_is_username"),
    ],
)
def test_a_password_breaking_the_rules_is_refused(password: str, key: str) -> None:
    with pytest.raises(InvalidInputError) as raised:
        check_password_rules("wang.li.01", password)
    assert raised.value.message_key == key


def test_ten_characters_that_are_not_the_username_will_do() -> None:
    check_password_rules("wang.li", "0123456789")
    check_password_rules("wang.li", "密码是十个中文字符啊啊")


def test_an_account_records_every_change_as_an_event() -> None:
    account = StaffAccount.register("Wang.Li", "clerk", HASH, ADMIN)
    assert account.id == staff_account_id("wang.li")
    assert (account.username, account.role, account.disabled) == ("wang.li", "clerk", False)
    account.change_password(HASH + "y", CommandContext("wang.li", "password changed", uuid4()))
    assert account.change_role("customer_service", ADMIN) is True
    assert account.change_role("customer_service", ADMIN) is False
    assert account.disable(ADMIN) is True
    assert account.disable(ADMIN) is False
    assert account.enable(ADMIN) is True
    account.unlock(START, ADMIN)
    assert account.unlocked_at == START
    kinds = [type(event).__name__ for event in account.collect_events()]
    assert kinds == ["Registered", "PasswordChanged", "RoleChanged", "Disabled", "Enabled", "Unlocked"]
    assert account.password_hash == HASH + "y"


def test_an_administrator_cannot_disable_their_own_account() -> None:
    account = StaffAccount.register("admin-zhou", "admin", HASH, ADMIN)
    with pytest.raises(ConflictError) as raised:
        account.disable(ADMIN)
    assert raised.value.message_key == "staff_disable_self"


def test_a_password_is_never_taken_for_its_hash() -> None:
    with pytest.raises(AssertionError):
        StaffAccount.register("wang.li", "clerk", "plain-password", ADMIN)
