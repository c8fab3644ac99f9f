"""Delivery through the utility's messaging webhook (its SMS or WeChat gateway).

Each message is one POST of a JSON body (UTF-8, Chinese as is, the amount as text)::

    {"message_id": "…", "kind": "reminder", "account_number": "…", "recipient": "<address>",
     "language": "zh", "subject": "…", "body": "…", "amount_yuan": "123.45", "stage_days": 30,
     "created_at": "2025-12-10T02:00:00+00:00"}

(``kind``: ``reminder``, or the bill kind of a bill notice: ``prepayment``, ``statement``,
``settlement``, whose ``amount_yuan`` is what the bill charges, negative when credited, and whose
``stage_days`` is 0; or ``dispute_letter``, a dispute's resolution with the note's amount, whose
body points to the letter: a webhook message carries no attachment), with the headers
``X-HeatLedger-Message-Id`` (the same id on every retry: a receiver drops a
message it has already accepted), ``X-HeatLedger-Timestamp`` (unix seconds) and
``X-HeatLedger-Signature``: hex HMAC-SHA256, under the webhook secret as UTF-8 text, of
``"<timestamp>." + body`` (see ``sign``). A receiver recomputes it over the raw body it got,
compares in constant time and refuses a timestamp far from its own clock (a replay).

The gateway's answer decides what happens: 2xx delivered; 408, 429, 5xx, a timeout or no
connection: retried later; any other answer (another 4xx: a malformed or unknown recipient; a
redirect, which is not followed) is a permanent refusal, so the message is dead at once rather
than retried for hours.
"""

from __future__ import annotations

import json
import time
from decimal import Decimal
from typing import Any

import httpx2

from infrastructure import signing
from infrastructure.notifications.channel import SendResult
from infrastructure.notifications.outbox import QueuedMessage
from infrastructure.notifications.tables import DeliveryOutcome
from infrastructure.settings import Settings
from infrastructure.signing import derive_key

MESSAGE_ID_HEADER = "X-HeatLedger-Message-Id"
TIMESTAMP_HEADER = "X-HeatLedger-Timestamp"
SIGNATURE_HEADER = "X-HeatLedger-Signature"
# Answers that say "not now" rather than "never": request timeout, too many requests.
RETRYABLE_CLIENT_ERRORS = frozenset({408, 429})
_CENT = Decimal("0.01")


def webhook_secret(settings: Settings) -> str:
    """The key of the webhook's signatures: ``notification_webhook_secret`` when set, else
    hex(HMAC-SHA256(key=secret_key, msg="notification-webhook")), so a deployment signs from the
    start and rotating ``HEATLEDGER_SECRET_KEY`` rotates it."""
    if settings.notification_webhook_secret:
        return settings.notification_webhook_secret
    return derive_key(settings.secret_key, "notification-webhook")


def sign(secret: str, timestamp: str, body: bytes) -> str:
    """The signature of a webhook request: hex HMAC-SHA256 under ``secret`` (as UTF-8 text) of
    ``"<timestamp>." + body``, ``body`` being the exact bytes sent (infrastructure/signing.py)."""
    return signing.sign(secret, timestamp, body)


def payload(message: QueuedMessage) -> dict[str, Any]:
    """What the webhook receives about a message (the amount as text, so no digit is lost)."""
    return {
        "message_id": str(message.message_id),
        "kind": message.kind,
        "account_number": message.account_number,
        "recipient": message.address,
        "language": message.language.value,
        "subject": message.subject,
        "body": message.body,
        "amount_yuan": str(message.amount_yuan.quantize(_CENT)),
        "stage_days": message.stage_days,
        "created_at": message.created_at.isoformat(),
    }


def encode(message: QueuedMessage) -> bytes:
    """The request body: the payload as compact UTF-8 JSON, Chinese unescaped."""
    return json.dumps(payload(message), ensure_ascii=False, separators=(",", ":")).encode("utf-8")


def outcome_of_status(status_code: int) -> SendResult:
    """What an HTTP answer means for the message."""
    if 200 <= status_code < 300:
        return SendResult(DeliveryOutcome.DELIVERED, f"HTTP {status_code}")
    if status_code in RETRYABLE_CLIENT_ERRORS or status_code >= 500:
        return SendResult(DeliveryOutcome.RETRY, f"HTTP {status_code}")
    return SendResult(DeliveryOutcome.DEAD, f"HTTP {status_code}: refused by the receiver (permanent)")


class WebhookChannel:
    """Sends messages as signed JSON POSTs to one URL, over one HTTP client for all of them: a
    client per message would build a TLS context each time (about 34 ms, more than the POST)."""

    def __init__(self, url: str, secret: str, timeout_seconds: float) -> None:
        assert secret, "the webhook is always signed"
        self.url = url
        self.secret = secret
        self.timeout_seconds = timeout_seconds
        self._client: httpx2.Client | None = None

    def send(self, message: QueuedMessage) -> SendResult:
        """POST the message; the outcome by the answer (see the module's docstring)."""
        body = encode(message)
        try:
            response = self._http().post(self.url, content=body, headers=self.headers(message, body))
        except httpx2.TimeoutException as error:
            return SendResult(DeliveryOutcome.RETRY, f"timeout: {error}")
        except httpx2.TransportError as error:
            return SendResult(DeliveryOutcome.RETRY, f"connection error: {error}")
        return outcome_of_status(response.status_code)

    def close(self) -> None:
        """Close the HTTP client (its pooled connections); the next send opens a new one."""
        if self._client is not None:
            self._client.close()
            self._client = None

    def _http(self) -> httpx2.Client:
        if self._client is None:
            self._client = httpx2.Client(timeout=self.timeout_seconds, follow_redirects=False)
        return self._client

    def headers(self, message: QueuedMessage, body: bytes) -> dict[str, str]:
        """The request's headers, signed for this body and this moment."""
        # The wall clock, not the ledger's: the receiver checks the timestamp against its own
        # clock to refuse replays, so a test clock or a replayed batch must not sign the past.
        timestamp = str(int(time.time()))
        return {
            "Content-Type": "application/json; charset=utf-8",
            MESSAGE_ID_HEADER: str(message.message_id),
            TIMESTAMP_HEADER: timestamp,
            SIGNATURE_HEADER: sign(self.secret, timestamp, body),
        }
