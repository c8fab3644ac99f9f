"""The notification outbox and the contact book on both backends: one message per dedup key,
claims that never overlap, the delivery history, requeues, and contacts that can be forgotten."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any
from uuid import UUID, uuid4

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import select

from application.notifications import Contact, ContactChannel, MessageKind, MessageLanguage, OutgoingMessage
from domain.errors import ConflictError, InvalidInputError, NotFoundError
from infrastructure.container import Container
from infrastructure.notifications.contacts import SqlContactBook
from infrastructure.notifications.outbox import SqlOutbox
from infrastructure.notifications.tables import (
    DeliveryOutcome,
    MessageStatus,
    household_contacts,
    metadata,
    notification_deliveries,
)

START = datetime(2025, 12, 10, 2, 0, tzinfo=UTC)
LEASE_SECONDS = 60


class Clock:
    """A clock the test moves by hand."""

    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


def reminder(account_number: str = "0101-0203", stage_days: int = 30, **changes: Any) -> OutgoingMessage:
    values: dict[str, Any] = {
        "dedup_key": f"reminder:2025-2026:{account_number}:{stage_days}",
        "kind": MessageKind.REMINDER,
        "account_number": account_number,
        "channel": ContactChannel.WEBHOOK,
        "address": "+8613800138000",
        "language": MessageLanguage.ZH,
        "subject": "供热费催缴提醒",
        "body": "您的供热费 1944.37 元已逾期 30 天。",
        "amount_yuan": Decimal("1944.37"),
        "stage_days": stage_days,
        "created_by": "system",
        "reason": "dunning run",
        "correlation_id": UUID("00000000-0000-4000-8000-000000000001"),
    }
    return OutgoingMessage(**{**values, **changes})


@pytest.fixture
def clock() -> Clock:
    return Clock(START)


@pytest.fixture
def outbox(container: Container, clock: Clock) -> SqlOutbox:
    return SqlOutbox(container.engine, clock)


@pytest.fixture
def contacts(container: Container, clock: Clock) -> SqlContactBook:
    return SqlContactBook(container.engine, clock)


# -- the migration --------------------------------------------------------------------------------


def test_the_migration_creates_the_tables_as_declared(container: Container) -> None:
    names = set(metadata.tables)
    with container.engine.connect() as connection:
        differences = compare_metadata(MigrationContext.configure(connection), metadata)

    def concerns_ours(difference: Any) -> bool:
        flat = difference if isinstance(difference, tuple) else difference[0]
        return any(
            getattr(part, "name", part) in names or getattr(getattr(part, "table", None), "name", None) in names
            for part in flat
        )

    assert names == {"household_contacts", "notification_outbox", "notification_deliveries", "notification_attachments"}
    assert [difference for difference in differences if concerns_ours(difference)] == []


# -- enqueue --------------------------------------------------------------------------------------


def test_a_message_is_kept_exactly_as_written_and_due_at_once(outbox: SqlOutbox) -> None:
    message_id = outbox.enqueue(reminder())

    assert message_id is not None
    stored = outbox.message(message_id)
    assert stored is not None
    assert (stored.subject, stored.body) == ("供热费催缴提醒", "您的供热费 1944.37 元已逾期 30 天。")
    assert stored.amount_yuan == Decimal("1944.37")
    assert (stored.kind, stored.channel, stored.language) == (
        MessageKind.REMINDER,
        ContactChannel.WEBHOOK,
        MessageLanguage.ZH,
    )
    assert (stored.status, stored.attempts, stored.next_attempt_at, stored.created_at) == (
        MessageStatus.PENDING,
        0,
        START,
        START,
    )
    assert (stored.claimed_until, stored.delivered_at, stored.last_error) == (None, None, None)
    assert stored.correlation_id == UUID("00000000-0000-4000-8000-000000000001")


def test_a_dedup_key_is_written_once_ever(outbox: SqlOutbox) -> None:
    first = outbox.enqueue(reminder())
    again = outbox.enqueue(reminder(body="changed text"))
    next_stage = outbox.enqueue(reminder(stage_days=60))

    assert first is not None and again is None and next_stage not in (None, first)
    assert outbox.counts()[MessageStatus.PENDING] == 2
    assert outbox.message(first).body == "您的供热费 1944.37 元已逾期 30 天。"  # type: ignore[union-attr]


def test_the_keys_written_are_found_among_many(outbox: SqlOutbox) -> None:
    written = [reminder(f"A-{number:04d}").dedup_key for number in range(0, 1200, 7)]
    for number in range(0, 1200, 7):
        outbox.enqueue(reminder(f"A-{number:04d}"))
    asked = [reminder(f"A-{number:04d}").dedup_key for number in range(1200)]  # more than one chunk

    assert outbox.written(asked) == set(written)
    assert outbox.written([]) == set()
    assert outbox.written(["reminder:never"]) == set()


def test_the_same_reminder_written_concurrently_is_kept_once(outbox: SqlOutbox) -> None:
    with ThreadPoolExecutor(max_workers=6) as pool:
        results = list(pool.map(lambda _: outbox.enqueue(reminder()), range(12)))

    assert len([result for result in results if result is not None]) == 1
    assert outbox.counts()[MessageStatus.PENDING] == 1


def test_a_field_longer_than_its_column_is_refused_on_both_backends(outbox: SqlOutbox) -> None:
    with pytest.raises(InvalidInputError) as refused:
        outbox.enqueue(reminder(subject="提" * 301))

    assert refused.value.params["field"] == "subject"
    assert outbox.counts()[MessageStatus.PENDING] == 0


# -- claims ---------------------------------------------------------------------------------------


def test_only_due_messages_are_claimed_and_a_claim_holds_them(outbox: SqlOutbox, clock: Clock) -> None:
    first = outbox.enqueue(reminder("A-1"))
    clock.advance(10)
    second = outbox.enqueue(reminder("A-2"))
    clock.advance(-5)  # the second is not due yet

    claimed = outbox.claim_due(10, LEASE_SECONDS)

    assert [message.message_id for message in claimed] == [first]
    assert claimed[0].status is MessageStatus.SENDING
    assert claimed[0].claimed_until == START + timedelta(seconds=5 + LEASE_SECONDS)
    assert outbox.claim_due(10, LEASE_SECONDS) == []  # held, and the second still not due
    clock.advance(5)
    assert [message.message_id for message in outbox.claim_due(10, LEASE_SECONDS)] == [second]


def test_a_claim_takes_at_most_the_limit_oldest_first(outbox: SqlOutbox, clock: Clock) -> None:
    written = []
    for number in range(5):
        written.append(outbox.enqueue(reminder(f"B-{number}")))
        clock.advance(1)

    assert [message.message_id for message in outbox.claim_due(2, LEASE_SECONDS)] == written[:2]
    assert [message.message_id for message in outbox.claim_due(10, LEASE_SECONDS)] == written[2:]


def test_a_message_a_crashed_worker_held_is_claimed_again_after_its_lease(outbox: SqlOutbox, clock: Clock) -> None:
    message_id = outbox.enqueue(reminder())
    assert len(outbox.claim_due(1, LEASE_SECONDS)) == 1  # a worker claims it, then dies

    clock.advance(LEASE_SECONDS)
    assert outbox.claim_due(1, LEASE_SECONDS) == []  # the lease has not passed yet
    clock.advance(1)
    reclaimed = outbox.claim_due(1, LEASE_SECONDS)

    assert [message.message_id for message in reclaimed] == [message_id]
    assert reclaimed[0].claimed_until == clock.now + timedelta(seconds=LEASE_SECONDS)


def test_two_workers_claiming_at_once_never_get_the_same_message(container: Container, clock: Clock) -> None:
    writer = SqlOutbox(container.engine, clock)
    written = {writer.enqueue(reminder(f"C-{number:02d}")) for number in range(40)}
    workers = [SqlOutbox(container.engine, clock) for _ in range(4)]

    def claim_all(worker: SqlOutbox) -> list[UUID]:
        taken: list[UUID] = []
        for _ in range(40):
            batch = worker.claim_due(3, LEASE_SECONDS)
            if not batch:
                break
            taken.extend(message.message_id for message in batch)
        return taken

    with ThreadPoolExecutor(max_workers=4) as pool:
        claims = list(pool.map(claim_all, workers))

    every_claim = [message_id for claim in claims for message_id in claim]
    assert len(every_claim) == len(set(every_claim))  # nobody got a message twice
    assert set(every_claim) == written  # and every message was claimed by somebody


# -- attempts -------------------------------------------------------------------------------------


def test_attempts_move_the_message_and_are_all_kept_in_order(outbox: SqlOutbox, clock: Clock) -> None:
    message_id = outbox.enqueue(reminder())
    assert message_id is not None
    outbox.claim_due(1, LEASE_SECONDS)
    retry_at = START + timedelta(seconds=30)
    outbox.record_attempt(message_id, DeliveryOutcome.RETRY, "HTTP 503", 120, retry_at)

    after_retry = outbox.message(message_id)
    assert after_retry is not None
    assert (after_retry.status, after_retry.attempts, after_retry.next_attempt_at) == (
        MessageStatus.PENDING,
        1,
        retry_at,
    )
    assert (after_retry.last_error, after_retry.claimed_until) == ("HTTP 503", None)
    assert outbox.claim_due(1, LEASE_SECONDS) == []  # not due before its retry time

    clock.now = retry_at
    outbox.claim_due(1, LEASE_SECONDS)
    outbox.record_attempt(message_id, DeliveryOutcome.DELIVERED, "HTTP 200", 80, None)

    delivered = outbox.message(message_id)
    assert delivered is not None
    assert (delivered.status, delivered.attempts, delivered.delivered_at, delivered.last_error) == (
        MessageStatus.DELIVERED,
        2,
        retry_at,
        None,
    )
    history = outbox.deliveries(message_id)
    assert [(record.attempt, record.outcome, record.detail, record.duration_ms) for record in history] == [
        (1, DeliveryOutcome.RETRY, "HTTP 503", 120),
        (2, DeliveryOutcome.DELIVERED, "HTTP 200", 80),
    ]
    assert [record.attempted_at for record in history] == [START, retry_at]
    assert outbox.claim_due(1, LEASE_SECONDS) == []  # delivered messages are never claimed again


def test_an_attempt_on_a_message_that_was_not_claimed_is_refused(outbox: SqlOutbox) -> None:
    message_id = outbox.enqueue(reminder())
    assert message_id is not None

    with pytest.raises(AssertionError):
        outbox.record_attempt(message_id, DeliveryOutcome.DELIVERED, "HTTP 200", 5, None)
    assert outbox.deliveries(message_id) == []


# -- requeue --------------------------------------------------------------------------------------


def dead_message(outbox: SqlOutbox) -> UUID:
    message_id = outbox.enqueue(reminder())
    assert message_id is not None
    outbox.claim_due(1, LEASE_SECONDS)
    outbox.record_attempt(message_id, DeliveryOutcome.DEAD, "HTTP 400: refused (permanent)", 10, None)
    return message_id


def test_a_dead_message_is_requeued_with_fresh_attempts_and_the_history_kept(outbox: SqlOutbox, clock: Clock) -> None:
    message_id = dead_message(outbox)
    clock.advance(3600)

    requeued = outbox.requeue(message_id, "clerk-wang", "gateway fixed the number format")

    assert (requeued.status, requeued.attempts, requeued.next_attempt_at) == (MessageStatus.PENDING, 0, clock.now)
    assert [(record.outcome, record.detail) for record in outbox.deliveries(message_id)] == [
        (DeliveryOutcome.DEAD, "HTTP 400: refused (permanent)"),
        (DeliveryOutcome.REQUEUED, "clerk-wang: gateway fixed the number format"),
    ]
    assert [message.message_id for message in outbox.claim_due(1, LEASE_SECONDS)] == [message_id]


def test_only_a_dead_message_is_requeued(outbox: SqlOutbox) -> None:
    pending = outbox.enqueue(reminder())
    assert pending is not None

    with pytest.raises(ConflictError) as conflict:
        outbox.requeue(pending, "clerk-wang", "try again")
    with pytest.raises(NotFoundError):
        outbox.requeue(uuid4(), "clerk-wang", "try again")
    with pytest.raises(InvalidInputError):
        outbox.requeue(dead_message_of(outbox), "clerk-wang", "  ")

    assert conflict.value.params["status"] == "pending"
    assert outbox.deliveries(pending) == []


def dead_message_of(outbox: SqlOutbox) -> UUID:
    message_id = outbox.enqueue(reminder("D-1"))
    assert message_id is not None
    outbox.claim_due(10, LEASE_SECONDS)
    outbox.record_attempt(message_id, DeliveryOutcome.DEAD, "HTTP 404", 1, None)
    return message_id


# -- reading --------------------------------------------------------------------------------------


def test_messages_are_listed_newest_first_by_status_and_household(outbox: SqlOutbox, clock: Clock) -> None:
    ids: list[UUID | None] = []
    for account_number in ("E-1", "E-2", "E-1", "E-3"):
        ids.append(outbox.enqueue(reminder(account_number, stage_days=len(ids) * 10)))
        clock.advance(1)
    outbox.claim_due(1, LEASE_SECONDS)  # the oldest
    assert ids[0] is not None
    outbox.record_attempt(ids[0], DeliveryOutcome.DELIVERED, "HTTP 200", 3, None)

    assert [message.message_id for message in outbox.messages()] == ids[::-1]
    assert [message.message_id for message in outbox.messages(limit=2, offset=1)] == [ids[2], ids[1]]
    assert [message.message_id for message in outbox.messages(account_number="E-1")] == [ids[2], ids[0]]
    assert [message.message_id for message in outbox.messages(status=MessageStatus.DELIVERED)] == [ids[0]]
    assert [message.message_id for message in outbox.messages(status="pending", account_number="E-1")] == [ids[2]]
    assert outbox.counts() == {"pending": 3, "sending": 0, "delivered": 1, "dead": 0}
    assert outbox.message(uuid4()) is None


# -- the contact book -----------------------------------------------------------------------------


def test_a_contact_is_set_replaced_and_read(contacts: SqlContactBook, clock: Clock, container: Container) -> None:
    first = Contact("0101-0203", ContactChannel.WEBHOOK, "+8613800138000", MessageLanguage.ZH)
    contacts.set_contact(first, "clerk-wang")
    clock.advance(60)
    replaced = Contact("0101-0203", ContactChannel.EMAIL, "wang.fang@example.cn", MessageLanguage.EN)
    contacts.set_contact(replaced, "clerk-li")
    contacts.set_contact(Contact("0101-0204", ContactChannel.WEBHOOK, "oUpF8uMu_2px", MessageLanguage.ZH), "clerk-li")

    assert contacts.contact("0101-0203") == replaced
    assert contacts.contact("0909-0909") is None
    assert set(contacts.contacts(["0101-0203", "0101-0204", "0909-0909", "0101-0203"])) == {"0101-0203", "0101-0204"}
    with container.engine.connect() as connection:
        row = connection.execute(
            select(household_contacts).where(household_contacts.c.account_number == "0101-0203")
        ).one()
    assert (row.updated_by, row.updated_at) == ("clerk-li", START + timedelta(seconds=60))


def test_a_new_contact_set_by_many_clerks_at_once_is_one_of_theirs(contacts: SqlContactBook) -> None:
    # Every clerk's first statement finds no row and inserts; the losers' second try updates.
    offered = [
        Contact("0101-0205", ContactChannel.WEBHOOK, f"+86138001380{number:02d}", MessageLanguage.ZH)
        for number in range(12)
    ]
    with ThreadPoolExecutor(max_workers=12) as pool:
        list(pool.map(lambda contact: contacts.set_contact(contact, "clerk-wang"), offered))

    assert contacts.contact("0101-0205") in offered


def test_an_address_that_does_not_suit_its_channel_is_not_stored(contacts: SqlContactBook) -> None:
    with pytest.raises(InvalidInputError) as refused:
        contacts.set_contact(Contact("0101-0203", ContactChannel.EMAIL, "+8613800138000", MessageLanguage.ZH), "clerk")

    assert (refused.value.message_key, refused.value.params["field"]) == ("contact_address_invalid", "address")
    assert contacts.contact("0101-0203") is None


def test_a_contact_is_forgotten_on_request(contacts: SqlContactBook) -> None:
    contacts.set_contact(Contact("0101-0203", ContactChannel.WEBHOOK, "+8613800138000", MessageLanguage.ZH), "clerk")
    contacts.set_contact(Contact("0101-0204", ContactChannel.WEBHOOK, "+8613900139000", MessageLanguage.ZH), "clerk")

    assert contacts.forget("0101-0203", "clerk-wang") is True
    assert contacts.forget("0101-0203", "clerk-wang") is False

    assert contacts.contact("0101-0203") is None
    assert contacts.contacts(["0101-0203", "0101-0204"]).keys() == {"0101-0204"}


def test_many_contacts_are_looked_up_in_chunks(contacts: SqlContactBook) -> None:
    for number in range(3):
        contacts.set_contact(
            Contact(f"F-{number}", ContactChannel.WEBHOOK, f"+86139{number:08d}", MessageLanguage.ZH), "c"
        )
    wanted = [f"F-{number}" for number in range(1200)]  # more than one IN list's chunk

    assert set(contacts.contacts(wanted)) == {"F-0", "F-1", "F-2"}


def test_the_delivery_log_is_empty_for_a_fresh_store(container: Container) -> None:
    with container.engine.connect() as connection:
        assert connection.execute(select(notification_deliveries)).all() == []


def test_a_batch_is_written_once_per_key_with_the_ones_already_there_left_alone(outbox: SqlOutbox) -> None:
    first = outbox.enqueue(reminder("A-2"))
    assert first is not None
    batch = [reminder("A-1"), reminder("A-2", body="changed"), reminder("A-3", amount_yuan=Decimal("-35.02"))]
    ids = outbox.enqueue_all(batch)
    assert ids[1] is None and None not in (ids[0], ids[2])
    held = {message.account_number: message for message in outbox.messages()}
    assert sorted(held) == ["A-1", "A-2", "A-3"]
    assert (held["A-1"].message_id, held["A-3"].message_id) == (ids[0], ids[2])
    assert held["A-2"].message_id == first and held["A-2"].body != "changed"
    assert held["A-3"].amount_yuan == Decimal("-35.02")  # a credit keeps its sign
    assert outbox.enqueue_all(batch) == [None, None, None]
    assert outbox.enqueue_all([]) == []


def test_a_batch_that_meets_a_key_written_meanwhile_writes_the_others(
    outbox: SqlOutbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Another pass writes A-2 between this batch's look-up and its insert: the batch's insert
    # fails on the key, and the batch is written one message at a time.
    looked_up = outbox.written
    monkeypatch.setattr(outbox, "written", lambda keys: (looked_up(keys), outbox.enqueue(reminder("A-2")))[0])
    ids = outbox.enqueue_all([reminder("A-1"), reminder("A-2"), reminder("A-3")])
    assert ids[1] is None and None not in (ids[0], ids[2])
    assert sorted(message.account_number for message in outbox.messages()) == ["A-1", "A-2", "A-3"]
