"""upload jobs: queued reading uploads, their items waiting by chunk, their rejected items

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-30 12:00:00.000000
"""
from alembic import op
import sqlalchemy as sa


revision = '0005'
down_revision = '0004'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('upload_jobs',
    sa.Column('upload_id', sa.Uuid(), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('actor', sa.String(length=128), nullable=False),
    sa.Column('role', sa.String(length=32), nullable=False),
    sa.Column('reason', sa.String(length=500), nullable=False),
    sa.Column('items_digest', sa.String(length=64), nullable=False),
    sa.Column('total_items', sa.Integer(), nullable=False),
    sa.Column('total_chunks', sa.Integer(), nullable=False),
    sa.Column('chunks_done', sa.Integer(), nullable=False),
    sa.Column('processed', sa.Integer(), nullable=False),
    sa.Column('accepted', sa.Integer(), nullable=False),
    sa.Column('duplicates', sa.Integer(), nullable=False),
    sa.Column('rejected', sa.Integer(), nullable=False),
    sa.Column('attempt', sa.Integer(), nullable=False),
    sa.Column('error_key', sa.String(length=64), nullable=True),
    sa.Column('error_params', sa.Text(), nullable=True),
    sa.Column('error', sa.Text(), nullable=True),
    sa.Column('submitted_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('started_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('finished_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('upload_id')
    )
    with op.batch_alter_table('upload_jobs', schema=None) as batch_op:
        batch_op.create_index('ix_upload_jobs_submitted', ['submitted_at'], unique=False)

    op.create_table('upload_chunks',
    sa.Column('upload_id', sa.Uuid(), nullable=False),
    sa.Column('chunk_number', sa.Integer(), nullable=False),
    sa.Column('first_index', sa.Integer(), nullable=False),
    sa.Column('payload', sa.Text(), nullable=False),
    sa.PrimaryKeyConstraint('upload_id', 'chunk_number')
    )
    op.create_table('upload_rejections',
    sa.Column('upload_id', sa.Uuid(), nullable=False),
    sa.Column('item_index', sa.Integer(), nullable=False),
    sa.Column('meter_serial', sa.String(length=64), nullable=False),
    sa.Column('measured_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('reason', sa.String(length=64), nullable=False),
    sa.Column('message_key', sa.String(length=64), nullable=True),
    sa.Column('message', sa.Text(), nullable=False),
    sa.Column('params', sa.Text(), nullable=False),
    sa.PrimaryKeyConstraint('upload_id', 'item_index')
    )


def downgrade() -> None:
    op.drop_table('upload_rejections')
    op.drop_table('upload_chunks')
    with op.batch_alter_table('upload_jobs', schema=None) as batch_op:
        batch_op.drop_index('ix_upload_jobs_submitted')

    op.drop_table('upload_jobs')
