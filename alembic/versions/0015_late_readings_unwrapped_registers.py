"""meter readings keep their unwrapped registers and fingerprint, for late readings older than the window

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-21 10:00:00
"""
from alembic import op
import sqlalchemy as sa


revision = '0015'
down_revision = '0014'
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Rows projected before this revision stay NULL: a late reading whose stored neighbours lack
    # them is refused (outside_window) until `heatledger projections rebuild` fills them from the events.
    with op.batch_alter_table('meter_readings', schema=None) as batch_op:
        batch_op.add_column(sa.Column('energy_unwrapped_gj', sa.BigInteger(), nullable=True))
        batch_op.add_column(sa.Column('volume_unwrapped_m3', sa.BigInteger(), nullable=True))
        batch_op.add_column(sa.Column('fingerprint', sa.String(length=32), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('meter_readings', schema=None) as batch_op:
        batch_op.drop_column('fingerprint')
        batch_op.drop_column('volume_unwrapped_m3')
        batch_op.drop_column('energy_unwrapped_gj')
