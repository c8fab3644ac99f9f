"""substations: their configurations and the places they feed (issue 15)

Revision ID: 0026
Revises: 0025
"""
from alembic import op
import sqlalchemy as sa


revision = '0026'
down_revision = '0025'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'substation_configurations',
        sa.Column('substation_id', sa.Uuid(), nullable=False),
        sa.Column('effective_on', sa.Date(), nullable=False),
        sa.Column('name', sa.String(length=128), nullable=False),
        sa.Column('heat_source', sa.String(length=64), nullable=False),
        sa.Column('meter_serial', sa.String(length=64), nullable=False),
        sa.Column('meter_id', sa.Uuid(), nullable=False),
        sa.Column('recorded_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('actor', sa.String(length=128), nullable=False),
        sa.Column('reason', sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint('substation_id', 'effective_on'),
    )
    op.create_table(
        'substation_feeds',
        sa.Column('substation_id', sa.Uuid(), nullable=False),
        sa.Column('effective_on', sa.Date(), nullable=False),
        sa.Column('community', sa.String(length=128), nullable=False),
        sa.Column('building', sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint('substation_id', 'effective_on', 'community', 'building'),
    )


def downgrade() -> None:
    op.drop_table('substation_feeds')
    op.drop_table('substation_configurations')
