"""Online payment orders: what the ledger expects a provider to notify, and what became of it.

A ``PaymentOrder`` is created with a merchant order number of the ledger's own, a household and an
exact amount. The provider's notification then pays it (the payment is booked in the same atomic
save as the order's ``Paid``), or contradicts it and flags it for a person (``Flagged``: an amount
other than the order's, or money taken on an order the ledger had expired). A clerk resolves a
flagged order once, with why (``Resolved``: accept what the provider reported as received, booked
in the same save, or reject it). An open order nobody paid expires (``Expired``). Every change is
an event carrying who did it and why; nothing is edited.

Rules (docs/payments.md, "An order's lifecycle"):

* an order is paid at most once: the payment's id is the uuid5 of the provider and the order
  number, and ``pay`` takes only an open order;
* a notification of the order's own amount on a paid order is a redelivery (acknowledged, nothing
  new); a notification of another amount flags the order, keeping what the first contradicting
  notification reported (later ones change nothing);
* a flagged order is resolved once; accepting books the received amount under the provider's
  transaction id, never a transaction already booked with the order's amount;
* an order expires only while open, and only once its validity has passed.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from enum import StrEnum
from typing import Any
from uuid import UUID, uuid5

from eventsourcing.domain import Aggregate, event

from domain import ids
from domain.errors import ConflictError, InvalidInputError
from domain.money import CURRENCY, payment_amount
from domain.values import CommandContext

ORDER_PREFIX = "HL"
# "HL" + the business day (8 digits) + 12 random characters: 22 in all, within every provider's
# limit on merchant order numbers (WeChat Pay: 6 to 32, Alipay: up to 64).
ORDER_NUMBER_LENGTH = 22
ORDER_RANDOM_LENGTH = 12
# Digits and capitals without I and O, which a clerk reading a number aloud confuses with 1 and 0.
ORDER_ALPHABET = "0123456789ABCDEFGHJKLMNPQRSTUVWXYZ"
ORDER_NUMBER_PATTERN = re.compile(rf"{ORDER_PREFIX}[0-9]{{8}}[{ORDER_ALPHABET}]{{{ORDER_RANDOM_LENGTH}}}")
# How long an order waits for its payment. The provider is given ``expires_at`` as the order's
# expiry (WeChat Pay's time_expire, Alipay's time_expire) so it takes no money after it; two hours
# covers a payer who scans the code at the counter or on the WeChat page and is interrupted.
ORDER_VALIDITY = timedelta(hours=2)
MAXIMUM_TRANSACTION_ID_LENGTH = 64
MAXIMUM_FLAGGED_REASON_LENGTH = 200
MAXIMUM_RESOLUTION_REASON_LENGTH = 500


class OrderStatus(StrEnum):
    """Where a payment order stands."""

    OPEN = "open"  # created, no notification booked yet
    PAID = "paid"  # a notification of its amount was booked: ``payment_id``
    FLAGGED = "flagged"  # a notification contradicted it: ``flagged_reason``; a person must look
    RESOLVED = "resolved"  # a clerk resolved the flag: ``resolution`` (and ``resolution_payment_id``)
    EXPIRED = "expired"  # open past its validity and expired: no payment is expected any more


class Resolution(StrEnum):
    """What a clerk decided about a flagged order."""

    # Book what the provider reported as received, under the provider's transaction id.
    ACCEPT_RECEIVED = "accept_received"
    # Book nothing: the money goes back to the payer through the provider.
    REJECT = "reject"


class FlagCause(StrEnum):
    """Why a notification flagged an order."""

    AMOUNT_MISMATCH = "amount_mismatch"  # it reported another amount than the order's
    PAID_AFTER_EXPIRY = "paid_after_expiry"  # the provider took money on an order the ledger expired


class Verdict(StrEnum):
    """What a notification of an order calls for (``PaymentOrder.judge``)."""

    BOOK = "book"  # book the payment and mark the order paid, in one save
    ACKNOWLEDGE = "acknowledge"  # booked already: answer as before, record nothing
    FLAG = "flag"  # flag the order (a person must look), then refuse the notification


@dataclass(frozen=True)
class Judgement:
    """A notification's verdict; ``payment_id`` of an acknowledgement, ``cause`` of a flag."""

    verdict: Verdict
    payment_id: UUID | None = None
    cause: FlagCause | None = None


@dataclass(frozen=True)
class Order:
    """A payment order as it stands: what reads and answers show (the aggregate's state, or a row
    of the read model)."""

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
    expires_at: datetime | None = None
    expired_at: datetime | None = None


def order_id(order_number: str) -> UUID:
    """The aggregate id of the order with this number: a lookup by number needs no read model."""
    return uuid5(ids.LEDGER_NAMESPACE, f"payment-order:{order_number}")


def _context_fields(context: CommandContext) -> dict[str, Any]:
    return {"actor": context.actor, "reason": context.reason, "correlation_id": context.correlation_id}


class PaymentOrder(Aggregate):
    """One payment order of a household through one provider."""

    class Created(Aggregate.Created):
        order_number: str
        provider: str
        household_id: UUID
        account_number: str
        amount_yuan: Decimal
        named_bill_id: UUID | None
        created_at: datetime
        expires_at: datetime
        actor: str
        reason: str
        correlation_id: UUID

    class Paid(Aggregate.Event):
        payment_id: UUID
        transaction_id: str
        paid_at: datetime  # when the provider says the payer paid
        actor: str
        reason: str
        correlation_id: UUID

    class Flagged(Aggregate.Event):
        cause: str
        received_amount_yuan: Decimal | None  # None only on orders flagged before migration 0013
        received_transaction_id: str | None
        flagged_at: datetime
        flagged_reason: str
        actor: str
        reason: str
        correlation_id: UUID

    class Resolved(Aggregate.Event):
        resolution: str
        payment_id: UUID | None  # the payment an acceptance booked in the same save
        resolved_at: datetime
        actor: str
        reason: str
        correlation_id: UUID

    class Expired(Aggregate.Event):
        expired_at: datetime
        actor: str
        reason: str
        correlation_id: UUID

    @staticmethod
    def create_id(order_number: str) -> UUID:
        return order_id(order_number)

    @event(Created)
    def __init__(
        self,
        order_number: str,
        provider: str,
        household_id: UUID,
        account_number: str,
        amount_yuan: Decimal,
        named_bill_id: UUID | None,
        created_at: datetime,
        expires_at: datetime,
        actor: str,
        reason: str,
        correlation_id: UUID,
    ) -> None:
        self.order_number = order_number
        self.provider = provider
        self.household_id = household_id
        self.account_number = account_number
        self.amount_yuan = amount_yuan
        self.named_bill_id = named_bill_id
        self.created_at = created_at
        self.created_by = actor
        self.expires_at = expires_at
        self.status = OrderStatus.OPEN
        self.payment_id: UUID | None = None
        self.transaction_id: str | None = None
        self.paid_at: datetime | None = None
        self.flag_cause: FlagCause | None = None
        self.flagged_at: datetime | None = None
        self.flagged_reason: str | None = None
        self.received_amount_yuan: Decimal | None = None
        self.received_transaction_id: str | None = None
        self.resolution: Resolution | None = None
        self.resolved_at: datetime | None = None
        self.resolved_by: str | None = None
        self.resolution_reason: str | None = None
        self.resolution_payment_id: UUID | None = None
        self.expired_at: datetime | None = None

    @classmethod
    def create(
        cls,
        order_number: str,
        provider: str,
        household_id: UUID,
        account_number: str,
        amount_yuan: Decimal,
        named_bill_id: UUID | None,
        created_at: datetime,
        context: CommandContext,
        currency: str = CURRENCY,
        expires_at: datetime | None = None,
    ) -> PaymentOrder:
        """A new open order, checked before any event exists: one of our numbers, a payment's
        amount (CNY, positive, to the 分); it expires ``ORDER_VALIDITY`` after its creation unless
        ``expires_at`` says otherwise (orders converted from the old table keep theirs)."""
        if ORDER_NUMBER_PATTERN.fullmatch(order_number) is None:
            raise InvalidInputError(
                f"{order_number!r} is not an order number of the ledger",
                message_key="payment_order_number_invalid",
                field="order_number",
            )
        return cls(
            order_number=order_number,
            provider=provider,
            household_id=household_id,
            account_number=account_number,
            amount_yuan=payment_amount(amount_yuan, currency),
            named_bill_id=named_bill_id,
            created_at=created_at,
            expires_at=expires_at or created_at + ORDER_VALIDITY,
            **_context_fields(context),
        )

    # -- notifications ------------------------------------------------------------------------

    def judge(self, transaction_id: str, amount_yuan: Decimal) -> Judgement:
        """What a notification of ``amount_yuan`` (already a checked payment amount) calls for.

        Raises ConflictError when it is refused without changing the order: a resolved order
        notified with anything but what was booked for it, or an order flagged (or expired) with
        nothing booked."""
        if self.status is OrderStatus.RESOLVED:
            return self._judge_resolved(transaction_id, amount_yuan)
        if amount_yuan != self.amount_yuan:
            return Judgement(Verdict.FLAG, cause=FlagCause.AMOUNT_MISMATCH)
        if self.payment_id is not None:  # paid, or paid and flagged later: a redelivery
            return Judgement(Verdict.ACKNOWLEDGE, payment_id=self.payment_id)
        if self.status is OrderStatus.OPEN:
            return Judgement(Verdict.BOOK)
        if self.status is OrderStatus.EXPIRED:
            return Judgement(Verdict.FLAG, cause=FlagCause.PAID_AFTER_EXPIRY)
        raise self._flagged_conflict()

    def _judge_resolved(self, transaction_id: str, amount_yuan: Decimal) -> Judgement:
        """The notification a clerk accepted, delivered again, is its booked payment; the order's
        original payment delivered again is acknowledged too; anything else is a 409."""
        accepted = (
            self.resolution is Resolution.ACCEPT_RECEIVED
            and transaction_id == self.received_transaction_id
            and amount_yuan == self.received_amount_yuan
        )
        if accepted:
            assert self.resolution_payment_id is not None, "an accepted order names its payment"
            return Judgement(Verdict.ACKNOWLEDGE, payment_id=self.resolution_payment_id)
        if self.payment_id is not None and amount_yuan == self.amount_yuan:
            return Judgement(Verdict.ACKNOWLEDGE, payment_id=self.payment_id)
        raise self._resolved_conflict()

    def pay(self, payment_id: UUID, transaction_id: str, paid_at: datetime, context: CommandContext) -> None:
        """The order's payment was booked (in the same save): only an open order is paid, once."""
        if self.status is not OrderStatus.OPEN:
            raise ConflictError(
                f"the order {self.order_number} is {self.status.value}: it is paid only while open",
                message_key="payment_order_not_open",
                order_number=self.order_number,
                status=self.status.value,
            )
        if payment_id != ids.payment_id(self.provider, self.order_number):
            raise ConflictError(
                "an order is paid by the payment of its own number",
                message_key="payment_order_payment_mismatch",
                order_number=self.order_number,
            )
        self._paid(payment_id, transaction_id[:MAXIMUM_TRANSACTION_ID_LENGTH], paid_at, **_context_fields(context))

    @event(Paid)
    def _paid(
        self, payment_id: UUID, transaction_id: str, paid_at: datetime, actor: str, reason: str, correlation_id: UUID
    ) -> None:
        self.status = OrderStatus.PAID
        self.payment_id = payment_id
        self.transaction_id = transaction_id
        self.paid_at = paid_at

    def flag(
        self,
        cause: FlagCause,
        received_amount_yuan: Decimal | None,
        received_transaction_id: str | None,
        flagged_at: datetime,
        context: CommandContext,
        flagged_reason: str | None = None,
    ) -> bool:
        """A notification contradicted the order: a person must look. Whether this call flagged it:
        an order flagged already keeps the first contradicting notification (what the clerk sees
        and may accept); a resolved order is never flagged again. ``flagged_reason`` is said from
        the cause unless given (a row of the old table keeps its words)."""
        if self.status is OrderStatus.FLAGGED:
            return False
        if self.status is OrderStatus.RESOLVED:
            raise self._resolved_conflict()
        checked = FlagCause(cause)
        text = flagged_reason or self._flag_text(checked, received_amount_yuan)
        self._flagged(
            checked.value,
            received_amount_yuan,
            received_transaction_id[:MAXIMUM_TRANSACTION_ID_LENGTH] if received_transaction_id is not None else None,
            flagged_at,
            text[:MAXIMUM_FLAGGED_REASON_LENGTH],
            **_context_fields(context),
        )
        return True

    def _flag_text(self, cause: FlagCause, received_amount_yuan: Decimal | None) -> str:
        if cause is FlagCause.AMOUNT_MISMATCH:
            return f"amount_mismatch: notified {received_amount_yuan} 元, ordered {self.amount_yuan} 元"
        return f"paid_after_expiry: notified {received_amount_yuan} 元 after the order expired at {self.expired_at}"

    @event(Flagged)
    def _flagged(
        self,
        cause: str,
        received_amount_yuan: Decimal | None,
        received_transaction_id: str | None,
        flagged_at: datetime,
        flagged_reason: str,
        actor: str,
        reason: str,
        correlation_id: UUID,
    ) -> None:
        self.status = OrderStatus.FLAGGED
        self.flag_cause = FlagCause(cause)
        self.flagged_at = flagged_at
        self.flagged_reason = flagged_reason
        self.received_amount_yuan = received_amount_yuan
        self.received_transaction_id = received_transaction_id

    # -- a clerk's resolution -----------------------------------------------------------------

    def acceptance_payment_id(self) -> UUID:
        """The id of the payment accepting the flag books: the provider's transaction, never one
        booked already with the order's amount. ConflictError unless the order may be accepted."""
        self._require_flagged()
        if self.received_amount_yuan is None or self.received_transaction_id is None:
            raise ConflictError(
                f"the order {self.order_number} does not keep what the provider reported: reject it",
                message_key="payment_order_received_unknown",
                order_number=self.order_number,
            )
        if self.payment_id is not None and self.transaction_id == self.received_transaction_id:
            raise ConflictError(
                f"the provider's transaction {self.transaction_id} is booked already with the order's amount",
                message_key="payment_order_transaction_booked",
                order_number=self.order_number,
                transaction_id=self.transaction_id,
            )
        return ids.payment_id(self.provider, self.received_transaction_id)

    def resolve(
        self, decision: Resolution, payment_id: UUID | None, resolved_at: datetime, context: CommandContext
    ) -> None:
        """A clerk resolves the flag, once, with why; an acceptance names the payment booked with it."""
        checked = Resolution(decision)
        self._require_flagged()
        if checked is Resolution.ACCEPT_RECEIVED and payment_id != self.acceptance_payment_id():
            raise ConflictError(
                "an acceptance books the provider's transaction",
                message_key="payment_order_payment_mismatch",
                order_number=self.order_number,
            )
        if checked is Resolution.REJECT and payment_id is not None:
            raise ConflictError(
                "a rejection books nothing",
                message_key="payment_order_payment_mismatch",
                order_number=self.order_number,
            )
        if not context.reason.strip() or len(context.reason) > MAXIMUM_RESOLUTION_REASON_LENGTH:
            raise InvalidInputError(
                f"a resolution says why in 1 to {MAXIMUM_RESOLUTION_REASON_LENGTH} characters",
                message_key="text_length",
                field="reason",
                minimum=1,
                maximum=MAXIMUM_RESOLUTION_REASON_LENGTH,
            )
        self._resolved(checked.value, payment_id, resolved_at, **_context_fields(context))

    @event(Resolved)
    def _resolved(
        self,
        resolution: str,
        payment_id: UUID | None,
        resolved_at: datetime,
        actor: str,
        reason: str,
        correlation_id: UUID,
    ) -> None:
        self.status = OrderStatus.RESOLVED
        self.resolution = Resolution(resolution)
        self.resolution_payment_id = payment_id
        self.resolved_at = resolved_at
        self.resolved_by = actor
        self.resolution_reason = reason

    # -- expiry -------------------------------------------------------------------------------

    def expire(self, now: datetime, context: CommandContext) -> None:
        """An open order past its validity expires: the ledger expects no payment of it any more."""
        if self.status is not OrderStatus.OPEN:
            raise ConflictError(
                f"the order {self.order_number} is {self.status.value}: only an open order expires",
                message_key="payment_order_not_open",
                order_number=self.order_number,
                status=self.status.value,
            )
        if now < self.expires_at:
            raise ConflictError(
                f"the order {self.order_number} is valid until {self.expires_at.isoformat()}",
                message_key="payment_order_still_valid",
                order_number=self.order_number,
                expires_at=self.expires_at.isoformat(),
            )
        self._expired(now, **_context_fields(context))

    @event(Expired)
    def _expired(self, expired_at: datetime, actor: str, reason: str, correlation_id: UUID) -> None:
        self.status = OrderStatus.EXPIRED
        self.expired_at = expired_at

    # -- reading --------------------------------------------------------------------------------

    def as_order(self) -> Order:
        """The order as it stands, for answers and reads."""
        return Order(
            order_number=self.order_number,
            provider=self.provider,
            household_id=self.household_id,
            account_number=self.account_number,
            amount_yuan=self.amount_yuan,
            named_bill_id=self.named_bill_id,
            created_at=self.created_at,
            created_by=self.created_by,
            status=self.status,
            payment_id=self.payment_id,
            transaction_id=self.transaction_id,
            paid_at=self.paid_at,
            flagged_at=self.flagged_at,
            flagged_reason=self.flagged_reason,
            received_amount_yuan=self.received_amount_yuan,
            received_transaction_id=self.received_transaction_id,
            resolved_at=self.resolved_at,
            resolved_by=self.resolved_by,
            resolution=self.resolution,
            resolution_reason=self.resolution_reason,
            resolution_payment_id=self.resolution_payment_id,
            expires_at=self.expires_at,
            expired_at=self.expired_at,
        )

    def _require_flagged(self) -> None:
        if self.status is OrderStatus.RESOLVED:
            raise self._resolved_conflict()
        if self.status is not OrderStatus.FLAGGED:
            raise ConflictError(
                f"the order {self.order_number} is {self.status.value}, not flagged: there is nothing to resolve",
                message_key="payment_order_not_flagged",
                order_number=self.order_number,
                status=self.status.value,
            )

    def _resolved_conflict(self) -> ConflictError:
        return ConflictError(
            f"the order {self.order_number} is resolved already ({self.resolution}) by {self.resolved_by}",
            message_key="payment_order_resolved",
            order_number=self.order_number,
            resolution=str(self.resolution),
            resolved_by=str(self.resolved_by),
        )

    def _flagged_conflict(self) -> ConflictError:
        return ConflictError(
            f"the order {self.order_number} is flagged: {self.flagged_reason}",
            message_key="payment_order_flagged",
            order_number=self.order_number,
        )
