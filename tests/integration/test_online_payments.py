"""The online payment channel through its service, on SQLite and PostgreSQL: payment orders, signed
notifications booked once, refused notifications logged in the security log, booking nothing, and
a clerk's resolution of a flagged order (accepted at the amount received, or rejected), once."""

from __future__ import annotations

import json
import threading
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any
from uuid import uuid4

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import func, select

from application.authorization import SYSTEM, Principal, Role
from application.payments import PaymentOutcome
from domain import ids
from domain.errors import ConflictError, InvalidInputError, NotFoundError, PermissionDeniedError
from domain.payment import Payment, PaymentChannel
from infrastructure.container import Container
from infrastructure.nbiot import security_events
from infrastructure.online_payments import (
    ORDER_NUMBER_PATTERN,
    Answer,
    HmacJsonAdapter,
    NotificationAdapter,
    NotificationRefused,
    OnlinePayments,
    Order,
    OrderStatus,
    Refusal,
    Resolution,
    merchant_key,
    sign,
)
from projections.payment_orders import payment_orders
from projections.tables import metadata
from projections.tables import payments as payments_table
from tests.strategies import register_household

D = Decimal
NOW = datetime(2025, 12, 10, 4, 0, tzinfo=UTC)  # noon in Asia/Shanghai
NOW_S = int(NOW.timestamp())
PROVIDER = "hmac-json"
CLERK = Principal("clerk-wang", Role.CLERK)
ACCOUNT = "WZ-0001"


@pytest.fixture
def online(container: Container) -> OnlinePayments:
    register_household(container.ledger, ACCOUNT)
    return OnlinePayments(container.engine, container.ledger, container.settings.secret_key, clock=lambda: NOW)


@pytest.fixture
def order(online: OnlinePayments) -> Order:
    return online.create_order(CLERK, ACCOUNT, D("1944.00"), PROVIDER)


def body_of(order_number: str, amount: Any = "1944.00", currency: str = "CNY", **changes: Any) -> bytes:
    document = {
        "merchant_order_number": order_number,
        "transaction_id": "4200001234202512101234567890",
        "amount_yuan": amount,
        "currency": currency,
        "paid_at": "2025-12-10T11:59:30+08:00",
        **changes,
    }
    return json.dumps(document).encode()


def signed(container: Container, body: bytes, timestamp: int = NOW_S, provider: str = PROVIDER) -> dict[str, str]:
    key = merchant_key(container.settings.secret_key, provider)
    return {"X-Pay-Timestamp": str(timestamp), "X-Pay-Signature": sign(key, str(timestamp), body)}


def notify(
    online: OnlinePayments, container: Container, body: bytes, provider: str = PROVIDER, **header_changes: str
) -> Any:
    headers = {**signed(container, body, provider=provider), **header_changes}
    return online.handle_notification(provider, headers, body, "203.0.113.7")


def events(container: Container) -> int:
    """Events of the ledger other than the orders' own: a notification that books nothing leaves
    this unchanged (flagging an order is an event of the order, not a booking)."""
    notifications = container.ledger.recorder.select_notifications(start=1, limit=100_000)
    return sum(1 for notification in notifications if ".payment_order:" not in notification.topic)


def refusals(container: Container) -> list[tuple[str, str, str | None]]:
    statement = select(security_events.c.channel, security_events.c.reason, security_events.c.remote_address)
    with container.engine.connect() as connection:
        return [tuple(row) for row in connection.execute(statement.order_by(security_events.c.event_id))]


def payment_of(container: Container, order_number: str, provider: str = PROVIDER) -> Payment | None:
    return container.ledger.load_or_none(Payment, ids.payment_id(provider, order_number))


# -- orders ---------------------------------------------------------------------------------------


def test_an_order_has_a_number_of_ours_and_waits_for_its_notification(online: OnlinePayments, order: Order) -> None:
    assert ORDER_NUMBER_PATTERN.fullmatch(order.order_number)
    assert order.order_number.startswith("HL20251210")
    assert len(order.order_number) == 22
    assert (order.status, order.amount_yuan, order.account_number, order.provider) == (
        OrderStatus.OPEN,
        D("1944.00"),
        ACCOUNT,
        PROVIDER,
    )
    assert (order.created_by, order.created_at, order.payment_id) == ("clerk-wang", NOW, None)
    assert online.order(order.order_number) == order
    other = online.create_order(CLERK, ACCOUNT, D("1944.00"), PROVIDER)
    assert other.order_number != order.order_number


def test_an_order_keeps_its_amount_exactly(online: OnlinePayments) -> None:
    order = online.create_order(CLERK, ACCOUNT, D("999999.99"), PROVIDER)
    assert online.order(order.order_number).amount_yuan == D("999999.99")
    assert str(online.create_order(CLERK, ACCOUNT, D("12.3"), PROVIDER).amount_yuan) == "12.30"


@pytest.mark.parametrize(
    ("amount", "currency", "message_key"),
    [
        (D(0), "CNY", "amount_not_positive"),
        (D("-5.00"), "CNY", "amount_not_positive"),
        (D("12.345"), "CNY", "amount_too_precise"),
        (D("1000000.01"), "CNY", "amount_too_large"),
        (D("12.34"), "USD", "currency_unsupported"),
    ],
)
def test_an_order_takes_payments_as_the_ledger_does(
    online: OnlinePayments, amount: Decimal, currency: str, message_key: str
) -> None:
    with pytest.raises(InvalidInputError) as raised:
        online.create_order(CLERK, ACCOUNT, amount, PROVIDER, currency=currency)
    assert raised.value.message_key == message_key


def test_an_order_needs_a_household_a_provider_and_a_role_that_takes_payments(online: OnlinePayments) -> None:
    with pytest.raises(NotFoundError) as missing:
        online.create_order(CLERK, "WZ-9999", D("10.00"), PROVIDER)
    assert missing.value.params["kind"] == "household"
    with pytest.raises(InvalidInputError) as unknown:
        online.create_order(CLERK, ACCOUNT, D("10.00"), "alipay-direct")
    assert unknown.value.message_key == "payment_provider_unknown"
    for role in (Role.AUDITOR, Role.DEVICE, Role.CUSTOMER_SERVICE, Role.PAYMENT_GATEWAY):
        with pytest.raises(PermissionDeniedError):
            online.create_order(Principal("someone", role), ACCOUNT, D("10.00"), PROVIDER)
    with pytest.raises(NotFoundError) as no_order:
        online.order("HL20251210AAAAAAAAAAAA")
    assert no_order.value.params["kind"] == "payment_order"


# -- notifications booked ---------------------------------------------------------------------------


def test_a_signed_notification_books_one_payment_and_pays_the_order(
    online: OnlinePayments, container: Container
) -> None:
    bill_id = uuid4()
    order = online.create_order(CLERK, ACCOUNT, D("1944.00"), PROVIDER, named_bill_id=bill_id)

    outcome = notify(online, container, body_of(order.order_number))

    assert (outcome.status_code, outcome.content_type, outcome.recorded) == (200, "application/json", True)
    assert json.loads(outcome.body) == {"code": "SUCCESS", "message": "OK"}
    payment = payment_of(container, order.order_number)
    assert payment is not None and outcome.payment_id == payment.id
    assert (payment.amount_yuan, payment.channel, payment.source, payment.reference) == (
        D("1944.00"),
        PaymentChannel.ONLINE,
        PROVIDER,
        order.order_number,
    )
    assert (payment.account_number, payment.named_bill_id) == (ACCOUNT, bill_id)
    paid = online.order(order.order_number)
    assert (paid.status, paid.payment_id, paid.transaction_id) == (
        OrderStatus.PAID,
        payment.id,
        "4200001234202512101234567890",
    )
    assert paid.paid_at == datetime(2025, 12, 10, 3, 59, 30, tzinfo=UTC)
    assert refusals(container) == []


def test_the_payment_is_recorded_by_the_provider_s_account(online: OnlinePayments, container: Container) -> None:
    order = online.create_order(CLERK, ACCOUNT, D("10.00"), PROVIDER)
    notify(online, container, body_of(order.order_number, "10.00"))
    payment = payment_of(container, order.order_number)
    assert payment is not None
    [received] = list(container.ledger.events.get(payment.id))
    assert isinstance(received, Payment.Received)
    assert (received.actor, received.reason) == (
        "provider:hmac-json",
        "online payment, transaction 4200001234202512101234567890",
    )


def test_a_redelivered_notification_is_answered_the_same_and_records_nothing(
    online: OnlinePayments, container: Container, order: Order
) -> None:
    body = body_of(order.order_number)
    first = notify(online, container, body)
    recorded = events(container)

    again = notify(online, container, body)
    # A replay within the window, signed at another second, is a redelivery too.
    replayed = online.handle_notification(PROVIDER, signed(container, body, NOW_S - 200), body, None)

    for repeat in (again, replayed):
        assert (repeat.status_code, repeat.body, repeat.content_type) == (
            first.status_code,
            first.body,
            first.content_type,
        )
        assert (repeat.recorded, repeat.payment_id) == (False, first.payment_id)
    assert events(container) == recorded
    assert online.order(order.order_number).status is OrderStatus.PAID
    assert refusals(container) == []


def test_an_amount_written_as_a_json_number_is_read_exactly(
    online: OnlinePayments, container: Container, order: Order
) -> None:
    body = body_of(order.order_number).replace(b'"1944.00"', b"1944.00")
    assert notify(online, container, body).recorded
    payment = payment_of(container, order.order_number)
    assert payment is not None and payment.amount_yuan == D("1944.00")


# -- notifications refused --------------------------------------------------------------------------


@pytest.mark.parametrize(
    "headers",
    [
        pytest.param({"X-Pay-Signature": "0" * 64}, id="wrong"),
        pytest.param({"X-Pay-Signature": ""}, id="empty"),
        pytest.param({"X-Pay-Timestamp": str(NOW_S + 1)}, id="timestamp-changed"),
        pytest.param({"X-Pay-Timestamp": "soon"}, id="timestamp-unreadable"),
    ],
)
def test_a_badly_signed_notification_is_refused_logged_and_books_nothing(
    online: OnlinePayments, container: Container, order: Order, headers: dict[str, str]
) -> None:
    before = events(container)
    with pytest.raises(NotificationRefused) as refused:
        notify(online, container, body_of(order.order_number), **headers)
    assert refused.value.reason is Refusal.INVALID_SIGNATURE
    assert refusals(container) == [("payment:hmac-json", "invalid_signature", "203.0.113.7")]
    assert events(container) == before
    assert payment_of(container, order.order_number) is None
    assert online.order(order.order_number).status is OrderStatus.OPEN


def test_an_unsigned_notification_or_one_signed_with_another_key_is_refused(
    online: OnlinePayments, container: Container, order: Order
) -> None:
    body = body_of(order.order_number)
    with pytest.raises(NotificationRefused):
        online.handle_notification(PROVIDER, {}, body, None)
    # Signed with the merchant key of another provider (or of another server's secret key).
    wrong_key = merchant_key("another server's secret key", PROVIDER)
    headers = {"x-pay-timestamp": str(NOW_S), "x-pay-signature": sign(wrong_key, str(NOW_S), body)}
    with pytest.raises(NotificationRefused):
        online.handle_notification(PROVIDER, headers, body, None)
    assert [reason for _, reason, _ in refusals(container)] == ["invalid_signature", "invalid_signature"]
    assert payment_of(container, order.order_number) is None


@pytest.mark.parametrize("offset", [-301, 301, -86_400])
def test_a_notification_signed_outside_the_replay_window_is_refused(
    online: OnlinePayments, container: Container, order: Order, offset: int
) -> None:
    body = body_of(order.order_number)
    with pytest.raises(NotificationRefused) as refused:
        online.handle_notification(PROVIDER, signed(container, body, NOW_S + offset), body, None)
    assert refused.value.reason is Refusal.STALE_TIMESTAMP
    assert [reason for _, reason, _ in refusals(container)] == ["stale_timestamp"]
    assert payment_of(container, order.order_number) is None


def test_the_edges_of_the_replay_window_are_inside(online: OnlinePayments, container: Container) -> None:
    for offset in (-300, 300):
        order = online.create_order(CLERK, ACCOUNT, D("10.00"), PROVIDER)
        body = body_of(order.order_number, "10.00")
        assert online.handle_notification(PROVIDER, signed(container, body, NOW_S + offset), body, None).recorded


def test_an_amount_other_than_the_order_s_flags_the_order_and_books_nothing(
    online: OnlinePayments, container: Container, order: Order
) -> None:
    before = events(container)
    with pytest.raises(ConflictError) as raised:
        notify(online, container, body_of(order.order_number, "1.00"))
    assert raised.value.message_key == "payment_amount_mismatch"
    assert raised.value.params == {
        "order_number": order.order_number,
        "amount_yuan": "1.00",
        "expected_yuan": "1944.00",
    }
    flagged = online.order(order.order_number)
    assert (flagged.status, flagged.flagged_at, flagged.payment_id) == (OrderStatus.FLAGGED, NOW, None)
    assert flagged.flagged_reason == "amount_mismatch: notified 1.00 元, ordered 1944.00 元"
    assert refusals(container) == [("payment:hmac-json", "amount_mismatch", "203.0.113.7")]
    assert events(container) == before
    assert payment_of(container, order.order_number) is None

    # A flagged order books nothing until a person has looked at it, even at the right amount.
    with pytest.raises(ConflictError) as still_flagged:
        notify(online, container, body_of(order.order_number))
    assert still_flagged.value.message_key == "payment_order_flagged"
    assert payment_of(container, order.order_number) is None
    assert events(container) == before


def test_a_paid_order_notified_again_with_another_amount_is_flagged_and_keeps_its_payment(
    online: OnlinePayments, container: Container, order: Order
) -> None:
    first = notify(online, container, body_of(order.order_number))
    recorded = events(container)
    with pytest.raises(ConflictError):
        notify(online, container, body_of(order.order_number, "1945.00"))
    flagged = online.order(order.order_number)
    assert (flagged.status, flagged.payment_id) == (OrderStatus.FLAGGED, first.payment_id)
    # The original notification delivered again is still answered as before, booking nothing.
    again = notify(online, container, body_of(order.order_number))
    assert (again.status_code, again.recorded, again.payment_id) == (200, False, first.payment_id)
    assert events(container) == recorded


@pytest.mark.parametrize(
    ("amount", "currency", "message_key"),
    [
        ("0", "CNY", "amount_not_positive"),
        ("0.00", "CNY", "amount_not_positive"),
        ("-1944.00", "CNY", "amount_not_positive"),
        ("12.345", "CNY", "amount_too_precise"),
        ("1944.001", "CNY", "amount_too_precise"),
        ("1944.00", "USD", "currency_unsupported"),
        ("1944.00", "", "payment_notification_field_invalid"),
        ("1e3", "CNY", "payment_notification_field_invalid"),
        ("1e999999999", "CNY", "payment_notification_field_invalid"),
        ("NaN", "CNY", "payment_notification_field_invalid"),
        ("abc", "CNY", "payment_notification_field_invalid"),
        (True, "CNY", "payment_notification_field_invalid"),
        (None, "CNY", "payment_notification_field_invalid"),
    ],
)
def test_an_amount_or_currency_the_ledger_does_not_take_is_refused_clearly(
    online: OnlinePayments, container: Container, order: Order, amount: Any, currency: str, message_key: str
) -> None:
    before = events(container)
    with pytest.raises(InvalidInputError) as raised:
        notify(online, container, body_of(order.order_number, amount, currency))
    assert raised.value.message_key == message_key
    assert events(container) == before
    assert online.order(order.order_number).status is OrderStatus.OPEN


@pytest.mark.parametrize(
    ("body", "message_key", "field"),
    [
        (b"not json", "payment_notification_unreadable", None),
        (b"[1, 2]", "payment_notification_unreadable", None),
        (b'{"amount_yuan": NaN}', "payment_notification_unreadable", None),
        (b"\xff\xfe", "payment_notification_unreadable", None),
        (body_of("HL1", paid_at="2025-12-10T11:59:30"), "payment_notification_field_invalid", "paid_at"),
        (body_of("HL1", paid_at="yesterday"), "payment_notification_field_invalid", "paid_at"),
        (body_of("HL1", transaction_id=""), "payment_notification_field_invalid", "transaction_id"),
        (body_of("HL1", transaction_id="x\x00y"), "payment_notification_field_invalid", "transaction_id"),
        (body_of("H" * 65), "payment_notification_field_invalid", "merchant_order_number"),
        (body_of(42), "payment_notification_field_invalid", "merchant_order_number"),  # type: ignore[arg-type]
    ],
)
def test_a_body_that_is_not_a_notification_is_refused_clearly(
    online: OnlinePayments, container: Container, body: bytes, message_key: str, field: str | None
) -> None:
    with pytest.raises(InvalidInputError) as raised:
        notify(online, container, body)
    assert raised.value.message_key == message_key
    assert raised.value.params.get("field") == field


def test_a_notification_of_an_unknown_order_is_not_found(online: OnlinePayments, container: Container) -> None:
    for number in ("HL20251210AAAAAAAAAAAA", "someone-else's-order"):
        with pytest.raises(NotFoundError) as raised:
            notify(online, container, body_of(number))
        assert raised.value.params == {"kind": "payment_order", "key": number}
    assert refusals(container) == []


def test_an_unknown_provider_is_not_found_and_logged(
    online: OnlinePayments, container: Container, order: Order
) -> None:
    body = body_of(order.order_number)
    with pytest.raises(NotFoundError) as raised:
        online.handle_notification("wechat\x00", signed(container, body, provider="wechat"), body, "198.51.100.2")
    assert raised.value.params["kind"] == "payment_provider"
    assert refusals(container) == [("payment:wechat\\x00", "unknown_provider", "198.51.100.2")]
    assert payment_of(container, order.order_number) is None


def test_a_provider_cannot_pay_another_provider_s_order(container: Container) -> None:
    register_household(container.ledger, ACCOUNT)
    adapters = {name: HmacJsonAdapter(name) for name in (PROVIDER, "aggregator")}
    online = OnlinePayments(container.engine, container.ledger, container.settings.secret_key, adapters, lambda: NOW)
    order = online.create_order(CLERK, ACCOUNT, D("10.00"), PROVIDER)
    body = body_of(order.order_number, "10.00")

    with pytest.raises(ConflictError) as raised:
        notify(online, container, body, provider="aggregator")

    assert raised.value.message_key == "payment_order_provider_mismatch"
    assert refusals(container) == [("payment:aggregator", "provider_mismatch", "203.0.113.7")]
    assert payment_of(container, order.order_number, "aggregator") is None
    assert online.order(order.order_number).status is OrderStatus.OPEN
    # Each provider has its own merchant key: the other's signature does not pass.
    with pytest.raises(NotificationRefused):
        online.handle_notification("aggregator", signed(container, body), body, None)


def test_headers_are_read_whatever_their_case(online: OnlinePayments, container: Container, order: Order) -> None:
    body = body_of(order.order_number)
    headers = {name.upper(): value for name, value in signed(container, body).items()}
    assert online.handle_notification(PROVIDER, headers, body, None).recorded


# -- keys, signatures and the table -----------------------------------------------------------------


def test_the_merchant_key_is_derived_per_provider_and_server() -> None:
    key = merchant_key("s3cret", PROVIDER)
    assert len(key) == 64 and int(key, 16) >= 0
    assert key != merchant_key("s3cret", "aggregator")
    assert key != merchant_key("another", PROVIDER)
    # docs/payments.md's check vectors: tests/unit/infrastructure/test_signing.py (one set of tests).


def test_the_migration_creates_the_order_table_as_declared(container: Container) -> None:
    with container.engine.connect() as connection:
        differences = compare_metadata(MigrationContext.configure(connection), metadata)

    def concerns_orders(difference: Any) -> bool:
        flat = difference if isinstance(difference, tuple) else difference[0]
        return any(
            getattr(part, "name", part) == "payment_orders"
            or getattr(getattr(part, "table", None), "name", None) == "payment_orders"
            for part in flat
        )

    assert [difference for difference in differences if concerns_orders(difference)] == []
    with container.engine.connect() as connection:
        assert connection.execute(select(func.count()).select_from(payment_orders)).scalar_one() == 0


def test_the_system_may_create_orders_too(online: OnlinePayments) -> None:
    assert online.create_order(SYSTEM, ACCOUNT, D("1.00"), PROVIDER).created_by == "system"


class PlainSuccessAdapter(HmacJsonAdapter):
    """A provider that wants the plain text ``success`` back (as Alipay does)."""

    def answer(self, outcome: PaymentOutcome) -> Answer:
        return Answer(200, "text/plain", b"success")


class UndatedAdapter(HmacJsonAdapter):
    """A provider whose notifications carry no time of signing."""

    def timestamp(self, body: bytes, headers: Mapping[str, str]) -> datetime | None:
        return None


def test_a_provider_is_one_more_adapter_with_its_own_answer(container: Container) -> None:
    register_household(container.ledger, ACCOUNT)
    adapters: dict[str, NotificationAdapter] = {
        "plain": PlainSuccessAdapter("plain"),
        "undated": UndatedAdapter("undated"),
    }
    online = OnlinePayments(container.engine, container.ledger, container.settings.secret_key, adapters, lambda: NOW)
    order = online.create_order(CLERK, ACCOUNT, D("10.00"), "plain")
    body = body_of(order.order_number, "10.00")

    first = notify(online, container, body, provider="plain")
    again = notify(online, container, body, provider="plain")

    assert (first.status_code, first.content_type, first.body, first.recorded) == (200, "text/plain", b"success", True)
    assert (again.body, again.recorded) == (b"success", False)
    payment = payment_of(container, order.order_number, "plain")
    assert payment is not None and payment.source == "plain"

    undated = online.create_order(CLERK, ACCOUNT, D("10.00"), "undated")
    with pytest.raises(NotificationRefused) as refused:
        notify(online, container, body_of(undated.order_number, "10.00"), provider="undated")
    assert refused.value.reason is Refusal.INVALID_TIMESTAMP
    assert refusals(container) == [("payment:undated", "invalid_timestamp", "203.0.113.7")]
    assert payment_of(container, undated.order_number, "undated") is None


def test_a_provider_name_is_part_of_a_url() -> None:
    for name in ("", "WeChat", "we chat", "x" * 33, "-wechat"):
        with pytest.raises(ValueError):
            HmacJsonAdapter(name)
    assert HmacJsonAdapter("wechat_v3-gw").name == "wechat_v3-gw"


# -- resolving a flagged order ----------------------------------------------------------------------

RECEIVED_TRANSACTION = "4200001234202512101234567890"


@pytest.fixture
def flagged(online: OnlinePayments, container: Container, order: Order) -> Order:
    """The order of 1944.00 notified with 1.00: flagged, nothing booked."""
    with pytest.raises(ConflictError):
        notify(online, container, body_of(order.order_number, "1.00"))
    return online.order(order.order_number)


def test_a_flagged_order_keeps_what_the_provider_reported(
    online: OnlinePayments, container: Container, flagged: Order
) -> None:
    assert (flagged.received_amount_yuan, flagged.received_transaction_id) == (D("1.00"), RECEIVED_TRANSACTION)
    # A further contradicting notification is refused and logged, but the order keeps the first.
    with pytest.raises(ConflictError):
        notify(online, container, body_of(flagged.order_number, "2.00", transaction_id="T-2"))
    assert online.order(flagged.order_number) == flagged
    assert [reason for _, reason, _ in refusals(container)] == ["amount_mismatch", "amount_mismatch"]
    assert [order.order_number for order in online.orders(OrderStatus.FLAGGED)] == [flagged.order_number]
    assert online.orders(OrderStatus.PAID) == [] and len(online.orders()) == 1


def test_accepting_books_the_received_amount_once_by_the_clerk_with_why(
    online: OnlinePayments, container: Container, flagged: Order
) -> None:
    resolved = online.resolve(CLERK, flagged.order_number, Resolution.ACCEPT_RECEIVED, "payer confirms 1.00 paid")

    payment = container.ledger.load_or_none(Payment, ids.payment_id(PROVIDER, RECEIVED_TRANSACTION))
    assert payment is not None
    assert (payment.amount_yuan, payment.channel, payment.source, payment.reference, payment.account_number) == (
        D("1.00"),
        PaymentChannel.ONLINE,
        PROVIDER,
        RECEIVED_TRANSACTION,
        ACCOUNT,
    )
    [received] = list(container.ledger.events.get(payment.id))
    assert isinstance(received, Payment.Received)
    assert received.actor == "clerk-wang"
    assert received.reason.endswith(f"transaction {RECEIVED_TRANSACTION}: payer confirms 1.00 paid")
    assert (resolved.status, resolved.resolution, resolved.resolved_by, resolved.resolved_at) == (
        OrderStatus.RESOLVED,
        Resolution.ACCEPT_RECEIVED,
        "clerk-wang",
        NOW,
    )
    assert (resolved.resolution_reason, resolved.resolution_payment_id) == ("payer confirms 1.00 paid", payment.id)
    assert online.orders(OrderStatus.FLAGGED) == []

    recorded = events(container)
    with pytest.raises(ConflictError) as twice:
        online.resolve(CLERK, flagged.order_number, Resolution.REJECT, "second thoughts")
    assert twice.value.message_key == "payment_order_resolved"
    # The provider redelivering the accepted notification is acknowledged; nothing new is booked.
    again = notify(online, container, body_of(flagged.order_number, "1.00"))
    assert (again.status_code, again.recorded, again.payment_id) == (200, False, payment.id)
    with pytest.raises(ConflictError) as other:
        notify(online, container, body_of(flagged.order_number))
    assert other.value.message_key == "payment_order_resolved"
    assert events(container) == recorded
    assert online.order(flagged.order_number) == resolved


def test_rejecting_books_nothing_and_records_who_and_why(
    online: OnlinePayments, container: Container, flagged: Order
) -> None:
    before = events(container)
    resolved = online.resolve(CLERK, flagged.order_number, Resolution.REJECT, "refunded through the provider")
    assert (resolved.status, resolved.resolution, resolved.resolved_by, resolved.resolution_payment_id) == (
        OrderStatus.RESOLVED,
        Resolution.REJECT,
        "clerk-wang",
        None,
    )
    assert resolved.resolution_reason == "refunded through the provider"
    with pytest.raises(ConflictError) as redelivered:
        notify(online, container, body_of(flagged.order_number, "1.00"))
    assert redelivered.value.message_key == "payment_order_resolved"
    assert events(container) == before
    assert container.ledger.load_or_none(Payment, ids.payment_id(PROVIDER, RECEIVED_TRANSACTION)) is None


def test_only_a_flagged_order_is_resolved_by_a_role_that_takes_payments_with_a_reason(
    online: OnlinePayments, container: Container, order: Order, flagged: Order
) -> None:
    fresh = online.create_order(CLERK, ACCOUNT, D("10.00"), PROVIDER)
    with pytest.raises(ConflictError) as open_order:
        online.resolve(CLERK, fresh.order_number, Resolution.REJECT, "looks odd")
    assert (open_order.value.message_key, open_order.value.params["status"]) == ("payment_order_not_flagged", "open")
    notify(online, container, body_of(fresh.order_number, "10.00"))
    with pytest.raises(ConflictError) as paid_order:
        online.resolve(CLERK, fresh.order_number, Resolution.ACCEPT_RECEIVED, "looks odd")
    assert paid_order.value.params["status"] == "paid"
    with pytest.raises(NotFoundError):
        online.resolve(CLERK, "HL20251210AAAAAAAAAAAA", Resolution.REJECT, "looks odd")
    with pytest.raises(InvalidInputError) as no_reason:
        online.resolve(CLERK, flagged.order_number, Resolution.REJECT, "  ")
    assert no_reason.value.message_key == "reason_required"
    for role in (Role.AUDITOR, Role.CUSTOMER_SERVICE, Role.PAYMENT_GATEWAY):
        with pytest.raises(PermissionDeniedError):
            online.resolve(Principal("someone", role), flagged.order_number, Resolution.REJECT, "refund")
    assert online.order(flagged.order_number).status is OrderStatus.FLAGGED


def test_concurrent_resolutions_book_at_most_once(online: OnlinePayments, container: Container, flagged: Order) -> None:
    decisions = [Resolution.ACCEPT_RECEIVED, Resolution.ACCEPT_RECEIVED, Resolution.REJECT, Resolution.ACCEPT_RECEIVED]
    barrier = threading.Barrier(len(decisions))

    def resolve(index: int) -> str:
        barrier.wait(timeout=10)
        clerk = Principal(f"clerk-{index}", Role.CLERK)
        try:
            online.resolve(clerk, flagged.order_number, decisions[index], "checked the merchant platform")
        except ConflictError as conflict:
            return conflict.message_key or ""
        return "resolved"

    with ThreadPoolExecutor(len(decisions)) as pool:
        results = list(pool.map(resolve, range(len(decisions))))

    assert sorted(results) == ["payment_order_resolved"] * 3 + ["resolved"]
    winner = results.index("resolved")
    resolved = online.order(flagged.order_number)
    assert (resolved.resolved_by, resolved.resolution) == (f"clerk-{winner}", decisions[winner])
    payment = container.ledger.load_or_none(Payment, ids.payment_id(PROVIDER, RECEIVED_TRANSACTION))
    assert (payment is not None) is (decisions[winner] is Resolution.ACCEPT_RECEIVED)
    container.catch_up()
    with container.engine.connect() as connection:
        count = connection.execute(select(func.count()).select_from(payments_table)).scalar_one()
    assert count == (1 if payment is not None else 0)


def test_a_paid_order_flagged_by_its_own_transaction_cannot_book_it_twice(
    online: OnlinePayments, container: Container, order: Order
) -> None:
    first = notify(online, container, body_of(order.order_number))
    with pytest.raises(ConflictError):
        notify(online, container, body_of(order.order_number, "1.00"))  # same transaction, other amount
    with pytest.raises(ConflictError) as accepted:
        online.resolve(CLERK, order.order_number, Resolution.ACCEPT_RECEIVED, "take it")
    assert accepted.value.message_key == "payment_order_transaction_booked"
    resolved = online.resolve(CLERK, order.order_number, Resolution.REJECT, "a garbled redelivery")
    assert (resolved.status, resolved.payment_id) == (OrderStatus.RESOLVED, first.payment_id)
    # The original notification delivered again is still acknowledged, booking nothing.
    again = notify(online, container, body_of(order.order_number))
    assert (again.status_code, again.recorded, again.payment_id) == (200, False, first.payment_id)


class StoreFailure(Exception):
    """The event store failing while a save writes (a dropped connection, a full disk)."""


def fail_every_save(container: Container, monkeypatch: pytest.MonkeyPatch) -> None:
    def fail(*args: Any, **kwargs: Any) -> Any:
        raise StoreFailure("the database went away during the save")

    monkeypatch.setattr(container.ledger.recorder, "insert_events", fail)


def test_a_crash_at_the_acceptance_s_save_books_nothing_and_resolves_nothing(
    online: OnlinePayments, container: Container, flagged: Order, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The payment and the resolution are one save: when it fails neither exists, and the clerk
    can resolve the order again."""
    before = events(container)
    with monkeypatch.context() as patch:
        fail_every_save(container, patch)
        with pytest.raises(StoreFailure):
            online.resolve(CLERK, flagged.order_number, Resolution.ACCEPT_RECEIVED, "take it")
    assert online.order(flagged.order_number) == flagged
    assert container.ledger.load_or_none(Payment, ids.payment_id(PROVIDER, RECEIVED_TRANSACTION)) is None
    assert events(container) == before
    resolved = online.resolve(CLERK, flagged.order_number, Resolution.ACCEPT_RECEIVED, "take it")
    assert resolved.status is OrderStatus.RESOLVED and resolved.resolution_payment_id is not None


def test_a_crash_at_the_notification_s_save_leaves_the_order_open_and_unpaid(
    online: OnlinePayments, container: Container, order: Order, monkeypatch: pytest.MonkeyPatch
) -> None:
    body = body_of(order.order_number)
    with monkeypatch.context() as patch:
        fail_every_save(container, patch)
        with pytest.raises(StoreFailure):
            notify(online, container, body)
    assert online.order(order.order_number) == order
    assert payment_of(container, order.order_number) is None
    # The provider redelivers; now the payment and the order's payment are booked together.
    outcome = notify(online, container, body)
    assert outcome.recorded and online.order(order.order_number).payment_id == outcome.payment_id


def test_a_payment_booked_without_its_order_saying_so_is_adopted_not_booked_twice(
    online: OnlinePayments, container: Container, order: Order
) -> None:
    """Before orders were aggregates a process could stop between the payment and the row's
    update; the redelivered notification marks the order paid by that payment."""
    gateway = Principal("provider:" + PROVIDER, Role.PAYMENT_GATEWAY)
    earlier = container.payments.receive_online(gateway, PROVIDER, order.order_number, ACCOUNT, D("1944.00"))
    outcome = notify(online, container, body_of(order.order_number))
    assert (outcome.recorded, outcome.payment_id) == (False, earlier.payment_id)
    assert online.order(order.order_number).status is OrderStatus.PAID


# -- expiry ---------------------------------------------------------------------------------------


def test_an_open_order_expires_once_its_validity_passed_and_a_late_payment_is_flagged(
    container: Container,
) -> None:
    register_household(container.ledger, ACCOUNT)
    now = [NOW]
    online = OnlinePayments(container.engine, container.ledger, container.settings.secret_key, clock=lambda: now[0])
    order = online.create_order(CLERK, ACCOUNT, D("10.00"), PROVIDER)
    service = online.orders_service
    assert order.expires_at == NOW + timedelta(hours=2)
    with pytest.raises(ConflictError) as early:
        service.expire(CLERK, order.order_number, "payer left")
    assert early.value.message_key == "payment_order_still_valid"
    assert service.expire_overdue(SYSTEM) == []
    now[0] = NOW + timedelta(hours=2)
    assert service.expire_overdue(SYSTEM) == [order.order_number]
    expired = online.order(order.order_number)
    assert (expired.status, expired.expired_at) == (OrderStatus.EXPIRED, now[0])
    assert online.orders(OrderStatus.EXPIRED) == [expired]
    # The provider took the money anyway (its clock, or its own expiry, differed): a person looks.
    body = body_of(order.order_number, "10.00")
    headers = signed(container, body, timestamp=int(now[0].timestamp()))
    with pytest.raises(ConflictError) as late:
        online.handle_notification(PROVIDER, headers, body, None)
    assert late.value.message_key == "payment_order_expired"
    flagged = online.order(order.order_number)
    assert (flagged.status, flagged.received_amount_yuan, flagged.payment_id) == (OrderStatus.FLAGGED, D("10.00"), None)
    assert payment_of(container, order.order_number) is None
    resolved = online.resolve(CLERK, order.order_number, Resolution.ACCEPT_RECEIVED, "the payer paid late")
    assert resolved.resolution_payment_id == ids.payment_id(PROVIDER, RECEIVED_TRANSACTION)


# -- orders kept as rows before migration 0029 ------------------------------------------------------


def test_rows_of_the_old_table_become_events_once_and_read_as_before(container: Container) -> None:
    from infrastructure.legacy_payment_orders import legacy_payment_orders, record_legacy_orders

    register_household(container.ledger, ACCOUNT)
    household_id = ids.household_id(ACCOUNT)
    common = {"provider": PROVIDER, "household_id": household_id, "account_number": ACCOUNT, "created_by": "clerk-li"}
    paid_payment = ids.payment_id(PROVIDER, "HL20251201AAAAAAAAAAAB")
    accepted_payment = ids.payment_id(PROVIDER, "T-9")
    rows = [
        {**common, "order_number": "HL20251201AAAAAAAAAAAA", "amount_yuan": D("5.00"), "status": "open"},
        {
            **common,
            "order_number": "HL20251201AAAAAAAAAAAB",
            "amount_yuan": D("6.00"),
            "status": "paid",
            "payment_id": paid_payment,
            "transaction_id": "T-1",
            "paid_at": NOW,
        },
        {
            **common,
            "order_number": "HL20251201AAAAAAAAAAAC",
            "amount_yuan": D("7.00"),
            "status": "resolved",
            "flagged_at": NOW,
            "flagged_reason": "amount_mismatch: notified 7.50 元, ordered 7.00 元",
            "received_amount_yuan": D("7.50"),
            "received_transaction_id": "T-9",
            "resolved_at": NOW + timedelta(hours=1),
            "resolved_by": "clerk-zhao",
            "resolution": "accept_received",
            "resolution_reason": "the payer confirms",
            "resolution_payment_id": accepted_payment,
        },
    ]
    with container.engine.begin() as connection:
        for row in rows:
            connection.execute(legacy_payment_orders.insert().values(created_at=NOW - timedelta(days=1), **row))

    assert record_legacy_orders(container.engine, container.ledger) == 3
    assert record_legacy_orders(container.engine, container.ledger) == 0  # a second start-up

    online = OnlinePayments(container.engine, container.ledger, container.settings.secret_key, clock=lambda: NOW)
    listed = {order.order_number: order for order in online.orders(account_number=ACCOUNT)}
    assert {number: order.status for number, order in listed.items()} == {
        "HL20251201AAAAAAAAAAAA": OrderStatus.OPEN,
        "HL20251201AAAAAAAAAAAB": OrderStatus.PAID,
        "HL20251201AAAAAAAAAAAC": OrderStatus.RESOLVED,
    }
    accepted = online.order("HL20251201AAAAAAAAAAAC")
    assert accepted == listed["HL20251201AAAAAAAAAAAC"]
    assert (accepted.resolved_by, accepted.resolution_reason, accepted.resolution_payment_id) == (
        "clerk-zhao",
        "the payer confirms",
        accepted_payment,
    )
    assert accepted.flagged_reason == "amount_mismatch: notified 7.50 元, ordered 7.00 元"
    assert online.order("HL20251201AAAAAAAAAAAB").payment_id == paid_payment
    # The read model rebuilt from the events holds the same rows.
    with container.engine.connect() as connection:
        before = sorted(tuple(row) for row in connection.execute(select(payment_orders)))
    container.runner.rebuild()
    with container.engine.connect() as connection:
        assert sorted(tuple(row) for row in connection.execute(select(payment_orders))) == before
