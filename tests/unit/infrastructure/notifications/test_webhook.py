"""The webhook's body, signature and reading of answers (the delivery itself: integration tests)."""

from __future__ import annotations

import hashlib
import hmac
import json
from datetime import UTC, datetime
from decimal import Decimal
from uuid import UUID

import pytest

from application.notifications import ContactChannel, MessageKind, MessageLanguage
from infrastructure.notifications.outbox import QueuedMessage
from infrastructure.notifications.tables import DeliveryOutcome, MessageStatus
from infrastructure.notifications.webhook import encode, outcome_of_status, sign, webhook_secret
from infrastructure.settings import Environment, Settings

MESSAGE = QueuedMessage(
    message_id=UUID("6f1c2a52-7d1b-4c39-9a53-2f6c2d3b8e10"),
    dedup_key="reminder:2025-2026:0101-0203:30",
    kind=MessageKind.REMINDER,
    account_number="0101-0203",
    channel=ContactChannel.WEBHOOK,
    address="+8613800138000",
    language=MessageLanguage.ZH,
    subject="供热费催缴提醒",
    body="您的供热费 1944.5 元已逾期 30 天。",
    amount_yuan=Decimal("1944.5"),
    stage_days=30,
    created_at=datetime(2025, 12, 10, 2, 0, tzinfo=UTC),
    created_by="system",
    reason="dunning run",
    correlation_id=UUID("00000000-0000-4000-8000-000000000001"),
    status=MessageStatus.SENDING,
    attempts=0,
    next_attempt_at=datetime(2025, 12, 10, 2, 0, tzinfo=UTC),
    claimed_until=None,
    delivered_at=None,
    last_error=None,
)


def test_the_body_is_utf8_json_with_the_amount_as_text() -> None:
    body = encode(MESSAGE)

    assert "供热费催缴提醒".encode() in body  # not \\u escapes
    assert json.loads(body.decode("utf-8")) == {
        "message_id": "6f1c2a52-7d1b-4c39-9a53-2f6c2d3b8e10",
        "kind": "reminder",
        "account_number": "0101-0203",
        "recipient": "+8613800138000",
        "language": "zh",
        "subject": "供热费催缴提醒",
        "body": "您的供热费 1944.5 元已逾期 30 天。",
        "amount_yuan": "1944.50",
        "stage_days": 30,
        "created_at": "2025-12-10T02:00:00+00:00",
    }


def test_the_signature_is_hmac_sha256_of_timestamp_dot_body() -> None:
    body = '{"subject":"提醒"}'.encode()

    signature = sign("s3cret", "1765339200", body)

    assert signature == hmac.new(b"s3cret", b"1765339200." + body, hashlib.sha256).hexdigest()
    assert signature != sign("s3cret", "1765339201", body)
    assert signature != sign("other", "1765339200", body)
    assert signature != sign("s3cret", "1765339200", body + b" ")


def test_the_secret_is_the_configured_one_or_derived_from_the_server_key() -> None:
    configured = Settings(environment=Environment.TEST, notification_webhook_secret="shared-with-gateway")
    derived = Settings(environment=Environment.TEST, secret_key="a" * 40)

    assert webhook_secret(configured) == "shared-with-gateway"
    assert webhook_secret(derived) == hmac.new(b"a" * 40, b"notification-webhook", hashlib.sha256).hexdigest()
    assert webhook_secret(derived) != webhook_secret(Settings(environment=Environment.TEST, secret_key="b" * 40))


@pytest.mark.parametrize(
    ("status_code", "outcome"),
    [
        (200, DeliveryOutcome.DELIVERED),
        (202, DeliveryOutcome.DELIVERED),
        (204, DeliveryOutcome.DELIVERED),
        (408, DeliveryOutcome.RETRY),
        (429, DeliveryOutcome.RETRY),
        (500, DeliveryOutcome.RETRY),
        (503, DeliveryOutcome.RETRY),
        (400, DeliveryOutcome.DEAD),
        (401, DeliveryOutcome.DEAD),
        (404, DeliveryOutcome.DEAD),
        (422, DeliveryOutcome.DEAD),
        (301, DeliveryOutcome.DEAD),
    ],
)
def test_the_answer_decides_the_outcome(status_code: int, outcome: DeliveryOutcome) -> None:
    result = outcome_of_status(status_code)

    assert result.outcome is outcome
    assert str(status_code) in result.detail
    assert ("permanent" in result.detail) == (outcome is DeliveryOutcome.DEAD)
