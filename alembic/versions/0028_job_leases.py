"""job leases (issue 16): a short lease per running job's record, renewed by a heartbeat, so a
killed worker's job is taken over within seconds instead of after arq's five-minute lock

Revision ID: 0028
Revises: 0027
"""
from alembic import op
import sqlalchemy as sa


revision = '0028'
down_revision = '0027'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('job_leases',
    sa.Column('lease_key', sa.String(length=200), nullable=False),
    sa.Column('owner', sa.String(length=128), nullable=False),
    sa.Column('expires_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('acquired_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('lease_key'),
    )


def downgrade() -> None:
    op.drop_table('job_leases')
