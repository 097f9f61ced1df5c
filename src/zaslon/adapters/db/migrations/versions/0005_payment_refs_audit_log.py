"""payment ids for ISO 20022 recalls, each order's original payments, the hash-chained audit log, key persons

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-01 12:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0005'
down_revision = '0004'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('payment_refs',
    sa.Column('transfer_id', sa.String(length=64), nullable=False),
    sa.Column('org_id', sa.String(length=64), nullable=False),
    sa.Column('msg_id', sa.String(length=35), nullable=True),
    sa.Column('instr_id', sa.String(length=35), nullable=True),
    sa.Column('end_to_end_id', sa.String(length=35), nullable=False),
    sa.Column('tx_id', sa.String(length=35), nullable=True),
    sa.Column('uetr', sa.String(length=36), nullable=True),
    sa.Column('settlement_date', sa.Date(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('transfer_id', 'org_id', name=op.f('pk_payment_refs'))
    )
    op.create_table('order_payments',
    sa.Column('order_id', sa.String(length=32), nullable=False),
    sa.Column('role', sa.String(length=8), nullable=False),
    sa.Column('transfer_id', sa.String(length=64), nullable=False),
    sa.Column('amount', sa.BigInteger(), nullable=False),
    sa.Column('currency', sa.String(length=3), nullable=False),
    sa.Column('ts', sa.DateTime(timezone=True), nullable=False),
    sa.Column('payer', sa.String(length=64), nullable=False),
    sa.Column('payee', sa.String(length=64), nullable=False),
    sa.Column('payer_bank', sa.String(length=11), nullable=True),
    sa.Column('payee_bank', sa.String(length=11), nullable=True),
    sa.Column('end_to_end_id', sa.String(length=64), nullable=False),
    sa.Column('tx_id', sa.String(length=64), nullable=True),
    sa.Column('uetr', sa.String(length=36), nullable=True),
    sa.Column('instr_id', sa.String(length=35), nullable=True),
    sa.Column('msg_id', sa.String(length=35), nullable=True),
    sa.Column('settlement_date', sa.Date(), nullable=False),
    sa.ForeignKeyConstraint(['order_id'], ['freeze_orders.order_id'],
                            name=op.f('fk_order_payments_order_id_freeze_orders')),
    sa.PrimaryKeyConstraint('order_id', 'role', name=op.f('pk_order_payments'))
    )
    op.create_table('audit_log',
    sa.Column('seq', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('org_id', sa.String(length=64), nullable=True),
    sa.Column('actor', sa.String(length=64), nullable=False),
    sa.Column('person', sa.String(length=200), nullable=True),
    sa.Column('action', sa.String(length=120), nullable=False),
    sa.Column('subject', sa.String(length=200), nullable=True),
    sa.Column('detail', sa.Text(), nullable=False),
    sa.Column('prev_hash', sa.String(length=64), nullable=False),
    sa.Column('hash', sa.String(length=64), nullable=False),
    sa.PrimaryKeyConstraint('seq', name=op.f('pk_audit_log')),
    sa.UniqueConstraint('prev_hash', name=op.f('uq_audit_log_prev_hash'))
    )
    with op.batch_alter_table('api_keys') as batch:
        batch.add_column(sa.Column('person', sa.String(length=200), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('api_keys') as batch:
        batch.drop_column('person')
    op.drop_table('audit_log')
    op.drop_table('order_payments')
    op.drop_table('payment_refs')
