"""arrears flags and household protections of the arrears policy

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-10 10:00:00
"""
from alembic import op
import sqlalchemy as sa


revision = '0011'
down_revision = '0010'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('arrears_flags',
    sa.Column('flag_id', sa.Uuid(), nullable=False),
    sa.Column('household_id', sa.Uuid(), nullable=False),
    sa.Column('account_number', sa.String(length=64), nullable=False),
    sa.Column('community', sa.String(length=128), nullable=False),
    sa.Column('building', sa.String(length=64), nullable=False),
    sa.Column('season_code', sa.String(length=16), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('amount_yuan', sa.BigInteger(), nullable=False),
    sa.Column('days_past_due', sa.Integer(), nullable=False),
    sa.Column('raised_by', sa.String(length=128), nullable=False),
    sa.Column('approved_by', sa.String(length=128), nullable=True),
    sa.Column('withdrawn_by', sa.String(length=128), nullable=True),
    sa.Column('withdrawal_kind', sa.String(length=32), nullable=True),
    sa.Column('raised_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('decided_at', sa.DateTime(timezone=True), nullable=True),
    sa.PrimaryKeyConstraint('flag_id')
    )
    with op.batch_alter_table('arrears_flags', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_arrears_flags_household_id'), ['household_id'], unique=False)
        batch_op.create_index('ix_arrears_flags_status_place', ['status', 'community', 'building'], unique=False)

    op.create_table('household_protections',
    sa.Column('household_id', sa.Uuid(), nullable=False),
    sa.Column('vulnerable', sa.Boolean(), nullable=False),
    sa.Column('open_disputes', sa.Integer(), nullable=False),
    sa.PrimaryKeyConstraint('household_id')
    )


def downgrade() -> None:
    op.drop_table('household_protections')
    with op.batch_alter_table('arrears_flags', schema=None) as batch_op:
        batch_op.drop_index('ix_arrears_flags_status_place')
        batch_op.drop_index(batch_op.f('ix_arrears_flags_household_id'))
    op.drop_table('arrears_flags')
