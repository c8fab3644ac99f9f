"""tariff corrections: the read model of corrections, their preview and run jobs, the previewed notes

Revision ID: 0021
Revises: 0020
Create Date: 2026-12-05 07:00:00
"""
from alembic import op
import sqlalchemy as sa


revision = '0021'
down_revision = '0020'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('tariff_corrections',
    sa.Column('correction_id', sa.Uuid(), nullable=False),
    sa.Column('code', sa.String(length=16), nullable=False),
    sa.Column('tariff_id', sa.Uuid(), nullable=False),
    sa.Column('customer_class', sa.String(length=32), nullable=False),
    sa.Column('scope', sa.String(length=128), nullable=False),
    sa.Column('tariff_version', sa.Integer(), nullable=False),
    sa.Column('document_number', sa.String(length=64), nullable=False),
    sa.Column('approved_on', sa.Date(), nullable=False),
    sa.Column('seasons', sa.String(length=100), nullable=False),
    sa.Column('overrides', sa.Text(), nullable=False),
    sa.Column('state', sa.String(length=16), nullable=False),
    sa.Column('reason', sa.Text(), nullable=False),
    sa.Column('proposed_by', sa.String(length=128), nullable=False),
    sa.Column('proposed_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('preview_number', sa.Integer(), nullable=False),
    sa.Column('scenario_ids', sa.Text(), nullable=True),
    sa.Column('preview_totals', sa.Text(), nullable=True),
    sa.Column('approved_by', sa.String(length=128), nullable=True),
    sa.Column('approved_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('refused_by', sa.String(length=128), nullable=True),
    sa.Column('refused_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('refusal_reason', sa.Text(), nullable=True),
    sa.Column('run_started_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('notes_booked', sa.Integer(), nullable=False),
    sa.Column('debit_yuan', sa.BigInteger(), nullable=False),
    sa.Column('credit_yuan', sa.BigInteger(), nullable=False),
    sa.Column('completed_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.PrimaryKeyConstraint('correction_id')
    )
    with op.batch_alter_table('tariff_corrections', schema=None) as batch_op:
        batch_op.create_index('ix_tariff_corrections_state', ['state', 'proposed_at'], unique=False)
        batch_op.create_index('ix_tariff_corrections_tariff', ['tariff_id', 'tariff_version'], unique=False)

    op.create_table('tariff_correction_jobs',
    sa.Column('job_id', sa.Uuid(), nullable=False),
    sa.Column('correction_id', sa.Uuid(), nullable=False),
    sa.Column('kind', sa.String(length=16), nullable=False),
    sa.Column('preview_number', sa.Integer(), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('actor', sa.String(length=128), nullable=False),
    sa.Column('role', sa.String(length=32), nullable=False),
    sa.Column('reason', sa.String(length=500), nullable=False),
    sa.Column('done', sa.Integer(), nullable=False),
    sa.Column('total', sa.Integer(), nullable=False),
    sa.Column('summary', sa.Text(), nullable=True),
    sa.Column('error_key', sa.String(length=64), nullable=True),
    sa.Column('error_params', sa.Text(), nullable=True),
    sa.Column('error', sa.Text(), nullable=True),
    sa.Column('submitted_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('started_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('finished_at', sa.DateTime(timezone=True), nullable=True),
    sa.PrimaryKeyConstraint('job_id')
    )
    with op.batch_alter_table('tariff_correction_jobs', schema=None) as batch_op:
        batch_op.create_index('ix_tariff_correction_jobs_correction', ['correction_id', 'submitted_at'], unique=False)

    op.create_table('tariff_correction_notes',
    sa.Column('correction_id', sa.Uuid(), nullable=False),
    sa.Column('preview_number', sa.Integer(), nullable=False),
    sa.Column('account_number', sa.String(length=64), nullable=False),
    sa.Column('season_code', sa.String(length=16), nullable=False),
    sa.Column('segment', sa.String(length=8), nullable=False),
    sa.Column('household_id', sa.Uuid(), nullable=False),
    sa.Column('community', sa.String(length=128), nullable=False),
    sa.Column('building', sa.String(length=64), nullable=False),
    sa.Column('adjusted_bill_number', sa.String(length=128), nullable=False),
    sa.Column('amount_yuan', sa.BigInteger(), nullable=False),
    sa.Column('lines', sa.Text(), nullable=False),
    sa.Column('matches_issued', sa.Boolean(), nullable=False),
    sa.Column('bill_id', sa.Uuid(), nullable=False),
    sa.PrimaryKeyConstraint('correction_id', 'preview_number', 'account_number', 'season_code', 'segment')
    )


def downgrade() -> None:
    op.drop_table('tariff_correction_notes')
    with op.batch_alter_table('tariff_correction_jobs', schema=None) as batch_op:
        batch_op.drop_index('ix_tariff_correction_jobs_correction')

    op.drop_table('tariff_correction_jobs')
    with op.batch_alter_table('tariff_corrections', schema=None) as batch_op:
        batch_op.drop_index('ix_tariff_corrections_tariff')
        batch_op.drop_index('ix_tariff_corrections_state')

    op.drop_table('tariff_corrections')
