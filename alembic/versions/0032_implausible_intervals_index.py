"""implausible intervals index (issue 17): a household's implausible meter intervals found by a
partial index on meter_intervals (household_id) where plausible is false, instead of through
every day row of a settlement chunk

Revision ID: 0032
Revises: 0031
"""
import sqlalchemy as sa

from alembic import op

revision = '0032'
down_revision = '0031'
branch_labels = None
depends_on = None

IMPLAUSIBLE = sa.column('plausible', sa.Boolean()).is_(False)


def upgrade() -> None:
    op.create_index(
        'ix_meter_intervals_implausible',
        'meter_intervals',
        ['household_id'],
        postgresql_where=IMPLAUSIBLE,
        sqlite_where=IMPLAUSIBLE,
    )


def downgrade() -> None:
    op.drop_index('ix_meter_intervals_implausible', table_name='meter_intervals')
