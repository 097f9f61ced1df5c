"""desk: users, sessions, audit and the incident queue of the police desk

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-01 11:45:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0008'
down_revision = '0007'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('desk_users',
    sa.Column('user_id', sa.String(length=64), nullable=False),
    sa.Column('login', sa.String(length=64), nullable=False),
    sa.Column('org_id', sa.String(length=64), nullable=False),
    sa.Column('role', sa.String(length=24), nullable=False),
    sa.Column('password_hash', sa.Text(), nullable=False),
    sa.Column('failed_logins', sa.Integer(), server_default='0', nullable=False),
    sa.Column('locked_until', sa.DateTime(timezone=True), nullable=True),
    sa.Column('disabled_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['org_id'], ['orgs.org_id'], name=op.f('fk_desk_users_org_id_orgs')),
    sa.PrimaryKeyConstraint('user_id', name=op.f('pk_desk_users')),
    sa.UniqueConstraint('login', name=op.f('uq_desk_users_login'))
    )
    op.create_index(op.f('ix_desk_users_org_id'), 'desk_users', ['org_id'], unique=False)
    op.create_table('desk_sessions',
    sa.Column('token_hash', sa.String(length=64), nullable=False),
    sa.Column('user_id', sa.String(length=64), nullable=False),
    sa.Column('csrf_token', sa.String(length=64), nullable=False),
    sa.Column('language', sa.String(length=2), server_default='ru', nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('last_seen_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['user_id'], ['desk_users.user_id'], name=op.f('fk_desk_sessions_user_id_desk_users')),
    sa.PrimaryKeyConstraint('token_hash', name=op.f('pk_desk_sessions'))
    )
    op.create_index(op.f('ix_desk_sessions_user_id'), 'desk_sessions', ['user_id'], unique=False)
    op.create_table('desk_audit',
    sa.Column('event_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('actor', sa.String(length=64), nullable=True),
    sa.Column('org_id', sa.String(length=64), nullable=True),
    sa.Column('action', sa.String(length=48), nullable=False),
    sa.Column('target', sa.String(length=128), nullable=True),
    sa.Column('detail', sa.Text(), nullable=True),
    sa.PrimaryKeyConstraint('event_id', name=op.f('pk_desk_audit'))
    )
    op.create_index(op.f('ix_desk_audit_at'), 'desk_audit', ['at'], unique=False)
    op.create_table('desk_queue',
    sa.Column('incident_id', sa.String(length=64), nullable=False),
    sa.Column('priority', sa.Integer(), nullable=False),
    sa.Column('reported_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('assigned_to', sa.String(length=64), nullable=True),
    sa.Column('assigned_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('snoozed_until', sa.DateTime(timezone=True), nullable=True),
    sa.Column('closed_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('close_reason', sa.String(length=24), nullable=True),
    sa.Column('closed_by', sa.String(length=64), nullable=True),
    sa.Column('version', sa.Integer(), server_default='1', nullable=False),
    sa.ForeignKeyConstraint(['assigned_to'], ['desk_users.user_id'], name=op.f('fk_desk_queue_assigned_to_desk_users')),
    sa.ForeignKeyConstraint(['incident_id'], ['incidents.incident_id'], name=op.f('fk_desk_queue_incident_id_incidents')),
    sa.PrimaryKeyConstraint('incident_id', name=op.f('pk_desk_queue'))
    )
    op.create_index('ix_desk_queue_open', 'desk_queue', ['closed_at', 'assigned_to', 'priority', 'reported_at'], unique=False)


def downgrade() -> None:
    op.drop_index('ix_desk_queue_open', table_name='desk_queue')
    op.drop_table('desk_queue')
    op.drop_index(op.f('ix_desk_audit_at'), table_name='desk_audit')
    op.drop_table('desk_audit')
    op.drop_index(op.f('ix_desk_sessions_user_id'), table_name='desk_sessions')
    op.drop_table('desk_sessions')
    op.drop_index(op.f('ix_desk_users_org_id'), table_name='desk_users')
    op.drop_table('desk_users')
