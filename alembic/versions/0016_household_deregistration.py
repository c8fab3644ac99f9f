"""households keep the day they left the network (销户/拆网)

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-21 11:00:00
"""
import sqlalchemy as sa

from alembic import op

revision = '0016'
down_revision = '0015'
branch_labels = None
depends_on = None


def upgrade() -> None:
    # No Deregistered event existed before this revision: NULL (still supplied) is right for every
    # household already projected, no rebuild is needed.
    with op.batch_alter_table('households', schema=None) as batch_op:
        batch_op.add_column(sa.Column('deregistered_on', sa.Date(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('households', schema=None) as batch_op:
        batch_op.drop_column('deregistered_on')
