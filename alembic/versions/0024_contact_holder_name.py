"""the account holder's name in the households' contact book (erasable personal data; issue 13)

Revision ID: 0024
Revises: 0023
"""
from alembic import op
import sqlalchemy as sa


revision = '0024'
down_revision = '0023'
branch_labels = None
depends_on = None


def upgrade() -> None:
    # The ledger keeps no names (an owner change records its day only); the counter finds a
    # household by its holder's name through the contact book, which forgets the row on request.
    with op.batch_alter_table('household_contacts') as batch:
        batch.add_column(sa.Column('holder_name', sa.String(length=128), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('household_contacts') as batch:
        batch.drop_column('holder_name')
