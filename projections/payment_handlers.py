"""Projection handlers of payments, reversals and refund payouts (each moves the household's balance),
and ``PaymentBatchWriter``, which writes a run of payments received and reversed set-based."""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from typing import Any
from uuid import UUID

from sqlalchemy import Connection, insert, select, update

from domain.payment import Payment, RefundPayout, RefundStatus
from projections.balance_batch import BalanceChange, rewrite_balances
from projections.balance_rows import BY_UUID_ORDER, add_to_balance, place_of_household
from projections.bulk_insert import ConvertedValues, RowsInserter
from projections.id_lists import among
from projections.registration_rows import TableRows
from projections.tables import (
    households,
    payments,
    refund_payouts,
)


def payment_row(event: Payment.Received, place: dict[str, str]) -> dict[str, Any]:
    """The payments row of a payment received; ``place`` is its household's (``place_of_household``)."""
    return dict(
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
    )


def payment_received(connection: Connection, event: Payment.Received) -> UUID:
    place = place_of_household(connection, event.household_id)
    connection.execute(insert(payments), payment_row(event, place))
    add_to_balance(connection, event.household_id, place, paid_yuan=Decimal(event.amount_yuan))
    return event.household_id


class PaymentBatchWriter:
    """Buffers ``Payment.Received`` and ``Payment.Reversed`` events; ``flush`` writes them
    set-based (call it before any other write that reads payments or balances, and after the
    households they name are written): the payments reversed that the run did not receive read in
    one SELECT, the households' places in one, the payments written in one statement (a stored
    payment reversed is replaced), each household's balance read and written once
    (``rewrite_balances``). ``payment_received`` takes four statements a payment (a server round
    trip each on PostgreSQL). It gives the households whose allocation must be recomputed: each
    payment's, as the handlers return them."""

    # Bounds one look-up's list of ids (SQLite allows 32,766 parameters); a runner batch is smaller.
    LOOKUP_CHUNK = 5_000

    def __init__(self, connection: Connection) -> None:
        self.connection = connection
        self._events: list[Payment.Received | Payment.Reversed] = []

    def add(self, event: Payment.Received | Payment.Reversed) -> None:
        self._events.append(event)

    def flush(self) -> set[UUID]:
        """Write every buffered payment and reversal and the balances they move."""
        events, self._events = self._events, []
        if not events:
            return set()
        received = {event.originator_id for event in events if isinstance(event, Payment.Received)}
        payment_rows = TableRows(payments, "payment_id", self.LOOKUP_CHUNK)
        payment_rows.load(
            self.connection, {event.originator_id for event in events if isinstance(event, Payment.Reversed)} - received
        )
        places = self._places(
            {event.household_id for event in events if isinstance(event, Payment.Received)}
            | {row["household_id"] for row in payment_rows.rows.values()}
        )
        changes: dict[UUID, BalanceChange] = {}
        for event in events:
            if isinstance(event, Payment.Received):
                household_id, paid = event.household_id, Decimal(event.amount_yuan)
                payment_rows.create(payment_row(event, _place(places, household_id, event)))
            else:
                household_id, paid = self._reverse(payment_rows, event)
            change = changes.setdefault(household_id, BalanceChange(_place(places, household_id, event)))
            change.paid_yuan += paid
        converted = ConvertedValues()  # a run's days and amounts repeat
        payment_rows.write(self.connection, _PAYMENTS, converted)
        rewrite_balances(self.connection, changes, converted)
        return set(changes)

    @staticmethod
    def _reverse(payment_rows: TableRows, event: Payment.Reversed) -> tuple[UUID, Decimal]:
        """Mark the payment reversed; its household and what comes off what it paid."""
        row = payment_rows.rows.get(event.originator_id)
        if row is None:  # as payment_reversed's .one() refuses it
            raise LookupError(f"reversal of payment {event.originator_id}: not in the read model")
        assert row["reversed_on"] is None, "a payment is reversed once"
        payment_rows.change(
            event.originator_id,
            {"reversed_on": event.reversed_on, "reversal_kind": event.kind, "reversed_by": event.actor},
        )
        return row["household_id"], -Decimal(row["amount_yuan"])

    def _places(self, household_ids: set[UUID]) -> dict[UUID, dict[str, str]]:
        ordered = sorted(household_ids, key=BY_UUID_ORDER)
        found: dict[UUID, dict[str, str]] = {}
        for start in range(0, len(ordered), self.LOOKUP_CHUNK):
            chunk = ordered[start : start + self.LOOKUP_CHUNK]
            statement = select(
                households.c.household_id, households.c.account_number, households.c.community, households.c.building
            ).where(among(self.connection, households.c.household_id, chunk))
            for row in self.connection.execute(statement):
                found[row.household_id] = {
                    "account_number": row.account_number,
                    "community": row.community,
                    "building": row.building,
                }
        return found


def _place(places: dict[UUID, dict[str, str]], household_id: UUID, event: Any) -> dict[str, str]:
    place = places.get(household_id)
    if place is None:  # as place_of_household's .one() refuses it
        raise LookupError(f"payment {event.originator_id}: no household {household_id} in the read model")
    return place


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


_PAYMENTS = RowsInserter(payments)

# A handler of a money event returns the household whose allocation must be recomputed.
PAYMENT_HANDLERS: dict[type[Any], Callable[[Connection, Any], UUID | None]] = {
    Payment.Received: payment_received,
    Payment.Reversed: payment_reversed,
    RefundPayout.Requested: refund_requested,
    RefundPayout.Approved: refund_approved,
    RefundPayout.Rejected: refund_rejected,
    RefundPayout.PaidOut: refund_paid_out,
}
