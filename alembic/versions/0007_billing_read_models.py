"""billing read models: suspensions, owner changes, tariffs, billing periods, bills, balances

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-29 18:37:58.587404
"""
from alembic import op
import sqlalchemy as sa


revision = '0007'
down_revision = '0006'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('household_suspensions',
    sa.Column('household_id', sa.Uuid(), nullable=False),
    sa.Column('started_on', sa.Date(), nullable=False),
    sa.Column('ended_on', sa.Date(), nullable=True),
    sa.PrimaryKeyConstraint('household_id', 'started_on')
    )
    op.create_table('household_owner_changes',
    sa.Column('household_id', sa.Uuid(), nullable=False),
    sa.Column('effective_on', sa.Date(), nullable=False),
    sa.Column('actor', sa.String(length=128), nullable=False),
    sa.Column('recorded_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('household_id', 'effective_on')
    )
    op.create_table('tariffs',
    sa.Column('tariff_id', sa.Uuid(), nullable=False),
    sa.Column('customer_class', sa.String(length=32), nullable=False),
    sa.Column('scope', sa.String(length=128), nullable=False),
    sa.PrimaryKeyConstraint('tariff_id')
    )
    op.create_table('tariff_versions',
    sa.Column('tariff_id', sa.Uuid(), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('customer_class', sa.String(length=32), nullable=False),
    sa.Column('scope', sa.String(length=128), nullable=False),
    sa.Column('effective_from', sa.Date(), nullable=False),
    sa.Column('effective_until', sa.Date(), nullable=True),
    sa.Column('document_number', sa.String(length=64), nullable=False),
    sa.Column('approved_on', sa.Date(), nullable=False),
    sa.Column('terms', sa.Text(), nullable=False),
    sa.Column('published_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('actor', sa.String(length=128), nullable=False),
    sa.Column('reason', sa.Text(), nullable=False),
    sa.PrimaryKeyConstraint('tariff_id', 'version')
    )
    op.create_table('billing_periods',
    sa.Column('period_id', sa.Uuid(), nullable=False),
    sa.Column('household_id', sa.Uuid(), nullable=False),
    sa.Column('account_number', sa.String(length=64), nullable=False),
    sa.Column('community', sa.String(length=128), nullable=False),
    sa.Column('building', sa.String(length=64), nullable=False),
    sa.Column('season_code', sa.String(length=16), nullable=False),
    sa.Column('first_day', sa.Date(), nullable=False),
    sa.Column('last_day', sa.Date(), nullable=False),
    sa.Column('tariff_scope', sa.String(length=128), nullable=False),
    sa.Column('tariff_version', sa.Integer(), nullable=False),
    sa.Column('billed_area_m2', sa.BigInteger(), nullable=False),
    sa.Column('position_coefficient', sa.BigInteger(), nullable=False),
    sa.Column('opened_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('period_id')
    )
    with op.batch_alter_table('billing_periods', schema=None) as batch_op:
        batch_op.create_index('ix_billing_periods_household_id', ['household_id'], unique=False)

    op.create_table('bills',
    sa.Column('bill_id', sa.Uuid(), nullable=False),
    sa.Column('period_id', sa.Uuid(), nullable=False),
    sa.Column('household_id', sa.Uuid(), nullable=False),
    sa.Column('account_number', sa.String(length=64), nullable=False),
    sa.Column('community', sa.String(length=128), nullable=False),
    sa.Column('building', sa.String(length=64), nullable=False),
    sa.Column('season_code', sa.String(length=16), nullable=False),
    sa.Column('kind', sa.String(length=16), nullable=False),
    sa.Column('label', sa.String(length=32), nullable=False),
    sa.Column('number', sa.String(length=128), nullable=False),
    sa.Column('issued_on', sa.Date(), nullable=False),
    sa.Column('first_day', sa.Date(), nullable=False),
    sa.Column('last_day', sa.Date(), nullable=False),
    sa.Column('amount_yuan', sa.BigInteger(), nullable=False),
    sa.Column('basis', sa.String(length=32), nullable=False),
    sa.Column('lines', sa.Text(), nullable=False),
    sa.Column('issued_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('actor', sa.String(length=128), nullable=False),
    sa.Column('reason', sa.Text(), nullable=False),
    sa.Column('correlation_id', sa.Uuid(), nullable=False),
    sa.PrimaryKeyConstraint('bill_id'),
    sa.UniqueConstraint('number')
    )
    with op.batch_alter_table('bills', schema=None) as batch_op:
        batch_op.create_index('ix_bills_household_season', ['household_id', 'season_code'], unique=False)
        batch_op.create_index('ix_bills_community_season_kind', ['community', 'season_code', 'kind'], unique=False)

    op.create_table('balances',
    sa.Column('household_id', sa.Uuid(), nullable=False),
    sa.Column('account_number', sa.String(length=64), nullable=False),
    sa.Column('community', sa.String(length=128), nullable=False),
    sa.Column('building', sa.String(length=64), nullable=False),
    sa.Column('charged_yuan', sa.BigInteger(), nullable=False),
    sa.Column('paid_yuan', sa.BigInteger(), server_default='0', nullable=False),
    sa.Column('balance_yuan', sa.BigInteger(), nullable=False),
    sa.Column('last_bill_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('household_id')
    )
    _rebuild_the_ledger_projection()


# The ledger projection's tables before this revision, children first.
_EARLIER_LEDGER_TABLES = (
    'faulty_interval_estimates', 'daily_consumption', 'meter_intervals', 'meter_readings',
    'meter_verifications', 'reading_corrections', 'meters', 'households',
)


def _rebuild_the_ledger_projection() -> None:
    """household_suspensions is filled from suspensions recorded before this revision too: empty the
    ledger projection and reset its position, so the next catch-up rebuilds it from the events
    (what `heatledger projections rebuild` does). On a new store this deletes nothing."""
    for table in _EARLIER_LEDGER_TABLES:
        op.execute(sa.text(f'DELETE FROM {table}'))
    op.execute(sa.text("DELETE FROM projection_tracking WHERE projection_name = 'ledger'"))


def downgrade() -> None:
    op.drop_table('balances')
    with op.batch_alter_table('bills', schema=None) as batch_op:
        batch_op.drop_index('ix_bills_community_season_kind')
        batch_op.drop_index('ix_bills_household_season')

    op.drop_table('bills')
    with op.batch_alter_table('billing_periods', schema=None) as batch_op:
        batch_op.drop_index('ix_billing_periods_household_id')

    op.drop_table('billing_periods')
    op.drop_table('tariff_versions')
    op.drop_table('tariffs')
    op.drop_table('household_owner_changes')
    op.drop_table('household_suspensions')
