"""the access log of reads of personal data, append-only

Revision ID: 0018
Revises: 0017
Create Date: 2026-12-28 10:00:00
"""
from alembic import op
import sqlalchemy as sa


revision = '0018'
down_revision = '0017'
branch_labels = None
depends_on = None

APPEND_ONLY = "personal_data_reads is append-only: a logged read is never edited or removed"


def upgrade() -> None:
    op.create_table('personal_data_reads',
    sa.Column('read_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('read_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('actor', sa.String(length=128), nullable=False),
    sa.Column('role', sa.String(length=32), nullable=False),
    sa.Column('account_number', sa.String(length=64), nullable=False),
    sa.Column('endpoint', sa.String(length=300), nullable=False),
    sa.PrimaryKeyConstraint('read_id')
    )
    with op.batch_alter_table('personal_data_reads', schema=None) as batch_op:
        batch_op.create_index('ix_personal_data_reads_account_number', ['account_number', 'read_at'], unique=False)
    # The database itself refuses to edit or remove a logged read, whoever asks. TRUNCATE is left to
    # privileges (the application's role is granted none on this table: docs/audit.md, "History").
    if op.get_bind().dialect.name == 'postgresql':
        op.execute(sa.text(
            "CREATE FUNCTION personal_data_reads_append_only() RETURNS trigger LANGUAGE plpgsql AS $$ "
            f"BEGIN RAISE EXCEPTION '{APPEND_ONLY}'; END $$"
        ))
        op.execute(sa.text(
            "CREATE TRIGGER personal_data_reads_append_only BEFORE UPDATE OR DELETE "
            "ON personal_data_reads FOR EACH ROW EXECUTE FUNCTION personal_data_reads_append_only()"
        ))
    else:
        for action in ('UPDATE', 'DELETE'):
            op.execute(sa.text(
                f"CREATE TRIGGER personal_data_reads_no_{action.lower()} BEFORE {action} ON personal_data_reads "
                f"BEGIN SELECT RAISE(ABORT, '{APPEND_ONLY}'); END"
            ))


def downgrade() -> None:
    if op.get_bind().dialect.name == 'postgresql':
        op.execute(sa.text("DROP TRIGGER personal_data_reads_append_only ON personal_data_reads"))
        op.execute(sa.text("DROP FUNCTION personal_data_reads_append_only()"))
    with op.batch_alter_table('personal_data_reads', schema=None) as batch_op:
        batch_op.drop_index('ix_personal_data_reads_account_number')
    op.drop_table('personal_data_reads')
