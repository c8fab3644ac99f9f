"""regulator scenarios: runs, per-household results, totals

Revision ID: 0019
Revises: 0018
Create Date: 2026-12-05 05:40:00
"""
from alembic import op
import sqlalchemy as sa


revision = '0019'
down_revision = '0018'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('scenario_runs',
    sa.Column('scenario_id', sa.Uuid(), nullable=False),
    sa.Column('title', sa.String(length=200), nullable=False),
    sa.Column('season_code', sa.String(length=16), nullable=False),
    sa.Column('community', sa.String(length=128), nullable=True),
    sa.Column('building', sa.String(length=64), nullable=True),
    sa.Column('customer_class', sa.String(length=32), nullable=True),
    sa.Column('as_of', sa.Date(), nullable=True),
    sa.Column('variants', sa.Text(), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('actor', sa.String(length=128), nullable=False),
    sa.Column('role', sa.String(length=32), nullable=False),
    sa.Column('households_done', sa.Integer(), nullable=False),
    sa.Column('households_total', sa.Integer(), nullable=False),
    sa.Column('summary', sa.Text(), nullable=True),
    sa.Column('error_key', sa.String(length=64), nullable=True),
    sa.Column('error_params', sa.Text(), nullable=True),
    sa.Column('error', sa.Text(), nullable=True),
    sa.Column('submitted_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('started_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('finished_at', sa.DateTime(timezone=True), nullable=True),
    sa.PrimaryKeyConstraint('scenario_id')
    )
    with op.batch_alter_table('scenario_runs', schema=None) as batch_op:
        batch_op.create_index('ix_scenario_runs_submitted', ['submitted_at'], unique=False)
    op.create_table('scenario_results',
    sa.Column('scenario_id', sa.Uuid(), nullable=False),
    sa.Column('variant', sa.Integer(), nullable=False),
    sa.Column('account_number', sa.String(length=64), nullable=False),
    sa.Column('community', sa.String(length=128), nullable=False),
    sa.Column('building', sa.String(length=64), nullable=False),
    sa.Column('customer_class', sa.String(length=32), nullable=False),
    sa.Column('basis', sa.String(length=32), nullable=False),
    sa.Column('area_m2', sa.BigInteger(), nullable=False),
    sa.Column('energy_gj', sa.BigInteger(), nullable=True),
    sa.Column('area_fee_yuan', sa.BigInteger(), nullable=False),
    sa.Column('metered_fee_yuan', sa.BigInteger(), nullable=True),
    sa.Column('due_yuan', sa.BigInteger(), nullable=False),
    sa.Column('prepaid_yuan', sa.BigInteger(), nullable=False),
    sa.Column('settlement_yuan', sa.BigInteger(), nullable=False),
    sa.Column('change_yuan', sa.BigInteger(), nullable=False),
    sa.Column('change_percent', sa.BigInteger(), nullable=True),
    sa.Column('bill_amounts', sa.String(length=200), nullable=False),
    sa.Column('actual_source', sa.String(length=16), nullable=False),
    sa.Column('matches_issued', sa.Boolean(), nullable=True),
    sa.PrimaryKeyConstraint('scenario_id', 'variant', 'account_number')
    )
    with op.batch_alter_table('scenario_results', schema=None) as batch_op:
        batch_op.create_index('ix_scenario_results_place', ['scenario_id', 'variant', 'community', 'building'], unique=False)
    op.create_table('scenario_totals',
    sa.Column('scenario_id', sa.Uuid(), nullable=False),
    sa.Column('variant', sa.Integer(), nullable=False),
    sa.Column('level', sa.String(length=16), nullable=False),
    sa.Column('group_key', sa.String(length=200), nullable=False),
    sa.Column('community', sa.String(length=128), nullable=True),
    sa.Column('building', sa.String(length=64), nullable=True),
    sa.Column('customer_class', sa.String(length=32), nullable=True),
    sa.Column('totals', sa.Text(), nullable=False),
    sa.PrimaryKeyConstraint('scenario_id', 'variant', 'level', 'group_key')
    )


def downgrade() -> None:
    op.drop_table('scenario_totals')
    with op.batch_alter_table('scenario_results', schema=None) as batch_op:
        batch_op.drop_index('ix_scenario_results_place')
    op.drop_table('scenario_results')
    with op.batch_alter_table('scenario_runs', schema=None) as batch_op:
        batch_op.drop_index('ix_scenario_runs_submitted')
    op.drop_table('scenario_runs')
