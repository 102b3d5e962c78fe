"""membership and verification (census hashes, one-time codes)

Revision ID: c7a1e5f0a005
Revises: c7a1e5f0a004
Create Date: 2026-12-06 11:00:00
"""
from alembic import op
import sqlalchemy as sa
import node.models.base

revision = 'c7a1e5f0a005'
down_revision = 'c7a1e5f0a004'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('verification_salts',
    sa.Column('organization_id', sa.Integer(), nullable=False),
    sa.Column('salt', sa.String(length=64), nullable=False),
    sa.Column('created_at', node.models.base.UTCDateTime(), nullable=False),
    sa.ForeignKeyConstraint(['organization_id'], ['actors.id'], name=op.f('fk_verification_salts_organization_id_actors'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('organization_id', name=op.f('pk_verification_salts'))
    )
    op.create_table('census_entries',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('organization_id', sa.Integer(), nullable=False),
    sa.Column('digest', sa.String(length=64), nullable=False),
    sa.Column('lookup', sa.String(length=8), nullable=False),
    sa.Column('imported_at', node.models.base.UTCDateTime(), nullable=False),
    sa.Column('imported_by_id', sa.Integer(), nullable=True),
    sa.Column('used_by_id', sa.Integer(), nullable=True),
    sa.Column('used_at', node.models.base.UTCDateTime(), nullable=True),
    sa.ForeignKeyConstraint(['imported_by_id'], ['users.id'], name=op.f('fk_census_entries_imported_by_id_users'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['organization_id'], ['actors.id'], name=op.f('fk_census_entries_organization_id_actors'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['used_by_id'], ['users.id'], name=op.f('fk_census_entries_used_by_id_users'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_census_entries')),
    sa.UniqueConstraint('organization_id', 'digest', name=op.f('uq_census_entries_organization_id_digest'))
    )
    op.create_index('ix_census_entries_lookup', 'census_entries', ['organization_id', 'lookup'], unique=False)
    op.create_table('verification_codes',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('organization_id', sa.Integer(), nullable=False),
    sa.Column('digest', sa.String(length=64), nullable=False),
    sa.Column('lookup', sa.String(length=8), nullable=False),
    sa.Column('label', sa.String(length=200), nullable=False),
    sa.Column('issued_at', node.models.base.UTCDateTime(), nullable=False),
    sa.Column('issued_by_id', sa.Integer(), nullable=True),
    sa.Column('used_by_id', sa.Integer(), nullable=True),
    sa.Column('used_at', node.models.base.UTCDateTime(), nullable=True),
    sa.Column('revoked_at', node.models.base.UTCDateTime(), nullable=True),
    sa.ForeignKeyConstraint(['issued_by_id'], ['users.id'], name=op.f('fk_verification_codes_issued_by_id_users'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['organization_id'], ['actors.id'], name=op.f('fk_verification_codes_organization_id_actors'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['used_by_id'], ['users.id'], name=op.f('fk_verification_codes_used_by_id_users'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_verification_codes')),
    sa.UniqueConstraint('organization_id', 'digest', name=op.f('uq_verification_codes_organization_id_digest'))
    )
    op.create_index('ix_verification_codes_lookup', 'verification_codes', ['organization_id', 'lookup'], unique=False)
    op.create_table('member_verifications',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('organization_id', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('method', sa.String(length=16), nullable=False),
    sa.Column('verified_at', node.models.base.UTCDateTime(), nullable=False),
    sa.Column('by_id', sa.Integer(), nullable=True),
    sa.Column('identity', sa.Text(), nullable=False),
    sa.Column('census_entry_id', sa.Integer(), nullable=True),
    sa.Column('code_id', sa.Integer(), nullable=True),
    sa.ForeignKeyConstraint(['by_id'], ['users.id'], name=op.f('fk_member_verifications_by_id_users'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['census_entry_id'], ['census_entries.id'], name=op.f('fk_member_verifications_census_entry_id_census_entries'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['code_id'], ['verification_codes.id'], name=op.f('fk_member_verifications_code_id_verification_codes'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['organization_id'], ['actors.id'], name=op.f('fk_member_verifications_organization_id_actors'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_member_verifications_user_id_users'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_member_verifications')),
    sa.UniqueConstraint('organization_id', 'user_id', name=op.f('uq_member_verifications_organization_id_user_id'))
    )
    op.create_index(op.f('ix_member_verifications_user_id'), 'member_verifications', ['user_id'], unique=False)


def downgrade() -> None:
    op.drop_index(op.f('ix_member_verifications_user_id'), table_name='member_verifications')
    op.drop_table('member_verifications')
    op.drop_index('ix_verification_codes_lookup', table_name='verification_codes')
    op.drop_table('verification_codes')
    op.drop_index('ix_census_entries_lookup', table_name='census_entries')
    op.drop_table('census_entries')
    op.drop_table('verification_salts')
