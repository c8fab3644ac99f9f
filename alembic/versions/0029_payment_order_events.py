"""payment orders as events (issue 16): the table orders were edited in becomes
legacy_payment_orders (its rows kept as they were, each recorded as the order's events once, at
start-up: infrastructure/legacy_payment_orders.py), and payment_orders is a read model built from
the PaymentOrder's events (projections/payment_orders.py), with the same columns and more

Revision ID: 0029
Revises: 0028
"""
from alembic import op
import sqlalchemy as sa


revision = '0029'
down_revision = '0028'
branch_labels = None
depends_on = None

OLD_COLUMNS = (
    'order_number, provider, household_id, account_number, amount_yuan, named_bill_id, created_at, '
    'created_by, status, payment_id, transaction_id, paid_at, flagged_at, flagged_reason, '
    'received_amount_yuan, received_transaction_id, resolved_at, resolved_by, resolution, '
    'resolution_reason, resolution_payment_id'
)


def _old_table(name: str, *extra: sa.Column) -> None:
    op.create_table(name,
    sa.Column('order_number', sa.String(length=22), nullable=False),
    sa.Column('provider', sa.String(length=32), nullable=False),
    sa.Column('household_id', sa.Uuid(), nullable=False),
    sa.Column('account_number', sa.String(length=64), nullable=False),
    sa.Column('amount_yuan', sa.BigInteger(), nullable=False),
    sa.Column('named_bill_id', sa.Uuid(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('created_by', sa.String(length=128), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('payment_id', sa.Uuid(), nullable=True),
    sa.Column('transaction_id', sa.String(length=64), nullable=True),
    sa.Column('paid_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('flagged_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('flagged_reason', sa.String(length=200), nullable=True),
    sa.Column('received_amount_yuan', sa.BigInteger(), nullable=True),
    sa.Column('received_transaction_id', sa.String(length=64), nullable=True),
    sa.Column('resolved_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('resolved_by', sa.String(length=128), nullable=True),
    sa.Column('resolution', sa.String(length=16), nullable=True),
    sa.Column('resolution_reason', sa.String(length=500), nullable=True),
    sa.Column('resolution_payment_id', sa.Uuid(), nullable=True),
    *extra,
    sa.PrimaryKeyConstraint('order_number')
    )


def _drop_orders() -> None:
    with op.batch_alter_table('payment_orders', schema=None) as batch_op:
        batch_op.drop_index('ix_payment_orders_account')
        batch_op.drop_index('ix_payment_orders_status')
    op.drop_table('payment_orders')


def upgrade() -> None:
    # When a row was recorded as events (None: not yet; the next start-up records it).
    _old_table('legacy_payment_orders', sa.Column('recorded_at', sa.DateTime(timezone=True), nullable=True))
    op.execute(f'INSERT INTO legacy_payment_orders ({OLD_COLUMNS}) SELECT {OLD_COLUMNS} FROM payment_orders')
    _drop_orders()
    op.create_table('payment_orders',
    sa.Column('order_number', sa.String(length=22), nullable=False),
    sa.Column('order_id', sa.Uuid(), nullable=False),
    sa.Column('provider', sa.String(length=32), nullable=False),
    sa.Column('household_id', sa.Uuid(), nullable=False),
    sa.Column('account_number', sa.String(length=64), nullable=False),
    sa.Column('amount_yuan', sa.BigInteger(), nullable=False),
    sa.Column('named_bill_id', sa.Uuid(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('created_by', sa.String(length=128), nullable=False),
    sa.Column('expires_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('payment_id', sa.Uuid(), nullable=True),
    sa.Column('transaction_id', sa.String(length=64), nullable=True),
    sa.Column('paid_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('flag_cause', sa.String(length=32), nullable=True),
    sa.Column('flagged_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('flagged_reason', sa.String(length=200), nullable=True),
    sa.Column('received_amount_yuan', sa.BigInteger(), nullable=True),
    sa.Column('received_transaction_id', sa.String(length=64), nullable=True),
    sa.Column('resolved_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('resolved_by', sa.String(length=128), nullable=True),
    sa.Column('resolution', sa.String(length=16), nullable=True),
    sa.Column('resolution_reason', sa.String(length=500), nullable=True),
    sa.Column('resolution_payment_id', sa.Uuid(), nullable=True),
    sa.Column('expired_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.PrimaryKeyConstraint('order_number'),
    sa.UniqueConstraint('order_id')
    )
    with op.batch_alter_table('payment_orders', schema=None) as batch_op:
        batch_op.create_index('ix_payment_orders_account', ['account_number', 'created_at'], unique=False)
        batch_op.create_index('ix_payment_orders_status', ['status', 'created_at'], unique=False)


def downgrade() -> None:
    # The orders created since are events only; the old table gets back the rows it had.
    _drop_orders()
    _old_table('payment_orders')
    op.execute(f'INSERT INTO payment_orders ({OLD_COLUMNS}) SELECT {OLD_COLUMNS} FROM legacy_payment_orders')
    with op.batch_alter_table('payment_orders', schema=None) as batch_op:
        batch_op.create_index('ix_payment_orders_account', ['account_number', 'created_at'], unique=False)
        batch_op.create_index('ix_payment_orders_status', ['status', 'created_at'], unique=False)
    op.drop_table('legacy_payment_orders')
