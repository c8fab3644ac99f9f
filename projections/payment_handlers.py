"""Projection handlers of payments, reversals and refund payouts (each moves the household's balance)."""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from typing import Any
from uuid import UUID

from sqlalchemy import Connection, insert, select, update

from domain.payment import Payment, RefundPayout, RefundStatus
from projections.balance_rows import add_to_balance, place_of_household
from projections.tables import (
    payments,
    refund_payouts,
)


def payment_received(connection: Connection, event: Payment.Received) -> UUID:
    place = place_of_household(connection, event.household_id)
    connection.execute(
        insert(payments),
        dict(
            payment_id=event.originator_id,
            household_id=event.household_id,
            account_number=event.account_number,
            community=place["community"],
            building=place["building"],
            amount_yuan=event.amount_yuan,
            channel=event.channel,
            source=event.source,
            reference=event.reference,
            received_at=event.received_at,
            received_on=event.received_on,
            named_bill_id=event.named_bill_id,
            actor=event.actor,
            reversed_on=None,
            reversal_kind=None,
            reversed_by=None,
        ),
    )
    add_to_balance(connection, event.household_id, place, paid_yuan=Decimal(event.amount_yuan))
    return event.household_id


def payment_reversed(connection: Connection, event: Payment.Reversed) -> UUID:
    payment = connection.execute(
        select(payments.c.household_id, payments.c.amount_yuan, payments.c.reversed_on).where(
            payments.c.payment_id == event.originator_id
        )
    ).one()
    assert payment.reversed_on is None, "a payment is reversed once"
    connection.execute(
        update(payments)
        .where(payments.c.payment_id == event.originator_id)
        .values(reversed_on=event.reversed_on, reversal_kind=event.kind, reversed_by=event.actor)
    )
    household_id: UUID = payment.household_id
    place = place_of_household(connection, household_id)
    add_to_balance(connection, household_id, place, paid_yuan=-payment.amount_yuan)
    return household_id


def refund_requested(connection: Connection, event: RefundPayout.Requested) -> None:
    connection.execute(
        insert(refund_payouts),
        dict(
            refund_id=event.originator_id,
            household_id=event.household_id,
            account_number=event.account_number,
            request_number=event.request_number,
            amount_yuan=event.amount_yuan,
            status=RefundStatus.REQUESTED.value,
            requested_on=event.requested_on,
            requested_by=event.actor,
            approved_by=None,
            paid_on=None,
            reference=None,
        ),
    )


def _update_refund(connection: Connection, event: Any, **values: Any) -> None:
    connection.execute(update(refund_payouts).where(refund_payouts.c.refund_id == event.originator_id).values(**values))


def refund_approved(connection: Connection, event: RefundPayout.Approved) -> None:
    _update_refund(connection, event, status=RefundStatus.APPROVED.value, approved_by=event.actor)


def refund_rejected(connection: Connection, event: RefundPayout.Rejected) -> None:
    _update_refund(connection, event, status=RefundStatus.REJECTED.value)


def refund_paid_out(connection: Connection, event: RefundPayout.PaidOut) -> UUID:
    """The money left the company: a charge on the household that its credit settles."""
    _update_refund(connection, event, status=RefundStatus.PAID.value, paid_on=event.paid_on, reference=event.reference)
    refund = connection.execute(
        select(refund_payouts.c.household_id, refund_payouts.c.amount_yuan).where(
            refund_payouts.c.refund_id == event.originator_id
        )
    ).one()
    household_id: UUID = refund.household_id
    place = place_of_household(connection, household_id)
    add_to_balance(connection, household_id, place, charged_yuan=refund.amount_yuan)
    return household_id


# A handler of a money event returns the household whose allocation must be recomputed.
PAYMENT_HANDLERS: dict[type[Any], Callable[[Connection, Any], UUID | None]] = {
    Payment.Received: payment_received,
    Payment.Reversed: payment_reversed,
    RefundPayout.Requested: refund_requested,
    RefundPayout.Approved: refund_approved,
    RefundPayout.Rejected: refund_rejected,
    RefundPayout.PaidOut: refund_paid_out,
}
