"""billing runs

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-29 19:40:00
"""
from alembic import op
import sqlalchemy as sa


revision = '0008'
down_revision = '0007'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('billing_runs',
    sa.Column('run_id', sa.Uuid(), nullable=False),
    sa.Column('kind', sa.String(length=16), nullable=False),
    sa.Column('season_code', sa.String(length=16), nullable=False),
    sa.Column('month', sa.String(length=7), nullable=True),
    sa.Column('community', sa.String(length=128), nullable=True),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('actor', sa.String(length=128), nullable=False),
    sa.Column('role', sa.String(length=32), nullable=False),
    sa.Column('reason', sa.String(length=500), nullable=False),
    sa.Column('households_done', sa.Integer(), nullable=False),
    sa.Column('households_total', sa.Integer(), nullable=False),
    sa.Column('summary', sa.Text(), nullable=True),
    sa.Column('error_key', sa.String(length=64), nullable=True),
    sa.Column('error_params', sa.Text(), nullable=True),
    sa.Column('error', sa.Text(), nullable=True),
    sa.Column('submitted_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('started_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('finished_at', sa.DateTime(timezone=True), nullable=True),
    sa.PrimaryKeyConstraint('run_id')
    )
    with op.batch_alter_table('billing_runs', schema=None) as batch_op:
        batch_op.create_index('ix_billing_runs_submitted', ['submitted_at'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('billing_runs', schema=None) as batch_op:
        batch_op.drop_index('ix_billing_runs_submitted')
    op.drop_table('billing_runs')
