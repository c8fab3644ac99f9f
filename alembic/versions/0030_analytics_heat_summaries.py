"""analytics heat summaries (issue 15): heat per household and month, and per place, meter and
day, kept up by the ledger projection beside daily_consumption; filled here from the rows already
there

Revision ID: 0030
Revises: 0029
"""
from alembic import op
import sqlalchemy as sa


revision = '0030'
down_revision = '0029'
branch_labels = None
depends_on = None

# The nil UUID stands for a building's household meters summed together, as sa.Uuid stores it.
NIL_UUID = {
    'postgresql': "'00000000-0000-0000-0000-000000000000'::uuid",
    'sqlite': "'00000000000000000000000000000000'",
}
MONTH = {'postgresql': "date_trunc('month', day)::date", 'sqlite': "date(day, 'start of month')"}


def upgrade() -> None:
    op.create_table(
        'household_heat_months',
        sa.Column('household_id', sa.Uuid(), nullable=False),
        sa.Column('month', sa.Date(), nullable=False),
        sa.Column('energy_gj', sa.BigInteger(), nullable=False),
        sa.Column('day_rows', sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint('household_id', 'month'),
    )
    op.create_table(
        'place_heat_days',
        sa.Column('day', sa.Date(), nullable=False),
        sa.Column('meter_kind', sa.String(length=32), nullable=False),
        sa.Column('community', sa.String(length=128), nullable=False),
        sa.Column('building', sa.String(length=64), nullable=False),
        sa.Column('meter_id', sa.Uuid(), nullable=False),
        sa.Column('energy_gj', sa.BigInteger(), nullable=False),
        sa.Column('day_rows', sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint('day', 'meter_kind', 'community', 'building', 'meter_id'),
    )
    dialect = op.get_bind().dialect.name
    if dialect == 'postgresql':
        # One pass over every daily row: a large store's takes longer than a request may.
        op.execute('SET LOCAL statement_timeout = 0')
    op.execute(
        'INSERT INTO household_heat_months (household_id, month, energy_gj, day_rows) '
        f'SELECT household_id, {MONTH[dialect]}, sum(energy_gj), count(*) FROM daily_consumption '
        "WHERE meter_kind = 'household' AND household_id IS NOT NULL GROUP BY 1, 2"
    )
    op.execute(
        'INSERT INTO place_heat_days (day, meter_kind, community, building, meter_id, energy_gj, day_rows) '
        'SELECT day, meter_kind, community, building, '
        f"CASE WHEN meter_kind = 'household' THEN {NIL_UUID[dialect]} ELSE meter_id END, "
        'sum(energy_gj), count(*) FROM daily_consumption GROUP BY 1, 2, 3, 4, 5'
    )
    if dialect == 'postgresql':  # the planner's estimates for the reports' first reads
        op.execute('ANALYZE household_heat_months')
        op.execute('ANALYZE place_heat_days')


def downgrade() -> None:
    op.drop_table('place_heat_days')
    op.drop_table('household_heat_months')
