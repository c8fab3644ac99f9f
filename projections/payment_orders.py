"""The read model of payment orders (issue 16): one row per order as it stands, from the
PaymentOrder's events (domain/payment_order.py), for the lists by status and household and the
sweep that expires overdue orders. A lookup by order number reads the event store instead (the
order's id is the uuid5 of its number), so a command never trusts a read model that may lag.

The table keeps the name and columns of the table orders were edited in before (migration 0010;
migration 0029 renamed that one to ``legacy_payment_orders``), so its readers see the same rows.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any

from sqlalchemy import Column, Connection, Engine, Index, Integer, String, Table, Uuid, insert, select, update

from domain.payment_order import (
    MAXIMUM_FLAGGED_REASON_LENGTH,
    MAXIMUM_RESOLUTION_REASON_LENGTH,
    MAXIMUM_TRANSACTION_ID_LENGTH,
    ORDER_NUMBER_LENGTH,
    Order,
    OrderStatus,
    PaymentOrder,
    Resolution,
)
from projections.queries import MAXIMUM_PAGE_SIZE
from projections.tables import MONEY_SCALE, metadata
from projections.types import ScaledDecimal, UtcDateTime

# The most rows one list returns (the API's page bound).
MAXIMUM_LISTED = MAXIMUM_PAGE_SIZE

payment_orders = Table(
    "payment_orders",
    metadata,
    Column("order_number", String(ORDER_NUMBER_LENGTH), primary_key=True),
    Column("order_id", Uuid, nullable=False, unique=True),
    Column("provider", String(32), nullable=False),
    Column("household_id", Uuid, nullable=False),
    Column("account_number", String(64), nullable=False),
    Column("amount_yuan", ScaledDecimal(MONEY_SCALE), nullable=False),
    Column("named_bill_id", Uuid, nullable=True),
    Column("created_at", UtcDateTime, nullable=False),
    Column("created_by", String(128), nullable=False),
    Column("expires_at", UtcDateTime, nullable=False),
    Column("status", String(16), nullable=False),
    Column("payment_id", Uuid, nullable=True),
    Column("transaction_id", String(MAXIMUM_TRANSACTION_ID_LENGTH), nullable=True),
    Column("paid_at", UtcDateTime, nullable=True),
    Column("flag_cause", String(32), nullable=True),
    Column("flagged_at", UtcDateTime, nullable=True),
    Column("flagged_reason", String(MAXIMUM_FLAGGED_REASON_LENGTH), nullable=True),
    Column("received_amount_yuan", ScaledDecimal(MONEY_SCALE), nullable=True),
    Column("received_transaction_id", String(MAXIMUM_TRANSACTION_ID_LENGTH), nullable=True),
    Column("resolved_at", UtcDateTime, nullable=True),
    Column("resolved_by", String(128), nullable=True),
    Column("resolution", String(16), nullable=True),
    Column("resolution_reason", String(MAXIMUM_RESOLUTION_REASON_LENGTH), nullable=True),
    Column("resolution_payment_id", Uuid, nullable=True),
    Column("expired_at", UtcDateTime, nullable=True),
    Column("version", Integer, nullable=False),
    Index("ix_payment_orders_account", "account_number", "created_at"),
    Index("ix_payment_orders_status", "status", "created_at"),
)

PAYMENT_ORDER_TABLES = (payment_orders,)


# -- handlers ---------------------------------------------------------------------------------------


def order_created(connection: Connection, event: PaymentOrder.Created) -> None:
    connection.execute(
        insert(payment_orders).values(
            order_number=event.order_number,
            order_id=event.originator_id,
            provider=event.provider,
            household_id=event.household_id,
            account_number=event.account_number,
            amount_yuan=event.amount_yuan,
            named_bill_id=event.named_bill_id,
            created_at=event.created_at,
            created_by=event.actor,
            expires_at=event.expires_at,
            status=OrderStatus.OPEN.value,
            version=event.originator_version,
        )
    )


def _update(connection: Connection, event: Any, **values: Any) -> None:
    result = connection.execute(
        update(payment_orders)
        .where(payment_orders.c.order_id == event.originator_id)
        .values(version=event.originator_version, **values)
    )
    assert result.rowcount == 1, f"the order {event.originator_id} is in the read model"


def order_paid(connection: Connection, event: PaymentOrder.Paid) -> None:
    _update(
        connection,
        event,
        status=OrderStatus.PAID.value,
        payment_id=event.payment_id,
        transaction_id=event.transaction_id,
        paid_at=event.paid_at,
    )


def order_flagged(connection: Connection, event: PaymentOrder.Flagged) -> None:
    _update(
        connection,
        event,
        status=OrderStatus.FLAGGED.value,
        flag_cause=event.cause,
        flagged_at=event.flagged_at,
        flagged_reason=event.flagged_reason,
        received_amount_yuan=event.received_amount_yuan,
        received_transaction_id=event.received_transaction_id,
    )


def order_resolved(connection: Connection, event: PaymentOrder.Resolved) -> None:
    _update(
        connection,
        event,
        status=OrderStatus.RESOLVED.value,
        resolution=event.resolution,
        resolution_payment_id=event.payment_id,
        resolved_at=event.resolved_at,
        resolved_by=event.actor,
        resolution_reason=event.reason,
    )


def order_expired(connection: Connection, event: PaymentOrder.Expired) -> None:
    _update(connection, event, status=OrderStatus.EXPIRED.value, expired_at=event.expired_at)


PAYMENT_ORDER_HANDLERS: dict[type[Any], Callable[[Connection, Any], None]] = {
    PaymentOrder.Created: order_created,
    PaymentOrder.Paid: order_paid,
    PaymentOrder.Flagged: order_flagged,
    PaymentOrder.Resolved: order_resolved,
    PaymentOrder.Expired: order_expired,
}


# -- queries --------------------------------------------------------------------------------------


def order_of_row(row: Mapping[Any, Any]) -> Order:
    """A row of the read model as the order it describes."""
    values = {str(name): value for name, value in row.items()}
    resolution = values["resolution"]
    return Order(
        order_number=values["order_number"],
        provider=values["provider"],
        household_id=values["household_id"],
        account_number=values["account_number"],
        amount_yuan=values["amount_yuan"],
        named_bill_id=values["named_bill_id"],
        created_at=values["created_at"],
        created_by=values["created_by"],
        status=OrderStatus(values["status"]),
        payment_id=values["payment_id"],
        transaction_id=values["transaction_id"],
        paid_at=values["paid_at"],
        flagged_at=values["flagged_at"],
        flagged_reason=values["flagged_reason"],
        received_amount_yuan=values["received_amount_yuan"],
        received_transaction_id=values["received_transaction_id"],
        resolved_at=values["resolved_at"],
        resolved_by=values["resolved_by"],
        resolution=Resolution(resolution) if resolution is not None else None,
        resolution_reason=values["resolution_reason"],
        resolution_payment_id=values["resolution_payment_id"],
        expires_at=values["expires_at"],
        expired_at=values["expired_at"],
    )


class SqlPaymentOrderReads:
    """The order lists of ``application.payment_orders.OrderReads`` over the read model."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def orders(self, status: OrderStatus | None, account_number: str | None, limit: int, offset: int) -> list[Order]:
        columns = payment_orders.c
        statement = select(payment_orders).order_by(columns.created_at, columns.order_number)
        if status is not None:
            statement = statement.where(columns.status == OrderStatus(status).value)
        if account_number is not None:
            statement = statement.where(columns.account_number == account_number)
        statement = statement.limit(max(0, min(limit, MAXIMUM_LISTED))).offset(max(0, offset))
        with self.engine.connect() as connection:
            return [order_of_row(row) for row in connection.execute(statement).mappings()]

    def overdue_order_numbers(self, now: datetime, limit: int) -> list[str]:
        columns = payment_orders.c
        statement = (
            select(columns.order_number)
            .where(columns.status == OrderStatus.OPEN.value, columns.expires_at <= now)
            .order_by(columns.expires_at, columns.order_number)
            .limit(max(0, min(limit, MAXIMUM_LISTED)))
        )
        with self.engine.connect() as connection:
            return list(connection.execute(statement).scalars())
