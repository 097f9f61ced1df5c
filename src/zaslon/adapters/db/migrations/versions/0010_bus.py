"""bus: inbox, outbox and partition snapshots of the scale-out shape (NATS JetStream + PostgreSQL)

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-01 12:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0010'
down_revision = '0009'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('bus_inbox',
    sa.Column('consumer', sa.String(length=32), nullable=False),
    sa.Column('msg_key', sa.String(length=160), nullable=False),
    sa.Column('partition', sa.Integer(), nullable=True),
    sa.Column('stream_seq', sa.BigInteger(), nullable=True),
    sa.Column('batch_seq', sa.BigInteger(), nullable=True),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('on_call', sa.Boolean(), server_default='0', nullable=False),
    sa.Column('transfer_id', sa.String(length=64), nullable=True),
    sa.Column('handled_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('consumer', 'msg_key', name=op.f('pk_bus_inbox')),
    )
    op.create_index('ix_bus_inbox_partition_seq', 'bus_inbox', ['consumer', 'partition', 'stream_seq'])
    op.create_table('bus_outbox',
    sa.Column('outbox_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('subject', sa.String(length=128), nullable=False),
    sa.Column('payload', sa.Text(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('published_at', sa.DateTime(timezone=True), nullable=True),
    sa.PrimaryKeyConstraint('outbox_id', name=op.f('pk_bus_outbox')),
    )
    op.create_index('ix_bus_outbox_unpublished', 'bus_outbox', ['published_at', 'outbox_id'])
    op.create_table('partition_snapshots',
    sa.Column('partition', sa.Integer(), nullable=False),
    sa.Column('batch_seq', sa.BigInteger(), nullable=False),
    sa.Column('state', sa.LargeBinary(), nullable=False),
    sa.Column('taken_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('partition', name=op.f('pk_partition_snapshots')),
    )


def downgrade() -> None:
    op.drop_table('partition_snapshots')
    op.drop_index('ix_bus_outbox_unpublished', table_name='bus_outbox')
    op.drop_table('bus_outbox')
    op.drop_index('ix_bus_inbox_partition_seq', table_name='bus_inbox')
    op.drop_table('bus_inbox')
