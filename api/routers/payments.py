"""Payments at the counter, reversals and refund payouts.

Recording the same receipt number again answers 200 with ``recorded: false`` and books nothing;
the same receipt number with another household or amount is a 409.
"""

from __future__ import annotations

from uuid import UUID, uuid4

from fastapi import Response

from api.auth import Caller
from api.dependencies import ContainerDependency
from api.problems import problem_responses
from api.routers import resource_router
from api.routers.households import AccountNumberPath
from api.schemas.common import CommandReceipt
from api.schemas.payments import (
    CounterPayment,
    PaymentReceipt,
    RefundDecision,
    RefundPayment,
    RefundReceipt,
    RefundRequest,
    Reversal,
)

router = resource_router("", "payments")

DEFAULT_COUNTER_REASON = "counter payment"


@router.post(
    "/households/{account_number}/payments",
    status_code=201,
    operation_id="record_counter_payment",
    response_model=PaymentReceipt,
    responses={
        **problem_responses(401, 403, 404, 409, 422),
        200: {"description": "Recorded before under this receipt number: nothing new"},
    },
)
def record_counter_payment(
    account_number: AccountNumberPath,
    payment: CounterPayment,
    caller: Caller,
    container: ContainerDependency,
    response: Response,
) -> PaymentReceipt:
    """Record a payment taken at the counter (cash, card, bank transfer) with its receipt number.

    201 when recorded; 200 with `recorded: false` when this receipt was recorded before (nothing
    new is booked). A payment settles the bill the payer names first, then the oldest open
    charges; what is left is credit for the next charges.
    """
    outcome = container.payments.receive_at_counter(
        caller,
        account_number,
        payment.amount_yuan,
        payment.channel,
        payment.receipt_number,
        payment.bill_id,
        payment.reason or DEFAULT_COUNTER_REASON,
        uuid4(),
        payment.currency,
    )
    if not outcome.recorded:
        response.status_code = 200
    response.headers["Location"] = f"/payments/{outcome.payment_id}"
    recorded = container.payments.payment(outcome.payment_id)
    return PaymentReceipt(
        payment_id=recorded.id,
        recorded=outcome.recorded,
        amount_yuan=recorded.amount_yuan,
        account_number=recorded.account_number,
    )


@router.post(
    "/payments/{payment_id}/reversal",
    status_code=201,
    operation_id="reverse_payment",
    response_model=CommandReceipt,
    responses=problem_responses(401, 403, 404, 409, 422),
)
def reverse_payment(
    payment_id: UUID, reversal: Reversal, caller: Caller, container: ContainerDependency
) -> CommandReceipt:
    """Take a payment back (a bounced transfer, a chargeback, a mistake), with the reason: a new
    event, the payment itself stays in the record. Reversing twice is a 409."""
    correlation_id = uuid4()
    container.payments.reverse(caller, payment_id, reversal.kind, reversal.reason, correlation_id)
    return CommandReceipt(correlation_id=correlation_id)


@router.post(
    "/households/{account_number}/refunds",
    status_code=201,
    operation_id="request_refund",
    response_model=RefundReceipt,
    responses=problem_responses(401, 403, 404, 409, 422),
)
def request_refund(
    account_number: AccountNumberPath, request: RefundRequest, caller: Caller, container: ContainerDependency
) -> RefundReceipt:
    """Ask to pay part of a household's credit out; a second person approves it before it is paid.
    More than the household's credit is a 422."""
    refund_id = container.payments.request_refund(
        caller, account_number, request.request_number, request.amount_yuan, request.reason
    )
    return _refund_receipt(container, refund_id)


@router.post(
    "/refunds/{refund_id}/approval",
    operation_id="approve_refund",
    response_model=RefundReceipt,
    responses=problem_responses(401, 403, 404, 409, 422),
)
def approve_refund(
    refund_id: UUID, decision: RefundDecision, caller: Caller, container: ContainerDependency
) -> RefundReceipt:
    """Approve a refund request: by a second person, never the one who asked (403)."""
    container.payments.approve_refund(caller, refund_id, decision.reason or "approved")
    return _refund_receipt(container, refund_id)


@router.post(
    "/refunds/{refund_id}/rejection",
    operation_id="reject_refund",
    response_model=RefundReceipt,
    responses=problem_responses(401, 403, 404, 409, 422),
)
def reject_refund(
    refund_id: UUID, decision: RefundDecision, caller: Caller, container: ContainerDependency
) -> RefundReceipt:
    """Turn a refund request down, with why."""
    container.payments.reject_refund(caller, refund_id, decision.reason or "rejected")
    return _refund_receipt(container, refund_id)


@router.post(
    "/refunds/{refund_id}/payout",
    operation_id="pay_out_refund",
    response_model=RefundReceipt,
    responses=problem_responses(401, 403, 404, 409, 422),
)
def pay_out_refund(
    refund_id: UUID, payout: RefundPayment, caller: Caller, container: ContainerDependency
) -> RefundReceipt:
    """Record that an approved refund was paid out (the bank transfer's reference); before the
    approval it is a 409."""
    container.payments.pay_out_refund(caller, refund_id, payout.bank_reference, payout.reason or "paid out")
    return _refund_receipt(container, refund_id)


def _refund_receipt(container: ContainerDependency, refund_id: UUID) -> RefundReceipt:
    refund = container.payments.refund(refund_id)
    return RefundReceipt(
        refund_id=refund.id,
        status=refund.status.value,
        amount_yuan=refund.amount_yuan,
        account_number=refund.account_number,
    )
