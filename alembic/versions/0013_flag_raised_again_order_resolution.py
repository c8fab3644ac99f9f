"""arrears flags raised again (times_raised); resolutions of flagged payment orders

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-14 10:00:00
"""
from alembic import op
import sqlalchemy as sa


revision = '0013'
down_revision = '0012'
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Every flag so far was raised once.
    with op.batch_alter_table('arrears_flags', schema=None) as batch_op:
        batch_op.add_column(sa.Column('times_raised', sa.Integer(), nullable=False, server_default='1'))
    with op.batch_alter_table('arrears_flags', schema=None) as batch_op:
        batch_op.alter_column('times_raised', server_default=None)

    with op.batch_alter_table('payment_orders', schema=None) as batch_op:
        batch_op.add_column(sa.Column('received_amount_yuan', sa.BigInteger(), nullable=True))
        batch_op.add_column(sa.Column('received_transaction_id', sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column('resolved_at', sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('resolved_by', sa.String(length=128), nullable=True))
        batch_op.add_column(sa.Column('resolution', sa.String(length=16), nullable=True))
        batch_op.add_column(sa.Column('resolution_reason', sa.String(length=500), nullable=True))
        batch_op.add_column(sa.Column('resolution_payment_id', sa.Uuid(), nullable=True))
        batch_op.create_index('ix_payment_orders_status', ['status', 'created_at'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('payment_orders', schema=None) as batch_op:
        batch_op.drop_index('ix_payment_orders_status')
        batch_op.drop_column('resolution_payment_id')
        batch_op.drop_column('resolution_reason')
        batch_op.drop_column('resolution')
        batch_op.drop_column('resolved_by')
        batch_op.drop_column('resolved_at')
        batch_op.drop_column('received_transaction_id')
        batch_op.drop_column('received_amount_yuan')
    with op.batch_alter_table('arrears_flags', schema=None) as batch_op:
        batch_op.drop_column('times_raised')
