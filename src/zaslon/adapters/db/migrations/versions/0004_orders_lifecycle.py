"""orders under police control: pending confirmation, order types, top-ups and tranches, signed webhooks
with retries, cash-out alerts that name the order, case and ATM

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-01 12:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0004'
down_revision = '0003'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('freeze_orders') as b:
        b.alter_column('status', type_=sa.String(length=24), existing_type=sa.String(length=16),
                       existing_nullable=False)
        b.add_column(sa.Column('order_type', sa.String(length=24), server_default='freeze', nullable=False))
    with op.batch_alter_table('order_events') as b:
        b.alter_column('status', type_=sa.String(length=24), existing_type=sa.String(length=16),
                       existing_nullable=False)
    with op.batch_alter_table('cashout_alerts') as b:
        b.add_column(sa.Column('outcome', sa.String(length=16), nullable=True))
        b.add_column(sa.Column('order_id', sa.String(length=32), nullable=True))
        b.add_column(sa.Column('case_id', sa.String(length=64), nullable=True))
        b.add_column(sa.Column('atm_lat', sa.Float(), nullable=True))
        b.add_column(sa.Column('atm_lon', sa.Float(), nullable=True))
        b.add_column(sa.Column('atm_city', sa.String(length=64), nullable=True))
    with op.batch_alter_table('orgs') as b:
        b.add_column(sa.Column('webhook_secret', sa.Text(), nullable=True))
    op.create_table('webhook_deliveries',
    sa.Column('delivery_id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('bank_id', sa.String(length=11), nullable=False),
    sa.Column('order_id', sa.String(length=32), nullable=False),
    sa.Column('payload', sa.Text(), nullable=False),
    sa.Column('attempts', sa.Integer(), server_default='0', nullable=False),
    sa.Column('next_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('state', sa.String(length=12), nullable=False),
    sa.Column('last_error', sa.Text(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('delivery_id', name=op.f('pk_webhook_deliveries'))
    )
    op.create_index(op.f('ix_webhook_deliveries_bank_id'), 'webhook_deliveries', ['bank_id'], unique=False)
    op.create_index('ix_webhook_deliveries_due', 'webhook_deliveries', ['state', 'next_at'], unique=False)


def downgrade() -> None:
    op.drop_index('ix_webhook_deliveries_due', table_name='webhook_deliveries')
    op.drop_index(op.f('ix_webhook_deliveries_bank_id'), table_name='webhook_deliveries')
    op.drop_table('webhook_deliveries')
    with op.batch_alter_table('orgs') as b:
        b.drop_column('webhook_secret')
    with op.batch_alter_table('cashout_alerts') as b:
        for col in ('atm_city', 'atm_lon', 'atm_lat', 'case_id', 'order_id', 'outcome'):
            b.drop_column(col)
    with op.batch_alter_table('order_events') as b:
        b.alter_column('status', type_=sa.String(length=16), existing_type=sa.String(length=24))
    with op.batch_alter_table('freeze_orders') as b:
        b.drop_column('order_type')
        b.alter_column('status', type_=sa.String(length=16), existing_type=sa.String(length=24))
