"""room controllers and their valve commands (issue 14): the read models of the RoomController's
installation and command events

Revision ID: 0025
Revises: 0024
"""
from alembic import op
import sqlalchemy as sa


revision = '0025'
down_revision = '0024'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('room_controllers',
    sa.Column('device_id', sa.String(length=64), nullable=False),
    sa.Column('controller_id', sa.Uuid(), nullable=False),
    sa.Column('household_id', sa.Uuid(), nullable=False),
    sa.Column('account_number', sa.String(length=64), nullable=False),
    sa.Column('gears', sa.Integer(), nullable=False),
    sa.Column('installed_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('installed_by', sa.String(length=128), nullable=False),
    sa.PrimaryKeyConstraint('device_id'),
    sa.UniqueConstraint('controller_id'),
    )
    with op.batch_alter_table('room_controllers', schema=None) as batch_op:
        batch_op.create_index('ix_room_controllers_household_id', ['household_id'], unique=False)
        batch_op.create_index('ix_room_controllers_account_number', ['account_number'], unique=False)

    op.create_table('valve_commands',
    sa.Column('command_id', sa.String(length=64), nullable=False),
    sa.Column('device_id', sa.String(length=64), nullable=False),
    sa.Column('account_number', sa.String(length=64), nullable=False),
    sa.Column('kind', sa.String(length=32), nullable=False),
    sa.Column('params', sa.Text(), nullable=False),
    sa.Column('policy', sa.String(length=32), nullable=False),
    sa.Column('needs_approval', sa.Boolean(), nullable=False),
    sa.Column('state', sa.String(length=16), nullable=False),
    sa.Column('queued', sa.Boolean(), nullable=False),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('reason', sa.Text(), nullable=False),
    sa.Column('requested_by', sa.String(length=128), nullable=False),
    sa.Column('requested_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('approved_by', sa.String(length=128), nullable=True),
    sa.Column('last_dispatched_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('answered_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('refusal_code', sa.String(length=64), nullable=True),
    sa.Column('superseded_by', sa.String(length=64), nullable=True),
    sa.Column('confirmed_by_report', sa.String(length=64), nullable=True),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('command_id'),
    )
    with op.batch_alter_table('valve_commands', schema=None) as batch_op:
        batch_op.create_index('ix_valve_commands_device', ['device_id', 'requested_at'], unique=False)
        batch_op.create_index('ix_valve_commands_state', ['state', 'requested_at'], unique=False)
        batch_op.create_index('ix_valve_commands_queued', ['queued', 'requested_at'], unique=False)


def downgrade() -> None:
    op.drop_table('valve_commands')
    op.drop_table('room_controllers')
