"""telecom signals: number ranges, call events, block list changes, number appeals

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-01 14:38:38.281472
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0012'
down_revision = '0011'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('block_list_changes',
    sa.Column('seq', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('phone', sa.String(length=20), nullable=False),
    sa.Column('action', sa.String(length=8), nullable=False),
    sa.Column('reason', sa.String(length=32), nullable=False),
    sa.Column('at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('seq', name=op.f('pk_block_list_changes'))
    )
    with op.batch_alter_table('block_list_changes', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_block_list_changes_phone'), ['phone'], unique=False)

    op.create_table('number_appeals',
    sa.Column('appeal_id', sa.String(length=64), nullable=False),
    sa.Column('phone', sa.String(length=20), nullable=False),
    sa.Column('reason', sa.Text(), nullable=False),
    sa.Column('contact', sa.String(length=200), nullable=False),
    sa.Column('filed_by', sa.String(length=64), nullable=False),
    sa.Column('filed_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('decided_by', sa.String(length=64), nullable=True),
    sa.Column('decided_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('decision_note', sa.Text(), nullable=True),
    sa.ForeignKeyConstraint(['decided_by'], ['orgs.org_id'], name=op.f('fk_number_appeals_decided_by_orgs')),
    sa.ForeignKeyConstraint(['filed_by'], ['orgs.org_id'], name=op.f('fk_number_appeals_filed_by_orgs')),
    sa.PrimaryKeyConstraint('appeal_id', name=op.f('pk_number_appeals'))
    )
    with op.batch_alter_table('number_appeals', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_number_appeals_phone'), ['phone'], unique=False)

    op.create_table('telecom_call_events',
    sa.Column('org_id', sa.String(length=64), nullable=False),
    sa.Column('call_id', sa.String(length=64), nullable=False),
    sa.Column('event', sa.String(length=8), nullable=False),
    sa.Column('ts', sa.DateTime(timezone=True), nullable=False),
    sa.Column('caller', sa.String(length=20), nullable=False),
    sa.Column('callee', sa.String(length=20), nullable=False),
    sa.Column('callee_party', sa.String(length=64), nullable=True),
    sa.Column('duration_s', sa.Integer(), nullable=True),
    sa.Column('caller_verified', sa.Boolean(), nullable=True),
    sa.Column('caller_in_registry', sa.Boolean(), nullable=False),
    sa.Column('forwarding_active', sa.Boolean(), nullable=True),
    sa.Column('latest_sim_change', sa.DateTime(timezone=True), nullable=True),
    sa.Column('body_hash', sa.String(length=64), nullable=False),
    sa.Column('received_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['org_id'], ['orgs.org_id'], name=op.f('fk_telecom_call_events_org_id_orgs')),
    sa.PrimaryKeyConstraint('org_id', 'call_id', 'event', name=op.f('pk_telecom_call_events'))
    )
    with op.batch_alter_table('telecom_call_events', schema=None) as batch_op:
        batch_op.create_index('ix_telecom_call_events_callee_ts', ['callee', 'ts'], unique=False)

    op.create_table('telecom_number_ranges',
    sa.Column('prefix', sa.String(length=20), nullable=False),
    sa.Column('org_id', sa.String(length=64), nullable=False),
    sa.Column('added_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['org_id'], ['orgs.org_id'], name=op.f('fk_telecom_number_ranges_org_id_orgs')),
    sa.PrimaryKeyConstraint('prefix', name=op.f('pk_telecom_number_ranges'))
    )
    with op.batch_alter_table('telecom_number_ranges', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_telecom_number_ranges_org_id'), ['org_id'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('telecom_number_ranges', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_telecom_number_ranges_org_id'))

    op.drop_table('telecom_number_ranges')
    with op.batch_alter_table('telecom_call_events', schema=None) as batch_op:
        batch_op.drop_index('ix_telecom_call_events_callee_ts')

    op.drop_table('telecom_call_events')
    with op.batch_alter_table('number_appeals', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_number_appeals_phone'))

    op.drop_table('number_appeals')
    with op.batch_alter_table('block_list_changes', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_block_list_changes_phone'))

    op.drop_table('block_list_changes')
