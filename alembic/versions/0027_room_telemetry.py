"""room telemetry (issue 14): room temperatures and valve-open hours per household and day, and
each room controller's health, from the controllers' reports

Revision ID: 0027
Revises: 0026
"""
from alembic import op
import sqlalchemy as sa


revision = '0027'
down_revision = '0026'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('room_temperature_days',
    sa.Column('account_number', sa.String(length=64), nullable=False),
    sa.Column('day', sa.Date(), nullable=False),
    sa.Column('samples', sa.Integer(), nullable=False),
    sa.Column('minimum_c', sa.BigInteger(), nullable=False),
    sa.Column('maximum_c', sa.BigInteger(), nullable=False),
    sa.Column('total_c', sa.BigInteger(), nullable=False),
    sa.PrimaryKeyConstraint('account_number', 'day'),
    )
    op.create_table('valve_open_hours_days',
    sa.Column('account_number', sa.String(length=64), nullable=False),
    sa.Column('day', sa.Date(), nullable=False),
    sa.Column('open_hours', sa.BigInteger(), nullable=False),
    sa.PrimaryKeyConstraint('account_number', 'day'),
    )
    op.create_table('room_controller_health',
    sa.Column('device_id', sa.String(length=64), nullable=False),
    sa.Column('account_number', sa.String(length=64), nullable=False),
    sa.Column('reports', sa.Integer(), nullable=False),
    sa.Column('last_seen_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('last_report_id', sa.String(length=64), nullable=False),
    sa.Column('last_source', sa.String(length=16), nullable=False),
    sa.Column('room_temperature_c', sa.BigInteger(), nullable=True),
    sa.Column('humidity_percent', sa.BigInteger(), nullable=True),
    sa.Column('set_temperature_c', sa.BigInteger(), nullable=True),
    sa.Column('valve_gear', sa.Integer(), nullable=True),
    sa.Column('valve_state', sa.String(length=16), nullable=True),
    sa.Column('signal_dbm', sa.Integer(), nullable=True),
    sa.Column('battery_percent', sa.Integer(), nullable=True),
    sa.Column('open_hours_total', sa.BigInteger(), nullable=True),
    sa.Column('open_hours_measured_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('below_minimum_since', sa.DateTime(timezone=True), nullable=True),
    sa.PrimaryKeyConstraint('device_id'),
    )
    with op.batch_alter_table('room_controller_health', schema=None) as batch_op:
        batch_op.create_index('ix_room_controller_health_account_number', ['account_number'], unique=False)
        batch_op.create_index('ix_room_controller_health_below', ['below_minimum_since'], unique=False)


def downgrade() -> None:
    op.drop_table('room_controller_health')
    op.drop_table('valve_open_hours_days')
    op.drop_table('room_temperature_days')
