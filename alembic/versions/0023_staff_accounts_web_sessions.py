"""staff accounts, login attempts and web sessions (issue 13)

Revision ID: 0023
Revises: 0022
"""
from alembic import op
import sqlalchemy as sa


revision = '0023'
down_revision = '0022'
branch_labels = None
depends_on = None

APPEND_ONLY = "login_attempts is append-only: a login attempt is never edited or removed"


def upgrade() -> None:
    op.create_table('staff_accounts',
    sa.Column('account_id', sa.Uuid(), nullable=False),
    sa.Column('username', sa.String(length=64), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('account_id'),
    sa.UniqueConstraint('username')
    )
    op.create_table('login_attempts',
    sa.Column('attempt_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('username', sa.String(length=64), nullable=False),
    sa.Column('client_address', sa.String(length=64), nullable=False),
    sa.Column('attempted_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('succeeded', sa.Boolean(), nullable=False),
    sa.Column('outcome', sa.String(length=32), nullable=False),
    sa.PrimaryKeyConstraint('attempt_id')
    )
    op.create_index('ix_login_attempts_username_attempted_at', 'login_attempts', ['username', 'attempted_at'], unique=False)
    op.create_index('ix_login_attempts_client_address_attempted_at', 'login_attempts', ['client_address', 'attempted_at'], unique=False)
    # The lock-out and rate limit are counted from these rows: the database itself refuses to edit or
    # remove one, whoever asks (as personal_data_reads, migration 0018).
    if op.get_bind().dialect.name == 'postgresql':
        op.execute(sa.text(
            "CREATE FUNCTION login_attempts_append_only() RETURNS trigger LANGUAGE plpgsql AS $$ "
            f"BEGIN RAISE EXCEPTION '{APPEND_ONLY}'; END $$"
        ))
        op.execute(sa.text(
            "CREATE TRIGGER login_attempts_append_only BEFORE UPDATE OR DELETE "
            "ON login_attempts FOR EACH ROW EXECUTE FUNCTION login_attempts_append_only()"
        ))
    else:
        for action in ('UPDATE', 'DELETE'):
            op.execute(sa.text(
                f"CREATE TRIGGER login_attempts_no_{action.lower()} BEFORE {action} ON login_attempts "
                f"BEGIN SELECT RAISE(ABORT, '{APPEND_ONLY}'); END"
            ))
    op.create_table('web_sessions',
    sa.Column('session_id', sa.Uuid(), nullable=False),
    sa.Column('token_hash', sa.String(length=64), nullable=False),
    sa.Column('account_id', sa.Uuid(), nullable=False),
    sa.Column('username', sa.String(length=64), nullable=False),
    sa.Column('role', sa.String(length=32), nullable=False),
    sa.Column('csrf_token', sa.String(length=64), nullable=False),
    sa.Column('client_address', sa.String(length=64), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('last_seen_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('revoked_at', sa.DateTime(timezone=True), nullable=True),
    sa.PrimaryKeyConstraint('session_id'),
    sa.UniqueConstraint('token_hash')
    )
    op.create_index('ix_web_sessions_account_id', 'web_sessions', ['account_id'], unique=False)


def downgrade() -> None:
    op.drop_index('ix_web_sessions_account_id', table_name='web_sessions')
    op.drop_table('web_sessions')
    if op.get_bind().dialect.name == 'postgresql':
        op.execute(sa.text("DROP TRIGGER login_attempts_append_only ON login_attempts"))
        op.execute(sa.text("DROP FUNCTION login_attempts_append_only()"))
    op.drop_index('ix_login_attempts_client_address_attempted_at', table_name='login_attempts')
    op.drop_index('ix_login_attempts_username_attempted_at', table_name='login_attempts')
    op.drop_table('login_attempts')
    op.drop_table('staff_accounts')
