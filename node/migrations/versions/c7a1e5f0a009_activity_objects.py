"""activities record their object, level and organisation, and when they were withdrawn

Revision ID: c7a1e5f0a009
Revises: c7a1e5f0a007
Create Date: 2026-12-06 11:00:00
"""
from alembic import op
import sqlalchemy as sa
import node.models.base

revision = 'c7a1e5f0a009'
down_revision = 'c7a1e5f0a007'
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Plain ALTER TABLE (no batch mode, no foreign key): batch mode would copy ``activities`` on
    # SQLite, and dropping the old table with foreign keys on deletes every delivery.
    op.add_column('activities', sa.Column('object_ap_id', sa.String(length=2048), nullable=True))
    op.add_column('activities', sa.Column('level', sa.String(length=16), server_default='public',
                                          nullable=False))
    op.add_column('activities', sa.Column('organization_id', sa.Integer(), nullable=True))
    op.add_column('activities', sa.Column('withdrawn_at', node.models.base.UTCDateTime(), nullable=True))
    op.create_index('ix_activities_object_ap_id', 'activities', ['object_ap_id'])


def downgrade() -> None:
    op.drop_index('ix_activities_object_ap_id', table_name='activities')
    for column in ('withdrawn_at', 'organization_id', 'level', 'object_ap_id'):
        op.execute(f'ALTER TABLE activities DROP COLUMN {column}')
