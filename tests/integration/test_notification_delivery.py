"""Delivery of the outbox over real transports on loopback: a signed webhook to an HTTP server
that checks the signature, and e-mail to an SMTP server; retries with the policy's backoff,
dead-lettering, and what a channel that is down or not configured does."""

from __future__ import annotations

import email
import email.policy
import hmac
import json
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import timedelta
from email.message import EmailMessage
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from uuid import UUID

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Envelope, Session

from application.notifications import ContactChannel
from infrastructure.container import Container
from infrastructure.notifications.channel import Channel, SendResult
from infrastructure.notifications.dispatcher import (
    NOT_CONFIGURED,
    Dispatcher,
    DispatchReport,
    channels_from_settings,
    dispatcher_from_settings,
)
from infrastructure.notifications.outbox import QueuedMessage, SqlOutbox
from infrastructure.notifications.retry import RetryPolicy
from infrastructure.notifications.smtp import SmtpChannel
from infrastructure.notifications.tables import DeliveryOutcome, MessageStatus
from infrastructure.notifications.webhook import (
    MESSAGE_ID_HEADER,
    SIGNATURE_HEADER,
    TIMESTAMP_HEADER,
    WebhookChannel,
    sign,
    webhook_secret,
)
from infrastructure.settings import Environment, Settings
from tests.integration.test_notification_outbox import START, Clock, reminder

SECRET = "test-webhook-secret"
TIMEOUT_SECONDS = 0.5
SUBJECT = "供热费催缴提醒（第二次）"
BODY = "王芳您好：您的供热费 1944.37 元已逾期 60 天，请尽快缴纳。客服电话 0951-1234567。"
POLICY = RetryPolicy(max_attempts=3, backoff_seconds=10, backoff_max_seconds=15)


# -- a webhook receiver ---------------------------------------------------------------------------


@dataclass
class Receiver:
    """What the receiver answers (in turn; the last answer repeats) and what it received."""

    url: str = ""
    answers: list[int] = field(default_factory=lambda: [200])
    delay_seconds: float = 0.0
    requests: list[tuple[dict[str, str], bytes]] = field(default_factory=list)
    bad_signatures: int = 0

    def answer(self, headers: dict[str, str], body: bytes) -> int:
        expected = sign(SECRET, headers.get(TIMESTAMP_HEADER.lower(), ""), body)
        if not hmac.compare_digest(expected, headers.get(SIGNATURE_HEADER.lower(), "")):
            self.bad_signatures += 1
            return 401
        self.requests.append((headers, body))
        return self.answers.pop(0) if len(self.answers) > 1 else self.answers[0]

    def payloads(self) -> list[dict[str, Any]]:
        return [json.loads(body.decode("utf-8")) for _, body in self.requests]


def serve(receiver: Receiver) -> ThreadingHTTPServer:
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers["Content-Length"]))
            time.sleep(receiver.delay_seconds)
            status = receiver.answer({name.lower(): value for name, value in self.headers.items()}, body)
            self.send_response(status)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, format: str, *args: Any) -> None:  # keep the test output quiet
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    receiver.url = f"http://127.0.0.1:{server.server_address[1]}/reminders"
    threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
    return server


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    received = Receiver()
    server = serve(received)
    yield received
    server.shutdown()
    server.server_close()


def closed_port() -> int:
    """A loopback port nothing listens on (it was free a moment ago)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture
def clock() -> Clock:
    return Clock(START)


@pytest.fixture
def outbox(sqlite_container: Container, clock: Clock) -> SqlOutbox:
    return SqlOutbox(sqlite_container.engine, clock)


def webhook_dispatcher(outbox: SqlOutbox, clock: Clock, url: str, policy: RetryPolicy = POLICY) -> Dispatcher:
    channels = {ContactChannel.WEBHOOK: WebhookChannel(url, SECRET, TIMEOUT_SECONDS)}
    return Dispatcher(outbox, channels, policy, clock)


def enqueue(outbox: SqlOutbox, **changes: Any) -> UUID:
    message_id = outbox.enqueue(reminder(subject=SUBJECT, body=BODY, **changes))
    assert message_id is not None
    return message_id


def history(outbox: SqlOutbox, message_id: UUID) -> list[tuple[DeliveryOutcome, str]]:
    return [(record.outcome, record.detail) for record in outbox.deliveries(message_id)]


# -- the webhook ----------------------------------------------------------------------------------


def test_a_message_is_delivered_signed_with_its_chinese_text_intact(
    outbox: SqlOutbox, clock: Clock, receiver: Receiver
) -> None:
    message_id = enqueue(outbox)

    report = webhook_dispatcher(outbox, clock, receiver.url).deliver_due()

    assert report == DispatchReport(delivered=1)
    assert receiver.bad_signatures == 0 and len(receiver.requests) == 1
    headers, body = receiver.requests[0]
    assert headers["content-type"] == "application/json; charset=utf-8"
    assert headers[MESSAGE_ID_HEADER.lower()] == str(message_id)
    assert abs(int(headers[TIMESTAMP_HEADER.lower()]) - time.time()) < 60
    assert SUBJECT.encode("utf-8") in body and BODY.encode("utf-8") in body  # UTF-8, not \\u escapes
    assert receiver.payloads()[0] | {"created_at": None} == {
        "message_id": str(message_id),
        "kind": "reminder",
        "account_number": "0101-0203",
        "recipient": "+8613800138000",
        "language": "zh",
        "subject": SUBJECT,
        "body": BODY,
        "amount_yuan": "1944.37",
        "stage_days": 30,
        "created_at": None,
    }
    delivered = outbox.message(message_id)
    assert delivered is not None
    assert (delivered.status, delivered.attempts, delivered.delivered_at) == (MessageStatus.DELIVERED, 1, START)
    assert history(outbox, message_id) == [(DeliveryOutcome.DELIVERED, "HTTP 200")]
    assert webhook_dispatcher(outbox, clock, receiver.url).deliver_due() == DispatchReport()  # sent once only


def test_a_receiver_that_fails_twice_gets_the_message_on_the_policy_s_schedule(
    outbox: SqlOutbox, clock: Clock, receiver: Receiver
) -> None:
    receiver.answers = [500, 500, 200]
    message_id = enqueue(outbox)
    dispatcher = webhook_dispatcher(outbox, clock, receiver.url)

    assert dispatcher.deliver_due() == DispatchReport(retried=1)
    assert outbox.message(message_id).next_attempt_at == START + timedelta(seconds=10)  # type: ignore[union-attr]
    clock.advance(9)
    assert dispatcher.deliver_due() == DispatchReport()  # not due yet: nothing is sent
    clock.advance(1)
    assert dispatcher.deliver_due() == DispatchReport(retried=1)
    # 10 s doubled is 20 s, over the policy's cap of 15 s.
    assert outbox.message(message_id).next_attempt_at == START + timedelta(seconds=25)  # type: ignore[union-attr]
    clock.advance(14)
    assert dispatcher.deliver_due() == DispatchReport()
    clock.advance(1)
    assert dispatcher.deliver_due() == DispatchReport(delivered=1)

    records = outbox.deliveries(message_id)
    assert [(record.attempt, record.outcome, record.detail) for record in records] == [
        (1, DeliveryOutcome.RETRY, "HTTP 500"),
        (2, DeliveryOutcome.RETRY, "HTTP 500"),
        (3, DeliveryOutcome.DELIVERED, "HTTP 200"),
    ]
    assert [record.attempted_at - START for record in records] == [
        timedelta(0),
        timedelta(seconds=10),
        timedelta(seconds=25),
    ]
    assert all(record.duration_ms >= 0 and record.channel is ContactChannel.WEBHOOK for record in records)
    assert {payload["message_id"] for payload in receiver.payloads()} == {str(message_id)}
    assert len(receiver.requests) == 3


def test_a_receiver_that_is_always_unavailable_dead_letters_after_the_last_attempt(
    outbox: SqlOutbox, clock: Clock, receiver: Receiver
) -> None:
    receiver.answers = [503]
    message_id = enqueue(outbox)
    dispatcher = webhook_dispatcher(outbox, clock, receiver.url)

    reports = []
    for _ in range(POLICY.max_attempts + 2):
        reports.append(dispatcher.deliver_due())
        clock.advance(3600)

    assert reports[: POLICY.max_attempts] == [DispatchReport(retried=1)] * 2 + [DispatchReport(dead=1)]
    assert reports[POLICY.max_attempts :] == [DispatchReport()] * 2  # nothing more is tried
    dead = outbox.message(message_id)
    assert dead is not None
    assert (dead.status, dead.attempts, dead.last_error) == (MessageStatus.DEAD, POLICY.max_attempts, "HTTP 503")
    assert history(outbox, message_id) == [(DeliveryOutcome.RETRY, "HTTP 503")] * 2 + [
        (DeliveryOutcome.DEAD, "HTTP 503")
    ]
    assert len(receiver.requests) == POLICY.max_attempts


def test_a_permanent_refusal_is_dead_at_once_and_a_requeue_delivers_it(
    outbox: SqlOutbox, clock: Clock, receiver: Receiver
) -> None:
    receiver.answers = [400, 200]
    message_id = enqueue(outbox)
    dispatcher = webhook_dispatcher(outbox, clock, receiver.url)

    assert dispatcher.deliver_due() == DispatchReport(dead=1)
    [(outcome, detail)] = history(outbox, message_id)
    assert outcome is DeliveryOutcome.DEAD and detail.startswith("HTTP 400") and "permanent" in detail

    outbox.requeue(message_id, "clerk-wang", "gateway accepts the number now")
    assert dispatcher.deliver_due() == DispatchReport(delivered=1)
    assert [outcome for outcome, _ in history(outbox, message_id)] == [
        DeliveryOutcome.DEAD,
        DeliveryOutcome.REQUEUED,
        DeliveryOutcome.DELIVERED,
    ]


def test_a_receiver_that_is_down_means_a_retry(outbox: SqlOutbox, clock: Clock) -> None:
    message_id = enqueue(outbox)

    report = webhook_dispatcher(outbox, clock, f"http://127.0.0.1:{closed_port()}/reminders").deliver_due()

    assert report == DispatchReport(retried=1)
    [(outcome, detail)] = history(outbox, message_id)
    assert outcome is DeliveryOutcome.RETRY and detail.startswith("connection error")
    assert outbox.message(message_id).status is MessageStatus.PENDING  # type: ignore[union-attr]


def test_a_receiver_slower_than_the_timeout_means_a_retry(outbox: SqlOutbox, clock: Clock, receiver: Receiver) -> None:
    receiver.delay_seconds = TIMEOUT_SECONDS * 2
    message_id = enqueue(outbox)

    report = webhook_dispatcher(outbox, clock, receiver.url).deliver_due()

    assert report == DispatchReport(retried=1)
    [record] = outbox.deliveries(message_id)
    assert record.detail.startswith("timeout")
    assert record.duration_ms >= TIMEOUT_SECONDS * 1000 * 0.9


# -- the dispatcher -------------------------------------------------------------------------------


class Exploding:
    def send(self, message: QueuedMessage) -> SendResult:
        raise RuntimeError("gateway client bug")

    def close(self) -> None:
        return None


def test_a_channel_that_raises_is_a_retry_and_the_batch_goes_on(
    outbox: SqlOutbox, clock: Clock, receiver: Receiver
) -> None:
    by_email = enqueue(outbox, channel=ContactChannel.EMAIL, address="wang@example.cn", dedup_key="e")
    clock.advance(1)
    by_webhook = enqueue(outbox, dedup_key="w")
    channels: dict[ContactChannel, Channel] = {
        ContactChannel.EMAIL: Exploding(),
        ContactChannel.WEBHOOK: WebhookChannel(receiver.url, SECRET, 1),
    }

    report = Dispatcher(outbox, channels, POLICY, clock).deliver_due()

    assert report == DispatchReport(delivered=1, retried=1)
    assert history(outbox, by_email) == [(DeliveryOutcome.RETRY, "RuntimeError: gateway client bug")]
    assert history(outbox, by_webhook) == [(DeliveryOutcome.DELIVERED, "HTTP 200")]


def test_a_message_waits_for_its_channel_to_be_configured(outbox: SqlOutbox, clock: Clock, receiver: Receiver) -> None:
    message_id = enqueue(outbox)

    assert Dispatcher(outbox, {}, POLICY, clock).deliver_due() == DispatchReport(retried=1)
    clock.advance(10)
    assert webhook_dispatcher(outbox, clock, receiver.url).deliver_due() == DispatchReport(delivered=1)
    assert history(outbox, message_id) == [
        (DeliveryOutcome.RETRY, NOT_CONFIGURED),
        (DeliveryOutcome.DELIVERED, "HTTP 200"),
    ]


def test_a_channel_never_configured_dead_letters_the_message(outbox: SqlOutbox, clock: Clock) -> None:
    message_id = enqueue(outbox)
    dispatcher = Dispatcher(outbox, {}, POLICY, clock)

    for _ in range(POLICY.max_attempts):
        dispatcher.deliver_due()
        clock.advance(3600)

    assert outbox.message(message_id).status is MessageStatus.DEAD  # type: ignore[union-attr]
    assert [detail for _, detail in history(outbox, message_id)] == [NOT_CONFIGURED] * POLICY.max_attempts


def test_a_batch_is_bounded_by_its_limit(outbox: SqlOutbox, clock: Clock, receiver: Receiver) -> None:
    for number in range(3):
        enqueue(outbox, dedup_key=f"limit-{number}")

    dispatcher = webhook_dispatcher(outbox, clock, receiver.url)

    assert dispatcher.deliver_due(limit=2) == DispatchReport(delivered=2)
    assert dispatcher.deliver_due(limit=2) == DispatchReport(delivered=1)
    assert outbox.counts()["delivered"] == 3


def test_the_settings_configure_the_channels_and_the_signing_key(
    outbox: SqlOutbox, clock: Clock, receiver: Receiver, tmp_path: Path
) -> None:
    nothing = Settings(environment=Environment.TEST, data_dir=tmp_path)
    both = Settings(
        environment=Environment.TEST,
        data_dir=tmp_path,
        notification_webhook_url=receiver.url,
        notification_webhook_secret=SECRET,
        smtp_host="127.0.0.1",
        notification_max_attempts=2,
        notification_backoff_seconds=7,
    )
    message_id = enqueue(outbox)

    assert channels_from_settings(nothing) == {}
    assert set(channels_from_settings(both)) == {ContactChannel.WEBHOOK, ContactChannel.EMAIL}
    assert webhook_secret(both) == SECRET
    dispatcher = dispatcher_from_settings(outbox, both, clock)
    assert dispatcher.retry_policy == RetryPolicy(max_attempts=2, backoff_seconds=7, backoff_max_seconds=6 * 3600)
    assert dispatcher.deliver_due() == DispatchReport(delivered=1)
    assert receiver.bad_signatures == 0
    assert history(outbox, message_id) == [(DeliveryOutcome.DELIVERED, "HTTP 200")]


# -- SMTP -----------------------------------------------------------------------------------------


@dataclass
class Mailbox:
    """An SMTP server's handler: keeps what it accepts, refuses recipients with ``refusal``."""

    refusal: str | None = None
    received: list[tuple[str, list[str], bytes]] = field(default_factory=list)

    async def handle_RCPT(
        self, server: SMTP, session: Session, envelope: Envelope, address: str, rcpt_options: list[str]
    ) -> str:
        if self.refusal:
            return self.refusal
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        content = envelope.original_content or b""
        self.received.append((str(envelope.mail_from), list(envelope.rcpt_tos), content))
        return "250 Message accepted for delivery"


@pytest.fixture
def mailbox() -> Iterator[tuple[Mailbox, int]]:
    handler = Mailbox()
    port = closed_port()
    controller = Controller(handler, hostname="127.0.0.1", port=port)
    controller.start()
    yield handler, port
    controller.stop()


def smtp_dispatcher(outbox: SqlOutbox, clock: Clock, port: int) -> Dispatcher:
    channel = SmtpChannel("127.0.0.1", port, "催缴 <billing@heat.example.cn>", "", "", False, TIMEOUT_SECONDS)
    return Dispatcher(outbox, {ContactChannel.EMAIL: channel}, POLICY, clock)


def enqueue_email(outbox: SqlOutbox) -> UUID:
    return enqueue(outbox, channel=ContactChannel.EMAIL, address="wang.fang@example.cn")


def test_an_email_is_delivered_with_its_chinese_subject_and_body_intact(
    outbox: SqlOutbox, clock: Clock, mailbox: tuple[Mailbox, int]
) -> None:
    handler, port = mailbox
    message_id = enqueue_email(outbox)

    assert smtp_dispatcher(outbox, clock, port).deliver_due() == DispatchReport(delivered=1)

    [(sender, recipients, content)] = handler.received
    assert (sender, recipients) == ("billing@heat.example.cn", ["wang.fang@example.cn"])
    parsed = email.message_from_bytes(content, policy=email.policy.default)
    assert isinstance(parsed, EmailMessage)
    assert str(parsed["Subject"]) == SUBJECT
    assert str(parsed["To"]) == "wang.fang@example.cn"
    assert str(parsed["Message-ID"]) == f"<{message_id}@heatledger>"
    body = parsed.get_body(("plain",))
    assert body is not None and body.get_content().strip() == BODY
    assert body.get_content_charset() == "utf-8"
    assert history(outbox, message_id) == [(DeliveryOutcome.DELIVERED, "250 accepted")]


def test_a_refused_recipient_is_dead_at_once(outbox: SqlOutbox, clock: Clock, mailbox: tuple[Mailbox, int]) -> None:
    handler, port = mailbox
    handler.refusal = "550 5.1.1 No such user here"
    message_id = enqueue_email(outbox)

    assert smtp_dispatcher(outbox, clock, port).deliver_due() == DispatchReport(dead=1)

    [(outcome, detail)] = history(outbox, message_id)
    assert outcome is DeliveryOutcome.DEAD and "550" in detail and "No such user" in detail
    assert handler.received == []


def test_a_recipient_refused_for_now_is_retried(outbox: SqlOutbox, clock: Clock, mailbox: tuple[Mailbox, int]) -> None:
    handler, port = mailbox
    handler.refusal = "450 4.2.1 Mailbox busy, try later"
    message_id = enqueue_email(outbox)

    assert smtp_dispatcher(outbox, clock, port).deliver_due() == DispatchReport(retried=1)
    handler.refusal = None
    clock.advance(10)
    assert smtp_dispatcher(outbox, clock, port).deliver_due() == DispatchReport(delivered=1)

    assert [outcome for outcome, _ in history(outbox, message_id)] == [DeliveryOutcome.RETRY, DeliveryOutcome.DELIVERED]
    assert len(handler.received) == 1


def test_a_mail_server_that_is_down_means_a_retry(outbox: SqlOutbox, clock: Clock) -> None:
    message_id = enqueue_email(outbox)

    assert smtp_dispatcher(outbox, clock, closed_port()).deliver_due() == DispatchReport(retried=1)

    [(outcome, detail)] = history(outbox, message_id)
    assert outcome is DeliveryOutcome.RETRY and detail.startswith("connection error")
