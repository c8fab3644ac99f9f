"""household evidence months (issue 17): each household meter's billing evidence per calendar
month (heat measured and estimated, the days measured and usable as bits, the first and last
interval starts), kept up by the ledger projection beside daily_consumption; filled here from the
day rows and faulty-interval estimates already there

Revision ID: 0033
Revises: 0032
"""
import sqlalchemy as sa

from alembic import op

revision = '0033'
down_revision = '0032'
branch_labels = None
depends_on = None

MONTH = {'postgresql': "date_trunc('month', day)::date", 'sqlite': "date(day, 'start of month')"}
DAY_OF_MONTH = {'postgresql': 'extract(day FROM day)::integer', 'sqlite': "CAST(strftime('%d', day) AS INTEGER)"}
BIT = {'postgresql': 'CAST(1 AS BIGINT) << ({day} - 1)', 'sqlite': '1 << ({day} - 1)'}
NO_TIME = {'postgresql': 'CAST(NULL AS TIMESTAMP WITH TIME ZONE)', 'sqlite': 'NULL'}


def upgrade() -> None:
    op.create_table(
        'household_evidence_months',
        sa.Column('household_id', sa.Uuid(), nullable=False),
        sa.Column('meter_id', sa.Uuid(), nullable=False),
        sa.Column('month', sa.Date(), nullable=False),
        sa.Column('measured_gj', sa.BigInteger(), nullable=False),
        sa.Column('estimated_gj', sa.BigInteger(), nullable=False),
        sa.Column('measured_days', sa.BigInteger(), nullable=False),
        sa.Column('usable_days', sa.BigInteger(), nullable=False),
        sa.Column('first_interval_start_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('last_interval_start_at', sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint('household_id', 'meter_id', 'month'),
    )
    dialect = op.get_bind().dialect.name
    if dialect == 'postgresql':
        # One pass over every daily row: a large store's takes longer than a request may.
        op.execute('SET LOCAL statement_timeout = 0')
    bit = BIT[dialect].format(day=DAY_OF_MONTH[dialect])
    # Distinct powers of two sum to their OR: the month's days as bits.
    op.execute(
        'INSERT INTO household_evidence_months (household_id, meter_id, month, measured_gj, estimated_gj, '
        'measured_days, usable_days, first_interval_start_at, last_interval_start_at) '
        f'SELECT household_id, meter_id, {MONTH[dialect]}, '
        "coalesce(sum(CASE WHEN quality = 'measured' THEN energy_gj END), 0), "
        "coalesce(sum(CASE WHEN quality NOT IN ('measured', 'faulty') THEN energy_gj END), 0), "
        f"coalesce(sum(DISTINCT CASE WHEN quality = 'measured' THEN {bit} END), 0), "
        f"coalesce(sum(DISTINCT CASE WHEN quality <> 'faulty' THEN {bit} END), 0), "
        'min(interval_start_at), max(interval_start_at) FROM ('
        'SELECT household_id, meter_id, day, quality, energy_gj, interval_start_at FROM daily_consumption '
        "WHERE meter_kind = 'household' AND household_id IS NOT NULL "
        "UNION ALL SELECT household_id, meter_id, day, 'faulty_estimate', estimated_energy_gj, "
        f'{NO_TIME[dialect]} FROM faulty_interval_estimates WHERE household_id IS NOT NULL'
        ') AS evidence GROUP BY 1, 2, 3'
    )
    if dialect == 'postgresql':  # the planner's estimates for the settlement's first reads
        op.execute('ANALYZE household_evidence_months')


def downgrade() -> None:
    op.drop_table('household_evidence_months')
