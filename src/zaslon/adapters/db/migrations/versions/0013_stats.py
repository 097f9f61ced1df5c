"""stats: victims' region and district on incidents, the incident history, and the indexes statistics need

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-01 15:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0013'
down_revision = '0012'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('incidents') as batch:
        batch.add_column(sa.Column('victim_region', sa.String(length=64), nullable=True))
        batch.add_column(sa.Column('victim_district', sa.String(length=64), nullable=True))
    op.create_index('ix_incidents_region_reported', 'incidents', ['victim_region', 'reported_at'])
    op.create_table('incident_history',
    sa.Column('history_id', sa.String(length=64), nullable=False),
    sa.Column('scheme', sa.String(length=32), nullable=False),
    sa.Column('reported_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('victim_region', sa.String(length=64), nullable=True),
    sa.Column('victim_district', sa.String(length=64), nullable=True),
    sa.Column('victim_age', sa.Integer(), nullable=True),
    sa.Column('victim_lives_alone', sa.Boolean(), nullable=True),
    sa.Column('stolen', sa.BigInteger(), nullable=True),
    sa.Column('label', sa.String(length=16), nullable=False),
    sa.Column('imported_by', sa.String(length=64), nullable=False),
    sa.Column('imported_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['imported_by'], ['orgs.org_id'], name=op.f('fk_incident_history_imported_by_orgs')),
    sa.PrimaryKeyConstraint('history_id', name=op.f('pk_incident_history')),
    )
    op.create_index('ix_incident_history_reported_at', 'incident_history',
                    ['reported_at', 'label', 'scheme', 'victim_region', 'victim_district', 'victim_age',
                     'victim_lives_alone', 'stolen'])
    op.create_index('ix_order_events_order_status_at', 'order_events', ['order_id', 'status', 'at'])
    op.create_index('ix_desk_audit_action_at', 'desk_audit', ['action', 'at'])


def downgrade() -> None:
    op.drop_index('ix_desk_audit_action_at', table_name='desk_audit')
    op.drop_index('ix_order_events_order_status_at', table_name='order_events')
    op.drop_index('ix_incident_history_reported_at', table_name='incident_history')
    op.drop_table('incident_history')
    op.drop_index('ix_incidents_region_reported', table_name='incidents')
    with op.batch_alter_table('incidents') as batch:
        batch.drop_column('victim_district')
        batch.drop_column('victim_region')
