"""federated moderation: reports, remote account blocks, moderation log, hidden content

Revision ID: c7a1e5f0a002
Revises: c7a1e5f0a001
Create Date: 2026-12-02 03:00:00
"""
from alembic import op
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql
import node.models.base

revision = 'c7a1e5f0a002'
down_revision = 'c7a1e5f0a001'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('reports',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('reporter_id', sa.Integer(), nullable=False),
    sa.Column('target_kind', sa.String(length=16), nullable=False),
    sa.Column('target_ap_id', sa.String(length=2048), nullable=False),
    sa.Column('target_actor_id', sa.Integer(), nullable=True),
    sa.Column('organization_id', sa.Integer(), nullable=True),
    sa.Column('category', sa.String(length=16), nullable=False),
    sa.Column('reason', sa.Text(), nullable=False),
    sa.Column('objects', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
    sa.Column('flag_ap_id', sa.String(length=2048), nullable=True),
    sa.Column('state', sa.String(length=16), nullable=False),
    sa.Column('forwarded_at', node.models.base.UTCDateTime(), nullable=True),
    sa.Column('created_at', node.models.base.UTCDateTime(), nullable=False),
    sa.Column('closed_at', node.models.base.UTCDateTime(), nullable=True),
    sa.Column('closed_by_id', sa.Integer(), nullable=True),
    sa.ForeignKeyConstraint(['reporter_id'], ['actors.id'], name=op.f('fk_reports_reporter_id_actors'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['target_actor_id'], ['actors.id'], name=op.f('fk_reports_target_actor_id_actors'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['organization_id'], ['actors.id'], name=op.f('fk_reports_organization_id_actors'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['closed_by_id'], ['users.id'], name=op.f('fk_reports_closed_by_id_users'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_reports'))
    )
    with op.batch_alter_table('reports', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_reports_reporter_id'), ['reporter_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_reports_organization_id'), ['organization_id'], unique=False)
        batch_op.create_index('ix_reports_state', ['state', 'created_at'], unique=False)
        batch_op.create_index('uq_reports_open_target', ['reporter_id', 'target_ap_id'], unique=True,
                              sqlite_where=sa.text("state = 'open'"), postgresql_where=sa.text("state = 'open'"))

    op.create_table('account_restrictions',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('actor_ap_id', sa.String(length=2048), nullable=False),
    sa.Column('level', sa.String(length=16), nullable=False),
    sa.Column('reason', sa.Text(), nullable=False),
    sa.Column('created_by_id', sa.Integer(), nullable=True),
    sa.Column('created_at', node.models.base.UTCDateTime(), nullable=False),
    sa.ForeignKeyConstraint(['created_by_id'], ['users.id'], name=op.f('fk_account_restrictions_created_by_id_users'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_account_restrictions')),
    sa.UniqueConstraint('actor_ap_id', name=op.f('uq_account_restrictions_actor_ap_id'))
    )

    op.create_table('hidden_content',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('target_kind', sa.String(length=16), nullable=False),
    sa.Column('target_ap_id', sa.String(length=2048), nullable=False),
    sa.Column('organization_id', sa.Integer(), nullable=True),
    sa.Column('reason', sa.Text(), nullable=False),
    sa.Column('held', sa.Boolean(), nullable=False),
    sa.Column('relay', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=True),
    sa.Column('hidden_by_id', sa.Integer(), nullable=True),
    sa.Column('created_at', node.models.base.UTCDateTime(), nullable=False),
    sa.ForeignKeyConstraint(['organization_id'], ['actors.id'], name=op.f('fk_hidden_content_organization_id_actors'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['hidden_by_id'], ['users.id'], name=op.f('fk_hidden_content_hidden_by_id_users'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_hidden_content')),
    sa.UniqueConstraint('target_ap_id', name=op.f('uq_hidden_content_target_ap_id'))
    )
    with op.batch_alter_table('hidden_content', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_hidden_content_organization_id'), ['organization_id'], unique=False)

    op.create_table('moderation_settings',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('organization_id', sa.Integer(), nullable=False),
    sa.Column('premoderate_first', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['organization_id'], ['actors.id'], name=op.f('fk_moderation_settings_organization_id_actors'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_moderation_settings')),
    sa.UniqueConstraint('organization_id', name=op.f('uq_moderation_settings_organization_id'))
    )

    op.create_table('moderation_log',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('moderator_id', sa.Integer(), nullable=True),
    sa.Column('moderator_name', sa.String(length=255), nullable=False),
    sa.Column('action', sa.String(length=32), nullable=False),
    sa.Column('target_kind', sa.String(length=16), nullable=False),
    sa.Column('target_ap_id', sa.String(length=2048), nullable=False),
    sa.Column('organization_id', sa.Integer(), nullable=True),
    sa.Column('reason', sa.Text(), nullable=False),
    sa.Column('created_at', node.models.base.UTCDateTime(), nullable=False),
    sa.ForeignKeyConstraint(['moderator_id'], ['users.id'], name=op.f('fk_moderation_log_moderator_id_users'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['organization_id'], ['actors.id'], name=op.f('fk_moderation_log_organization_id_actors'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_moderation_log'))
    )
    with op.batch_alter_table('moderation_log', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_moderation_log_organization_id'), ['organization_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_moderation_log_created_at'), ['created_at'], unique=False)


def downgrade() -> None:
    op.drop_table('moderation_log')
    op.drop_table('moderation_settings')
    op.drop_table('hidden_content')
    op.drop_table('account_restrictions')
    op.drop_table('reports')
