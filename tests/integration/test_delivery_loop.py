"""The embedded default's delivery loop: without a worker, retries go out on their own."""

from __future__ import annotations

import threading
import time
from decimal import Decimal
from uuid import uuid4

from application.notifications import ContactChannel, MessageKind, MessageLanguage, OutgoingMessage
from infrastructure.container import Container
from infrastructure.delivery_loop import PeriodicDelivery
from infrastructure.jobs import deliver_notifications
from tests.receivers import webhook_receiver


def message(dedup_key: str) -> OutgoingMessage:
    return OutgoingMessage(
        dedup_key=dedup_key,
        kind=MessageKind.REMINDER,
        account_number="WZ-0001",
        channel=ContactChannel.WEBHOOK,
        address="13800138000",
        language=MessageLanguage.ZH,
        subject="【热力公司】供热费缴费提醒",
        body="【热力公司】尊敬的用户……",
        amount_yuan=Decimal("10.00"),
        stage_days=15,
        created_by="clerk-li",
        reason="test",
        correlation_id=uuid4(),
    )


def test_the_loop_delivers_a_retry_when_its_time_comes_without_a_worker(sqlite_container: Container) -> None:
    with webhook_receiver() as receiver:
        receiver.answer_next(503)
        sqlite_container.settings = sqlite_container.settings.model_copy(
            update={"notification_webhook_url": receiver.url, "notification_backoff_seconds": 1}
        )
        message_id = sqlite_container.outbox.enqueue(message("loop-1"))
        assert message_id is not None
        assert deliver_notifications(sqlite_container) == {"delivered": 0, "retried": 1, "dead": 0}

        loop = PeriodicDelivery(lambda: deliver_notifications(sqlite_container), interval_seconds=0.2).start()
        try:
            deadline = time.monotonic() + 10
            while time.monotonic() < deadline and len(receiver.received) < 2:
                time.sleep(0.05)
        finally:
            loop.stop()
    stored = sqlite_container.outbox.message(message_id)
    assert stored is not None and stored.status == "delivered"
    assert [record.outcome for record in sqlite_container.outbox.deliveries(message_id)] == ["retry", "delivered"]


def test_a_failing_pass_does_not_stop_the_loop() -> None:
    passes = 0
    third = threading.Event()

    def deliver() -> None:
        nonlocal passes
        passes += 1
        if passes >= 3:
            third.set()
        raise RuntimeError("the database is away")

    loop = PeriodicDelivery(deliver, interval_seconds=0.05).start()
    try:
        assert third.wait(5)
    finally:
        loop.stop()
    stopped_at = passes
    time.sleep(0.2)
    assert passes == stopped_at  # stopped means stopped
