"""Payment use cases: payments at the counter and online, reversals, refund payouts.

A payment's id is the uuid5 of its source and reference, so recording it again (a clerk pressing
twice, a provider redelivering its notification) finds the payment already there and records
nothing new. The same reference with a different household or amount is a conflict: it is flagged,
never silently accepted. Each payment is its own aggregate, so concurrent payments to one household
never contend; the balance is the read models' sum.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from typing import Protocol
from uuid import UUID, uuid4

from eventsourcing.persistence import IntegrityError

from application.authorization import Permission, Principal
from application.ledger import HeatLedger, require_reason
from domain import ids
from domain.day_split import business_day
from domain.errors import ConflictError, InvalidInputError, NotFoundError
from domain.money import CURRENCY
from domain.payment import COUNTER, Payment, PaymentChannel, RefundPayout, ReversalKind
from domain.values import CommandContext


@dataclass(frozen=True)
class PaymentOutcome:
    """The payment, and whether this call recorded it (False: it was there already)."""

    payment_id: UUID
    recorded: bool


@dataclass(frozen=True)
class _Money:
    amount_yuan: Decimal
    currency: str


class CreditReader(Protocol):
    """What a refund request checks: the household's credit not yet allocated to any charge."""

    def unallocated_credit_yuan(self, household_id: UUID) -> Decimal:
        """Credit the household has (payments and settlement refunds not yet used), in 元."""
        ...

    def pending_refunds_yuan(self, household_id: UUID, excluding: UUID | None = None) -> Decimal:
        """Refunds requested or approved and not yet paid out: credit already spoken for."""
        ...


class Payments:
    """Payments and refunds, with the caller's permission checked first."""

    def __init__(self, ledger: HeatLedger, credits: CreditReader) -> None:
        self.ledger = ledger
        self.credits = credits

    # -- payments ---------------------------------------------------------------------------

    def receive_at_counter(
        self,
        principal: Principal,
        account_number: str,
        amount_yuan: Decimal,
        channel: PaymentChannel,
        receipt_number: str,
        named_bill_id: UUID | None = None,
        reason: str = "counter payment",
        correlation_id: UUID | None = None,
        currency: str = CURRENCY,
    ) -> PaymentOutcome:
        """A payment taken by a clerk (cash, card, bank transfer) with its receipt number."""
        principal.require(Permission.RECEIVE_PAYMENTS)
        if PaymentChannel(channel) is PaymentChannel.ONLINE:
            raise InvalidInputError(
                "online payments come through a provider's notification",
                message_key="payment_channel_mismatch",
                channel=PaymentChannel.ONLINE.value,
                source=COUNTER,
            )
        return self._receive(
            principal,
            account_number,
            _Money(amount_yuan, currency),
            channel,
            COUNTER,
            receipt_number,
            named_bill_id,
            reason,
            correlation_id,
        )

    def receive_online(
        self,
        principal: Principal,
        provider: str,
        merchant_order_number: str,
        account_number: str,
        amount_yuan: Decimal,
        named_bill_id: UUID | None = None,
        reason: str = "online payment notification",
        correlation_id: UUID | None = None,
        currency: str = CURRENCY,
    ) -> PaymentOutcome:
        """A payment a provider notified (its signature already checked by the channel)."""
        principal.require(Permission.NOTIFY_PAYMENTS)
        return self._receive(
            principal,
            account_number,
            _Money(amount_yuan, currency),
            PaymentChannel.ONLINE,
            provider,
            merchant_order_number,
            named_bill_id,
            reason,
            correlation_id,
        )

    def receive_resolved_online(
        self,
        principal: Principal,
        provider: str,
        transaction_id: str,
        account_number: str,
        amount_yuan: Decimal,
        named_bill_id: UUID | None,
        reason: str,
        correlation_id: UUID | None = None,
    ) -> PaymentOutcome:
        """A clerk accepts what a provider reported as received on a flagged order: an online payment
        whose reference is the provider's transaction id, the clerk its actor (``RECEIVE_PAYMENTS``)."""
        principal.require(Permission.RECEIVE_PAYMENTS)
        require_reason(reason)
        return self._receive(
            principal,
            account_number,
            _Money(amount_yuan, CURRENCY),
            PaymentChannel.ONLINE,
            provider,
            transaction_id,
            named_bill_id,
            reason,
            correlation_id,
        )

    def _receive(
        self,
        principal: Principal,
        account_number: str,
        money: _Money,
        channel: PaymentChannel,
        source: str,
        reference: str,
        named_bill_id: UUID | None,
        reason: str,
        correlation_id: UUID | None,
    ) -> PaymentOutcome:
        household = self.ledger.household(account_number)
        received_at = self.ledger.clock()
        context = CommandContext(principal.name, reason.strip() or "payment", correlation_id or uuid4())
        payment = Payment.receive(
            household.id,
            household.account_number,
            money.amount_yuan,
            channel,
            source,
            reference,
            received_at,
            business_day(received_at),
            named_bill_id,
            context,
            money.currency,
        )
        try:
            # Beside other commands: a new payment is its own aggregate, locked by its id so the
            # same reference sent twice at once is saved once and found the second time.
            with self.ledger.locks.writing([payment.id]):
                self.ledger.save(payment)
        except IntegrityError:
            return PaymentOutcome(self._same_payment_again(payment), recorded=False)
        return PaymentOutcome(payment.id, recorded=True)

    def _same_payment_again(self, attempt: Payment) -> UUID:
        """The payment already recorded under the attempt's reference, if it is the same payment."""
        existing = self.payment(attempt.id)
        if (existing.household_id, existing.amount_yuan) != (attempt.household_id, attempt.amount_yuan):
            raise ConflictError(
                "this reference was recorded already for another household or amount",
                message_key="payment_reference_reused",
                reference=attempt.reference,
                amount_yuan=str(existing.amount_yuan),
            )
        return existing.id

    def payment(self, payment_id: UUID) -> Payment:
        """The payment with this id, or NotFoundError."""
        with self.ledger.locks.writing([payment_id]):
            payment = self.ledger.load_or_none(Payment, payment_id)
            if payment is None:
                raise NotFoundError(f"no payment {payment_id}", kind="payment", key=str(payment_id))
            return payment

    def reverse(
        self,
        principal: Principal,
        payment_id: UUID,
        kind: ReversalKind,
        reason: str,
        correlation_id: UUID | None = None,
    ) -> None:
        """Take a payment back (a bounced transfer, a chargeback, a mistake), with who and why."""
        principal.require(Permission.RECEIVE_PAYMENTS)
        require_reason(reason)
        context = CommandContext(principal.name, reason.strip(), correlation_id or uuid4())
        # Beside other commands, alone on this payment, changing a copy of it.
        with self.ledger.locks.writing([payment_id]):
            payment = self.ledger.copy_or_none(Payment, payment_id)
            if payment is None:
                raise NotFoundError(f"no payment {payment_id}", kind="payment", key=str(payment_id))
            payment.reverse(kind, business_day(self.ledger.clock()), context)
            self.ledger.save(payment)

    # -- refunds ----------------------------------------------------------------------------

    def request_refund(
        self,
        principal: Principal,
        account_number: str,
        request_number: str,
        amount_yuan: Decimal,
        reason: str,
        correlation_id: UUID | None = None,
    ) -> UUID:
        """Ask to pay part of the household's credit out; refused beyond the credit it has."""
        principal.require(Permission.RECEIVE_PAYMENTS)
        require_reason(reason)
        # Alone on the household (its credit is checked, then a request saved against it) and
        # on the new request, beside other commands.
        household_id = ids.household_id(account_number)
        with self.ledger.locks.writing([household_id, ids.refund_id(account_number, request_number)]):
            household = self.ledger.household(account_number)
            self._require_credit(household.id, amount_yuan)
            context = CommandContext(principal.name, reason.strip(), correlation_id or uuid4())
            refund = RefundPayout.request(
                household.id, account_number, request_number, amount_yuan, business_day(self.ledger.clock()), context
            )
            try:
                self.ledger.save(refund)
            except IntegrityError:
                raise ConflictError(
                    "a refund request with this number exists", message_key="refund_request_exists", key=request_number
                ) from None
        return refund.id

    def approve_refund(
        self, principal: Principal, refund_id: UUID, reason: str, correlation_id: UUID | None = None
    ) -> None:
        """The second person's approval (never the requester's); the credit is checked again."""
        principal.require(Permission.APPROVE_REFUNDS)
        # Alone on the refund and its household (whose credit is checked again), on a copy.
        with self.ledger.locks.writing_found([refund_id], lambda: [self._refund(refund_id).household_id]):
            refund = self._refund(refund_id)
            self._require_credit(refund.household_id, refund.amount_yuan, excluding=refund.id)
            refund.approve(CommandContext(principal.name, reason.strip() or "approved", correlation_id or uuid4()))
            self.ledger.save(refund)

    def reject_refund(self, principal: Principal, refund_id: UUID, reason: str) -> None:
        """Turn a refund request down, with why."""
        principal.require(Permission.APPROVE_REFUNDS)
        require_reason(reason)
        self._change_refund(refund_id, lambda refund, context: refund.reject(context), principal, reason)

    def pay_out_refund(
        self, principal: Principal, refund_id: UUID, bank_reference: str, reason: str = "paid out"
    ) -> None:
        """Record that an approved refund left the company (the bank transfer's reference)."""
        principal.require(Permission.RECEIVE_PAYMENTS)
        today = business_day(self.ledger.clock())
        self._change_refund(
            refund_id, lambda refund, context: refund.pay_out(today, bank_reference, context), principal, reason
        )

    def _change_refund(
        self,
        refund_id: UUID,
        change: Callable[[RefundPayout, CommandContext], None],
        principal: Principal,
        reason: str,
    ) -> None:
        context = CommandContext(principal.name, reason.strip() or "refund", uuid4())
        with self.ledger.locks.writing([refund_id]):  # beside other commands, on a copy
            refund = self._refund(refund_id)
            change(refund, context)
            self.ledger.save(refund)

    def refund(self, refund_id: UUID) -> RefundPayout:
        """The refund request with this id (a copy), or NotFoundError."""
        with self.ledger.locks.writing([refund_id]):
            return self._refund(refund_id)

    def _refund(self, refund_id: UUID) -> RefundPayout:
        refund = self.ledger.copy_or_none(RefundPayout, refund_id)
        if refund is None:
            raise NotFoundError(f"no refund {refund_id}", kind="refund", key=str(refund_id))
        return refund

    def _require_credit(self, household_id: UUID, amount_yuan: Decimal, excluding: UUID | None = None) -> None:
        """The household's credit, less the refunds already asked for, must cover ``amount_yuan``."""
        available = self.credits.unallocated_credit_yuan(household_id) - self.credits.pending_refunds_yuan(
            household_id, excluding
        )
        if amount_yuan > available:
            raise InvalidInputError(
                "the household has less credit than the refund asks for",
                message_key="refund_exceeds_credit",
                field="amount_yuan",
                credit_yuan=str(available),
                amount_yuan=str(amount_yuan),
            )

    @staticmethod
    def refund_id(account_number: str, request_number: str) -> UUID:
        return ids.refund_id(account_number, request_number)
