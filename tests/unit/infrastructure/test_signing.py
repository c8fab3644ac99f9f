"""The one signing recipe of the ledger's webhooks (issue 16, item 9): keys, signatures, replay window."""

from __future__ import annotations

import hashlib
import hmac
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from infrastructure import signing
from infrastructure.signing import (
    REPLAY_WINDOW,
    Refusal,
    derive_key,
    parse_timestamp,
    sign,
    signature_matches,
    within_replay_window,
)

BODY = b'{"message_id": "m-1", "readings": []}'
SECRET = "s3cret-channel-key"
SIGNED_AT = "1765339200"
# printf '%s' '1765339200.{"message_id": "m-1", "readings": []}' | openssl dgst -sha256 -hmac s3cret-channel-key
OPENSSL_SIGNATURE = "0c564612cfd2d6c22ce60197eb2bacc25ae59987b4b36350d769e70abfbe4546"


def test_a_signature_is_what_openssl_computes() -> None:
    assert sign(SECRET, SIGNED_AT, BODY) == OPENSSL_SIGNATURE


def test_a_derived_key_is_the_hmac_of_its_purpose_under_the_secret_key() -> None:
    expected = hmac.new(b"server-key", b"payment-provider:hmac-json", hashlib.sha256).hexdigest()
    assert derive_key("server-key", "payment-provider:hmac-json") == expected
    assert derive_key("server-key", "notification-webhook") != derive_key("other-key", "notification-webhook")


@given(body=st.binary(max_size=200), timestamp=st.integers(0, 10**12 - 1), key=st.text(min_size=1, max_size=40))
def test_a_signature_matches_in_either_case_and_nothing_else_does(body: bytes, timestamp: int, key: str) -> None:
    signature = sign(key, str(timestamp), body)
    assert signature_matches(key, str(timestamp), body, signature)
    assert signature_matches(key, str(timestamp), body, f" {signature.upper()} ")
    assert not signature_matches(key, str(timestamp), body + b"x", signature)
    assert not signature_matches(key, str(timestamp + 1), body, signature)
    assert not signature_matches(key + "x", str(timestamp), body, signature)
    assert not signature_matches(key, str(timestamp), body, "签名")


def test_timestamps_are_plain_unix_seconds() -> None:
    assert parse_timestamp(" 1765339200 ") == 1765339200
    assert [parse_timestamp(text) for text in ("", "-1", "1.5", "1e9", "1765339200000")] == [None] * 5


def test_the_replay_window_holds_either_way_and_not_beyond() -> None:
    now = datetime(2025, 12, 10, 4, 0, tzinfo=UTC)
    signed = int(now.timestamp())
    assert within_replay_window(signed - int(REPLAY_WINDOW.total_seconds()), now)
    assert within_replay_window(signed + int(REPLAY_WINDOW.total_seconds()), now)
    assert not within_replay_window(signed - int(REPLAY_WINDOW.total_seconds()) - 1, now)
    assert not within_replay_window(signed + 1, now, timedelta(0))


def test_unknown_and_revoked_channels_look_the_same_from_outside() -> None:
    assert Refusal.UNKNOWN_CHANNEL.public == Refusal.REVOKED_CHANNEL.public == "inactive_channel"
    assert Refusal.STALE_TIMESTAMP.public == "stale_timestamp"
    assert max(len(reason.value) for reason in Refusal) <= 32  # the security_events column


def test_signatures_are_compared_in_constant_time(monkeypatch: pytest.MonkeyPatch) -> None:
    compared: list[tuple[Any, Any]] = []
    real = hmac.compare_digest

    def spy(first: Any, second: Any) -> bool:
        compared.append((first, second))
        return real(first, second)

    monkeypatch.setattr(signing.hmac, "compare_digest", spy)

    assert signature_matches(SECRET, SIGNED_AT, BODY, OPENSSL_SIGNATURE)
    assert not signature_matches(SECRET, SIGNED_AT, BODY, "0" * 64)
    assert compared == [
        (OPENSSL_SIGNATURE.encode(), OPENSSL_SIGNATURE.encode()),
        (OPENSSL_SIGNATURE.encode(), b"0" * 64),
    ]


# The payment provider's check vectors of docs/payments.md (openssl computes the same): the merchant
# key and the signature a provider sends stayed byte for byte what they were before online payments
# signed with this module.
PAYMENT_BODY = (
    b'{"merchant_order_number": "HL20251210K7QX2M9D4TPA", "transaction_id": "4200001234202512101234567890", '
    b'"amount_yuan": "1944.00", "currency": "CNY", "paid_at": "2025-12-10T11:59:30+08:00"}'
)
PAYMENT_MERCHANT_KEY = "1f7dbce41b4ec9c6ca9ec0e5c4ee09213a36bbed494be18fbab65cfde7631e67"
PAYMENT_SIGNATURE = "e53b5e56ac985a3801f782951c648b3bfe2c8e70db2849e839e73e14c756c3a4"


def test_a_payment_providers_key_and_signature_are_byte_identical_to_before() -> None:
    from infrastructure.online_payments import merchant_key

    key = merchant_key("s3cret-server-key", "hmac-json")
    assert key == derive_key("s3cret-server-key", "payment-provider:hmac-json") == PAYMENT_MERCHANT_KEY
    assert sign(key, SIGNED_AT, PAYMENT_BODY) == PAYMENT_SIGNATURE
    assert signature_matches(key, SIGNED_AT, PAYMENT_BODY, PAYMENT_SIGNATURE.upper())


@given(secret=st.text(min_size=1, max_size=40), provider=st.from_regex(r"[a-z0-9][a-z0-9_-]{0,31}", fullmatch=True))
def test_a_merchant_key_is_the_recipe_it_always_was(secret: str, provider: str) -> None:
    """The recipe online_payments.py computed itself before item 9, for any secret and provider."""
    from infrastructure.online_payments import merchant_key

    before = hmac.new(secret.encode(), f"payment-provider:{provider}".encode(), hashlib.sha256).hexdigest()
    assert merchant_key(secret, provider) == before


def test_every_signed_integration_uses_this_module() -> None:
    """One recipe, one refusal enum: NB-IoT, online payments and the gateway webhook take them
    from here rather than keeping copies."""
    from infrastructure import nbiot, online_payments
    from infrastructure.notifications import webhook

    assert online_payments.sign is nbiot.sign is signing.sign
    assert online_payments.Refusal is nbiot.RefusalReason is signing.Refusal
    assert webhook.derive_key is signing.derive_key
    refusals = {reason.value for reason in online_payments.Refusal}
    # The reasons the payment channel wrote to security_events before keep their text.
    assert {
        "unknown_provider",
        "invalid_signature",
        "invalid_timestamp",
        "stale_timestamp",
        "provider_mismatch",
        "amount_mismatch",
    } <= refusals
    for module in (nbiot, online_payments, webhook):
        source = Path(module.__file__ or "").read_text()
        assert "hashlib" not in source, f"{module.__name__} computes an HMAC of its own"
