"""Online payments: payment orders, signed payment notifications, and the adapters that read them.

The channel works as Chinese mobile payment providers do (docs/payments.md):

1. The ledger creates a **payment order** (``create_order``): a merchant order number of its own
   (``HL`` + 20 characters), the household and the exact amount. The counter's program or the
   WeChat page backend hands the order number and amount to the provider.
2. The payer pays at the provider; the provider **notifies** the ledger by POSTing a signed
   notification to ``/payments/notify/{provider}`` (``handle_notification``).
3. The notification is verified (signature under the provider's merchant key, a timestamp within
   the replay window), parsed, checked against its order (same provider, same amount), and booked
   through ``Payments.receive_online`` with the merchant order number as the reference.

Each provider speaks its own format, so a ``NotificationAdapter`` reads its notifications: what
the body says, whether the signature is right, when it was signed, and what to answer.
``HmacJsonAdapter`` is the provider-neutral one (JSON body, HMAC-SHA256 headers); a new provider is
one more adapter registered in ``ADAPTERS`` under its name.

Nothing secret is stored. A provider's merchant key is derived from the server's secret key like
an NB-IoT channel secret: HMAC-SHA256(secret_key, "payment-provider:<name>") as 64 hex characters
(``merchant_key``; ``heatledger payments merchant-key NAME`` prints it).

Idempotency: the payment's id is the uuid5 of the provider and the merchant order number, so a
redelivered (or replayed) notification finds the payment there, books nothing new and gets the
same acknowledgement. Refused notifications go to the NB-IoT channel's ``security_events`` table,
under the channel ``payment:<provider>``: one security log for every signed channel.

A notification whose amount differs from its order's flags the order, keeping what the provider
reported (``received_amount_yuan``, ``received_transaction_id``). A clerk resolves a flagged order
once (``resolve``): ``accept_received`` books the received amount as a payment whose reference is
the provider's transaction id (its id the uuid5 of provider and transaction id), or ``reject``
books nothing (the money goes back to the payer through the provider).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
import secrets
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from enum import StrEnum
from typing import Any, NamedTuple, NoReturn, Protocol
from uuid import UUID

from sqlalchemy import Column, Engine, Index, MetaData, String, Table, Uuid, insert, select, update
from sqlalchemy.engine import Connection
from sqlalchemy.exc import IntegrityError

from application.authorization import Permission, Principal, Role
from application.ledger import HeatLedger, require_reason
from application.payments import PaymentOutcome, Payments
from domain import ids
from domain.day_split import business_day
from domain.errors import ConflictError, InvalidInputError, NotFoundError
from domain.money import CURRENCY, payment_amount
from infrastructure.nbiot import (
    MAXIMUM_CHANNEL_NAME_LENGTH,
    REPLAY_WINDOW,
    parse_timestamp,
    security_events,
    signature_matches,
    within_replay_window,
)
from infrastructure.text import printable
from projections.queries import MAXIMUM_PAGE_SIZE
from projections.types import ScaledDecimal, UtcDateTime

ORDER_PREFIX = "HL"
# "HL" + the business day (8 digits) + 12 random characters: 22 in all, within every provider's
# limit on merchant order numbers (WeChat Pay: 6 to 32, Alipay: up to 64).
ORDER_NUMBER_LENGTH = 22
ORDER_RANDOM_LENGTH = 12
# Digits and capitals without I and O, which a clerk reading a number aloud confuses with 1 and 0.
ORDER_ALPHABET = "0123456789ABCDEFGHJKLMNPQRSTUVWXYZ"
ORDER_NUMBER_PATTERN = re.compile(rf"{ORDER_PREFIX}[0-9]{{8}}[{ORDER_ALPHABET}]{{{ORDER_RANDOM_LENGTH}}}")
# Provider names are part of the notification URL and of every payment's source.
PROVIDER_NAME_PATTERN = re.compile(r"[a-z0-9][a-z0-9_-]{0,31}")
MAXIMUM_PROVIDER_NAME_LENGTH = 32
MAXIMUM_TRANSACTION_ID_LENGTH = 64
# The longest merchant order number read from a notification (ours are 22; any other is unknown).
MAXIMUM_REFERENCE_LENGTH = 64
MAXIMUM_FLAGGED_REASON_LENGTH = 200
# The clerk's reason for a resolution (the API's bound on every reason).
MAXIMUM_RESOLUTION_REASON_LENGTH = 500
# An amount as a notification may write it: plain decimal digits, no exponent (``"12.34"``).
AMOUNT_PATTERN = re.compile(r"[+-]?[0-9]{1,15}(\.[0-9]{1,15})?")
# The actor of a provider's payments, and the channel of its refusals in the security log.
ACTOR_PREFIX = "provider:"
SECURITY_CHANNEL_PREFIX = "payment:"
ORDER_ATTEMPTS = 5

metadata = MetaData()

payment_orders = Table(
    "payment_orders",
    metadata,
    Column("order_number", String(ORDER_NUMBER_LENGTH), primary_key=True),
    Column("provider", String(MAXIMUM_PROVIDER_NAME_LENGTH), nullable=False),
    Column("household_id", Uuid, nullable=False),
    Column("account_number", String(64), nullable=False),
    Column("amount_yuan", ScaledDecimal(2), nullable=False),
    Column("named_bill_id", Uuid, nullable=True),
    Column("created_at", UtcDateTime, nullable=False),
    Column("created_by", String(128), nullable=False),
    Column("status", String(16), nullable=False),
    Column("payment_id", Uuid, nullable=True),
    Column("transaction_id", String(MAXIMUM_TRANSACTION_ID_LENGTH), nullable=True),
    Column("paid_at", UtcDateTime, nullable=True),
    Column("flagged_at", UtcDateTime, nullable=True),
    Column("flagged_reason", String(MAXIMUM_FLAGGED_REASON_LENGTH), nullable=True),
    # What the provider reported when it contradicted the order (kept from the first such notification).
    Column("received_amount_yuan", ScaledDecimal(2), nullable=True),
    Column("received_transaction_id", String(MAXIMUM_TRANSACTION_ID_LENGTH), nullable=True),
    # A clerk's resolution of the flag: once, with who, when and why; the payment it booked.
    Column("resolved_at", UtcDateTime, nullable=True),
    Column("resolved_by", String(128), nullable=True),
    Column("resolution", String(16), nullable=True),
    Column("resolution_reason", String(MAXIMUM_RESOLUTION_REASON_LENGTH), nullable=True),
    Column("resolution_payment_id", Uuid, nullable=True),
    Index("ix_payment_orders_account", "account_number", "created_at"),
    Index("ix_payment_orders_status", "status", "created_at"),
)


class OrderStatus(StrEnum):
    """Where a payment order stands."""

    OPEN = "open"  # created, no notification booked yet
    PAID = "paid"  # a notification of its amount was booked: ``payment_id``
    FLAGGED = "flagged"  # a notification contradicted it: ``flagged_reason``; a person must look
    RESOLVED = "resolved"  # a clerk resolved the flag: ``resolution`` (and ``resolution_payment_id``)


class Resolution(StrEnum):
    """What a clerk decided about a flagged order."""

    # Book what the provider reported as received, under the provider's transaction id.
    ACCEPT_RECEIVED = "accept_received"
    # Book nothing: the money goes back to the payer through the provider.
    REJECT = "reject"


class Refusal(StrEnum):
    """Why a notification was refused, as written to ``security_events`` (at most 32 characters)."""

    UNKNOWN_PROVIDER = "unknown_provider"
    INVALID_SIGNATURE = "invalid_signature"
    INVALID_TIMESTAMP = "invalid_timestamp"
    STALE_TIMESTAMP = "stale_timestamp"
    PROVIDER_MISMATCH = "provider_mismatch"
    AMOUNT_MISMATCH = "amount_mismatch"


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


def sign(merchant_key: str, timestamp: str, body: bytes) -> str:
    """The signature of a notification: hex HMAC-SHA256 under the merchant key (as ASCII text) of
    ``"<timestamp>." + body``; the recipe of the NB-IoT pushes."""
    return hmac.new(merchant_key.encode(), timestamp.encode("ascii") + b"." + body, hashlib.sha256).hexdigest()


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
    return hmac.new(secret_key.encode(), f"payment-provider:{provider}".encode(), hashlib.sha256).hexdigest()


# -- records ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Order:
    """A payment order: what the ledger expects a provider to notify."""

    order_number: str
    provider: str
    household_id: UUID
    account_number: str
    amount_yuan: Decimal
    named_bill_id: UUID | None
    created_at: datetime
    created_by: str
    status: OrderStatus
    payment_id: UUID | None
    transaction_id: str | None
    paid_at: datetime | None
    flagged_at: datetime | None
    flagged_reason: str | None
    received_amount_yuan: Decimal | None = None
    received_transaction_id: str | None = None
    resolved_at: datetime | None = None
    resolved_by: str | None = None
    resolution: Resolution | None = None
    resolution_reason: str | None = None
    resolution_payment_id: UUID | None = None

    @classmethod
    def from_row(cls, row: Mapping[Any, Any]) -> Order:
        values = {str(name): value for name, value in row.items()}
        resolution = values.get("resolution")
        return cls(
            **{
                **values,
                "status": OrderStatus(values["status"]),
                "resolution": Resolution(resolution) if resolution is not None else None,
            }
        )


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
    """Payment orders and the notifications that pay them."""

    def __init__(
        self,
        engine: Engine,
        ledger: HeatLedger,
        payments: Payments,
        secret_key: str,
        adapters: Mapping[str, NotificationAdapter] | None = None,  # by name; ``ADAPTERS`` by default
        clock: Callable[[], datetime] | None = None,
    ) -> None:
        self.engine = engine
        self.ledger = ledger
        self.payments = payments
        self._secret_key = secret_key
        self.adapters = dict(ADAPTERS if adapters is None else adapters)
        self.clock = clock or ledger.clock

    # -- orders ---------------------------------------------------------------------------------

    def create_order(
        self,
        principal: Principal,
        account_number: str,
        amount_yuan: Decimal,
        provider: str,
        named_bill_id: UUID | None = None,
        currency: str = CURRENCY,
    ) -> Order:
        """A new order for a household's payment through ``provider``, with our order number.

        The amount is checked as a payment (CNY, positive, to the 分); the household must exist."""
        principal.require(Permission.RECEIVE_PAYMENTS)
        amount = payment_amount(amount_yuan, currency)
        if provider not in self.adapters:
            raise InvalidInputError(
                f"no payment provider {provider}",
                message_key="payment_provider_unknown",
                field="provider",
                value=printable(provider)[:64],
            )
        household = self.ledger.household(account_number)
        for _ in range(ORDER_ATTEMPTS):
            now = self.clock()
            values: dict[str, Any] = {
                "order_number": new_order_number(now),
                "provider": provider,
                "household_id": household.id,
                "account_number": household.account_number,
                "amount_yuan": amount,
                "named_bill_id": named_bill_id,
                "created_at": now,
                "created_by": principal.name,
                "status": OrderStatus.OPEN.value,
                "payment_id": None,
                "transaction_id": None,
                "paid_at": None,
                "flagged_at": None,
                "flagged_reason": None,
                "received_amount_yuan": None,
                "received_transaction_id": None,
                "resolved_at": None,
                "resolved_by": None,
                "resolution": None,
                "resolution_reason": None,
                "resolution_payment_id": None,
            }
            try:
                with self.engine.begin() as connection:
                    connection.execute(insert(payment_orders).values(**values))
            except IntegrityError:  # pragma: no cover - 34^12 numbers a day
                continue
            return Order.from_row(values)
        raise RuntimeError("no free order number after several attempts")  # pragma: no cover

    def order(self, order_number: str) -> Order:
        """The order with this number, or NotFoundError."""
        with self.engine.connect() as connection:
            order = self._order(connection, order_number)
        if order is None:
            raise NotFoundError(f"no payment order {order_number}", kind="payment_order", key=order_number)
        return order

    def orders(
        self,
        status: OrderStatus | None = None,
        account_number: str | None = None,
        limit: int = MAXIMUM_PAGE_SIZE,
        offset: int = 0,
    ) -> list[Order]:
        """Orders (of one status and household, if given), oldest first."""
        columns = payment_orders.c
        statement = select(payment_orders).order_by(columns.created_at, columns.order_number)
        if status is not None:
            statement = statement.where(columns.status == OrderStatus(status).value)
        if account_number is not None:
            statement = statement.where(columns.account_number == account_number)
        statement = statement.limit(min(limit, MAXIMUM_PAGE_SIZE)).offset(offset)
        with self.engine.connect() as connection:
            return [Order.from_row(row) for row in connection.execute(statement).mappings()]

    # -- resolving a flagged order ----------------------------------------------------------------

    def resolve(self, principal: Principal, order_number: str, decision: Resolution, reason: str) -> Order:
        """A clerk resolves a flagged order, once, with why; the order as resolved.

        ``accept_received`` books a payment of what the provider reported as received, through
        ``Payments.receive_online`` with the provider's transaction id as its reference and the
        clerk as its actor; ``reject`` books nothing (the money goes back to the payer through the
        provider). NotFoundError for an unknown order; ConflictError when the order is not flagged,
        is resolved already, or the received notification cannot be booked.

        The resolution is claimed first (one conditional update: of concurrent resolutions one
        wins, the others are a 409), then the payment is booked; if booking fails the claim is
        undone, so an order never stands accepted without its payment."""
        principal.require(Permission.RECEIVE_PAYMENTS)
        require_reason(reason)
        checked_reason = _resolution_reason(reason)
        checked = Resolution(decision)
        order = self.order(order_number)
        _require_flagged(order)
        payment_id = self._payment_id_of_acceptance(order) if checked is Resolution.ACCEPT_RECEIVED else None
        now = self.clock()
        if not self._claim(order, checked, principal.name, checked_reason, now, payment_id):
            _require_flagged(self.order(order_number))  # resolved meanwhile: the 409 names by whom
            raise AssertionError("a flagged order's claim failed")  # pragma: no cover
        if payment_id is not None:
            try:
                outcome = self._book_received(principal, order, checked_reason)
            except BaseException:
                self._release(order.order_number, principal.name, now)
                raise
            assert outcome.payment_id == payment_id, "the booked payment is the one the order names"
        return self.order(order_number)

    @staticmethod
    def _payment_id_of_acceptance(order: Order) -> UUID:
        if order.received_amount_yuan is None or order.received_transaction_id is None:
            raise ConflictError(
                f"the order {order.order_number} does not keep what the provider reported: reject it",
                message_key="payment_order_received_unknown",
                order_number=order.order_number,
            )
        if order.payment_id is not None and order.transaction_id == order.received_transaction_id:
            raise ConflictError(
                f"the provider's transaction {order.transaction_id} is booked already with the order's amount",
                message_key="payment_order_transaction_booked",
                order_number=order.order_number,
                transaction_id=order.transaction_id,
            )
        return ids.payment_id(order.provider, order.received_transaction_id)

    def _claim(
        self,
        order: Order,
        decision: Resolution,
        clerk: str,
        reason: str,
        now: datetime,
        payment_id: UUID | None,
    ) -> bool:
        """Mark the order resolved if it is still flagged; whether this call did."""
        with self.engine.begin() as connection:
            result = connection.execute(
                update(payment_orders)
                .where(
                    payment_orders.c.order_number == order.order_number,
                    payment_orders.c.status == OrderStatus.FLAGGED.value,
                )
                .values(
                    status=OrderStatus.RESOLVED.value,
                    resolved_at=now,
                    resolved_by=clerk,
                    resolution=decision.value,
                    resolution_reason=reason,
                    resolution_payment_id=payment_id,
                )
            )
        return result.rowcount == 1

    def _release(self, order_number: str, clerk: str, claimed_at: datetime) -> None:
        """Undo this call's claim: the order is flagged again, as before."""
        columns = payment_orders.c
        with self.engine.begin() as connection:
            connection.execute(
                update(payment_orders)
                .where(
                    columns.order_number == order_number,
                    columns.status == OrderStatus.RESOLVED.value,
                    columns.resolved_by == clerk,
                    columns.resolved_at == claimed_at,
                )
                .values(
                    status=OrderStatus.FLAGGED.value,
                    resolved_at=None,
                    resolved_by=None,
                    resolution=None,
                    resolution_reason=None,
                    resolution_payment_id=None,
                )
            )

    def _book_received(self, clerk: Principal, order: Order, reason: str) -> PaymentOutcome:
        """The received amount as an online payment of the order's household, the clerk its actor."""
        assert order.received_amount_yuan is not None and order.received_transaction_id is not None
        return self.payments.receive_resolved_online(
            clerk,
            order.provider,
            order.received_transaction_id,
            order.account_number,
            order.received_amount_yuan,
            order.named_bill_id,
            reason=(
                f"flagged order {order.order_number} accepted at the amount received, "
                f"transaction {order.received_transaction_id}: {reason}"
            ),
        )

    # -- notifications --------------------------------------------------------------------------

    def handle_notification(
        self, provider: str, headers: Mapping[str, str], body: bytes, remote_address: str | None
    ) -> NotificationOutcome:
        """Verify, check and book one notification; the answer to send back.

        Raises NotFoundError for an unknown provider (logged) or order; NotificationRefused (a 401,
        logged, nothing booked) for a missing or wrong signature or a timestamp outside the replay
        window; InvalidInputError (422) for a body that is not a notification or an amount or
        currency the ledger does not take; ConflictError (409) for an order of another provider
        (logged), an amount other than the order's (the order is flagged, logged) or a flagged
        order, or a resolved order notified with anything but what was booked for it. A redelivery
        of a booked notification (also of one a clerk accepted) is answered as the first delivery was.
        """
        adapter = self.adapters.get(provider)
        if adapter is None:
            self._log(provider, remote_address, Refusal.UNKNOWN_PROVIDER)
            key = printable(provider)[:MAXIMUM_CHANNEL_NAME_LENGTH]
            raise NotFoundError(f"no payment provider {key}", kind="payment_provider", key=key)
        lowered = {name.lower(): value for name, value in headers.items()}
        self._authenticate(provider, adapter, lowered, body, remote_address)
        notification = adapter.parse(body, lowered)
        amount = payment_amount(notification.amount_yuan, notification.currency)
        order = self.order(notification.merchant_order_number)
        if order.provider != provider:
            self._log(provider, remote_address, Refusal.PROVIDER_MISMATCH)
            raise ConflictError(
                f"the order {order.order_number} is to be paid through {order.provider}, not {provider}",
                message_key="payment_order_provider_mismatch",
                order_number=order.order_number,
                provider=order.provider,
            )
        if order.status is OrderStatus.RESOLVED:
            accepted = _accepted_redelivery(order, notification, amount)
            if accepted is not None:
                answer = adapter.answer(accepted)
                return NotificationOutcome(
                    answer.status_code, answer.body, answer.content_type, False, accepted.payment_id
                )
        elif amount != order.amount_yuan:
            self._flag(order, notification, amount, provider, remote_address)
        if order.status is OrderStatus.FLAGGED and order.payment_id is None:
            raise ConflictError(
                f"the order {order.order_number} is flagged: {order.flagged_reason}",
                message_key="payment_order_flagged",
                order_number=order.order_number,
            )
        outcome = self.payments.receive_online(
            Principal(ACTOR_PREFIX + provider, Role.PAYMENT_GATEWAY),
            provider,
            order.order_number,
            order.account_number,
            order.amount_yuan,
            order.named_bill_id,
            reason=f"online payment, transaction {notification.transaction_id}",
        )
        self._mark_paid(order.order_number, outcome.payment_id, notification)
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

    def _flag(
        self, order: Order, notification: Notification, amount: Decimal, provider: str, remote_address: str | None
    ) -> NoReturn:
        """Flag the order (a person must look at it), keeping what the provider reported, and log
        the notification; a 409. An order flagged already keeps the first contradicting
        notification (what the clerk sees and may accept); later ones are only logged."""
        reason = f"amount_mismatch: notified {amount} 元, ordered {order.amount_yuan} 元"
        now = self.clock()
        with self.engine.begin() as connection:
            connection.execute(
                update(payment_orders)
                .where(
                    payment_orders.c.order_number == order.order_number,
                    payment_orders.c.status.in_((OrderStatus.OPEN.value, OrderStatus.PAID.value)),
                )
                .values(
                    status=OrderStatus.FLAGGED.value,
                    flagged_at=now,
                    flagged_reason=reason[:MAXIMUM_FLAGGED_REASON_LENGTH],
                    received_amount_yuan=amount,
                    received_transaction_id=notification.transaction_id,
                )
            )
            _record_security_event(connection, now, provider, remote_address, Refusal.AMOUNT_MISMATCH)
        raise ConflictError(
            f"the notification says {amount} 元; the order {order.order_number} is for {order.amount_yuan} 元",
            message_key="payment_amount_mismatch",
            order_number=order.order_number,
            amount_yuan=str(amount),
            expected_yuan=str(order.amount_yuan),
        )

    def _mark_paid(self, order_number: str, payment_id: UUID, notification: Notification) -> None:
        """An open order becomes paid; a paid or flagged one stays as it is (a redelivery)."""
        with self.engine.begin() as connection:
            connection.execute(
                update(payment_orders)
                .where(payment_orders.c.order_number == order_number, payment_orders.c.status == OrderStatus.OPEN.value)
                .values(
                    status=OrderStatus.PAID.value,
                    payment_id=payment_id,
                    transaction_id=notification.transaction_id,
                    paid_at=notification.paid_at,
                )
            )

    def _log(self, provider: str, remote_address: str | None, reason: Refusal) -> None:
        with self.engine.begin() as connection:
            _record_security_event(connection, self.clock(), provider, remote_address, reason)

    @staticmethod
    def _order(connection: Connection, order_number: str) -> Order | None:
        if ORDER_NUMBER_PATTERN.fullmatch(order_number) is None:
            return None
        row = (
            connection.execute(select(payment_orders).where(payment_orders.c.order_number == order_number))
            .mappings()
            .first()
        )
        return Order.from_row(row) if row else None


def _require_flagged(order: Order) -> None:
    """ConflictError unless the order is flagged and not yet resolved."""
    if order.status is OrderStatus.RESOLVED:
        raise ConflictError(
            f"the order {order.order_number} is resolved already ({order.resolution}) by {order.resolved_by}",
            message_key="payment_order_resolved",
            order_number=order.order_number,
            resolution=str(order.resolution),
            resolved_by=str(order.resolved_by),
        )
    if order.status is not OrderStatus.FLAGGED:
        raise ConflictError(
            f"the order {order.order_number} is {order.status.value}, not flagged: there is nothing to resolve",
            message_key="payment_order_not_flagged",
            order_number=order.order_number,
            status=order.status.value,
        )


def _resolution_reason(reason: str) -> str:
    text = reason.strip()
    if len(text) > MAXIMUM_RESOLUTION_REASON_LENGTH:
        raise InvalidInputError(
            f"a reason has at most {MAXIMUM_RESOLUTION_REASON_LENGTH} characters",
            message_key="text_length",
            field="reason",
            minimum=1,
            maximum=MAXIMUM_RESOLUTION_REASON_LENGTH,
        )
    return text


def _accepted_redelivery(order: Order, notification: Notification, amount: Decimal) -> PaymentOutcome | None:
    """A notification of a resolved order: the one a clerk accepted, delivered again, is its booked
    payment (acknowledged, nothing new); the order's original payment delivered again is None (it
    is answered as before); anything else is a 409, and changes nothing."""
    accepted = (
        order.resolution is Resolution.ACCEPT_RECEIVED
        and notification.transaction_id == order.received_transaction_id
        and amount == order.received_amount_yuan
    )
    if accepted:
        assert order.resolution_payment_id is not None, "an accepted order names its payment"
        return PaymentOutcome(order.resolution_payment_id, recorded=False)
    if order.payment_id is not None and amount == order.amount_yuan:
        return None
    raise ConflictError(
        f"the order {order.order_number} is resolved ({order.resolution}): a person decided it already",
        message_key="payment_order_resolved",
        order_number=order.order_number,
        resolution=str(order.resolution),
        resolved_by=str(order.resolved_by),
    )


def new_order_number(now: datetime) -> str:
    """``HL`` + the business day (Asia/Shanghai) + 12 random characters, e.g. ``HL20251210K7QX2M9D4TPA``."""
    random_part = "".join(secrets.choice(ORDER_ALPHABET) for _ in range(ORDER_RANDOM_LENGTH))
    return f"{ORDER_PREFIX}{business_day(now):%Y%m%d}{random_part}"


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
