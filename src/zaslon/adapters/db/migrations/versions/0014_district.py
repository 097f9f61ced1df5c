"""district: customers' residence, desk users' district, district signals and outreach tasks

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-01 15:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0014'
down_revision = '0013'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('customers') as batch:
        batch.add_column(sa.Column('region', sa.String(length=64), nullable=True))
        batch.add_column(sa.Column('district', sa.String(length=64), nullable=True))
        batch.add_column(sa.Column('address', sa.Text(), nullable=True))
    op.create_index(op.f('ix_customers_district'), 'customers', ['district'], unique=False)
    with op.batch_alter_table('desk_users') as batch:
        batch.add_column(sa.Column('district', sa.String(length=64), nullable=True))
    op.create_table('district_signals',
    sa.Column('signal_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('district', sa.String(length=64), nullable=False),
    sa.Column('person', sa.String(length=64), nullable=False),
    sa.Column('account_id', sa.String(length=64), nullable=False),
    sa.Column('reason', sa.String(length=24), nullable=False),
    sa.Column('at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('detail', sa.Text(), server_default='', nullable=False),
    sa.Column('recorded_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('signal_id', name=op.f('pk_district_signals'))
    )
    op.create_index('ix_district_signals_district_at', 'district_signals', ['district', 'at'], unique=False)
    op.create_table('outreach_tasks',
    sa.Column('task_id', sa.String(length=32), nullable=False),
    sa.Column('district', sa.String(length=64), nullable=False),
    sa.Column('person', sa.String(length=64), nullable=False),
    sa.Column('kind', sa.String(length=24), nullable=False),
    sa.Column('note', sa.Text(), server_default='', nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('created_by', sa.String(length=64), nullable=False),
    sa.Column('outcome', sa.String(length=24), nullable=True),
    sa.Column('outcome_note', sa.Text(), server_default='', nullable=False),
    sa.Column('done_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('done_by', sa.String(length=64), nullable=True),
    sa.PrimaryKeyConstraint('task_id', name=op.f('pk_outreach_tasks'))
    )
    op.create_index(op.f('ix_outreach_tasks_district'), 'outreach_tasks', ['district'], unique=False)


def downgrade() -> None:
    op.drop_index(op.f('ix_outreach_tasks_district'), table_name='outreach_tasks')
    op.drop_table('outreach_tasks')
    op.drop_index('ix_district_signals_district_at', table_name='district_signals')
    op.drop_table('district_signals')
    with op.batch_alter_table('desk_users') as batch:
        batch.drop_column('district')
    op.drop_index(op.f('ix_customers_district'), table_name='customers')
    with op.batch_alter_table('customers') as batch:
        batch.drop_column('address')
        batch.drop_column('district')
        batch.drop_column('region')
