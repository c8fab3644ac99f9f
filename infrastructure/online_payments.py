"""Online payments: the provider's side of payment orders: signed payment notifications and the
adapters that read them (docs/payments.md).

The channel works as Chinese mobile payment providers do:

1. The ledger creates a **payment order** (``create_order``): a merchant order number of its own
   (``HL`` + 20 characters), the household and the exact amount. The counter's program or the
   WeChat page backend hands the order number, amount and expiry to the provider.
2. The payer pays at the provider; the provider **notifies** the ledger by POSTing a signed
   notification to ``/payments/notify/{provider}`` (``handle_notification``).
3. The notification is verified here (signature under the provider's merchant key, a timestamp
   within the replay window), parsed by the provider's adapter, and handed to the order's use case
   (``application.payment_orders``), which books the payment and marks the order paid in one
   atomic save, with the merchant order number as the payment's reference.

The order itself is an aggregate (``domain.payment_order``): created, paid, flagged, resolved by a
clerk, expired, each an event; its rules are the domain's, its permission checks the
application's. This module keeps what is the provider's: each provider speaks its own format, so a
``NotificationAdapter`` reads its notifications: what the body says, whether the signature is
right, when it was signed, and what to answer. ``HmacJsonAdapter`` is the provider-neutral one
(JSON body, HMAC-SHA256 headers); a new provider is one more adapter registered in ``ADAPTERS``.

Nothing secret is stored. A provider's merchant key is derived from the server's secret key like
an NB-IoT channel secret: HMAC-SHA256(secret_key, "payment-provider:<name>") as 64 hex characters
(``merchant_key``; ``heatledger payments merchant-key NAME`` prints it). Keys, signatures, the
replay window and the refusal reasons are infrastructure/signing.py's, one recipe for every
signed integration.

Idempotency: the payment's id is the uuid5 of the provider and the merchant order number, so a
redelivered (or replayed) notification finds the order paid, books nothing new and gets the same
acknowledgement. Refused notifications go to the NB-IoT channel's ``security_events`` table, under
the channel ``payment:<provider>``: one security log for every signed channel. A notification
whose amount differs from its order's flags the order (logged too); a clerk resolves it once.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from typing import Any, NamedTuple, NoReturn, Protocol
from uuid import UUID

from sqlalchemy import Engine, insert
from sqlalchemy.engine import Connection

from application.authorization import Principal, Role
from application.ledger import HeatLedger
from application.payment_orders import PROVIDER_ACTOR_PREFIX, NotifiedPayment, PaymentOrders, new_order_number
from application.payments import PaymentOutcome
from domain.errors import ConflictError, InvalidInputError, NotFoundError
from domain.money import CURRENCY
from domain.payment_order import (
    MAXIMUM_TRANSACTION_ID_LENGTH,
    ORDER_NUMBER_PATTERN,
    Order,
    OrderStatus,
    Resolution,
)
from infrastructure.nbiot import MAXIMUM_CHANNEL_NAME_LENGTH, security_events
from infrastructure.signing import (
    REPLAY_WINDOW,
    Refusal,
    derive_key,
    parse_timestamp,
    sign,
    signature_matches,
    within_replay_window,
)
from infrastructure.text import printable
from projections.payment_orders import SqlPaymentOrderReads
from projections.queries import MAXIMUM_PAGE_SIZE

# The order's names, as this module's readers knew them before orders were aggregates, and the
# signing recipe's, which is infrastructure/signing.py's (shared with NB-IoT and the webhooks).
__all__ = [
    "ORDER_NUMBER_PATTERN",
    "Order",
    "OrderStatus",
    "Refusal",
    "Resolution",
    "new_order_number",
    "sign",
]

# Provider names are part of the notification URL and of every payment's source.
PROVIDER_NAME_PATTERN = re.compile(r"[a-z0-9][a-z0-9_-]{0,31}")
MAXIMUM_PROVIDER_NAME_LENGTH = 32
# The longest merchant order number read from a notification (ours are 22; any other is unknown).
MAXIMUM_REFERENCE_LENGTH = 64
# An amount as a notification may write it: plain decimal digits, no exponent (``"12.34"``).
AMOUNT_PATTERN = re.compile(r"[+-]?[0-9]{1,15}(\.[0-9]{1,15})?")
# The actor of a provider's payments, and the channel of its refusals in the security log.
ACTOR_PREFIX = PROVIDER_ACTOR_PREFIX
SECURITY_CHANNEL_PREFIX = "payment:"


class NotificationRefused(Exception):
    """A notification that failed authentication: it was logged, nothing was booked; a 401."""

    def __init__(self, reason: Refusal) -> None:
        super().__init__(reason.value)
        self.reason = reason


# -- the adapter interface ----------------------------------------------------------------------


@dataclass(frozen=True)
class Notification:
    """What a provider's notification says, in the ledger's terms.

    ``amount_yuan`` is exact as written (not yet checked: the channel checks it with
    ``payment_amount``, so an adapter must not round it); ``currency`` as written (``"CNY"``).
    """

    merchant_order_number: str
    transaction_id: str
    amount_yuan: Decimal
    currency: str
    paid_at: datetime


class Answer(NamedTuple):
    """What the provider expects back for a notification it may stop sending."""

    status_code: int
    content_type: str
    body: bytes


class NotificationAdapter(Protocol):
    """Reads one provider's payment notifications. Register an instance in ``ADAPTERS``.

    The channel calls, in this order: ``signature_valid`` (the raw body, before anything in it
    is trusted), ``timestamp`` (for the replay window), ``parse``, and ``answer`` once the
    notification is booked (or found booked already). ``headers`` have lower-case names.
    Adapters hold no state and do no I/O: they are called from many threads at once.
    """

    @property
    def name(self) -> str:
        """The provider's name: the last part of its notification URL, the payments' source."""
        ...

    def signature_valid(self, body: bytes, headers: Mapping[str, str], merchant_key: str) -> bool:
        """Whether the notification is signed with ``merchant_key`` (False when unsigned).
        Compare in constant time (``hmac.compare_digest``)."""
        ...

    def timestamp(self, body: bytes, headers: Mapping[str, str]) -> datetime | None:
        """When the provider signed the notification (aware), covered by the signature; None when
        it carries no readable time (the notification is then refused)."""
        ...

    def parse(self, body: bytes, headers: Mapping[str, str]) -> Notification:
        """The notification; InvalidInputError (message key ``payment_notification_unreadable`` or
        ``payment_notification_field_invalid`` with ``field``) when the body is not one."""
        ...

    def answer(self, outcome: PaymentOutcome) -> Answer:
        """The acknowledgement the provider expects, so it stops redelivering. It must be the same
        whether this delivery recorded the payment or found it recorded already."""
        ...


# -- the provider-neutral adapter ---------------------------------------------------------------

TIMESTAMP_HEADER = "X-Pay-Timestamp"
SIGNATURE_HEADER = "X-Pay-Signature"


class HmacJsonAdapter:
    """Provider-neutral notifications: a JSON body signed with HMAC-SHA256 in two headers.

    Body (every value a string; the amount as text, so no digit is lost)::

        {"merchant_order_number": "HL20251210K7QX2M9D4TPA", "transaction_id": "4200001234202512101234567890",
         "amount_yuan": "1944.00", "currency": "CNY", "paid_at": "2025-12-10T12:00:00+08:00"}

    Headers: ``X-Pay-Timestamp`` (unix seconds) and ``X-Pay-Signature``, the hex
    HMAC-SHA256 under the merchant key of ``"<timestamp>." + raw body``.
    Answer: 200 ``{"code": "SUCCESS", "message": "OK"}``.
    """

    def __init__(self, name: str = "hmac-json") -> None:
        if PROVIDER_NAME_PATTERN.fullmatch(name) is None:
            raise ValueError(f"a provider name is 1 to 32 of a-z, 0-9, '_', '-': {name!r}")
        self._name = name

    @property
    def name(self) -> str:
        return self._name

    def signature_valid(self, body: bytes, headers: Mapping[str, str], merchant_key: str) -> bool:
        timestamp = headers.get(TIMESTAMP_HEADER.lower())
        signature = headers.get(SIGNATURE_HEADER.lower())
        if not timestamp or not signature or parse_timestamp(timestamp) is None:
            return False
        return signature_matches(merchant_key, timestamp.strip(), body, signature)

    def timestamp(self, body: bytes, headers: Mapping[str, str]) -> datetime | None:
        seconds = parse_timestamp(headers.get(TIMESTAMP_HEADER.lower(), ""))
        return datetime.fromtimestamp(seconds, UTC) if seconds is not None else None

    def parse(self, body: bytes, headers: Mapping[str, str]) -> Notification:
        try:
            document = json.loads(body, parse_float=Decimal, parse_constant=_refuse_constant)
        except (ValueError, UnicodeDecodeError):
            document = None
        if not isinstance(document, dict):
            raise InvalidInputError(
                "the notification is not a JSON object", message_key="payment_notification_unreadable"
            )
        return Notification(
            merchant_order_number=_text_field(document, "merchant_order_number", MAXIMUM_REFERENCE_LENGTH),
            transaction_id=_text_field(document, "transaction_id", MAXIMUM_TRANSACTION_ID_LENGTH),
            amount_yuan=_amount_field(document, "amount_yuan"),
            currency=_text_field(document, "currency", 8),
            paid_at=_time_field(document, "paid_at"),
        )

    def answer(self, outcome: PaymentOutcome) -> Answer:
        return Answer(200, "application/json", b'{"code": "SUCCESS", "message": "OK"}')


def _refuse_constant(name: str) -> NoReturn:
    raise ValueError(f"{name} is not a number JSON allows")


def _invalid_field(field: str, value: Any) -> NoReturn:
    raise InvalidInputError(
        f"the notification's {field} is missing or not valid",
        message_key="payment_notification_field_invalid",
        field=field,
        value=printable(str(value))[:64],
    )


def _text_field(document: Mapping[str, Any], field: str, maximum: int) -> str:
    value = document.get(field)
    if not isinstance(value, str) or not value.strip() or len(value.strip()) > maximum:
        _invalid_field(field, value)
    text = value.strip()
    if not text.isprintable():
        _invalid_field(field, value)
    return text


def _amount_field(document: Mapping[str, Any], field: str) -> Decimal:
    """The amount exactly as written: a string (preferred) or a JSON number, never a float."""
    value = document.get(field)
    if isinstance(value, bool) or not isinstance(value, str | int | Decimal):
        _invalid_field(field, value)
    text = str(value).strip()
    if AMOUNT_PATTERN.fullmatch(text) is None:
        _invalid_field(field, value)
    try:
        return Decimal(text)
    except InvalidOperation:  # pragma: no cover - the pattern admits only plain decimals
        _invalid_field(field, value)


def _time_field(document: Mapping[str, Any], field: str) -> datetime:
    value = document.get(field)
    if not isinstance(value, str) or len(value) > 40:
        _invalid_field(field, value)
    try:
        moment = datetime.fromisoformat(value.strip())
    except ValueError:
        _invalid_field(field, value)
    if moment.tzinfo is None:
        _invalid_field(field, value)
    return moment.astimezone(UTC)


# The providers the ledger takes notifications from, by name. Add a provider here.
ADAPTERS: dict[str, NotificationAdapter] = {adapter.name: adapter for adapter in (HmacJsonAdapter(),)}


def merchant_key(secret_key: str, provider: str) -> str:
    """The provider's merchant key: derived from the server's secret key, never stored.

    hex(HMAC-SHA256(key=secret_key, msg="payment-provider:<provider>")), 64 characters, given to
    the provider (its merchant platform's "API key") and used by both sides as ASCII text.
    Rotating ``HEATLEDGER_SECRET_KEY`` changes it.
    """
    return derive_key(secret_key, f"payment-provider:{provider}")


# -- the channel ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class NotificationOutcome:
    """The answer to a notification the channel accepted; ``recorded`` is False when the payment
    was booked by an earlier delivery (nothing new was recorded)."""

    status_code: int
    body: bytes
    content_type: str
    recorded: bool
    payment_id: UUID


class OnlinePayments:
    """Payment orders (``application.payment_orders``) and the providers' notifications that pay them."""

    def __init__(
        self,
        engine: Engine,
        ledger: HeatLedger,
        secret_key: str,
        adapters: Mapping[str, NotificationAdapter] | None = None,  # by name; ``ADAPTERS`` by default
        clock: Callable[[], datetime] | None = None,
    ) -> None:
        self.engine = engine
        self._secret_key = secret_key
        self.adapters = dict(ADAPTERS if adapters is None else adapters)
        self.clock = clock or ledger.clock
        self.orders_service = PaymentOrders(ledger, SqlPaymentOrderReads(engine), self.adapters, self.clock)

    # -- orders (the use cases, with their permission checks) -------------------------------------

    def create_order(
        self,
        principal: Principal,
        account_number: str,
        amount_yuan: Decimal,
        provider: str,
        named_bill_id: UUID | None = None,
        currency: str = CURRENCY,
    ) -> Order:
        """A new order for a household's payment through ``provider`` (``PaymentOrders.create``)."""
        return self.orders_service.create(
            principal, account_number, amount_yuan, printable(provider), named_bill_id, currency
        )

    def order(self, order_number: str) -> Order:
        """The order with this number, or NotFoundError."""
        return self.orders_service.order(order_number)

    def orders(
        self,
        status: OrderStatus | None = None,
        account_number: str | None = None,
        limit: int = MAXIMUM_PAGE_SIZE,
        offset: int = 0,
    ) -> list[Order]:
        """Orders (of one status and household, if given), oldest first."""
        return self.orders_service.orders(status, account_number, min(limit, MAXIMUM_PAGE_SIZE), offset)

    def resolve(self, principal: Principal, order_number: str, decision: Resolution, reason: str) -> Order:
        """A clerk resolves a flagged order, once, with why (``PaymentOrders.resolve``)."""
        return self.orders_service.resolve(principal, order_number, decision, reason)

    # -- notifications --------------------------------------------------------------------------

    def handle_notification(
        self, provider: str, headers: Mapping[str, str], body: bytes, remote_address: str | None
    ) -> NotificationOutcome:
        """Verify one notification, have it booked, and say what to send back.

        Raises NotFoundError for an unknown provider (logged) or order; NotificationRefused (a 401,
        logged, nothing booked) for a missing or wrong signature or a timestamp outside the replay
        window; InvalidInputError (422) for a body that is not a notification or an amount or
        currency the ledger does not take; ConflictError (409) for an order of another provider
        (logged), an amount other than the order's (the order is flagged, logged), a flagged or
        expired order, or a resolved order notified with anything but what was booked for it. A
        redelivery of a booked notification (also of one a clerk accepted) is answered as the
        first delivery was.
        """
        adapter = self.adapters.get(provider)
        if adapter is None:
            self._log(provider, remote_address, Refusal.UNKNOWN_PROVIDER)
            key = printable(provider)[:MAXIMUM_CHANNEL_NAME_LENGTH]
            raise NotFoundError(f"no payment provider {key}", kind="payment_provider", key=key)
        lowered = {name.lower(): value for name, value in headers.items()}
        self._authenticate(provider, adapter, lowered, body, remote_address)
        notification = adapter.parse(body, lowered)
        notified = NotifiedPayment(
            notification.merchant_order_number,
            notification.transaction_id,
            notification.amount_yuan,
            notification.currency,
            notification.paid_at,
        )
        gateway = Principal(ACTOR_PREFIX + provider, Role.PAYMENT_GATEWAY)
        try:
            outcome = self.orders_service.record_notification(gateway, provider, notified)
        except ConflictError as conflict:
            refusal = _LOGGED_CONFLICTS.get(conflict.message_key or "")
            if refusal is not None:
                self._log(provider, remote_address, refusal)
            raise
        answer = adapter.answer(outcome)
        return NotificationOutcome(
            answer.status_code, answer.body, answer.content_type, outcome.recorded, outcome.payment_id
        )

    def _authenticate(
        self,
        provider: str,
        adapter: NotificationAdapter,
        headers: Mapping[str, str],
        body: bytes,
        remote_address: str | None,
    ) -> None:
        """The signature first, then the replay window: a stale notification is logged as stale
        only when it was genuinely signed (a replay, or a clock that drifted)."""
        reason: Refusal | None = None
        if not adapter.signature_valid(body, headers, merchant_key(self._secret_key, provider)):
            reason = Refusal.INVALID_SIGNATURE
        else:
            signed_at = adapter.timestamp(body, headers)
            if signed_at is None:
                reason = Refusal.INVALID_TIMESTAMP
            elif not within_replay_window(int(signed_at.timestamp()), self.clock(), REPLAY_WINDOW):
                reason = Refusal.STALE_TIMESTAMP
        if reason is not None:
            self._log(provider, remote_address, reason)
            raise NotificationRefused(reason)

    def _log(self, provider: str, remote_address: str | None, reason: Refusal) -> None:
        with self.engine.begin() as connection:
            _record_security_event(connection, self.clock(), provider, remote_address, reason)


# The refusals of the order's use case that go to the security log beside the signature's.
_LOGGED_CONFLICTS = {
    "payment_order_provider_mismatch": Refusal.PROVIDER_MISMATCH,
    "payment_amount_mismatch": Refusal.AMOUNT_MISMATCH,
}


def _record_security_event(
    connection: Connection, now: datetime, provider: str, remote_address: str | None, reason: Refusal
) -> None:
    """One row of the NB-IoT channel's security log, under the channel ``payment:<provider>``."""
    connection.execute(
        insert(security_events).values(
            occurred_at=now,
            channel=printable(SECURITY_CHANNEL_PREFIX + provider)[:MAXIMUM_CHANNEL_NAME_LENGTH],
            remote_address=remote_address[:64] if remote_address else None,
            reason=reason.value,
        )
    )
