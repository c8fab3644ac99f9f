"""meters keep their model's rated limits; readings and intervals the limits they break

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-22 10:00:00
"""
from alembic import op
import sqlalchemy as sa


revision = '0017'
down_revision = '0016'
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Meters projected before this revision show no limits, and readings and intervals before it no
    # breaches, until `heatledger projections rebuild` (their events carry the defaults by upcasting).
    with op.batch_alter_table('meters', schema=None) as batch_op:
        batch_op.add_column(sa.Column('permanent_flow_m3_h', sa.BigInteger(), nullable=True))
        batch_op.add_column(sa.Column('maximum_flow_m3_h', sa.BigInteger(), nullable=True))
        batch_op.add_column(sa.Column('minimum_temperature_c', sa.BigInteger(), nullable=True))
        batch_op.add_column(sa.Column('maximum_temperature_c', sa.BigInteger(), nullable=True))
        batch_op.add_column(sa.Column('minimum_temperature_difference_k', sa.BigInteger(), nullable=True))
    with op.batch_alter_table('meter_readings', schema=None) as batch_op:
        batch_op.add_column(sa.Column('limit_breaches', sa.String(length=200), nullable=True))
    with op.batch_alter_table('meter_intervals', schema=None) as batch_op:
        batch_op.add_column(sa.Column('limit_breaches', sa.String(length=200), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('meter_intervals', schema=None) as batch_op:
        batch_op.drop_column('limit_breaches')
    with op.batch_alter_table('meter_readings', schema=None) as batch_op:
        batch_op.drop_column('limit_breaches')
    with op.batch_alter_table('meters', schema=None) as batch_op:
        batch_op.drop_column('minimum_temperature_difference_k')
        batch_op.drop_column('maximum_temperature_c')
        batch_op.drop_column('minimum_temperature_c')
        batch_op.drop_column('maximum_flow_m3_h')
        batch_op.drop_column('permanent_flow_m3_h')
