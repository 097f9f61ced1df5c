"""protection: customers' protection profiles (a trusted person) and the confirmations asked of them

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-01 15:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0011'
down_revision = '0010'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('protection_profiles',
    sa.Column('account_id', sa.String(length=64), nullable=False),
    sa.Column('bank_id', sa.String(length=11), nullable=False),
    sa.Column('org_id', sa.String(length=64), nullable=False),
    sa.Column('customer_id', sa.String(length=64), nullable=True),
    sa.Column('age_band', sa.String(length=16), nullable=False),
    sa.Column('birth_date', sa.Date(), nullable=True),
    sa.Column('lives_alone', sa.Boolean(), server_default='0', nullable=False),
    sa.Column('phones', sa.Text(), server_default='', nullable=False),
    sa.Column('trusted_name', sa.String(length=200), nullable=True),
    sa.Column('trusted_phone', sa.String(length=32), nullable=True),
    sa.Column('trusted_relation', sa.String(length=64), nullable=True),
    sa.Column('trusted_customer_id', sa.String(length=64), nullable=True),
    sa.Column('change_pending', sa.Boolean(), server_default='0', nullable=False),
    sa.Column('next_name', sa.String(length=200), nullable=True),
    sa.Column('next_phone', sa.String(length=32), nullable=True),
    sa.Column('next_relation', sa.String(length=64), nullable=True),
    sa.Column('next_customer_id', sa.String(length=64), nullable=True),
    sa.Column('change_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('confirm_new_payee', sa.Boolean(), server_default='0', nullable=False),
    sa.Column('confirm_amount_above', sa.BigInteger(), nullable=True),
    sa.Column('confirm_currency', sa.String(length=3), server_default='BYN', nullable=False),
    sa.Column('confirm_cash_withdrawal', sa.Boolean(), server_default='0', nullable=False),
    sa.Column('confirm_during_call', sa.Boolean(), server_default='0', nullable=False),
    sa.Column('consent_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('account_id', name=op.f('pk_protection_profiles'))
    )
    op.create_index(op.f('ix_protection_profiles_bank_id'), 'protection_profiles', ['bank_id'], unique=False)
    op.create_table('trusted_confirmations',
    sa.Column('confirmation_id', sa.String(length=32), nullable=False),
    sa.Column('org_id', sa.String(length=64), nullable=False),
    sa.Column('transfer_id', sa.String(length=64), nullable=False),
    sa.Column('bank_id', sa.String(length=11), nullable=False),
    sa.Column('account_id', sa.String(length=64), nullable=False),
    sa.Column('payee', sa.String(length=64), nullable=False),
    sa.Column('amount', sa.BigInteger(), nullable=False),
    sa.Column('currency', sa.String(length=3), nullable=False),
    sa.Column('transfer_ts', sa.DateTime(timezone=True), nullable=False),
    sa.Column('triggers', sa.Text(), nullable=False),
    sa.Column('trusted_name', sa.String(length=200), nullable=False),
    sa.Column('trusted_phone', sa.String(length=32), nullable=False),
    sa.Column('trusted_relation', sa.String(length=64), nullable=True),
    sa.Column('deadline', sa.DateTime(timezone=True), nullable=False),
    sa.Column('status', sa.String(length=12), nullable=False),
    sa.Column('answered_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('answered_by', sa.String(length=200), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('confirmation_id', name=op.f('pk_trusted_confirmations')),
    sa.UniqueConstraint('org_id', 'transfer_id', name='uq_trusted_confirmations_org_transfer')
    )
    op.create_index('ix_trusted_confirmations_due', 'trusted_confirmations', ['status', 'deadline'], unique=False)


def downgrade() -> None:
    op.drop_index('ix_trusted_confirmations_due', table_name='trusted_confirmations')
    op.drop_table('trusted_confirmations')
    op.drop_index(op.f('ix_protection_profiles_bank_id'), table_name='protection_profiles')
    op.drop_table('protection_profiles')
