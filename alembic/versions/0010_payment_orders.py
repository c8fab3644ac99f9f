"""payment orders of the online payment channel

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-06 14:00:00
"""
from alembic import op
import sqlalchemy as sa


revision = '0010'
down_revision = '0009'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('payment_orders',
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
    sa.PrimaryKeyConstraint('order_number')
    )
    with op.batch_alter_table('payment_orders', schema=None) as batch_op:
        batch_op.create_index('ix_payment_orders_account', ['account_number', 'created_at'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('payment_orders', schema=None) as batch_op:
        batch_op.drop_index('ix_payment_orders_account')
    op.drop_table('payment_orders')
