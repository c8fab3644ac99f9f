"""Payments and refund payouts.

A ``Payment`` is one amount received for a household, at the counter (cash, card, bank transfer,
with the clerk's receipt number) or online (with the provider's merchant order number). Its id is
the uuid5 of its source and reference, so the same receipt or a redelivered notification can never
be recorded twice. A bounced transfer or a chargeback is a ``Reversed`` event on it, never an edit.

A ``RefundPayout`` pays a household's credit out (a settlement's 多退 that it wants back rather
than carried to the next season). It needs a second person's approval before it is paid.
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from enum import StrEnum
from typing import Any
from uuid import UUID

from eventsourcing.domain import Aggregate, event

from domain import ids
from domain.errors import ConflictError, InvalidInputError, PermissionDeniedError
from domain.money import CURRENCY, payment_amount
from domain.values import MAXIMUM_CODE_LENGTH, CommandContext, bounded_text

COUNTER = "counter"


class PaymentChannel(StrEnum):
    """How the money came in."""

    CASH = "cash"
    CARD = "card"
    BANK_TRANSFER = "bank_transfer"
    ONLINE = "online"


COUNTER_CHANNELS = (PaymentChannel.CASH, PaymentChannel.CARD, PaymentChannel.BANK_TRANSFER)


class ReversalKind(StrEnum):
    """Why a payment was taken back."""

    BOUNCED = "bounced"  # a bank transfer that did not arrive
    CHARGEBACK = "chargeback"  # the payer's bank or the provider took it back
    ERROR = "error"  # recorded against the wrong household or twice by mistake


def _context_fields(context: CommandContext) -> dict[str, Any]:
    return {"actor": context.actor, "reason": context.reason, "correlation_id": context.correlation_id}


class Payment(Aggregate):
    """One payment received for a household."""

    class Received(Aggregate.Created):
        household_id: UUID
        account_number: str
        amount_yuan: Decimal
        channel: str
        source: str
        reference: str
        received_at: datetime
        received_on: date
        named_bill_id: UUID | None
        actor: str
        reason: str
        correlation_id: UUID

    class Reversed(Aggregate.Event):
        kind: str
        reversed_on: date
        actor: str
        reason: str
        correlation_id: UUID

    @staticmethod
    def create_id(source: str, reference: str) -> UUID:
        return ids.payment_id(source, reference)

    @event(Received)
    def __init__(
        self,
        household_id: UUID,
        account_number: str,
        amount_yuan: Decimal,
        channel: str,
        source: str,
        reference: str,
        received_at: datetime,
        received_on: date,
        named_bill_id: UUID | None,
        actor: str,
        reason: str,
        correlation_id: UUID,
    ) -> None:
        self.household_id = household_id
        self.account_number = account_number
        self.amount_yuan = amount_yuan
        self.channel = PaymentChannel(channel)
        self.source = source
        self.reference = reference
        self.received_on = received_on
        self.named_bill_id = named_bill_id
        self.reversed_on: date | None = None

    @classmethod
    def receive(
        cls,
        household_id: UUID,
        account_number: str,
        amount_yuan: Decimal,
        channel: PaymentChannel,
        source: str,
        reference: str,
        received_at: datetime,
        received_on: date,
        named_bill_id: UUID | None,
        context: CommandContext,
        currency: str = CURRENCY,
    ) -> Payment:
        """A payment checked before any event exists: a CNY amount to the 分, a reference."""
        checked_channel = PaymentChannel(channel)
        checked_source = bounded_text(source, "source", MAXIMUM_CODE_LENGTH)
        if (checked_channel in COUNTER_CHANNELS) != (checked_source == COUNTER):
            raise InvalidInputError(
                "cash, card and bank transfers come through the counter; online payments through a provider",
                message_key="payment_channel_mismatch",
                channel=checked_channel.value,
                source=checked_source,
            )
        return cls(
            household_id=household_id,
            account_number=account_number,
            amount_yuan=payment_amount(amount_yuan, currency),
            channel=checked_channel.value,
            source=checked_source,
            reference=bounded_text(reference, "reference", MAXIMUM_CODE_LENGTH),
            received_at=received_at,
            received_on=received_on,
            named_bill_id=named_bill_id,
            **_context_fields(context),
        )

    @property
    def is_reversed(self) -> bool:
        return self.reversed_on is not None

    def reverse(self, kind: ReversalKind, reversed_on: date, context: CommandContext) -> None:
        """Take the payment back (a bounced transfer, a chargeback, a mistake), with who and why."""
        if self.is_reversed:
            raise ConflictError(
                "the payment is reversed already", message_key="payment_already_reversed", reference=self.reference
            )
        if reversed_on < self.received_on:
            raise InvalidInputError(
                "a payment cannot be reversed before it was received",
                message_key="reversal_before_payment",
                field="reversed_on",
            )
        self._reversed(ReversalKind(kind).value, reversed_on, **_context_fields(context))

    @event(Reversed)
    def _reversed(self, kind: str, reversed_on: date, actor: str, reason: str, correlation_id: UUID) -> None:
        self.reversed_on = reversed_on


class RefundStatus(StrEnum):
    """Where a refund payout stands."""

    REQUESTED = "requested"
    APPROVED = "approved"
    REJECTED = "rejected"
    PAID = "paid"


class RefundPayout(Aggregate):
    """Paying a household's credit out: requested by one person, approved by another, then paid."""

    class Requested(Aggregate.Created):
        household_id: UUID
        account_number: str
        request_number: str
        amount_yuan: Decimal
        requested_on: date
        actor: str
        reason: str
        correlation_id: UUID

    class Approved(Aggregate.Event):
        actor: str
        reason: str
        correlation_id: UUID

    class Rejected(Aggregate.Event):
        actor: str
        reason: str
        correlation_id: UUID

    class PaidOut(Aggregate.Event):
        paid_on: date
        reference: str
        actor: str
        reason: str
        correlation_id: UUID

    @staticmethod
    def create_id(account_number: str, request_number: str) -> UUID:
        return ids.refund_id(account_number, request_number)

    @event(Requested)
    def __init__(
        self,
        household_id: UUID,
        account_number: str,
        request_number: str,
        amount_yuan: Decimal,
        requested_on: date,
        actor: str,
        reason: str,
        correlation_id: UUID,
    ) -> None:
        self.household_id = household_id
        self.account_number = account_number
        self.request_number = request_number
        self.amount_yuan = amount_yuan
        self.requested_on = requested_on
        self.requested_by = actor
        self.status = RefundStatus.REQUESTED
        self.approved_by: str | None = None

    @classmethod
    def request(
        cls,
        household_id: UUID,
        account_number: str,
        request_number: str,
        amount_yuan: Decimal,
        requested_on: date,
        context: CommandContext,
    ) -> RefundPayout:
        """Ask to pay ``amount_yuan`` of the household's credit out."""
        return cls(
            household_id=household_id,
            account_number=account_number,
            request_number=bounded_text(request_number, "request_number", MAXIMUM_CODE_LENGTH),
            amount_yuan=payment_amount(amount_yuan),
            requested_on=requested_on,
            **_context_fields(context),
        )

    def approve(self, context: CommandContext) -> None:
        """A second person approves: never the one who asked."""
        self._require(RefundStatus.REQUESTED)
        if context.actor == self.requested_by:
            raise PermissionDeniedError(
                "a refund is approved by a second person, not by the one who asked for it",
                message_key="second_person_required",
                requested_by=self.requested_by,
            )
        self._approved(**_context_fields(context))

    @event(Approved)
    def _approved(self, actor: str, reason: str, correlation_id: UUID) -> None:
        self.status = RefundStatus.APPROVED
        self.approved_by = actor

    def reject(self, context: CommandContext) -> None:
        """Turn the request down, with why."""
        self._require(RefundStatus.REQUESTED)
        self._rejected(**_context_fields(context))

    @event(Rejected)
    def _rejected(self, actor: str, reason: str, correlation_id: UUID) -> None:
        self.status = RefundStatus.REJECTED

    def pay_out(self, paid_on: date, reference: str, context: CommandContext) -> None:
        """Record that the approved amount left the company (the bank transfer's reference)."""
        self._require(RefundStatus.APPROVED)
        self._paid_out(paid_on, bounded_text(reference, "reference", MAXIMUM_CODE_LENGTH), **_context_fields(context))

    @event(PaidOut)
    def _paid_out(self, paid_on: date, reference: str, actor: str, reason: str, correlation_id: UUID) -> None:
        self.status = RefundStatus.PAID

    def _require(self, status: RefundStatus) -> None:
        if self.status is not status:
            raise ConflictError(
                f"the refund is {self.status.value}, not {status.value}",
                message_key="refund_status_conflict",
                status=self.status.value,
            )
