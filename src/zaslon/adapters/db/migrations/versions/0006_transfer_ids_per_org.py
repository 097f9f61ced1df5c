"""transfer ids per submitting organisation: transfers keyed by (transfer_id, org_id), decisions unique on both,
disputed transfers named with the submitting organisation

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-01 11:50:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0006'
down_revision = '0005'
branch_labels = None
depends_on = None


def upgrade() -> None:
    # The disputed transfers' link goes first: its foreign key depends on the transfers' old primary key.
    with op.batch_alter_table('incident_transfers', schema=None) as batch_op:
        batch_op.drop_index('ix_incident_transfers_transfer')
        batch_op.drop_constraint('fk_incident_transfers_transfer_id_transfers', type_='foreignkey')
        batch_op.add_column(sa.Column('transfer_org', sa.String(length=64), nullable=True))
    # Until now an id was unique across organisations: the one transfer stored under it is the one disputed.
    op.execute("UPDATE incident_transfers SET transfer_org = "
               "(SELECT t.org_id FROM transfers t WHERE t.transfer_id = incident_transfers.transfer_id)")
    with op.batch_alter_table('transfers', schema=None) as batch_op:
        batch_op.drop_constraint('pk_transfers', type_='primary')
        batch_op.create_primary_key('pk_transfers', ['transfer_id', 'org_id'])
    with op.batch_alter_table('decisions', schema=None) as batch_op:
        batch_op.drop_constraint('uq_decisions_transfer_id', type_='unique')
        batch_op.create_unique_constraint('uq_decisions_transfer_id_org', ['transfer_id', 'org_id'])
    with op.batch_alter_table('incident_transfers', schema=None) as batch_op:
        batch_op.alter_column('transfer_org', existing_type=sa.String(length=64), nullable=False)
        batch_op.drop_constraint('pk_incident_transfers', type_='primary')
        batch_op.create_primary_key('pk_incident_transfers', ['incident_id', 'transfer_id', 'transfer_org'])
        batch_op.create_foreign_key('fk_incident_transfers_transfer_transfers', 'transfers',
                                    ['transfer_id', 'transfer_org'], ['transfer_id', 'org_id'])
        batch_op.create_index('ix_incident_transfers_transfer', ['transfer_id', 'transfer_org'], unique=False)


def downgrade() -> None:
    # Only possible while no two organisations share a transfer id (the old single namespace).
    with op.batch_alter_table('incident_transfers', schema=None) as batch_op:
        batch_op.drop_index('ix_incident_transfers_transfer')
        batch_op.drop_constraint('fk_incident_transfers_transfer_transfers', type_='foreignkey')
        batch_op.drop_constraint('pk_incident_transfers', type_='primary')
        batch_op.create_primary_key('pk_incident_transfers', ['incident_id', 'transfer_id'])
        batch_op.drop_column('transfer_org')
    with op.batch_alter_table('decisions', schema=None) as batch_op:
        batch_op.drop_constraint('uq_decisions_transfer_id_org', type_='unique')
        batch_op.create_unique_constraint('uq_decisions_transfer_id', ['transfer_id'])
    with op.batch_alter_table('transfers', schema=None) as batch_op:
        batch_op.drop_constraint('pk_transfers', type_='primary')
        batch_op.create_primary_key('pk_transfers', ['transfer_id'])
    with op.batch_alter_table('incident_transfers', schema=None) as batch_op:
        batch_op.create_foreign_key('fk_incident_transfers_transfer_id_transfers', 'transfers',
                                    ['transfer_id'], ['transfer_id'])
        batch_op.create_index('ix_incident_transfers_transfer', ['transfer_id'], unique=False)
