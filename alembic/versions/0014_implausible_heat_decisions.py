"""clerks' decisions about heat far beyond a meter's permissible error

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-20 10:00:00
"""
from alembic import op
import sqlalchemy as sa


revision = '0014'
down_revision = '0013'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('implausible_heat_decisions',
    sa.Column('meter_id', sa.Uuid(), nullable=False),
    sa.Column('interval_start_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('interval_end_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('decision', sa.String(length=32), nullable=False),
    sa.Column('estimated_energy_gj', sa.BigInteger(), nullable=True),
    sa.Column('method', sa.String(length=64), nullable=False),
    sa.Column('decided_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('actor', sa.String(length=128), nullable=False),
    sa.Column('reason', sa.Text(), nullable=False),
    sa.Column('correlation_id', sa.Uuid(), nullable=False),
    sa.PrimaryKeyConstraint('meter_id', 'interval_start_at')
    )


def downgrade() -> None:
    op.drop_table('implausible_heat_decisions')
