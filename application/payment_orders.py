"""Payment order use cases: creating an order, booking a provider's notification, a clerk's
resolution of a flagged order, expiring orders nobody paid (docs/payments.md).

Each use case checks the caller's permission first, loads the order (its id is the uuid5 of its
number, so a lookup by number reads the event store, never a lagging read model), calls one domain
command and saves. Where a payment is booked with a change of the order (a notification paying it,
a clerk accepting what the provider reported) both aggregates are saved in one atomic ``save()``:
an order never stands paid or accepted without its payment, nor a payment booked for an order
that does not say so. A save that conflicts with another process is retried from fresh state, a
bounded number of times.

The provider's side (signatures, payload formats, the security log) is the infrastructure's
(``infrastructure.online_payments``); it hands this service what a verified notification says.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable, Collection, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Protocol
from uuid import UUID, uuid4

from eventsourcing.persistence import IntegrityError

from application.authorization import Permission, Principal
from application.ledger import MAXIMUM_SAVE_ATTEMPTS, HeatLedger, require_reason
from application.payments import PaymentOutcome
from domain import ids
from domain.day_split import business_day
from domain.errors import ConflictError, InvalidInputError, NotFoundError
from domain.money import CURRENCY, payment_amount
from domain.payment import Payment, PaymentChannel
from domain.payment_order import (
    MAXIMUM_RESOLUTION_REASON_LENGTH,
    ORDER_ALPHABET,
    ORDER_PREFIX,
    ORDER_RANDOM_LENGTH,
    FlagCause,
    Order,
    OrderStatus,
    PaymentOrder,
    Resolution,
    Verdict,
    order_id,
)
from domain.values import CommandContext

# A new number collides with an existing one about never (34^12 a day); a few tries bound the loop.
ORDER_ATTEMPTS = 5
# The most overdue orders one sweep expires (the next sweep takes the rest).
MAXIMUM_EXPIRED_PER_SWEEP = 500
# The actor of a provider's notifications.
PROVIDER_ACTOR_PREFIX = "provider:"


@dataclass(frozen=True)
class NotifiedPayment:
    """What a provider's verified notification says, in the ledger's terms (the amount exact as
    written, checked here as a payment amount)."""

    merchant_order_number: str
    transaction_id: str
    amount_yuan: Decimal
    currency: str
    paid_at: datetime


class OrderReads(Protocol):
    """The read model of payment orders (lists; a lookup by number reads the store instead)."""

    def orders(self, status: OrderStatus | None, account_number: str | None, limit: int, offset: int) -> list[Order]:
        """Orders (of one status and household, if given), oldest first."""
        ...

    def overdue_order_numbers(self, now: datetime, limit: int) -> list[str]:
        """Numbers of open orders whose validity ended at or before ``now``, oldest first."""
        ...


@dataclass(frozen=True)
class LegacyOrder:
    """A row of the payment order table the ledger kept before orders were aggregates (up to
    migration 0029), to be recorded as the events that would have made it."""

    order: Order
    provider_actor: str


def new_order_number(now: datetime) -> str:
    """``HL`` + the business day (Asia/Shanghai) + 12 random characters, e.g. ``HL20251210K7QX2M9D4TPA``."""
    random_part = "".join(secrets.choice(ORDER_ALPHABET) for _ in range(ORDER_RANDOM_LENGTH))
    return f"{ORDER_PREFIX}{business_day(now):%Y%m%d}{random_part}"


class PaymentOrders:
    """Payment orders and what happens to them, with the caller's permission checked first."""

    def __init__(
        self,
        ledger: HeatLedger,
        reads: OrderReads,
        providers: Collection[str],
        clock: Callable[[], datetime] | None = None,
    ) -> None:
        self.ledger = ledger
        self.reads = reads
        self.providers = frozenset(providers)
        self.clock = clock or ledger.clock

    # -- orders -------------------------------------------------------------------------------

    def create(
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
        if provider not in self.providers:
            raise InvalidInputError(
                f"no payment provider {provider}",
                message_key="payment_provider_unknown",
                field="provider",
                value=provider[:64],
            )
        household = self.ledger.household(account_number)
        context = CommandContext(principal.name, "payment order", uuid4())
        for _ in range(ORDER_ATTEMPTS):
            now = self.clock()
            order = PaymentOrder.create(
                new_order_number(now),
                provider,
                household.id,
                household.account_number,
                amount,
                named_bill_id,
                now,
                context,
            )
            try:
                with self.ledger.locks.writing([order.id]):  # a new order, beside other commands
                    self.ledger.save(order)
            except IntegrityError:  # pragma: no cover - 34^12 numbers a day
                continue
            return order.as_order()
        raise RuntimeError("no free order number after several attempts")  # pragma: no cover

    def order(self, order_number: str) -> Order:
        """The order with this number, from the store, or NotFoundError."""
        with self.ledger.locks.writing([order_id(order_number)]):
            return self._order(order_number).as_order()

    def orders(
        self, status: OrderStatus | None = None, account_number: str | None = None, limit: int = 100, offset: int = 0
    ) -> list[Order]:
        """Orders (of one status and household, if given), oldest first, from the read model."""
        return self.reads.orders(OrderStatus(status) if status is not None else None, account_number, limit, offset)

    # -- notifications --------------------------------------------------------------------------

    def record_notification(self, principal: Principal, provider: str, notified: NotifiedPayment) -> PaymentOutcome:
        """Book a verified notification of ``provider``: the payment and the order's ``Paid`` in
        one save, or the same answer again for a redelivery (nothing new recorded).

        ConflictError (nothing booked) when the order belongs to another provider
        (``payment_order_provider_mismatch``), when the amount differs from the order's (the order
        is flagged first: ``payment_amount_mismatch``), when the order expired (it is flagged:
        ``payment_order_expired``), is flagged with nothing booked, or was resolved otherwise."""
        principal.require(Permission.NOTIFY_PAYMENTS)
        amount = payment_amount(notified.amount_yuan, notified.currency)
        with self._alone_on(notified.merchant_order_number):
            for attempt in range(1, MAXIMUM_SAVE_ATTEMPTS + 1):
                order = self._order(notified.merchant_order_number)
                try:
                    return self._record(principal, provider, order, notified, amount)
                except IntegrityError:
                    self.ledger.evict([order])
                    if attempt == MAXIMUM_SAVE_ATTEMPTS:
                        raise ConflictError(
                            "the order kept changing while the notification was booked; send it again",
                            message_key="payment_order_contended",
                            order_number=order.order_number,
                        ) from None
                except BaseException:
                    self.ledger.evict([order])
                    raise
            raise AssertionError("unreachable: the loop returns or raises")

    def _record(
        self, principal: Principal, provider: str, order: PaymentOrder, notified: NotifiedPayment, amount: Decimal
    ) -> PaymentOutcome:
        if order.provider != provider:
            raise ConflictError(
                f"the order {order.order_number} is to be paid through {order.provider}, not {provider}",
                message_key="payment_order_provider_mismatch",
                order_number=order.order_number,
                provider=order.provider,
            )
        judgement = order.judge(notified.transaction_id, amount)
        context = CommandContext(principal.name, f"online payment, transaction {notified.transaction_id}", uuid4())
        if judgement.verdict is Verdict.ACKNOWLEDGE:
            assert judgement.payment_id is not None
            return PaymentOutcome(judgement.payment_id, recorded=False)
        if judgement.verdict is Verdict.FLAG:
            assert judgement.cause is not None
            self._flag(order, judgement.cause, notified, amount, context)
        return self._book(order, notified, context)

    def _book(self, order: PaymentOrder, notified: NotifiedPayment, context: CommandContext) -> PaymentOutcome:
        """The payment and the order's ``Paid`` in one atomic save. A payment of this order already
        in the store without the order saying so (written before orders were aggregates, by a
        process that stopped in between) is adopted: the order alone is marked paid."""
        now = self.clock()
        payment = Payment.receive(
            order.household_id,
            order.account_number,
            order.amount_yuan,
            PaymentChannel.ONLINE,
            order.provider,
            order.order_number,
            now,
            business_day(now),
            order.named_bill_id,
            context,
        )
        order.pay(payment.id, notified.transaction_id, notified.paid_at, context)
        existing = self.ledger.load_or_none(Payment, payment.id)
        if existing is None:
            self.ledger.save(payment, order)
            return PaymentOutcome(payment.id, recorded=True)
        if (existing.household_id, existing.amount_yuan) != (order.household_id, order.amount_yuan):
            raise ConflictError(
                "this reference was recorded already for another household or amount",
                message_key="payment_reference_reused",
                reference=order.order_number,
                amount_yuan=str(existing.amount_yuan),
            )
        self.ledger.save(order)
        return PaymentOutcome(existing.id, recorded=False)

    def _flag(
        self,
        order: PaymentOrder,
        cause: FlagCause,
        notified: NotifiedPayment,
        amount: Decimal,
        context: CommandContext,
    ) -> None:
        """Flag the order (saved), then refuse the notification with a 409 saying why."""
        if order.flag(cause, amount, notified.transaction_id, self.clock(), context):
            self.ledger.save(order)
        if cause is FlagCause.PAID_AFTER_EXPIRY:
            raise ConflictError(
                f"the order {order.order_number} expired; the notification was not booked",
                message_key="payment_order_expired",
                order_number=order.order_number,
            )
        raise ConflictError(
            f"the notification says {amount} 元; the order {order.order_number} is for {order.amount_yuan} 元",
            message_key="payment_amount_mismatch",
            order_number=order.order_number,
            amount_yuan=str(amount),
            expected_yuan=str(order.amount_yuan),
        )

    # -- resolving a flagged order ----------------------------------------------------------------

    def resolve(self, principal: Principal, order_number: str, decision: Resolution, reason: str) -> Order:
        """A clerk resolves a flagged order, once, with why; the order as resolved.

        ``accept_received`` books a payment of what the provider reported as received, its
        reference the provider's transaction id and the clerk its actor, in the same atomic save
        as the resolution; ``reject`` books nothing (the money goes back to the payer through the
        provider). NotFoundError for an unknown order; ConflictError when the order is not
        flagged, is resolved already, or the received notification cannot be booked."""
        principal.require(Permission.RECEIVE_PAYMENTS)
        require_reason(reason)
        checked_reason = _resolution_reason(reason)
        checked = Resolution(decision)
        context = CommandContext(principal.name, checked_reason, uuid4())
        with self._alone_on(order_number):
            for attempt in range(1, MAXIMUM_SAVE_ATTEMPTS + 1):
                order = self._order(order_number)
                try:
                    self._resolve(order, checked, context)
                except IntegrityError:
                    self.ledger.evict([order])
                    if attempt == MAXIMUM_SAVE_ATTEMPTS:
                        raise ConflictError(
                            "the order kept changing while it was resolved; try again",
                            message_key="payment_order_contended",
                            order_number=order_number,
                        ) from None
                    continue
                except BaseException:
                    self.ledger.evict([order])
                    raise
                return order.as_order()
            raise AssertionError("unreachable: the loop returns or raises")

    def _resolve(self, order: PaymentOrder, decision: Resolution, context: CommandContext) -> None:
        now = self.clock()
        if decision is Resolution.REJECT:
            order.resolve(decision, None, now, context)
            self.ledger.save(order)
            return
        payment_id = order.acceptance_payment_id()
        if self.ledger.load_or_none(Payment, payment_id) is not None:
            raise ConflictError(
                "this reference was recorded already",
                message_key="payment_reference_reused",
                reference=str(order.received_transaction_id),
                amount_yuan=str(order.received_amount_yuan),
            )
        payment = self._received_payment(order, now, context)
        order.resolve(decision, payment.id, now, context)
        self.ledger.save(order, payment)

    @staticmethod
    def _received_payment(order: PaymentOrder, now: datetime, context: CommandContext) -> Payment:
        """The received amount as an online payment of the order's household, the clerk its actor."""
        assert order.received_amount_yuan is not None and order.received_transaction_id is not None
        why = (
            f"flagged order {order.order_number} accepted at the amount received, "
            f"transaction {order.received_transaction_id}: {context.reason}"
        )
        return Payment.receive(
            order.household_id,
            order.account_number,
            order.received_amount_yuan,
            PaymentChannel.ONLINE,
            order.provider,
            order.received_transaction_id,
            now,
            business_day(now),
            order.named_bill_id,
            CommandContext(context.actor, why, context.correlation_id),
        )

    # -- expiry ---------------------------------------------------------------------------------

    def expire(self, principal: Principal, order_number: str, reason: str) -> Order:
        """Expire an open order past its validity, with why (a clerk, or the sweep)."""
        principal.require(Permission.RECEIVE_PAYMENTS)
        require_reason(reason)
        context = CommandContext(principal.name, reason.strip(), uuid4())
        with self.ledger.locks.writing([order_id(order_number)]):  # beside other commands, on a copy
            order = self._order(order_number)
            try:
                order.expire(self.clock(), context)
                self.ledger.save(order)
            except BaseException:
                self.ledger.evict([order])
                raise
            return order.as_order()

    def expire_overdue(self, principal: Principal, limit: int = MAXIMUM_EXPIRED_PER_SWEEP) -> list[str]:
        """Expire the open orders whose validity has passed (the read model finds them, each is
        checked again on its aggregate); the numbers expired by this call."""
        principal.require(Permission.RECEIVE_PAYMENTS)
        numbers = self.reads.overdue_order_numbers(self.clock(), min(limit, MAXIMUM_EXPIRED_PER_SWEEP))
        expired = []
        for number in numbers:
            try:
                self.expire(principal, number, "validity passed without a payment")
            except ConflictError:  # paid or expired meanwhile: nothing to do
                continue
            expired.append(number)
        return expired

    # -- orders kept as rows before migration 0029 --------------------------------------------------

    def adopt_legacy(self, legacy: LegacyOrder) -> bool:
        """Record an order of the old table as the events that made it, with the times and actors
        the row kept; False when it was recorded already (by this or another process)."""
        row = legacy.order
        context = CommandContext(row.created_by, "payment order (recorded from the table of migration 0010)", uuid4())
        order = PaymentOrder.create(
            row.order_number,
            row.provider,
            row.household_id,
            row.account_number,
            row.amount_yuan,
            row.named_bill_id,
            row.created_at,
            context,
            expires_at=row.expires_at,
        )
        _replay_row(order, row, legacy.provider_actor)
        try:
            with self.ledger.locks.writing([order.id]):
                self.ledger.save(order)
        except IntegrityError:
            return False
        return True

    @contextmanager
    def _alone_on(self, order_number: str) -> Iterator[None]:
        """Beside other commands, alone on the order and the payments it may book (the order's
        own, and the one accepting what the provider reported); the order is changed as a copy."""
        with self.ledger.locks.writing_found([order_id(order_number)], lambda: self._payment_ids(order_number)):
            yield

    def _payment_ids(self, order_number: str) -> list[UUID]:
        order = self.ledger.copy_or_none(PaymentOrder, order_id(order_number))
        if order is None:
            return []
        found = [ids.payment_id(order.provider, order.order_number)]
        if order.received_transaction_id is not None:
            found.append(ids.payment_id(order.provider, order.received_transaction_id))
        return found

    def _order(self, order_number: str) -> PaymentOrder:
        order = self.ledger.copy_or_none(PaymentOrder, order_id(order_number))
        if order is None:
            raise NotFoundError(f"no payment order {order_number}", kind="payment_order", key=order_number)
        return order


def _replay_row(order: PaymentOrder, row: Order, provider_actor: str) -> None:
    """The row's later facts as commands on the new order, in the order they could happen."""
    provider_context = CommandContext(
        provider_actor, "payment order (recorded from the table of migration 0010)", uuid4()
    )
    if row.payment_id is not None and row.paid_at is not None:
        order.pay(row.payment_id, row.transaction_id or "", row.paid_at, provider_context)
    if row.flagged_at is not None:
        order.flag(
            FlagCause.AMOUNT_MISMATCH,
            row.received_amount_yuan,
            row.received_transaction_id,
            row.flagged_at,
            provider_context,
            flagged_reason=row.flagged_reason,
        )
    if row.resolution is not None and row.resolved_at is not None:
        clerk = CommandContext(row.resolved_by or "unknown", row.resolution_reason or "resolved", uuid4())
        order.resolve(Resolution(row.resolution), row.resolution_payment_id, row.resolved_at, clerk)


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
