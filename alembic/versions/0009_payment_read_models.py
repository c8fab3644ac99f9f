"""payment read models: payments, refund payouts, allocations, open charges, household credits

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-06 10:00:00
"""
from alembic import op
import sqlalchemy as sa


revision = '0009'
down_revision = '0008'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('payments',
    sa.Column('payment_id', sa.Uuid(), nullable=False),
    sa.Column('household_id', sa.Uuid(), nullable=False),
    sa.Column('account_number', sa.String(length=64), nullable=False),
    sa.Column('community', sa.String(length=128), nullable=False),
    sa.Column('building', sa.String(length=64), nullable=False),
    sa.Column('amount_yuan', sa.BigInteger(), nullable=False),
    sa.Column('channel', sa.String(length=16), nullable=False),
    sa.Column('source', sa.String(length=64), nullable=False),
    sa.Column('reference', sa.String(length=64), nullable=False),
    sa.Column('received_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('received_on', sa.Date(), nullable=False),
    sa.Column('named_bill_id', sa.Uuid(), nullable=True),
    sa.Column('actor', sa.String(length=128), nullable=False),
    sa.Column('reversed_on', sa.Date(), nullable=True),
    sa.Column('reversal_kind', sa.String(length=16), nullable=True),
    sa.Column('reversed_by', sa.String(length=128), nullable=True),
    sa.PrimaryKeyConstraint('payment_id')
    )
    with op.batch_alter_table('payments', schema=None) as batch_op:
        batch_op.create_index('ix_payments_household_id', ['household_id'], unique=False)
        batch_op.create_index('ix_payments_journal', ['received_on', 'channel', 'actor'], unique=False)

    op.create_table('refund_payouts',
    sa.Column('refund_id', sa.Uuid(), nullable=False),
    sa.Column('household_id', sa.Uuid(), nullable=False),
    sa.Column('account_number', sa.String(length=64), nullable=False),
    sa.Column('request_number', sa.String(length=64), nullable=False),
    sa.Column('amount_yuan', sa.BigInteger(), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('requested_on', sa.Date(), nullable=False),
    sa.Column('requested_by', sa.String(length=128), nullable=False),
    sa.Column('approved_by', sa.String(length=128), nullable=True),
    sa.Column('paid_on', sa.Date(), nullable=True),
    sa.Column('reference', sa.String(length=64), nullable=True),
    sa.PrimaryKeyConstraint('refund_id')
    )
    with op.batch_alter_table('refund_payouts', schema=None) as batch_op:
        batch_op.create_index('ix_refund_payouts_household_id', ['household_id'], unique=False)

    op.create_table('payment_allocations',
    sa.Column('household_id', sa.Uuid(), nullable=False),
    sa.Column('sequence', sa.Integer(), nullable=False),
    sa.Column('credit_id', sa.Uuid(), nullable=False),
    sa.Column('credit_kind', sa.String(length=32), nullable=False),
    sa.Column('charge_id', sa.Uuid(), nullable=False),
    sa.Column('charge_kind', sa.String(length=32), nullable=False),
    sa.Column('amount_yuan', sa.BigInteger(), nullable=False),
    sa.PrimaryKeyConstraint('household_id', 'sequence')
    )
    with op.batch_alter_table('payment_allocations', schema=None) as batch_op:
        batch_op.create_index('ix_payment_allocations_charge_id', ['charge_id'], unique=False)

    op.create_table('open_charges',
    sa.Column('charge_id', sa.Uuid(), nullable=False),
    sa.Column('household_id', sa.Uuid(), nullable=False),
    sa.Column('community', sa.String(length=128), nullable=False),
    sa.Column('building', sa.String(length=64), nullable=False),
    sa.Column('season_code', sa.String(length=16), nullable=True),
    sa.Column('kind', sa.String(length=16), nullable=False),
    sa.Column('issued_on', sa.Date(), nullable=False),
    sa.Column('due_on', sa.Date(), nullable=False),
    sa.Column('amount_yuan', sa.BigInteger(), nullable=False),
    sa.Column('open_yuan', sa.BigInteger(), nullable=False),
    sa.PrimaryKeyConstraint('charge_id')
    )
    with op.batch_alter_table('open_charges', schema=None) as batch_op:
        batch_op.create_index('ix_open_charges_household_id', ['household_id'], unique=False)
        batch_op.create_index('ix_open_charges_place_due', ['community', 'building', 'due_on'], unique=False)

    op.create_table('household_credits',
    sa.Column('household_id', sa.Uuid(), nullable=False),
    sa.Column('unallocated_yuan', sa.BigInteger(), nullable=False),
    sa.PrimaryKeyConstraint('household_id')
    )
    # A household that pays before its first bill has a balance but no bill yet.
    with op.batch_alter_table('balances', schema=None) as batch_op:
        batch_op.alter_column('last_bill_at', existing_type=sa.DateTime(timezone=True), nullable=True)
    _rebuild_the_ledger_projection()


# The ledger projection's tables before this revision, children first.
_EARLIER_LEDGER_TABLES = (
    'faulty_interval_estimates', 'daily_consumption', 'meter_intervals', 'meter_readings',
    'meter_verifications', 'reading_corrections', 'meters', 'households',
    'household_suspensions', 'household_owner_changes', 'tariffs', 'tariff_versions',
    'billing_periods', 'bills', 'balances',
)


def _rebuild_the_ledger_projection() -> None:
    """open_charges and household_credits come from bills issued before this revision too (a
    settlement's credit notes are credits): empty the ledger projection and reset its position, so
    the next catch-up rebuilds it from the events (what `heatledger projections rebuild` does).
    On a new store this deletes nothing."""
    for table in _EARLIER_LEDGER_TABLES:
        op.execute(sa.text(f'DELETE FROM {table}'))
    op.execute(sa.text("DELETE FROM projection_tracking WHERE projection_name = 'ledger'"))


def downgrade() -> None:
    # Balances without payments are rebuilt from the events (and no longer lack a bill).
    _rebuild_the_ledger_projection()
    with op.batch_alter_table('balances', schema=None) as batch_op:
        batch_op.alter_column('last_bill_at', existing_type=sa.DateTime(timezone=True), nullable=False)
    op.drop_table('household_credits')
    with op.batch_alter_table('open_charges', schema=None) as batch_op:
        batch_op.drop_index('ix_open_charges_place_due')
        batch_op.drop_index('ix_open_charges_household_id')

    op.drop_table('open_charges')
    with op.batch_alter_table('payment_allocations', schema=None) as batch_op:
        batch_op.drop_index('ix_payment_allocations_charge_id')

    op.drop_table('payment_allocations')
    with op.batch_alter_table('refund_payouts', schema=None) as batch_op:
        batch_op.drop_index('ix_refund_payouts_household_id')

    op.drop_table('refund_payouts')
    with op.batch_alter_table('payments', schema=None) as batch_op:
        batch_op.drop_index('ix_payments_journal')
        batch_op.drop_index('ix_payments_household_id')

    op.drop_table('payments')
