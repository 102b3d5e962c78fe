"""coalitions, their members, campaigns, variants, supports and tallies

Revision ID: c7a1e5f0a010
Revises: c7a1e5f0a009
Create Date: 2026-12-06 16:30:00
"""
from alembic import op
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql
import node.models.base

revision = 'c7a1e5f0a010'
down_revision = 'c7a1e5f0a009'
branch_labels = None
depends_on = None

JSON = sa.JSON().with_variant(postgresql.JSONB(), 'postgresql')
UTC = node.models.base.UTCDateTime


def _fk(table: str, column: str, target: str, ondelete: str = 'CASCADE'):
    return sa.ForeignKeyConstraint([column], [f'{target}.id'], name=op.f(f'fk_{table}_{column}_{target}'),
                                   ondelete=ondelete)


def upgrade() -> None:
    op.create_table('coalitions',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('actor_id', sa.Integer(), nullable=False),
    sa.Column('visibility', sa.String(length=16), nullable=False),
    sa.Column('languages', JSON, nullable=False),
    sa.Column('created_at', UTC(), nullable=False),
    _fk('coalitions', 'actor_id', 'actors'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_coalitions')),
    sa.UniqueConstraint('actor_id', name=op.f('uq_coalitions_actor_id')),
    )
    op.create_table('coalition_members',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('coalition_id', sa.Integer(), nullable=False),
    sa.Column('member_id', sa.Integer(), nullable=False),
    sa.Column('role', sa.String(length=16), nullable=False),
    sa.Column('state', sa.String(length=16), nullable=False),
    sa.Column('activity_ap_id', sa.String(length=2048), nullable=True),
    sa.Column('created_at', UTC(), nullable=False),
    sa.Column('accepted_at', UTC(), nullable=True),
    _fk('coalition_members', 'coalition_id', 'actors'),
    _fk('coalition_members', 'member_id', 'actors'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_coalition_members')),
    sa.UniqueConstraint('coalition_id', 'member_id', name=op.f('uq_coalition_members_coalition_id_member_id')),
    )
    op.create_index('ix_coalition_members_member_id', 'coalition_members', ['member_id'])
    op.create_index('ix_coalition_members_activity_ap_id', 'coalition_members', ['activity_ap_id'])
    op.create_index('ix_coalition_members_coalition_state', 'coalition_members', ['coalition_id', 'state'])
    op.create_table('campaigns',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('ap_id', sa.String(length=2048), nullable=False),
    sa.Column('coalition_id', sa.Integer(), nullable=False),
    sa.Column('local', sa.Boolean(), nullable=False),
    sa.Column('name', JSON, nullable=False),
    sa.Column('summary', JSON, nullable=False),
    sa.Column('content', JSON, nullable=False),
    sa.Column('kit', JSON, nullable=False),
    sa.Column('url', sa.String(length=2048), nullable=True),
    sa.Column('support_count', sa.Integer(), nullable=False),
    sa.Column('created_at', UTC(), nullable=False),
    sa.Column('published_at', UTC(), nullable=True),
    sa.Column('deleted_at', UTC(), nullable=True),
    _fk('campaigns', 'coalition_id', 'actors'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_campaigns')),
    sa.UniqueConstraint('ap_id', name=op.f('uq_campaigns_ap_id')),
    )
    op.create_index('ix_campaigns_coalition_id', 'campaigns', ['coalition_id'])
    op.create_table('campaign_variants',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('ap_id', sa.String(length=2048), nullable=False),
    sa.Column('campaign_id', sa.Integer(), nullable=False),
    sa.Column('organization_id', sa.Integer(), nullable=False),
    sa.Column('local', sa.Boolean(), nullable=False),
    sa.Column('language', sa.String(length=16), nullable=False),
    sa.Column('name', sa.String(length=300), nullable=False),
    sa.Column('content', sa.Text(), nullable=False),
    sa.Column('visual_url', sa.String(length=2048), nullable=True),
    sa.Column('visual_media_type', sa.String(length=64), nullable=True),
    sa.Column('support_count', sa.Integer(), nullable=False),
    sa.Column('created_at', UTC(), nullable=False),
    sa.Column('deleted_at', UTC(), nullable=True),
    _fk('campaign_variants', 'campaign_id', 'campaigns'),
    _fk('campaign_variants', 'organization_id', 'actors'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_campaign_variants')),
    sa.UniqueConstraint('ap_id', name=op.f('uq_campaign_variants_ap_id')),
    sa.UniqueConstraint('campaign_id', 'organization_id', 'language',
                        name=op.f('uq_campaign_variants_campaign_id_organization_id_language')),
    )
    op.create_index('ix_campaign_variants_organization_id', 'campaign_variants', ['organization_id'])
    op.create_index('ix_campaign_variants_campaign', 'campaign_variants', ['campaign_id'])
    op.create_table('variant_supports',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('ap_id', sa.String(length=2048), nullable=False),
    sa.Column('variant_id', sa.Integer(), nullable=False),
    sa.Column('actor_id', sa.Integer(), nullable=False),
    sa.Column('created_at', UTC(), nullable=False),
    _fk('variant_supports', 'variant_id', 'campaign_variants'),
    _fk('variant_supports', 'actor_id', 'actors'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_variant_supports')),
    sa.UniqueConstraint('ap_id', name=op.f('uq_variant_supports_ap_id')),
    sa.UniqueConstraint('variant_id', 'actor_id', name=op.f('uq_variant_supports_variant_id_actor_id')),
    )
    op.create_index('ix_variant_supports_actor_id', 'variant_supports', ['actor_id'])
    op.create_table('campaign_supports',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('ap_id', sa.String(length=2048), nullable=False),
    sa.Column('campaign_id', sa.Integer(), nullable=False),
    sa.Column('actor_id', sa.Integer(), nullable=False),
    sa.Column('variant_id', sa.Integer(), nullable=True),
    sa.Column('member_id', sa.Integer(), nullable=True),
    sa.Column('language', sa.String(length=16), nullable=False),
    sa.Column('relayed_by_id', sa.Integer(), nullable=True),
    sa.Column('created_at', UTC(), nullable=False),
    _fk('campaign_supports', 'campaign_id', 'campaigns'),
    _fk('campaign_supports', 'actor_id', 'actors'),
    _fk('campaign_supports', 'variant_id', 'campaign_variants', 'SET NULL'),
    _fk('campaign_supports', 'member_id', 'actors', 'SET NULL'),
    _fk('campaign_supports', 'relayed_by_id', 'actors', 'SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_campaign_supports')),
    sa.UniqueConstraint('ap_id', name=op.f('uq_campaign_supports_ap_id')),
    sa.UniqueConstraint('campaign_id', 'actor_id', name=op.f('uq_campaign_supports_campaign_id_actor_id')),
    )
    op.create_index('ix_campaign_supports_actor_id', 'campaign_supports', ['actor_id'])
    op.create_table('campaign_tallies',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('campaign_id', sa.Integer(), nullable=False),
    sa.Column('member_key', sa.Integer(), nullable=False),
    sa.Column('language', sa.String(length=16), nullable=False),
    sa.Column('supports', sa.Integer(), nullable=False),
    _fk('campaign_tallies', 'campaign_id', 'campaigns'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_campaign_tallies')),
    sa.UniqueConstraint('campaign_id', 'member_key', 'language',
                        name=op.f('uq_campaign_tallies_campaign_id_member_key_language')),
    )
    op.create_table('campaign_days',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('campaign_id', sa.Integer(), nullable=False),
    sa.Column('day', sa.Date(), nullable=False),
    sa.Column('supports', sa.Integer(), nullable=False),
    _fk('campaign_days', 'campaign_id', 'campaigns'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_campaign_days')),
    sa.UniqueConstraint('campaign_id', 'day', name=op.f('uq_campaign_days_campaign_id_day')),
    )


def downgrade() -> None:
    for table in ('campaign_days', 'campaign_tallies', 'campaign_supports', 'variant_supports',
                  'campaign_variants', 'campaigns', 'coalition_members', 'coalitions'):
        op.drop_table(table)
