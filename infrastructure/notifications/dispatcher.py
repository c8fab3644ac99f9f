"""The delivery job: send what is due in the outbox through its channel, and record how it went.

A batch never fails as a whole: a channel that raises, or one that is not configured, counts as
a failed attempt of that one message (retried with backoff, dead-lettered after the policy's last
attempt), and the batch goes on. A message of a channel not configured yet is delivered once the
channel is configured, if that happens before its attempts run out.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime

from application.notifications import ContactChannel
from infrastructure.notifications.channel import Channel, SendResult
from infrastructure.notifications.outbox import QueuedMessage, SqlOutbox
from infrastructure.notifications.retry import RetryPolicy
from infrastructure.notifications.smtp import SmtpChannel
from infrastructure.notifications.tables import DeliveryOutcome
from infrastructure.notifications.webhook import WebhookChannel, webhook_secret
from infrastructure.settings import Settings

logger = logging.getLogger("heatledger.notifications")

NOT_CONFIGURED = "channel not configured"
# A worker holds a claimed message this long; its send (bounded by the channel's timeout) must
# end well within it, or another worker may take the message for abandoned and send it again.
MINIMUM_LEASE_SECONDS = 60.0


@dataclass(frozen=True)
class DispatchReport:
    """How many of a batch's messages were delivered, left for a retry, or dead-lettered."""

    delivered: int = 0
    retried: int = 0
    dead: int = 0

    def counting(self, outcome: DeliveryOutcome) -> DispatchReport:
        """This report with one more message of ``outcome``."""
        return DispatchReport(
            delivered=self.delivered + (outcome is DeliveryOutcome.DELIVERED),
            retried=self.retried + (outcome is DeliveryOutcome.RETRY),
            dead=self.dead + (outcome is DeliveryOutcome.DEAD),
        )


class Dispatcher:
    """Delivers due messages through the configured channels."""

    def __init__(
        self,
        outbox: SqlOutbox,
        channels: Mapping[ContactChannel, Channel],
        retry_policy: RetryPolicy,
        clock: Callable[[], datetime],
        lease_seconds: float = MINIMUM_LEASE_SECONDS,
    ) -> None:
        self.outbox = outbox
        self.channels = dict(channels)
        self.retry_policy = retry_policy
        self.clock = clock
        self.lease_seconds = lease_seconds

    def deliver_due(self, limit: int = 100) -> DispatchReport:
        """Try up to ``limit`` due messages, each once (a message whose retry falls due while
        the batch runs may come round again; ``limit`` still bounds the batch)."""
        report = DispatchReport()
        # One claim per message, not one for the batch: a lease then covers a single send, so
        # a long batch never outlives the leases of the messages it has not reached yet.
        for _ in range(limit):
            claimed = self.outbox.claim_due(1, self.lease_seconds)
            if not claimed:
                break
            report = report.counting(self.deliver(claimed[0]))
        if report != DispatchReport():
            logger.info(
                "notifications: %d delivered, %d to retry, %d dead", report.delivered, report.retried, report.dead
            )
        return report

    def close(self) -> None:
        """Close every channel (their connections); call it when the batch is done."""
        for channel in self.channels.values():
            channel.close()

    def deliver(self, message: QueuedMessage) -> DeliveryOutcome:
        """Try one claimed message once and record the attempt; what became of it."""
        started = time.monotonic()
        result = self._send(message)
        duration_ms = round((time.monotonic() - started) * 1000)
        outcome, next_attempt_at = self._decide(message, result)
        self.outbox.record_attempt(message.message_id, outcome, result.detail, duration_ms, next_attempt_at)
        if outcome is DeliveryOutcome.DEAD:
            logger.warning(
                "notification %s is dead after %d attempts: %s", message.message_id, message.attempts + 1, result.detail
            )
        return outcome

    def _send(self, message: QueuedMessage) -> SendResult:
        channel = self.channels.get(message.channel)
        if channel is None:
            return SendResult(DeliveryOutcome.RETRY, NOT_CONFIGURED)
        try:
            return channel.send(message)
        except Exception as error:  # a bug or a surprise in one channel must not stop the batch
            logger.exception("notification %s: the %s channel raised", message.message_id, message.channel.value)
            return SendResult(DeliveryOutcome.RETRY, f"{type(error).__name__}: {error}")

    def _decide(self, message: QueuedMessage, result: SendResult) -> tuple[DeliveryOutcome, datetime | None]:
        """A retry becomes dead when the policy allows no further attempt."""
        if result.outcome is not DeliveryOutcome.RETRY:
            return result.outcome, None
        next_attempt_at = self.retry_policy.next_attempt_at(message.attempts + 1, self.clock())
        if next_attempt_at is None:
            return DeliveryOutcome.DEAD, None
        return DeliveryOutcome.RETRY, next_attempt_at


def channels_from_settings(settings: Settings) -> dict[ContactChannel, Channel]:
    """The channels the settings configure: the webhook when it has a URL, e-mail when there is
    an SMTP host."""
    channels: dict[ContactChannel, Channel] = {}
    if settings.notification_webhook_url:
        channels[ContactChannel.WEBHOOK] = WebhookChannel(
            settings.notification_webhook_url, webhook_secret(settings), settings.notification_timeout_seconds
        )
    if settings.smtp_host:
        channels[ContactChannel.EMAIL] = SmtpChannel(
            host=settings.smtp_host,
            port=settings.smtp_port,
            sender=settings.smtp_sender,
            username=settings.smtp_username,
            password=settings.smtp_password,
            starttls=settings.smtp_starttls,
            timeout_seconds=settings.notification_timeout_seconds,
        )
    return channels


def dispatcher_from_settings(outbox: SqlOutbox, settings: Settings, clock: Callable[[], datetime]) -> Dispatcher:
    """The dispatcher the settings configure: their channels and retry policy, and a lease long
    enough for the slowest send (a few timeouts) to finish inside it."""
    lease_seconds = max(MINIMUM_LEASE_SECONDS, 6 * settings.notification_timeout_seconds)
    return Dispatcher(outbox, channels_from_settings(settings), RetryPolicy.of(settings), clock, lease_seconds)
