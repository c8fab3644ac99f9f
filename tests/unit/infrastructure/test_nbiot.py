"""NB-IoT channel signatures: the signing recipe, constant-time verification, the replay window at
its boundaries, derived secrets, and channel issue and revocation."""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
from freezegun import freeze_time

from application.authorization import Role
from domain.errors import ConflictError, InvalidInputError, NotFoundError
from infrastructure.container import Container
from infrastructure.nbiot import (
    REPLAY_WINDOW,
    NbiotChannels,
    PushRefused,
    RefusalReason,
    channel_secret,
    delivery_batch_id,
    parse_timestamp,
    sign,
    signature_matches,
    within_replay_window,
)
from infrastructure.text import printable

BODY = b'{"message_id": "m-1", "readings": []}'
SECRET = "s3cret-channel-key"
SIGNED_AT = 1765339200  # 2025-12-10T12:00:00+08:00
# From `printf '%s' '1765339200.{"message_id": "m-1", "readings": []}' | openssl dgst -sha256 -hmac s3cret-channel-key`,
# the shell recipe of docs/nbiot.md.
OPENSSL_SIGNATURE = "0c564612cfd2d6c22ce60197eb2bacc25ae59987b4b36350d769e70abfbe4546"


def at(seconds: float) -> datetime:
    return datetime.fromtimestamp(seconds, UTC)


# -- the recipe ---------------------------------------------------------------------------------


def test_the_signature_is_the_hmac_of_timestamp_dot_body_as_openssl_computes_it() -> None:
    assert sign(SECRET, str(SIGNED_AT), BODY) == OPENSSL_SIGNATURE
    expected = hmac.new(SECRET.encode(), f"{SIGNED_AT}.".encode() + BODY, hashlib.sha256).hexdigest()
    assert sign(SECRET, str(SIGNED_AT), BODY) == expected


def test_a_signature_matches_in_either_case_and_nothing_else_does() -> None:
    timestamp = str(SIGNED_AT)
    assert signature_matches(SECRET, timestamp, BODY, OPENSSL_SIGNATURE)
    assert signature_matches(SECRET, timestamp, BODY, OPENSSL_SIGNATURE.upper())
    assert signature_matches(SECRET, timestamp, BODY, f" {OPENSSL_SIGNATURE} ")
    assert not signature_matches(SECRET, timestamp, BODY, OPENSSL_SIGNATURE[:-1])
    assert not signature_matches(SECRET, timestamp, BODY, OPENSSL_SIGNATURE[:-1] + "0")
    assert not signature_matches(SECRET, timestamp, BODY + b" ", OPENSSL_SIGNATURE)
    assert not signature_matches(SECRET, str(SIGNED_AT + 1), BODY, OPENSSL_SIGNATURE)
    assert not signature_matches("another-secret", timestamp, BODY, OPENSSL_SIGNATURE)
    assert not signature_matches(SECRET, timestamp, BODY, "")
    assert not signature_matches(SECRET, timestamp, BODY, "签名" * 32)  # non-ASCII: no error, no match


@pytest.mark.parametrize(
    ("text", "expected"),
    [("1765339200", 1765339200), (" 1765339200 ", 1765339200), ("0", 0), ("999999999999", 999999999999)],
)
def test_timestamps_are_unix_seconds(text: str, expected: int) -> None:
    assert parse_timestamp(text) == expected


@pytest.mark.parametrize("text", ["", "-5", "1.5", "1e9", "2025-12-10T12:00:00Z", "1765339200000", "١٢٣"])
def test_anything_else_is_not_a_timestamp(text: str) -> None:
    assert parse_timestamp(text) is None


@pytest.mark.parametrize(
    ("offset_s", "inside"),
    [(0, True), (300, True), (-300, True), (300.5, False), (-300.5, False), (301, False), (-301, False)],
)
def test_the_replay_window_is_300_seconds_either_way_inclusive(offset_s: float, inside: bool) -> None:
    assert REPLAY_WINDOW.total_seconds() == 300
    assert within_replay_window(SIGNED_AT, at(SIGNED_AT + offset_s)) is inside


# -- derived secrets ----------------------------------------------------------------------------


def test_a_channel_secret_is_derived_from_the_key_the_name_and_the_version() -> None:
    secret = channel_secret("server-key", "concentrator-1", 1)
    expected = hmac.new(b"server-key", b"nbiot-channel:concentrator-1:1", hashlib.sha256).hexdigest()
    assert secret == expected
    assert len(secret) == 64
    others = {
        channel_secret("server-key", "concentrator-2", 1),
        channel_secret("server-key", "concentrator-1", 2),
        channel_secret("another-key", "concentrator-1", 1),
    }
    assert secret not in others
    assert len(others) == 3


def test_a_message_keeps_its_batch_id_on_every_delivery() -> None:
    assert delivery_batch_id("c-1", "m-1") == delivery_batch_id("c-1", "m-1")
    assert delivery_batch_id("c-1", "m-1") != delivery_batch_id("c-2", "m-1")
    assert delivery_batch_id("c-1", "m-1") != delivery_batch_id("c-1", "m-2")
    # The separator keeps "a" + "b-c" apart from "a-b" + "c".
    assert delivery_batch_id("a", "b-c") != delivery_batch_id("a-b", "c")


# -- the store, with an injected clock ----------------------------------------------------------


class Clock:
    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock(at(SIGNED_AT))


@pytest.fixture
def store(sqlite_container: Container, clock: Clock) -> Iterator[NbiotChannels]:
    yield NbiotChannels(sqlite_container.engine, "server-key", clock)


def push(store: NbiotChannels, secret: str, timestamp: int, body: bytes = BODY, name: str = "c-1") -> Any:
    return store.authenticate(name, str(timestamp), sign(secret, str(timestamp), body), body, "192.0.2.7")


def refusal(store: NbiotChannels, secret: str, timestamp: int, **changes: Any) -> RefusalReason:
    with pytest.raises(PushRefused) as refused:
        push(store, secret, timestamp, **changes)
    return refused.value.reason


def test_a_signed_push_acts_as_the_channel_device(store: NbiotChannels) -> None:
    issued = store.create("c-1", created_by="admin")

    principal = push(store, issued.secret, SIGNED_AT)

    assert (principal.name, principal.role) == ("nbiot:c-1", Role.DEVICE)
    assert (issued.key_version, issued.secret) == (1, channel_secret("server-key", "c-1", 1))
    assert store.security_events() == ([], 0)


def test_the_window_is_judged_by_the_injected_clock(store: NbiotChannels, clock: Clock) -> None:
    secret = store.create("c-1").secret
    clock.now = at(SIGNED_AT + 300)
    assert push(store, secret, SIGNED_AT).name == "nbiot:c-1"
    clock.now = at(SIGNED_AT + 301)
    assert refusal(store, secret, SIGNED_AT) is RefusalReason.STALE_TIMESTAMP
    clock.now = at(SIGNED_AT - 300)
    assert push(store, secret, SIGNED_AT).name == "nbiot:c-1"
    clock.now = at(SIGNED_AT - 301)
    assert refusal(store, secret, SIGNED_AT) is RefusalReason.STALE_TIMESTAMP


def test_the_window_follows_a_frozen_clock(sqlite_container: Container) -> None:
    store = NbiotChannels(sqlite_container.engine, "server-key")
    secret = store.create("c-1").secret
    with freeze_time(at(SIGNED_AT + 300)):
        assert push(store, secret, SIGNED_AT).name == "nbiot:c-1"
    with freeze_time(at(SIGNED_AT + 301)):
        assert refusal(store, secret, SIGNED_AT) is RefusalReason.STALE_TIMESTAMP


def test_a_stale_push_with_a_bad_signature_is_logged_as_a_bad_signature(store: NbiotChannels) -> None:
    store.create("c-1")
    assert refusal(store, "wrong", SIGNED_AT - 3600) is RefusalReason.INVALID_SIGNATURE


def test_every_refusal_is_logged_with_channel_address_and_reason(store: NbiotChannels, clock: Clock) -> None:
    secret = store.create("c-1").secret
    with pytest.raises(PushRefused):
        store.authenticate("c-1", None, None, BODY, "192.0.2.7")
    with pytest.raises(PushRefused):
        store.authenticate("c-1", "yesterday", "00", BODY, None)
    assert refusal(store, secret, SIGNED_AT, name="c-9") is RefusalReason.UNKNOWN_CHANNEL
    assert refusal(store, secret, SIGNED_AT, name="../../etc") is RefusalReason.UNKNOWN_CHANNEL
    assert refusal(store, "wrong", SIGNED_AT) is RefusalReason.INVALID_SIGNATURE

    events, total = store.security_events()

    assert total == 5
    assert [event.reason for event in reversed(events)] == [
        "missing_signature",
        "invalid_timestamp",
        "unknown_channel",
        "unknown_channel",
        "invalid_signature",
    ]
    assert [event.remote_address for event in reversed(events)] == ["192.0.2.7", None, *["192.0.2.7"] * 3]
    assert all(event.occurred_at == clock.now for event in events)
    assert store.security_events(channel="c-9")[1] == 1


def test_public_reasons_do_not_tell_a_revoked_channel_from_an_unknown_one() -> None:
    assert RefusalReason.UNKNOWN_CHANNEL.public == RefusalReason.REVOKED_CHANNEL.public == "inactive_channel"
    assert RefusalReason.INVALID_SIGNATURE.public == "invalid_signature"


def test_revoking_stops_the_secret_and_a_new_version_reissues_the_channel(store: NbiotChannels) -> None:
    first = store.create("c-1")
    with pytest.raises(ConflictError):
        store.create("c-1")

    revoked = store.revoke("c-1")

    assert revoked.revoked_at is not None
    assert refusal(store, first.secret, SIGNED_AT) is RefusalReason.REVOKED_CHANNEL
    with pytest.raises(NotFoundError):
        store.revoke("c-1")
    second = store.create("c-1")
    assert second.key_version == 2
    assert refusal(store, first.secret, SIGNED_AT) is RefusalReason.INVALID_SIGNATURE
    assert push(store, second.secret, SIGNED_AT).name == "nbiot:c-1"
    assert [(record.key_version, record.revoked_at is None) for record in store.channels()] == [(1, False), (2, True)]


@pytest.mark.parametrize("name", ["", " ", "-lead", "has space", "a/b", "名字", "x" * 65])
def test_channel_names_are_short_url_safe_words(store: NbiotChannels, name: str) -> None:
    with pytest.raises(InvalidInputError):
        store.create(name)


def test_a_channel_acts_as_a_role_that_may_submit_readings(store: NbiotChannels) -> None:
    with pytest.raises(InvalidInputError):
        store.create("c-1", role=Role.AUDITOR)
    assert store.create("c-1", role=Role.DEVICE).role is Role.DEVICE


def test_revoking_an_unknown_channel_is_not_found(store: NbiotChannels) -> None:
    with pytest.raises(NotFoundError):
        store.revoke("nobody")


def test_text_for_the_logs_is_escaped_where_a_database_could_not_hold_it() -> None:
    assert printable("a\x00b\x1b\x7f\ud800\tc\n碧桂园") == "a\\x00b\\x1b\\x7f\\ud800\tc\n碧桂园"
