"""activities record their object, level and organisation, and when they were withdrawn

Revision ID: c7a1e5f0a009
Revises: c7a1e5f0a008
Create Date: 2026-12-06 11:00:00
"""
from alembic import op
import sqlalchemy as sa
import node.models.base

revision = 'c7a1e5f0a009'
down_revision = 'c7a1e5f0a008'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('activities') as batch:
        batch.add_column(sa.Column('object_ap_id', sa.String(length=2048), nullable=True))
        batch.add_column(sa.Column('level', sa.String(length=16), server_default='public', nullable=False))
        batch.add_column(sa.Column('organization_id', sa.Integer(), nullable=True))
        batch.add_column(sa.Column('withdrawn_at', node.models.base.UTCDateTime(), nullable=True))
        batch.create_index('ix_activities_object_ap_id', ['object_ap_id'])
        batch.create_foreign_key('fk_activities_organization_id_actors', 'actors',
                                 ['organization_id'], ['id'], ondelete='CASCADE')


def downgrade() -> None:
    with op.batch_alter_table('activities') as batch:
        batch.drop_constraint('fk_activities_organization_id_actors', type_='foreignkey')
        batch.drop_index('ix_activities_object_ap_id')
        batch.drop_column('withdrawn_at')
        batch.drop_column('organization_id')
        batch.drop_column('level')
        batch.drop_column('object_ap_id')
