"""settlement bill fees (issue 15): each settlement bill's metered fee, area fee and due as the
analytics reports compare them, written beside the bill; filled here from the bills already there

Revision ID: 0031
Revises: 0030
"""
import json

import sqlalchemy as sa

from alembic import op

revision = '0031'
down_revision = '0030'
branch_labels = None
depends_on = None

FEE_COLUMNS = ('metered_fee_yuan', 'area_fee_yuan', 'due_yuan')


def upgrade() -> None:
    op.create_table(
        'settlement_bill_fees',
        sa.Column('bill_id', sa.Uuid(), nullable=False),
        sa.Column('household_id', sa.Uuid(), nullable=False),
        sa.Column('season_code', sa.String(length=16), nullable=False),
        sa.Column('metered_fee_yuan', sa.String(length=40), nullable=False),
        sa.Column('area_fee_yuan', sa.String(length=40), nullable=False),
        sa.Column('due_yuan', sa.String(length=40), nullable=False),
        sa.PrimaryKeyConstraint('bill_id'),
    )
    op.create_index('ix_settlement_bill_fees_season', 'settlement_bill_fees', ['season_code'])
    # The bills already issued: their fees by the projection's own rule.
    from projections.analytics_summary import fees_of_bill

    bills = sa.table(
        'bills',
        sa.column('bill_id', sa.Uuid()),
        sa.column('household_id', sa.Uuid()),
        sa.column('season_code', sa.String()),
        sa.column('kind', sa.String()),
        sa.column('lines', sa.Text()),
    )
    fees = sa.table(
        'settlement_bill_fees',
        *(sa.column(name, sa.Uuid()) for name in ('bill_id', 'household_id')),
        *(sa.column(name, sa.String()) for name in ('season_code', 'metered_fee_yuan', 'area_fee_yuan', 'due_yuan')),
    )
    connection = op.get_bind()
    rows = connection.execute(
        sa.select(bills.c.bill_id, bills.c.household_id, bills.c.season_code, bills.c.lines).where(
            bills.c.kind == 'settlement'
        )
    ).all()
    for start in range(0, len(rows), 5_000):
        connection.execute(
            sa.insert(fees),
            [
                {
                    'bill_id': bill_id,
                    'household_id': household_id,
                    'season_code': season_code,
                    **dict(zip(FEE_COLUMNS, map(str, fees_of_bill(json.loads(lines))), strict=True)),
                }
                for bill_id, household_id, season_code, lines in rows[start : start + 5_000]
            ],
        )
    if connection.dialect.name == 'postgresql':  # the planner's estimates for the reports' first reads
        op.execute('ANALYZE settlement_bill_fees')


def downgrade() -> None:
    op.drop_index('ix_settlement_bill_fees_season', table_name='settlement_bill_fees')
    op.drop_table('settlement_bill_fees')
