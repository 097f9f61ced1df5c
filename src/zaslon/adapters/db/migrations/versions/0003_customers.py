"""customers: profiles banks register for scoring (owner's age, living alone, kind, phones)

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-01 09:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0003'
down_revision = '0002'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('customers',
    sa.Column('account_id', sa.String(length=64), nullable=False),
    sa.Column('bank_id', sa.String(length=11), nullable=False),
    sa.Column('org_id', sa.String(length=64), nullable=False),
    sa.Column('customer_id', sa.String(length=64), nullable=True),
    sa.Column('kind', sa.String(length=16), nullable=True),
    sa.Column('opened_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('birth_date', sa.Date(), nullable=True),
    sa.Column('lives_alone', sa.Boolean(), server_default='0', nullable=False),
    sa.Column('phones', sa.Text(), server_default='', nullable=False),
    sa.Column('card_hashes', sa.Text(), server_default='', nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('account_id', name=op.f('pk_customers'))
    )
    op.create_index(op.f('ix_customers_bank_id'), 'customers', ['bank_id'], unique=False)
    # The trace's ledger reads transfers in time order, picking up from the newest one it has.
    op.create_index('ix_transfers_ts', 'transfers', ['ts', 'transfer_id'], unique=False)


def downgrade() -> None:
    op.drop_index('ix_transfers_ts', table_name='transfers')
    op.drop_index(op.f('ix_customers_bank_id'), table_name='customers')
    op.drop_table('customers')
