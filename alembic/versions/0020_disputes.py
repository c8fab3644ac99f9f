"""disputes: the disputes, their steps, and the amount each open dispute holds on its household

Revision ID: 0020
Revises: 0019
Create Date: 2026-12-05 06:30:00
"""
from alembic import op
import sqlalchemy as sa


revision = '0020'
down_revision = '0019'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('household_disputed_amounts',
    sa.Column('dispute_id', sa.Uuid(), nullable=False),
    sa.Column('household_id', sa.Uuid(), nullable=False),
    sa.Column('disputed_yuan', sa.BigInteger(), nullable=False),
    sa.PrimaryKeyConstraint('dispute_id')
    )
    with op.batch_alter_table('household_disputed_amounts', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_household_disputed_amounts_household_id'), ['household_id'], unique=False)

    op.create_table('disputes',
    sa.Column('dispute_id', sa.Uuid(), nullable=False),
    sa.Column('reference', sa.String(length=32), nullable=False),
    sa.Column('household_id', sa.Uuid(), nullable=False),
    sa.Column('account_number', sa.String(length=64), nullable=False),
    sa.Column('community', sa.String(length=128), nullable=False),
    sa.Column('building', sa.String(length=64), nullable=False),
    sa.Column('subject_kind', sa.String(length=16), nullable=False),
    sa.Column('season_code', sa.String(length=16), nullable=False),
    sa.Column('bill_id', sa.Uuid(), nullable=True),
    sa.Column('bill_number', sa.String(length=128), nullable=False),
    sa.Column('meter_serial', sa.String(length=64), nullable=False),
    sa.Column('measured_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('payment_id', sa.Uuid(), nullable=True),
    sa.Column('payment_reference', sa.String(length=64), nullable=False),
    sa.Column('category', sa.String(length=32), nullable=False),
    sa.Column('description', sa.Text(), nullable=False),
    sa.Column('disputed_amount_yuan', sa.BigInteger(), nullable=False),
    sa.Column('channel', sa.String(length=16), nullable=False),
    sa.Column('state', sa.String(length=32), nullable=False),
    sa.Column('opened_by', sa.String(length=128), nullable=False),
    sa.Column('opened_on', sa.Date(), nullable=False),
    sa.Column('opened_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('first_response_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('last_step_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('steps', sa.Integer(), nullable=False),
    sa.Column('recompute_bill_id', sa.Uuid(), nullable=True),
    sa.Column('recompute_bill_number', sa.String(length=128), nullable=True),
    sa.Column('recompute_difference_yuan', sa.BigInteger(), nullable=True),
    sa.Column('proposed_outcome', sa.String(length=16), nullable=True),
    sa.Column('proposed_amount_yuan', sa.BigInteger(), nullable=True),
    sa.Column('proposed_by', sa.String(length=128), nullable=True),
    sa.Column('proposed_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('note_amount_yuan', sa.BigInteger(), nullable=True),
    sa.Column('note_bill_id', sa.Uuid(), nullable=True),
    sa.Column('note_number', sa.String(length=128), nullable=True),
    sa.Column('approved_by', sa.String(length=128), nullable=True),
    sa.Column('closed_by', sa.String(length=128), nullable=True),
    sa.Column('closed_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('closed_on', sa.Date(), nullable=True),
    sa.Column('days_open', sa.Integer(), nullable=True),
    sa.Column('closing_reason', sa.Text(), nullable=True),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.PrimaryKeyConstraint('dispute_id')
    )
    with op.batch_alter_table('disputes', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_disputes_household_id'), ['household_id'], unique=False)
        batch_op.create_index('ix_disputes_community_state', ['community', 'state'], unique=False)
        batch_op.create_index('ix_disputes_opened_on', ['opened_on'], unique=False)
        batch_op.create_index('ix_disputes_state_category', ['state', 'category'], unique=False)

    op.create_table('dispute_steps',
    sa.Column('dispute_id', sa.Uuid(), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=32), nullable=False),
    sa.Column('recorded_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('actor', sa.String(length=128), nullable=False),
    sa.Column('reason', sa.Text(), nullable=False),
    sa.Column('correlation_id', sa.Uuid(), nullable=False),
    sa.Column('details', sa.Text(), nullable=False),
    sa.PrimaryKeyConstraint('dispute_id', 'version')
    )


def downgrade() -> None:
    op.drop_table('dispute_steps')
    with op.batch_alter_table('disputes', schema=None) as batch_op:
        batch_op.drop_index('ix_disputes_state_category')
        batch_op.drop_index('ix_disputes_opened_on')
        batch_op.drop_index('ix_disputes_community_state')
        batch_op.drop_index(batch_op.f('ix_disputes_household_id'))
    op.drop_table('disputes')
    with op.batch_alter_table('household_disputed_amounts', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_household_disputed_amounts_household_id'))
    op.drop_table('household_disputed_amounts')
