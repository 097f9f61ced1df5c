"""feature snapshots (durable scoring state), decisions.feature_seq, model versions and their live slot

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-01 11:33:51.881549
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0007'
down_revision = '0006'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('feature_snapshots',
    sa.Column('snapshot_id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('taken_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('folded', sa.BigInteger(), nullable=False),
    sa.Column('pending', sa.Text(), nullable=False),
    sa.Column('accounts', sa.Integer(), nullable=False),
    sa.Column('bytes', sa.BigInteger(), nullable=False),
    sa.Column('layout', sa.Text(), nullable=False),
    sa.Column('currency_stats', sa.LargeBinary(), nullable=False),
    sa.PrimaryKeyConstraint('snapshot_id', name=op.f('pk_feature_snapshots'))
    )
    op.create_table('model_events',
    sa.Column('event_id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('actor', sa.String(length=64), nullable=False),
    sa.Column('action', sa.String(length=16), nullable=False),
    sa.Column('model_id', sa.String(length=64), nullable=True),
    sa.Column('previous', sa.String(length=64), nullable=True),
    sa.PrimaryKeyConstraint('event_id', name=op.f('pk_model_events'))
    )
    op.create_table('models',
    sa.Column('model_id', sa.String(length=64), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('created_by', sa.String(length=64), nullable=False),
    sa.Column('cutoff', sa.DateTime(timezone=True), nullable=False),
    sa.Column('source', sa.String(length=16), nullable=False),
    sa.Column('metrics', sa.Text(), nullable=False),
    sa.Column('meta', sa.Text(), nullable=False),
    sa.Column('booster', sa.Text(), nullable=False),
    sa.PrimaryKeyConstraint('model_id', name=op.f('pk_models'))
    )
    op.create_table('feature_snapshot_chunks',
    sa.Column('snapshot_id', sa.Integer(), nullable=False),
    sa.Column('chunk', sa.Integer(), nullable=False),
    sa.Column('account_ids', sa.LargeBinary(), nullable=False),
    sa.Column('state', sa.LargeBinary(), nullable=False),
    sa.ForeignKeyConstraint(['snapshot_id'], ['feature_snapshots.snapshot_id'], name=op.f('fk_feature_snapshot_chunks_snapshot_id_feature_snapshots'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('snapshot_id', 'chunk', name=op.f('pk_feature_snapshot_chunks'))
    )
    op.create_table('model_slots',
    sa.Column('slot', sa.String(length=16), nullable=False),
    sa.Column('model_id', sa.String(length=64), nullable=False),
    sa.Column('generation', sa.BigInteger(), nullable=False),
    sa.Column('changed_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('changed_by', sa.String(length=64), nullable=False),
    sa.ForeignKeyConstraint(['model_id'], ['models.model_id'], name=op.f('fk_model_slots_model_id_models')),
    sa.PrimaryKeyConstraint('slot', name=op.f('pk_model_slots'))
    )
    with op.batch_alter_table('decisions', schema=None) as batch_op:
        batch_op.add_column(sa.Column('feature_seq', sa.BigInteger(), nullable=True))
        batch_op.create_index('ix_decisions_feature_seq', ['feature_seq'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('decisions', schema=None) as batch_op:
        batch_op.drop_index('ix_decisions_feature_seq')
        batch_op.drop_column('feature_seq')

    op.drop_table('model_slots')
    op.drop_table('feature_snapshot_chunks')
    op.drop_table('models')
    op.drop_table('model_events')
    op.drop_table('feature_snapshots')
