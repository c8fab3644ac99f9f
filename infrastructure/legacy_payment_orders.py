"""Payment orders kept as edited rows before issue 16, recorded as the events that made them.

Until migration 0029 an order was a row of ``payment_orders`` updated in place. The migration
copies those rows, untouched, to ``legacy_payment_orders``; at start-up (``bootstrap``) every row
not yet recorded becomes its order's events (created, paid, flagged, resolved, with the times and
actors the row kept) and is marked ``recorded_at``. So old orders are read, paid, resolved and
rebuilt like new ones, and the rows stay as the evidence they were converted from. Recording is
idempotent (the order's id is the uuid5 of its number): two processes starting together record
each order once.
"""

from __future__ import annotations

from sqlalchemy import Column, Engine, MetaData, String, Table, Uuid, select, update

from application.ledger import HeatLedger
from application.payment_orders import PROVIDER_ACTOR_PREFIX, LegacyOrder, PaymentOrders
from domain.payment_order import (
    MAXIMUM_FLAGGED_REASON_LENGTH,
    MAXIMUM_RESOLUTION_REASON_LENGTH,
    MAXIMUM_TRANSACTION_ID_LENGTH,
    ORDER_NUMBER_LENGTH,
    Order,
    OrderStatus,
    Resolution,
)
from projections.payment_orders import SqlPaymentOrderReads
from projections.types import ScaledDecimal, UtcDateTime

# Rows recorded per read of the table: bounded, so a large table is converted in steps.
BATCH_SIZE = 500

metadata = MetaData()

legacy_payment_orders = Table(
    "legacy_payment_orders",
    metadata,
    Column("order_number", String(ORDER_NUMBER_LENGTH), primary_key=True),
    Column("provider", String(32), nullable=False),
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
    Column("received_amount_yuan", ScaledDecimal(2), nullable=True),
    Column("received_transaction_id", String(MAXIMUM_TRANSACTION_ID_LENGTH), nullable=True),
    Column("resolved_at", UtcDateTime, nullable=True),
    Column("resolved_by", String(128), nullable=True),
    Column("resolution", String(16), nullable=True),
    Column("resolution_reason", String(MAXIMUM_RESOLUTION_REASON_LENGTH), nullable=True),
    Column("resolution_payment_id", Uuid, nullable=True),
    Column("recorded_at", UtcDateTime, nullable=True),
)


def record_legacy_orders(engine: Engine, ledger: HeatLedger) -> int:
    """Record every row not yet recorded as its order's events; how many this call recorded."""
    orders = PaymentOrders(ledger, SqlPaymentOrderReads(engine), providers=())
    recorded = 0
    columns = legacy_payment_orders.c
    while True:
        with engine.connect() as connection:
            rows = (
                connection.execute(
                    select(legacy_payment_orders)
                    .where(columns.recorded_at.is_(None))
                    .order_by(columns.created_at, columns.order_number)
                    .limit(BATCH_SIZE)
                )
                .mappings()
                .all()
            )
        if not rows:
            return recorded
        for row in rows:
            legacy = LegacyOrder(_order_of(row), PROVIDER_ACTOR_PREFIX + row["provider"])
            recorded += orders.adopt_legacy(legacy)
            with engine.begin() as connection:
                connection.execute(
                    update(legacy_payment_orders)
                    .where(columns.order_number == row["order_number"])
                    .values(recorded_at=ledger.clock())
                )


def _order_of(row: object) -> Order:
    values = dict(row)  # type: ignore[call-overload]
    resolution = values["resolution"]
    return Order(
        **{name: values[name] for name in _ORDER_COLUMNS},
        status=OrderStatus(values["status"]),
        resolution=Resolution(resolution) if resolution is not None else None,
    )


_ORDER_COLUMNS = (
    "order_number",
    "provider",
    "household_id",
    "account_number",
    "amount_yuan",
    "named_bill_id",
    "created_at",
    "created_by",
    "payment_id",
    "transaction_id",
    "paid_at",
    "flagged_at",
    "flagged_reason",
    "received_amount_yuan",
    "received_transaction_id",
    "resolved_at",
    "resolved_by",
    "resolution_reason",
    "resolution_payment_id",
)
